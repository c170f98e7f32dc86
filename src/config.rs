//! What the operator is told at start-up: which resources to manage, the
//! defaults it applies, and its timings (refresh, polling, back-off); and
//! the ranges each must lie in, checked before anything starts.

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::crd::DeletionPolicy;
use crate::error::{InvalidSetting, Retry};

#[derive(Debug, Clone)]
pub struct Config {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    pub label_selector: Option<String>,
    /// Most reconciles at once (per kind and watched namespace).
    pub max_concurrent_reconciles: u16,
    pub default_deletion_policy: DeletionPolicy,
    /// This installation's identity, tagged on every AWS object it creates
    /// (by default the kube-system namespace's UID), so that installations
    /// sharing an AWS account never touch each other's objects.
    pub cluster_id: String,
    pub sweep: Sweep,
    /// How long a finished resource is kept, unless it says otherwise;
    /// None keeps it.
    pub ttl_after_finished: Option<Duration>,
    pub settings: Settings,
    /// The optional event queue; None: polling alone.
    pub events: Option<Events>,
}

/// The event queue (an SQS queue an EventBridge rule fills with Chime SDK's
/// state changes) and how polling relaxes while events flow.
#[derive(Debug, Clone)]
pub struct Events {
    pub queue_url: String,
    /// How often an object at rest is re-read while events flow (instead
    /// of `Settings::refresh_interval`): polling is the safety net.
    pub refresh_interval: Duration,
    /// Events count as flowing while one arrived within this long (and the
    /// queue answers); past it polling tightens back, in case the rule or
    /// the queue's policy broke.
    pub silence: Duration,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            queue_url: String::new(),
            refresh_interval: Duration::from_secs(30 * 60),
            silence: Duration::from_secs(6 * 3600),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespaces: vec![],
            label_selector: None,
            max_concurrent_reconciles: 16,
            default_deletion_policy: DeletionPolicy::Delete,
            cluster_id: "default".into(),
            sweep: Sweep::default(),
            ttl_after_finished: None,
            settings: Settings::default(),
            events: None,
        }
    }
}

/// What the orphan sweep does with an AWS object of this installation
/// whose resource is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SweepMode {
    Off,
    /// Report it (log, metric, Event), never delete.
    #[default]
    Report,
    /// Report it, and delete it when its deletion-policy tag says Delete.
    Delete,
}

#[derive(Debug, Clone, Copy)]
pub struct Sweep {
    pub mode: SweepMode,
    /// How often AWS is listed.
    pub interval: Duration,
    /// How long an object must stay without a resource before it counts as
    /// an orphan (a resource may be on its way).
    pub grace: Duration,
}

impl Default for Sweep {
    fn default() -> Self {
        Sweep {
            mode: SweepMode::Report,
            interval: Duration::from_secs(600),
            grace: Duration::from_secs(600),
        }
    }
}

/// Timing settings of the controller.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How often an object at rest (a pipeline InProgress, Paused or
    /// NotStarted; an ACTIVE pool) is re-read.
    pub refresh_interval: Duration,
    /// Shortest and longest wait between reads while an object is changing
    /// state (Initializing, Stopping, CREATING, ...).
    pub poll_min: Duration,
    pub poll_max: Duration,
    pub backoff: Backoff,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_interval: Duration::from_secs(300),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(15),
            backoff: Backoff::default(),
        }
    }
}

