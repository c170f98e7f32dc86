//! What every reconcile shares, for both kinds: the clients, the settings,
//! the metrics, and the in-memory failure and read bookkeeping (by UID).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use tracing::warn;

use crate::aws::{Aws, Listed};
use crate::config::{Config, Settings};
use crate::crd::Tag;
use crate::decide;
use crate::error::{Error, Retry};
use crate::metrics::Metrics;

/// A failure streak of one resource, kept in memory: it only spaces retries.
struct Failures {
    generation: Option<i64>,
    count: u32,
    not_before: Instant,
}

pub struct Context {
    pub client: Client,
    pub aws: Aws,
    pub config: Config,
    pub metrics: Arc<Metrics>,
    recorder: Recorder,
    failures: Mutex<HashMap<String, Failures>>,
    last_read: Mutex<HashMap<String, Instant>>,
    /// `--max-concurrent-reconciles` for the whole operator: each
    /// controller (one per kind) bounds only its own.
    pub slots: tokio::sync::Semaphore,
    /// The last listing of this installation's objects, per kind and
    /// region: see [`Context::owned_listing`].
    owned: Mutex<HashMap<(&'static str, String), OwnedSlot>>,
    /// Whether events flow, and the resources they woke.
    pub events: EventFlow,
}

/// What the event queue's reader tells the reconciles: whether events flow
/// (then objects at rest are read less often), and when the event that
/// woke a resource happened (for the lag, event to status).
#[derive(Default)]
pub struct EventFlow {
    last_receive: Mutex<Option<Instant>>,
    last_event: Mutex<Option<Instant>>,
    /// Resources an event named, whose next reconcile reads AWS.
    due: Mutex<HashSet<String>>,
    woken: Mutex<HashMap<String, jiff::Timestamp>>,
}

/// How long after the queue last answered events still count as flowing:
/// more than one long poll (20 s) and its retry.
const QUEUE_ANSWERED_WITHIN: Duration = Duration::from_secs(60);

impl EventFlow {
    /// The queue answered a receive, with `events` messages.
    pub fn answered(&self, events: usize) {
        let now = Instant::now();
        if let Ok(mut last) = self.last_receive.lock() {
            *last = Some(now);
        }
        if events > 0
            && let Ok(mut last) = self.last_event.lock()
        {
            *last = Some(now);
        }
    }

    /// Whether events flow: the queue answers, and an event came within
    /// `silence`.
    pub fn flowing(&self, silence: Duration) -> bool {
        let within = |m: &Mutex<Option<Instant>>, d: Duration| {
            m.lock()
                .ok()
                .and_then(|t| *t)
                .is_some_and(|t| t.elapsed() < d)
        };
        within(&self.last_receive, QUEUE_ANSWERED_WITHIN) && within(&self.last_event, silence)
    }

    /// Whether an event named `uid` since its last read (then it reads
    /// now, whatever its interval); asking clears it.
    pub fn due(&self, uid: &str) -> bool {
        self.due.lock().is_ok_and(|mut due| due.remove(uid))
    }

    /// Takes when the event that woke `uid` happened, if one did.
    pub fn take(&self, uid: &str) -> Option<jiff::Timestamp> {
        self.woken.lock().ok()?.remove(uid)
    }
}

/// This installation's objects of one kind in one region, by the UID they
/// were made for.
pub type Owned = Arc<HashMap<String, Listed>>;
type OwnedSlot = Arc<tokio::sync::Mutex<Option<(Instant, Owned)>>>;

impl Context {
    pub fn new(
        client: Client,
        aws: Aws,
        config: Config,
        metrics: Arc<Metrics>,
        recorder: Recorder,
    ) -> Context {
        Context {
            client,
            aws,
            metrics,
            recorder,
            failures: Mutex::default(),
            last_read: Mutex::default(),
            slots: tokio::sync::Semaphore::new(config.max_concurrent_reconciles.max(1) as usize),
            owned: Mutex::default(),
            events: EventFlow::default(),
            config,
        }
    }

    /// The timings of a reconcile now: while events flow, objects at rest
    /// are read at the events' (longer) interval.
    pub fn settings(&self) -> Settings {
        let mut settings = self.config.settings;
        if let Some(events) = &self.config.events
            && self.events.flowing(events.silence)
        {
            settings.refresh_interval = events.refresh_interval.max(settings.refresh_interval);
        }
        settings
    }

    /// An event named this resource: its next reconcile reads AWS, whatever
    /// its read interval; `at` is when the change happened.
    pub fn woken(&self, uid: &str, at: Option<jiff::Timestamp>) {
        if let Ok(mut due) = self.events.due.lock() {
            due.insert(uid.to_string());
        }
        if let (Some(at), Ok(mut map)) = (at, self.events.woken.lock()) {
            map.insert(uid.to_string(), at);
        }
    }

    /// Time left before this resource may call AWS again after a failure; a
    /// changed spec lifts the wait.
    pub fn held_back(&self, uid: &str, generation: Option<i64>) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let f = map.get(uid)?;
        if f.generation != generation {
            return None;
        }
        f.not_before.checked_duration_since(Instant::now())
    }

    /// Records a failure and returns how long to wait before the next try.
    pub fn failed(&self, uid: &str, generation: Option<i64>, retry: Retry) -> Duration {
        let backoff = self.config.settings.backoff;
        let Ok(mut map) = self.failures.lock() else {
            return backoff.base;
        };
        let entry = map.entry(uid.to_string()).or_insert(Failures {
            generation,
            count: 0,
            not_before: Instant::now(),
        });
        entry.count = if entry.generation == generation {
            entry.count + 1
        } else {
            1
        };
        entry.generation = generation;
        let delay = backoff.delay(retry, entry.count, rand::random::<f64>());
        entry.not_before = Instant::now() + delay;
        delay
    }

