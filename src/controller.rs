//! The controller wiring: one controller per kind, over one watch of its
//! kind per watched namespace (or one for all) and one trimmed cache,
//! woken by spec, finalizer and deletion changes and by the other kind's
//! watch (a pool's change wakes the pipelines naming it, and the other way
//! round); readiness once every watch has listed.
//!
//! Every watch reads [`Decoded`] objects: one that does not decode into its
//! type is kept apart and reported ([`invalid`]) instead of failing the
//! whole list, so no single object can stall the others or readiness.

mod cache;
mod events;
mod invalid;

use events::object_ref;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::aws::Aws;
use crate::config::{self, Config};
use crate::crd::{
    Decoded, MediaCapturePipeline, MediaConcatenationPipeline, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline, RECONCILE_REQUESTED_AT,
};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::reconcile::{self, Context, MANAGER, Managed};

/// Runs the controllers until `shutdown` completes. Readiness (for /readyz)
/// is set once every watch has listed its resources.
pub async fn run(
    client: Client,
    aws: Aws,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let reporter = Reporter {
        controller: MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(client, aws, config, metrics.clone(), recorder));
    let shutdown = shutdown.shared();
    // A watch covers one namespace or all of them; one controller and one
    // cache per kind serve every watch.
    let scopes: Vec<Option<String>> = if ctx.config.namespaces.is_empty() {
        vec![None]
    } else {
        let namespaces = config::unique(ctx.config.namespaces.clone());
        namespaces.into_iter().map(Some).collect()
    };
    // A kind whose resources name others (a stream pipeline its pools, a
    // concatenation its capture) is linked to theirs: each watch tells the
    // other controller whom its changes concern, so no kind is watched (nor
    // decoded) twice.
    let (pipeline_store, pipeline_cache) = reflector::store::<Decoded<MediaStreamPipeline>>();
    let (pool_store, pool_cache) = reflector::store();
    let (capture_store, capture_cache) = reflector::store();
    let (concat_store, concat_cache) = reflector::store::<Decoded<MediaConcatenationPipeline>>();
    let pools = link(pipeline_store.clone(), MediaStreamPipeline::pool_names);
    let captures = link(
        concat_store.clone(),
        MediaConcatenationPipeline::capture_names,
    );
    let cached = (
        pipeline_store.clone(),
        pool_store.clone(),
        capture_store.clone(),
        concat_store.clone(),
    );
    // What the event queue's reader wakes, kind by kind.
    let (pipeline_events, pipelines_told) = waker(&pipeline_store);
    let (pool_events, pools_told) = waker(&pool_store);
    let (capture_events, captures_told) = waker(&capture_store);
    let (concat_events, concats_told) = waker(&concat_store);
    let told = vec![pipeline_events, pool_events, capture_events, concat_events];
    let (pipelines, pipelines_synced) = controller_for(
        &ctx,
        &scopes,
        (pipeline_store, pipeline_cache),
        pools.on_user,
    );
    let (pool_controller, pools_synced) =
        controller_for(&ctx, &scopes, (pool_store, pool_cache), pools.on_used);
    let (capture_controller, captures_synced) = controller_for(
        &ctx,
        &scopes,
        (capture_store, capture_cache),
        captures.on_used,
    );
    let (concats, concats_synced) = controller_for(
        &ctx,
        &scopes,
        (concat_store, concat_cache),
        captures.on_user,
    );
    let upkeep = async {
        let all = [
            pipelines_synced,
            pools_synced,
            captures_synced,
            concats_synced,
        ];
        for mut synced in all {
            if synced.wait_for(|done| *done).await.is_err() {
                return futures::future::pending().await;
            }
        }
        info!("caches synced: ready");
        metrics.set_ready(true);
        prune(&ctx, cached).await
    };
    let controllers = futures::future::join4(
        start(
            pipelines
                .reconcile_on(pools.users_woken)
                .reconcile_on(pipelines_told),
            &ctx,
            shutdown.clone(),
        ),
        start(
            pool_controller
                .reconcile_on(pools.used_woken)
                .reconcile_on(pools_told),
            &ctx,
            shutdown.clone(),
        ),
        start(
            capture_controller
                .reconcile_on(captures.used_woken)
                .reconcile_on(captures_told),
            &ctx,
            shutdown.clone(),
        ),
        start(
            concats
                .reconcile_on(captures.users_woken)
                .reconcile_on(concats_told),
            &ctx,
            shutdown,
        ),
    );
    let reading = read_events(ctx.clone(), told);
    // The upkeep never ends: it stops with the controllers, and is dropped
    // with them when the lease is lost (a task would outlive them).
    tokio::select! {
        _ = controllers => {}
        () = upkeep => {}
        () = reading => {}
    }
    ctx.metrics.set_ready(false);
}