/// Backoff settings; the defaults suit production, tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First delay after a transient failure; doubles each time up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// Delay after ResourceLimitExceeded.
    pub limit: Duration,
    /// Delay after a permanent failure, unless the spec changes first.
    pub permanent: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            limit: Duration::from_secs(60),
            permanent: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The delay before attempt `failures + 1`, given `failures` consecutive
    /// failures of this class. `jitter` in [0, 1) spreads retries of many
    /// resources that failed together (full jitter over the upper half).
    pub fn delay(&self, retry: Retry, failures: u32, jitter: f64) -> Duration {
        let ceiling = match retry {
            Retry::Transient => {
                let exp = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
                self.base.saturating_mul(exp).min(self.max)
            }
            Retry::Limit => self.limit,
            Retry::Permanent => self.permanent,
        };
        ceiling.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// The shortest interval of any setting: none may be zero, which would
/// turn a wait into a busy loop.
pub const SHORTEST: Duration = Duration::from_millis(1);

/// The longest interval of any setting. kube's scheduler clamps every
/// requeue to six months (a longer interval would silently be six months),
/// and far longer ones overflow the clock arithmetic of a wait.
pub const LONGEST: Duration = Duration::from_secs(180 * 24 * 3600);

/// The longest `--ttl-seconds-after-finished`: that of
/// `spec.ttlSecondsAfterFinished` (an i32), which it is the default of.
pub const LONGEST_TTL: Duration = Duration::from_secs(i32::MAX as u64);

/// The shortest `--lease-duration`: the lease is renewed a third of it
/// ahead, in whole seconds; below 3 s that third is nothing, and the lease
/// would lapse at each renewal.
pub const SHORTEST_LEASE: Duration = Duration::from_secs(3);

/// The shortest `--sweep-interval`: each sweep lists every region's
/// objects, which is no loop to run more often.
pub const SHORTEST_SWEEP: Duration = Duration::from_secs(1);

/// The most characters of `--cluster-id`, an AWS tag value.
pub const LONGEST_CLUSTER_ID: usize = 256;

type Checked = Result<(), InvalidSetting>;

impl Config {
    /// Checks every setting against what the operator can work with; the
    /// first out of range is named. The cluster ID is checked apart
    /// ([`cluster_id`]): its default is read from the cluster later.
    pub fn validate(&self) -> Checked {
        for ns in &self.namespaces {
            namespace("--namespace", ns)?;
        }
        at_least_one(
            "--max-concurrent-reconciles",
            self.max_concurrent_reconciles.into(),
        )?;
        if let Some(ttl) = self.ttl_after_finished {
            within(
                "--ttl-seconds-after-finished",
                ttl,
                Duration::ZERO..=LONGEST_TTL,
            )?;
        }
        self.sweep.validate()?;
        if let Some(events) = &self.events {
            events.validate(self.settings.refresh_interval)?;
        }
        self.settings.validate()
    }
}

impl Events {
    fn validate(&self, refresh: Duration) -> Checked {
        let url = &self.queue_url;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(InvalidSetting {
                setting: "--event-queue-url",
                value: url.clone(),
                allowed: "must be an SQS queue URL \
                          (https://sqs.<region>.amazonaws.com/<account>/<queue>)"
                    .into(),
            });
        }
        // Events only ever relax polling: never read more often with them.
        within(
            "--events-refresh-interval",
            self.refresh_interval,
            refresh..=LONGEST,
        )?;
        within("--event-silence", self.silence, SHORTEST_SWEEP..=LONGEST)
    }
}

impl Sweep {
    fn validate(&self) -> Checked {
        within("--sweep-interval", self.interval, SHORTEST_SWEEP..=LONGEST)?;
        // Above zero, an orphan must be seen by two sweeps: one whose list
        // of resources could predate the resource never deletes it.
        within("--sweep-grace", self.grace, SHORTEST..=LONGEST)
    }
}

impl Settings {
    fn validate(&self) -> Checked {
        within(
            "--refresh-interval",
            self.refresh_interval,
            SHORTEST..=LONGEST,
        )?;
        within("settings.poll_max", self.poll_max, SHORTEST..=LONGEST)?;
        within("--poll-min", self.poll_min, SHORTEST..=self.poll_max)?;
        self.backoff.validate()
    }
}

impl Backoff {
    fn validate(&self) -> Checked {
        within("backoff.max", self.max, SHORTEST..=LONGEST)?;
        within("backoff.base", self.base, SHORTEST..=self.max)?;
        within("--limit-retry-interval", self.limit, SHORTEST..=LONGEST)?;
        within("--error-retry-interval", self.permanent, SHORTEST..=LONGEST)
    }
}

/// The namespaces as given, each once, in the order first given: a
/// namespace named twice is watched once (two watches of it would wait for
/// a second first list of one namespace, and never be ready).
pub fn unique(namespaces: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    namespaces
        .into_iter()
        .filter(|ns| seen.insert(ns.clone()))
        .collect()
}

/// `--cluster-id`, when given: a tag value, and not empty (installations
/// sharing an account are told apart by it).
pub fn cluster_id(id: &str) -> Checked {
    if (1..=LONGEST_CLUSTER_ID).contains(&id.chars().count()) {
        return Ok(());
    }
    Err(refused(
        "--cluster-id",
        format!("{id:?}"),
        format!("must be 1 to {LONGEST_CLUSTER_ID} characters"),
    ))
}

/// `--aws-burst`: the bucket must let at least one request through.
pub fn burst(burst: u32) -> Checked {
    at_least_one("--aws-burst", burst.into())
}

