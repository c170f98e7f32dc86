//! The administration API under `/_emulator/`, for tests that drive the
//! standalone program over HTTP. Unauthenticated and not recorded as calls.
//!
//! - `GET /_emulator/pipelines`, `GET /_emulator/pools`, `GET /_emulator/calls`
//! - `POST /_emulator/faults` with a [`FaultSpec`], `DELETE /_emulator/faults`
//! - `POST /_emulator/meetings/end` and `/_emulator/meetings/missing` with
//!   `{"meetingArn": ".."}` (either makes GetMeeting answer NotFound)
//! - `POST /_emulator/pools/fail` with `{"identifier": ".."}` (a pool name, ID or ARN)
//! - `POST /_emulator/pipelines/fail` with `{"identifier": ".."}` (a pipeline
//!   ID or ARN, any kind)
//! - `POST /_emulator/buckets/inaccessible` with `{"bucket": "..",
//!   "inaccessible": true}` (a bucket name or S3 ARN; `false` lifts it)
//! - `POST /_emulator/pipelines/temporary-failure` with `{"identifier": ".."}`
//!   (announces `chime:MediaPipelineTemporaryFailure`; answers `{"failed": n}`)
//! - `PUT /_emulator/config` with [`ConfigPatch`] (`{"events": true}` turns
//!   the events on)
//! - `PUT /_emulator/events/chaos` with [`ChaosSpec`]
//! - `GET /_emulator/events`: `{"published": {"<eventType>": n}, "events": [..]}`
//! - `GET /_emulator/queue`: its URL, ARN, availability and message counts
//! - `POST /_emulator/queue/available` with `{"available": false}` (deletes
//!   the queue) or `true` (creates it again, empty)
//! - `POST /_emulator/queue/messages` with `{"body": ".."}`: a raw message,
//!   past the chaos; `{"messageId": ".."}`, or 409 when the queue is unavailable

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::server::{Shared, plain};
use super::sqs::base_url;
use super::{EventChaos, Fault, FaultKind, Trigger};

pub(crate) const PREFIX: &str = "/_emulator/";

/// Body of `POST /_emulator/faults`, e.g.
/// `{"operation": "CreateMediaStreamPipeline", "kind": "throttle", "next": 2}` or
/// `{"kind": "latency", "latencyMs": 300, "probability": 0.5}`.
/// Without `next` or `probability` the fault hits the next matching call only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    pub operation: Option<String>,
    pub kind: FaultKindSpec,
    pub latency_ms: Option<u64>,
    pub next: Option<u32>,
    pub probability: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKindSpec {
    #[serde(alias = "Throttle")]
    Throttle,
    #[serde(alias = "Unavailable")]
    Unavailable,
    #[serde(alias = "Failure")]
    Failure,
    #[serde(alias = "Latency")]
    Latency,
    #[serde(alias = "Drop")]
    Drop,
    #[serde(alias = "Forbidden")]
    Forbidden,
    #[serde(alias = "Unauthorized")]
    Unauthorized,
}

impl FaultSpec {
    fn into_fault(self) -> Result<Fault, String> {
        let kind = match self.kind {
            FaultKindSpec::Throttle => FaultKind::Throttle,
            FaultKindSpec::Unavailable => FaultKind::Unavailable,
            FaultKindSpec::Failure => FaultKind::Failure,
            FaultKindSpec::Drop => FaultKind::Drop,
            FaultKindSpec::Forbidden => FaultKind::Forbidden,
            FaultKindSpec::Unauthorized => FaultKind::Unauthorized,
            FaultKindSpec::Latency => {
                let ms = self
                    .latency_ms
                    .ok_or("latencyMs is required for a latency fault")?;
                FaultKind::Latency(Duration::from_millis(ms))
            }
        };
        let trigger = match (self.next, self.probability) {
            (Some(_), Some(_)) => return Err("give either next or probability, not both".into()),
            (Some(n), None) => Trigger::Next(n),
            (None, Some(p)) if (0.0..=1.0).contains(&p) => Trigger::Probability(p),
            (None, Some(_)) => return Err("probability must be between 0 and 1".into()),
            (None, None) => Trigger::Next(1),
        };
        Ok(Fault {
            operation: self.operation,
            kind,
            trigger,
        })
    }
}