type Caches = (
    Store<Decoded<MediaStreamPipeline>>,
    Store<Decoded<MediaPipelineKinesisVideoStreamPool>>,
    Store<Decoded<MediaCapturePipeline>>,
    Store<Decoded<MediaConcatenationPipeline>>,
);

/// Every refresh interval, drops what the context and the metrics keep
/// about resources no longer in either cache: those gone without the
/// operator's cleanup (a finalizer removed by hand, a namespace or the CRD
/// deleted), or recorded by a reconcile that ended after their deletion.
/// One pass over the cached UIDs per interval costs nothing next to the
/// reads that interval paces. Forgetting on each Delete event instead would
/// miss both the objects a relist drops (the cache drops them without an
/// event) and a reconcile that records after the Delete. Stale gauges last
/// at most one interval: no longer than the statuses they count.
async fn prune(ctx: &Context, (pipelines, pools, captures, concats): Caches) {
    let every = ctx.config.settings.refresh_interval.max(PRUNE_FLOOR);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut live = uids(&pipelines);
        live.extend(uids(&pools));
        live.extend(uids(&captures));
        live.extend(uids(&concats));
        ctx.retain(&live);
    }
}

/// One kind's part of what the event queue's reader wakes, and the stream
/// of wake-ups its controller reconciles on.
fn waker<K: Managed>(
    store: &Store<Decoded<K>>,
) -> (
    Box<dyn events::Wake>,
    mpsc::UnboundedReceiver<ObjectRef<Decoded<K>>>,
) {
    let (wake, woken) = mpsc::unbounded();
    let store = store.clone();
    (Box::new(events::Waker { store, wake }), woken)
}

/// Reads the event queue, when there is one; else never ends.
async fn read_events(ctx: Arc<Context>, kinds: Vec<Box<dyn events::Wake>>) {
    let Some(config) = ctx.config.events.clone() else {
        return futures::future::pending().await;
    };
    let queue = ctx.aws.queue(&config.queue_url);
    info!(queue = %config.queue_url, "reading events from the queue");
    events::run(ctx, queue, kinds, config.silence).await;
}

/// What links a kind whose resources name others by reference (users) to
/// the kind they name (used): the watch of each wakes the other's
/// controller. A user's change (above all its deletion) wakes what it
/// names; a used resource's change wakes its users.
struct Link<U: Managed, D: Managed> {
    on_user: Touched<U>,
    on_used: Touched<D>,
    users_woken: mpsc::UnboundedReceiver<ObjectRef<Decoded<U>>>,
    used_woken: mpsc::UnboundedReceiver<ObjectRef<Decoded<D>>>,
}

/// What a watch calls with each object it applies or deletes.
type Touched<K> = Box<dyn Fn(&Decoded<K>) + Send>;

fn link<U: Managed, D: Managed>(
    users: Store<Decoded<U>>,
    names: fn(&U) -> Vec<&str>,
) -> Link<U, D> {
    let (wake_used, used_woken) = mpsc::unbounded();
    let (wake_users, users_woken) = mpsc::unbounded();
    let on_user = move |u: &Decoded<U>| {
        let Some(u) = u.valid() else { return };
        for name in names(u) {
            let _ = wake_used.unbounded_send(object_ref(u.namespace(), name));
        }
    };
    let on_used = move |d: &Decoded<D>| {
        let Some(d) = d.valid() else { return };
        let (ns, name) = (d.namespace(), d.name_any());
        let all = users.state();
        let same_ns = all
            .iter()
            .filter_map(|u| u.valid())
            .filter(|u| u.namespace() == ns);
        for u in same_ns.filter(|u| names(u).contains(&name.as_str())) {
            let _ = wake_users.unbounded_send(object_ref(ns.clone(), &u.name_any()));
        }
    };
    Link {
        on_user: Box::new(on_user),
        on_used: Box::new(on_used),
        users_woken,
        used_woken,
    }
}

fn uids<K: Resource<DynamicType = ()> + Clone>(cache: &Store<K>) -> HashSet<String> {
    let objects = cache.state();
    objects
        .iter()
        .filter_map(|o| o.meta().uid.clone())
        .collect()
}

/// The shortest interval between prunes, whatever the refresh interval
/// (which validation keeps above zero, but a config made in code may not).
const PRUNE_FLOOR: Duration = Duration::from_millis(100);

