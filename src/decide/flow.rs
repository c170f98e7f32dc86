//! The one decision flow, written once for every kind (as ACK's Sync and
//! Crossplane's managed reconciler are): no object recorded → create it
//! (or read the adopted one), unless the kind holds it back; then follow
//! what AWS reads: unread → idle until the next read, failed → error, gone
//! → finished or gone, found → fold it into the status and judge drift.
//!
//! A kind supplies only narrow verdicts ([`Verdicts`]): a change refused
//! before any call, a hold before the create, whether the object found is
//! still the one recorded, and drift. Its state table ([`ManagedStatus`]'s
//! STATES) and how its object is recorded ([`RemoteObject::record`]) make
//! the status.

use super::{
    Call, GONE, KindInfo, ManagedStatus, Plan, Read, RemoteObject, Seen, desired_tags, finished,
    next_read, set_observed, settle_status, tag_actions, with_error, with_gone,
};
use crate::config::Settings;
use crate::crd::Tag;
use crate::error::Error;

/// What must come before a create, when something must.
#[derive(Debug)]
pub enum Hold {
    /// Something the create needs may come (a pool not ACTIVE yet, a
    /// capture pipeline still recording): Ready says what, with `reason`.
    Waiting {
        reason: &'static str,
        message: String,
    },
    /// Only a person can help: the error says why.
    Refused(Error),
}

impl Hold {
    pub fn message(&self) -> String {
        match self {
            Hold::Waiting { message, .. } => message.clone(),
            Hold::Refused(err) => err.to_string(),
        }
    }
}

/// How the spec compares with the object AWS described.
#[derive(Debug, PartialEq)]
pub enum Drift<U> {
    InSync,
    /// AWS can bring the object to the spec in place.
    Update(U),
    /// The spec changed a field AWS cannot change: what to restore.
    Immutable(String),
}

/// A kind's verdicts: everything the flow asks of it. Implemented on a
/// view of the resource (its spec, and what the reconcile looked up).
pub trait Verdicts {
    type Remote: RemoteObject;
    type Update;
    const KIND: KindInfo;

    /// An existing object to read instead of creating one.
    fn adopt_id(&self) -> Option<&str> {
        None
    }
    /// A spec change refused without asking AWS (a field fixed once the
    /// object exists or a create may have reached AWS).
    fn refused(&self, _status: &Status<Self>) -> Option<Error> {
        None
    }
    /// What holds the create back, if anything.
    fn hold(&self) -> Option<&Hold> {
        None
    }
    /// Why the object found is not the one recorded (another object took
    /// its name), if it is not.
    fn other_object(&self, _status: &Status<Self>, _found: &Self::Remote) -> Option<String> {
        None
    }
    fn drift(&self, status: &Status<Self>, found: &Self::Remote) -> Drift<Self::Update>;
}

type Status<V> = <<V as Verdicts>::Remote as RemoteObject>::Status;
type FlowPlan<V> = Plan<Status<V>, <V as Verdicts>::Update>;
type FlowSeen<'a, V> = Seen<'a, Status<V>, <V as Verdicts>::Remote>;

/// What was seen, and the tags the object should carry (the spec's, then
/// the operator's own).
struct Looked<'a, 'b, V: Verdicts> {
    seen: &'b FlowSeen<'a, V>,
    desired: Vec<Tag>,
}

/// The plan for a resource, given the kind's verdicts, what was seen and
/// the spec's tags.
pub fn decide<V: Verdicts>(
    v: &V,
    seen: &FlowSeen<'_, V>,
    user_tags: &[Tag],
    settings: &Settings,
) -> FlowPlan<V> {
    let status = seen.status.cloned().unwrap_or_default();
    if let Some(err) = v.refused(&status) {
        return Plan::idle(with_error(status, &err, seen.generation, seen.now), None);
    }
    let looked = Looked {
        seen,
        desired: desired_tags(user_tags, seen.own_tags),
    };
    match (status.remote_id(), v.adopt_id()) {
        (None, Some(adopt)) => adopt_existing(v, &looked, status, adopt, settings),
        (None, None) => create(v, &looked, status, settings),
        (Some(_), _) => follow(v, &looked, status, settings),
    }
}

/// Adoption: read the named object, never create one.
fn adopt_existing<V: Verdicts>(
    v: &V,
    looked: &Looked<'_, '_, V>,
    status: Status<V>,
    adopt: &str,
    settings: &Settings,
) -> FlowPlan<V> {
    let seen = looked.seen;
    let (generation, now) = (seen.generation, seen.now);
    match seen.remote {
        // Tagged from the first read, identity and Retain included, so
        // that nothing (a sweep, a lookup) can take it for another's.
        Read::Found { remote, tags } => found(v, looked, status, remote, tags.as_deref(), settings),
        Read::Gone | Read::Ended => {
            let err = Error::NotFound(format!(
                "{} {adopt} (the ID to adopt) does not exist in {}; nothing is created",
                V::KIND.noun,
                seen.region
            ));
            Plan::idle(with_error(status, &err, generation, now), None)
        }
        Read::Failed(err) => Plan::idle(with_error(status, err, generation, now), None),
        Read::Unread => Plan::idle(status, Some(settings.poll_min)),
    }
}

