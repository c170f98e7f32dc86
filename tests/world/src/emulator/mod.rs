//! An emulator of the Amazon Chime SDK Media Pipelines REST API
//! (restJson1, 2021-07-15), enough of it for the operator: media stream,
//! capture and concatenation pipelines, Kinesis video stream pools and
//! tags, with the service's
//! validation, idempotency, limits and errors; and, on the same listener,
//! Chime SDK Meetings' GetMeeting (a meeting ended or marked missing is
//! NotFound, any other is in progress); and SQS, for the queue `chime-events`
//! into which it publishes Chime SDK's EventBridge events when asked to
//! ([`EmulatorConfig::events`], [`Emulator::set_events`]). Plus knobs for tests
//! (lifecycle delays, ended or missing meetings, pipelines AWS removes,
//! failed pipelines and pools, inaccessible S3 buckets, injected faults)
//! and records
//! of everything that happened.
//!
//! It runs in-process ([`Emulator::start`]) or as the `chime-emulator`
//! program, whose administration API lives under `/_emulator/` (see
//! [`admin`]). The real SDKs talk to it through an endpoint override
//! ([`sdk_client`], [`meetings_client`], [`sqs_client`]).

pub mod admin;
mod error;
mod events;
mod model;
mod queue;
mod server;
mod sqs;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_chimesdkmediapipelines::config::retry::RetryConfig;
use aws_sdk_chimesdkmediapipelines::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use server::Shared;
use state::State;

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// How long a new pipeline stays `Initializing` (and a pool `CREATING`).
    pub initializing_delay: Duration,
    /// Active-pipeline limits by region; unlisted regions get the service
    /// defaults (100 in us-east-1, 10 elsewhere).
    pub region_limits: HashMap<String, usize>,
    pub account_id: String,
    /// Refuse pipelines whose sink is not an existing pool of the region.
    pub require_existing_pools: bool,
    /// How long a pipeline whose meeting ended stays `Stopping` before it is
    /// `Stopped`.
    pub stopping_delay: Duration,
    /// When set, AWS removes a pipeline this long after it stopped: from then
    /// on GetMediaPipeline answers `NotFoundException`, as for a deleted one.
    /// `None` keeps stopped pipelines until they are deleted.
    pub remove_stopped_after: Option<Duration>,
    /// How long a media concatenation pipeline stays `InProgress` (its
    /// processing) before it is `Stopped` on its own.
    pub concatenation_delay: Duration,
    /// How long an updated pool stays `UPDATING` before it is `ACTIVE` again.
    pub pool_updating_delay: Duration,
    /// How long a deleted pool stays `DELETING` before it is gone.
    pub pool_deleting_delay: Duration,
    /// Publish Chime SDK's EventBridge events into the SQS queue
    /// `chime-events` (off by default).
    pub events: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            initializing_delay: Duration::ZERO,
            region_limits: HashMap::new(),
            account_id: "111122223333".to_owned(),
            require_existing_pools: false,
            stopping_delay: Duration::from_millis(300),
            remove_stopped_after: None,
            concatenation_delay: Duration::from_millis(300),
            pool_updating_delay: Duration::from_millis(300),
            pool_deleting_delay: Duration::from_millis(300),
            events: false,
        }
    }
}

/// What happens to events between Chime and the queue, as EventBridge and
/// SQS may do it: loss, duplicates, delay, reordering. Draws come from a
/// random sequence seeded with `seed`, so a test sees the same outcome on
/// every run (for the same sequence of events). The default is no chaos.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventChaos {
    /// The probability (0..=1) that an event never reaches the queue.
    pub drop: f64,
    /// The probability (0..=1) that an event reaches the queue twice (two
    /// messages, one event `id`).
    pub duplicate: f64,
    /// How long after the change its message becomes visible in the queue.
    pub delay: Duration,
    /// Each message joins the queue at a random place instead of its end.
    pub reorder: bool,
    pub seed: u64,
}

/// A media pipeline as created, including deleted ones.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRecord {
    pub id: String,
    pub arn: String,
    pub region: String,
    /// `MediaStreamPipeline`, `MediaCapturePipeline` or
    /// `MediaConcatenationPipeline`: the member GetMediaPipeline answers.
    #[serde(default)]
    pub kind: String,
    pub client_request_token: Option<String>,
    /// The meetings; for a concatenation pipeline, the capture pipeline.
    pub source_arns: Vec<String>,
    /// Pools; for capture and concatenation pipelines, the S3 sink.
    pub sink_arns: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub status: String,
    /// Gone from the service: deleted by a DeleteMediaPipeline call, or
    /// removed by AWS after it stopped (then `removed_by_aws` is set too), so
    /// that counting the records without `deleted` counts what is left in AWS.
    pub deleted: bool,
    /// Removed by AWS some time after it stopped
    /// ([`EmulatorConfig::remove_stopped_after`]), not by a delete call.
    pub removed_by_aws: bool,
    /// ISO-8601 creation time, as in `CreatedTimestamp`.
    pub created_at: String,
}

