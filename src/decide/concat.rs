//! The MediaConcatenationPipeline verdicts: the create waits until its
//! capture pipeline (by reference) finished, the way a recording is joined
//! after its meeting; what the create sent is fixed. The flow is
//! [`super::flow`]'s.

use std::convert::Infallible;

use serde::Serialize;

use super::flow::{self, Drift, Hold, Verdicts};
use super::media::{arn_key, changed_region, changed_request, refused_sink, request_digest};
use super::refs::{self, Readiness, Ref};
use super::{GONE, KindInfo, Plan, Seen};
use crate::aws::RemoteConcat;
use crate::config::Settings;
use crate::crd::{MediaConcatenationPipelineSpec, PipelineStatus};
use crate::error::Error;

pub const KIND: KindInfo = KindInfo {
    noun: "media concatenation pipeline",
    gone_reason: "PipelineGone",
    gone_message: "AWS no longer knows this media concatenation pipeline, and no read saw it \
                   finish; it is not recreated. Delete this resource, or create a new one.",
    arn_type: ":media-pipeline/",
    // One per recording: no routine Events.
    routine_events: false,
};

/// The capture pipeline's ARN, or why the create must wait or cannot be.
pub type Capture = Result<String, Hold>;

#[derive(Debug)]
pub struct Observation<'a> {
    pub seen: Seen<'a, PipelineStatus, RemoteConcat>,
    pub spec: &'a MediaConcatenationPipelineSpec,
    /// The capture pipeline, resolved (by reference) or as given.
    pub capture: &'a Capture,
}

impl Verdicts for Observation<'_> {
    type Remote = RemoteConcat;
    type Update = Infallible;
    const KIND: KindInfo = KIND;

    fn refused(&self, status: &PipelineStatus) -> Option<Error> {
        refused_change(self.spec, status)
    }
    fn hold(&self) -> Option<&Hold> {
        self.capture.as_ref().err()
    }
    /// The source is judged only once resolved: a refresh does not look the
    /// capture resource up, and leaves its ARN empty.
    fn drift(&self, _: &PipelineStatus, found: &RemoteConcat) -> Drift<Infallible> {
        let source = self
            .capture
            .as_ref()
            .is_ok_and(|arn| !arn.is_empty() && arn_key(arn) != arn_key(&found.detail.source_arn));
        let sink = self.spec.destination() != Some(found.detail.destination.as_str());
        match (source, sink) {
            (false, false) => Drift::InSync,
            _ => Drift::Immutable(
                "spec.sources and spec.sinks cannot change once the media concatenation \
                 pipeline exists (AWS has no update for them); restore them, or create a new \
                 MediaConcatenationPipeline"
                    .into(),
            ),
        }
    }
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> Plan<PipelineStatus, Infallible> {
    flow::decide(&obs, &obs.seen, &obs.spec.common.tags, settings)
}

/// A spec refused without asking AWS: a destination that is no S3 bucket,
/// another request than a create that may have reached AWS sent, or
/// another region.
pub fn refused_change(
    spec: &MediaConcatenationPipelineSpec,
    status: &PipelineStatus,
) -> Option<Error> {
    let field = "spec.sinks[0].s3BucketSinkConfiguration.destination";
    refused_sink(field, spec.destination().unwrap_or_default())
        .or_else(|| {
            let digest = request_digest(&request(spec));
            changed_request(status, digest, "spec.sources and spec.sinks")
        })
        .or_else(|| changed_region(spec.common.region.as_deref(), status))
}

/// What a create sends besides the token and tags (a captureRef stands for
/// the ARN it resolves to).
pub fn request(spec: &MediaConcatenationPipelineSpec) -> impl Serialize + '_ {
    (&spec.sources, &spec.sinks)
}

/// A captureRef against what the API server holds: the capture pipeline's
/// ARN once it finished (its meeting ended), or why not. `capture` is the
/// capture resource's status (None: no such resource; `Err`: one the
/// operator cannot read, with why).
pub fn resolve_capture_ref(
    ns: &str,
    name: &str,
    capture: Option<Result<&PipelineStatus, String>>,
) -> Capture {
    let r = Ref {
        field: "spec.sources[0].mediaCapturePipelineSourceConfiguration.captureRef.name",
        kind: "MediaCapturePipeline",
        waiting: "WaitingForCapture",
        goal: "finished",
        namespace: ns,
        name,
    };
    refs::resolve(&r, capture, |status| {
        let state = status.pipeline_status.clone();
        match (
            &status.media_pipeline_arn,
            &status.finished_at,
            state.as_deref(),
        ) {
            (Some(arn), Some(_), _) => Readiness::Ready(arn.clone()),
            (_, None, Some(s @ ("Failed" | GONE))) => Readiness::Broken(s.into()),
            _ => Readiness::NotYet(state),
        }
    })
}