    pub fn succeeded(&self, uid: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(uid);
        }
    }

    pub fn since_last_read(&self, uid: &str) -> Option<Duration> {
        self.last_read.lock().ok()?.get(uid).map(|t| t.elapsed())
    }

    pub fn mark_read(&self, uid: &str) {
        self.mark_read_ago(uid, Duration::ZERO);
    }

    pub fn mark_read_ago(&self, uid: &str, ago: Duration) {
        if let Ok(mut map) = self.last_read.lock() {
            let at = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
            map.insert(uid.to_string(), at);
        }
    }

    /// This installation's objects of `kind` in `region`, by UID, from
    /// `list` (a List and a tag read per object: costly). Callers at the
    /// same moment share one listing: one that was still under way when a
    /// caller asked serves it, since what it looks for (an object an
    /// earlier create of its resource made) was made before it asked.
    pub async fn owned_listing<F, Fut>(
        &self,
        kind: &'static str,
        region: &str,
        list: F,
    ) -> Result<Owned, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<HashMap<String, Listed>, Error>>,
    {
        let asked = Instant::now();
        let slot = match self.owned.lock() {
            Ok(mut map) => map.entry((kind, region.to_string())).or_default().clone(),
            Err(_) => OwnedSlot::default(),
        };
        let mut last = slot.lock().await;
        if let Some((ended, owned)) = last.as_ref()
            && *ended >= asked
        {
            return Ok(owned.clone());
        }
        let owned: Owned = Arc::new(list().await?);
        *last = Some((Instant::now(), owned.clone()));
        Ok(owned)
    }

    /// Drops everything kept about a resource of `kind` (its Kubernetes
    /// kind) that is gone.
    pub fn forget(&self, kind: &str, uid: &str) {
        self.succeeded(uid);
        if let Ok(mut map) = self.last_read.lock() {
            map.remove(uid);
        }
        self.metrics.remote_status(kind, uid, None);
    }

    /// Drops everything kept about the resources whose UIDs are not in
    /// `live`: those gone without [`Context::forget`] (see
    /// `controller::prune`).
    pub fn retain(&self, live: &HashSet<String>) {
        retain_keys(&self.failures, live);
        retain_keys(&self.last_read, live);
        retain_keys(&self.events.woken, live);
        if let Ok(mut due) = self.events.due.lock() {
            due.retain(|uid| live.contains(uid));
        }
        self.metrics.retain_resources(live);
    }

    /// The operator's tags, sent with the create: the identity tags, which
    /// never change for a resource, and the deletion policy, which is
    /// visible on the object from its first moment (so that the orphan
    /// sweep never deletes what was to be retained). User tags go on after
    /// the create, so a replay sends the same request unless the policy
    /// changed meanwhile; the object is then found by its identity tags.
    pub fn own_tags<K: Resource>(&self, obj: &K, retain: bool) -> Vec<Tag> {
        let mut own = decide::identity_tags(
            &self.config.cluster_id,
            &obj.namespace().unwrap_or_default(),
            &obj.name_any(),
            &obj.uid().unwrap_or_default(),
        );
        own.push(decide::policy_tag(retain));
        own
    }

    /// Publishes an Event about `obj`, aside: a slow Events API must not hold
    /// a reconcile slot.
    pub fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        let (recorder, reference) = (self.recorder.clone(), obj.object_ref(&()));
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&ev, &reference).await {
                warn!(error = %e, "could not publish event");
            }
        });
    }
}

fn retain_keys<V>(map: &Mutex<HashMap<String, V>>, live: &HashSet<String>) {
    if let Ok(mut map) = map.lock() {
        map.retain(|uid, _| live.contains(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsOptions;
    use kube::runtime::events::Reporter;

    /// A context whose clients point nowhere: nothing here calls them.
    async fn context() -> Context {
        let kube = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(kube).unwrap();
        let metrics = Arc::new(Metrics::default());
        let opts = AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            rate_limit: None,
        };
        let aws = Aws::new(&opts, metrics.clone()).await;
        let recorder = Recorder::new(client.clone(), Reporter::from("test"));
        Context::new(client, aws, Config::default(), metrics, recorder)
    }

    #[tokio::test]
    async fn what_is_kept_of_resources_no_longer_live_is_dropped() {
        let ctx = context().await;
        for uid in ["a", "b"] {
            ctx.failed(uid, Some(1), Retry::Permanent);
            ctx.mark_read(uid);
            ctx.metrics
                .remote_status("MediaStreamPipeline", uid, Some("InProgress"));
        }
        ctx.retain(&HashSet::from(["a".to_string()]));
        assert!(ctx.held_back("a", Some(1)).is_some());
        assert!(ctx.since_last_read("a").is_some());
        assert_eq!(ctx.held_back("b", Some(1)), None);
        assert_eq!(ctx.since_last_read("b"), None);
        let text = ctx.metrics.encode();
        assert!(text.contains(
            r#"chime_operator_managed_resources{kind="MediaStreamPipeline",status="InProgress"} 1"#
        ));
    }

    /// `poll_interval` with settings no validation let through (poll_min
    /// above poll_max) waits poll_max rather than panicking.
    #[test]
    fn poll_waits_survive_inconsistent_settings() {
        let mut settings = Config::default().settings;
        settings.poll_min = Duration::from_secs(20);
        let now = jiff::Timestamp::now();
        let wait = decide::poll_interval(None, &settings, now);
        assert_eq!(wait, settings.poll_max);
    }
}
