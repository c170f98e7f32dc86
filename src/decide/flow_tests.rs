//! The flow against a fake kind, branch by branch (as ACK's and
//! Crossplane's runtimes test their generic reconciler with a mocked
//! resource manager): a widget whose size AWS changes in place and whose
//! name it never changes.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{Drift, Hold, Verdicts, decide};
use crate::config::Settings;
use crate::crd::{CommonStatus, Tag};
use crate::decide::{
    Call, FINISHED, GONE, KindInfo, ManagedStatus, Phase, Plan, READY, RECONCILING, Read,
    RemoteObject, STALLED, SYNCED, Seen, State, identity_tags, policy_tag,
};
use crate::error::Error;

const REGION: &str = "us-east-1";
const ID: &str = "w-1";
const ARN: &str = "arn:aws:chime:us-east-1:1:widget/w-1";

#[derive(Clone, Default, PartialEq, Debug)]
struct WidgetStatus {
    common: CommonStatus,
    widget_id: Option<String>,
    widget_arn: Option<String>,
    widget_state: Option<String>,
    size: Option<i32>,
    name: Option<String>,
    finished_at: Option<String>,
}

impl ManagedStatus for WidgetStatus {
    const STATES: &'static [State] = &[
        State::new("UP", Phase::Steady, true, "The widget is up."),
        State::new("RESIZING", Phase::Changing, false, "The widget resizes."),
        State::new("BROKEN", Phase::Final, false, "The widget broke."),
        State::new("DONE", Phase::Finished, false, "The widget is done."),
    ];
    crate::status_fields!(id: widget_id, arn: widget_arn, state: widget_state);
    fn finished_at(&self) -> Option<&str> {
        self.finished_at.as_deref()
    }
    fn set_finished_at(&mut self, at: String) {
        self.finished_at = Some(at);
    }
}

#[derive(Clone, Debug)]
struct Widget {
    id: String,
    arn: String,
    status: String,
    updated: Option<Timestamp>,
    size: i32,
    name: String,
}

impl RemoteObject for Widget {
    type Status = WidgetStatus;
    crate::remote_fields!(id: id, arn: arn, state: status);
    fn record(&self, status: &mut WidgetStatus) {
        status.widget_id = Some(self.id.clone());
        status.widget_arn = Some(self.arn.clone());
        status.widget_state = Some(self.status.clone());
        status.size = Some(self.size);
        status.name = Some(self.name.clone());
        status.common.updated_timestamp = self.updated.map(|t| t.to_string());
    }
}

/// The fake spec, and what its verdicts should say.
#[derive(Default)]
struct WidgetSpec {
    size: i32,
    name: String,
    tags: Vec<Tag>,
    adopt: Option<String>,
    hold: Option<Hold>,
    /// Refused before anything, with this message (InvalidSpec).
    refuse: Option<&'static str>,
    /// Whether whatever is found is another object than the one recorded.
    other: bool,
}

impl Verdicts for WidgetSpec {
    type Remote = Widget;
    type Update = i32;
    const KIND: KindInfo = KindInfo {
        noun: "widget",
        gone_reason: "WidgetGone",
        arn_type: ":widget/",
        gone_message: "AWS no longer knows this widget.",
        routine_events: false,
    };

    fn adopt_id(&self) -> Option<&str> {
        self.adopt.as_deref()
    }
    fn refused(&self, _status: &WidgetStatus) -> Option<Error> {
        self.refuse.map(|m| Error::InvalidSpec(m.into()))
    }
    fn hold(&self) -> Option<&Hold> {
        self.hold.as_ref()
    }
    fn other_object(&self, _status: &WidgetStatus, found: &Widget) -> Option<String> {
        self.other
            .then(|| format!("widget {} is another one", found.id))
    }
    fn drift(&self, _status: &WidgetStatus, found: &Widget) -> Drift<i32> {
        if found.name != self.name {
            Drift::Immutable("spec.name cannot change".into())
        } else if found.size != self.size {
            Drift::Update(self.size)
        } else {
            Drift::InSync
        }
    }
}

type WidgetPlan = Plan<WidgetStatus, i32>;

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn updated_at() -> Timestamp {
    "2026-03-01T11:00:00Z".parse().unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        key: k.into(),
        value: v.into(),
    }
}

