//! The emulated service's state and the semantics of each operation.
//!
//! All regions live in one store; every lookup filters on the region the
//! request was signed for, which keeps regions independent.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{ApiError, ApiResult, ErrorKind};
use super::events::{self, Change, Subject};
use super::model::{CreatePipelineInput, CreatePoolInput, Spec, Tags, bucket_name};
use super::queue::Queue;
use super::{
    CallRecord, EmulatorConfig, EventChaos, Fault, FaultKind, PipelineRecord, PoolRecord, Trigger,
};

/// Page size when the caller gives no `MaxResults`.
const DEFAULT_PAGE: usize = 100;
const US_EAST_1_LIMIT: usize = 100;
const OTHER_REGION_LIMIT: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PipelineStatus {
    Initializing,
    InProgress,
    Stopping,
    Stopped,
    Failed,
}

impl PipelineStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "Initializing",
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Stopped => "Stopped",
            Self::Failed => "Failed",
        }
    }

    /// Only running pipelines count against the limit: the slot of an ended
    /// meeting's pipeline is free from the moment it starts stopping (tests
    /// end a meeting and create the next pipeline right away).
    fn is_active(self) -> bool {
        matches!(self, Self::Initializing | Self::InProgress)
    }
}

/// When the current status began, on both clocks: the monotonic one decides
/// when a timed phase is over, the wall clock dates the change
/// (`UpdatedTimestamp`).
#[derive(Clone, Copy, Debug)]
struct Since {
    at: Instant,
    ts: Timestamp,
}

impl Since {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            ts: Timestamp::now(),
        }
    }

    /// Ends a phase that lasts `delay` if it is over by `now`, and returns
    /// when it ended: the moment the change happened, not the (later) moment
    /// a read noticed it, so that timestamps do not depend on who looks when.
    fn end_if_over(&mut self, delay: Duration, now: Instant) -> Option<Timestamp> {
        if now.duration_since(self.at) < delay {
            return None;
        }
        self.at = self.at.checked_add(delay).unwrap_or(now);
        self.ts = self.ts.checked_add(delay).unwrap_or(self.ts);
        Some(self.ts)
    }
}

#[derive(Clone, Debug)]
struct Pipeline {
    id: String,
    arn: String,
    region: String,
    token: Option<String>,
    /// A stream, capture or concatenation pipeline, as asked for.
    spec: Spec,
    tags: Tags,
    status: PipelineStatus,
    since: Since,
    created: Timestamp,
    updated: Timestamp,
    deleted: bool,
    removed_by_aws: bool,
    /// Its `MediaPipelineDeleted` moment has come (it stopped, or was
    /// deleted or removed): there is one such event per pipeline.
    gone: bool,
}

impl Pipeline {
    /// A change of this pipeline, for its event.
    fn change(&self, event_type: &'static str, at: Timestamp) -> Change {
        Change {
            at,
            region: self.region.clone(),
            event_type,
            subject: Subject::Pipeline {
                id: self.id.clone(),
                meeting_id: self
                    .spec
                    .meetings()
                    .first()
                    .map(|m| events::meeting_id(m).to_owned()),
            },
        }
    }

    /// The `MediaPipelineDeleted` change, the first time it is due.
    fn gone_now(&mut self, at: Timestamp) -> Option<Change> {
        if self.gone {
            return None;
        }
        self.gone = true;
        Some(self.change(events::PIPELINE_DELETED, at))
    }
}