/// The lease flags (used with `--leader-election`).
pub fn lease(duration: Duration, name: &str, namespace_name: Option<&str>) -> Checked {
    within("--lease-duration", duration, SHORTEST_LEASE..=LONGEST)?;
    if !name.split('.').all(dns_label) || name.len() > 253 {
        let allowed = "must be a Kubernetes object name: lowercase letters, digits, '-' and '.', \
                       at most 253";
        return Err(refused("--lease-name", format!("{name:?}"), allowed.into()));
    }
    namespace_name.map_or(Ok(()), |ns| namespace("--lease-namespace", ns))
}

/// A namespace's name: an RFC 1123 label of at most 63 characters.
fn namespace(setting: &'static str, name: &str) -> Checked {
    if dns_label(name) && name.len() <= 63 {
        return Ok(());
    }
    let allowed = "must be a namespace name: 1 to 63 lowercase letters, digits and '-', \
                   beginning and ending with a letter or digit";
    Err(refused(setting, format!("{name:?}"), allowed.into()))
}

/// Lowercase letters, digits and '-', beginning and ending with a letter or
/// digit; not empty.
fn dns_label(s: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && b.iter().all(|&c| alnum(c) || c == b'-')
        }
        _ => false,
    }
}

fn at_least_one(setting: &'static str, value: u64) -> Checked {
    if value >= 1 {
        return Ok(());
    }
    Err(refused(
        setting,
        value.to_string(),
        "must be at least 1".into(),
    ))
}

fn within(setting: &'static str, value: Duration, range: RangeInclusive<Duration>) -> Checked {
    if range.contains(&value) {
        return Ok(());
    }
    let (min, max) = (show(*range.start()), show(*range.end()));
    Err(refused(
        setting,
        show(value),
        format!("must be from {min} to {max}"),
    ))
}

fn refused(setting: &'static str, value: String, allowed: String) -> InvalidSetting {
    InvalidSetting {
        setting,
        value,
        allowed,
    }
}

