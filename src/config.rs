//! What the operator is told at start-up: which resources to manage, the
//! defaults it applies, and its timings (refresh, polling, back-off).

use std::time::Duration;

use crate::crd::DeletionPolicy;
use crate::error::Retry;

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
}
