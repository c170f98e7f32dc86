//! Media concatenation pipelines: CreateMediaConcatenationPipeline, and the
//! concatenation pipeline as AWS describes it.

use aws_sdk_chimesdkmediapipelines::types as t;

use super::client::{Regional, built, sdk_tags};
use super::pipeline::{Described, Header};
use crate::crd::{ConcatenationArtifacts, MediaConcatenationPipelineSpec, Tag};
use crate::error::Error;

/// What AWS describes of a concatenation pipeline besides the common
/// fields: its capture pipeline and its destination.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcatDetail {
    pub source_arn: String,
    pub destination: String,
}

pub type RemoteConcat = Described<ConcatDetail>;

impl Regional {
    /// CreateMediaConcatenationPipeline of the capture pipeline `capture`
    /// (the spec's, resolved to an ARN); safe to repeat with the same
    /// token and input.
    pub async fn create_concat(
        &self,
        spec: &MediaConcatenationPipelineSpec,
        capture: &str,
        token: &str,
        tags: &[Tag],
    ) -> Result<RemoteConcat, Error> {
        let missing = || Error::Unexpected("a concatenation without a source or sink".into());
        let config = &spec
            .source()
            .ok_or_else(missing)?
            .chime_sdk_meeting_configuration;
        let meeting = t::ChimeSdkMeetingConcatenationConfiguration::builder()
            .artifacts_configuration(artifacts(&config.artifacts_configuration)?)
            .build();
        let source = t::MediaCapturePipelineSourceConfiguration::builder()
            .media_pipeline_arn(capture)
            .chime_sdk_meeting_configuration(meeting)
            .build()
            .map_err(built)?;
        let source = t::ConcatenationSource::builder()
            .r#type(t::ConcatenationSourceType::MediaCapturePipeline)
            .media_capture_pipeline_source_configuration(source)
            .build()
            .map_err(built)?;
        let bucket = t::S3BucketSinkConfiguration::builder()
            .destination(spec.destination().ok_or_else(missing)?)
            .build()
            .map_err(built)?;
        let sink = t::ConcatenationSink::builder()
            .r#type(t::ConcatenationSinkType::S3Bucket)
            .s3_bucket_sink_configuration(bucket)
            .build()
            .map_err(built)?;
        let req = self
            .client
            .create_media_concatenation_pipeline()
            .sources(source)
            .sinks(sink)
            .client_request_token(token)
            .set_tags(sdk_tags(tags)?);
        let out = self
            .call("CreateMediaConcatenationPipeline", req.send())
            .await?;
        let p = out
            .media_concatenation_pipeline
            .ok_or_else(|| Error::Unexpected("create answered without a pipeline".into()))?;
        concat_pipeline(p)
    }
}

/// A concatenation pipeline as the SDK describes it, in our terms.
pub fn concat_pipeline(p: t::MediaConcatenationPipeline) -> Result<RemoteConcat, Error> {
    let source = p.sources.iter().flatten().next();
    let source = source.and_then(|s| s.media_capture_pipeline_source_configuration.as_ref());
    let sink = p.sinks.iter().flatten().next();
    let sink = sink.and_then(|s| s.s3_bucket_sink_configuration.as_ref());
    let detail = ConcatDetail {
        source_arn: source
            .map(|s| s.media_pipeline_arn.clone())
            .unwrap_or_default(),
        destination: sink.map(|s| s.destination.clone()).unwrap_or_default(),
    };
    let header = Header {
        id: p.media_pipeline_id,
        arn: p.media_pipeline_arn,
        status: p.status.as_ref(),
        created: p.created_timestamp.as_ref(),
        updated: p.updated_timestamp.as_ref(),
    };
    header.with(detail)
}

/// Each artifact's state, as the model's seven configuration types.
fn artifacts(a: &ConcatenationArtifacts) -> Result<t::ArtifactsConcatenationConfiguration, Error> {
    macro_rules! state {
        ($config:ident, $field:ident) => {
            t::$config::builder()
                .state(a.$field.state.as_str().into())
                .build()
                .map_err(built)?
        };
    }
    Ok(t::ArtifactsConcatenationConfiguration::builder()
        .audio(state!(AudioConcatenationConfiguration, audio))
        .video(state!(VideoConcatenationConfiguration, video))
        .content(state!(ContentConcatenationConfiguration, content))
        .data_channel(state!(DataChannelConcatenationConfiguration, data_channel))
        .transcription_messages(state!(
            TranscriptionMessagesConcatenationConfiguration,
            transcription_messages
        ))
        .meeting_events(state!(
            MeetingEventsConcatenationConfiguration,
            meeting_events
        ))
        .composited_video(state!(
            CompositedVideoConcatenationConfiguration,
            composited_video
        ))
        .build())
}
