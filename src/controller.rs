//! The controller: watches MediaStreamPipelines, and per resource observes
//! (the resource, and AWS when a read is due), decides ([`crate::decide`]),
//! and acts (AWS calls, then one server-side-apply status patch).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use crate::aws::Aws;
use crate::crd::{DeletionPolicy, FINALIZER, MediaStreamPipeline, MediaStreamPipelineStatus};
use crate::decide::{self, Action as Step, Observation, Remote, Settings};
use crate::error::{Error, Retry};

/// The field manager of every status write; the operator never writes spec.
pub const MANAGER: &str = "chime-pipeline-operator";

#[derive(Debug, Clone)]
pub struct Config {
    /// Watch only this namespace (all when None).
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub max_concurrent_reconciles: u16,
    pub default_deletion_policy: DeletionPolicy,
    pub settings: Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespace: None,
            label_selector: None,
            max_concurrent_reconciles: 16,
            default_deletion_policy: DeletionPolicy::Delete,
            settings: Settings::default(),
        }
    }
}

/// A failure streak of one resource, kept in memory: it only spaces retries.
struct Failures {
    generation: Option<i64>,
    count: u32,
    not_before: Instant,
}

struct Context {
    client: Client,
    aws: Aws,
    config: Config,
    recorder: Recorder,
    failures: Mutex<HashMap<String, Failures>>,
    last_read: Mutex<HashMap<String, Instant>>,
}

impl Context {
    /// Time left before this resource may call AWS again after a failure; a
    /// changed spec lifts the wait.
    fn held_back(&self, uid: &str, generation: Option<i64>) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let f = map.get(uid)?;
        if f.generation != generation {
            return None;
        }
        f.not_before.checked_duration_since(Instant::now())
    }

    fn failed(&self, uid: &str, generation: Option<i64>, retry: Retry) -> Duration {
        let Ok(mut map) = self.failures.lock() else {
            return self.config.settings.backoff.base;
        };
        let entry = map.entry(uid.to_string()).or_insert(Failures {
            generation,
            count: 0,
            not_before: Instant::now(),
        });
        entry.count = if entry.generation == generation {
            entry.count + 1
        } else {
            1
        };
        entry.generation = generation;
        let delay = self
            .config
            .settings
            .backoff
            .delay(retry, entry.count, rand::random::<f64>());
        entry.not_before = Instant::now() + delay;
        delay
    }

    fn succeeded(&self, uid: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(uid);
        }
    }

    fn since_last_read(&self, uid: &str) -> Option<Duration> {
        self.last_read.lock().ok()?.get(uid).map(|t| t.elapsed())
    }

    fn mark_read(&self, uid: &str) {
        if let Ok(mut map) = self.last_read.lock() {
            map.insert(uid.to_string(), Instant::now());
        }
    }

    fn forget(&self, uid: &str) {
        self.succeeded(uid);
        if let Ok(mut map) = self.last_read.lock() {
            map.remove(uid);
        }
    }

    async fn event(&self, obj: &MediaStreamPipeline, warning: bool, reason: &str, note: String) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            warn!(error = %e, "could not publish event");
        }
    }
}

/// Runs the controller until `shutdown` completes.
pub async fn run(
    client: Client,
    aws: Aws,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<MediaStreamPipeline> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut wc = watcher::Config::default().any_semantic();
    if let Some(sel) = &config.label_selector {
        wc = wc.labels(sel);
    }
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        aws,
        failures: Mutex::default(),
        last_read: Mutex::default(),
        config: config.clone(),
    });
    Controller::new(api, wc)
        .with_config(controller::Config::default().concurrency(config.max_concurrent_reconciles))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                warn!(error = %e, "reconcile failed");
            }
        })
        .await;
}

