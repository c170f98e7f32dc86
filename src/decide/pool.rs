//! The MediaPipelineKinesisVideoStreamPool decision: create while no pool is
//! recorded, then follow AWS; the retention is updated in place, the name
//! and regions are compared, never changed.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;

use super::{
    Action, GONE, ManagedStatus, Phase, Plan, Remote, RemoteObject, desired_tags, next_read,
    set_observed, settle_status, tag_actions, with_error, with_gone,
};
use crate::aws::RemotePool;
use crate::config::Settings;
use crate::crd::{
    KinesisVideoStreamPoolSpec, KinesisVideoStreamPoolStatus, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline, Tag,
};
use crate::error::Error;

pub const ACTIVE: &str = "ACTIVE";

/// What can change on an existing pool: its retention, in hours.
pub type PoolAction = Action<i32>;
pub type PoolPlan = Plan<KinesisVideoStreamPoolStatus, i32>;

impl ManagedStatus for KinesisVideoStreamPoolStatus {
    fn remote_id(&self) -> Option<&str> {
        self.pool_arn.as_deref()
    }
    fn remote_arn(&self) -> Option<&str> {
        self.pool_arn.as_deref()
    }
    fn remote_state(&self) -> Option<&str> {
        self.pool_status.as_deref()
    }
    fn set_remote_state(&mut self, state: &str) {
        self.pool_status = Some(state.into());
    }
    fn phase(&self) -> Phase {
        match self.pool_status.as_deref() {
            Some("FAILED" | GONE) => Phase::Final,
            Some(ACTIVE) => Phase::Steady,
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

impl RemoteObject for RemotePool {
    type Status = KinesisVideoStreamPoolStatus;
    /// Get and Delete take the ARN as the pool's identifier.
    #[allow(clippy::misnamed_getters)]
    fn id(&self) -> &str {
        &self.arn
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
    pub spec: &'a KinesisVideoStreamPoolSpec,
    /// The pool's name in AWS (spec.poolName, or the resource's name).
    pub name: &'a str,
    pub status: Option<&'a KinesisVideoStreamPoolStatus>,
    /// The tags sent with the create.
    pub create_tags: &'a [Tag],
    pub remote: &'a Remote<RemotePool>,
    pub now: Timestamp,
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> PoolPlan {
    let status = obs.status.cloned().unwrap_or_default();
    let (generation, now) = (obs.generation, obs.now);
    let desired = desired_tags(&obs.spec.tags, obs.create_tags);
    if status.pool_arn.is_none() {
        // As for pipelines, user tags go on after the create.
        let mut actions = vec![Action::Create];
        actions.extend(tag_actions(&desired, obs.create_tags));
        return PoolPlan {
            actions,
            status,
            requeue: None,
        };
    }
    match obs.remote {
        Remote::Unread => {
            let requeue = next_read(&status, settings, now);
            PoolPlan::idle(status, requeue)
        }
        Remote::Failed(err) => PoolPlan::idle(with_error(status, err, generation, now), None),
        Remote::Gone => PoolPlan::idle(
            with_gone(
                status,
                "PoolGone",
                "AWS no longer knows this pool; it is not recreated. Delete this resource, or create a new one.",
                generation,
                now,
            ),
            None,
        ),
        Remote::Found { remote, tags } => {
            let status = with_remote(status, remote, generation, now);
            if let Some(err) = immutable_change(&obs, &status, remote) {
                let status = with_error(status, &err, generation, now);
                let requeue = next_read(&status, settings, now);
                return PoolPlan::idle(status, requeue);
            }
            let mut actions = vec![];
            if let Some(hours) = obs.spec.stream_configuration.data_retention_in_hours
                && remote.retention_hours != Some(hours)
            {
                actions.push(Action::Update(hours));
            }
            if let Some(t) = tags {
                actions.extend(tag_actions(&desired, t));
            }
            let requeue = next_read(&status, settings, now);
            PoolPlan {
                actions,
                status,
                requeue,
            }
        }
    }
}

/// The name and both regions are fixed once the pool exists.
fn immutable_change(
    obs: &Observation<'_>,
    status: &KinesisVideoStreamPoolStatus,
    remote: &RemotePool,
) -> Option<Error> {
    let mut changed = vec![];
    if remote.name != obs.name {
        changed.push("spec.poolName");
    }
    if remote.region != obs.spec.stream_configuration.region {
        changed.push("spec.streamConfiguration.region");
    }
    if let (Some(want), Some(have)) = (&obs.spec.region, &status.region)
        && want != have
    {
        changed.push("spec.region");
    }
    (!changed.is_empty()).then(|| {
        Error::ImmutableFieldChanged(format!(
            "{} cannot change once the pool exists; restore the original value, or create a new pool",
            changed.join(" and ")
        ))
    })
}

/// The status after AWS described the pool (a create, an update or a read).
pub fn with_remote(
    mut status: KinesisVideoStreamPoolStatus,
    p: &RemotePool,
    generation: Option<i64>,
    now: Timestamp,
) -> KinesisVideoStreamPoolStatus {
    status.pool_arn = Some(p.arn.clone());
    status.pool_id = Some(p.id.clone());
    status.pool_name = Some(p.name.clone());
    status.pool_status = Some(p.status.clone());
    status.pool_size = p.size;
    status.data_retention_in_hours = p.retention_hours;
    status.created_timestamp = p.created.map(|t| t.to_string());
    status.updated_timestamp = p.updated.map(|t| t.to_string());
    status.observed_generation = generation;
    let (ready, message) = match p.status.as_str() {
        ACTIVE => (true, "The pool is active."),
        "CREATING" => (false, "The pool is being created."),
        "UPDATING" => (false, "The pool is being updated."),
        "DELETING" => (false, "The pool is being deleted."),
        "FAILED" => (false, "The pool failed in AWS."),
        _ => (false, "AWS reports a status this operator does not know."),
    };
    let reason = if p.status.is_empty() {
        "UnknownStatus"
    } else {
        p.status.as_str()
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
