//! The MediaStreamPipeline verdicts: its sinks may name pools by
//! reference (the create waits until they are ACTIVE); sources and sinks
//! are compared, never updated (AWS has no update for them). The flow is
//! [`super::flow`]'s.

use std::convert::Infallible;

use jiff::Timestamp;

use super::flow::{self, Drift, Hold, Verdicts};
use super::media::{arn_key, changed_region, changed_request, request_digest as digest, same_id};
use super::pool::ACTIVE;
pub use super::refs::is_object_name;
use super::refs::{self, Readiness, Ref};
use super::{Call, GONE, KindInfo, Plan, Seen};
use crate::aws::RemotePipeline;
use crate::config::Settings;
use crate::crd::{
    KinesisVideoStreamPoolStatus, MediaStreamPipelineSpec, MediaStreamSink, MediaStreamSource,
    PipelineStatus,
};
use crate::error::Error;

pub const KIND: KindInfo = KindInfo {
    noun: "media pipeline",
    gone_reason: "PipelineGone",
    gone_message: "AWS no longer knows this media pipeline, and its meeting goes on (or \
                   GetMeeting could not tell: the operator's log says why); it is not \
                   recreated. Delete this resource, or create a new one for a new pipeline.",
    arn_type: ":media-pipeline/",
    // A pipeline per meeting: a Created and a Deleted Event per meeting
    // would be two more writes to the API server each (the status already
    // records the create), held 6 minutes in the Event recorder's cache.
    routine_events: false,
};

/// Pipelines have nothing AWS can update in place.
pub type PipelineCall = Call<Infallible>;
pub type PipelinePlan = Plan<PipelineStatus, Infallible>;

/// The spec's sinks with pool references resolved to ARNs.
pub type Sinks = Result<Vec<MediaStreamSink>, Hold>;

/// A sink's pool reference against what the API server holds: the pool's
/// ARN, or why not. `pool` is the pool resource's status (None: no such
/// resource; `Err`: a pool the operator cannot read, with why).
pub fn resolve_pool_ref(
    ns: &str,
    name: &str,
    pool: Option<Result<&KinesisVideoStreamPoolStatus, String>>,
) -> Result<String, Hold> {
    let r = Ref {
        field: "spec.sinks[].poolRef.name",
        kind: "MediaPipelineKinesisVideoStreamPool",
        waiting: "WaitingForPool",
        goal: ACTIVE,
        namespace: ns,
        name,
    };
    refs::resolve(&r, pool, |status| {
        match (&status.pool_arn, status.pool_status.as_deref()) {
            (Some(arn), Some(ACTIVE)) => Readiness::Ready(arn.clone()),
            (_, Some(state @ ("FAILED" | GONE))) => Readiness::Broken(state.into()),
            (_, state) => Readiness::NotYet(state.map(str::to_string)),
        }
    })
}

#[derive(Debug)]
pub struct Observation<'a> {
    pub seen: Seen<'a, PipelineStatus, RemotePipeline>,
    pub spec: &'a MediaStreamPipelineSpec,
    /// The spec's sinks with pool references resolved to ARNs, or why they
    /// cannot be yet (a referenced pool is missing or not ACTIVE).
    pub sinks: &'a Sinks,
}

impl Verdicts for Observation<'_> {
    type Remote = RemotePipeline;
    type Update = Infallible;
    const KIND: KindInfo = KIND;

    fn adopt_id(&self) -> Option<&str> {
        self.spec.adopt_media_pipeline_id.as_deref()
    }
    fn refused(&self, status: &PipelineStatus) -> Option<Error> {
        refused_change(self.spec, status)
    }
    fn hold(&self) -> Option<&Hold> {
        self.sinks.as_ref().err()
    }
    fn drift(&self, _: &PipelineStatus, found: &RemotePipeline) -> Drift<Infallible> {
        match immutable_change(self.spec, self.sinks, found) {
            Some(message) => Drift::Immutable(message),
            None => Drift::InSync,
        }
    }
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> PipelinePlan {
    flow::decide(&obs, &obs.seen, &obs.spec.common.tags, settings)
}