/// A spec wanting size 2, named "w", with the user tag team=a.
fn spec() -> WidgetSpec {
    WidgetSpec {
        size: 2,
        name: "w".into(),
        tags: vec![tag("team", "a")],
        ..Default::default()
    }
}

fn widget(state: &str) -> Widget {
    Widget {
        id: ID.into(),
        arn: ARN.into(),
        status: state.into(),
        updated: Some(updated_at()),
        size: 2,
        name: "w".into(),
    }
}

fn found(w: Widget, tags: Option<Vec<Tag>>) -> Read<Widget> {
    Read::Found { remote: w, tags }
}

/// What the create sends: identity.
fn create_tags() -> Vec<Tag> {
    identity_tags("c", "ns", "w", "uid")
}

/// What the object should carry of the operator's: identity and policy.
fn own_tags() -> Vec<Tag> {
    let mut own = create_tags();
    own.push(policy_tag(false));
    own
}

/// Every tag the object should carry, as the spec above wants.
fn all_tags() -> Vec<Tag> {
    let mut all = vec![tag("team", "a")];
    all.extend(own_tags());
    all
}

fn plan_at(
    v: &WidgetSpec,
    status: Option<&WidgetStatus>,
    read: &Read<Widget>,
    now: Timestamp,
) -> WidgetPlan {
    let (create, own) = (create_tags(), own_tags());
    let seen = Seen {
        generation: Some(1),
        status,
        create_tags: &create,
        own_tags: &own,
        region: REGION,
        remote: read,
        now,
    };
    decide(v, &seen, &v.tags, &Settings::default())
}

fn plan(v: &WidgetSpec, status: Option<&WidgetStatus>, read: &Read<Widget>) -> WidgetPlan {
    plan_at(v, status, read, now())
}

/// A status that recorded the widget in `state`, as a read left it.
fn recorded(state: &str) -> WidgetStatus {
    let mut s = widget(state).fold(WidgetStatus::default(), Some(1), now());
    s.set_region(REGION);
    s
}

fn cond<'a>(s: &'a WidgetStatus, type_: &str) -> Option<&'a Condition> {
    s.conditions().iter().find(|c| c.type_ == type_)
}

/// A condition's status and reason, ("", "") when absent.
fn says<'a>(s: &'a WidgetStatus, type_: &str) -> (&'a str, &'a str) {
    cond(s, type_).map_or(("", ""), |c| (c.status.as_str(), c.reason.as_str()))
}

fn message<'a>(s: &'a WidgetStatus, type_: &str) -> &'a str {
    cond(s, type_).map_or("", |c| c.message.as_str())
}

// --- create ---

#[test]
fn nothing_recorded_means_create_then_the_tags_the_create_did_not_carry() {
    let p = plan(&spec(), None, &Read::Unread);
    // Sorted by key: the policy tag (not sent with the create), then the user's.
    let after = vec![policy_tag(false), tag("team", "a")];
    assert_eq!(p.actions, vec![Call::Create, Call::Tag(after)]);
    assert_eq!(p.requeue, None);
    assert_eq!(p.status, WidgetStatus::default());
}

#[test]
fn a_create_that_carried_every_tag_needs_no_tag_call() {
    let mut v = spec();
    v.tags.clear();
    let (create, own) = (own_tags(), own_tags());
    let seen = Seen {
        generation: Some(1),
        status: None,
        create_tags: &create,
        own_tags: &own,
        region: REGION,
        remote: &Read::Unread,
        now: now(),
    };
    let p = decide(&v, &seen, &[], &Settings::default());
    assert_eq!(p.actions, vec![Call::Create]);
}

#[test]
fn a_waiting_hold_calls_nothing_and_says_why_in_ready() {
    let mut v = spec();
    v.hold = Some(Hold::Waiting {
        reason: "WaitingForPool",
        message: "the pool is not active yet".into(),
    });
    let p = plan(&v, None, &Read::Unread);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, Some(Settings::default().refresh_interval));
    assert_eq!(says(&p.status, READY), ("False", "WaitingForPool"));
    assert_eq!(message(&p.status, READY), "the pool is not active yet");
    assert_eq!(says(&p.status, RECONCILING).0, "True");
    assert_eq!(says(&p.status, STALLED).0, "False");
    assert_eq!(p.status.observed_generation(), Some(1));
}