impl Spec {
    /// The member that holds such a pipeline in the create's answer and in
    /// GetMediaPipeline's `MediaPipeline`; also names the kind in records.
    fn member(&self) -> &'static str {
        match self {
            Self::Stream { .. } => "MediaStreamPipeline",
            Self::Capture(_) => "MediaCapturePipeline",
            Self::Concatenation(_) => "MediaConcatenationPipeline",
        }
    }

    /// What the active-pipeline limit counts, in its message.
    fn noun(&self) -> &'static str {
        match self {
            Self::Stream { .. } => "media pipelines",
            Self::Capture(_) => "media capture pipelines",
            Self::Concatenation(_) => "media concatenation pipelines",
        }
    }

    /// The meetings that feed it: when one ends, it stops. A concatenation
    /// pipeline reads a capture pipeline's artifacts, no meeting.
    fn meetings(&self) -> Vec<&str> {
        match self {
            Self::Stream { sources, .. } => sources.iter().map(|s| s.source_arn.as_str()).collect(),
            Self::Capture(c) => vec![c.source_arn.as_str()],
            Self::Concatenation(_) => Vec::new(),
        }
    }

    /// Its sources' ARNs: meetings, or the capture pipeline concatenated.
    fn source_arns(&self) -> Vec<&str> {
        match self {
            Self::Concatenation(c) => vec![c.capture_arn.as_str()],
            _ => self.meetings(),
        }
    }

    fn sink_arns(&self) -> Vec<&str> {
        match self {
            Self::Stream { sinks, .. } => sinks.iter().map(|s| s.sink_arn.as_str()).collect(),
            Self::Capture(c) => vec![c.sink_arn.as_str()],
            Self::Concatenation(c) => vec![c.destination.as_str()],
        }
    }

    /// Its own members in the service's answers, beside the common ones.
    fn members(&self) -> Map<String, Value> {
        let own = match self {
            Self::Stream { sources, sinks } => json!({
                "Sources": sources.iter().map(|s| json!({
                    "SourceType": s.source_type,
                    "SourceArn": s.source_arn,
                })).collect::<Vec<_>>(),
                "Sinks": sinks.iter().map(|s| json!({
                    "SinkArn": s.sink_arn,
                    "SinkType": s.sink_type,
                    "ReservedStreamCapacity": s.reserved_stream_capacity,
                    "MediaStreamType": s.media_stream_type,
                })).collect::<Vec<_>>(),
            }),
            Self::Capture(c) => {
                let mut own = c.echoed.clone();
                for (name, value) in [
                    ("SourceType", &c.source_type),
                    ("SourceArn", &c.source_arn),
                    ("SinkType", &c.sink_type),
                    ("SinkArn", &c.sink_arn),
                ] {
                    own.insert(name.to_owned(), value.as_str().into());
                }
                Value::Object(own)
            }
            Self::Concatenation(c) => json!({ "Sources": c.sources, "Sinks": c.sinks }),
        };
        match own {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PoolStatus {
    Creating,
    Active,
    Updating,
    Deleting,
    Failed,
}

impl PoolStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
            Self::Deleting => "DELETING",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug)]
struct Pool {
    id: String,
    arn: String,
    name: String,
    region: String,
    token: Option<String>,
    stream_region: String,
    data_retention_in_hours: Option<i32>,
    tags: Tags,
    status: PoolStatus,
    since: Since,
    created: Timestamp,
    updated: Timestamp,
    deleted: bool,
}

impl Pool {
    fn change(&self, event_type: &'static str, at: Timestamp) -> Change {
        Change {
            at,
            region: self.region.clone(),
            event_type,
            subject: Subject::Pool {
                arn: self.arn.clone(),
            },
        }
    }
}

/// An idempotency token's first request, and what it created.
#[derive(Debug)]
struct TokenUse {
    fingerprint: Value,
    index: usize,
}

#[derive(Debug)]
pub(crate) struct State {
    started: Instant,
    initializing_delay: Duration,
    stopping_delay: Duration,
    remove_stopped_after: Option<Duration>,
    concatenation_delay: Duration,
    pool_updating_delay: Duration,
    pool_deleting_delay: Duration,
    region_limits: HashMap<String, usize>,
    account_id: String,
    require_existing_pools: bool,
    pipelines: Vec<Pipeline>,
    pools: Vec<Pool>,
    /// By region, operation (the pipeline kind's member) and token.
    pipeline_tokens: HashMap<(String, &'static str, String), TokenUse>,
    pool_tokens: HashMap<(String, String), TokenUse>,
    missing_meetings: HashSet<String>,
    /// Buckets (by name) whose policy does not let Chime write: captures and
    /// concatenations into them are refused.
    inaccessible_buckets: HashSet<String>,
    /// Meeting ARNs ended by [`State::end_meeting`]: GetMeeting answers
    /// NotFound for them, as AWS does once a meeting ended.
    ended_meetings: HashSet<String>,
    faults: Vec<Fault>,
    calls: Vec<CallRecord>,
    /// Whether Chime's events are published into `queue`.
    events: bool,
    queue: Queue,
}

/// ISO-8601 with milliseconds, as the service sends it.
pub(crate) fn iso(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn merge_tags(into: &mut Tags, tags: &Tags) {
    for (key, value) in tags {
        match into.iter_mut().find(|(k, _)| k == key) {
            Some(existing) => existing.1.clone_from(value),
            None => into.push((key.clone(), value.clone())),
        }
    }
}

fn tags_json(tags: &Tags) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

/// `NextToken` is the offset of the next item; opaque to callers.
fn page<T>(
    items: Vec<T>,
    next_token: Option<&str>,
    max: Option<usize>,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::bad_request("NextToken is invalid"))?,
    };
    let size = max.unwrap_or(DEFAULT_PAGE);
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let next = (end < total).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

impl State {
    pub(crate) fn new(config: EmulatorConfig, started: Instant) -> Self {
        Self {
            started,
            initializing_delay: config.initializing_delay,
            stopping_delay: config.stopping_delay,
            remove_stopped_after: config.remove_stopped_after,
            concatenation_delay: config.concatenation_delay,
            pool_updating_delay: config.pool_updating_delay,
            pool_deleting_delay: config.pool_deleting_delay,
            region_limits: config.region_limits,
            queue: Queue::new(config.account_id.clone()),
            events: config.events,
            account_id: config.account_id,
            require_existing_pools: config.require_existing_pools,
            pipelines: Vec::new(),
            pools: Vec::new(),
            pipeline_tokens: HashMap::new(),
            pool_tokens: HashMap::new(),
            missing_meetings: HashSet::new(),
            inaccessible_buckets: HashSet::new(),
            ended_meetings: HashSet::new(),
            faults: Vec::new(),
            calls: Vec::new(),
        }
    }