/// A change the recorded pipeline cannot follow, found without asking AWS:
/// another adopted ID, another region, or other sources or sinks than a
/// create that may have reached AWS was sent with.
pub fn refused_change(spec: &MediaStreamPipelineSpec, status: &PipelineStatus) -> Option<Error> {
    if let Some(err) = changed_request(status, request_digest(spec), "spec.sources and spec.sinks")
    {
        return Some(err);
    }
    let id = status.media_pipeline_id.as_ref()?;
    if let Some(adopt) = &spec.adopt_media_pipeline_id
        && !same_id(id, adopt)
    {
        return Some(Error::ImmutableFieldChanged(format!(
            "spec.adoptMediaPipelineId is {adopt}, but this resource already manages {id}"
        )));
    }
    changed_region(spec.common.region.as_deref(), status)
}

/// What a create sends besides the token and tags: sources and sinks, in
/// a canonical order, as the spec gives them.
pub fn request(spec: &MediaStreamPipelineSpec) -> (Vec<MediaStreamSource>, Vec<MediaStreamSink>) {
    let mut sources = spec.sources.clone();
    sources.sort();
    let mut sinks = spec.sinks.clone();
    sinks.sort();
    (sources, sinks)
}

/// The digest of [`request`].
pub fn request_digest(spec: &MediaStreamPipelineSpec) -> String {
    digest(&request(spec))
}

/// The status after AWS described the pipeline (a create or a read).
pub fn with_remote(
    status: PipelineStatus,
    p: &RemotePipeline,
    generation: Option<i64>,
    now: Timestamp,
) -> PipelineStatus {
    super::fold(p, status, generation, now)
}

