//! MediaStreamPipeline: mirrors the CreateMediaStreamPipeline request.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonSpec, DeletionPolicy, Tag};

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
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","priority":1,"jsonPath":".status.mediaPipelineArn"}"#,
    printcolumn = r#"{"name":"Region","type":"string","priority":1,"jsonPath":".status.region"}"#,
    validation = Rule::new("!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sources == oldSelf.spec.sources && self.spec.sinks == oldSelf.spec.sinks) || (has(oldSelf.status.conditions) && oldSelf.status.conditions.exists(c, c.type == 'Synced' && c.reason == 'ImmutableFieldChanged'))").message("spec.sources and spec.sinks cannot change once a create may have reached AWS (status.requestDigest or status.mediaPipelineId is set), unless the resource reports ImmutableFieldChanged (then they may be restored to the pipeline's): create a new MediaStreamPipeline instead"),
    validation = Rule::new("has(self.spec.adoptMediaPipelineId) == has(oldSelf.spec.adoptMediaPipelineId)").message("spec.adoptMediaPipelineId can be neither added nor removed: create a new MediaStreamPipeline instead")
)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamPipelineSpec {
    /// The media sources: the Chime SDK meetings whose audio is streamed (1
    /// to 10; AWS's model sets no maximum, this bound keeps validation
    /// cheap). May be corrected while AWS refuses every create outright;
    /// fixed once a create may have reached AWS (status.requestDigest).
    #[schemars(length(min = 1, max = 10))]
    pub sources: Vec<MediaStreamSource>,

    /// Where the audio goes: one or two Kinesis Video Stream pools (one per
    /// media stream type). Fixed like sources.
    #[schemars(length(min = 1, max = 2))]
    pub sinks: Vec<MediaStreamSink>,

    /// Tags on the media pipeline (at most 195, keys unique: AWS allows 200
    /// and the operator keeps 5, under chimeoperator.dev/, which a spec may
    /// not use). May change: the operator applies the difference with
    /// TagResource and UntagResource, after the create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 195))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["key".into()]),
        validation = Rule::new("self.all(t, !t.key.startsWith('chimeoperator.dev/'))").message("tag keys starting with chimeoperator.dev/ are the operator's own")
    )]
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

    /// Delete this resource that many seconds after its pipeline finished
    /// (its meeting ended), as Jobs do; its pipeline goes per
    /// deletionPolicy. Defaults to the operator's
    /// --ttl-seconds-after-finished; unset keeps finished resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub ttl_seconds_after_finished: Option<i32>,

    /// Bring an existing media pipeline under this resource instead of
    /// creating one: its ID (a GUID). Nothing is created; the status fills
    /// from GetMediaPipeline; sources and sinks must match the pipeline's.
    /// Can be neither added nor removed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 36, max = 36),
        regex(pattern = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$")
    )]
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
    /// The name of the MediaPipelineKinesisVideoStreamPool resource: a
    /// Kubernetes object name of this namespace (lower case, no slash).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
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
    /// When AWS created the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub updated_timestamp: Option<String>,
    /// The AWS Region the pipeline lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub region: Option<String>,
    /// The metadata.generation the operator last processed, whether it
    /// could apply it or not (the conditions say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// A digest (SHA-256, hex) of spec.sources and spec.sinks, set once a
    /// create may have reached AWS (it succeeded, or its outcome is unknown:
    /// a timeout, a 5xx). From then on they cannot change: a replay of the
    /// create must send the same request. Unset while AWS refused every
    /// create outright, so that the spec can still be corrected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub request_digest: Option<String>,
    /// When the pipeline finished (RFC 3339): AWS reported it Stopped, its
    /// meeting having ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub finished_at: Option<String>,
    /// The value of the reconcile.chimeoperator.dev/requestedAt annotation
    /// that the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 262144))]
    pub last_handled_reconcile_at: Option<String>,
    /// Ready: the pipeline is InProgress. Synced: the last reconcile reached
    /// AWS and succeeded; if not, the reason says why. Finished: the
    /// pipeline stopped with its meeting (Ready is then absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::common::conditions_schema")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

impl CommonSpec for MediaStreamPipeline {
    fn spec_tags(&self) -> &[Tag] {
        &self.spec.tags
    }
    fn spec_region(&self) -> Option<&str> {
        self.spec.region.as_deref()
    }
    fn spec_deletion_policy(&self) -> Option<DeletionPolicy> {
        self.spec.deletion_policy
    }
}