    // ----- administration -------------------------------------------------

    pub(crate) fn set_initializing_delay(&mut self, delay: Duration) {
        self.initializing_delay = delay;
    }

    pub(crate) fn set_stopping_delay(&mut self, delay: Duration) {
        self.stopping_delay = delay;
    }

    pub(crate) fn set_remove_stopped_after(&mut self, after: Option<Duration>) {
        self.remove_stopped_after = after;
    }

    pub(crate) fn set_concatenation_delay(&mut self, delay: Duration) {
        self.concatenation_delay = delay;
    }

    /// Marks a bucket (by name, or an S3 ARN naming it) as one whose policy
    /// does not let Chime write, or lifts that.
    pub(crate) fn set_bucket_inaccessible(&mut self, bucket: &str, inaccessible: bool) {
        let bucket = bucket_name(bucket);
        if inaccessible {
            self.inaccessible_buckets.insert(bucket);
        } else {
            self.inaccessible_buckets.remove(&bucket);
        }
    }

    pub(crate) fn set_pool_updating_delay(&mut self, delay: Duration) {
        self.pool_updating_delay = delay;
    }

    pub(crate) fn set_pool_deleting_delay(&mut self, delay: Duration) {
        self.pool_deleting_delay = delay;
    }

    pub(crate) fn set_region_limit(&mut self, region: &str, limit: usize) {
        self.region_limits.insert(region.to_owned(), limit);
    }

    pub(crate) fn set_require_existing_pools(&mut self, require: bool) {
        self.require_existing_pools = require;
    }

    /// Moves every live, running pipeline that `pick` selects to `status`;
    /// returns how many.
    /// A failed one is announced (`MediaPipelinePermanentFailure`).
    fn move_running(&mut self, status: PipelineStatus, pick: impl Fn(&Pipeline) -> bool) -> usize {
        self.refresh();
        let mut moved = 0;
        let mut changes = Vec::new();
        for p in &mut self.pipelines {
            if !p.deleted && p.status.is_active() && pick(p) {
                p.status = status;
                p.since = Since::now();
                p.updated = p.since.ts;
                moved += 1;
                if status == PipelineStatus::Failed {
                    changes.push(p.change(events::PIPELINE_PERMANENT_FAILURE, p.updated));
                }
            }
        }
        self.emit(changes);
        moved
    }

    pub(crate) fn end_meeting(&mut self, meeting_arn: &str) -> usize {
        if self.ended_meetings.insert(meeting_arn.to_owned()) {
            // The region of the meeting's ARN; a bare ID gets the region
            // of the pipelines it feeds, else us-east-1.
            let region = events::arn_region(meeting_arn)
                .map(str::to_owned)
                .or_else(|| {
                    self.pipelines
                        .iter()
                        .find(|p| p.spec.meetings().contains(&meeting_arn))
                        .map(|p| p.region.clone())
                })
                .unwrap_or_else(|| "us-east-1".to_owned());
            self.emit(vec![Change {
                at: Timestamp::now(),
                region,
                event_type: events::MEETING_ENDED,
                subject: Subject::Meeting {
                    id: events::meeting_id(meeting_arn).to_owned(),
                },
            }]);
        }
        let stopping = self.move_running(PipelineStatus::Stopping, |p| {
            p.spec.meetings().contains(&meeting_arn)
        });
        // A zero stopping delay stops them at once.
        self.refresh();
        stopping
    }

    pub(crate) fn fail_pool(&mut self, identifier: &str) -> usize {
        self.refresh();
        let mut failed = 0;
        let mut changes = Vec::new();
        for p in &mut self.pools {
            let named = p.name == identifier || p.id == identifier || p.arn == identifier;
            // A delete already under way wins: the pool goes anyway.
            if named && !p.deleted && p.status != PoolStatus::Deleting {
                p.status = PoolStatus::Failed;
                p.since = Since::now();
                p.updated = p.since.ts;
                failed += 1;
                changes.push(p.change(events::POOL_PERMANENT_FAILURE, p.updated));
            }
        }
        self.emit(changes);
        failed
    }

    /// Makes every live pipeline fed by the meeting `Failed`, as AWS does
    /// when a pipeline breaks; returns how many.
    pub(crate) fn fail_meeting_pipelines(&mut self, meeting_arn: &str) -> usize {
        self.move_running(PipelineStatus::Failed, |p| {
            p.spec.meetings().contains(&meeting_arn)
        })
    }

