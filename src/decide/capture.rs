//! The MediaCapturePipeline verdicts: nothing waits before the create, and
//! what the create sent is fixed (AWS has no update for it). The flow is
//! [`super::flow`]'s.

use std::convert::Infallible;

use serde::Serialize;

use super::flow::{self, Drift, Verdicts};
use super::media::{arn_key, changed_region, changed_request, refused_sink, request_digest};
use super::{KindInfo, Plan, Seen};
use crate::aws::RemoteCapture;
use crate::config::Settings;
use crate::crd::{MediaCapturePipelineSpec, PipelineStatus};
use crate::error::Error;

pub const KIND: KindInfo = KindInfo {
    noun: "media capture pipeline",
    gone_reason: "PipelineGone",
    gone_message: "AWS no longer knows this media capture pipeline, and its meeting goes on \
                   (or GetMeeting could not tell: the operator's log says why); it is not \
                   recreated. Delete this resource, or create a new one.",
    arn_type: ":media-pipeline/",
    // One per meeting, as stream pipelines: no routine Events.
    routine_events: false,
};

#[derive(Debug)]
pub struct Observation<'a> {
    pub seen: Seen<'a, PipelineStatus, RemoteCapture>,
    pub spec: &'a MediaCapturePipelineSpec,
}

impl Verdicts for Observation<'_> {
    type Remote = RemoteCapture;
    type Update = Infallible;
    const KIND: KindInfo = KIND;

    fn refused(&self, status: &PipelineStatus) -> Option<Error> {
        refused_change(self.spec, status)
    }
    fn drift(&self, _: &PipelineStatus, found: &RemoteCapture) -> Drift<Infallible> {
        let source = arn_key(&self.spec.source_arn) != arn_key(&found.detail.source_arn);
        let sink = self.spec.sink_arn != found.detail.sink_arn;
        match (source, sink) {
            (false, false) => Drift::InSync,
            _ => Drift::Immutable(
                "spec.sourceArn and spec.sinkArn cannot change once the media capture pipeline \
                 exists (AWS has no update for them); restore them, or create a new \
                 MediaCapturePipeline"
                    .into(),
            ),
        }
    }
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> Plan<PipelineStatus, Infallible> {
    flow::decide(&obs, &obs.seen, &obs.spec.common.tags, settings)
}

/// A spec refused without asking AWS: a sink that is no S3 bucket, another
/// request than a create that may have reached AWS sent, or another region.
pub fn refused_change(spec: &MediaCapturePipelineSpec, status: &PipelineStatus) -> Option<Error> {
    if let Some(err) = refused_sink("spec.sinkArn", &spec.sink_arn) {
        return Some(err);
    }
    let fields = "spec.sourceArn, spec.sinkArn, spec.sinkIamRoleArn, \
                  spec.chimeSdkMeetingConfiguration and spec.sseAwsKeyManagementParams";
    changed_request(status, request_digest(&request(spec)), fields)
        .or_else(|| changed_region(spec.common.region.as_deref(), status))
}

/// What a create sends besides the token and tags.
pub fn request(spec: &MediaCapturePipelineSpec) -> impl Serialize + '_ {
    (
        &spec.source_arn,
        &spec.sink_arn,
        &spec.sink_iam_role_arn,
        &spec.chime_sdk_meeting_configuration,
        &spec.sse_aws_key_management_params,
    )
}
