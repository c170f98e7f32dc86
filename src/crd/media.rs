//! What every media pipeline kind shares (stream, capture, concatenation):
//! the status (AWS answers every pipeline type with the same ID, ARN and
//! MediaPipelineStatus) and the time to live once finished.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::common::CommonStatus;

/// What the operator observed of a media pipeline. Written only by the
/// operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// The ID of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 36))]
    pub media_pipeline_id: Option<String>,
    /// The ARN of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1011))]
    pub media_pipeline_arn: Option<String>,
    /// The pipeline's status in AWS: Initializing, InProgress, Failed,
    /// Stopping, Stopped, Paused or NotStarted; Gone once AWS no longer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub pipeline_status: Option<String>,
    /// A digest (SHA-256, hex) of what the create sends (sources, sinks,
    /// configuration), set once a create may have reached AWS (it
    /// succeeded, or its outcome is unknown: a timeout, a 5xx). From then on
    /// they cannot change: a replay of the create must send the same
    /// request. Unset while AWS refused every create outright, so that the
    /// spec can still be corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub request_digest: Option<String>,
    /// When the pipeline finished (RFC 3339): AWS reported it Stopped (its
    /// meeting ended, or its work is done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub finished_at: Option<String>,
    #[serde(flatten)]
    pub common: CommonStatus,
}

/// How long a finished pipeline's resource is kept.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Lifetime {
    /// Delete this resource that many seconds after its pipeline finished
    /// (stopped: its meeting ended, or its work is done), as Jobs do; its
    /// pipeline goes per deletionPolicy. Defaults to the operator's
    /// --ttl-seconds-after-finished; unset keeps finished resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub ttl_seconds_after_finished: Option<i32>,
}