    /// Makes the live pipeline with this ID or ARN (any kind, any region)
    /// `Failed` if it is running; returns how many.
    pub(crate) fn fail_pipeline(&mut self, identifier: &str) -> usize {
        self.move_running(PipelineStatus::Failed, |p| {
            p.id.eq_ignore_ascii_case(identifier) || p.arn == identifier
        })
    }

    /// Announces a temporary failure (`MediaPipelineTemporaryFailure`) of
    /// the live, running pipeline with this ID or ARN; its status stays:
    /// AWS recovers from such failures on its own. Returns how many.
    pub(crate) fn fail_pipeline_temporarily(&mut self, identifier: &str) -> usize {
        self.refresh();
        let now = Timestamp::now();
        let changes: Vec<Change> = self
            .pipelines
            .iter()
            .filter(|p| {
                !p.deleted
                    && p.status.is_active()
                    && (p.id.eq_ignore_ascii_case(identifier) || p.arn == identifier)
            })
            .map(|p| p.change(events::PIPELINE_TEMPORARY_FAILURE, now))
            .collect();
        let count = changes.len();
        self.emit(changes);
        count
    }

    // ----- events and their queue -------------------------------------------

    /// Publishes the changes' events, oldest first, if events are on.
    fn emit(&mut self, mut changes: Vec<Change>) {
        if !self.events {
            return;
        }
        changes.sort_by_key(|c| c.at);
        for change in changes {
            let event = change.event(&self.account_id);
            self.queue.publish(change.event_type, event);
        }
    }

    /// The event queue, with every change up to now published into it.
    pub(crate) fn queue(&mut self) -> &mut Queue {
        self.refresh();
        &mut self.queue
    }

    /// Switches below first publish what happened so far under the old
    /// setting: a switch acts from the moment it is thrown.
    pub(crate) fn set_events(&mut self, on: bool) {
        self.refresh();
        self.events = on;
    }

    pub(crate) fn set_event_chaos(&mut self, chaos: EventChaos) {
        self.queue().set_chaos(chaos);
    }

    pub(crate) fn set_queue_available(&mut self, available: bool) {
        self.queue().set_available(available);
    }

    pub(crate) fn mark_meeting_missing(&mut self, meeting_arn: &str) {
        self.missing_meetings.insert(meeting_arn.to_owned());
    }