/// Did the spec's sources or sinks change since the pipeline was created?
/// Sinks compare once resolved to ARNs; unresolvable ones are not judged.
fn immutable_change(
    spec: &MediaStreamPipelineSpec,
    sinks: &Sinks,
    remote: &RemotePipeline,
) -> Option<String> {
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    let mut changed = vec![];
    let sources = |v: &[MediaStreamSource]| {
        let v: Vec<_> = v
            .iter()
            .map(|s| (s.source_type, arn_key(&s.source_arn)))
            .collect();
        sorted(&v)
    };
    if sources(&spec.sources) != sources(&remote.detail.sources) {
        changed.push("spec.sources");
    }
    let sinks_of = |v: &[MediaStreamSink]| {
        let v: Vec<_> = v
            .iter()
            .map(|s| {
                let arn = s.sink_arn.as_deref().map(arn_key);
                (
                    arn,
                    s.sink_type,
                    s.reserved_stream_capacity,
                    s.media_stream_type,
                )
            })
            .collect();
        sorted(&v)
    };
    // A pool reference is judged only once resolved to its ARN: a refresh
    // does not look pools up, and an unresolved reference is no change.
    if let Ok(sinks) = sinks
        && sinks.iter().all(|s| s.pool_ref.is_none())
        && sinks_of(sinks) != sinks_of(&remote.detail.sinks)
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
    use super::super::{
        FINISHED, ManagedStatus, Phase, READY, Read, SYNCED, refresh_due, set_condition, with_error,
    };
    use super::*;
    use crate::aws::StreamDetail;
    use crate::crd::Tag;
    use crate::crd::{MediaStreamSource, MediaStreamType, SinkType, SourceType};
    use crate::decide::media::{meeting_of, unless_ended};
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
            adopt_media_pipeline_id: None,
            lifetime: Default::default(),
            common: crate::crd::CommonFields::with_tags(tags),
        }
    }

    fn remote(spec: &MediaStreamPipelineSpec, status: &str) -> RemotePipeline {
        RemotePipeline {
            id: "6d5caf81-8c83-487c-bf9a-a2fb52822d93".into(),
            arn: "arn:aws:chime:us-east-1:1:media-pipeline/6d5caf81".into(),
            status: status.into(),
            created: Some(Timestamp::UNIX_EPOCH),
            updated: Some(Timestamp::UNIX_EPOCH),
            detail: StreamDetail {
                sources: spec.sources.clone(),
                sinks: spec.sinks.clone(),
            },
        }
    }

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn cond<'a>(s: &'a PipelineStatus, t: &str) -> &'a Condition {
        s.conditions().iter().find(|c| c.type_ == t).unwrap()
    }

    fn existing(spec: &MediaStreamPipelineSpec, status: &str, generation: i64) -> PipelineStatus {
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
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: None,
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Read::Unread,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(plan.actions, vec![PipelineCall::Create]);
    }

    #[test]
    fn a_known_pipeline_is_never_created_again() {
        let spec = spec(&[]);
        for status in ["InProgress", "Stopped", "Failed", "Initializing"] {
            let st = existing(&spec, status, 1);
            for remote_seen in [
                Read::Unread,
                Read::Gone,
                Read::Failed(Error::Throttled("t".into())),
            ] {
                let plan = after_read(&st, remote_seen);
                assert!(!plan.actions.contains(&PipelineCall::Create), "{status}");
            }
        }
    }

    #[test]
    fn ready_follows_the_remote_status() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        assert_eq!(cond(&st, READY).status, "True");
        assert_eq!(cond(&st, SYNCED).status, "True");
        let st = existing(&spec, "Failed", 1);
        assert_eq!(
            (
                cond(&st, READY).status.as_str(),
                cond(&st, READY).reason.as_str()
            ),
            ("False", "Failed")
        );
    }

    /// A pipeline stops when its meeting ends: finished, not failed. It
    /// records when, is never read again, and stays finished once AWS
    /// removes it; a pipeline that vanished without stopping is Stalled.
    #[test]
    fn a_stopped_pipeline_is_finished_and_stays_so_when_aws_removes_it() {
        let spec = spec(&[]);
        let st = existing(&spec, "Stopped", 1);
        assert_eq!(st.pipeline_status.as_deref(), Some("Stopped"));
        assert_eq!(st.finished_at.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert!(st.conditions().iter().all(|c| c.type_ != READY));
        let finished = cond(&st, FINISHED);
        assert_eq!(
            (finished.status.as_str(), finished.reason.as_str()),
            ("True", "Stopped")
        );
        assert_eq!(cond(&st, "Stalled").status, "False");
        assert_eq!(cond(&st, "Reconciling").status, "False");
        assert_eq!(st.phase(), Phase::Finished);

        let gone = after_read(&st, Read::Gone);
        assert_eq!(gone.status.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(gone.status.finished_at, st.finished_at);
        assert_eq!(cond(&gone.status, FINISHED).reason, "Removed");
        assert_eq!(cond(&gone.status, "Stalled").status, "False");
        assert_eq!(gone.requeue, None);

        let streaming = existing(&spec, "InProgress", 1);
        let vanished = after_read(&streaming, Read::Gone);
        assert_eq!(cond(&vanished.status, "Stalled").status, "True");
        assert_eq!(cond(&vanished.status, READY).reason, "PipelineGone");
    }

    #[test]
    fn a_finished_resource_expires_after_its_time_to_live() {
        let at = "2026-11-25T12:00:00Z";
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let ttl = Some(Duration::from_secs(5));
        assert_eq!(
            super::super::expires_in(Some(at), ttl, t("2026-11-25T12:00:02Z")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            super::super::expires_in(Some(at), ttl, t("2026-11-25T12:00:09Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(super::super::expires_in(Some(at), None, t(at)), None);
        assert_eq!(super::super::expires_in(None, ttl, t(at)), None);
    }

    /// A refresh does not resolve pool references: a pipeline whose sink
    /// names a pool stays Synced (it once flipped to ImmutableFieldChanged
    /// at every refresh).
    #[test]
    fn an_unresolved_pool_reference_is_no_change() {
        let mut by_ref = spec(&[]);
        by_ref.sinks[0].sink_arn = None;
        by_ref.sinks[0].pool_ref = Some(crate::crd::PoolRef { name: "p".into() });
        let st = existing(&spec(&[]), "InProgress", 1);
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    region: "us-east-1",
                    remote: &Read::Found {
                        remote: remote(&spec(&[]), "InProgress"),
                        tags: None,
                    },
                    now: now(),
                },
                spec: &by_ref,
                sinks: &Ok(by_ref.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(cond(&plan.status, SYNCED).status, "True");
        assert_eq!(cond(&plan.status, READY).status, "True");
    }

    /// Sources and sinks may be corrected while AWS refused every create;
    /// once a create may have reached AWS, its digest fixes them.
    #[test]
    fn sources_are_fixed_once_a_create_may_have_reached_aws() {
        let old = spec(&[]);
        let mut new = old.clone();
        new.sources[0].source_arn = "arn:aws:chime:us-east-1:1:meeting/other".into();
        let refused = with_error(
            Default::default(),
            &Error::NotFound("meeting".into()),
            Some(1),
            now(),
        );
        assert!(refused_change(&new, &refused).is_none());
        let sent = PipelineStatus {
            request_digest: Some(request_digest(&old)),
            ..refused
        };
        assert!(refused_change(&old, &sent).is_none());
        let err = refused_change(&new, &sent).map(|e| e.reason());
        assert_eq!(err, Some("ImmutableFieldChanged"));
        // Tags are not part of the request.
        let mut tagged = old.clone();
        tagged.common.tags = vec![Tag {
            key: "a".into(),
            value: "b".into(),
        }];
        assert!(refused_change(&tagged, &sent).is_none());
        assert_eq!(request_digest(&old).len(), 64);
    }

    /// The plan for a recorded pipeline with `status` when a read gave `remote`.
    fn after_read(status: &PipelineStatus, remote: Read<RemotePipeline>) -> PipelinePlan {
        let spec = spec(&[]);
        decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: Some(status),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &remote,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        )
    }

    /// Its meetings ended between two reads, and AWS stopped and removed
    /// the pipeline unseen: finished (Removed) from now on, never read
    /// again, nothing for a person; a stop seen before keeps its time.
    #[test]
    fn a_pipeline_removed_unseen_after_its_meeting_ended_is_finished() {
        let streaming = existing(&spec(&[]), "InProgress", 1);
        let plan = after_read(&streaming, Read::Ended);
        assert!(plan.actions.is_empty());
        assert_eq!(plan.requeue, None);
        let st = &plan.status;
        assert_eq!(st.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(st.finished_at, Some(now().to_string()));
        assert_eq!(st.phase(), Phase::Finished);
        let finished = cond(st, FINISHED);
        assert_eq!(
            (finished.status.as_str(), finished.reason.as_str()),
            ("True", "Removed")
        );
        assert_eq!(cond(st, "Stalled").status, "False");
        assert_eq!(cond(st, SYNCED).status, "True");
        assert!(st.conditions().iter().all(|c| c.type_ != READY), "{st:?}");

        let stopped = existing(&spec(&[]), "Stopped", 1);
        let plan = after_read(&stopped, Read::Ended);
        assert_eq!(plan.status.finished_at, stopped.finished_at);
        assert_eq!(cond(&plan.status, FINISHED).reason, "Removed");
    }

    /// GetMeeting takes the GUID at the end of a meeting's ARN, in the
    /// ARN's region (else the pipeline's); any other source names no
    /// meeting to ask about.
    #[test]
    fn a_source_arn_names_its_meeting_and_region() {
        let id = "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c10";
        let arn = format!("arn:aws:chime:eu-west-2:111122223333:meeting/{id}");
        assert_eq!(meeting_of(&arn, "us-east-1"), Some(("eu-west-2", id)));
        let arn = format!("arn:aws:chime::111122223333:meeting/{id}");
        assert_eq!(meeting_of(&arn, "us-east-1"), Some(("us-east-1", id)));
        let upper = id.to_ascii_uppercase();
        let arn = format!("arn:aws:chime:us-east-1:1:meeting/{upper}");
        assert_eq!(
            meeting_of(&arn, "us-east-1"),
            Some(("us-east-1", upper.as_str()))
        );
        for other in [
            "arn:aws:chime:us-east-1:1:meeting/m-end".to_string(),
            format!("arn:aws:chime:us-east-1:1:media-pipeline/{id}"),
            format!("arn:aws:s3:us-east-1:1:meeting/{id}"),
            format!("arn:aws:chime:us-east-1:1:meeting/{id}/x"),
            format!("meeting/{id}"),
            String::new(),
        ] {
            assert_eq!(meeting_of(&other, "us-east-1"), None, "{other}");
        }
    }

    /// Only an ended meeting finishes a gone pipeline. A meeting that goes
    /// on, or an answer no retry soon changes (IAM), is gone as before; a
    /// transient error is a failed read, retried, never a verdict.
    #[test]
    fn a_gone_pipeline_is_finished_only_by_an_ended_meeting() {
        assert!(unless_ended::<RemotePipeline>(Some(Ok(false))).is_none());
        assert!(matches!(
            unless_ended::<RemotePipeline>(Some(Ok(true))),
            Some(Read::Gone)
        ));
        assert!(matches!(
            unless_ended::<RemotePipeline>(None),
            Some(Read::Gone)
        ));
        for permanent in [
            Error::Forbidden("no chime:GetMeeting".into()),
            Error::Unauthorized("u".into()),
            Error::BadRequest("b".into()),
        ] {
            let verdict = unless_ended::<RemotePipeline>(Some(Err(permanent)));
            assert!(matches!(verdict, Some(Read::Gone)), "{verdict:?}");
        }
        for transient in [
            Error::Throttled("t".into()),
            Error::ServiceUnavailable("s".into()),
            Error::ServiceFailure("f".into()),
            Error::Network("n".into()),
            Error::Unexpected("x".into()),
        ] {
            let reason = transient.reason();
            let verdict = unless_ended::<RemotePipeline>(Some(Err(transient)));
            assert!(
                matches!(&verdict, Some(Read::Failed(e)) if e.reason() == reason),
                "{verdict:?}"
            );
        }
        // The failed read keeps the pipeline as it was, and says why.
        let streaming = existing(&spec(&[]), "InProgress", 1);
        let plan = after_read(&streaming, Read::Failed(Error::Throttled("t".into())));
        assert_eq!(plan.status.pipeline_status.as_deref(), Some("InProgress"));
        assert_eq!(cond(&plan.status, SYNCED).reason, "Throttled");
        assert_eq!(cond(&plan.status, "Stalled").status, "False");
    }

    #[test]
    fn a_pipeline_gone_is_reported_not_recreated() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Read::Gone,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
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
        new.common.tags = vec![Tag {
            key: "a".into(),
            value: "b".into(),
        }];
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(2),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Read::Found {
                        remote: remote(&old, "InProgress"),
                        tags: Some(vec![]),
                    },
                    now: now(),
                },
                spec: &new,
                sinks: &Ok(new.sinks.clone()),
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
                seen: Seen {
                    generation: Some(2),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Read::Found {
                        remote: remote(&s, "InProgress"),
                        tags: Some(remote_tags),
                    },
                    now: now(),
                },
                spec: &s,
                sinks: &Ok(s.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(
            plan.actions,
            vec![
                PipelineCall::Untag(vec!["drop".into()]),
                PipelineCall::Tag(vec![
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
        assert_eq!(plan.status.observed_generation(), Some(2));
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
        assert!(!refresh_due::<PipelineStatus>(
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
                    seen: Seen {
                        generation: Some(1),
                        region: "us-east-1",
                        status: Some(&st),
                        create_tags: &[],
                        own_tags: &[],
                        remote: &Read::Unread,
                        now: now(),
                    },
                    spec: &s,
                    sinks: &Ok(s.sinks.clone()),
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
        assert_eq!(st.observed_generation(), Some(3));
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    /// The first plan for a resource with no status, given the operator's
    /// tags and what a read gave.
    fn first_plan(
        spec: &MediaStreamPipelineSpec,
        own: &[Tag],
        remote: &Read<RemotePipeline>,
    ) -> PipelinePlan {
        decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: None,
                    create_tags: own,
                    own_tags: own,
                    remote,
                    now: Timestamp::UNIX_EPOCH,
                },
                spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        )
    }

    /// An adopted pipeline gets the identity tags and Retain from the first
    /// read, not at the first spec edit.
    #[test]
    fn an_adopted_pipeline_is_tagged_from_its_first_read() {
        let mut spec = spec(&[]);
        let found = remote(&spec, "InProgress");
        spec.adopt_media_pipeline_id = Some(found.id.clone());
        let mut own = super::super::identity_tags("c", "ns", "n", "u");
        own.push(super::super::policy_tag(true));
        let read = Read::Found {
            remote: found,
            tags: Some(vec![]),
        };
        let plan = first_plan(&spec, &own, &read);
        let tagged = plan.actions.iter().any(|a| match a {
            PipelineCall::Tag(t) => t.contains(&tag(POLICY_TAG_KEY, "Retain")),
            _ => false,
        });
        assert!(tagged, "{:?}", plan.actions);
        assert!(!plan.actions.contains(&PipelineCall::Create));
    }

    const POLICY_TAG_KEY: &str = super::super::POLICY_TAG;

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
        let own = super::super::identity_tags("c", "ns", "n", "u");
        let plan = first_plan(&spec, &own, &Read::Unread);
        assert_eq!(
            plan.actions,
            vec![
                PipelineCall::Create,
                PipelineCall::Tag(vec![tag("team", "a")])
            ]
        );
    }

    /// AWS answers IDs and meeting GUIDs in lower case; a spec may give
    /// them in capitals (the model's pattern allows A-F).
    #[test]
    fn ids_and_guids_in_arns_compare_without_regard_to_case() {
        let id = "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c10";
        assert!(same_id(id, &id.to_ascii_uppercase()));
        assert!(!same_id(id, "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c11"));
        let meeting = |id: &str| format!("arn:aws:chime:us-east-1:1:meeting/{id}");
        assert_eq!(arn_key(&meeting(&id.to_ascii_uppercase())), meeting(id));
        // A pool's name is no GUID: its case matters.
        let pool = "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/Pool";
        assert_ne!(arn_key(pool), arn_key(&pool.to_ascii_lowercase()));
        let mut st = PipelineStatus {
            media_pipeline_id: Some(id.into()),
            ..Default::default()
        };
        let mut s = spec(&[]);
        s.adopt_media_pipeline_id = Some(id.to_ascii_uppercase());
        assert!(refused_change(&s, &st).is_none());
        st.media_pipeline_id = Some("00000000-0000-4000-8000-000000000000".into());
        assert!(refused_change(&s, &st).is_some());
    }

    #[test]
    fn a_pool_ref_only_a_person_can_fix_stalls_one_that_may_come_waits() {
        assert!(is_object_name("meeting-audio.v2"));
        for bad in ["other-ns/pool", "Pool", "-a", "a-", "a..b", ""] {
            assert!(!is_object_name(bad), "{bad}");
        }
        let active = KinesisVideoStreamPoolStatus {
            pool_arn: Some(
                "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p".into(),
            ),
            pool_status: Some(ACTIVE.into()),
            ..Default::default()
        };
        assert!(resolve_pool_ref("ns", "p", Some(Ok(&active))).is_ok());
        let creating = KinesisVideoStreamPoolStatus {
            pool_status: Some("CREATING".into()),
            ..Default::default()
        };
        let failed = KinesisVideoStreamPoolStatus {
            pool_status: Some("FAILED".into()),
            ..Default::default()
        };
        let cases = [
            ("p", None, false),
            ("p", Some(Ok(&creating)), false),
            ("p", Some(Ok(&failed)), true),
            ("p", Some(Err("spec.x: out of range".to_string())), true),
            ("other-ns/p", None, true),
        ];
        for (name, pool, stalls) in cases {
            let sinks = Err(resolve_pool_ref("ns", name, pool).unwrap_err());
            let plan = decide(
                Observation {
                    seen: Seen {
                        generation: Some(1),
                        status: None,
                        create_tags: &[],
                        own_tags: &[],
                        region: "us-east-1",
                        remote: &Read::Unread,
                        now: now(),
                    },
                    spec: &spec(&[]),
                    sinks: &sinks,
                },
                &Settings::default(),
            );
            assert!(plan.actions.is_empty(), "{name}: {:?}", plan.actions);
            let stalled = cond(&plan.status, "Stalled");
            let reconciling = cond(&plan.status, "Reconciling");
            assert_eq!(stalled.status == "True", stalls, "{name}: {stalled:?}");
            assert_eq!(
                reconciling.status == "True",
                !stalls,
                "{name}: {reconciling:?}"
            );
            if stalls {
                assert_eq!(stalled.reason, "InvalidReference");
            }
        }
    }
}

#[cfg(test)]
mod kstatus_tests {
    use super::super::{ManagedStatus, RECONCILING, STALLED, with_error};
    use super::*;
    use crate::aws::StreamDetail;

    fn state(status: &PipelineStatus) -> (String, String) {
        let get = |t: &str| {
            status
                .conditions()
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
            detail: StreamDetail {
                sources: vec![],
                sinks: vec![],
            },
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
        // A meeting that ended is no failure: finished, nothing to do.
        assert_eq!(
            state(&s("Stopped")),
            ("False:Finished".into(), "False:NotStalled".into())
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
