//! The clients: one per region and service (Media Pipelines, and Meetings
//! for GetMeeting), every request through [`Regional::call`] (rate limit,
//! request, metrics), failures classified.

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
use aws_sdk_chimesdkmeetings as meetings;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::Timestamp;

use crate::crd::Tag;
use crate::error::Error;
use crate::metrics::Metrics;

/// The operator's AWS access: one client (and one rate-limit bucket, as AWS
/// throttles per region) per region, built on first use.
#[derive(Clone)]
pub struct Aws {
    sdk: Arc<aws_config::SdkConfig>,
    rate_limit: Option<RateLimit>,
    regions: Arc<Mutex<HashMap<String, Regional>>>,
    metrics: Arc<Metrics>,
}

/// The calls, in one region.
#[derive(Clone)]
pub struct Regional {
    pub(super) client: chime::Client,
    /// Chime SDK Meetings, same region and settings. Its calls pass the
    /// same rate limit: the limit bounds all the operator sends a region.
    pub(super) meetings: meetings::Client,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    region: String,
    metrics: Arc<Metrics>,
    /// Tags read before, by ARN: see [`Regional::known_tags`].
    seen_tags: Arc<Mutex<HashMap<String, Vec<Tag>>>>,
}

/// The most objects whose tags a region's client remembers.
pub const KNOWN_TAGS_MAX: usize = 20_000;

/// The Regions where Chime SDK Media Pipelines has an endpoint, as the AWS
/// SDKs' endpoint data (botocore's endpoints.json, `media-pipelines-chime`)
/// lists them. Elsewhere every call fails as a network error, forever.
pub const SUPPORTED_REGIONS: [&str; 10] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-2",
    "us-east-1",
    "us-west-2",
];

/// Why no call can go to `region`, if none can: the service has no
/// endpoint there (a typo, or a Region it does not serve).
pub fn unsupported_region(region: &str) -> Option<Error> {
    (!SUPPORTED_REGIONS.contains(&region)).then(|| {
        Error::UnsupportedRegion(format!(
            "Chime SDK Media Pipelines has no endpoint in {region:?}; set spec.region (or the \
             operator's --region) to one of {}",
            SUPPORTED_REGIONS.join(", ")
        ))
    })
}