    pub(crate) fn inject(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub(crate) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    /// Which injected faults hit this call: the summed latency, and the first
    /// fault that replaces the answer. `Next` budgets are only spent by faults
    /// that actually fire.
    pub(crate) fn take_faults(&mut self, operation: &str) -> (Duration, Option<FaultKind>) {
        let mut latency = Duration::ZERO;
        let mut outcome = None;
        for fault in &mut self.faults {
            if outcome.is_some() {
                break;
            }
            if fault.operation.as_deref().is_some_and(|op| op != operation) {
                continue;
            }
            let fires = match &mut fault.trigger {
                Trigger::Next(0) => false,
                Trigger::Next(n) => {
                    *n -= 1;
                    true
                }
                Trigger::Probability(p) => rand::random::<f64>() < *p,
            };
            if !fires {
                continue;
            }
            match fault.kind {
                FaultKind::Latency(d) => latency += d,
                other => outcome = Some(other),
            }
        }
        self.faults
            .retain(|f| !matches!(f.trigger, Trigger::Next(0)));
        (latency, outcome)
    }

    pub(crate) fn record_call(&mut self, call: CallRecord) {
        self.calls.push(call);
    }

    pub(crate) fn elapsed_ms(&self, at: Instant) -> u64 {
        u64::try_from(at.duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn calls(&self) -> Vec<CallRecord> {
        self.calls.clone()
    }

    pub(crate) fn call_count(&self, operation: &str) -> usize {
        self.calls
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    pub(crate) fn pipeline_records(&mut self) -> Vec<PipelineRecord> {
        self.refresh();
        self.pipelines
            .iter()
            .map(|p| PipelineRecord {
                id: p.id.clone(),
                arn: p.arn.clone(),
                region: p.region.clone(),
                kind: p.spec.member().to_owned(),
                client_request_token: p.token.clone(),
                source_arns: p
                    .spec
                    .source_arns()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                sink_arns: p.spec.sink_arns().into_iter().map(str::to_owned).collect(),
                tags: p.tags.clone(),
                status: p.status.as_str().to_owned(),
                deleted: p.deleted,
                removed_by_aws: p.removed_by_aws,
                created_at: iso(p.created),
            })
            .collect()
    }

    pub(crate) fn pool_records(&mut self) -> Vec<PoolRecord> {
        self.refresh();
        self.pools
            .iter()
            .map(|p| PoolRecord {
                id: p.id.clone(),
                arn: p.arn.clone(),
                name: p.name.clone(),
                region: p.region.clone(),
                client_request_token: p.token.clone(),
                data_retention_in_hours: p.data_retention_in_hours,
                status: p.status.as_str().to_owned(),
                deleted: p.deleted,
                tags: p.tags.clone(),
            })
            .collect()
    }

    // ----- lifecycle --------------------------------------------------------

    /// Applies the time-driven transitions lazily: whatever reads the state
    /// sees what a real pipeline or pool would have become by now. Phases
    /// are checked in lifecycle order, so one read can pass several (a
    /// pipeline can have stopped and been removed since the last look).
    /// Each phase lasts the delay configured when it is checked.
    ///
    /// Each change is announced with the time it happened; a pipeline
    /// deleted meanwhile goes on changing in its record, silently.
    fn refresh(&mut self) {
        let now = Instant::now();
        let mut changes = Vec::new();
        for p in &mut self.pipelines {
            let live = !p.deleted;
            if p.status == PipelineStatus::Initializing
                && let Some(at) = p.since.end_if_over(self.initializing_delay, now)
            {
                p.status = PipelineStatus::InProgress;
                p.updated = at;
                if live {
                    changes.push(p.change(events::PIPELINE_IN_PROGRESS, at));
                }
            }
            // A concatenation stops on its own once its work is done.
            if p.status == PipelineStatus::InProgress
                && matches!(p.spec, Spec::Concatenation(_))
                && let Some(at) = p.since.end_if_over(self.concatenation_delay, now)
            {
                p.status = PipelineStatus::Stopped;
                p.updated = at;
                changes.extend(p.gone_now(at));
            }
            if p.status == PipelineStatus::Stopping
                && let Some(at) = p.since.end_if_over(self.stopping_delay, now)
            {
                p.status = PipelineStatus::Stopped;
                p.updated = at;
                changes.extend(p.gone_now(at));
            }
            if p.status == PipelineStatus::Stopped
                && !p.deleted
                && let Some(after) = self.remove_stopped_after
                && let Some(at) = p.since.end_if_over(after, now)
            {
                p.deleted = true;
                p.removed_by_aws = true;
                p.updated = at;
                changes.extend(p.gone_now(at));
            }
        }
        for p in &mut self.pools {
            let (delay, next) = match p.status {
                PoolStatus::Creating => (self.initializing_delay, PoolStatus::Active),
                PoolStatus::Updating => (self.pool_updating_delay, PoolStatus::Active),
                // The record keeps the last status the service showed.
                PoolStatus::Deleting if !p.deleted => (self.pool_deleting_delay, p.status),
                _ => continue,
            };
            if let Some(at) = p.since.end_if_over(delay, now) {
                let event_type = match p.status {
                    PoolStatus::Creating => events::POOL_ACTIVE,
                    PoolStatus::Updating => events::POOL_UPDATED,
                    _ => events::POOL_DELETED,
                };
                if p.status == PoolStatus::Deleting {
                    p.deleted = true;
                }
                p.status = next;
                p.updated = at;
                changes.push(p.change(event_type, at));
            }
        }
        self.emit(changes);
    }

    fn limit(&self, region: &str) -> usize {
        self.region_limits
            .get(region)
            .copied()
            .unwrap_or(if region == "us-east-1" {
                US_EAST_1_LIMIT
            } else {
                OTHER_REGION_LIMIT
            })
    }

    fn live_pipeline(&mut self, region: &str, id: &str) -> ApiResult<&mut Pipeline> {
        self.pipelines
            .iter_mut()
            .find(|p| !p.deleted && p.region == region && p.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| ApiError::not_found(format!("Media pipeline {id} not found")))
    }

    fn live_pool_index(&self, region: &str, identifier: &str) -> ApiResult<usize> {
        self.pools
            .iter()
            .position(|p| {
                !p.deleted
                    && p.region == region
                    && (p.name == identifier || p.id == identifier || p.arn == identifier)
            })
            .ok_or_else(|| {
                ApiError::not_found(format!("Kinesis video stream pool {identifier} not found"))
            })
    }

    // ----- pipelines --------------------------------------------------------

    /// The pipeline in its kind's member: `{"MediaStreamPipeline": {..}}`,
    /// as the create answers it and GetMediaPipeline's `MediaPipeline`
    /// holds it.
    fn pipeline_json(p: &Pipeline) -> Value {
        let mut body = p.spec.members();
        for (name, value) in [
            ("MediaPipelineId", p.id.clone()),
            ("MediaPipelineArn", p.arn.clone()),
            ("CreatedTimestamp", iso(p.created)),
            ("UpdatedTimestamp", iso(p.updated)),
            ("Status", p.status.as_str().to_owned()),
        ] {
            body.insert(name.to_owned(), value.into());
        }
        json!({ p.spec.member(): body })
    }

    /// A bucket marked inaccessible: refused as AWS refuses a bucket whose
    /// policy does not let Chime write into it.
    fn check_bucket(&self, bucket: &str, sink_arn: &str) -> ApiResult<()> {
        if self.inaccessible_buckets.contains(bucket) {
            return Err(ApiError::bad_request(format!(
                "S3 Bucket policy not valid/present for Sink {sink_arn}"
            )));
        }
        Ok(())
    }

    /// What a new pipeline needs beyond a valid request: its meetings not
    /// missing, its sinks usable, the capture pipeline it concatenates.
    fn admit(&self, region: &str, spec: &Spec) -> ApiResult<()> {
        if let Some(missing) = spec
            .meetings()
            .into_iter()
            .find(|m| self.missing_meetings.contains(*m))
        {
            let message = format!("Meeting {missing} not found");
            // NotFoundException is among the stream create's errors in the
            // model, not among the capture create's.
            return Err(match spec {
                Spec::Stream { .. } => ApiError::not_found(message),
                _ => ApiError::bad_request(message),
            });
        }
        match spec {
            Spec::Stream { sinks, .. } if self.require_existing_pools => {
                for (i, sink) in sinks.iter().enumerate() {
                    let exists = self
                        .pools
                        .iter()
                        .any(|p| !p.deleted && p.region == region && p.arn == sink.sink_arn);
                    if !exists {
                        return Err(ApiError::bad_request(format!(
                            "Sinks[{i}].SinkArn {} is not an existing Kinesis video stream pool",
                            sink.sink_arn
                        )));
                    }
                }
                Ok(())
            }
            Spec::Stream { .. } => Ok(()),
            Spec::Capture(c) => self.check_bucket(&c.bucket, &c.sink_arn),
            Spec::Concatenation(c) => {
                let source = self
                    .pipelines
                    .iter()
                    .find(|p| !p.deleted && p.region == region && p.arn == c.capture_arn);
                match source.map(|p| &p.spec) {
                    Some(Spec::Capture(_)) => {}
                    // The model lists no NotFoundException for this
                    // operation: a source that is not there is a bad request.
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "Media capture pipeline {} not found",
                            c.capture_arn
                        )));
                    }
                    Some(_) => {
                        return Err(ApiError::bad_request(format!(
                            "Sources[0].MediaCapturePipelineSourceConfiguration.MediaPipelineArn {} \
                             is not a media capture pipeline",
                            c.capture_arn
                        )));
                    }
                }
                self.check_bucket(&c.bucket, &c.destination)
            }
        }
    }

