//! Prometheus metrics and readiness: one [`Metrics`] per process, made in
//! `main` and handed to the AWS client, the controller and the HTTP server.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    outcome: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindStatusLabels {
    kind: String,
    status: String,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_seconds: Histogram,
    aws_calls: Family<AwsLabels, Counter>,
    aws_seconds: Family<OperationLabel, Histogram>,
    resources: Family<KindStatusLabels, Gauge>,
    leader: Gauge,
    orphans: Family<KindLabel, Gauge>,
    orphans_deleted: Family<KindLabel, Counter>,
    sweep_errors: Family<KindLabel, Counter>,
    invalid: Family<KindLabel, Gauge>,
    /// Objects that do not decode, by kind and watch scope (a namespace, or
    /// "" for all); the gauge is their sum by kind.
    invalid_by_scope: Mutex<HashMap<(String, String), i64>>,
    /// Remote status of each managed resource, by kind name and UID; the
    /// gauge is recounted from it at every scrape.
    statuses: Mutex<HashMap<(String, String), String>>,
    /// Set once every watch has listed its resources (or while standing by
    /// for leadership, which is ready too: it can take over at once).
    ready: AtomicBool,
    pub events: EventMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventTypeLabel {
    event_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// The event queue's metrics (src/controller/events.rs).
pub struct EventMetrics {
    received: Family<EventTypeLabel, Counter>,
    outcomes: Family<OutcomeLabel, Counter>,
    lag: Histogram,
    queue_up: Gauge,
}

impl EventMetrics {
    fn register(registry: &mut Registry) -> EventMetrics {
        let m = EventMetrics {
            received: Family::default(),
            outcomes: Family::default(),
            lag: Histogram::new(exponential_buckets(0.05, 2.0, 12)),
            queue_up: Gauge::default(),
        };
        registry.register(
            "events_received",
            "Events read from the event queue, by event type (\"other\" for types the operator does not know)",
            m.received.clone(),
        );
        registry.register(
            "events",
            "Events by outcome: matched (woke resources), unmatched (named nothing this installation manages), foreign (not a change the operator follows), malformed",
            m.outcomes.clone(),
        );
        registry.register(
            "event_lag_seconds",
            "From an event's time to the status write of a resource it woke",
            m.lag.clone(),
        );
        registry.register(
            "event_queue_up",
            "1 while the event queue answers; 0 while it fails (polling alone then keeps status fresh)",
            m.queue_up.clone(),
        );
        m
    }

    pub fn received(&self, event_type: &str) {
        let label = EventTypeLabel {
            event_type: event_type.into(),
        };
        self.received.get_or_create(&label).inc();
    }

    pub fn outcome(&self, outcome: &str) {
        let label = OutcomeLabel {
            outcome: outcome.into(),
        };
        self.outcomes.get_or_create(&label).inc();
    }

    pub fn lag(&self, took: Duration) {
        self.lag.observe(took.as_secs_f64());
    }

    pub fn queue_up(&self, up: bool) {
        self.queue_up.set(i64::from(up));
    }
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("chime_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by outcome and reason",
            reconciles.clone(),
        );
        let reconcile_seconds = seconds_histogram();
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile takes",
            reconcile_seconds.clone(),
        );
        let aws_calls = Family::<AwsLabels, Counter>::default();
        registry.register(
            "aws_calls",
            "AWS API calls by operation and outcome",
            aws_calls.clone(),
        );
        let aws_seconds = Family::<OperationLabel, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        registry.register(
            "aws_call_duration_seconds",
            "AWS API call latency",
            aws_seconds.clone(),
        );
        let resources = Family::<KindStatusLabels, Gauge>::default();
        registry.register(
            "managed_resources",
            "Managed resources by kind and by the status AWS reports of their object",
            resources.clone(),
        );
        let orphans = Family::<KindLabel, Gauge>::default();
        registry.register(
            "orphans",
            "AWS objects of this installation whose resource is gone, at the last sweep",
            orphans.clone(),
        );
        let orphans_deleted = Family::<KindLabel, Counter>::default();
        registry.register(
            "orphans_deleted",
            "Orphaned AWS objects the sweep deleted",
            orphans_deleted.clone(),
        );
        let sweep_errors = Family::<KindLabel, Counter>::default();
        registry.register(
            "sweep_errors",
            "What a sweep could not judge (a failed List, tag read or delete, by kind; kind \"\" when the resources could not be listed); the rest of the sweep goes on",
            sweep_errors.clone(),
        );
        let invalid = Family::<KindLabel, Gauge>::default();
        registry.register(
            "invalid_objects",
            "Objects the operator cannot read (a field out of its type's range), by kind; each gets an InvalidField Event",
            invalid.clone(),
        );
        let events = EventMetrics::register(&mut registry);
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_seconds,
            aws_calls,
            aws_seconds,
            resources,
            leader,
            orphans,
            orphans_deleted,
            sweep_errors,
            invalid,
            invalid_by_scope: Mutex::default(),
            statuses: Mutex::default(),
            events,
            ready: AtomicBool::new(false),
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, kind: &str, outcome: &str, reason: &str, took: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                kind: kind.into(),
                outcome: outcome.into(),
                reason: reason.into(),
            })
            .inc();
        self.reconcile_seconds.observe(took.as_secs_f64());
    }

    pub fn aws_call(&self, operation: &str, outcome: &str, took: Duration) {
        self.aws_calls
            .get_or_create(&AwsLabels {
                operation: operation.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.aws_seconds
            .get_or_create(&OperationLabel {
                operation: operation.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Records the remote status of a resource of `kind` (its Kubernetes
    /// kind, the label value); None forgets the resource.
    pub fn remote_status(&self, kind: &str, uid: &str, status: Option<&str>) {
        if let Ok(mut map) = self.statuses.lock() {
            let key = (kind.to_string(), uid.to_string());
            match status {
                Some(s) => map.insert(key, s.to_string()),
                None => map.remove(&key),
            };
        }
    }

    /// Forgets the statuses of resources whose UIDs are not in `live`: gone
    /// without the operator's cleanup (see `controller::prune`).
    pub fn retain_resources(&self, live: &HashSet<String>) {
        if let Ok(mut map) = self.statuses.lock() {
            map.retain(|(_, uid), _| live.contains(uid));
        }
    }

    /// Forgets what this replica reported of the cluster and AWS while it
    /// led (each resource's status, the objects that do not decode, the
    /// orphans): the new leader reports them now, and a sum over the
    /// replicas must count each once. Counters stay: they count this
    /// process's own work.
    pub fn lost_lead(&self) {
        if let Ok(mut map) = self.statuses.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.invalid_by_scope.lock() {
            map.clear();
        }
        self.invalid.clear();
        self.orphans.clear();
        self.set_leader(false);
    }

    /// What a sweep found of one kind.
    pub fn orphans(&self, kind: &str, orphans: usize, deleted: usize) {
        let label = KindLabel { kind: kind.into() };
        self.orphans
            .get_or_create(&label)
            .set(i64::try_from(orphans).unwrap_or(i64::MAX));
        self.orphans_deleted
            .get_or_create(&label)
            .inc_by(u64::try_from(deleted).unwrap_or(u64::MAX));
    }

    /// Failures of one sweep, by kind.
    pub fn sweep_errors(&self, kind: &str, errors: usize) {
        let label = KindLabel { kind: kind.into() };
        self.sweep_errors
            .get_or_create(&label)
            .inc_by(u64::try_from(errors).unwrap_or(u64::MAX));
    }

    /// How many objects of `kind` one watch (`scope`) holds that do not
    /// decode.
    pub fn set_invalid(&self, kind: &str, scope: &str, count: usize) {
        let Ok(mut map) = self.invalid_by_scope.lock() else {
            return;
        };
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        map.insert((kind.to_string(), scope.to_string()), count);
        let total: i64 = map
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|(_, n)| n)
            .sum();
        self.invalid
            .get_or_create(&KindLabel { kind: kind.into() })
            .set(total);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        if let Ok(map) = self.statuses.lock() {
            let mut counts: HashMap<(&str, &str), i64> = HashMap::new();
            for ((kind, _), s) in map.iter() {
                *counts.entry((kind.as_str(), s.as_str())).or_default() += 1;
            }
            // Cleared first: a status no resource has any more must vanish,
            // not stay at its last count.
            self.resources.clear();
            for ((kind, status), n) in counts {
                self.resources
                    .get_or_create(&KindStatusLabels {
                        kind: kind.into(),
                        status: status.into(),
                    })
                    .set(n);
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "MediaStreamPipeline";
    const POOL: &str = "MediaPipelineKinesisVideoStreamPool";

    /// Each kind is counted under its own name, whatever its statuses have
    /// in common with another kind's; a status no resource has any more
    /// leaves the exposition.
    #[test]
    fn resources_are_counted_by_kind_and_status() {
        let m = Metrics::default();
        m.remote_status(STREAM, "u1", Some("InProgress"));
        m.remote_status("MediaCapturePipeline", "u2", Some("InProgress"));
        m.remote_status("MediaCapturePipeline", "u3", Some("InProgress"));
        m.remote_status("MediaCapturePipeline", "u4", Some("Stopped"));
        let text = m.encode();
        for needle in [
            r#"chime_operator_managed_resources{kind="MediaStreamPipeline",status="InProgress"} 1"#,
            r#"chime_operator_managed_resources{kind="MediaCapturePipeline",status="InProgress"} 2"#,
            r#"chime_operator_managed_resources{kind="MediaCapturePipeline",status="Stopped"} 1"#,
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        m.remote_status("MediaCapturePipeline", "u4", Some("InProgress"));
        let text = m.encode();
        assert!(!text.contains(r#"status="Stopped""#), "{text}");
        assert!(text.contains(
            r#"chime_operator_managed_resources{kind="MediaCapturePipeline",status="InProgress"} 3"#
        ));
    }

    #[test]
    fn exposition_carries_every_family() {
        let m = Metrics::default();
        m.reconciled(
            "MediaStreamPipeline",
            "success",
            "Synced",
            Duration::from_millis(3),
        );
        m.aws_call(
            "CreateMediaStreamPipeline",
            "success",
            Duration::from_millis(20),
        );
        m.remote_status(STREAM, "u1", Some("InProgress"));
        m.remote_status(STREAM, "u2", Some("InProgress"));
        m.remote_status(STREAM, "u3", Some("Stopped"));
        m.remote_status(STREAM, "u3", None);
        m.remote_status(POOL, "u1", Some("ACTIVE"));
        m.set_leader(true);
        m.set_invalid("MediaPipelineKinesisVideoStreamPool", "a", 2);
        m.set_invalid("MediaPipelineKinesisVideoStreamPool", "b", 1);
        let text = m.encode();
        for needle in [
            r#"chime_operator_reconciles_total{kind="MediaStreamPipeline",outcome="success",reason="Synced"} 1"#,
            r#"chime_operator_aws_calls_total{operation="CreateMediaStreamPipeline",outcome="success"} 1"#,
            r#"chime_operator_managed_resources{kind="MediaStreamPipeline",status="InProgress"} 2"#,
            r#"chime_operator_managed_resources{kind="MediaPipelineKinesisVideoStreamPool",status="ACTIVE"} 1"#,
            "chime_operator_leader 1",
            r#"chime_operator_invalid_objects{kind="MediaPipelineKinesisVideoStreamPool"} 3"#,
            "chime_operator_reconcile_duration_seconds_bucket",
            "chime_operator_aws_call_duration_seconds_bucket",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        assert!(!text.contains(r#"status="Stopped""#));
    }

    #[test]
    fn resources_not_live_are_forgotten() {
        let m = Metrics::default();
        for uid in ["u1", "u2", "u3"] {
            m.remote_status(STREAM, uid, Some("InProgress"));
        }
        m.remote_status(POOL, "u4", Some("ACTIVE"));
        let live: HashSet<String> = ["u1", "u4"].map(String::from).into();
        m.retain_resources(&live);
        let text = m.encode();
        assert!(text.contains(
            r#"chime_operator_managed_resources{kind="MediaStreamPipeline",status="InProgress"} 1"#
        ));
        assert!(text.contains(
            r#"chime_operator_managed_resources{kind="MediaPipelineKinesisVideoStreamPool",status="ACTIVE"} 1"#
        ));
        m.retain_resources(&HashSet::new());
        assert!(!m.encode().contains("chime_operator_managed_resources{"));
    }

    #[test]
    fn a_replica_that_lost_the_lead_reports_none_of_the_cluster() {
        let m = Metrics::default();
        m.set_leader(true);
        m.remote_status(STREAM, "u1", Some("InProgress"));
        m.remote_status(POOL, "u2", Some("ACTIVE"));
        m.set_invalid("MediaStreamPipeline", "a", 2);
        m.orphans("MediaStreamPipeline", 3, 1);
        m.reconciled("MediaStreamPipeline", "success", "Synced", Duration::ZERO);
        m.lost_lead();
        let text = m.encode();
        for gone in [
            "chime_operator_managed_resources{",
            "chime_operator_invalid_objects{",
            "chime_operator_orphans{",
        ] {
            assert!(!text.contains(gone), "{gone} still in:\n{text}");
        }
        for kept in [
            "chime_operator_leader 0",
            r#"chime_operator_orphans_deleted_total{kind="MediaStreamPipeline"} 1"#,
            r#"chime_operator_reconciles_total{kind="MediaStreamPipeline",outcome="success",reason="Synced"} 1"#,
        ] {
            assert!(text.contains(kept), "{kept} missing from:\n{text}");
        }
        // Leading again, it counts afresh.
        m.set_invalid("MediaStreamPipeline", "b", 1);
        assert!(
            m.encode()
                .contains(r#"chime_operator_invalid_objects{kind="MediaStreamPipeline"} 1"#)
        );
    }
}