/// Body of `PUT /_emulator/config`; absent members stay unchanged.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigPatch {
    pub initializing_delay_ms: Option<u64>,
    #[serde(default)]
    pub region_limits: HashMap<String, usize>,
    pub require_existing_pools: Option<bool>,
    pub stopping_delay_ms: Option<u64>,
    /// `null` turns the removal of stopped pipelines off, which an absent
    /// member must not do: hence the two levels of `Option`.
    #[serde(default, deserialize_with = "present")]
    pub remove_stopped_after_ms: Option<Option<u64>>,
    pub concatenation_delay_ms: Option<u64>,
    pub pool_updating_delay_ms: Option<u64>,
    pub pool_deleting_delay_ms: Option<u64>,
    pub events: Option<bool>,
}

/// Body of `PUT /_emulator/events/chaos`, e.g. `{"drop": 0.1, "duplicate":
/// 0.2, "delayMs": 500, "reorder": true, "seed": 7}`; absent members are 0
/// (or false): `{}` turns the chaos off.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ChaosSpec {
    pub drop: f64,
    pub duplicate: f64,
    pub delay_ms: u64,
    pub reorder: bool,
    pub seed: u64,
}

impl ChaosSpec {
    fn into_chaos(self) -> Result<EventChaos, String> {
        for (name, p) in [("drop", self.drop), ("duplicate", self.duplicate)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(EventChaos {
            drop: self.drop,
            duplicate: self.duplicate,
            delay: Duration::from_millis(self.delay_ms),
            reorder: self.reorder,
            seed: self.seed,
        })
    }
}

/// Called by serde only for a member that is there, `null` included.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meeting {
    meeting_arn: String,
}

/// A pool or a pipeline.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identifier {
    identifier: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Available {
    available: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage {
    body: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bucket {
    bucket: String,
    #[serde(default = "yes")]
    inaccessible: bool,
}

fn yes() -> bool {
    true
}

fn bad_request(message: &str) -> Response<Body> {
    plain(
        StatusCode::BAD_REQUEST,
        Some(&json!({ "message": message })),
    )
}

async fn read<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, Response<Body>> {
    let bytes = axum::body::to_bytes(Body::new(req.into_body()), 1 << 20)
        .await
        .map_err(|_| bad_request("the request body could not be read"))?;
    serde_json::from_slice(&bytes).map_err(|e| bad_request(&e.to_string()))
}

fn listing<T: serde::Serialize>(items: &T) -> Response<Body> {
    match serde_json::to_value(items) {
        Ok(value) => plain(StatusCode::OK, Some(&value)),
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&json!({ "message": e.to_string() })),
        ),
    }
}