#[test]
fn a_refused_hold_stalls_without_calls_or_requeue() {
    let mut v = spec();
    v.hold = Some(Hold::Refused(Error::InvalidReference(
        "no such pool".into(),
    )));
    let p = plan(&v, None, &Read::Unread);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(says(&p.status, READY), ("False", "InvalidReference"));
    assert_eq!(says(&p.status, SYNCED), ("False", "InvalidReference"));
    assert_eq!(says(&p.status, STALLED), ("True", "InvalidReference"));
    assert!(message(&p.status, SYNCED).contains("no such pool"));
}

// --- refused ---

#[test]
fn a_refused_spec_calls_nothing_whatever_was_read() {
    let mut v = spec();
    v.refuse = Some("spec.size is out of range");
    v.size = 5; // would be an update
    // Nothing recorded: no create.
    let p = plan(&v, None, &Read::Unread);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(says(&p.status, SYNCED), ("False", "InvalidSpec"));
    assert!(message(&p.status, SYNCED).contains("spec.size is out of range"));
    // Recorded and found drifted, tags read: still nothing.
    let st = recorded("UP");
    let p = plan(&v, Some(&st), &found(widget("UP"), Some(vec![])));
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(says(&p.status, SYNCED), ("False", "InvalidSpec"));
    assert_eq!(says(&p.status, STALLED), ("True", "InvalidSpec"));
    // The object exists: Ready still says what AWS last said.
    assert_eq!(says(&p.status, READY), ("True", "UP"));
    assert_eq!(p.status.size, Some(2));
}

// --- adoption ---

fn adopting() -> WidgetSpec {
    WidgetSpec {
        adopt: Some(ID.into()),
        ..spec()
    }
}

#[test]
fn an_adopted_object_found_is_recorded_and_tagged_not_created() {
    let p = plan(&adopting(), None, &found(widget("UP"), Some(vec![])));
    assert_eq!(p.actions, vec![Call::Tag(all_tags_sorted())]);
    let st = &p.status;
    assert_eq!(st.widget_id.as_deref(), Some(ID));
    assert_eq!(st.widget_arn.as_deref(), Some(ARN));
    assert_eq!(st.region(), Some(REGION));
    assert_eq!(says(st, READY), ("True", "UP"));
    assert_eq!(p.requeue, Some(Settings::default().refresh_interval));
    // Already carrying its tags: nothing to call.
    let p = plan(&adopting(), None, &found(widget("UP"), Some(all_tags())));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
}

fn all_tags_sorted() -> Vec<Tag> {
    let mut all = all_tags();
    all.sort();
    all
}

#[test]
fn an_adopted_id_aws_does_not_know_is_an_error_and_nothing_is_created() {
    for read in [Read::Gone, Read::Ended] {
        let p = plan(&adopting(), None, &read);
        assert!(p.actions.is_empty(), "{read:?}");
        assert_eq!(p.requeue, None);
        assert_eq!(says(&p.status, READY), ("False", "NotFound"));
        assert_eq!(says(&p.status, SYNCED), ("False", "NotFound"));
        assert_eq!(says(&p.status, STALLED).0, "True");
        let m = message(&p.status, SYNCED);
        assert!(m.contains(ID) && m.contains(REGION), "{m}");
        assert_eq!(p.status.widget_id, None);
    }
}

#[test]
fn an_adoption_not_read_yet_polls_soon() {
    let p = plan(&adopting(), None, &Read::Unread);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, Some(Settings::default().poll_min));
    assert_eq!(p.status, WidgetStatus::default());
}

#[test]
fn an_adoption_whose_read_failed_reports_the_error() {
    let read = Read::Failed(Error::Throttled("slow down".into()));
    let p = plan(&adopting(), None, &read);
    assert!(p.actions.is_empty());
    assert_eq!(says(&p.status, SYNCED), ("False", "Throttled"));
    assert_eq!(says(&p.status, STALLED).0, "False");
}

// --- follow ---

#[test]
fn an_unread_object_waits_for_its_next_read_by_phase() {
    let settings = Settings::default();
    let requeue = |state: &str| {
        let st = recorded(state);
        let p = plan(&spec(), Some(&st), &Read::Unread);
        assert!(p.actions.is_empty(), "{state}");
        assert_eq!(p.status, st, "{state}");
        p.requeue
    };
    assert_eq!(requeue("UP"), Some(settings.refresh_interval));
    assert_eq!(requeue("BROKEN"), None);
    assert_eq!(requeue("DONE"), None);
    let changing = requeue("RESIZING").unwrap_or(Duration::MAX);
    assert!(settings.poll_min <= changing && changing <= settings.poll_max);
}

