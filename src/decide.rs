//! The reconcile decision: a pure function from what was observed (the
//! resource, and what AWS said about its pipeline) to the AWS actions to take
//! and the status to write. No I/O here; the clock comes in as an argument.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::crd::{
    MediaStreamPipelineSpec, MediaStreamPipelineStatus, MediaStreamSink, MediaStreamSource, Tag,
};
use crate::error::{Backoff, Error, PERMANENT_REASONS};

pub const READY: &str = "Ready";
pub const SYNCED: &str = "Synced";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
/// pipelineStatus once AWS no longer knows the pipeline.
pub const GONE: &str = "Gone";
/// Condition messages are never empty: the API server refuses a null message.
pub const SYNCED_OK: &str = "The last reconcile reached AWS and succeeded.";

/// Timing settings of the controller.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How often an InProgress (or Paused, NotStarted) pipeline is re-read.
    pub refresh_interval: Duration,
    /// Shortest and longest wait between reads while a pipeline is changing
    /// state (Initializing, Stopping).
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

/// The pipeline as AWS describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePipeline {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    pub sources: Vec<MediaStreamSource>,
    pub sinks: Vec<MediaStreamSink>,
}

/// What a read of AWS gave.
#[derive(Debug)]
pub enum Remote {
    /// Not read this time (nothing to create, refresh not due).
    Unread,
    Found {
        pipeline: RemotePipeline,
        /// Read only when the spec changed, since only then can tags differ.
        tags: Option<Vec<Tag>>,
    },
    /// GetMediaPipeline answered NotFound.
    Gone,
    Failed(Error),
}

#[derive(Debug)]
pub struct Observation<'a> {
    pub generation: Option<i64>,
    pub spec: &'a MediaStreamPipelineSpec,
    pub status: Option<&'a MediaStreamPipelineStatus>,
    /// The tags sent with the create (see [`create_tags`]).
    pub create_tags: &'a [Tag],
    /// The spec's sinks with pool references resolved to ARNs, or why they
    /// cannot be yet (a referenced pool is missing or not ACTIVE).
    pub sinks: &'a Result<Vec<MediaStreamSink>, String>,
    /// The region the calls go to: the recorded one once the pipeline
    /// exists, else the spec's or the operator's.
    pub region: &'a str,
    pub remote: &'a Remote,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// CreateMediaStreamPipeline with the resource's UID as ClientRequestToken.
    Create,
    Tag(Vec<Tag>),
    Untag(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub status: MediaStreamPipelineStatus,
    /// When to look again; None waits for the next change of the resource.
    pub requeue: Option<Duration>,
}