/// An object as a List call names it: what Get and Delete take, and its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub arn: String,
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
    pub async fn new(opts: &AwsOptions, metrics: Arc<Metrics>) -> Aws {
        Aws::from_loader(loader(opts), opts.rate_limit, metrics).await
    }

    /// From a loader made by [`loader`], perhaps with more settings (tests
    /// give it static credentials).
    pub async fn from_loader(
        loader: aws_config::ConfigLoader,
        rate_limit: Option<RateLimit>,
        metrics: Arc<Metrics>,
    ) -> Aws {
        Aws {
            sdk: Arc::new(loader.load().await),
            rate_limit,
            regions: Arc::default(),
            metrics,
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

    /// The SDK settings every client starts from (region, endpoint,
    /// credentials, timeouts).
    pub(crate) fn sdk(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    pub(crate) fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn regional(&self, region: &str) -> Regional {
        let name = aws_config::Region::new(region.to_string());
        let conf = chime::config::Builder::from(self.sdk.as_ref())
            .region(name.clone())
            .build();
        let meetings_conf = meetings::config::Builder::from(self.sdk.as_ref())
            .region(name)
            .build();
        Regional {
            client: chime::Client::from_conf(conf),
            meetings: meetings::Client::from_conf(meetings_conf),
            limiter: self.rate_limit.map(|l| {
                Arc::new(RateLimiter::direct(
                    Quota::per_second(l.per_second).allow_burst(l.burst),
                ))
            }),
            region: region.to_string(),
            metrics: self.metrics.clone(),
            seen_tags: Arc::default(),
        }
    }
}

impl Regional {
    /// The region these calls go to.
    pub fn name(&self) -> &str {
        &self.region
    }

    /// Sends a request, and counts and times it by operation and outcome.
    pub(crate) async fn call<T, E>(
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
        timed(&self.metrics, operation, send).await
    }

    /// The tags of `arn`, from memory once read: the operator's identity
    /// tags never change, so a lookup or a sweep reads each object once.
    /// Anything that may change (the deletion-policy tag) must be read
    /// afresh with [`Regional::list_tags`] before it is acted on.
    pub async fn known_tags(&self, arn: &str) -> Result<Vec<Tag>, Error> {
        if let Some(tags) = self.seen_tags.lock().ok().and_then(|m| m.get(arn).cloned()) {
            return Ok(tags);
        }
        let tags = self.list_tags(arn).await?;
        self.remember_tags(arn, &tags);
        Ok(tags)
    }

    fn remember_tags(&self, arn: &str, tags: &[Tag]) {
        if let Ok(mut m) = self.seen_tags.lock() {
            // A bound, whatever prunes it or not (with the sweep off, only
            // lookups fill it): past it, start over.
            if m.len() >= KNOWN_TAGS_MAX {
                m.clear();
            }
            m.insert(arn.to_string(), tags.to_vec());
        }
    }

    /// Drops remembered tags of objects of one kind (ARNs containing
    /// `arn_type`) that its full listing no longer has; other kinds' stay.
    pub fn keep_known_tags(&self, arn_type: &str, listed: &[Listed]) {
        let listed: std::collections::HashSet<&str> =
            listed.iter().map(|l| l.arn.as_str()).collect();
        if let Ok(mut m) = self.seen_tags.lock() {
            m.retain(|arn, _| !arn.contains(arn_type) || listed.contains(arn.as_str()));
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

/// Classifies an SDK failure of `operation` (a code can mean different
/// things for different operations). Only the error code and message are kept: the
/// request (with its signature) is never part of what we log or show.
/// Sends a request of any AWS service, classifies its failure, and counts
/// and times it by operation and outcome.
pub(crate) async fn timed<T, E>(
    metrics: &Metrics,
    operation: &'static str,
    send: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let start = Instant::now();
    let result = send.await.map_err(|e| classify(operation, e));
    let outcome = match &result {
        Ok(_) => "Success",
        Err(e) => e.reason(),
    };
    metrics.aws_call(operation, outcome, start.elapsed());
    result
}

fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let message = e.message().unwrap_or("no message").to_string();
            Error::from_aws(operation, e.code(), message)
        }
        SdkError::ConstructionFailure(_) => Error::Unexpected(format!(
            "could not build the request: {}",
            source_text(&err)
        )),
        _ => Error::from_aws(operation, None, source_text(&err)),
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

/// Tags as a create takes them: none rather than an empty list, since the
/// model's TagList has min 1.
pub(crate) fn sdk_tags(tags: &[Tag]) -> Result<Option<Vec<t::Tag>>, Error> {
    let tags: Result<Vec<t::Tag>, Error> = tags.iter().map(sdk_tag).collect();
    tags.map(|t| (!t.is_empty()).then_some(t))
}

/// What the SDK's builders refuse (a required member unset): a bug of
/// ours, never the user's.
pub(crate) fn built(e: aws_sdk_chimesdkmediapipelines::error::BuildError) -> Error {
    Error::Unexpected(e.to_string())
}

pub(crate) fn sdk_tag(tag: &Tag) -> Result<t::Tag, Error> {
    t::Tag::builder()
        .key(&tag.key)
        .value(&tag.value)
        .build()
        .map_err(|e| Error::Unexpected(e.to_string()))
}

pub(crate) fn timestamp(
    dt: Option<&aws_sdk_chimesdkmediapipelines::primitives::DateTime>,
) -> Option<Timestamp> {
    dt.and_then(|d| Timestamp::new(d.secs(), d.subsec_nanos() as i32).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn regional() -> Regional {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_chimesdkmediapipelines::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "tests",
            ));
        Aws::from_loader(loader, None, Arc::default())
            .await
            .region(None)
    }

    fn known(r: &Regional) -> usize {
        r.seen_tags.lock().map(|m| m.len()).unwrap_or_default()
    }

    const PIPELINE: &str = "arn:aws:chime:us-east-1:1:media-pipeline/p1";
    const POOL: &str = "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/a";

    /// A listing of one kind prunes that kind's remembered tags only: the
    /// sweep lists both kinds, and wiping the other's meant reading every
    /// tag again at every sweep.
    #[tokio::test]
    async fn a_listing_prunes_the_tags_of_its_own_kind_only() {
        let r = regional().await;
        r.remember_tags(PIPELINE, &[]);
        r.remember_tags(POOL, &[]);
        r.keep_known_tags(":media-pipeline/", &[]);
        let left: Vec<String> = r
            .seen_tags
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(left, vec![POOL.to_string()]);
        let pool = Listed {
            id: POOL.into(),
            arn: POOL.into(),
        };
        r.keep_known_tags(":media-pipeline-kinesis-video-stream-pool/", &[pool]);
        assert_eq!(known(&r), 1);
    }

    /// With the sweep off nothing prunes: the memory is bounded anyway.
    #[tokio::test]
    async fn remembered_tags_are_bounded() {
        let r = regional().await;
        for i in 0..KNOWN_TAGS_MAX + 10 {
            r.remember_tags(&format!("{PIPELINE}{i}"), &[]);
        }
        assert!(known(&r) <= KNOWN_TAGS_MAX);
    }

    #[test]
    fn regions_without_the_service_are_named_with_those_that_have_it() {
        assert!(unsupported_region("us-east-1").is_none());
        let err = unsupported_region("us-east-2").map(|e| (e.reason(), e.to_string()));
        assert!(
            err.as_ref()
                .is_some_and(|(reason, message)| *reason == "UnsupportedRegion"
                    && message.contains("us-west-2")),
            "{err:?}"
        );
    }
}
