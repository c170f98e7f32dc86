//! The Chime SDK Media Pipelines calls the operator makes, with the SDK's
//! types turned into ours and every failure classified into [`Error`].

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_chimesdkmediapipelines as chime;
use aws_sdk_chimesdkmediapipelines::config::http::HttpResponse;
use aws_sdk_chimesdkmediapipelines::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_chimesdkmediapipelines::types as t;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;

use crate::crd::{MediaStreamSink, MediaStreamSource, MediaStreamType, SinkType, SourceType, Tag};
use crate::decide::RemotePipeline;
use crate::error::Error;
use crate::metrics;
use crate::pool::RemotePool;

/// The operator's AWS access: one client (and one rate-limit bucket, as AWS
/// throttles per region) per region, built on first use.
#[derive(Clone)]
pub struct Aws {
    sdk: Arc<aws_config::SdkConfig>,
    rate_limit: Option<RateLimit>,
    regions: Arc<Mutex<HashMap<String, Regional>>>,
}

/// The calls, in one region.
#[derive(Clone)]
pub struct Regional {
    client: chime::Client,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    region: String,
}

/// Where and how to reach AWS; credentials always come from the standard
/// provider chain (environment, profile, web identity / IRSA, Pod Identity).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub region: Option<String>,
    /// For the emulator, or a VPC endpoint.
    pub endpoint_url: Option<String>,
    /// Client-side limit on requests to AWS, per region: a token bucket
    /// refilled at `per_second`, holding up to `burst`. None: no limit.
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Aws {
    pub async fn new(opts: &AwsOptions) -> Aws {
        Aws::from_loader(loader(opts), opts.rate_limit).await
    }

    /// From a loader made by [`loader`], perhaps with more settings (tests
    /// give it static credentials).
    pub async fn from_loader(
        loader: aws_config::ConfigLoader,
        rate_limit: Option<RateLimit>,
    ) -> Aws {
        Aws {
            sdk: Arc::new(loader.load().await),
            rate_limit,
            regions: Arc::default(),
        }
    }

    /// The operator's own region (from --region or the provider chain).
    pub fn default_region(&self) -> String {
        self.sdk.region().map(|r| r.to_string()).unwrap_or_default()
    }

    /// The calls in `region` (None: the operator's region).
    pub fn region(&self, region: Option<&str>) -> Regional {
        let region = region.map_or_else(|| self.default_region(), str::to_string);
        let Ok(mut map) = self.regions.lock() else {
            return self.regional(&region);
        };
        map.entry(region.clone())
            .or_insert_with(|| self.regional(&region))
            .clone()
    }

    fn regional(&self, region: &str) -> Regional {
        let conf = chime::config::Builder::from(self.sdk.as_ref())
            .region(aws_config::Region::new(region.to_string()))
            .build();
        Regional {
            client: chime::Client::from_conf(conf),
            limiter: self.rate_limit.map(|l| {
                Arc::new(RateLimiter::direct(
                    Quota::per_second(l.per_second).allow_burst(l.burst),
                ))
            }),
            region: region.to_string(),
        }
    }
}

impl Regional {
    /// The region these calls go to.
    pub fn name(&self) -> &str {
        &self.region
    }

    /// Sends a request, and counts and times it by operation and outcome.
    async fn call<T, E>(
        &self,
        operation: &'static str,
        send: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, Error>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let start = Instant::now();
        let result = send.await.map_err(classify);
        let outcome = match &result {
            Ok(_) => "Success",
            Err(e) => e.reason(),
        };
        metrics::global().aws_call(operation, outcome, start.elapsed());
        result
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
        // The model's TagList has min 1: send none rather than an empty list.
        for tag in tags {
            req = req.tags(sdk_tag(tag)?);
        }
        let out = self.call("CreateMediaStreamPipeline", req.send()).await?;
        let p = out
            .media_stream_pipeline
            .ok_or_else(|| Error::Unexpected("create answered without a pipeline".into()))?;
        remote(p)
    }

    /// GetMediaPipeline; `None` when AWS answers NotFound.
    pub async fn get(&self, id: &str) -> Result<Option<RemotePipeline>, Error> {
        let send = self
            .client
            .get_media_pipeline()
            .media_pipeline_id(id)
            .send();
        match self.call("GetMediaPipeline", send).await {
            Ok(out) => {
                let p = out
                    .media_pipeline
                    .and_then(|m| m.media_stream_pipeline)
                    .ok_or_else(|| {
                        Error::Unexpected(format!("{id} is not a media stream pipeline"))
                    })?;
                remote(p).map(Some)
            }
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
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

    pub async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>, Error> {
        let send = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send();
        let out = self.call("ListTagsForResource", send).await?;
        Ok(out
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| Tag {
                key: t.key,
                value: t.value,
            })
            .collect())
    }

    pub async fn tag(&self, arn: &str, tags: &[Tag]) -> Result<(), Error> {
        let mut req = self.client.tag_resource().resource_arn(arn);
        for tag in tags {
            req = req.tags(sdk_tag(tag)?);
        }
        self.call("TagResource", req.send()).await.map(|_| ())
    }

    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), Error> {
        let mut req = self.client.untag_resource().resource_arn(arn);
        for k in keys {
            req = req.tag_keys(k);
        }
        self.call("UntagResource", req.send()).await.map(|_| ())
    }
}