    /// Creates a pipeline of any kind: idempotent by token (per region and
    /// operation), checked by [`State::admit`], within the region's limit of
    /// active pipelines of its kind.
    pub(crate) fn create_pipeline(
        &mut self,
        region: &str,
        input: CreatePipelineInput,
    ) -> ApiResult<Value> {
        self.refresh();
        let kind = input.spec.member();
        if let Some(token) = &input.token
            && let Some(used) = self
                .pipeline_tokens
                .get(&(region.to_owned(), kind, token.clone()))
        {
            if used.fingerprint != input.fingerprint {
                return Err(ApiError::bad_request(format!(
                    "ClientRequestToken {token} was already used with different parameters"
                )));
            }
            // A replay answers with the pipeline's latest state, even if deleted since.
            return self
                .pipelines
                .get(used.index)
                .map(Self::pipeline_json)
                .ok_or_else(|| {
                    ApiError::new(ErrorKind::ServiceFailure, "idempotency record lost")
                });
        }

        self.admit(region, &input.spec)?;

        let limit = self.limit(region);
        let active = self
            .pipelines
            .iter()
            .filter(|p| {
                !p.deleted && p.region == region && p.status.is_active() && p.spec.member() == kind
            })
            .count();
        if active >= limit {
            return Err(ApiError::new(
                ErrorKind::ResourceLimitExceeded,
                format!(
                    "The limit of {limit} active {} in {region} has been reached",
                    input.spec.noun()
                ),
            ));
        }

        let id = Uuid::new_v4().to_string();
        let now = Timestamp::now();
        let pipeline = Pipeline {
            arn: format!(
                "arn:aws:chime:{region}:{}:media-pipeline/{id}",
                self.account_id
            ),
            id,
            region: region.to_owned(),
            token: input.token.clone(),
            spec: input.spec,
            tags: input.tags,
            status: PipelineStatus::Initializing,
            since: Since {
                at: Instant::now(),
                ts: now,
            },
            created: now,
            updated: now,
            deleted: false,
            removed_by_aws: false,
            gone: false,
        };
        let body = Self::pipeline_json(&pipeline);
        if let Some(token) = input.token {
            let used = TokenUse {
                fingerprint: input.fingerprint,
                index: self.pipelines.len(),
            };
            self.pipeline_tokens
                .insert((region.to_owned(), kind, token), used);
        }
        self.pipelines.push(pipeline);
        Ok(body)
    }

    pub(crate) fn get_pipeline(&mut self, region: &str, id: &str) -> ApiResult<Value> {
        self.refresh();
        let p = self.live_pipeline(region, id)?;
        Ok(json!({ "MediaPipeline": Self::pipeline_json(p) }))
    }

