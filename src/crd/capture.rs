//! MediaCapturePipeline: mirrors the CreateMediaCapturePipeline request
//! (a meeting recorded to S3 in chunks). Every bound, enum and pattern is
//! the service model's.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{CommonFields, CommonSpec};
use super::media::{Lifetime, PipelineStatus};

/// A Chime SDK media capture pipeline: records a Chime SDK meeting to an S3
/// bucket.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "media.chimeoperator.dev",
    version = "v1alpha1",
    kind = "MediaCapturePipeline",
    namespaced,
    shortname = "mcp",
    category = "chime",
    category = "chime-pipelines",
    status = "PipelineStatus",
    doc = "A Chime SDK media capture pipeline, managed declaratively: created with this resource's UID as ClientRequestToken, followed until its meeting ends, deleted with the resource.",
    printcolumn = r#"{"name":"Pipeline ID","type":"string","jsonPath":".status.mediaPipelineId"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.pipelineStatus"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sourceArn == oldSelf.spec.sourceArn && self.spec.sinkArn == oldSelf.spec.sinkArn)").message("spec.sourceArn and spec.sinkArn cannot change once a create may have reached AWS: create a new MediaCapturePipeline instead")
)]
#[serde(rename_all = "camelCase")]
pub struct MediaCapturePipelineSpec {
    /// The type of the source. Only ChimeSdkMeeting exists.
    pub source_type: CaptureSourceType,
    /// The ARN of the Chime SDK meeting to record, e.g.
    /// arn:aws:chime:us-east-1:111122223333:meeting/<meeting-id>.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub source_arn: String,
    /// The type of the sink. Only S3Bucket exists.
    pub sink_type: CaptureSinkType,
    /// The ARN of the S3 bucket (optionally with a key prefix) the chunks go
    /// to, e.g. arn:aws:s3:::meeting-recordings.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    #[x_kube(validation = Rule::new("self.matches('^arn:[a-z-]+:s3:::.+$')").message("sinkArn must be an S3 bucket ARN (arn:aws:s3:::bucket)"))]
    pub sink_arn: String,
    /// The ARN of the IAM role Chime SDK assumes to write to the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub sink_iam_role_arn: Option<String>,
    /// Which streams of the meeting are recorded, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chime_sdk_meeting_configuration: Option<MeetingConfiguration>,
    /// Server-side encryption of the chunks with an AWS KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_aws_key_management_params: Option<SseKms>,
    #[serde(flatten)]
    pub common: CommonFields,
    #[serde(flatten)]
    pub lifetime: Lifetime,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
pub enum CaptureSourceType {
    ChimeSdkMeeting,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
pub enum CaptureSinkType {
    S3Bucket,
}

/// The model's ChimeSdkMeetingConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeetingConfiguration {
    /// Which attendees' video is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_configuration: Option<SourceConfiguration>,
    /// What is recorded: audio, video, content share, composited video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts_configuration: Option<ArtifactsConfiguration>,
}

/// The model's SourceConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceConfiguration {
    /// The attendees whose video streams are recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_video_streams: Option<SelectedVideoStreams>,
}

/// The model's SelectedVideoStreams.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectedVideoStreams {
    /// Attendee IDs (GUIDs), at least one when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 250),
        inner(
            length(min = 36, max = 36),
            regex(pattern = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$")
        )
    )]
    pub attendee_ids: Option<Vec<String>>,
    /// External user IDs (2 to 64 characters), at least one when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 250), inner(length(min = 2, max = 64)))]
    pub external_user_ids: Option<Vec<String>>,
}

/// The model's ArtifactsConfiguration: audio, video and content are
/// required.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactsConfiguration {
    /// How audio is recorded.
    pub audio: AudioArtifacts,
    /// Whether video is recorded.
    pub video: StateAndMux<VideoMux>,
    /// Whether content share is recorded.
    pub content: StateAndMux<ContentMux>,
    /// The composited (grid) video, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composited_video: Option<CompositedVideo>,
}

/// The model's AudioArtifactsConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AudioArtifacts {
    /// AudioOnly, AudioWithActiveSpeakerVideo or AudioWithCompositedVideo.
    pub mux_type: AudioMux,
}

/// An artifact's state, and its mux type (video: VideoOnly; content:
/// ContentOnly).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(
    rename_all = "camelCase",
    bound(deserialize = "M: Deserialize<'de>", serialize = "M: Serialize")
)]
pub struct StateAndMux<M> {
    /// Enabled or Disabled.
    pub state: ArtifactsState,
    /// The mux type; the only one the model allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mux_type: Option<M>,
}

/// The model's CompositedVideoArtifactsConfiguration.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompositedVideo {
    /// GridView, the only layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// HD or FHD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// The grid's layout.
    pub grid_view_configuration: GridView,
}

/// The model's GridViewConfiguration: the content share layout and the
/// canvas orientation. Its per-layout settings (presenter and active
/// speaker positions, tile layouts, video attributes) are not offered yet:
/// AWS applies its defaults.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GridView {
    /// PresenterOnly, Horizontal, Vertical or ActiveSpeakerOnly.
    pub content_share_layout: ContentShareLayout,
    /// Landscape or Portrait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas_orientation: Option<CanvasOrientation>,
}

/// The model's SseAwsKeyManagementParams.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SseKms {
    /// The KMS key: its ID, ARN or alias.
    #[schemars(length(max = 4096), regex(pattern = ".*"))]
    pub aws_kms_key_id: String,
    /// The encryption context (base64 JSON), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096), regex(pattern = ".*"))]
    pub aws_kms_encryption_context: Option<String>,
}

crate::model_enum! {
    AudioMux: AudioOnly, AudioWithActiveSpeakerVideo, AudioWithCompositedVideo;
    ArtifactsState: Enabled, Disabled;
    VideoMux: VideoOnly;
    ContentMux: ContentOnly;
    Layout: GridView;
    Resolution: HD, FHD;
    ContentShareLayout: PresenterOnly, Horizontal, Vertical, ActiveSpeakerOnly;
    CanvasOrientation: Landscape, Portrait;
}

impl CommonSpec for MediaCapturePipeline {
    fn common(&self) -> &CommonFields {
        &self.spec.common
    }
}
