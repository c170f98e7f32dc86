//! The pure decisions: from what was observed (the resource, and what AWS
//! said about its object) to the AWS actions to take and the status to
//! write. No I/O here; the clock comes in as an argument.
//!
//! This file holds the rules both kinds share: conditions and their kstatus
//! summary, read cadence, error and gone statuses, tags. [`pipeline`] and
//! [`pool`] hold each kind's own decision.

pub mod capture;
pub mod concat;
pub mod event;
pub mod flow;
pub mod media;
pub mod pipeline;
pub mod pool;
pub mod refs;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::config::Settings;
use crate::crd::{CommonStatus, Tag};
use crate::error::{Error, PERMANENT_REASONS};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
/// True once the remote object ended its life normally (a pipeline whose
/// meeting ended); Ready is then absent, so that kstatus reads Current.
pub const FINISHED: &str = "Finished";
/// The remote status once AWS no longer knows the object.
pub const GONE: &str = "Gone";
/// Condition messages are never empty: the API server refuses a null message.
pub const SYNCED_OK: &str = "The last reconcile reached AWS and succeeded.";

/// Where a remote object is in its life, by the status AWS reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Changing state (starting, stopping, creating, updating): read soon.
    Changing,
    /// At rest and alive: re-read every refresh interval.
    Steady,
    /// Failed or gone: never read again unless the spec changes, and only a
    /// person can help.
    Final,
    /// Ended normally (a pipeline whose meeting ended): never read again
    /// unless the spec changes, and nothing needs a person.
    Finished,
}

/// A row of a kind's state table: what one status AWS reports means.
#[derive(Debug, Clone, Copy)]
pub struct State {
    /// The status as AWS spells it; also the Ready reason.
    pub name: &'static str,
    pub phase: Phase,
    pub ready: bool,
    pub message: &'static str,
}

impl State {
    pub const fn new(name: &'static str, phase: Phase, ready: bool, message: &'static str) -> Self {
        State {
            name,
            phase,
            ready,
            message,
        }
    }
}

/// What the shared rules need of a kind's status: its remote object's
/// identifiers and state, and the fields every kind has ([`CommonStatus`]).
pub trait ManagedStatus: Clone + Default + PartialEq {
    /// What each status AWS reports means; a status not listed is changing
    /// and not Ready (`UnknownStatus`).
    const STATES: &'static [State];
    fn common(&self) -> &CommonStatus;
    fn common_mut(&mut self) -> &mut CommonStatus;
    /// What Get and Delete name the remote object by (the pipeline's ID, the
    /// pool's ARN); None until a create or an adoption recorded it.
    fn remote_id(&self) -> Option<&str>;
    /// What TagResource names the remote object by.
    fn remote_arn(&self) -> Option<&str>;
    /// The status AWS reported last, or [`GONE`].
    fn remote_state(&self) -> Option<&str>;
    fn set_remote_state(&mut self, state: &str);
    /// When the object finished (RFC 3339), for kinds that finish.
    fn finished_at(&self) -> Option<&str> {
        None
    }
    /// Records when the object finished; a kind that never finishes has no
    /// STATES row in [`Phase::Finished`], so this is never called for it.
    fn set_finished_at(&mut self, _at: String) {}

    fn phase(&self) -> Phase {
        if self.finished_at().is_some() {
            return Phase::Finished;
        }
        match self.remote_state() {
            Some(GONE) => Phase::Final,
            Some(name) => state_of::<Self>(name).map_or(Phase::Changing, |s| s.phase),
            None => Phase::Changing,
        }
    }
    fn updated_timestamp(&self) -> Option<&str> {
        self.common().updated_timestamp.as_deref()
    }
    fn region(&self) -> Option<&str> {
        self.common().region.as_deref()
    }
    fn set_region(&mut self, region: &str) {
        self.common_mut().region = Some(region.into());
    }
    fn observed_generation(&self) -> Option<i64> {
        self.common().observed_generation
    }
    fn set_observed_generation(&mut self, generation: Option<i64>) {
        self.common_mut().observed_generation = generation;
    }
    /// The reconcile request (annotation value) last acted on.
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.common().last_handled_reconcile_at.as_deref()
    }
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
        self.common_mut().last_handled_reconcile_at = value;
    }
    fn conditions(&self) -> &[Condition] {
        &self.common().conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.common_mut().conditions
    }
}

