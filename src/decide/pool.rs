//! The MediaPipelineKinesisVideoStreamPool decision: create while no pool is
//! recorded, then follow AWS; the retention is updated in place, the name
//! and regions are compared, never changed.

use jiff::Timestamp;
use kube::ResourceExt;

use super::flow::{self, Drift, Verdicts};
use super::{Call, KindInfo, ManagedStatus, Phase, Plan, RemoteObject, Seen, State};
use crate::aws::RemotePool;
use crate::config::Settings;
use crate::crd::{
    Decoded, KinesisVideoStreamPoolSpec, KinesisVideoStreamPoolStatus,
    MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
};

pub const ACTIVE: &str = "ACTIVE";

pub const KIND: KindInfo = KindInfo {
    noun: "Kinesis Video Stream pool",
    gone_reason: "PoolGone",
    gone_message: "AWS no longer knows this pool; it is not recreated. Delete this resource, \
                   or create a new one.",
    arn_type: ":media-pipeline-kinesis-video-stream-pool/",
    // Pools are few and long-lived: their routine Events cost nothing.
    routine_events: true,
};

/// What can change on an existing pool: its retention, in hours.
pub type PoolCall = Call<i32>;
pub type PoolPlan = Plan<KinesisVideoStreamPoolStatus, i32>;

impl ManagedStatus for KinesisVideoStreamPoolStatus {
    const STATES: &'static [State] = &[
        State::new(ACTIVE, Phase::Steady, true, "The pool is active."),
        State::new(
            "CREATING",
            Phase::Changing,
            false,
            "The pool is being created.",
        ),
        State::new(
            "UPDATING",
            Phase::Changing,
            false,
            "The pool is being updated.",
        ),
        State::new(
            "DELETING",
            Phase::Changing,
            false,
            "The pool is being deleted.",
        ),
        State::new("FAILED", Phase::Final, false, "The pool failed in AWS."),
    ];
    crate::status_fields!(id: pool_arn, arn: pool_arn, state: pool_status);
}

impl RemoteObject for RemotePool {
    type Status = KinesisVideoStreamPoolStatus;
    // Get and Delete take the ARN as the pool's identifier.
    crate::remote_fields!(id: arn, arn: arn, state: status);
    fn record(&self, status: &mut KinesisVideoStreamPoolStatus) {
        status.pool_arn = Some(self.arn.clone());
        status.pool_id = Some(self.id.clone());
        status.pool_name = Some(self.name.clone());
        status.pool_status = Some(self.status.clone());
        status.pool_size = self.size;
        status.data_retention_in_hours = self.retention_hours;
        status.common.created_timestamp = self.created.map(|t| t.to_string());
        status.common.updated_timestamp = self.updated.map(|t| t.to_string());
    }
}

#[derive(Debug)]
pub struct Observation<'a> {
    pub seen: Seen<'a, KinesisVideoStreamPoolStatus, RemotePool>,
    pub spec: &'a KinesisVideoStreamPoolSpec,
    /// The pool's name in AWS (spec.poolName, or the resource's name).
    pub name: &'a str,
}

impl Verdicts for Observation<'_> {
    type Remote = RemotePool;
    type Update = i32;
    const KIND: KindInfo = KIND;

    /// Ours was deleted, and another pool took its name (and so its ARN).
    fn other_object(
        &self,
        status: &KinesisVideoStreamPoolStatus,
        found: &RemotePool,
    ) -> Option<String> {
        (!same_pool(status.pool_id.as_deref(), found)).then(|| {
            format!(
                "AWS no longer knows this pool (ID {}); the pool now named {} is another one \
                 (ID {}), left alone. Delete this resource, or create a new one.",
                status.pool_id.as_deref().unwrap_or_default(),
                found.name,
                found.id
            )
        })
    }
    fn drift(&self, status: &KinesisVideoStreamPoolStatus, found: &RemotePool) -> Drift<i32> {
        if let Some(message) = immutable_change(self, status, found) {
            return Drift::Immutable(message);
        }
        match self.spec.stream_configuration.data_retention_in_hours {
            Some(hours) if found.retention_hours != Some(hours) => Drift::Update(hours),
            _ => Drift::InSync,
        }
    }
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> PoolPlan {
    flow::decide(&obs, &obs.seen, &obs.spec.common.tags, settings)
}

