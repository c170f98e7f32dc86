//! MediaStreamPipeline: mirrors the CreateMediaStreamPipeline request.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonFields, CommonSpec};
use super::media::{Lifetime, PipelineStatus};

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
    status = "PipelineStatus",
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

    #[serde(flatten)]
    pub common: CommonFields,

    #[serde(flatten)]
    pub lifetime: Lifetime,

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

impl MediaStreamPipeline {
    /// The pool resources its sinks name.
    pub fn pool_names(&self) -> Vec<&str> {
        let refs = self.spec.sinks.iter().filter_map(|s| s.pool_ref.as_ref());
        refs.map(|r| r.name.as_str()).collect()
    }
}

impl CommonSpec for MediaStreamPipeline {
    fn common(&self) -> &CommonFields {
        &self.spec.common
    }
}