/// A duration as the flags take it: 15s, 50ms, 4320h.
fn show(d: Duration) -> String {
    match jiff::SignedDuration::try_from(d) {
        Ok(d) => format!("{d:#}"),
        Err(_) => format!("{d:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_backoff_doubles_and_caps() {
        let b = Backoff::default();
        let d: Vec<_> = (1..=12)
            .map(|n| b.delay(Retry::Transient, n, 0.999_999).as_secs())
            .collect();
        assert_eq!(&d[..5], &[0, 1, 3, 7, 15]); // just under 1, 2, 4, 8, 16
        assert!(d.iter().all(|s| *s < 300));
        assert_eq!(b.delay(Retry::Transient, 40, 0.0), Duration::from_secs(150));
    }

    /// "At most a handful of calls per minute" under a permanent error.
    #[test]
    fn permanent_errors_retry_rarely() {
        let b = Backoff::default();
        assert!(b.delay(Retry::Permanent, 1, 0.0) >= Duration::from_secs(60));
        assert!(b.delay(Retry::Limit, 1, 0.0) >= Duration::from_secs(30));
    }

    fn setting_refused(c: &Config) -> &'static str {
        c.validate().map_or_else(|e| e.setting, |()| "nothing")
    }

    #[test]
    fn the_defaults_and_the_tests_timings_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
        let mut c = Config::default();
        c.settings.poll_min = Duration::from_millis(100);
        c.settings.poll_max = Duration::from_secs(1);
        c.settings.refresh_interval = Duration::from_secs(1);
        c.sweep.interval = Duration::from_secs(2);
        c.sweep.grace = Duration::from_secs(2);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn poll_min_lies_between_a_millisecond_and_poll_max() {
        let mut c = Config::default();
        c.settings.poll_min = c.settings.poll_max;
        assert_eq!(c.validate(), Ok(()));
        c.settings.poll_min = Duration::from_secs(20);
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 20s for --poll-min: must be from 1ms to 15s"
        );
        c.settings.poll_min = Duration::ZERO;
        assert_eq!(setting_refused(&c), "--poll-min");
        c.settings.poll_min = SHORTEST;
        c.settings.poll_max = LONGEST + SHORTEST;
        assert_eq!(setting_refused(&c), "settings.poll_max");
    }

    #[test]
    fn every_interval_is_positive_and_bounded() {
        type Set = fn(&mut Config, Duration);
        let cases: [(&str, Set); 5] = [
            ("--refresh-interval", |c, d| c.settings.refresh_interval = d),
            ("--limit-retry-interval", |c, d| {
                c.settings.backoff.limit = d
            }),
            ("--error-retry-interval", |c, d| {
                c.settings.backoff.permanent = d
            }),
            ("--sweep-grace", |c, d| c.sweep.grace = d),
            ("backoff.max", |c, d| c.settings.backoff.max = d),
        ];
        for (setting, set) in cases {
            for (d, ok) in [(Duration::ZERO, false), (SHORTEST, true), (LONGEST, true)] {
                let mut c = Config::default();
                c.settings.backoff.base = SHORTEST;
                set(&mut c, d);
                let expected = if ok { "nothing" } else { setting };
                assert_eq!(setting_refused(&c), expected, "{setting} {d:?}");
            }
            let mut c = Config::default();
            set(&mut c, LONGEST + SHORTEST);
            assert_eq!(setting_refused(&c), setting);
        }
    }

    #[test]
    fn the_backoff_base_is_at_most_its_max() {
        let mut c = Config::default();
        c.settings.backoff.base = c.settings.backoff.max;
        assert_eq!(c.validate(), Ok(()));
        c.settings.backoff.base += SHORTEST;
        assert_eq!(setting_refused(&c), "backoff.base");
        c.settings.backoff.base = Duration::ZERO;
        assert_eq!(setting_refused(&c), "backoff.base");
    }

    #[test]
    fn the_sweep_runs_at_most_every_second() {
        let mut c = Config::default();
        c.sweep.interval = SHORTEST_SWEEP;
        assert_eq!(c.validate(), Ok(()));
        c.sweep.interval = Duration::from_millis(999);
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 999ms for --sweep-interval: must be from 1s to 4320h"
        );
    }

    #[test]
    fn the_ttl_is_that_of_the_spec() {
        let mut c = Config {
            ttl_after_finished: Some(Duration::ZERO),
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
        c.ttl_after_finished = Some(LONGEST_TTL);
        assert_eq!(c.validate(), Ok(()));
        c.ttl_after_finished = Some(LONGEST_TTL + Duration::from_secs(1));
        assert_eq!(setting_refused(&c), "--ttl-seconds-after-finished");
    }

    #[test]
    fn at_least_one_reconcile_and_one_request_at_once() {
        let mut c = Config {
            max_concurrent_reconciles: 1,
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
        c.max_concurrent_reconciles = 0;
        assert_eq!(setting_refused(&c), "--max-concurrent-reconciles");
        assert_eq!(burst(1), Ok(()));
        let e = burst(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 0 for --aws-burst: must be at least 1"
        );
    }

    #[test]
    fn namespaces_are_named_once_and_well() {
        let given = ["b", "a", "b", "a", "c"].map(String::from).to_vec();
        assert_eq!(unique(given), ["b", "a", "c"]);
        let mut c = Config {
            namespaces: ["calls", "team-2", &"x".repeat(63)]
                .map(String::from)
                .to_vec(),
            ..Config::default()
        };
        assert_eq!(c.validate(), Ok(()));
        for bad in ["", "Calls", "-a", "a-", "a.b", "a_b", &"x".repeat(64)] {
            c.namespaces = vec!["calls".into(), bad.into()];
            let e = c.validate().unwrap_err();
            assert_eq!(e.setting, "--namespace", "{bad:?}");
            assert_eq!(e.value, format!("{bad:?}"));
        }
    }

    #[test]
    fn the_cluster_id_is_a_tag_value_and_not_empty() {
        assert_eq!(cluster_id("c1"), Ok(()));
        assert_eq!(cluster_id(&"é".repeat(256)), Ok(()));
        for bad in [String::new(), "x".repeat(257)] {
            assert_eq!(cluster_id(&bad).unwrap_err().setting, "--cluster-id");
        }
    }

    #[test]
    fn the_lease_lasts_three_seconds_at_least_and_is_named_well() {
        let d = Duration::from_secs(15);
        assert_eq!(lease(d, "chime-pipeline-operator", None), Ok(()));
        assert_eq!(lease(d, "a.b-c", Some("ops")), Ok(()));
        assert_eq!(lease(SHORTEST_LEASE, "l", None), Ok(()));
        fn refused(d: Duration, name: &str, ns: Option<&str>) -> &'static str {
            lease(d, name, ns).unwrap_err().setting
        }
        assert_eq!(
            refused(Duration::from_secs(2), "l", None),
            "--lease-duration"
        );
        assert_eq!(refused(LONGEST + SHORTEST, "l", None), "--lease-duration");
        for bad in ["", "L", "a..b", ".a", "a_b"] {
            assert_eq!(refused(d, bad, None), "--lease-name", "{bad:?}");
        }
        assert_eq!(refused(d, &"a".repeat(254), None), "--lease-name");
        assert_eq!(refused(d, "l", Some("")), "--lease-namespace");
    }
}