/// Whether `found` is the pool recorded by its ID (a status without one, from
/// before IDs were recorded, takes the ARN's word).
pub fn same_pool(recorded: Option<&str>, found: &RemotePool) -> bool {
    recorded.is_none_or(|id| id == found.id)
}

/// The name and both regions are fixed once the pool exists.
fn immutable_change(
    pool: &Observation<'_>,
    status: &KinesisVideoStreamPoolStatus,
    remote: &RemotePool,
) -> Option<String> {
    let mut changed = vec![];
    if remote.name != pool.name {
        changed.push("spec.poolName");
    }
    if remote.region != pool.spec.stream_configuration.region {
        changed.push("spec.streamConfiguration.region");
    }
    if let (Some(want), Some(have)) = (&pool.spec.common.region, status.region())
        && want != have
    {
        changed.push("spec.region");
    }
    (!changed.is_empty()).then(|| {
        format!(
            "{} cannot change once the pool exists; restore the original value, or create a new pool",
            changed.join(" and ")
        )
    })
}

/// The status after AWS described the pool (a create, an update or a read).
pub fn with_remote(
    status: KinesisVideoStreamPoolStatus,
    p: &RemotePool,
    generation: Option<i64>,
    now: Timestamp,
) -> KinesisVideoStreamPoolStatus {
    super::fold(p, status, generation, now)
}

/// The pipelines of the pool's namespace whose sinks name it.
pub fn referencing<'a>(
    pool: &MediaPipelineKinesisVideoStreamPool,
    pipelines: impl IntoIterator<Item = &'a MediaStreamPipeline>,
) -> Vec<String> {
    let name = pool.name_any();
    let mut names: Vec<String> = pipelines
        .into_iter()
        .filter(|p| p.namespace() == pool.namespace())
        .filter(|p| {
            p.spec
                .sinks
                .iter()
                .any(|s| s.pool_ref.as_ref().is_some_and(|r| r.name == name))
        })
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}

/// A pipeline being deleted that records no media pipeline: its cleanup
/// needs no pool (it never creates, and finds a lost create by its tags),
/// so a pool waiting for it would only wait on itself.
fn leaving_empty_handed(p: &Decoded<MediaStreamPipeline>) -> bool {
    let (meta, recorded) = match p {
        Decoded::Valid(p) => (
            &p.metadata,
            p.status
                .as_ref()
                .and_then(|s| s.media_pipeline_id.as_ref())
                .is_some(),
        ),
        Decoded::Invalid(bad) => (
            &bad.metadata,
            bad.status
                .as_ref()
                .is_some_and(|s| !s["mediaPipelineId"].is_null()),
        ),
    };
    meta.deletion_timestamp.is_some() && !recorded
}