    pub(crate) fn delete_pipeline(&mut self, region: &str, id: &str) -> ApiResult<()> {
        self.refresh();
        let p = self.live_pipeline(region, id)?;
        p.deleted = true;
        p.updated = Timestamp::now();
        let change = p.gone_now(p.updated);
        self.emit(change.into_iter().collect());
        Ok(())
    }

    pub(crate) fn list_pipelines(
        &mut self,
        region: &str,
        next: Option<&str>,
        max: Option<usize>,
    ) -> ApiResult<Value> {
        self.refresh();
        let live: Vec<Value> = self
            .pipelines
            .iter()
            .filter(|p| !p.deleted && p.region == region)
            .map(|p| json!({"MediaPipelineId": p.id, "MediaPipelineArn": p.arn}))
            .collect();
        let (items, next) = page(live, next, max)?;
        let mut body = json!({ "MediaPipelines": items });
        if let (Some(next), Some(map)) = (next, body.as_object_mut()) {
            map.insert("NextToken".into(), next.into());
        }
        Ok(body)
    }

    // ----- meetings (Chime SDK Meetings) ------------------------------------

    /// GetMeeting: NotFound for a meeting ended or marked missing (by the
    /// ID its ARN ends with, in any region); any other ID is a meeting in
    /// progress in the region asked, with the model's members.
    pub(crate) fn get_meeting(&self, region: &str, id: &str) -> ApiResult<Value> {
        let named = |arn: &String| {
            arn.rsplit_once(":meeting/")
                .is_some_and(|(_, m)| m.eq_ignore_ascii_case(id))
        };
        if self
            .ended_meetings
            .iter()
            .chain(&self.missing_meetings)
            .any(named)
        {
            return Err(ApiError::not_found(format!("Meeting {id} not found")));
        }
        // AWS answers GUIDs in lower case.
        let id = id.to_ascii_lowercase();
        let host = format!("{region}.meetings.emulator.invalid");
        Ok(json!({ "Meeting": {
            "MeetingId": id,
            "MediaRegion": region,
            "MediaPlacement": {
                "AudioHostUrl": format!("{host}:3478"),
                "AudioFallbackUrl": format!("wss://{host}:443/calls/{id}"),
                "SignalingUrl": format!("wss://{host}/control/{id}"),
                "EventIngestionUrl": format!("https://{host}/v1/client-events"),
            },
            "MeetingArn": format!("arn:aws:chime:{region}:{}:meeting/{id}", self.account_id),
        }}))
    }

    // ----- tags -------------------------------------------------------------

    fn tags_of(&mut self, region: &str, arn: &str) -> ApiResult<&mut Tags> {
        self.refresh();
        if let Some(p) = self
            .pipelines
            .iter_mut()
            .find(|p| !p.deleted && p.region == region && p.arn == arn)
        {
            return Ok(&mut p.tags);
        }
        if let Some(p) = self
            .pools
            .iter_mut()
            .find(|p| !p.deleted && p.region == region && p.arn == arn)
        {
            return Ok(&mut p.tags);
        }
        Err(ApiError::not_found(format!("Resource {arn} not found")))
    }

    pub(crate) fn tag_resource(&mut self, region: &str, arn: &str, tags: &Tags) -> ApiResult<()> {
        merge_tags(self.tags_of(region, arn)?, tags);
        Ok(())
    }