/// The accessors of [`ManagedStatus`] that name a status's own fields: its
/// [`CommonStatus`] (field `common`), and the fields holding the remote
/// object's ID, ARN and state. One line per kind instead of six methods.
#[macro_export]
macro_rules! status_fields {
    (id: $id:ident, arn: $arn:ident, state: $state:ident) => {
        fn common(&self) -> &$crate::crd::CommonStatus {
            &self.common
        }
        fn common_mut(&mut self) -> &mut $crate::crd::CommonStatus {
            &mut self.common
        }
        fn remote_id(&self) -> Option<&str> {
            self.$id.as_deref()
        }
        fn remote_arn(&self) -> Option<&str> {
            self.$arn.as_deref()
        }
        fn remote_state(&self) -> Option<&str> {
            self.$state.as_deref()
        }
        fn set_remote_state(&mut self, state: &str) {
            self.$state = Some(state.into());
        }
    };
}

/// The accessors of [`RemoteObject`] that name a remote type's fields: its
/// ID, ARN and state, and `updated`.
#[macro_export]
macro_rules! remote_fields {
    (id: $id:ident, arn: $arn:ident, state: $state:ident) => {
        // A pool's identifier is its ARN: the field may be named otherwise.
        #[allow(clippy::misnamed_getters)]
        fn id(&self) -> &str {
            &self.$id
        }
        fn arn(&self) -> &str {
            &self.$arn
        }
        fn state(&self) -> &str {
            &self.$state
        }
        fn updated(&self) -> Option<jiff::Timestamp> {
            self.updated
        }
    };
}

/// The row of `S`'s state table for status `name`, if it has one.
pub fn state_of<S: ManagedStatus>(name: &str) -> Option<&'static State> {
    S::STATES.iter().find(|s| s.name == name)
}

/// What the shared rules need of an object as AWS describes it.
pub trait RemoteObject {
    type Status: ManagedStatus;
    /// What Get and Delete name it by.
    fn id(&self) -> &str;
    /// What TagResource names it by.
    fn arn(&self) -> &str;
    /// The status AWS reports ("" when it reports none).
    fn state(&self) -> &str;
    /// When AWS last changed it.
    fn updated(&self) -> Option<Timestamp>;
    /// Copies what AWS describes into the status: identifiers, state,
    /// timestamps, and the kind's own fields.
    fn record(&self, status: &mut Self::Status);
    /// The status after AWS described the object (a create, an update or a
    /// read).
    fn fold(&self, status: Self::Status, generation: Option<i64>, now: Timestamp) -> Self::Status
    where
        Self: Sized,
    {
        fold(self, status, generation, now)
    }
}

/// The status after AWS described `remote`: its fields recorded, and Ready
/// (or Finished) as the kind's state table says.
pub fn fold<R: RemoteObject>(
    remote: &R,
    mut status: R::Status,
    generation: Option<i64>,
    now: Timestamp,
) -> R::Status {
    remote.record(&mut status);
    status.set_observed_generation(generation);
    let state = state_of::<R::Status>(remote.state());
    match state {
        Some(s) if s.phase == Phase::Finished => {
            if status.finished_at().is_none() {
                status.set_finished_at(remote.updated().unwrap_or(now).to_string());
            }
            return finished(status, s.name, s.message, generation, now);
        }
        Some(s) => set_observed(
            status.conditions_mut(),
            s.ready,
            s.name,
            s.message,
            generation,
            now,
        ),
        None => set_observed(
            status.conditions_mut(),
            false,
            "UnknownStatus",
            "AWS reports a status this operator does not know.",
            generation,
            now,
        ),
    }
    settle_status(&mut status, generation, now);
    status
}

/// Finished=True with why, and Synced: AWS answered.
pub fn finished<S: ManagedStatus>(
    mut status: S,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> S {
    let conditions = status.conditions_mut();
    set_condition(conditions, FINISHED, true, reason, message, generation, now);
    set_condition(
        conditions, SYNCED, true, "Synced", SYNCED_OK, generation, now,
    );
    settle_status(&mut status, generation, now);
    status
}

/// What names a kind in logs and Events (metrics name it by its Kubernetes
/// kind).
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// How logs and Events name its remote object.
    pub noun: &'static str,
    /// The Ready reason and Event once AWS no longer knows the object.
    pub gone_reason: &'static str,
    /// What the kind's ARNs hold between the account and the ID
    /// (`:media-pipeline/`): tells its objects from other kinds' by ARN.
    pub arn_type: &'static str,
    /// Why Ready is False once AWS no longer knows a recorded object (it is
    /// never recreated).
    pub gone_message: &'static str,
    /// Whether the routine steps (Created, Deleted) get a Normal Event.
    /// Warnings, and Events that say what status cannot (Retained,
    /// Expired, gone), are published for every kind.
    pub routine_events: bool,
}