/// The same over pipelines as listed, whether or not they decode: one that
/// does not is judged by its stored sinks, since it may still name the pool.
pub fn referencing_any<'a>(
    pool: &MediaPipelineKinesisVideoStreamPool,
    pipelines: impl IntoIterator<Item = &'a Decoded<MediaStreamPipeline>>,
) -> Vec<String> {
    let name = pool.name_any();
    let (mut valid, mut invalid) = (vec![], vec![]);
    for p in pipelines.into_iter().filter(|p| !leaving_empty_handed(p)) {
        match p {
            Decoded::Valid(p) => valid.push(p.as_ref()),
            Decoded::Invalid(bad) if bad.metadata.namespace == pool.namespace() => {
                invalid.push(bad)
            }
            Decoded::Invalid(_) => {}
        }
    }
    let mut names = referencing(pool, valid);
    for bad in invalid {
        let sinks = bad.spec.as_ref().and_then(|s| s["sinks"].as_array());
        let names_it = sinks
            .into_iter()
            .flatten()
            .any(|s| s["poolRef"]["name"].as_str() == Some(name.as_str()));
        if names_it {
            names.push(bad.metadata.name.clone().unwrap_or_default());
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::super::{GONE, READY, Read, STALLED, SYNCED};
    use super::*;
    use crate::crd::StreamConfiguration;
    use crate::crd::Tag;
    use crate::error::Error;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use std::time::Duration;

    fn spec(retention: Option<i32>, tags: &[(&str, &str)]) -> KinesisVideoStreamPoolSpec {
        KinesisVideoStreamPoolSpec {
            pool_name: None,
            stream_configuration: StreamConfiguration {
                region: "us-east-1".into(),
                data_retention_in_hours: retention,
            },
            common: crate::crd::CommonFields::with_tags(tags),
        }
    }

    fn remote(status: &str, retention: Option<i32>) -> RemotePool {
        RemotePool {
            arn: "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p".into(),
            id: "9d3e1c6a-0b7f-4d2e-8f4a-5c1b2a3d4e5f".into(),
            name: "p".into(),
            status: status.into(),
            size: Some(0),
            region: "us-east-1".into(),
            retention_hours: retention,
            created: Some(Timestamp::UNIX_EPOCH),
            updated: Some(Timestamp::UNIX_EPOCH),
        }
    }

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn existing(status: &str, generation: i64) -> KinesisVideoStreamPoolStatus {
        let mut s = with_remote(
            Default::default(),
            &remote(status, Some(24)),
            Some(generation),
            now(),
        );
        s.set_region("us-east-1");
        s
    }

    fn plan(
        spec: &KinesisVideoStreamPoolSpec,
        status: Option<&KinesisVideoStreamPoolStatus>,
        remote: &Read<RemotePool>,
        generation: i64,
    ) -> PoolPlan {
        decide(
            Observation {
                seen: Seen {
                    generation: Some(generation),
                    status,
                    create_tags: &[],
                    own_tags: &[],
                    remote,
                    now: now(),
                    region: "us-east-1",
                },
                spec,
                name: "p",
            },
            &Settings::default(),
        )
    }

    fn cond<'a>(s: &'a KinesisVideoStreamPoolStatus, t: &str) -> &'a Condition {
        s.conditions().iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn no_pool_arn_means_create_then_user_tags() {
        let s = spec(Some(24), &[("team", "a")]);
        let p = plan(&s, None, &Read::Unread, 1);
        assert_eq!(
            p.actions,
            vec![
                Call::Create,
                Call::Tag(vec![Tag {
                    key: "team".into(),
                    value: "a".into()
                }])
            ]
        );
    }

    #[test]
    fn a_known_pool_is_never_created_again() {
        let s = spec(Some(24), &[]);
        for state in ["ACTIVE", "CREATING", "FAILED", GONE] {
            let mut st = existing("ACTIVE", 1);
            st.pool_status = Some(state.into());
            for r in [
                Read::Unread,
                Read::Gone,
                Read::Failed(Error::Throttled("t".into())),
            ] {
                let p = plan(&s, Some(&st), &r, 1);
                assert!(!p.actions.contains(&Call::Create), "{state}");
            }
        }
    }

    #[test]
    fn a_retention_change_is_an_update() {
        let st = existing("ACTIVE", 1);
        let found = Read::Found {
            remote: remote("ACTIVE", Some(24)),
            tags: Some(vec![]),
        };
        let p = plan(&spec(Some(48), &[]), Some(&st), &found, 2);
        assert_eq!(p.actions, vec![Call::Update(48)]);
        assert_eq!(p.status.observed_generation(), Some(2));
        // Unchanged retention: nothing to call.
        let p = plan(&spec(Some(24), &[]), Some(&st), &found, 2);
        assert!(p.actions.is_empty());
    }

    #[test]
    fn name_and_region_changes_are_refused_without_calls() {
        let st = existing("ACTIVE", 1);
        let mut s = spec(Some(48), &[("a", "b")]);
        s.stream_configuration.region = "eu-west-1".into();
        let found = Read::Found {
            remote: remote("ACTIVE", Some(24)),
            tags: Some(vec![]),
        };
        let p = plan(&s, Some(&st), &found, 2);
        assert!(p.actions.is_empty());
        let synced = cond(&p.status, SYNCED);
        assert_eq!(synced.reason, "ImmutableFieldChanged");
        assert!(synced.message.contains("spec.streamConfiguration.region"));
        assert_eq!(cond(&p.status, STALLED).status, "True");
        // The pool itself is still fine.
        assert_eq!(cond(&p.status, READY).status, "True");
    }

    #[test]
    fn a_pool_gone_is_reported_not_recreated() {
        let st = existing("ACTIVE", 1);
        let p = plan(&spec(Some(24), &[]), Some(&st), &Read::Gone, 1);
        assert!(p.actions.is_empty());
        assert_eq!(p.requeue, None);
        assert_eq!(p.status.pool_status.as_deref(), Some(GONE));
        assert_eq!(cond(&p.status, READY).reason, "PoolGone");
        assert_eq!(cond(&p.status, STALLED).status, "True");
    }

    /// Another pool behind the recorded ARN (ours was deleted and its name
    /// taken): gone for this resource, and never tagged or updated.
    #[test]
    fn another_pool_behind_the_same_arn_is_not_followed() {
        let st = existing("ACTIVE", 1);
        let mut other = remote("ACTIVE", Some(48));
        other.id = "00000000-0000-4000-8000-000000000000".into();
        let tags = Read::Found {
            remote: other,
            tags: Some(vec![]),
        };
        let p = plan(&spec(Some(24), &[("team", "a")]), Some(&st), &tags, 2);
        assert!(p.actions.is_empty(), "{:?}", p.actions);
        assert_eq!(p.status.pool_status.as_deref(), Some(GONE));
        assert_eq!(cond(&p.status, READY).reason, "PoolGone");
        assert!(same_pool(None, &remote("ACTIVE", None)));
    }

    #[test]
    fn reads_follow_the_pool_status() {
        let s = spec(Some(24), &[]);
        let settings = Settings::default();
        let requeue = |state: &str| {
            let st = existing(state, 1);
            plan(&s, Some(&st), &Read::Unread, 1).requeue
        };
        assert_eq!(requeue("ACTIVE"), Some(settings.refresh_interval));
        assert_eq!(requeue("FAILED"), None);
        // Changing state: read soon, never later than poll_max.
        let creating = requeue("CREATING").unwrap_or(Duration::MAX);
        assert!(creating <= settings.poll_max);
    }

    #[test]
    fn ready_follows_the_pool_status() {
        assert_eq!(cond(&existing("ACTIVE", 1), READY).status, "True");
        for state in ["CREATING", "UPDATING", "DELETING", "FAILED", "SOMETHING"] {
            let st = existing(state, 1);
            assert_eq!(cond(&st, READY).status, "False", "{state}");
        }
        assert_eq!(cond(&existing("FAILED", 1), STALLED).status, "True");
        assert_eq!(cond(&existing("CREATING", 1), STALLED).status, "False");
    }

    #[test]
    fn pipelines_that_name_the_pool_block_it() {
        let pool: MediaPipelineKinesisVideoStreamPool = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"streamConfiguration": {"region": "us-east-1"}},
        }))
        .unwrap();
        let pipeline = |name: &str, ns: &str, sink: serde_json::Value| -> MediaStreamPipeline {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {
                    "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": "arn:aws:chime:us-east-1:1:meeting/m"}],
                    "sinks": [sink],
                },
            }))
            .unwrap()
        };
        let by_ref = serde_json::json!({"sinkType": "KinesisVideoStreamPool", "poolRef": {"name": "p"}, "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"});
        let by_arn = serde_json::json!({"sinkType": "KinesisVideoStreamPool", "sinkArn": "arn:aws:x", "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"});
        let all = [
            pipeline("b", "ns", by_ref.clone()),
            pipeline("a", "ns", by_ref.clone()),
            pipeline("other-ns", "elsewhere", by_ref.clone()),
            pipeline("by-arn", "ns", by_arn),
        ];
        assert_eq!(referencing(&pool, &all), vec!["a", "b"]);
        // Being deleted without a pipeline: no wait for it (its cleanup
        // needs no pool); with one recorded, the wait stays.
        let mut leaving = pipeline("c", "ns", by_ref.clone());
        leaving.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut holding = leaving.clone();
        holding.metadata.name = Some("d".into());
        holding.status = Some(crate::crd::PipelineStatus {
            media_pipeline_id: Some("p1".into()),
            ..Default::default()
        });
        let listed = [leaving, holding].map(|p| Decoded::Valid(std::sync::Arc::new(p)));
        assert_eq!(referencing_any(&pool, &listed), vec!["d"]);
    }
}
