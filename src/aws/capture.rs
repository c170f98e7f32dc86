//! Media capture pipelines: CreateMediaCapturePipeline, and the capture
//! pipeline as AWS describes it.

use aws_sdk_chimesdkmediapipelines::types as t;

use super::client::{Regional, built, sdk_tags};
use super::pipeline::{Described, Header};
use crate::crd::{ArtifactsConfiguration, MediaCapturePipelineSpec, MeetingConfiguration, Tag};
use crate::error::Error;

/// What AWS describes of a capture pipeline besides the common fields:
/// what its create fixed.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureDetail {
    pub source_arn: String,
    pub sink_arn: String,
}

pub type RemoteCapture = Described<CaptureDetail>;

impl Regional {
    /// CreateMediaCapturePipeline; safe to repeat with the same token and
    /// input.
    pub async fn create_capture(
        &self,
        spec: &MediaCapturePipelineSpec,
        token: &str,
        tags: &[Tag],
    ) -> Result<RemoteCapture, Error> {
        let sse = match &spec.sse_aws_key_management_params {
            Some(p) => Some(
                t::SseAwsKeyManagementParams::builder()
                    .aws_kms_key_id(&p.aws_kms_key_id)
                    .set_aws_kms_encryption_context(p.aws_kms_encryption_context.clone())
                    .build()
                    .map_err(built)?,
            ),
            None => None,
        };
        let meeting = spec.chime_sdk_meeting_configuration.as_ref();
        let req = self
            .client
            .create_media_capture_pipeline()
            .source_type(t::MediaPipelineSourceType::ChimeSdkMeeting)
            .source_arn(&spec.source_arn)
            .sink_type(t::MediaPipelineSinkType::S3Bucket)
            .sink_arn(&spec.sink_arn)
            .set_sink_iam_role_arn(spec.sink_iam_role_arn.clone())
            .set_chime_sdk_meeting_configuration(meeting.map(meeting_configuration).transpose()?)
            .set_sse_aws_key_management_params(sse)
            .client_request_token(token)
            .set_tags(sdk_tags(tags)?);
        let out = self.call("CreateMediaCapturePipeline", req.send()).await?;
        let p = out
            .media_capture_pipeline
            .ok_or_else(|| Error::Unexpected("create answered without a pipeline".into()))?;
        capture_pipeline(p)
    }
}

/// A capture pipeline as the SDK describes it, in our terms.
pub fn capture_pipeline(p: t::MediaCapturePipeline) -> Result<RemoteCapture, Error> {
    let header = Header {
        id: p.media_pipeline_id,
        arn: p.media_pipeline_arn,
        status: p.status.as_ref(),
        created: p.created_timestamp.as_ref(),
        updated: p.updated_timestamp.as_ref(),
    };
    header.with(CaptureDetail {
        source_arn: p.source_arn.unwrap_or_default(),
        sink_arn: p.sink_arn.unwrap_or_default(),
    })
}

fn meeting_configuration(
    c: &MeetingConfiguration,
) -> Result<t::ChimeSdkMeetingConfiguration, Error> {
    let source = c.source_configuration.as_ref().map(|s| {
        let streams = s.selected_video_streams.as_ref().map(|v| {
            t::SelectedVideoStreams::builder()
                .set_attendee_ids(v.attendee_ids.clone())
                .set_external_user_ids(v.external_user_ids.clone())
                .build()
        });
        t::SourceConfiguration::builder()
            .set_selected_video_streams(streams)
            .build()
    });
    let artifacts = c
        .artifacts_configuration
        .as_ref()
        .map(artifacts)
        .transpose()?;
    Ok(t::ChimeSdkMeetingConfiguration::builder()
        .set_source_configuration(source)
        .set_artifacts_configuration(artifacts)
        .build())
}

fn artifacts(a: &ArtifactsConfiguration) -> Result<t::ArtifactsConfiguration, Error> {
    let audio = t::AudioArtifactsConfiguration::builder()
        .mux_type(a.audio.mux_type.as_str().into())
        .build()
        .map_err(built)?;
    let video = t::VideoArtifactsConfiguration::builder()
        .state(a.video.state.as_str().into())
        .set_mux_type(a.video.mux_type.map(|m| m.as_str().into()))
        .build()
        .map_err(built)?;
    let content = t::ContentArtifactsConfiguration::builder()
        .state(a.content.state.as_str().into())
        .set_mux_type(a.content.mux_type.map(|m| m.as_str().into()))
        .build()
        .map_err(built)?;
    let composited = match &a.composited_video {
        Some(v) => {
            let grid = t::GridViewConfiguration::builder()
                .content_share_layout(
                    v.grid_view_configuration
                        .content_share_layout
                        .as_str()
                        .into(),
                )
                .set_canvas_orientation(
                    v.grid_view_configuration
                        .canvas_orientation
                        .map(|o| o.as_str().into()),
                )
                .build()
                .map_err(built)?;
            let video = t::CompositedVideoArtifactsConfiguration::builder()
                .set_layout(v.layout.map(|l| l.as_str().into()))
                .set_resolution(v.resolution.map(|r| r.as_str().into()))
                .grid_view_configuration(grid);
            Some(video.build())
        }
        None => None,
    };
    Ok(t::ArtifactsConfiguration::builder()
        .audio(audio)
        .video(video)
        .content(content)
        .set_composited_video(composited)
        .build())
}