fn api<K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>>(
    ctx: &Context,
    ns: Option<&str>,
) -> Api<K> {
    match ns {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}

fn watch_config(ctx: &Context) -> watcher::Config {
    let wc = watcher::Config::default().any_semantic();
    match &ctx.config.label_selector {
        Some(sel) => wc.labels(sel),
        None => wc,
    }
}

/// Trims an object to what the reconcile reads before it is cached: no
/// managedFields (often half of an object's size), no labels (the label
/// selector is applied by the API server) and of the annotations only the
/// reconcile request (kubectl's last-applied copy and GitOps tools' own
/// annotations can be larger than the object). Setting a field to None
/// also frees the buffer a cleared Vec or map would keep.
fn trim<K: Resource>(o: &mut K) {
    let meta = o.meta_mut();
    meta.managed_fields = None;
    meta.labels = None;
    if let Some(a) = meta.annotations.take() {
        let kept: std::collections::BTreeMap<_, _> = a
            .into_iter()
            .filter(|(k, _)| k == RECONCILE_REQUESTED_AT)
            .collect();
        meta.annotations = (!kept.is_empty()).then_some(kept);
    }
}

/// A kind's controller over the watches of every scope, with one cache.
/// The cache keeps objects [`trim`]med, and the operator's own status
/// writes wake nothing: only changes to spec, finalizers or deletion do
/// (plus requeues and the other kind's wakes). `touched` sees every
/// applied or deleted object, for the other kind. Also returned: whether
/// every scope has listed.
fn controller_for<K: Managed>(
    ctx: &Arc<Context>,
    scopes: &[Option<String>],
    (reader, writer): (Store<Decoded<K>>, reflector::store::Writer<Decoded<K>>),
    touched: impl Fn(&Decoded<K>) + Send + 'static,
) -> (Controller<Decoded<K>>, watch::Receiver<bool>)
where
    K::Status: DeserializeOwned,
{
    let mut cache = cache::Union::new(writer, scopes.len());
    let synced = cache.synced();
    let watches = scopes.iter().map(|ns| {
        let scope = ns.clone();
        watcher(api::<Decoded<K>>(ctx, ns.as_deref()), watch_config(ctx))
            .default_backoff()
            .modify(trim)
            .inspect_ok(invalid::tracker::<K>(ctx.clone(), ns.as_deref()))
            .map_ok(move |e| (scope.clone(), e))
            .boxed()
    });
    let trigger = futures::stream::select_all(watches)
        .map_ok(move |(ns, e)| cache.apply(&ns, e))
        .inspect_ok(move |e| match e {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) | watcher::Event::Delete(o) => {
                touched(o)
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        })
        .applied_objects()
        .predicate_filter(spec_or_lifecycle::<Decoded<K>>, Default::default());
    let concurrency = ctx.config.max_concurrent_reconciles;
    let controller = Controller::for_stream(trigger, reader)
        .with_config(controller::Config::default().concurrency(concurrency));
    (controller, synced)
}

fn start<K: Managed>(
    c: Controller<Decoded<K>>,
    ctx: &Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> BoxFuture<'static, ()>
where
    K::Status: DeserializeOwned,
{
    c.graceful_shutdown_on(shutdown)
        .run(reconcile_any::<K>, error_policy_any::<K>, ctx.clone())
        .for_each(log_failure)
        .boxed()
}

/// The one reconcile for objects that decode; a report for those that do
/// not.
async fn reconcile_any<K: Managed>(
    obj: Arc<Decoded<K>>,
    ctx: Arc<Context>,
) -> Result<controller::Action, Error>
where
    K::Status: DeserializeOwned,
{
    // acquire fails only on a closed semaphore, and this one never closes.
    let Ok(_slot) = ctx.slots.acquire().await else {
        return Ok(controller::Action::await_change());
    };
    match obj.as_ref() {
        Decoded::Valid(k) => reconcile::reconcile(k.clone(), ctx.clone()).await,
        Decoded::Invalid(bad) => invalid::report(obj.as_ref(), bad, &ctx).await,
    }
}

fn error_policy_any<K: Managed>(
    obj: Arc<Decoded<K>>,
    err: &Error,
    ctx: Arc<Context>,
) -> controller::Action {
    match obj.as_ref() {
        Decoded::Valid(k) => reconcile::error_policy(k.clone(), err, ctx),
        Decoded::Invalid(_) => controller::Action::await_change(),
    }
}

/// What should wake a reconcile: the spec (generation), the finalizers,
/// the deletion and a reconcile request; not status writes, which are the
/// operator's own.
fn spec_or_lifecycle<K: Resource>(o: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    o.meta().generation.hash(&mut h);
    o.annotations().get(RECONCILE_REQUESTED_AT).hash(&mut h);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::MediaStreamPipeline;

    /// A pipeline as a GitOps tool leaves it after the operator's work:
    /// managedFields of three managers, kubectl's last-applied copy, the
    /// tool's label and annotation, and a full status.
    fn as_stored() -> serde_json::Value {
        let spec = serde_json::json!({
            "sources": [{"sourceType": "ChimeSdkMeeting",
                "sourceArn": "arn:aws:chime:us-east-1:111122223333:meeting/58a6a1b6-4b8e-4b1c-9c1a-2b6f8a0f1c11"}],
            "sinks": [{"sinkType": "KinesisVideoStreamPool", "mediaStreamType": "MixedAudio",
                "reservedStreamCapacity": 1,
                "sinkArn": "arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/call-recordings"}],
        });
        let fields = |manager: &str, sub: Option<&str>| {
            serde_json::json!({"manager": manager, "operation": "Apply", "apiVersion": "media.chimeoperator.dev/v1alpha1",
                "time": "2026-11-26T10:00:00Z", "fieldsType": "FieldsV1", "subresource": sub,
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app.kubernetes.io/instance": {}}}, "f:spec": {"f:sources": {}, "f:sinks": {}}}})
        };
        let condition = |t: &str, s: &str, reason: &str| {
            serde_json::json!({"type": t, "status": s, "reason": reason, "observedGeneration": 1,
                "lastTransitionTime": "2026-11-26T10:00:01Z", "message": "the pipeline is streaming (InProgress)"})
        };
        serde_json::json!({
            "apiVersion": "media.chimeoperator.dev/v1alpha1", "kind": "MediaStreamPipeline",
            "metadata": {
                "name": "meeting-58a6a1b6", "namespace": "calls", "uid": "6a1c2d7e-93a4-4b7e-8f1e-0c2d3e4f5a6b",
                "resourceVersion": "123456", "generation": 1, "creationTimestamp": "2026-11-26T10:00:00Z",
                "finalizers": [crate::crd::FINALIZER],
                "labels": {"app.kubernetes.io/instance": "calls"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": serde_json::to_string(&serde_json::json!({"spec": spec})).unwrap(),
                    "argocd.argoproj.io/tracking-id": "calls:media.chimeoperator.dev/MediaStreamPipeline:calls/meeting-58a6a1b6",
                    RECONCILE_REQUESTED_AT: "2026-11-26T10:05:00Z",
                },
                "managedFields": [fields("argocd-controller", None), fields("chime-pipeline-operator", Some("status")),
                    fields("kubectl-client-side-apply", None)],
            },
            "spec": spec,
            "status": {
                "mediaPipelineId": "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
                "mediaPipelineArn": "arn:aws:chime:us-east-1:111122223333:media-pipeline/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
                "pipelineStatus": "InProgress", "observedGeneration": 1,
                "conditions": [condition("Ready", "True", "InProgress"), condition("Synced", "True", "Synced"),
                    condition("Reconciling", "False", "InProgress"), condition("Stalled", "False", "InProgress")],
            },
        })
    }

    /// The cache keeps what the reconcile reads: here 1,705 of 3,165 bytes
    /// as JSON (the rest is spec and a status the operator compares its
    /// writes with).
    #[test]
    fn a_trimmed_object_keeps_what_the_reconcile_reads_and_little_else() {
        let full: Decoded<MediaStreamPipeline> = serde_json::from_value(as_stored()).unwrap();
        let mut trimmed = full.clone();
        trim(&mut trimmed);
        let (full, trimmed) = (full.valid().unwrap(), trimmed.valid().unwrap());
        let size = |o: &MediaStreamPipeline| serde_json::to_vec(o).unwrap().len();
        eprintln!(
            "cached object: {} bytes full, {} trimmed",
            size(full),
            size(trimmed)
        );
        assert!(
            size(trimmed) * 10 < size(full) * 6,
            "{} of {}",
            size(trimmed),
            size(full)
        );
        // What the reconcile and the wake-up predicate read is all there.
        assert_eq!(trimmed.spec, full.spec);
        assert_eq!(trimmed.status, full.status);
        assert_eq!(trimmed.finalizers(), full.finalizers());
        assert_eq!(
            (trimmed.uid(), trimmed.meta().generation),
            (full.uid(), full.meta().generation)
        );
        assert_eq!(trimmed.annotations().len(), 1);
        assert_eq!(
            trimmed.annotations().get(RECONCILE_REQUESTED_AT),
            full.annotations().get(RECONCILE_REQUESTED_AT)
        );
        assert!(trimmed.meta().managed_fields.is_none() && trimmed.meta().labels.is_none());
    }
}
