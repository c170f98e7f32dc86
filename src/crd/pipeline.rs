//! MediaStreamPipeline: mirrors the CreateMediaStreamPipeline request.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DeletionPolicy, Tag};

/// A Chime SDK media stream pipeline: streams the audio of a Chime SDK meeting
/// into Kinesis Video Stream pools.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "media.chimeoperator.dev",
    version = "v1alpha1",
    kind = "MediaStreamPipeline",
    namespaced,
    shortname = "msp",
    category = "chime",
    category = "chime-pipelines",
    status = "MediaStreamPipelineStatus",
    doc = "A Chime SDK media stream pipeline, managed declaratively: the operator creates it with this resource's UID as ClientRequestToken, keeps its status fresh, and deletes it with the resource.",
    printcolumn = r#"{"name":"Pipeline ID","type":"string","jsonPath":".status.mediaPipelineId"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.pipelineStatus"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamPipelineSpec {
    /// The media sources: the Chime SDK meetings whose audio is streamed (at
    /// least one). Immutable once the pipeline exists.
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sources are immutable: create a new MediaStreamPipeline instead"))]
    pub sources: Vec<MediaStreamSource>,

    /// Where the audio goes: one or two Kinesis Video Stream pools (one per
    /// media stream type). Immutable once the pipeline exists.
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sinks are immutable: create a new MediaStreamPipeline instead"))]
    pub sinks: Vec<MediaStreamSink>,

    /// Tags on the media pipeline (at most 200, keys unique). May change: the
    /// operator applies the difference with TagResource and UntagResource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub tags: Vec<Tag>,

    /// What happens to the media pipeline when this resource is deleted:
    /// Delete (stop and delete it) or Retain (leave it running). Defaults to
    /// Retain for an adopted pipeline, else to the operator's
    /// --default-deletion-policy, itself Delete by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// The AWS Region of the media pipeline, e.g. eu-central-1. Defaults to
    /// the operator's region. Immutable once the pipeline exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^([a-z]+-){2,}\d+$"))]
    pub region: Option<String>,

    /// Bring an existing media pipeline under this resource instead of
    /// creating one: its ID (a GUID). Nothing is created; the status fills
    /// from GetMediaPipeline; sources and sinks must match the pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("adoptMediaPipelineId is immutable"))]
    pub adopt_media_pipeline_id: Option<String>,
}

/// A media source of the pipeline.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamSource {
    /// The type of the source. Only ChimeSdkMeeting exists.
    pub source_type: SourceType,
    /// The ARN of the Chime SDK meeting, e.g.
    /// arn:aws:chime:us-east-1:111122223333:meeting/<meeting-id>.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub source_arn: String,
}

/// A sink of the pipeline: a Kinesis Video Stream pool, named by its ARN or
/// by a MediaPipelineKinesisVideoStreamPool resource of this namespace
/// (exactly one of the two).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["sinkArn"]}, {"required": ["poolRef"]}]))]
pub struct MediaStreamSink {
    /// The ARN of the Kinesis Video Stream pool, as returned by
    /// CreateMediaPipelineKinesisVideoStreamPool. Give this or poolRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub sink_arn: Option<String>,
    /// A MediaPipelineKinesisVideoStreamPool of this namespace whose pool is
    /// the sink; the pipeline waits until that pool is ACTIVE. Give this or
    /// sinkArn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_ref: Option<PoolRef>,
    /// The type of the sink. Only KinesisVideoStreamPool exists.
    pub sink_type: SinkType,
    /// How many streams of the pool this pipeline reserves, 1 to 10.
    #[schemars(range(min = 1, max = 10))]
    pub reserved_stream_capacity: i32,
    /// MixedAudio (one stream of the whole meeting) or IndividualAudio (one
    /// stream per attendee).
    pub media_stream_type: MediaStreamType,
}

/// Names a MediaPipelineKinesisVideoStreamPool in the same namespace.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub struct PoolRef {
    /// The name of the MediaPipelineKinesisVideoStreamPool resource.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SourceType {
    ChimeSdkMeeting,
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SinkType {
    KinesisVideoStreamPool,
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum MediaStreamType {
    MixedAudio,
    IndividualAudio,
}

/// What the operator observed. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamPipelineStatus {
    /// The ID of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_pipeline_id: Option<String>,
    /// The ARN of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_pipeline_arn: Option<String>,
    /// The pipeline's status in AWS: Initializing, InProgress, Failed,
    /// Stopping, Stopped, Paused or NotStarted; Gone once AWS no longer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_status: Option<String>,
    /// When AWS created the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_timestamp: Option<String>,
    /// The AWS Region the pipeline lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The metadata.generation that this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready: the pipeline is InProgress. Synced: the last reconcile reached
    /// AWS and succeeded; if not, the reason says why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}
