//! The MediaStreamPipeline decision: create while no pipeline is recorded
//! (or read the adopted one), then follow AWS; sources and sinks are
//! compared, never updated (AWS has no update for them).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{
    Action, GONE, ManagedStatus, Phase, Plan, Remote, RemoteObject, desired_tags, next_read,
    set_observed, settle_status, tag_actions, with_error, with_gone,
};
use crate::aws::RemotePipeline;
use crate::config::Settings;
use crate::crd::{MediaStreamPipelineSpec, MediaStreamPipelineStatus, MediaStreamSink, Tag};
use crate::error::Error;

/// Pipelines have nothing AWS can update in place.
pub type PipelineAction = Action<std::convert::Infallible>;
pub type PipelinePlan = Plan<MediaStreamPipelineStatus, std::convert::Infallible>;

impl ManagedStatus for MediaStreamPipelineStatus {
    fn remote_id(&self) -> Option<&str> {
        self.media_pipeline_id.as_deref()
    }
    fn remote_arn(&self) -> Option<&str> {
        self.media_pipeline_arn.as_deref()
    }
    fn remote_state(&self) -> Option<&str> {
        self.pipeline_status.as_deref()
    }
    fn set_remote_state(&mut self, state: &str) {
        self.pipeline_status = Some(state.into());
    }
    fn phase(&self) -> Phase {
        match self.pipeline_status.as_deref() {
            Some("Stopped" | "Failed" | GONE) => Phase::Final,
            Some("InProgress" | "Paused" | "NotStarted") => Phase::Steady,
            _ => Phase::Changing,
        }
    }
    fn updated_timestamp(&self) -> Option<&str> {
        self.updated_timestamp.as_deref()
    }
    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    fn set_region(&mut self, region: &str) {
        self.region = Some(region.into());
    }
    fn observed_generation(&self) -> Option<i64> {
        self.observed_generation
    }
    fn set_observed_generation(&mut self, generation: Option<i64>) {
        self.observed_generation = generation;
    }
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
}

impl RemoteObject for RemotePipeline {
    type Status = MediaStreamPipelineStatus;
    fn id(&self) -> &str {
        &self.id
    }
    fn arn(&self) -> &str {
        &self.arn
    }
    fn fold(&self, status: Self::Status, generation: Option<i64>, now: Timestamp) -> Self::Status {
        with_remote(status, self, generation, now)
    }
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
    pub remote: &'a Remote<RemotePipeline>,
    pub now: Timestamp,
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> PipelinePlan {
    let status = obs.status.cloned().unwrap_or_default();
    if let Some(err) = refused_change(&obs, &status) {
        return PipelinePlan::idle(with_error(status, &err, obs.generation, obs.now), None);
    }
    match (&status.media_pipeline_id, &obs.spec.adopt_media_pipeline_id) {
        (None, Some(adopt)) => adopt_existing(&obs, status, adopt, settings),
        (None, None) => create(&obs, status, settings),
        (Some(_), _) => follow(&obs, status, settings),
    }
}

/// A change the recorded pipeline cannot follow: another adopted ID, or
/// another region.
fn refused_change(obs: &Observation<'_>, status: &MediaStreamPipelineStatus) -> Option<Error> {
    let id = status.media_pipeline_id.as_ref()?;
    if let Some(adopt) = &obs.spec.adopt_media_pipeline_id
        && id != adopt
    {
        return Some(Error::ImmutableFieldChanged(format!(
            "spec.adoptMediaPipelineId is {adopt}, but this resource already manages {id}"
        )));
    }
    match (&obs.spec.region, &status.region) {
        (Some(want), Some(have)) if want != have => Some(Error::ImmutableFieldChanged(format!(
            "spec.region cannot change once the media pipeline exists (it lives in {have}); \
             restore it, or create a new MediaStreamPipeline"
        ))),
        _ => None,
    }
}

/// Adoption: read the named pipeline, never create one.
fn adopt_existing(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    adopt: &str,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.generation, obs.now);
    match obs.remote {
        Remote::Found { remote, .. } => {
            let (status, _) = found(obs, status, remote);
            let requeue = next_read(&status, settings, now);
            PipelinePlan::idle(status, requeue)
        }
        Remote::Gone => {
            let err = Error::NotFound(format!(
                "media pipeline {adopt} (spec.adoptMediaPipelineId) does not exist in {}; nothing is created",
                obs.region
            ));
            PipelinePlan::idle(with_error(status, &err, generation, now), None)
        }
        Remote::Failed(err) => PipelinePlan::idle(with_error(status, err, generation, now), None),
        Remote::Unread => PipelinePlan::idle(status, Some(settings.poll_min)),
    }
}