#[test]
fn a_failed_read_unsyncs_and_calls_nothing() {
    let st = recorded("UP");
    let read = Read::Failed(Error::ServiceUnavailable("later".into()));
    let p = plan(&spec(), Some(&st), &read);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(says(&p.status, SYNCED), ("False", "ServiceUnavailable"));
    // A failed read says nothing new of the object.
    assert_eq!(says(&p.status, READY), ("True", "UP"));
}

#[test]
fn an_object_aws_no_longer_knows_is_gone_and_final() {
    let st = recorded("UP");
    let p = plan(&spec(), Some(&st), &Read::Gone);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(p.status.widget_state.as_deref(), Some(GONE));
    assert_eq!(p.status.phase(), Phase::Final);
    let kind = WidgetSpec::KIND;
    assert_eq!(says(&p.status, READY), ("False", kind.gone_reason));
    assert_eq!(message(&p.status, READY), kind.gone_message);
    assert_eq!(says(&p.status, STALLED), ("True", kind.gone_reason));
}

#[test]
fn a_finished_object_removed_stays_finished_from_when_it_finished() {
    let st = recorded("DONE");
    assert_eq!(st.finished_at, Some(updated_at().to_string()));
    let later: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    let p = plan_at(&spec(), Some(&st), &Read::Gone, later);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(p.status.finished_at, st.finished_at);
    assert_eq!(p.status.widget_state.as_deref(), Some(GONE));
    assert_eq!(says(&p.status, FINISHED), ("True", "Removed"));
    assert_eq!(cond(&p.status, READY), None);
    assert_eq!(says(&p.status, STALLED).0, "False");
}

#[test]
fn an_object_whose_work_ended_unseen_finishes_now() {
    let st = recorded("UP");
    let p = plan(&spec(), Some(&st), &Read::Ended);
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(p.status.finished_at, Some(now().to_string()));
    assert_eq!(p.status.phase(), Phase::Finished);
    assert_eq!(says(&p.status, FINISHED), ("True", "Removed"));
    assert_eq!(says(&p.status, SYNCED).0, "True");
    assert_eq!(cond(&p.status, READY), None);
    // Ended after it was seen finished: it keeps its own end.
    let done = recorded("DONE");
    let p = plan(&spec(), Some(&done), &Read::Ended);
    assert_eq!(p.status.finished_at, done.finished_at);
}

#[test]
fn another_object_behind_the_id_is_gone_and_left_alone() {
    let mut v = spec();
    v.other = true;
    v.size = 5; // would be an update
    let st = recorded("UP");
    let mut other = widget("RESIZING");
    other.size = 9;
    let p = plan(&v, Some(&st), &found(other, Some(vec![])));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.requeue, None);
    assert_eq!(p.status.widget_state.as_deref(), Some(GONE));
    assert_eq!(says(&p.status, READY), ("False", "WidgetGone"));
    assert_eq!(message(&p.status, READY), "widget w-1 is another one");
    // Nothing of the other object was recorded.
    assert_eq!(p.status.size, Some(2));
}

#[test]
fn a_size_drift_is_updated_in_place_with_the_tags_read() {
    let mut v = spec();
    v.size = 3;
    let st = recorded("UP");
    let p = plan(
        &v,
        Some(&st),
        &found(widget("UP"), Some(vec![tag("old", "x")])),
    );
    assert_eq!(
        p.actions,
        vec![
            Call::Update(3),
            Call::Untag(vec!["old".into()]),
            Call::Tag(all_tags_sorted()),
        ]
    );
    assert_eq!(p.requeue, Some(Settings::default().refresh_interval));
    assert_eq!(says(&p.status, SYNCED).0, "True");
}

#[test]
fn tags_not_read_are_left_alone() {
    let mut v = spec();
    v.size = 3;
    let st = recorded("UP");
    let p = plan(&v, Some(&st), &found(widget("UP"), None));
    assert_eq!(p.actions, vec![Call::Update(3)]);
    // In sync, tags unread: nothing at all.
    let p = plan(&spec(), Some(&st), &found(widget("UP"), None));
    assert!(p.actions.is_empty());
}

