//! MediaStreamPipeline under the skeleton: its inputs are its sinks with
//! pool references resolved to ARNs.

use std::convert::Infallible;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use tracing::warn;

use super::{Context, Managed, Observed};
use crate::aws::{Listed, Regional, RemotePipeline};
use crate::config::Settings;
use crate::crd::{
    KinesisVideoStreamPoolStatus, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
    MediaStreamPipelineStatus, MediaStreamSink, Tag,
};
use crate::decide::pipeline::{self, Observation, PipelinePlan, is_object_name, resolve_pool_ref};
use crate::decide::{KindInfo, Remote};
use crate::error::Error;

/// The spec's sinks with each pool reference replaced by that pool's ARN;
/// Err says which pool is missing or not ACTIVE yet, or why it never will be.
pub use crate::decide::pipeline::Sinks;

impl Managed for MediaStreamPipeline {
    type Remote = RemotePipeline;
    type Update = Infallible;
    type Inputs = Sinks;
    const KIND: KindInfo = pipeline::KIND;

    fn refused(&self) -> Option<Error> {
        pipeline::refused_change(&self.spec, self.status.as_ref()?)
    }

    /// From now on a replay must send this request: sources and sinks are
    /// fixed. A pipeline found by its tags was made by an earlier request,
    /// perhaps from another spec: no digest, and the comparison with what
    /// AWS describes judges (a digest of this spec would forbid restoring
    /// the one that made it).
    fn record_attempt(&self, status: &mut MediaStreamPipelineStatus, sent: bool) {
        status.request_digest = sent.then(|| pipeline::request_digest(&self.spec));
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

    async fn read(aws: &Regional, id: &str) -> Result<Option<RemotePipeline>, Error> {
        aws.get(id).await
    }

    /// AWS stops a pipeline when its meeting ends and removes it some time
    /// later, perhaps before any read saw it stopped: GetMeeting tells that
    /// from a removal while the meeting goes on. Nothing is asked for an
    /// adoption not yet recorded (its ID may be wrong), nor for a pipeline
    /// already finished (it stays so).
    async fn gone(&self, ctx: &Context, aws: &Regional) -> Remote<RemotePipeline> {
        let unasked = |s: &MediaStreamPipelineStatus| {
            s.media_pipeline_id.is_none() || s.finished_at.is_some()
        };
        if self.status.as_ref().is_none_or(unasked) {
            return Remote::Gone;
        }
        for source in &self.spec.sources {
            let answer = match pipeline::meeting_of(&source.source_arn, aws.name()) {
                Some((region, id)) => Some(meeting_exists(ctx, region, id).await),
                None => None,
            };
            if let Some(verdict) = pipeline::unless_ended(answer) {
                return verdict;
            }
        }
        Remote::Ended
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
        let token = self.uid().unwrap_or_default();
        aws.create(&self.spec.sources, sinks, &token, tags).await
    }

    async fn update(_: &Regional, _: &str, never: &Infallible) -> Result<RemotePipeline, Error> {
        match *never {}
    }

    async fn list(aws: &Regional) -> Result<Vec<Listed>, Error> {
        aws.list_pipelines().await
    }

    async fn delete(aws: &Regional, id: &str) -> Result<(), Error> {
        aws.delete(id).await
    }
}

/// GetMeeting in `region`; a failure is logged with the meeting it was
/// about, which the status (a gone pipeline, or a failed read) does not say.
async fn meeting_exists(ctx: &Context, region: &str, id: &str) -> Result<bool, Error> {
    let answer = ctx.aws.region(Some(region)).meeting_exists(id).await;
    if let Err(e) = &answer {
        warn!(meeting = %id, region = %region, error = %e, "GetMeeting failed: cannot tell whether the meeting ended");
    }
    answer
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