/// No pipeline recorded: create it once every sink resolves.
fn create(
    obs: &Observation<'_>,
    mut status: MediaStreamPipelineStatus,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.generation, obs.now);
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
        settle_status(&mut status, generation, now);
        // The pool's own changes wake this resource; the requeue is a backstop.
        return PipelinePlan::idle(status, Some(settings.refresh_interval));
    }
    // User tags go on after the create: the create's input is then fixed by
    // immutable fields alone, so a replay with the same token always
    // matches, however the tags were edited meanwhile.
    let desired = desired_tags(&obs.spec.tags, obs.create_tags);
    let mut actions = vec![Action::Create];
    actions.extend(tag_actions(&desired, obs.create_tags));
    PipelinePlan {
        actions,
        status,
        requeue: None,
    }
}

/// A pipeline is recorded: follow what AWS says of it, and bring its tags to
/// the spec. It is never recreated.
fn follow(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.generation, obs.now);
    match obs.remote {
        Remote::Unread => {
            let requeue = next_read(&status, settings, now);
            PipelinePlan::idle(status, requeue)
        }
        // The controller retries failures on its own backoff.
        Remote::Failed(err) => PipelinePlan::idle(with_error(status, err, generation, now), None),
        Remote::Gone => PipelinePlan::idle(
            with_gone(
                status,
                "PipelineGone",
                "AWS no longer knows this media pipeline (its meeting may have ended); it is not \
                 recreated. Delete this resource, or create a new one for a new pipeline.",
                generation,
                now,
            ),
            None,
        ),
        Remote::Found { remote, tags } => {
            let (status, refused) = found(obs, status, remote);
            let actions = match tags {
                Some(t) if !refused => {
                    tag_actions(&desired_tags(&obs.spec.tags, obs.create_tags), t)
                }
                _ => vec![],
            };
            let requeue = next_read(&status, settings, now);
            PipelinePlan {
                actions,
                status,
                requeue,
            }
        }
    }
}

/// The status after AWS described the pipeline, and whether the spec's
/// sources or sinks no longer match it (refused: nothing else is done).
fn found(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    remote: &RemotePipeline,
) -> (MediaStreamPipelineStatus, bool) {
    let mut status = with_remote(status, remote, obs.generation, obs.now);
    status.region = Some(obs.region.to_string());
    match immutable_change(obs.spec, obs.sinks, remote) {
        Some(msg) => {
            let err = Error::ImmutableFieldChanged(msg);
            (with_error(status, &err, obs.generation, obs.now), true)
        }
        None => (status, false),
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
    settle_status(&mut status, generation, now);
    status
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

#[cfg(test)]
mod tests {
    use super::super::{READY, SYNCED, refresh_due, set_condition};
    use super::*;
    use crate::crd::{MediaStreamSource, MediaStreamType, SinkType, SourceType};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    use std::time::Duration;

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
        assert_eq!(plan.actions, vec![PipelineAction::Create]);
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
                assert!(!plan.actions.contains(&PipelineAction::Create), "{status}");
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
                    remote: remote(&old, "InProgress"),
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
                    remote: remote(&s, "InProgress"),
                    tags: Some(remote_tags),
                },
                now: now(),
            },
            &Settings::default(),
        );
        assert_eq!(
            plan.actions,
            vec![
                PipelineAction::Untag(vec!["drop".into()]),
                PipelineAction::Tag(vec![
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
        assert!(!refresh_due::<MediaStreamPipelineStatus>(
            Some(1),
            None,
            None,
            &settings,
            now()
        ));
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

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
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
        let own = super::super::identity_tags("ns", "n", "u");
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
            vec![
                PipelineAction::Create,
                PipelineAction::Tag(vec![tag("team", "a")])
            ]
        );
    }
}

#[cfg(test)]
mod kstatus_tests {
    use super::super::{RECONCILING, STALLED};
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
