//! MediaConcatenationPipeline: mirrors the CreateMediaConcatenationPipeline
//! request (a recording's chunks joined into files once its meeting
//! ended). Its source is a capture pipeline, by reference to a
//! MediaCapturePipeline of the namespace (the create then waits until that
//! one finished) or by ARN.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonFields, CommonSpec};
use super::media::{Lifetime, PipelineStatus};

/// A Chime SDK media concatenation pipeline: joins a capture pipeline's
/// chunks into files.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "media.chimeoperator.dev",
    version = "v1alpha1",
    kind = "MediaConcatenationPipeline",
    namespaced,
    shortname = "mconcat",
    category = "chime",
    category = "chime-pipelines",
    status = "PipelineStatus",
    doc = "A Chime SDK media concatenation pipeline, managed declaratively: created (once its capture pipeline finished) with this resource's UID as ClientRequestToken, followed until done, deleted with the resource.",
    printcolumn = r#"{"name":"Pipeline ID","type":"string","jsonPath":".status.mediaPipelineId"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.pipelineStatus"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sources == oldSelf.spec.sources && self.spec.sinks == oldSelf.spec.sinks)").message("spec.sources and spec.sinks cannot change once a create may have reached AWS: create a new MediaConcatenationPipeline instead")
)]
#[serde(rename_all = "camelCase")]
pub struct MediaConcatenationPipelineSpec {
    /// The capture pipeline whose chunks are joined: exactly one.
    #[schemars(length(min = 1, max = 1))]
    pub sources: Vec<ConcatenationSource>,
    /// Where the files go: exactly one S3 bucket.
    #[schemars(length(min = 1, max = 1))]
    pub sinks: Vec<ConcatenationSink>,
    #[serde(flatten)]
    pub common: CommonFields,
    #[serde(flatten)]
    pub lifetime: Lifetime,
}

/// The model's ConcatenationSource.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcatenationSource {
    /// The type of the source. Only MediaCapturePipeline exists.
    #[serde(rename = "type")]
    pub type_: ConcatenationSourceType,
    /// The capture pipeline, and what of its recording is joined.
    pub media_capture_pipeline_source_configuration: CaptureSource,
}

/// The model's MediaCapturePipelineSourceConfiguration, where the capture
/// pipeline is named by ARN or by a MediaCapturePipeline of this namespace
/// (exactly one of the two).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["mediaPipelineArn"]}, {"required": ["captureRef"]}]))]
pub struct CaptureSource {
    /// The capture pipeline's ARN. Give this or captureRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub media_pipeline_arn: Option<String>,
    /// A MediaCapturePipeline of this namespace; the create waits until it
    /// finished (its meeting ended). Give this or mediaPipelineArn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_ref: Option<CaptureRef>,
    /// What of the recording is joined.
    pub chime_sdk_meeting_configuration: ConcatenationConfiguration,
}

/// Names a MediaCapturePipeline in the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct CaptureRef {
    /// The name of the MediaCapturePipeline resource: a Kubernetes object
    /// name of this namespace (lower case, no slash).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// The model's ChimeSdkMeetingConcatenationConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcatenationConfiguration {
    /// Which artifacts are joined; all seven are required.
    pub artifacts_configuration: ConcatenationArtifacts,
}

/// The model's ArtifactsConcatenationConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcatenationArtifacts {
    /// Audio is always joined.
    pub audio: Artifact<AudioConcatenationState>,
    /// Video: Enabled or Disabled.
    pub video: Artifact<ConcatenationState>,
    /// Content share: Enabled or Disabled.
    pub content: Artifact<ConcatenationState>,
    /// Data channel messages: Enabled or Disabled.
    pub data_channel: Artifact<ConcatenationState>,
    /// Transcription messages: Enabled or Disabled.
    pub transcription_messages: Artifact<ConcatenationState>,
    /// Meeting events: Enabled or Disabled.
    pub meeting_events: Artifact<ConcatenationState>,
    /// Composited video: Enabled or Disabled.
    pub composited_video: Artifact<ConcatenationState>,
}

/// One artifact's concatenation state.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
pub struct Artifact<S> {
    /// Whether the artifact is joined.
    pub state: S,
}

/// The model's ConcatenationSink.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConcatenationSink {
    /// The type of the sink. Only S3Bucket exists.
    #[serde(rename = "type")]
    pub type_: ConcatenationSinkType,
    /// The bucket.
    pub s3_bucket_sink_configuration: S3BucketSink,
}

/// The model's S3BucketSinkConfiguration.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3BucketSink {
    /// The S3 bucket's ARN (optionally with a key prefix), e.g.
    /// arn:aws:s3:::meeting-recordings/joined.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    #[x_kube(validation = Rule::new("self.matches('^arn:[a-z-]+:s3:::.+$')").message("destination must be an S3 bucket ARN (arn:aws:s3:::bucket)"))]
    pub destination: String,
}

crate::model_enum! {
    ConcatenationSourceType: MediaCapturePipeline;
    ConcatenationSinkType: S3Bucket;
    AudioConcatenationState: Enabled;
    ConcatenationState: Enabled, Disabled;
}

impl CommonSpec for MediaConcatenationPipeline {
    fn common(&self) -> &CommonFields {
        &self.spec.common
    }
}

impl MediaConcatenationPipeline {
    /// The capture resource its source names, if it names one.
    pub fn capture_names(&self) -> Vec<&str> {
        let source = self.spec.source().and_then(|s| s.capture_ref.as_ref());
        source.map(|r| r.name.as_str()).into_iter().collect()
    }
}

impl MediaConcatenationPipelineSpec {
    /// The source's configuration (the CRD holds exactly one source).
    pub fn source(&self) -> Option<&CaptureSource> {
        let source = self.sources.first()?;
        Some(&source.media_capture_pipeline_source_configuration)
    }

    /// The sink's destination (the CRD holds exactly one sink).
    pub fn destination(&self) -> Option<&str> {
        let sink = self.sinks.first()?;
        Some(&sink.s3_bucket_sink_configuration.destination)
    }
}
