//! MediaPipelineKinesisVideoStreamPool: the pure decision for a pool, and
//! its reconcile (observe, decide, act), sharing the pipeline controller's
//! context, backoff and condition rules.

use std::time::Duration;

use jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::info;

use crate::controller::{Context, write_status};
use crate::crd::{
    DeletionPolicy, KinesisVideoStreamPoolSpec, KinesisVideoStreamPoolStatus,
    MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline, Tag,
};
use crate::decide::{self, READY, SYNCED, Settings, set_condition};
use crate::error::{Error, Retry};

pub const ACTIVE: &str = "ACTIVE";

/// The pool as AWS describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePool {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub size: Option<i32>,
    pub region: String,
    pub retention_hours: Option<i32>,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
}

#[derive(Debug)]
pub enum RemoteRead {
    Unread,
    Found {
        pool: RemotePool,
        tags: Option<Vec<Tag>>,
    },
    Gone,
    Failed(Error),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PoolAction {
    Create,
    UpdateRetention(i32),
    Tag(Vec<Tag>),
    Untag(Vec<String>),
}

#[derive(Debug)]
pub struct PoolObservation<'a> {
    pub generation: Option<i64>,
    pub spec: &'a KinesisVideoStreamPoolSpec,
    /// The pool's name in AWS (spec.poolName, or the resource's name).
    pub name: &'a str,
    pub status: Option<&'a KinesisVideoStreamPoolStatus>,
    pub create_tags: &'a [Tag],
    pub remote: &'a RemoteRead,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan {
    pub actions: Vec<PoolAction>,
    pub status: KinesisVideoStreamPoolStatus,
    pub requeue: Option<Duration>,
}

/// How long until the pool should be read again, by its remote status.
pub fn next_read(
    status: &KinesisVideoStreamPoolStatus,
    settings: &Settings,
    now: Timestamp,
) -> Option<Duration> {
    match status.pool_status.as_deref() {
        Some("FAILED") | Some(decide::GONE) => None,
        Some(ACTIVE) => Some(settings.refresh_interval),
        _ => Some(decide::poll_interval(
            status.updated_timestamp.as_deref(),
            settings,
            now,
        )),
    }
}

pub fn decide(obs: PoolObservation<'_>, settings: &Settings) -> PoolPlan {
    let mut status = obs.status.cloned().unwrap_or_default();
    let (generation, now) = (obs.generation, obs.now);
    let desired = decide::desired_tags(&obs.spec.tags, obs.create_tags);
    if status.pool_arn.is_none() {
        let mut actions = vec![PoolAction::Create];
        actions.extend(
            decide::tag_actions(&desired, obs.create_tags)
                .into_iter()
                .map(from_tag_action),
        );
        return PoolPlan {
            actions,
            status,
            requeue: None,
        };
    }
    match obs.remote {
        RemoteRead::Unread => PoolPlan {
            actions: vec![],
            requeue: next_read(&status, settings, now),
            status,
        },
        RemoteRead::Failed(err) => PoolPlan {
            actions: vec![],
            status: with_error(status, err, generation, now),
            requeue: None,
        },
        RemoteRead::Gone => {
            status.pool_status = Some(decide::GONE.into());
            status.observed_generation = generation;
            decide::set_observed(
                &mut status.conditions,
                false,
                "PoolGone",
                "AWS no longer knows this pool; it is not recreated. Delete this resource, or create a new one.",
                generation,
                now,
            );
            settle(&mut status, generation, now);
            PoolPlan {
                actions: vec![],
                status,
                requeue: None,
            }
        }
        RemoteRead::Found { pool, tags } => {
            status = with_remote(status, pool, generation, now);
            let mut changed = vec![];
            if pool.name != obs.name {
                changed.push("spec.poolName");
            }
            if pool.region != obs.spec.stream_configuration.region {
                changed.push("spec.streamConfiguration.region");
            }
            if let (Some(want), Some(have)) = (&obs.spec.region, &status.region)
                && want != have
            {
                changed.push("spec.region");
            }
            if !changed.is_empty() {
                let err = Error::ImmutableFieldChanged(format!(
                    "{} cannot change once the pool exists; restore the original value, or create a new pool",
                    changed.join(" and ")
                ));
                status = with_error(status, &err, generation, now);
                return PoolPlan {
                    actions: vec![],
                    requeue: next_read(&status, settings, now),
                    status,
                };
            }
            let mut actions = vec![];
            if let Some(hours) = obs.spec.stream_configuration.data_retention_in_hours
                && pool.retention_hours != Some(hours)
            {
                actions.push(PoolAction::UpdateRetention(hours));
            }
            if let Some(t) = tags {
                actions.extend(
                    decide::tag_actions(&desired, t)
                        .into_iter()
                        .map(from_tag_action),
                );
            }
            PoolPlan {
                actions,
                requeue: next_read(&status, settings, now),
                status,
            }
        }
    }
}

