//! The controller: watches MediaStreamPipelines, and per resource observes
//! (the resource, and AWS when a read is due), decides ([`crate::decide`]),
//! and acts (AWS calls, then one server-side-apply status patch).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use crate::aws::Aws;
use crate::crd::{
    DeletionPolicy, FINALIZER, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
    MediaStreamSink, Tag,
};
use crate::decide::{self, Action as Step, Observation, Remote, Settings};
use crate::error::{Error, Retry};
use crate::metrics;
use crate::pool;

/// The field manager of every status write; the operator never writes spec.
pub const MANAGER: &str = "chime-pipeline-operator";

#[derive(Debug, Clone)]
pub struct Config {
    /// Namespaces to watch; empty watches all.
    pub namespaces: Vec<String>,
    pub label_selector: Option<String>,
    /// Most reconciles at once (per watched namespace).
    pub max_concurrent_reconciles: u16,
    pub default_deletion_policy: DeletionPolicy,
    /// Tag every pipeline with its resource's namespace, name and UID.
    pub identity_tags: bool,
    pub settings: Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            namespaces: vec![],
            label_selector: None,
            max_concurrent_reconciles: 16,
            default_deletion_policy: DeletionPolicy::Delete,
            identity_tags: true,
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

/// What every reconcile shares, for both kinds: clients, settings, and the
/// in-memory failure and read bookkeeping (by UID).
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) aws: Aws,
    pub(crate) config: Config,
    recorder: Recorder,
    failures: Mutex<HashMap<String, Failures>>,
    last_read: Mutex<HashMap<String, Instant>>,
}

impl Context {
    /// Time left before this resource may call AWS again after a failure; a
    /// changed spec lifts the wait.
    pub(crate) fn held_back(&self, uid: &str, generation: Option<i64>) -> Option<Duration> {
        let map = self.failures.lock().ok()?;
        let f = map.get(uid)?;
        if f.generation != generation {
            return None;
        }
        f.not_before.checked_duration_since(Instant::now())
    }

    pub(crate) fn failed(&self, uid: &str, generation: Option<i64>, retry: Retry) -> Duration {
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

    pub(crate) fn succeeded(&self, uid: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(uid);
        }
    }

    pub(crate) fn since_last_read(&self, uid: &str) -> Option<Duration> {
        self.last_read.lock().ok()?.get(uid).map(|t| t.elapsed())
    }

    pub(crate) fn mark_read(&self, uid: &str) {
        self.mark_read_ago(uid, Duration::ZERO);
    }

    fn mark_read_ago(&self, uid: &str, ago: Duration) {
        if let Ok(mut map) = self.last_read.lock() {
            let at = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
            map.insert(uid.to_string(), at);
        }
    }

    pub(crate) fn forget(&self, uid: &str) {
        self.succeeded(uid);
        if let Ok(mut map) = self.last_read.lock() {
            map.remove(uid);
        }
        metrics::global().pipeline_status(uid, None);
    }

    /// The tags sent with a create; they depend only on the resource's
    /// identity and its user tags' keys, so a replay sends the same.
    pub(crate) fn create_tags<K: Resource>(&self, obj: &K, user_tags: &[Tag]) -> Vec<Tag> {
        if !self.config.identity_tags {
            return vec![];
        }
        let own = decide::identity_tags(
            &obj.namespace().unwrap_or_default(),
            &obj.name_any(),
            &obj.uid().unwrap_or_default(),
        );
        decide::create_tags(user_tags, &own)
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
        // Published aside: a slow Events API must not hold a reconcile slot.
        let (recorder, reference) = (self.recorder.clone(), obj.object_ref(&()));
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&ev, &reference).await {
                warn!(error = %e, "could not publish event");
            }
        });
    }
}