impl Regional {
    /// CreateMediaPipelineKinesisVideoStreamPool; safe to repeat with the
    /// same token and input.
    pub async fn create_pool(
        &self,
        name: &str,
        region: &str,
        retention_hours: Option<i32>,
        token: &str,
        tags: &[Tag],
    ) -> Result<RemotePool, Error> {
        let conf = t::KinesisVideoStreamConfiguration::builder()
            .region(region)
            .set_data_retention_in_hours(retention_hours)
            .build()
            .map_err(|e| Error::Unexpected(e.to_string()))?;
        let mut req = self
            .client
            .create_media_pipeline_kinesis_video_stream_pool()
            .pool_name(name)
            .stream_configuration(conf)
            .client_request_token(token);
        for tag in tags {
            req = req.tags(sdk_tag(tag)?);
        }
        let out = self
            .call("CreateMediaPipelineKinesisVideoStreamPool", req.send())
            .await?;
        remote_pool(out.kinesis_video_stream_pool_configuration)
    }

    /// GetMediaPipelineKinesisVideoStreamPool; `None` when AWS answers NotFound.
    pub async fn get_pool(&self, identifier: &str) -> Result<Option<RemotePool>, Error> {
        let send = self
            .client
            .get_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .send();
        match self
            .call("GetMediaPipelineKinesisVideoStreamPool", send)
            .await
        {
            Ok(out) => remote_pool(out.kinesis_video_stream_pool_configuration).map(Some),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// UpdateMediaPipelineKinesisVideoStreamPool: the retention is all that
    /// can change.
    pub async fn update_pool_retention(
        &self,
        identifier: &str,
        hours: i32,
    ) -> Result<RemotePool, Error> {
        let update = t::KinesisVideoStreamConfigurationUpdate::builder()
            .data_retention_in_hours(hours)
            .build();
        let send = self
            .client
            .update_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .stream_configuration(update)
            .send();
        let out = self
            .call("UpdateMediaPipelineKinesisVideoStreamPool", send)
            .await?;
        remote_pool(out.kinesis_video_stream_pool_configuration)
    }

    /// DeleteMediaPipelineKinesisVideoStreamPool; a pool already gone counts
    /// as deleted. ConflictException (still in use) comes back as an error.
    pub async fn delete_pool(&self, identifier: &str) -> Result<(), Error> {
        let send = self
            .client
            .delete_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .send();
        match self
            .call("DeleteMediaPipelineKinesisVideoStreamPool", send)
            .await
        {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn remote_pool(p: Option<t::KinesisVideoStreamPoolConfiguration>) -> Result<RemotePool, Error> {
    let p = p.ok_or_else(|| Error::Unexpected("answer without a pool".into()))?;
    Ok(RemotePool {
        arn: p
            .pool_arn
            .ok_or_else(|| Error::Unexpected("pool without an ARN".into()))?,
        id: p.pool_id.unwrap_or_default(),
        name: p.pool_name.unwrap_or_default(),
        status: p
            .pool_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        size: p.pool_size,
        region: p
            .stream_configuration
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_default(),
        retention_hours: p
            .stream_configuration
            .and_then(|c| c.data_retention_in_hours),
        created: timestamp(p.created_timestamp.as_ref()),
        updated: timestamp(p.updated_timestamp.as_ref()),
    })
}

/// The SDK configuration for `opts`: the standard credential chain, one
/// attempt per call (the controller retries, with backoff and jitter, and
/// every request passes the rate limit), and timeouts so that no call hangs
/// a reconcile.
pub fn loader(opts: &AwsOptions) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(region) = &opts.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

/// Classifies an SDK failure. Only the error code and message are kept: the
/// request (with its signature) is never part of what we log or show.
fn classify<E>(err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let message = e.message().unwrap_or("no message").to_string();
            Error::from_aws_code(e.code(), message)
        }
        SdkError::ConstructionFailure(_) => Error::Unexpected(format!(
            "could not build the request: {}",
            source_text(&err)
        )),
        _ => Error::from_aws_code(None, source_text(&err)),
    }
}

fn source_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

fn sdk_tag(tag: &Tag) -> Result<t::Tag, Error> {
    t::Tag::builder()
        .key(&tag.key)
        .value(&tag.value)
        .build()
        .map_err(|e| Error::Unexpected(e.to_string()))
}

fn timestamp(
    dt: Option<&aws_sdk_chimesdkmediapipelines::primitives::DateTime>,
) -> Option<Timestamp> {
    dt.and_then(|d| Timestamp::new(d.secs(), d.subsec_nanos() as i32).ok())
}

fn remote(p: t::MediaStreamPipeline) -> Result<RemotePipeline, Error> {
    let id = p
        .media_pipeline_id
        .ok_or_else(|| Error::Unexpected("pipeline without an ID".into()))?;
    Ok(RemotePipeline {
        arn: p.media_pipeline_arn.unwrap_or_default(),
        status: p.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        created: timestamp(p.created_timestamp.as_ref()),
        updated: timestamp(p.updated_timestamp.as_ref()),
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
        id,
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