async fn reconcile(obj: Arc<MediaStreamPipeline>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", namespace = %ns, name = %obj.name_any(), uid = %obj.uid().unwrap_or_default());
    let api: Api<MediaStreamPipeline> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => apply(&o, &api, &ctx).await,
            Finalizer::Cleanup(o) => cleanup(&o, &api, &ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

fn error_policy(obj: Arc<MediaStreamPipeline>, err: &Error, ctx: Arc<Context>) -> Action {
    let uid = obj.uid().unwrap_or_default();
    Action::requeue(ctx.failed(&uid, obj.meta().generation, err.retry()))
}

async fn apply(
    obj: &MediaStreamPipeline,
    api: &Api<MediaStreamPipeline>,
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

    // Observe.
    let mut read_failure = None;
    let remote = match status.and_then(|s| s.media_pipeline_id.as_deref()) {
        Some(id)
            if decide::refresh_due(
                generation,
                status,
                ctx.since_last_read(&uid),
                settings,
                now,
            ) =>
        {
            ctx.mark_read(&uid);
            let spec_changed = status.and_then(|s| s.observed_generation) != generation;
            match ctx.aws.get(id).await {
                Ok(Some(pipeline)) if spec_changed => {
                    match ctx.aws.list_tags(&pipeline.arn).await {
                        Ok(tags) => Remote::Found {
                            pipeline,
                            tags: Some(tags),
                        },
                        Err(e) => Remote::Failed(e),
                    }
                }
                Ok(Some(pipeline)) => Remote::Found {
                    pipeline,
                    tags: None,
                },
                Ok(None) => Remote::Gone,
                Err(e) => Remote::Failed(e),
            }
        }
        _ => Remote::Unread,
    };
    if let Remote::Failed(e) = &remote {
        read_failure = Some(e.retry());
    }
    let was_gone = status.and_then(|s| s.pipeline_status.as_deref()) == Some(decide::GONE);

    // Decide.
    let plan = decide::decide(
        Observation {
            generation,
            spec: &obj.spec,
            status,
            remote,
            now,
        },
        settings,
    );

    // Act.
    let mut new_status = plan.status;
    let mut requeue = plan.requeue;
    let mut failure: Option<Retry> = read_failure;
    for step in plan.actions {
        let arn = new_status.media_pipeline_arn.clone().unwrap_or_default();
        let result = match &step {
            Step::Create => match ctx.aws.create(&obj.spec, &uid, &obj.spec.tags).await {
                Ok(p) => {
                    info!(pipeline = %p.id, "created media pipeline");
                    ctx.mark_read(&uid);
                    new_status = decide::with_remote(new_status, &p, generation, now);
                    requeue = decide::next_read(&new_status, settings, now);
                    ctx.event(
                        obj,
                        false,
                        "Created",
                        format!("Created media pipeline {}", p.id),
                    )
                    .await;
                    Ok(())
                }
                Err(e) => {
                    ctx.event(obj, true, "CreateFailed", e.to_string()).await;
                    Err(e)
                }
            },
            Step::Tag(tags) => ctx.aws.tag(&arn, tags).await,
            Step::Untag(keys) => ctx.aws.untag(&arn, keys).await,
        };
        if let Err(e) = result {
            warn!(error = %e, reason = e.reason(), "AWS call failed");
            new_status = decide::with_error(new_status, &e, generation, now);
            if new_status.media_pipeline_id.is_some() {
                // The spec is not fully applied: keep the old generation so
                // that the next attempt re-reads and retries.
                new_status.observed_generation = status.and_then(|s| s.observed_generation);
            }
            failure = Some(e.retry());
            break;
        }
    }
    if !was_gone && new_status.pipeline_status.as_deref() == Some(decide::GONE) {
        ctx.event(
            obj,
            true,
            "PipelineGone",
            "AWS no longer knows the media pipeline; it is not recreated".into(),
        )
        .await;
    }

    write_status(api, obj, &new_status).await?;
    Ok(match failure {
        Some(retry) => Action::requeue(ctx.failed(&uid, generation, retry)),
        None => {
            ctx.succeeded(&uid);
            requeue.map_or_else(Action::await_change, Action::requeue)
        }
    })
}

async fn cleanup(
    obj: &MediaStreamPipeline,
    api: &Api<MediaStreamPipeline>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    let policy = obj
        .spec
        .deletion_policy
        .unwrap_or(ctx.config.default_deletion_policy);
    let id = obj
        .status
        .as_ref()
        .and_then(|s| s.media_pipeline_id.clone());
    if policy == DeletionPolicy::Retain {
        if let Some(id) = &id {
            ctx.event(
                obj,
                false,
                "Retained",
                format!("Media pipeline {id} kept (deletionPolicy Retain)"),
            )
            .await;
        }
        ctx.forget(&uid);
        return Ok(Action::await_change());
    }
    let result = async {
        let id = match id {
            Some(id) => id,
            // No ID recorded: a create may still have succeeded (a crash or a
            // failed status write right after it). Replaying the create with
            // the same token returns that pipeline, so it is not orphaned.
            None => match ctx.aws.create(&obj.spec, &uid, &obj.spec.tags).await {
                Ok(p) => p.id,
                Err(e) if matches!(e.retry(), Retry::Permanent | Retry::Limit) => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        ctx.aws.delete(&id).await.map(|()| Some(id))
    }
    .await;
    match result {
        Ok(deleted) => {
            if let Some(id) = deleted {
                info!(pipeline = %id, "deleted media pipeline");
                ctx.event(
                    obj,
                    false,
                    "Deleted",
                    format!("Deleted media pipeline {id}"),
                )
                .await;
            }
            ctx.forget(&uid);
            Ok(Action::await_change())
        }
        Err(e) => {
            ctx.event(obj, true, "DeleteFailed", e.to_string()).await;
            let status = decide::with_error(
                obj.status.clone().unwrap_or_default(),
                &e,
                obj.meta().generation,
                Timestamp::now(),
            );
            write_status(api, obj, &status).await?;
            Err(e)
        }
    }
}

/// One server-side apply of the whole status under our field manager;
/// skipped when nothing changed, so a quiet reconcile costs no write.
async fn write_status(
    api: &Api<MediaStreamPipeline>,
    obj: &MediaStreamPipeline,
    status: &MediaStreamPipelineStatus,
) -> Result<(), Error> {
    if obj.status.as_ref() == Some(status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": MediaStreamPipeline::api_version(&()),
        "kind": MediaStreamPipeline::kind(&()),
        "status": status,
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}