/// Runs the controller until `shutdown` completes. Readiness (for /readyz)
/// is set once every watch has listed its resources.
pub async fn run(
    client: Client,
    aws: Aws,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let apis: Vec<Api<MediaStreamPipeline>> = if config.namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        config
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
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
    let shutdown = shutdown.shared();
    // One pair of controllers per namespace: a watch (and its cache) covers
    // one namespace or all of them.
    let mut stores = vec![];
    let mut controllers = vec![];
    for api in apis {
        let pools: Api<MediaPipelineKinesisVideoStreamPool> = match &api.namespace() {
            Some(ns) => Api::namespaced(ctx.client.clone(), ns),
            None => Api::all(ctx.client.clone()),
        };
        // The cache keeps no managedFields nor last-applied annotation (half
        // of an object's size), and our own status writes wake nothing: only
        // changes to spec, finalizers or deletion do (plus requeues).
        let (reader, writer) = reflector::store();
        let trigger = watcher(api.clone(), wc.clone())
            .default_backoff()
            .modify(|o: &mut MediaStreamPipeline| {
                o.managed_fields_mut().clear();
                o.annotations_mut().remove(LAST_APPLIED);
            })
            .reflect(writer)
            .applied_objects()
            .predicate_filter(spec_or_lifecycle, Default::default());
        let pipelines = Controller::for_stream(trigger, reader).with_config(
            controller::Config::default().concurrency(config.max_concurrent_reconciles),
        );
        let users = pipelines.store();
        stores.push(synced(pipelines.store()));
        // A pool's change wakes the pipelines that name it.
        let pipelines = pipelines.watches(pools.clone(), wc.clone(), move |pool| {
            let names = pool::referencing(&pool, users.state().iter().map(|p| p.as_ref()));
            let ns = pool.namespace();
            names.into_iter().map(move |n| match &ns {
                Some(ns) => ObjectRef::new(&n).within(ns),
                None => ObjectRef::new(&n),
            })
        });
        controllers.push(
            pipelines
                .graceful_shutdown_on(shutdown.clone())
                .run(reconcile, error_policy, ctx.clone())
                .for_each(log_failure)
                .boxed(),
        );
        let pool_ctl = Controller::new(pools, wc.clone()).with_config(
            controller::Config::default().concurrency(config.max_concurrent_reconciles),
        );
        stores_pools(&mut stores, &pool_ctl);
        // A pipeline's change (above all its deletion) wakes the pools it names.
        let pool_ctl = pool_ctl.watches(api, wc.clone(), |p: MediaStreamPipeline| {
            let ns = p.namespace();
            p.spec
                .sinks
                .iter()
                .filter_map(|s| s.pool_ref.as_ref().map(|r| r.name.clone()))
                .map(move |n| match &ns {
                    Some(ns) => ObjectRef::new(&n).within(ns),
                    None => ObjectRef::new(&n),
                })
                .collect::<Vec<_>>()
        });
        controllers.push(
            pool_ctl
                .graceful_shutdown_on(shutdown.clone())
                .run(reconcile_pool, error_policy_pool, ctx.clone())
                .for_each(log_failure)
                .boxed(),
        );
    }
    let ready = tokio::spawn(async move {
        for store in stores {
            if !store.await {
                return;
            }
        }
        info!("caches synced: ready");
        metrics::global().set_ready(true);
    });
    futures::future::join_all(controllers).await;
    ready.abort();
    metrics::global().set_ready(false);
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What should wake a reconcile: the spec (generation), the finalizers and
/// the deletion; not status writes, which are the operator's own.
fn spec_or_lifecycle(o: &MediaStreamPipeline) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    o.meta().generation.hash(&mut h);
    o.finalizers().hash(&mut h);
    o.meta()
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .hash(&mut h);
    Some(h.finish())
}

async fn log_failure<T, E: std::error::Error + 'static, Q: std::error::Error + 'static>(
    res: Result<T, controller::Error<E, Q>>,
) {
    match res {
        // A deleted object still named by a watch mapping: nothing to do.
        Err(controller::Error::ObjectNotFound(_)) => {}
        Err(e) => warn!(error = %e, "reconcile failed"),
        Ok(_) => {}
    }
}

/// Resolves when a controller's cache has listed everything; false if it
/// never will. The store's readiness signal wakes one waiter only, and the
/// controller itself waits on it: poll with a timeout instead.
type Synced = futures::future::BoxFuture<'static, bool>;