/// A Kinesis video stream pool as created, including deleted ones.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolRecord {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub region: String,
    pub client_request_token: Option<String>,
    pub data_retention_in_hours: Option<i32>,
    pub status: String,
    /// Gone from the service: set once a delete has gone through `DELETING`.
    pub deleted: bool,
    pub tags: Vec<(String, String)>,
}

/// One request to an AWS route.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// The API operation name, e.g. `CreateMediaStreamPipeline`, or `Unknown`.
    pub operation: String,
    /// The signing region; `None` for unsigned requests.
    pub region: Option<String>,
    /// The signer's access key ID (never its secret); `None` for unsigned
    /// requests. Tells apart processes run with different keys.
    pub access_key_id: Option<String>,
    /// The HTTP status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    /// When the request arrived, in milliseconds since the emulator started.
    pub at_ms: u64,
    /// What the call is about: the ClientRequestToken of a create, or the
    /// identifier in the path (pipeline ID, pool name, ID or ARN).
    pub subject: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Fault {
    /// The operation to hit, e.g. `GetMediaPipeline`; `None` hits all.
    pub operation: Option<String>,
    pub kind: FaultKind,
    pub trigger: Trigger,
}

impl Fault {
    pub fn new(kind: FaultKind, trigger: Trigger) -> Self {
        Self {
            operation: None,
            kind,
            trigger,
        }
    }

