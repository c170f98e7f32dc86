//! Media pipelines of every type: ListMediaPipelines, GetMediaPipeline,
//! DeleteMediaPipeline, and what AWS describes of every pipeline type
//! ([`Described`]); and the stream pipeline's own create.

use aws_sdk_chimesdkmediapipelines::types as t;
use jiff::Timestamp;

use super::client::{Listed, Regional, sdk_tags, timestamp};
use crate::crd::{MediaStreamSink, MediaStreamSource, MediaStreamType, SinkType, SourceType, Tag};
use crate::error::Error;

/// A media pipeline as AWS describes it: what every pipeline type has,
/// and `detail`, its type's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Described<T> {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub detail: T,
}

/// What AWS describes of a stream pipeline besides the common fields.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDetail {
    pub sources: Vec<MediaStreamSource>,
    pub sinks: Vec<MediaStreamSink>,
}

/// A media stream pipeline as AWS describes it.
pub type RemotePipeline = Described<StreamDetail>;

/// The fields every pipeline type describes, as the SDK gives them.
pub struct Header<'a> {
    pub id: Option<String>,
    pub arn: Option<String>,
    pub status: Option<&'a t::MediaPipelineStatus>,
    pub created: Option<&'a aws_sdk_chimesdkmediapipelines::primitives::DateTime>,
    pub updated: Option<&'a aws_sdk_chimesdkmediapipelines::primitives::DateTime>,
}

impl Header<'_> {
    /// The described pipeline, with its type's `detail`.
    pub fn with<T>(self, detail: T) -> Result<Described<T>, Error> {
        Ok(Described {
            id: self
                .id
                .ok_or_else(|| Error::Unexpected("a pipeline without an ID".into()))?,
            arn: self.arn.unwrap_or_default(),
            status: self
                .status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            created: timestamp(self.created),
            updated: timestamp(self.updated),
            detail,
        })
    }
}

impl Regional {
    /// ListMediaPipelines, every page: (ID, ARN) of every media pipeline
    /// of the region, of every type (the tags tell ours).
    pub async fn list_pipelines(&self) -> Result<Vec<Listed>, Error> {
        let mut out = vec![];
        let mut next: Option<String> = None;
        loop {
            let send = self
                .client
                .list_media_pipelines()
                .max_results(100)
                .set_next_token(next.take())
                .send();
            let page = self.call("ListMediaPipelines", send).await?;
            for p in page.media_pipelines.unwrap_or_default() {
                if let (Some(id), Some(arn)) = (p.media_pipeline_id, p.media_pipeline_arn) {
                    out.push(Listed { id, arn });
                }
            }
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// CreateMediaStreamPipeline, with `sinks` resolved to ARNs. The same
    /// `token` with the same input returns the pipeline created first, so
    /// this is safe to repeat.
    pub async fn create(
        &self,
        sources: &[MediaStreamSource],
        sinks: &[MediaStreamSink],
        token: &str,
        tags: &[Tag],
    ) -> Result<RemotePipeline, Error> {
        let mut req = self
            .client
            .create_media_stream_pipeline()
            .client_request_token(token);
        for s in sources {
            req = req.sources(
                t::MediaStreamSource::builder()
                    .source_type(t::MediaPipelineSourceType::from(source_type(s.source_type)))
                    .source_arn(&s.source_arn)
                    .build()
                    .map_err(|e| Error::Unexpected(e.to_string()))?,
            );
        }
        for s in sinks {
            req = req.sinks(
                t::MediaStreamSink::builder()
                    .set_sink_arn(s.sink_arn.clone())
                    .sink_type(t::MediaStreamPipelineSinkType::from(sink_type(s.sink_type)))
                    .reserved_stream_capacity(s.reserved_stream_capacity)
                    .media_stream_type(t::MediaStreamType::from(stream_type(s.media_stream_type)))
                    .build()
                    .map_err(|e| Error::Unexpected(e.to_string()))?,
            );
        }
        let req = req.set_tags(sdk_tags(tags)?);
        let out = self.call("CreateMediaStreamPipeline", req.send()).await?;
        let p = out
            .media_stream_pipeline
            .ok_or_else(|| Error::Unexpected("create answered without a pipeline".into()))?;
        stream_pipeline(p)
    }

    /// GetMediaPipeline: the pipeline, of whatever type; `None` when AWS
    /// answers NotFound.
    pub async fn get_pipeline(&self, id: &str) -> Result<Option<t::MediaPipeline>, Error> {
        let send = self
            .client
            .get_media_pipeline()
            .media_pipeline_id(id)
            .send();
        match self.call("GetMediaPipeline", send).await {
            Ok(out) => Ok(Some(
                out.media_pipeline
                    .unwrap_or_else(|| t::MediaPipeline::builder().build()),
            )),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GetMediaPipeline for a stream pipeline.
    pub async fn get(&self, id: &str) -> Result<Option<RemotePipeline>, Error> {
        let Some(any) = self.get_pipeline(id).await? else {
            return Ok(None);
        };
        let p = of_type(id, "stream", any.media_stream_pipeline)?;
        stream_pipeline(p).map(Some)
    }

    /// DeleteMediaPipeline; a pipeline that is already gone counts as deleted.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        let send = self
            .client
            .delete_media_pipeline()
            .media_pipeline_id(id)
            .send();
        match self.call("DeleteMediaPipeline", send).await {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The member of GetMediaPipeline's answer for the type asked for; an ID
/// of another type is no object of this kind.
pub fn of_type<T>(id: &str, kind: &str, member: Option<T>) -> Result<T, Error> {
    member.ok_or_else(|| Error::Unexpected(format!("{id} is not a media {kind} pipeline")))
}

/// A stream pipeline as the SDK describes it, in our terms.
pub fn stream_pipeline(p: t::MediaStreamPipeline) -> Result<RemotePipeline, Error> {
    let header = Header {
        id: p.media_pipeline_id,
        arn: p.media_pipeline_arn,
        status: p.status.as_ref(),
        created: p.created_timestamp.as_ref(),
        updated: p.updated_timestamp.as_ref(),
    };
    header.with(StreamDetail {
        sources: p
            .sources
            .unwrap_or_default()
            .into_iter()
            .map(|s| MediaStreamSource {
                source_type: SourceType::ChimeSdkMeeting,
                source_arn: s.source_arn,
            })
            .collect(),
        sinks: p
            .sinks
            .unwrap_or_default()
            .into_iter()
            .map(|s| MediaStreamSink {
                sink_arn: Some(s.sink_arn),
                pool_ref: None,
                sink_type: SinkType::KinesisVideoStreamPool,
                reserved_stream_capacity: s.reserved_stream_capacity,
                media_stream_type: match s.media_stream_type {
                    t::MediaStreamType::IndividualAudio => MediaStreamType::IndividualAudio,
                    _ => MediaStreamType::MixedAudio,
                },
            })
            .collect(),
    })
}

fn source_type(s: SourceType) -> &'static str {
    match s {
        SourceType::ChimeSdkMeeting => "ChimeSdkMeeting",
    }
}

fn sink_type(s: SinkType) -> &'static str {
    match s {
        SinkType::KinesisVideoStreamPool => "KinesisVideoStreamPool",
    }
}

fn stream_type(s: MediaStreamType) -> &'static str {
    match s {
        MediaStreamType::MixedAudio => "MixedAudio",
        MediaStreamType::IndividualAudio => "IndividualAudio",
    }
}