fn synced<K>(store: kube::runtime::reflector::Store<K>) -> Synced
where
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    async move {
        loop {
            match tokio::time::timeout(Duration::from_millis(200), store.wait_until_ready()).await {
                Ok(Ok(())) => return true,
                Ok(Err(_)) => return false,
                Err(_) => continue,
            }
        }
    }
    .boxed()
}

fn stores_pools(stores: &mut Vec<Synced>, c: &Controller<MediaPipelineKinesisVideoStreamPool>) {
    stores.push(synced(c.store()));
}

/// Runs one kind's reconcile inside its finalizer, with a span and metrics.
async fn reconcile_with<K, F, G>(
    obj: Arc<K>,
    ctx: &Context,
    apply: F,
    cleanup: G,
) -> Result<Action, Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    F: AsyncFnOnce(&K, &Api<K>, &Context) -> Result<Action, Error>,
    G: AsyncFnOnce(&K, &Api<K>, &Context) -> Result<Action, Error>,
{
    let start = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", kind = %K::kind(&()), namespace = %ns, name = %obj.name_any(), uid = %obj.uid().unwrap_or_default());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => apply(&o, &api, ctx).await,
            Finalizer::Cleanup(o) => cleanup(&o, &api, ctx).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    let (outcome, reason) = match &result {
        Ok(_) => ("success", "Synced"),
        Err(e) => ("error", e.reason()),
    };
    metrics::global().reconciled(outcome, reason, start.elapsed());
    result
}

async fn reconcile(obj: Arc<MediaStreamPipeline>, ctx: Arc<Context>) -> Result<Action, Error> {
    reconcile_with(obj, &ctx, apply, cleanup).await
}

async fn reconcile_pool(
    obj: Arc<MediaPipelineKinesisVideoStreamPool>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    reconcile_with(obj, &ctx, pool::apply, pool::cleanup).await
}

/// Every failure comes through here: the resource waits for its backoff,
/// and `apply` refuses AWS calls until then, whatever event wakes it.
fn error_policy(obj: Arc<MediaStreamPipeline>, err: &Error, ctx: Arc<Context>) -> Action {
    let uid = obj.uid().unwrap_or_default();
    Action::requeue(ctx.failed(&uid, obj.meta().generation, err.retry()))
}

fn error_policy_pool(
    obj: Arc<MediaPipelineKinesisVideoStreamPool>,
    err: &Error,
    ctx: Arc<Context>,
) -> Action {
    let uid = obj.uid().unwrap_or_default();
    Action::requeue(ctx.failed(&uid, obj.meta().generation, err.retry()))
}