fn from_tag_action(a: decide::Action) -> PoolAction {
    match a {
        decide::Action::Tag(t) => PoolAction::Tag(t),
        decide::Action::Untag(k) => PoolAction::Untag(k),
        decide::Action::Create => PoolAction::Create,
    }
}

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
    decide::set_observed(
        &mut status.conditions,
        ready,
        reason,
        message,
        generation,
        now,
    );
    settle(&mut status, generation, now);
    status
}

pub fn with_error(
    mut status: KinesisVideoStreamPoolStatus,
    err: &Error,
    generation: Option<i64>,
    now: Timestamp,
) -> KinesisVideoStreamPoolStatus {
    let message = err.to_string();
    if status.pool_arn.is_none() {
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
    settle(&mut status, generation, now);
    status
}

fn settle(status: &mut KinesisVideoStreamPoolStatus, generation: Option<i64>, now: Timestamp) {
    let terminal = matches!(
        status.pool_status.as_deref(),
        Some("FAILED") | Some(decide::GONE)
    );
    decide::settle(&mut status.conditions, terminal, generation, now);
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

pub(crate) async fn apply(
    obj: &MediaPipelineKinesisVideoStreamPool,
    api: &Api<MediaPipelineKinesisVideoStreamPool>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    let generation = obj.meta().generation;
    if let Some(left) = ctx.held_back(&uid, generation) {
        return Ok(Action::requeue(left));
    }
    let settings = &ctx.config.settings;
    let status = obj.status.as_ref();
    let now = Timestamp::now();
    let name = obj.pool_name();

    let aws = ctx.aws.region(
        status
            .and_then(|s| s.region.as_deref())
            .or(obj.spec.region.as_deref()),
    );
    let remote = match status.and_then(|s| s.pool_arn.as_deref()) {
        Some(arn)
            if decide::due(
                generation,
                status.and_then(|s| s.observed_generation),
                status.and_then(|s| next_read(s, settings, now)),
                ctx.since_last_read(&uid),
            ) =>
        {
            ctx.mark_read(&uid);
            let spec_changed = status.and_then(|s| s.observed_generation) != generation;
            match aws.get_pool(arn).await {
                Ok(Some(pool)) if spec_changed => match aws.list_tags(&pool.arn).await {
                    Ok(tags) => RemoteRead::Found {
                        pool,
                        tags: Some(tags),
                    },
                    Err(e) => RemoteRead::Failed(e),
                },
                Ok(Some(pool)) => RemoteRead::Found { pool, tags: None },
                Ok(None) => RemoteRead::Gone,
                Err(e) => RemoteRead::Failed(e),
            }
        }
        _ => RemoteRead::Unread,
    };
    let create_tags = ctx.create_tags(obj, &obj.spec.tags);
    let plan = decide(
        PoolObservation {
            generation,
            spec: &obj.spec,
            name: &name,
            status,
            create_tags: &create_tags,
            remote: &remote,
            now,
        },
        settings,
    );

    let mut new_status = plan.status;
    let mut requeue = plan.requeue;
    let mut failure = match remote {
        RemoteRead::Failed(e) => Some(e),
        _ => None,
    };
    let conf = &obj.spec.stream_configuration;
    for action in plan.actions {
        let arn = new_status.pool_arn.clone().unwrap_or_default();
        let result = match &action {
            PoolAction::Create => aws
                .create_pool(
                    &name,
                    &conf.region,
                    conf.data_retention_in_hours,
                    &uid,
                    &create_tags,
                )
                .await
                .map(|p| {
                    info!(pool = %p.arn, "created Kinesis Video Stream pool");
                    ctx.mark_read(&uid);
                    new_status = with_remote(new_status.clone(), &p, generation, now);
                    new_status.region = Some(aws.name().to_string());
                    requeue = next_read(&new_status, settings, now);
                }),
            PoolAction::UpdateRetention(hours) => {
                aws.update_pool_retention(&arn, *hours).await.map(|p| {
                    new_status = with_remote(new_status.clone(), &p, generation, now);
                    requeue = next_read(&new_status, settings, now);
                })
            }
            PoolAction::Tag(tags) => aws.tag(&arn, tags).await,
            PoolAction::Untag(keys) => aws.untag(&arn, keys).await,
        };
        if let Err(e) = result {
            new_status = with_error(new_status, &e, generation, now);
            if new_status.pool_arn.is_some() {
                new_status.observed_generation = status.and_then(|s| s.observed_generation);
            }
            failure = Some(e);
            break;
        }
    }
    write_status(api, obj, &new_status).await?;
    match failure {
        Some(e) => Err(e),
        None => {
            ctx.succeeded(&uid);
            Ok(requeue.map_or_else(Action::await_change, Action::requeue))
        }
    }
}

pub(crate) async fn cleanup(
    obj: &MediaPipelineKinesisVideoStreamPool,
    api: &Api<MediaPipelineKinesisVideoStreamPool>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    let ns = obj.namespace().unwrap_or_default();
    // Pipelines that still name this pool keep it: deleting both at once
    // removes the pipelines first. Their watch wakes this pool up.
    let pipelines: Api<MediaStreamPipeline> = Api::namespaced(ctx.client.clone(), &ns);
    let list = pipelines.list(&ListParams::default()).await?;
    let users = referencing(obj, &list.items);
    if !users.is_empty() {
        // An error keeps the finalizer (Ok would mean "cleaned up").
        let err = Error::InUse(format!(
            "deletion waits for the MediaStreamPipelines that use this pool: {}",
            users.join(", ")
        ));
        let status = with_error(
            obj.status.clone().unwrap_or_default(),
            &err,
            obj.meta().generation,
            Timestamp::now(),
        );
        write_status(api, obj, &status).await?;
        return Err(err);
    }
    let aws = ctx.aws.region(
        obj.status
            .as_ref()
            .and_then(|s| s.region.as_deref())
            .or(obj.spec.region.as_deref()),
    );
    let policy = obj
        .spec
        .deletion_policy
        .unwrap_or(ctx.config.default_deletion_policy);
    if policy == DeletionPolicy::Retain {
        ctx.forget(&uid);
        return Ok(Action::await_change());
    }
    let arn = match obj.status.as_ref().and_then(|s| s.pool_arn.clone()) {
        Some(arn) => Some(arn),
        // As for pipelines: a create may have succeeded unrecorded; the
        // replay returns that pool.
        None => {
            let conf = &obj.spec.stream_configuration;
            match aws
                .create_pool(
                    &obj.pool_name(),
                    &conf.region,
                    conf.data_retention_in_hours,
                    &uid,
                    &ctx.create_tags(obj, &obj.spec.tags),
                )
                .await
            {
                Ok(p) => Some(p.arn),
                Err(e)
                    if matches!(e.retry(), Retry::Permanent | Retry::Limit)
                        || e.reason() == "Conflict" =>
                {
                    None
                }
                Err(e) => return Err(e),
            }
        }
    };
    if let Some(arn) = arn {
        if let Err(e) = aws.delete_pool(&arn).await {
            let status = with_error(
                obj.status.clone().unwrap_or_default(),
                &e,
                obj.meta().generation,
                Timestamp::now(),
            );
            write_status(api, obj, &status).await?;
            return Err(e);
        }
        info!(pool = %arn, "deleted Kinesis Video Stream pool");
    }
    ctx.forget(&uid);
    Ok(Action::await_change())
}
