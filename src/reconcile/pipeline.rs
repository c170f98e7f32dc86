//! MediaStreamPipeline under the skeleton: its inputs are its sinks with
//! pool references resolved to ARNs.

use std::convert::Infallible;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;

use super::{Context, Managed, Observed};
use crate::aws::{Regional, RemotePipeline};
use crate::config::Settings;
use crate::crd::{
    DeletionPolicy, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
    MediaStreamPipelineStatus, MediaStreamSink, Tag,
};
use crate::decide::pipeline::{self, Observation, PipelinePlan};
use crate::decide::pool::ACTIVE;
use crate::error::Error;
use crate::metrics;

/// The spec's sinks with each pool reference replaced by that pool's ARN;
/// Err says which pool is missing or not ACTIVE yet.
pub type Sinks = Result<Vec<MediaStreamSink>, String>;

impl Managed for MediaStreamPipeline {
    type Remote = RemotePipeline;
    type Update = Infallible;
    type Inputs = Sinks;
    const METRICS_KIND: metrics::Kind = metrics::Kind::Pipeline;
    const NOUN: &'static str = "media pipeline";
    const GONE_REASON: &'static str = "PipelineGone";

    fn user_tags(&self) -> &[Tag] {
        &self.spec.tags
    }

    fn spec_region(&self) -> Option<&str> {
        self.spec.region.as_deref()
    }

    /// An adopted pipeline was not ours to begin with: kept unless asked.
    fn deletion_policy(&self, default: DeletionPolicy) -> DeletionPolicy {
        let adopted = self.spec.adopt_media_pipeline_id.is_some();
        self.spec.deletion_policy.unwrap_or(if adopted {
            DeletionPolicy::Retain
        } else {
            default
        })
    }

    fn refused(&self) -> Option<Error> {
        pipeline::refused_change(&self.spec, self.status.as_ref()?)
    }

    /// From now on a replay must send this request: sources and sinks are
    /// fixed.
    fn record_attempt(&self, status: &mut MediaStreamPipelineStatus) {
        status.request_digest = Some(pipeline::request_digest(&self.spec));
    }

    fn time_to_live(&self, default: Option<Duration>) -> Option<Duration> {
        match self.spec.ttl_seconds_after_finished {
            Some(secs) => Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0))),
            None => default,
        }
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

    /// An adoption that never matched created nothing, and neither did a
    /// create whose sinks never resolved.
    async fn replay_inputs(&self, ctx: &Context) -> Result<Option<Sinks>, Error> {
        if self.spec.adopt_media_pipeline_id.is_some() {
            return Ok(None);
        }
        Ok(resolve_sinks(self, ctx).await?.ok().map(Ok))
    }

    fn decide(&self, obs: Observed<'_, Self>, sinks: &Sinks, settings: &Settings) -> PipelinePlan {
        pipeline::decide(
            Observation {
                generation: obs.generation,
                spec: &self.spec,
                status: obs.status,
                create_tags: obs.create_tags,
                sinks,
                region: obs.region,
                remote: obs.remote,
                now: obs.now,
            },
            settings,
        )
    }

    async fn read(aws: &Regional, id: &str) -> Result<Option<RemotePipeline>, Error> {
        aws.get(id).await
    }

    async fn create(
        &self,
        aws: &Regional,
        sinks: &Sinks,
        tags: &[Tag],
    ) -> Result<RemotePipeline, Error> {
        let sinks = sinks
            .as_ref()
            .map_err(|why| Error::Unexpected(why.clone()))?;
        let token = self.uid().unwrap_or_default();
        aws.create(&self.spec.sources, sinks, &token, tags).await
    }

    async fn update(_: &Regional, _: &str, never: &Infallible) -> Result<RemotePipeline, Error> {
        match *never {}
    }

    async fn delete(aws: &Regional, id: &str) -> Result<(), Error> {
        aws.delete(id).await
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
        let Some(pool) = pools.get_opt(&r.name).await? else {
            return Ok(Err(format!(
                "Waiting for MediaPipelineKinesisVideoStreamPool {ns}/{}: it does not exist",
                r.name
            )));
        };
        let status = pool.status.unwrap_or_default();
        match (status.pool_arn, status.pool_status.as_deref()) {
            (Some(arn), Some(ACTIVE)) => out.push(MediaStreamSink {
                sink_arn: Some(arn),
                pool_ref: None,
                ..sink.clone()
            }),
            (_, state) => {
                return Ok(Err(format!(
                    "Waiting for MediaPipelineKinesisVideoStreamPool {ns}/{} to be ACTIVE (it is {})",
                    r.name,
                    state.unwrap_or("not created yet")
                )));
            }
        }
    }
    Ok(Ok(out))
}
