//! MediaStreamPipeline under the skeleton: its inputs are its sinks with
//! pool references resolved to ARNs.

use aws_sdk_chimesdkmediapipelines::types::MediaPipeline;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use super::media::{MediaKind, token};
use super::{Context, Observed};
use crate::aws::{self, Regional, RemotePipeline, StreamDetail, of_type};
use crate::config::Settings;
use crate::crd::{
    KinesisVideoStreamPoolStatus, Lifetime, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline, MediaStreamSink, Tag,
};
use crate::decide::KindInfo;
use crate::decide::pipeline::{self, Observation, PipelinePlan, is_object_name, resolve_pool_ref};
use crate::error::Error;

/// The spec's sinks with each pool reference replaced by that pool's ARN;
/// Err says which pool is missing or not ACTIVE yet, or why it never will be.
pub use crate::decide::pipeline::Sinks;

impl MediaKind for MediaStreamPipeline {
    type Detail = StreamDetail;
    type Inputs = Sinks;
    const KIND: KindInfo = pipeline::KIND;

    fn lifetime(&self) -> &Lifetime {
        &self.spec.lifetime
    }

    fn request(&self) -> impl Serialize {
        pipeline::request(&self.spec)
    }

    fn refused(&self) -> Option<Error> {
        pipeline::refused_change(&self.spec, self.status.as_ref()?)
    }

    fn meetings(&self) -> Vec<&str> {
        self.spec
            .sources
            .iter()
            .map(|s| s.source_arn.as_str())
            .collect()
    }

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_media_pipeline_id.as_deref()
    }

    async fn inputs(&self, ctx: &Context, needed: bool) -> Result<Sinks, Error> {
        if needed && self.spec.sinks.iter().any(|s| s.pool_ref.is_some()) {
            resolve_sinks(self, ctx).await
        } else {
            Ok(Ok(self.spec.sinks.clone()))
        }
    }

    fn decide(&self, obs: Observed<'_, Self>, sinks: &Sinks, settings: &Settings) -> PipelinePlan {
        pipeline::decide(
            Observation {
                seen: obs,
                spec: &self.spec,
                sinks,
            },
            settings,
        )
    }

    fn describe(id: &str, any: MediaPipeline) -> Result<RemotePipeline, Error> {
        aws::stream_pipeline(of_type(id, "stream", any.media_stream_pipeline)?)
    }

    async fn create(
        &self,
        aws: &Regional,
        sinks: &Sinks,
        tags: &[Tag],
    ) -> Result<RemotePipeline, Error> {
        let sinks = sinks
            .as_ref()
            .map_err(|why| Error::Unexpected(why.message()))?;
        aws.create(&self.spec.sources, sinks, &token(self), tags)
            .await
    }
}

async fn resolve_sinks(obj: &MediaStreamPipeline, ctx: &Context) -> Result<Sinks, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let pools: Api<MediaPipelineKinesisVideoStreamPool> = Api::namespaced(ctx.client.clone(), &ns);
    let mut out = vec![];
    for sink in &obj.spec.sinks {
        let Some(r) = &sink.pool_ref else {
            out.push(sink.clone());
            continue;
        };
        // A name no object can have is not looked up (a slash would make
        // it another path).
        let pool = match is_object_name(&r.name) {
            true => read_pool(&pools, &r.name).await?,
            false => None,
        };
        let status = pool.as_ref().map(|p| p.as_ref().map_err(String::clone));
        match resolve_pool_ref(&ns, &r.name, status) {
            Ok(arn) => out.push(MediaStreamSink {
                sink_arn: Some(arn),
                pool_ref: None,
                ..sink.clone()
            }),
            Err(why) => return Ok(Err(why)),
        }
    }
    Ok(Ok(out))
}

/// The named pool's status (None: no such pool); Err when its object does
/// not decode (a field stored before the CRD bounded it), with why.
async fn read_pool(
    pools: &Api<MediaPipelineKinesisVideoStreamPool>,
    name: &str,
) -> Result<Option<Result<KinesisVideoStreamPoolStatus, String>>, Error> {
    match pools.get_opt(name).await {
        Ok(pool) => Ok(pool.map(|p| Ok(p.status.unwrap_or_default()))),
        Err(kube::Error::SerdeError(e)) => Ok(Some(Err(e.to_string()))),
        Err(e) => Err(e.into()),
    }
}