    /// Restricts the fault to one operation.
    pub fn on(mut self, operation: impl Into<String>) -> Self {
        self.operation = Some(operation.into());
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// 429 `ThrottledClientException`.
    Throttle,
    /// 503 `ServiceUnavailableException`.
    Unavailable,
    /// 500 `ServiceFailureException`.
    Failure,
    /// Waits, then answers normally.
    Latency(Duration),
    /// Closes the connection without any HTTP response.
    Drop,
    /// 403 `ForbiddenException`: the caller's IAM policy denies the call.
    Forbidden,
    /// 401 `UnauthorizedClientException`: the caller's credentials are not valid.
    Unauthorized,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// The next n matching calls.
    Next(u32),
    /// Each matching call with this probability.
    Probability(f64),
}

/// A running emulator; dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Emulator {
    /// Serves on an ephemeral port of 127.0.0.1.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let started = Instant::now();
        let shared = Arc::new(Shared::new(State::new(config, started), started));
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), stopped));
        Ok(Emulator {
            shared,
            addr,
            shutdown,
            task,
        })
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every pipeline ever created, deleted ones included, oldest first.
    pub fn pipelines(&self) -> Vec<PipelineRecord> {
        self.shared.lock().pipeline_records()
    }

    /// Every pool ever created, deleted ones included, oldest first.
    pub fn pools(&self) -> Vec<PoolRecord> {
        self.shared.lock().pool_records()
    }

    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls()
    }

    pub fn call_count(&self, operation: &str) -> usize {
        self.shared.lock().call_count(operation)
    }

    pub fn set_initializing_delay(&self, d: Duration) {
        self.shared.lock().set_initializing_delay(d);
    }

    pub fn set_region_limit(&self, region: &str, limit: usize) {
        self.shared.lock().set_region_limit(region, limit);
    }

    pub fn set_require_existing_pools(&self, require: bool) {
        self.shared.lock().set_require_existing_pools(require);
    }

    pub fn set_stopping_delay(&self, d: Duration) {
        self.shared.lock().set_stopping_delay(d);
    }

    pub fn set_remove_stopped_after(&self, d: Option<Duration>) {
        self.shared.lock().set_remove_stopped_after(d);
    }

    pub fn set_concatenation_delay(&self, d: Duration) {
        self.shared.lock().set_concatenation_delay(d);
    }

    /// Marks an S3 bucket (by name, or an ARN naming it) as one whose policy
    /// does not let Chime write (`true`), or as usable again (`false`):
    /// capture and concatenation pipelines into it are refused with
    /// `BadRequestException`.
    pub fn set_bucket_inaccessible(&self, bucket: &str, inaccessible: bool) {
        self.shared
            .lock()
            .set_bucket_inaccessible(bucket, inaccessible);
    }

    pub fn set_pool_updating_delay(&self, d: Duration) {
        self.shared.lock().set_pool_updating_delay(d);
    }

    pub fn set_pool_deleting_delay(&self, d: Duration) {
        self.shared.lock().set_pool_deleting_delay(d);
    }

    /// Makes the live pools with this name, ID or ARN `FAILED` (in any
    /// region; a pool being deleted is left alone); returns how many.
    pub fn fail_pool(&self, identifier: &str) -> usize {
        self.shared.lock().fail_pool(identifier)
    }

    /// Makes every live pipeline fed by the meeting `Failed`; returns how
    /// many.
    pub fn fail_pipelines_of(&self, meeting_arn: &str) -> usize {
        self.shared.lock().fail_meeting_pipelines(meeting_arn)
    }

    /// Makes the live pipeline with this ID or ARN, of any kind, `Failed`
    /// if it is running (`Initializing` or `InProgress`); returns how many.
    pub fn fail_pipeline(&self, identifier: &str) -> usize {
        self.shared.lock().fail_pipeline(identifier)
    }

    /// Ends the meeting: from now on GetMeeting answers NotFound for it, and
    /// every live pipeline it feeds starts stopping (`Stopping`, then
    /// `Stopped` after the stopping delay); returns how many.
    pub fn end_meeting(&self, meeting_arn: &str) -> usize {
        self.shared.lock().end_meeting(meeting_arn)
    }

    /// Makes pipeline creation for this meeting, and GetMeeting, fail with
    /// `NotFoundException`.
    pub fn mark_meeting_missing(&self, meeting_arn: &str) {
        self.shared.lock().mark_meeting_missing(meeting_arn);
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.lock().inject(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().clear_faults();
    }

    /// Announces a temporary failure (`chime:MediaPipelineTemporaryFailure`)
    /// of the running pipeline with this ID or ARN, whose status stays;
    /// returns how many.
    pub fn fail_pipeline_temporarily(&self, identifier: &str) -> usize {
        self.shared.lock().fail_pipeline_temporarily(identifier)
    }

    /// Turns the publication of Chime's events on or off; changes that
    /// happened before are published (or not) under the old setting.
    pub fn set_events(&self, on: bool) {
        self.shared.lock().set_events(on);
    }

    /// From now on, events go through this chaos to the queue.
    pub fn set_event_chaos(&self, chaos: EventChaos) {
        self.shared.lock().set_event_chaos(chaos);
    }

    /// `false` deletes the queue: every SQS call answers
    /// `QueueDoesNotExist`, and its messages and the events published
    /// meanwhile are lost. `true` creates it again, empty.
    pub fn set_queue_available(&self, available: bool) {
        self.shared.lock().set_queue_available(available);
    }

    /// `{endpoint_url}/111122223333/chime-events` (with the configured account).
    pub fn queue_url(&self) -> String {
        self.shared.lock().queue().url(&self.endpoint_url())
    }

    /// `arn:aws:sqs:us-east-1:111122223333:chime-events`.
    pub fn queue_arn(&self) -> String {
        self.shared.lock().queue().arn()
    }

    /// How many events Chime emitted, by `eventType`
    /// (`chime:MediaPipelineInProgress`, ...): every event emitted while
    /// events were on, before any chaos or a missing queue lost it.
    pub fn events_published(&self) -> HashMap<String, usize> {
        self.shared.lock().queue().published()
    }

    /// The events counted by [`Emulator::events_published`], oldest first.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.shared.lock().queue().events()
    }

    /// How many calls of an SQS operation (`ReceiveMessage`, ...) arrived:
    /// SQS calls are recorded as the others are.
    pub fn sqs_call_count(&self, operation: &str) -> usize {
        self.call_count(operation)
    }

    /// Puts a message with this body into the queue, past the chaos (a
    /// foreign or malformed message); its MessageId, or `None` when the
    /// queue is unavailable.
    pub fn send_raw(&self, body: &str) -> Option<String> {
        self.shared
            .lock()
            .queue()
            .send(body.to_owned(), Duration::ZERO)
            .map(|(id, _)| id)
    }

    /// Milliseconds since start, on the clock of [`CallRecord::at_ms`].
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.shared.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Also wakes the connection tasks, which then close their sockets.
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

/// A real Chime SDK Media Pipelines client for the emulator.
pub async fn sdk_client(
    endpoint_url: &str,
    region: &str,
) -> aws_sdk_chimesdkmediapipelines::Client {
    aws_sdk_chimesdkmediapipelines::Client::new(&sdk_config(endpoint_url, region))
}

/// A real Chime SDK Meetings client for the emulator.
pub async fn meetings_client(endpoint_url: &str, region: &str) -> aws_sdk_chimesdkmeetings::Client {
    aws_sdk_chimesdkmeetings::Client::new(&sdk_config(endpoint_url, region))
}

/// A real SQS client for the emulator's event queue.
pub async fn sqs_client(endpoint_url: &str, region: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config(endpoint_url, region))
}

/// Static test credentials, the given region, endpoint override, SDK
/// retries disabled (tests decide on retries).
fn sdk_config(endpoint_url: &str, region: &str) -> SdkConfig {
    let credentials = Credentials::new(
        "AKIDEMULATOR",
        "emulator-secret",
        None,
        None,
        "testworld-emulator",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .endpoint_url(endpoint_url)
        .retry_config(RetryConfig::disabled())
        .build()
}