/// Nothing recorded: create the object, unless the kind holds it back.
fn create<V: Verdicts>(
    v: &V,
    looked: &Looked<'_, '_, V>,
    mut status: Status<V>,
    settings: &Settings,
) -> FlowPlan<V> {
    let seen = looked.seen;
    let (generation, now) = (seen.generation, seen.now);
    match v.hold() {
        Some(Hold::Refused(err)) => {
            return Plan::idle(with_error(status, err, generation, now), None);
        }
        Some(Hold::Waiting { reason, message }) => {
            status.set_observed_generation(generation);
            let conditions = status.conditions_mut();
            set_observed(conditions, false, reason, message, generation, now);
            settle_status(&mut status, generation, now);
            // What it waits for wakes this resource; the requeue is a backstop.
            return Plan::idle(status, Some(settings.refresh_interval));
        }
        None => {}
    }
    // User tags go on after the create: the create's input is then fixed by
    // immutable fields alone, so a replay with the same token always
    // matches, however the tags were edited meanwhile.
    let mut actions = vec![Call::Create];
    actions.extend(tag_actions(&looked.desired, seen.create_tags));
    Plan {
        actions,
        status,
        requeue: None,
    }
}

/// An object is recorded: follow what AWS says of it. It is never
/// recreated.
fn follow<V: Verdicts>(
    v: &V,
    looked: &Looked<'_, '_, V>,
    status: Status<V>,
    settings: &Settings,
) -> FlowPlan<V> {
    let seen = looked.seen;
    let (generation, now) = (seen.generation, seen.now);
    match seen.remote {
        Read::Unread => {
            let requeue = next_read(&status, settings, now);
            Plan::idle(status, requeue)
        }
        // The controller retries failures on its own backoff.
        Read::Failed(err) => Plan::idle(with_error(status, err, generation, now), None),
        // AWS removes a finished object some time after: it stays finished.
        // One whose work ended between two reads (every meeting of a
        // pipeline) finished unseen: finished all the same.
        Read::Gone if status.finished_at().is_some() => {
            Plan::idle(finished_gone(status, generation, now), None)
        }
        Read::Ended => Plan::idle(finished_gone(status, generation, now), None),
        Read::Gone => {
            let info = V::KIND;
            let status = with_gone(status, info.gone_reason, info.gone_message, generation, now);
            Plan::idle(status, None)
        }
        Read::Found { remote, tags } => found(v, looked, status, remote, tags.as_deref(), settings),
    }
}

/// AWS described the object: the status says what, and then the spec is
/// brought to it (an update, its tags when read), unless a field AWS
/// cannot change differs (then nothing is done but say so).
fn found<V: Verdicts>(
    v: &V,
    looked: &Looked<'_, '_, V>,
    status: Status<V>,
    remote: &V::Remote,
    tags: Option<&[Tag]>,
    settings: &Settings,
) -> FlowPlan<V> {
    let seen = looked.seen;
    let (generation, now) = (seen.generation, seen.now);
    // Ours was deleted, and another object took its name (and so its
    // identifier): never followed, tagged, updated or deleted by this
    // resource.
    if let Some(message) = v.other_object(&status, remote) {
        let status = with_gone(status, V::KIND.gone_reason, &message, generation, now);
        return Plan::idle(status, None);
    }
    let mut status = remote.fold(status, generation, now);
    status.set_region(seen.region);
    let mut actions = vec![];
    match v.drift(&status, remote) {
        Drift::Immutable(message) => {
            let err = Error::ImmutableFieldChanged(message);
            let status = with_error(status, &err, generation, now);
            let requeue = next_read(&status, settings, now);
            return Plan::idle(status, requeue);
        }
        Drift::Update(update) => actions.push(Call::Update(update)),
        Drift::InSync => {}
    }
    if let Some(tags) = tags {
        actions.extend(tag_actions(&looked.desired, tags));
    }
    let requeue = next_read(&status, settings, now);
    Plan {
        actions,
        status,
        requeue,
    }
}

/// A finished object that AWS has since removed stays finished; one that
/// no read saw finish finished, as far as we know, now (its time to live
/// counts from then: later than the real end, never earlier).
pub fn finished_gone<S: ManagedStatus>(
    mut status: S,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> S {
    if status.finished_at().is_none() {
        status.set_finished_at(now.to_string());
    }
    status.set_remote_state(GONE);
    status.set_observed_generation(generation);
    let message = "It finished (a pipeline: its meeting ended, or its work is done); AWS has \
                   since removed it.";
    finished(status, "Removed", message, generation, now)
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