/// Should the reconcile read the pipeline from AWS? Only when there is one and
/// the spec changed or the refresh for its status is due.
pub fn refresh_due(
    generation: Option<i64>,
    status: Option<&MediaStreamPipelineStatus>,
    since_last_read: Option<Duration>,
    settings: &Settings,
    now: Timestamp,
) -> bool {
    let Some(status) = status.filter(|s| s.media_pipeline_id.is_some()) else {
        return false;
    };
    due(
        generation,
        status.observed_generation,
        next_read(status, settings, now),
        since_last_read,
    )
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

/// How long until the pipeline should be read again, by its remote status.
pub fn next_read(
    status: &MediaStreamPipelineStatus,
    settings: &Settings,
    now: Timestamp,
) -> Option<Duration> {
    match status.pipeline_status.as_deref() {
        Some("Stopped" | "Failed") | Some(GONE) => None,
        Some("InProgress" | "Paused" | "NotStarted") => Some(settings.refresh_interval),
        _ => Some(poll_interval(
            status.updated_timestamp.as_deref(),
            settings,
            now,
        )),
    }
}

/// While a remote object changes state: read soon, then less often the
/// longer it takes.
pub fn poll_interval(updated: Option<&str>, settings: &Settings, now: Timestamp) -> Duration {
    let age = updated
        .and_then(|t| t.parse::<Timestamp>().ok())
        .and_then(|t| Duration::try_from(now.duration_since(t)).ok())
        .unwrap_or_default();
    (age / 4).clamp(settings.poll_min, settings.poll_max)
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> Plan {
    let mut status = obs.status.cloned().unwrap_or_default();
    let generation = obs.generation;
    let now = obs.now;

    let desired = desired_tags(&obs.spec.tags, obs.create_tags);
    if let (Some(id), Some(adopt)) = (&status.media_pipeline_id, &obs.spec.adopt_media_pipeline_id)
        && id != adopt
    {
        let err = Error::ImmutableFieldChanged(format!(
            "spec.adoptMediaPipelineId is {adopt}, but this resource already manages {id}"
        ));
        return Plan {
            actions: vec![],
            status: with_error(status, &err, generation, now),
            requeue: None,
        };
    }
    if let (Some(want), Some(have)) = (&obs.spec.region, &status.region)
        && status.media_pipeline_id.is_some()
        && want != have
    {
        let err = Error::ImmutableFieldChanged(format!(
            "spec.region cannot change once the media pipeline exists (it lives in {have}); \
             restore it, or create a new MediaStreamPipeline"
        ));
        return Plan {
            actions: vec![],
            status: with_error(status, &err, generation, now),
            requeue: None,
        };
    }
    if status.media_pipeline_id.is_none()
        && let Some(adopt) = &obs.spec.adopt_media_pipeline_id
    {
        // Adoption: read, never create.
        return match obs.remote {
            Remote::Found { pipeline, .. } => {
                status = with_remote(status, pipeline, generation, now);
                status.region = Some(obs.region.to_string());
                if let Some(msg) = immutable_change(obs.spec, obs.sinks, pipeline) {
                    status =
                        with_error(status, &Error::ImmutableFieldChanged(msg), generation, now);
                }
                let requeue = next_read(&status, settings, now);
                Plan {
                    actions: vec![],
                    status,
                    requeue,
                }
            }
            Remote::Gone => {
                let err = Error::NotFound(format!(
                    "media pipeline {adopt} (spec.adoptMediaPipelineId) does not exist in {}; nothing is created",
                    obs.region
                ));
                Plan {
                    actions: vec![],
                    status: with_error(status, &err, generation, now),
                    requeue: None,
                }
            }
            Remote::Failed(err) => Plan {
                actions: vec![],
                status: with_error(status, err, generation, now),
                requeue: None,
            },
            Remote::Unread => Plan {
                actions: vec![],
                status,
                requeue: Some(settings.poll_min),
            },
        };
    }
    if status.media_pipeline_id.is_none() {
        if let Err(waiting) = obs.sinks {
            status.observed_generation = generation;
            set_observed(
                &mut status.conditions,
                false,
                "WaitingForPool",
                waiting,
                generation,
                now,
            );
            settle_pipeline(&mut status, generation, now);
            // The pool's own changes wake this resource; the requeue is a backstop.
            return Plan {
                actions: vec![],
                status,
                requeue: Some(settings.refresh_interval),
            };
        }
        // User tags go on after the create: the create's input is then fixed
        // by immutable fields alone, so a replay with the same token always
        // matches, however the tags were edited meanwhile.
        let mut actions = vec![Action::Create];
        actions.extend(tag_actions(&desired, obs.create_tags));
        return Plan {
            actions,
            status,
            requeue: None,
        };
    }

    match obs.remote {
        Remote::Unread => {
            let requeue = next_read(&status, settings, now);
            Plan {
                actions: vec![],
                status,
                requeue,
            }
        }
        // The controller retries failures on its own backoff.
        Remote::Failed(err) => Plan {
            actions: vec![],
            status: with_error(status, err, generation, now),
            requeue: None,
        },
        Remote::Gone => {
            status.pipeline_status = Some(GONE.into());
            status.observed_generation = generation;
            set_condition(
                &mut status.conditions,
                READY,
                false,
                "PipelineGone",
                "AWS no longer knows this media pipeline (its meeting may have ended); it is not \
                 recreated. Delete this resource, or create a new one for a new pipeline.",
                generation,
                now,
            );
            settle_pipeline(&mut status, generation, now);
            Plan {
                actions: vec![],
                status,
                requeue: None,
            }
        }
        Remote::Found { pipeline, tags } => {
            status = with_remote(status, pipeline, generation, now);
            status.region = Some(obs.region.to_string());
            if let Some(msg) = immutable_change(obs.spec, obs.sinks, pipeline) {
                let err = Error::ImmutableFieldChanged(msg);
                status = with_error(status, &err, generation, now);
                return Plan {
                    actions: vec![],
                    requeue: next_read(&status, settings, now),
                    status,
                };
            }
            let actions = tags
                .as_ref()
                .map(|t| tag_actions(&desired, t))
                .unwrap_or_default();
            let requeue = next_read(&status, settings, now);
            Plan {
                actions,
                status,
                requeue,
            }
        }
    }
}

/// The status after AWS described the pipeline (a create or a read).
pub fn with_remote(
    mut status: MediaStreamPipelineStatus,
    p: &RemotePipeline,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    status.media_pipeline_id = Some(p.id.clone());
    status.media_pipeline_arn = Some(p.arn.clone());
    status.pipeline_status = Some(p.status.clone());
    status.created_timestamp = p.created.map(|t| t.to_string());
    status.updated_timestamp = p.updated.map(|t| t.to_string());
    status.observed_generation = generation;
    let (ready, reason, message) = match p.status.as_str() {
        "InProgress" => (true, "InProgress", "The media pipeline is streaming."),
        "Initializing" => (false, "Initializing", "The media pipeline is starting."),
        "Stopping" => (false, "Stopping", "The media pipeline is stopping."),
        "Stopped" => (
            false,
            "Stopped",
            "The media pipeline has stopped (its meeting may have ended).",
        ),
        "Failed" => (false, "Failed", "The media pipeline failed in AWS."),
        "Paused" => (false, "Paused", "The media pipeline is paused."),
        "NotStarted" => (false, "NotStarted", "The media pipeline has not started."),
        _ => (
            false,
            "UnknownStatus",
            "AWS reports a status this operator does not know.",
        ),
    };
    set_observed(
        &mut status.conditions,
        ready,
        reason,
        message,
        generation,
        now,
    );
    settle_pipeline(&mut status, generation, now);
    status
}

/// The status after a step failed. Ready is left alone when a pipeline exists
/// (a failed read says nothing new about it).
pub fn with_error(
    mut status: MediaStreamPipelineStatus,
    err: &Error,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    let message = err.to_string();
    if status.media_pipeline_id.is_none() {
        status.observed_generation = generation;
        set_condition(
            &mut status.conditions,
            READY,
            false,
            err.reason(),
            &message,
            generation,
            now,
        );
    }
    set_condition(
        &mut status.conditions,
        SYNCED,
        false,
        err.reason(),
        &message,
        generation,
        now,
    );
    settle_pipeline(&mut status, generation, now);
    status
}

fn settle_pipeline(
    status: &mut MediaStreamPipelineStatus,
    generation: Option<i64>,
    now: Timestamp,
) {
    let terminal = matches!(
        status.pipeline_status.as_deref(),
        Some("Failed" | "Stopped") | Some(GONE)
    );
    settle(&mut status.conditions, terminal, generation, now);
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

/// Derives the kstatus conditions from Ready and Synced, so that Flux,
/// `kubectl wait` and Argo CD can tell progress from failure:
/// `Stalled` is True when only a person can help (a permanent error, or a
/// remote object that is `terminal`: failed, stopped or gone); otherwise
/// `Reconciling` is True until Ready is.
pub fn settle(
    conditions: &mut Vec<Condition>,
    terminal: bool,
    generation: Option<i64>,
    now: Timestamp,
) {
    let get = |t: &str| conditions.iter().find(|c| c.type_ == t).cloned();
    let ready = get(READY);
    let synced = get(SYNCED);
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
            match ready.filter(|_| !is_ready) {
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

/// Did the spec's sources or sinks change since the pipeline was created?
/// Sinks compare once resolved to ARNs; unresolvable ones are not judged.
fn immutable_change(
    spec: &MediaStreamPipelineSpec,
    sinks: &Result<Vec<MediaStreamSink>, String>,
    remote: &RemotePipeline,
) -> Option<String> {
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    let mut changed = vec![];
    if sorted(&spec.sources) != sorted(&remote.sources) {
        changed.push("spec.sources");
    }
    if let Ok(sinks) = sinks
        && sorted(sinks) != sorted(&remote.sinks)
    {
        changed.push("spec.sinks");
    }
    (!changed.is_empty()).then(|| {
        format!(
            "{} cannot change once the media pipeline exists (AWS has no update for them); \
             restore the original values, or create a new MediaStreamPipeline",
            changed.join(" and ")
        )
    })
}

/// Tags the operator puts on every pipeline so that it can be traced back to
/// its resource.
pub fn identity_tags(namespace: &str, name: &str, uid: &str) -> Vec<Tag> {
    [("namespace", namespace), ("name", name), ("uid", uid)]
        .into_iter()
        .map(|(k, v)| Tag {
            key: format!("chimeoperator.dev/{k}"),
            value: v.into(),
        })
        .collect()
}

/// The tags sent with CreateMediaStreamPipeline: the operator's own, minus
/// any key the user sets (user tags win), and none at all if they would
/// push the pipeline past the model's 200 tags.
pub fn create_tags(user: &[Tag], operator: &[Tag]) -> Vec<Tag> {
    let own: Vec<Tag> = operator
        .iter()
        .filter(|t| !user.iter().any(|u| u.key == t.key))
        .cloned()
        .collect();
    if user.len() + own.len() > 200 {
        return vec![];
    }
    own
}

/// The tags the pipeline should carry: the user's, plus the operator's
/// that were sent at create.
pub fn desired_tags(user: &[Tag], create_tags: &[Tag]) -> Vec<Tag> {
    let mut all = user.to_vec();
    all.extend(
        create_tags
            .iter()
            .filter(|t| !user.iter().any(|u| u.key == t.key))
            .cloned(),
    );
    all
}

/// The Tag/Untag calls that bring the remote tags to the desired ones.
pub fn tag_actions(desired: &[Tag], remote: &[Tag]) -> Vec<Action> {
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
        actions.push(Action::Untag(remove));
    }
    if !add.is_empty() {
        actions.push(Action::Tag(add));
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
mod tests {
    use super::*;
    use crate::crd::{MediaStreamType, SinkType, SourceType};

    fn spec(tags: &[(&str, &str)]) -> MediaStreamPipelineSpec {
        MediaStreamPipelineSpec {
            sources: vec![MediaStreamSource {
                source_type: SourceType::ChimeSdkMeeting,
                source_arn: "arn:aws:chime:us-east-1:1:meeting/m".into(),
            }],
            sinks: vec![MediaStreamSink {
                sink_arn: Some(
                    "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p".into(),
                ),
                pool_ref: None,
                sink_type: SinkType::KinesisVideoStreamPool,
                reserved_stream_capacity: 1,
                media_stream_type: MediaStreamType::MixedAudio,
            }],
            region: None,
            adopt_media_pipeline_id: None,
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            deletion_policy: None,
        }
    }

    fn remote(spec: &MediaStreamPipelineSpec, status: &str) -> RemotePipeline {
        RemotePipeline {
            id: "6d5caf81-8c83-487c-bf9a-a2fb52822d93".into(),
            arn: "arn:aws:chime:us-east-1:1:media-pipeline/6d5caf81".into(),
            status: status.into(),
            created: Some(Timestamp::UNIX_EPOCH),
            updated: Some(Timestamp::UNIX_EPOCH),
            sources: spec.sources.clone(),
            sinks: spec.sinks.clone(),
        }
    }

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn cond<'a>(s: &'a MediaStreamPipelineStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    fn existing(
        spec: &MediaStreamPipelineSpec,
        status: &str,
        generation: i64,
    ) -> MediaStreamPipelineStatus {
        with_remote(
            Default::default(),
            &remote(spec, status),
            Some(generation),
            now(),
        )
    }

    #[test]
    fn no_pipeline_id_means_create() {
        let spec = spec(&[]);
        let plan = decide(
            Observation {
                generation: Some(1),
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
                region: "us-east-1",
                status: None,
                create_tags: &[],
                remote: &Remote::Unread,
                now: now(),
            },
            &Settings::default(),
        );
        assert_eq!(plan.actions, vec![Action::Create]);
    }

    #[test]
    fn a_known_pipeline_is_never_created_again() {
        let spec = spec(&[]);
        for status in ["InProgress", "Stopped", "Failed", "Initializing"] {
            let st = existing(&spec, status, 1);
            for remote_seen in [
                Remote::Unread,
                Remote::Gone,
                Remote::Failed(Error::Throttled("t".into())),
            ] {
                let plan = decide(
                    Observation {
                        generation: Some(1),
                        spec: &spec,
                        sinks: &Ok(spec.sinks.clone()),
                        region: "us-east-1",
                        status: Some(&st),
                        create_tags: &[],
                        remote: &remote_seen,
                        now: now(),
                    },
                    &Settings::default(),
                );
                assert!(!plan.actions.contains(&Action::Create), "{status}");
            }
        }
    }

    #[test]
    fn ready_follows_the_remote_status() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        assert_eq!(cond(&st, READY).status, "True");
        assert_eq!(cond(&st, SYNCED).status, "True");
        let st = existing(&spec, "Stopped", 1);
        assert_eq!(
            (
                cond(&st, READY).status.as_str(),
                cond(&st, READY).reason.as_str()
            ),
            ("False", "Stopped")
        );
        assert_eq!(st.pipeline_status.as_deref(), Some("Stopped"));
        assert_eq!(st.observed_generation, Some(1));
    }

    #[test]
    fn a_pipeline_gone_is_reported_not_recreated() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        let plan = decide(
            Observation {
                generation: Some(1),
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
                region: "us-east-1",
                status: Some(&st),
                create_tags: &[],
                remote: &Remote::Gone,
                now: now(),
            },
            &Settings::default(),
        );
        assert!(plan.actions.is_empty());
        assert_eq!(plan.requeue, None);
        assert_eq!(plan.status.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(cond(&plan.status, READY).reason, "PipelineGone");
    }

    #[test]
    fn changed_sinks_are_refused_without_aws_calls() {
        let old = spec(&[]);
        let st = existing(&old, "InProgress", 1);
        let mut new = old.clone();
        new.sinks[0].reserved_stream_capacity = 5;
        new.tags = vec![Tag {
            key: "a".into(),
            value: "b".into(),
        }];
        let plan = decide(
            Observation {
                generation: Some(2),
                spec: &new,
                sinks: &Ok(new.sinks.clone()),
                region: "us-east-1",
                status: Some(&st),
                create_tags: &[],
                remote: &Remote::Found {
                    pipeline: remote(&old, "InProgress"),
                    tags: Some(vec![]),
                },
                now: now(),
            },
            &Settings::default(),
        );
        assert!(plan.actions.is_empty());
        let synced = cond(&plan.status, SYNCED);
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "ImmutableFieldChanged")
        );
        assert!(synced.message.contains("spec.sinks"), "{}", synced.message);
        // The pipeline itself is still fine.
        assert_eq!(cond(&plan.status, READY).status, "True");
    }

    #[test]
    fn tags_are_brought_to_the_spec() {
        let s = spec(&[("keep", "1"), ("change", "new"), ("add", "x")]);
        let st = existing(&s, "InProgress", 1);
        let remote_tags = vec![
            Tag {
                key: "keep".into(),
                value: "1".into(),
            },
            Tag {
                key: "change".into(),
                value: "old".into(),
            },
            Tag {
                key: "drop".into(),
                value: "z".into(),
            },
        ];
        let plan = decide(
            Observation {
                generation: Some(2),
                spec: &s,
                sinks: &Ok(s.sinks.clone()),
                region: "us-east-1",
                status: Some(&st),
                create_tags: &[],
                remote: &Remote::Found {
                    pipeline: remote(&s, "InProgress"),
                    tags: Some(remote_tags),
                },
                now: now(),
            },
            &Settings::default(),
        );
        assert_eq!(
            plan.actions,
            vec![
                Action::Untag(vec!["drop".into()]),
                Action::Tag(vec![
                    Tag {
                        key: "add".into(),
                        value: "x".into()
                    },
                    Tag {
                        key: "change".into(),
                        value: "new".into()
                    },
                ]),
            ]
        );
        assert_eq!(plan.status.observed_generation, Some(2));
    }

    #[test]
    fn refresh_cadence_follows_the_remote_status() {
        let s = spec(&[]);
        let settings = Settings::default();
        let at = |status: &str, since: Option<u64>| {
            let st = existing(&s, status, 1);
            refresh_due(
                Some(1),
                Some(&st),
                since.map(Duration::from_secs),
                &settings,
                now(),
            )
        };
        // Never read by this process (a restart): read once.
        assert!(at("InProgress", None));
        assert!(!at("InProgress", Some(60)));
        assert!(at("InProgress", Some(301)));
        // Changing state: soon.
        assert!(at("Initializing", Some(16)));
        // Terminal: never, whatever the time.
        assert!(!at("Stopped", Some(100_000)));
        assert!(!at("Failed", None));
        // A spec change always reads.
        let st = existing(&s, "Stopped", 1);
        assert!(refresh_due(
            Some(2),
            Some(&st),
            Some(Duration::ZERO),
            &settings,
            now()
        ));
        // Nothing to read without a pipeline.
        assert!(!refresh_due(Some(1), None, None, &settings, now()));
    }

    #[test]
    fn terminal_pipelines_are_not_requeued() {
        let s = spec(&[]);
        for (status, requeue) in [
            ("Stopped", None),
            ("Failed", None),
            ("InProgress", Some(Duration::from_secs(300))),
        ] {
            let st = existing(&s, status, 1);
            let plan = decide(
                Observation {
                    generation: Some(1),
                    spec: &s,
                    sinks: &Ok(s.sinks.clone()),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    remote: &Remote::Unread,
                    now: now(),
                },
                &Settings::default(),
            );
            assert_eq!(plan.requeue, requeue, "{status}");
        }
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time() {
        let mut conds = vec![];
        let t0 = now();
        let t1: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        set_condition(&mut conds, READY, false, "Initializing", "m", Some(1), t0);
        set_condition(&mut conds, READY, false, "Initializing", "m", Some(1), t1);
        assert_eq!(conds[0].last_transition_time.0, t0);
        set_condition(&mut conds, READY, true, "InProgress", "m", Some(1), t1);
        assert_eq!(conds[0].last_transition_time.0, t1);
        assert_eq!(conds.len(), 1);
    }

    #[test]
    fn a_failed_create_says_why_in_both_conditions() {
        let st = with_error(
            Default::default(),
            &Error::BadRequest("meeting not accepted".into()),
            Some(3),
            now(),
        );
        for t in [READY, SYNCED] {
            let c = cond(&st, t);
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "BadRequest")
            );
            assert!(c.message.contains("meeting not accepted"));
        }
        assert_eq!(st.observed_generation, Some(3));
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
    fn user_tags_win_over_the_operators() {
        let own = identity_tags("ns", "n", "u");
        let user = vec![tag("chimeoperator.dev/name", "mine"), tag("team", "a")];
        let at_create = create_tags(&user, &own);
        assert_eq!(at_create, vec![own[0].clone(), own[2].clone()]);
        let desired = desired_tags(&user, &at_create);
        assert_eq!(desired.len(), 4);
        assert!(desired.contains(&tag("chimeoperator.dev/name", "mine")));
    }

    #[test]
    fn the_operators_tags_never_push_past_200() {
        let own = identity_tags("ns", "n", "u");
        let user: Vec<Tag> = (0..199).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(create_tags(&user, &own).is_empty());
        assert_eq!(create_tags(&user[..197], &own).len(), 3);
    }

    /// User tags are applied after the create, so the create's input never
    /// depends on them.
    #[test]
    fn a_new_pipeline_gets_user_tags_after_the_create() {
        let spec: MediaStreamPipelineSpec = serde_json::from_value(serde_json::json!({
            "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": "arn:aws:chime:us-east-1:1:meeting/m"}],
            "sinks": [{"sinkType": "KinesisVideoStreamPool", "sinkArn": "arn:aws:chime:us-east-1:1:p/x", "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
            "tags": [{"key": "team", "value": "a"}],
        }))
        .unwrap();
        let own = identity_tags("ns", "n", "u");
        let plan = decide(
            Observation {
                generation: Some(1),
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
                region: "us-east-1",
                status: None,
                create_tags: &own,
                remote: &Remote::Unread,
                now: Timestamp::UNIX_EPOCH,
            },
            &Settings::default(),
        );
        assert_eq!(
            plan.actions,
            vec![Action::Create, Action::Tag(vec![tag("team", "a")])]
        );
    }
}

#[cfg(test)]
mod kstatus_tests {
    use super::*;

    fn state(status: &MediaStreamPipelineStatus) -> (String, String) {
        let get = |t: &str| {
            status
                .conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| format!("{}:{}", c.status, c.reason))
                .unwrap_or_default()
        };
        (get(RECONCILING), get(STALLED))
    }

    fn remote(status: &str) -> RemotePipeline {
        RemotePipeline {
            id: "i".into(),
            arn: "a".into(),
            status: status.into(),
            created: None,
            updated: None,
            sources: vec![],
            sinks: vec![],
        }
    }

    #[test]
    fn progress_and_failure_are_told_apart() {
        let t = Timestamp::UNIX_EPOCH;
        let s = |st: &str| with_remote(Default::default(), &remote(st), Some(1), t);
        assert_eq!(
            state(&s("InProgress")),
            ("False:Ready".into(), "False:NotStalled".into())
        );
        assert_eq!(
            state(&s("Initializing")),
            ("True:Initializing".into(), "False:NotStalled".into())
        );
        assert_eq!(
            state(&s("Failed")),
            ("False:Stalled".into(), "True:Failed".into())
        );
        assert_eq!(
            state(&s("Stopped")),
            ("False:Stalled".into(), "True:Stopped".into())
        );
        let e = |err: Error| with_error(Default::default(), &err, Some(1), t);
        assert_eq!(state(&e(Error::Throttled("x".into()))).0, "True:Throttled");
        assert_eq!(
            state(&e(Error::ResourceLimitExceeded("x".into()))).0,
            "True:ResourceLimitExceeded"
        );
        assert_eq!(
            state(&e(Error::BadRequest("x".into()))).1,
            "True:BadRequest"
        );
        // A refused edit of an immutable field stalls even a streaming pipeline.
        let st = with_error(
            s("InProgress"),
            &Error::ImmutableFieldChanged("x".into()),
            Some(2),
            t,
        );
        assert_eq!(state(&st).1, "True:ImmutableFieldChanged");
    }
}