pub(crate) async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let path = req
        .uri()
        .path()
        .trim_start_matches(PREFIX)
        .trim_end_matches('/')
        .to_owned();
    let method = req.method().clone();
    let base = base_url(req.headers());
    let result = match (&method, path.as_str()) {
        (&Method::GET, "pipelines") => Ok(listing(&shared.lock().pipeline_records())),
        (&Method::GET, "pools") => Ok(listing(&shared.lock().pool_records())),
        (&Method::GET, "calls") => Ok(listing(&shared.lock().calls())),
        (&Method::POST, "faults") => {
            match read::<FaultSpec>(req).await.map(FaultSpec::into_fault) {
                Ok(Ok(fault)) => {
                    shared.lock().inject(fault);
                    Ok(plain(StatusCode::NO_CONTENT, None))
                }
                Ok(Err(message)) => Err(bad_request(&message)),
                Err(response) => Err(response),
            }
        }
        (&Method::DELETE, "faults") => {
            shared.lock().clear_faults();
            Ok(plain(StatusCode::NO_CONTENT, None))
        }
        (&Method::POST, "meetings/end") => read::<Meeting>(req).await.map(|m| {
            let stopped = shared.lock().end_meeting(&m.meeting_arn);
            plain(StatusCode::OK, Some(&json!({ "stopped": stopped })))
        }),
        (&Method::POST, "meetings/missing") => read::<Meeting>(req).await.map(|m| {
            shared.lock().mark_meeting_missing(&m.meeting_arn);
            plain(StatusCode::NO_CONTENT, None)
        }),
        (&Method::POST, "pools/fail") => read::<Identifier>(req).await.map(|p| {
            let failed = shared.lock().fail_pool(&p.identifier);
            plain(StatusCode::OK, Some(&json!({ "failed": failed })))
        }),
        (&Method::POST, "pipelines/fail") => read::<Identifier>(req).await.map(|p| {
            let failed = shared.lock().fail_pipeline(&p.identifier);
            plain(StatusCode::OK, Some(&json!({ "failed": failed })))
        }),
        (&Method::POST, "pipelines/temporary-failure") => read::<Identifier>(req).await.map(|p| {
            let failed = shared.lock().fail_pipeline_temporarily(&p.identifier);
            plain(StatusCode::OK, Some(&json!({ "failed": failed })))
        }),
        (&Method::PUT, "events/chaos") => {
            match read::<ChaosSpec>(req).await.map(ChaosSpec::into_chaos) {
                Ok(Ok(chaos)) => {
                    shared.lock().set_event_chaos(chaos);
                    Ok(plain(StatusCode::NO_CONTENT, None))
                }
                Ok(Err(message)) => Err(bad_request(&message)),
                Err(response) => Err(response),
            }
        }
        (&Method::GET, "events") => {
            let mut state = shared.lock();
            let queue = state.queue();
            Ok(plain(
                StatusCode::OK,
                Some(&json!({ "published": queue.published(), "events": queue.events() })),
            ))
        }
        (&Method::GET, "queue") => {
            let mut state = shared.lock();
            let queue = state.queue();
            let counts = queue.counts();
            Ok(plain(
                StatusCode::OK,
                Some(&json!({
                    "queueUrl": queue.url(&base),
                    "queueArn": queue.arn(),
                    "available": queue.available(),
                    "approximateNumberOfMessages": counts.visible,
                    "approximateNumberOfMessagesNotVisible": counts.in_flight,
                    "approximateNumberOfMessagesDelayed": counts.delayed,
                })),
            ))
        }
        (&Method::POST, "queue/available") => read::<Available>(req).await.map(|a| {
            shared.lock().set_queue_available(a.available);
            plain(StatusCode::NO_CONTENT, None)
        }),
        (&Method::POST, "queue/messages") => read::<RawMessage>(req).await.map(|m| {
            match shared.lock().queue().send(m.body, Duration::ZERO) {
                Some((id, _)) => plain(StatusCode::OK, Some(&json!({ "messageId": id }))),
                None => plain(
                    StatusCode::CONFLICT,
                    Some(&json!({ "message": "the queue is unavailable" })),
                ),
            }
        }),
        (&Method::POST, "buckets/inaccessible") => read::<Bucket>(req).await.map(|b| {
            shared
                .lock()
                .set_bucket_inaccessible(&b.bucket, b.inaccessible);
            plain(StatusCode::NO_CONTENT, None)
        }),
        (&Method::PUT, "config") => read::<ConfigPatch>(req).await.map(|patch| {
            let mut state = shared.lock();
            if let Some(ms) = patch.initializing_delay_ms {
                state.set_initializing_delay(Duration::from_millis(ms));
            }
            for (region, limit) in &patch.region_limits {
                state.set_region_limit(region, *limit);
            }
            if let Some(require) = patch.require_existing_pools {
                state.set_require_existing_pools(require);
            }
            if let Some(ms) = patch.stopping_delay_ms {
                state.set_stopping_delay(Duration::from_millis(ms));
            }
            if let Some(after) = patch.remove_stopped_after_ms {
                state.set_remove_stopped_after(after.map(Duration::from_millis));
            }
            if let Some(ms) = patch.concatenation_delay_ms {
                state.set_concatenation_delay(Duration::from_millis(ms));
            }
            if let Some(ms) = patch.pool_updating_delay_ms {
                state.set_pool_updating_delay(Duration::from_millis(ms));
            }
            if let Some(ms) = patch.pool_deleting_delay_ms {
                state.set_pool_deleting_delay(Duration::from_millis(ms));
            }
            if let Some(on) = patch.events {
                state.set_events(on);
            }
            plain(StatusCode::NO_CONTENT, None)
        }),
        _ => Err(plain(
            StatusCode::NOT_FOUND,
            Some(&json!({ "message": format!("no admin route {method} {PREFIX}{path}") })),
        )),
    };
    result.unwrap_or_else(|response| response)
}