    pub(crate) fn untag_resource(
        &mut self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> ApiResult<()> {
        self.tags_of(region, arn)?
            .retain(|(k, _)| !keys.contains(k));
        Ok(())
    }

    pub(crate) fn list_tags(&mut self, region: &str, arn: &str) -> ApiResult<Value> {
        let tags = self.tags_of(region, arn)?;
        Ok(json!({ "Tags": tags_json(tags) }))
    }

    // ----- Kinesis video stream pools ---------------------------------------

    fn pool_json(p: &Pool) -> Value {
        let mut stream = json!({ "Region": p.stream_region });
        if let (Some(hours), Some(map)) = (p.data_retention_in_hours, stream.as_object_mut()) {
            map.insert("DataRetentionInHours".into(), hours.into());
        }
        json!({ "KinesisVideoStreamPoolConfiguration": {
            "PoolArn": p.arn,
            "PoolName": p.name,
            "PoolId": p.id,
            "PoolStatus": p.status.as_str(),
            "PoolSize": 0,
            "StreamConfiguration": stream,
            "CreatedTimestamp": iso(p.created),
            "UpdatedTimestamp": iso(p.updated),
        }})
    }

    pub(crate) fn create_pool(&mut self, region: &str, input: CreatePoolInput) -> ApiResult<Value> {
        self.refresh();
        if let Some(token) = &input.token
            && let Some(used) = self.pool_tokens.get(&(region.to_owned(), token.clone()))
        {
            if used.fingerprint != input.fingerprint {
                return Err(ApiError::bad_request(format!(
                    "ClientRequestToken {token} was already used with different parameters"
                )));
            }
            return self
                .pools
                .get(used.index)
                .map(Self::pool_json)
                .ok_or_else(|| {
                    ApiError::new(ErrorKind::ServiceFailure, "idempotency record lost")
                });
        }
        // A pool's name is unique in its Region; the answer names the pool
        // that holds it.
        if let Some(taken) = self
            .pools
            .iter()
            .find(|p| !p.deleted && p.region == region && p.name == input.name)
        {
            return Err(ApiError::conflict(format!(
                "A Kinesis video stream pool named {} already exists: {}",
                input.name, taken.arn
            )));
        }

        let now = Timestamp::now();
        let pool = Pool {
            id: Uuid::new_v4().to_string(),
            arn: format!(
                "arn:aws:chime:{region}:{}:media-pipeline-kinesis-video-stream-pool/{}",
                self.account_id, input.name
            ),
            name: input.name,
            region: region.to_owned(),
            token: input.token.clone(),
            stream_region: input.stream_region,
            data_retention_in_hours: input.data_retention_in_hours,
            tags: input.tags,
            status: PoolStatus::Creating,
            since: Since {
                at: Instant::now(),
                ts: now,
            },
            created: now,
            updated: now,
            deleted: false,
        };
        let body = Self::pool_json(&pool);
        if let Some(token) = input.token {
            let used = TokenUse {
                fingerprint: input.fingerprint,
                index: self.pools.len(),
            };
            self.pool_tokens.insert((region.to_owned(), token), used);
        }
        self.pools.push(pool);
        Ok(body)
    }

    pub(crate) fn get_pool(&mut self, region: &str, identifier: &str) -> ApiResult<Value> {
        self.refresh();
        let index = self.live_pool_index(region, identifier)?;
        self.pools.get(index).map(Self::pool_json).ok_or_else(|| {
            ApiError::not_found(format!("Kinesis video stream pool {identifier} not found"))
        })
    }

    pub(crate) fn update_pool(
        &mut self,
        region: &str,
        identifier: &str,
        retention: Option<i32>,
    ) -> ApiResult<Value> {
        self.refresh();
        let index = self.live_pool_index(region, identifier)?;
        let pool = self.pools.get_mut(index).ok_or_else(|| {
            ApiError::not_found(format!("Kinesis video stream pool {identifier} not found"))
        })?;
        if matches!(pool.status, PoolStatus::Deleting | PoolStatus::Failed) {
            return Err(ApiError::conflict(format!(
                "Kinesis video stream pool {identifier} is {} and cannot be updated",
                pool.status.as_str()
            )));
        }
        if retention.is_some() {
            pool.data_retention_in_hours = retention;
        }
        // The answer already shows the new configuration, with the pool
        // UPDATING until the change has gone through.
        pool.status = PoolStatus::Updating;
        pool.since = Since::now();
        pool.updated = pool.since.ts;
        Ok(Self::pool_json(pool))
    }

    pub(crate) fn delete_pool(&mut self, region: &str, identifier: &str) -> ApiResult<()> {
        self.refresh();
        let index = self.live_pool_index(region, identifier)?;
        let Some((arn, status)) = self.pools.get(index).map(|p| (p.arn.clone(), p.status)) else {
            return Err(ApiError::not_found(format!(
                "Kinesis video stream pool {identifier} not found"
            )));
        };
        // Deleting again while DELETING is accepted and changes nothing: a
        // client retrying a delete whose answer it lost must not read a
        // conflict (which means "in use").
        if status == PoolStatus::Deleting {
            return Ok(());
        }
        let in_use = self.pipelines.iter().any(|p| {
            !p.deleted && p.region == region && p.spec.sink_arns().contains(&arn.as_str())
        });
        if in_use {
            return Err(ApiError::conflict(format!(
                "Kinesis video stream pool {identifier} is in use by a media pipeline"
            )));
        }
        // Gone (and its record deleted) once DELETING is over; see refresh.
        if let Some(pool) = self.pools.get_mut(index) {
            pool.status = PoolStatus::Deleting;
            pool.since = Since::now();
            pool.updated = pool.since.ts;
        }
        self.refresh();
        Ok(())
    }

    pub(crate) fn list_pools(
        &mut self,
        region: &str,
        next: Option<&str>,
        max: Option<usize>,
    ) -> ApiResult<Value> {
        self.refresh();
        let live: Vec<Value> = self
            .pools
            .iter()
            .filter(|p| !p.deleted && p.region == region)
            .map(|p| json!({"PoolName": p.name, "PoolId": p.id, "PoolArn": p.arn}))
            .collect();
        let (items, next) = page(live, next, max)?;
        let mut body = json!({ "KinesisVideoStreamPools": items });
        if let (Some(next), Some(map)) = (next, body.as_object_mut()) {
            map.insert("NextToken".into(), next.into());
        }
        Ok(body)
    }
}