/// What the decision of any kind sees besides the spec: the resource's
/// generation and status, the operator's tags, the region, what AWS said,
/// and the clock.
#[derive(Debug)]
pub struct Seen<'a, S, R> {
    pub generation: Option<i64>,
    pub status: Option<&'a S>,
    /// The tags sent with the create: the operator's own.
    pub create_tags: &'a [Tag],
    /// The operator's tags the object should carry: identity and policy.
    pub own_tags: &'a [Tag],
    /// The region the calls go to: the recorded one once the object exists,
    /// else the spec's or the operator's.
    pub region: &'a str,
    pub remote: &'a Read<R>,
    pub now: Timestamp,
}

/// What a read of AWS gave.
#[derive(Debug)]
pub enum Read<R> {
    /// Not read this time (nothing to read, or no read due).
    Unread,
    Found {
        remote: R,
        /// Read only when the spec changed, since only then can tags differ.
        tags: Option<Vec<Tag>>,
    },
    /// AWS answered NotFound.
    Gone,
    /// AWS answered NotFound, and what the object served had ended (every
    /// meeting of a pipeline): it finished unseen, then AWS removed it.
    Ended,
    Failed(Error),
}

/// An AWS call the reconcile makes; `U` is the kind's update (pipelines have
/// none).
#[derive(Debug, Clone, PartialEq)]
pub enum Call<U> {
    /// The kind's create call, with the resource's UID as ClientRequestToken.
    Create,
    Update(U),
    Tag(Vec<Tag>),
    Untag(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan<S, U> {
    pub actions: Vec<Call<U>>,
    pub status: S,
    /// When to look again; None waits for the next change of the resource.
    pub requeue: Option<Duration>,
}

impl<S, U> Plan<S, U> {
    /// A plan that calls nothing.
    pub fn idle(status: S, requeue: Option<Duration>) -> Self {
        Plan {
            actions: vec![],
            status,
            requeue,
        }
    }
}

/// Should the reconcile read the remote object? Only when there is one and
/// the spec changed or the refresh for its phase is due.
pub fn refresh_due<S: ManagedStatus>(
    generation: Option<i64>,
    status: Option<&S>,
    since_last_read: Option<Duration>,
    settings: &Settings,
    now: Timestamp,
) -> bool {
    let Some(status) = status.filter(|s| s.remote_id().is_some()) else {
        return false;
    };
    // The last attempt failed (a read, a tag or retention update): read
    // again, so that the retry starts from what AWS has now.
    if !synced(status) {
        return true;
    }
    due(
        generation,
        status.observed_generation(),
        next_read(status, settings, now),
        since_last_read,
    )
}

/// Whether the last reconcile reached AWS and succeeded (or none ran yet).
pub fn synced<S: ManagedStatus>(status: &S) -> bool {
    !status
        .conditions()
        .iter()
        .any(|c| c.type_ == SYNCED && c.status == "False")
}

/// Whether a remote object is due for a read: when the spec changed, or
/// `every` has passed since the last read (or this process never read it).
pub fn due(
    generation: Option<i64>,
    observed_generation: Option<i64>,
    every: Option<Duration>,
    since_last_read: Option<Duration>,
) -> bool {
    if observed_generation != generation {
        return true;
    }
    match (every, since_last_read) {
        (None, _) => false,
        (Some(_), None) => true, // never read by this process: after a restart, read once
        (Some(every), Some(since)) => since >= every,
    }
}

/// How long until the remote object should be read again, by its phase.
pub fn next_read<S: ManagedStatus>(
    status: &S,
    settings: &Settings,
    now: Timestamp,
) -> Option<Duration> {
    match status.phase() {
        Phase::Final | Phase::Finished => None,
        Phase::Steady => Some(settings.refresh_interval),
        Phase::Changing => Some(poll_interval(status.updated_timestamp(), settings, now)),
    }
}

/// While a remote object changes state: read soon, then less often the
/// longer it takes.
pub fn poll_interval(updated: Option<&str>, settings: &Settings, now: Timestamp) -> Duration {
    let age = updated
        .and_then(|t| t.parse::<Timestamp>().ok())
        .and_then(|t| Duration::try_from(now.duration_since(t)).ok())
        .unwrap_or_default();
    // max then min, not clamp: settings with poll_min above poll_max must not panic.
    (age / 4).max(settings.poll_min).min(settings.poll_max)
}

/// The status after a step failed. Ready is left alone when the remote
/// object exists (a failed call says nothing new about it).
pub fn with_error<S: ManagedStatus>(
    mut status: S,
    err: &Error,
    generation: Option<i64>,
    now: Timestamp,
) -> S {
    let message = err.to_string();
    // The generation was processed, even if it could not be applied: GitOps
    // tools then read Stalled (or Reconciling), not "not observed yet".
    status.set_observed_generation(generation);
    if status.remote_id().is_none() {
        set_condition(
            status.conditions_mut(),
            READY,
            false,
            err.reason(),
            &message,
            generation,
            now,
        );
    }
    set_condition(
        status.conditions_mut(),
        SYNCED,
        false,
        err.reason(),
        &message,
        generation,
        now,
    );
    settle_status(&mut status, generation, now);
    status
}

/// The status once AWS answered NotFound for a recorded object: never
/// recreated, so Ready says why and the object is final.
pub fn with_gone<S: ManagedStatus>(
    mut status: S,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> S {
    status.set_remote_state(GONE);
    status.set_observed_generation(generation);
    set_observed(
        status.conditions_mut(),
        false,
        reason,
        message,
        generation,
        now,
    );
    settle_status(&mut status, generation, now);
    status
}

/// Derives Reconciling and Stalled for a status, by its phase.
pub fn settle_status<S: ManagedStatus>(status: &mut S, generation: Option<i64>, now: Timestamp) {
    let phase = status.phase();
    let conditions = status.conditions_mut();
    if phase == Phase::Finished {
        // Finished is no failure and not Ready either: no Ready at all, so
        // that kstatus (which reads Ready=False as in progress) says Current.
        conditions.retain(|c| c.type_ != READY);
    }
    settle(conditions, phase == Phase::Final, generation, now);
}

/// Time left before a finished object's resource expires (zero: now), given
/// its time to live; None when it does not expire.
pub fn expires_in(
    finished_at: Option<&str>,
    ttl: Option<Duration>,
    now: Timestamp,
) -> Option<Duration> {
    let at: Timestamp = finished_at?.parse().ok()?;
    let ttl = jiff::SignedDuration::try_from(ttl?).ok()?;
    let left = at.checked_add(ttl).ok()?.duration_since(now);
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

/// AWS described the object: Ready as given, and Synced True.
pub fn set_observed(
    conditions: &mut Vec<Condition>,
    ready: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    set_condition(conditions, READY, ready, reason, message, generation, now);
    set_condition(
        conditions, SYNCED, true, "Synced", SYNCED_OK, generation, now,
    );
}

/// Derives the kstatus conditions from Ready, Synced and Finished, so that
/// Flux, `kubectl wait` and Argo CD can tell progress from failure:
/// `Stalled` is True when only a person can help (a permanent error, or a
/// remote object that is `terminal`: failed or gone); otherwise
/// `Reconciling` is True until Ready is, or the object finished.
pub fn settle(
    conditions: &mut Vec<Condition>,
    terminal: bool,
    generation: Option<i64>,
    now: Timestamp,
) {
    let get = |t: &str| conditions.iter().find(|c| c.type_ == t).cloned();
    let ready = get(READY);
    let synced = get(SYNCED);
    let finished = get(FINISHED).filter(|c| c.status == "True");
    let stalled_by = synced
        .filter(|c| c.status == "False" && PERMANENT_REASONS.contains(&c.reason.as_str()))
        .or_else(|| ready.clone().filter(|_| terminal));
    let is_ready = ready.as_ref().is_some_and(|c| c.status == "True");
    match stalled_by {
        Some(cause) => {
            set_condition(
                conditions,
                STALLED,
                true,
                &cause.reason,
                &cause.message,
                generation,
                now,
            );
            set_condition(
                conditions,
                RECONCILING,
                false,
                "Stalled",
                "Waiting for a person: see Stalled.",
                generation,
                now,
            );
        }
        None => {
            set_condition(
                conditions,
                STALLED,
                false,
                "NotStalled",
                "Nothing needs a person.",
                generation,
                now,
            );
            match ready.filter(|_| !is_ready && finished.is_none()) {
                _ if finished.is_some() => set_condition(
                    conditions,
                    RECONCILING,
                    false,
                    FINISHED,
                    "Finished: nothing left to do.",
                    generation,
                    now,
                ),
                Some(cause) => set_condition(
                    conditions,
                    RECONCILING,
                    true,
                    &cause.reason,
                    &cause.message,
                    generation,
                    now,
                ),
                None => set_condition(
                    conditions,
                    RECONCILING,
                    false,
                    "Ready",
                    "Nothing left to do.",
                    generation,
                    now,
                ),
            }
        }
    }
}

/// The prefix of the operator's own tag keys; refused in a spec's tags.
pub const TAG_PREFIX: &str = "chimeoperator.dev/";
pub const CLUSTER_TAG: &str = "chimeoperator.dev/cluster";
pub const UID_TAG: &str = "chimeoperator.dev/uid";
pub const NAMESPACE_TAG: &str = "chimeoperator.dev/namespace";
/// What happens to the object when its resource goes: `Delete` or `Retain`
/// (adopted objects always say `Retain`). The orphan sweep deletes only
/// what says `Delete`.
pub const POLICY_TAG: &str = "chimeoperator.dev/deletion-policy";
/// How many tags the operator reserves of the 200 AWS allows.
pub const RESERVED_TAGS: usize = 5;

/// Tags that tie an AWS object to its resource and installation, sent with
/// the create. They never change for a resource, so that every replay of
/// the create sends the same request.
pub fn identity_tags(cluster: &str, namespace: &str, name: &str, uid: &str) -> Vec<Tag> {
    [
        ("cluster", cluster),
        ("namespace", namespace),
        ("name", name),
        ("uid", uid),
    ]
    .into_iter()
    .map(|(k, v)| Tag {
        key: format!("{TAG_PREFIX}{k}"),
        value: v.into(),
    })
    .collect()
}

/// The deletion-policy tag, applied after the create (it may change).
pub fn policy_tag(retain: bool) -> Tag {
    Tag {
        key: POLICY_TAG.into(),
        value: if retain { "Retain" } else { "Delete" }.into(),
    }
}

/// The tags the object should carry: the user's, then the operator's own.
/// The user's can never hold an operator key (see [`reserved_tag_keys`]).
pub fn desired_tags(user: &[Tag], own: &[Tag]) -> Vec<Tag> {
    let mut all = user.to_vec();
    all.extend(own.iter().cloned());
    all
}

/// A spec whose tags use the operator's reserved keys is refused: those
/// tags are how the operator finds its objects again.
pub fn reserved_tag_keys(user: &[Tag]) -> Option<Error> {
    let taken: Vec<&str> = user
        .iter()
        .map(|t| t.key.as_str())
        .filter(|k| k.starts_with(TAG_PREFIX))
        .collect();
    (!taken.is_empty()).then(|| {
        Error::InvalidSpec(format!(
            "spec.tags: keys starting with {TAG_PREFIX} are the operator's own: remove {}",
            taken.join(", ")
        ))
    })
}

/// The value of tag `key`, if present.
pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// The Tag/Untag calls that bring the remote tags to the desired ones.
pub fn tag_actions<U>(desired: &[Tag], remote: &[Tag]) -> Vec<Call<U>> {
    let want: BTreeMap<&str, &str> = desired
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let have: BTreeMap<&str, &str> = remote
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let add: Vec<Tag> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| Tag {
            key: (*k).into(),
            value: (*v).into(),
        })
        .collect();
    let remove: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .map(|k| (*k).into())
        .collect();
    let mut actions = vec![];
    if !remove.is_empty() {
        actions.push(Call::Untag(remove));
    }
    if !add.is_empty() {
        actions.push(Call::Tag(add));
    }
    actions
}

/// Sets a condition the way the API conventions ask: lastTransitionTime moves
/// only when the status flips, so an unchanged status patches to a no-op and
/// causes no watch event.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if ok { "True" } else { "False" };
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let cond = Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => *c = cond,
        None => conditions.push(cond),
    }
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn operator_keys_are_refused_in_a_spec() {
        assert!(reserved_tag_keys(&[tag("team", "a")]).is_none());
        let err = reserved_tag_keys(&[tag("team", "a"), tag(UID_TAG, "x")]);
        let err = err.map(|e| (e.reason(), e.to_string()));
        assert!(
            err.as_ref()
                .is_some_and(|(r, m)| *r == "InvalidSpec" && m.contains(UID_TAG)),
            "{err:?}"
        );
    }

    #[test]
    fn the_most_user_tags_leave_room_for_the_operators() {
        let own = identity_tags("c", "ns", "n", "u");
        let mut own = own.clone();
        own.push(policy_tag(false));
        assert_eq!(own.len(), RESERVED_TAGS);
        let user: Vec<Tag> = (0..200 - RESERVED_TAGS)
            .map(|i| tag(&format!("k{i}"), "v"))
            .collect();
        assert_eq!(desired_tags(&user, &own).len(), 200);
    }

    #[test]
    fn identity_tags_name_the_installation_and_the_resource() {
        let own = identity_tags("c1", "ns", "n", "u1");
        assert_eq!(tag_value(&own, CLUSTER_TAG), Some("c1"));
        assert_eq!(tag_value(&own, UID_TAG), Some("u1"));
    }
}