#[test]
fn a_name_change_calls_nothing_and_ready_still_follows_aws() {
    let mut v = spec();
    v.name = "renamed".into();
    v.size = 3; // an update is not made either
    let st = recorded("UP");
    let p = plan(&v, Some(&st), &found(widget("UP"), Some(vec![])));
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(says(&p.status, SYNCED), ("False", "ImmutableFieldChanged"));
    assert!(message(&p.status, SYNCED).contains("spec.name"));
    assert_eq!(says(&p.status, STALLED), ("True", "ImmutableFieldChanged"));
    assert_eq!(says(&p.status, READY), ("True", "UP"));
    assert_eq!(p.requeue, Some(Settings::default().refresh_interval));
}

#[test]
fn a_finished_state_read_finishes_when_aws_last_updated_it() {
    let st = recorded("UP");
    let p = plan(&spec(), Some(&st), &found(widget("DONE"), None));
    assert!(p.actions.is_empty());
    assert_eq!(p.requeue, None);
    assert_eq!(p.status.finished_at, Some(updated_at().to_string()));
    assert_eq!(says(&p.status, FINISHED), ("True", "DONE"));
    assert_eq!(cond(&p.status, READY), None);
    assert_eq!(says(&p.status, RECONCILING), ("False", FINISHED));
    assert_eq!(says(&p.status, STALLED).0, "False");
}

#[test]
fn a_finished_state_without_an_update_time_finishes_now() {
    let mut done = widget("DONE");
    done.updated = None;
    let p = plan(&spec(), Some(&recorded("UP")), &found(done, None));
    assert_eq!(p.status.finished_at, Some(now().to_string()));
}

#[test]
fn an_unknown_state_is_not_ready_and_read_soon() {
    let st = recorded("UP");
    let p = plan(&spec(), Some(&st), &found(widget("MELTING"), None));
    assert!(p.actions.is_empty());
    assert_eq!(says(&p.status, READY), ("False", "UnknownStatus"));
    assert_eq!(says(&p.status, RECONCILING).0, "True");
    assert_eq!(says(&p.status, STALLED).0, "False");
    assert_eq!(p.status.phase(), Phase::Changing);
    let settings = Settings::default();
    assert!(p.requeue.is_some_and(|r| r <= settings.poll_max));
}

#[test]
fn a_failed_state_stalls() {
    let p = plan(
        &spec(),
        Some(&recorded("UP")),
        &found(widget("BROKEN"), None),
    );
    assert_eq!(says(&p.status, READY), ("False", "BROKEN"));
    assert_eq!(says(&p.status, STALLED), ("True", "BROKEN"));
    assert_eq!(p.requeue, None);
}

// --- replays ---

#[test]
fn the_same_observation_replayed_gives_the_same_plan() {
    let v = spec();
    // Before anything is recorded.
    assert_eq!(plan(&v, None, &Read::Unread), plan(&v, None, &Read::Unread));
    // Once the create recorded an ID, replays never create again.
    let created = widget("RESIZING").fold(WidgetStatus::default(), Some(1), now());
    for read in [
        Read::Unread,
        Read::Gone,
        Read::Ended,
        Read::Failed(Error::Network("down".into())),
        found(widget("UP"), Some(vec![])),
    ] {
        let p = plan(&v, Some(&created), &read);
        assert!(!p.actions.contains(&Call::Create), "{read:?}");
        assert_eq!(p, plan(&v, Some(&created), &read), "{read:?}");
    }
}

#[test]
fn a_replay_of_its_own_status_is_a_fixed_point_even_later() {
    let mut v = spec();
    v.size = 3;
    let read = found(widget("UP"), None);
    let first = plan(&v, Some(&recorded("UP")), &read);
    let later: Timestamp = "2026-03-01T13:00:00Z".parse().unwrap();
    let again = plan_at(&v, Some(&first.status), &read, later);
    // The update is asked again (AWS has not changed), and the status, its
    // transition times included, does not move.
    assert_eq!(again, first);
    // So for a waiting hold, and a gone object.
    let mut held = spec();
    held.hold = Some(Hold::Waiting {
        reason: "WaitingForPool",
        message: "later".into(),
    });
    let first = plan(&held, None, &Read::Unread);
    assert_eq!(
        plan_at(&held, Some(&first.status), &Read::Unread, later),
        first
    );
    let first = plan(&spec(), Some(&recorded("UP")), &Read::Gone);
    assert_eq!(
        plan_at(&spec(), Some(&first.status), &Read::Gone, later),
        first
    );
}