/// The spec's sinks with each pool reference replaced by that pool's ARN;
/// Err says which pool is missing or not ACTIVE yet.
async fn resolve_sinks(
    obj: &MediaStreamPipeline,
    ctx: &Context,
) -> Result<Result<Vec<MediaStreamSink>, String>, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let pools: Api<MediaPipelineKinesisVideoStreamPool> = Api::namespaced(ctx.client.clone(), &ns);
    let mut out = vec![];
    for sink in &obj.spec.sinks {
        let Some(r) = &sink.pool_ref else {
            out.push(sink.clone());
            continue;
        };
        let Some(pool) = pools.get_opt(&r.name).await? else {
            return Ok(Err(format!(
                "Waiting for MediaPipelineKinesisVideoStreamPool {ns}/{}: it does not exist",
                r.name
            )));
        };
        let status = pool.status.unwrap_or_default();
        match (status.pool_arn, status.pool_status.as_deref()) {
            (Some(arn), Some(pool::ACTIVE)) => out.push(MediaStreamSink {
                sink_arn: Some(arn),
                pool_ref: None,
                ..sink.clone()
            }),
            (_, state) => {
                return Ok(Err(format!(
                    "Waiting for MediaPipelineKinesisVideoStreamPool {ns}/{} to be ACTIVE (it is {})",
                    r.name,
                    state.unwrap_or("not created yet")
                )));
            }
        }
    }
    Ok(Ok(out))
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

    // Observe. Calls go to the region the pipeline lives in, once known.
    let aws = ctx.aws.region(
        status
            .and_then(|s| s.region.as_deref())
            .or(obj.spec.region.as_deref()),
    );
    // First sight, in this process, of a pipeline at rest (a restart): count
    // it as read at a random moment of the last interval, so that a restart
    // costs no burst of reads, and later reads spread evenly.
    let every = status.and_then(|s| decide::next_read(s, settings, now));
    if ctx.since_last_read(&uid).is_none()
        && every == Some(settings.refresh_interval)
        && status.and_then(|s| s.observed_generation) == generation
    {
        ctx.mark_read_ago(
            &uid,
            settings.refresh_interval.mul_f64(rand::random::<f64>()),
        );
    }
    let adopt = obj.spec.adopt_media_pipeline_id.as_deref();
    let read = match status.and_then(|s| s.media_pipeline_id.as_deref()) {
        Some(id)
            if decide::refresh_due(
                generation,
                status,
                ctx.since_last_read(&uid),
                settings,
                now,
            ) =>
        {
            Some(id)
        }
        Some(_) => None,
        // Adoption reads the named pipeline instead of creating one.
        None => adopt,
    };
    let remote = match read {
        Some(id) => {
            ctx.mark_read(&uid);
            let spec_changed = status.and_then(|s| s.observed_generation) != generation;
            match aws.get(id).await {
                Ok(Some(pipeline)) if spec_changed => match aws.list_tags(&pipeline.arn).await {
                    Ok(tags) => Remote::Found {
                        pipeline,
                        tags: Some(tags),
                    },
                    Err(e) => Remote::Failed(e),
                },
                Ok(Some(pipeline)) => Remote::Found {
                    pipeline,
                    tags: None,
                },
                Ok(None) => Remote::Gone,
                Err(e) => Remote::Failed(e),
            }
        }
        None => Remote::Unread,
    };
    let was_gone = status.and_then(|s| s.pipeline_status.as_deref()) == Some(decide::GONE);
    let create_tags = ctx.create_tags(obj, &obj.spec.tags);
    // Pool references matter for a create, and for the immutability check
    // when the spec changed.
    let needs_sinks = status.and_then(|s| s.media_pipeline_id.as_ref()).is_none()
        || matches!(remote, Remote::Found { tags: Some(_), .. });
    let sinks = if needs_sinks && obj.spec.sinks.iter().any(|s| s.pool_ref.is_some()) {
        resolve_sinks(obj, ctx).await?
    } else {
        Ok(obj.spec.sinks.clone())
    };

    // Decide.
    let plan = decide::decide(
        Observation {
            generation,
            spec: &obj.spec,
            status,
            create_tags: &create_tags,
            sinks: &sinks,
            region: aws.name(),
            remote: &remote,
            now,
        },
        settings,
    );

    // Act. A create needs the resource to be really there with our
    // finalizer: the cache may lag a delete, and a delete racing the
    // finalizer's addition can win (seen on a 1.20 API server).
    // The cache may also lag our own status write: an ID there means the
    // pipeline exists, and the next reconcile sees it.
    if plan.actions.contains(&Step::Create) {
        let fresh = api.get_opt(&obj.name_any()).await?;
        let guarded = fresh.as_ref().is_some_and(|o| {
            o.uid() == obj.uid()
                && o.meta().deletion_timestamp.is_none()
                && o.finalizers().iter().any(|f| f == FINALIZER)
        });
        if !guarded {
            return Ok(Action::await_change());
        }
        if fresh.is_some_and(|o| o.status.is_some_and(|s| s.media_pipeline_id.is_some())) {
            return Ok(Action::requeue(settings.poll_min));
        }
    }
    let mut new_status = plan.status;
    // At rest, the next read is due one interval after the last.
    let mut requeue = match (&remote, plan.requeue, ctx.since_last_read(&uid)) {
        (Remote::Unread, Some(d), Some(since)) if Some(d) == every => {
            Some(d.saturating_sub(since).max(settings.poll_min))
        }
        (_, d, _) => d,
    };
    let mut failure = match remote {
        Remote::Failed(e) => Some(e),
        _ => None,
    };
    for step in plan.actions {
        let arn = new_status.media_pipeline_arn.clone().unwrap_or_default();
        let result = match &step {
            Step::Create => match aws
                .create(
                    &obj.spec.sources,
                    sinks.as_deref().unwrap_or_default(),
                    &uid,
                    &create_tags,
                )
                .await
            {
                Ok(p) => {
                    info!(pipeline = %p.id, "created media pipeline");
                    ctx.mark_read(&uid);
                    new_status = decide::with_remote(new_status, &p, generation, now);
                    new_status.region = Some(aws.name().to_string());
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
            Step::Tag(tags) => aws.tag(&arn, tags).await,
            Step::Untag(keys) => aws.untag(&arn, keys).await,
        };
        if let Err(e) = result {
            new_status = decide::with_error(new_status, &e, generation, now);
            if new_status.media_pipeline_id.is_some() {
                // The spec is not fully applied: keep the old generation so
                // that the next attempt re-reads and retries.
                new_status.observed_generation = status.and_then(|s| s.observed_generation);
            }
            failure = Some(e);
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

    match write_status(api, obj, &new_status).await {
        // The resource vanished under us: its finalizer was never effective
        // (the API server can lose a race between adding a finalizer and a
        // delete). Nothing will ever record this pipeline, so undo it now.
        Err(Error::Kube(kube::Error::Api(e))) if e.code == 404 => {
            let created = status.and_then(|s| s.media_pipeline_id.as_ref()).is_none();
            let policy = obj
                .spec
                .deletion_policy
                .unwrap_or(ctx.config.default_deletion_policy);
            if let (true, DeletionPolicy::Delete, Some(id)) =
                (created, policy, &new_status.media_pipeline_id)
            {
                warn!(pipeline = %id, "the resource is gone: deleting the pipeline just created for it");
                aws.delete(id).await?;
            }
            ctx.forget(&uid);
            return Ok(Action::await_change());
        }
        other => other?,
    }
    metrics::global().pipeline_status(&uid, new_status.pipeline_status.as_deref());
    match failure {
        Some(e) => Err(e),
        None => {
            ctx.succeeded(&uid);
            Ok(requeue.map_or_else(Action::await_change, Action::requeue))
        }
    }
}

async fn cleanup(
    obj: &MediaStreamPipeline,
    api: &Api<MediaStreamPipeline>,
    ctx: &Context,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    // An adopted pipeline was not ours to begin with: kept unless asked.
    let policy =
        obj.spec
            .deletion_policy
            .unwrap_or(if obj.spec.adopt_media_pipeline_id.is_some() {
                DeletionPolicy::Retain
            } else {
                ctx.config.default_deletion_policy
            });
    let id = obj
        .status
        .as_ref()
        .and_then(|s| s.media_pipeline_id.clone());
    let aws = ctx.aws.region(
        obj.status
            .as_ref()
            .and_then(|s| s.region.as_deref())
            .or(obj.spec.region.as_deref()),
    );
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
            // An adoption that never matched created nothing.
            None if obj.spec.adopt_media_pipeline_id.is_some() => return Ok(None),
            None => match resolve_sinks(obj, ctx).await? {
                Err(_) => return Ok(None), // an unresolvable sink was never sent
                Ok(sinks) => match aws
                    .create(
                        &obj.spec.sources,
                        &sinks,
                        &uid,
                        &ctx.create_tags(obj, &obj.spec.tags),
                    )
                    .await
                {
                    Ok(p) => p.id,
                    Err(e) if matches!(e.retry(), Retry::Permanent | Retry::Limit) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                },
            },
        };
        aws.delete(&id).await.map(|()| Some(id))
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
pub(crate) async fn write_status<K>(api: &Api<K>, obj: &K, status: &K::Status) -> Result<(), Error>
where
    K: Resource<DynamicType = ()>
        + HasStatus
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::Status: serde::Serialize + PartialEq,
{
    if obj.status() == Some(status) {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
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
