//! The reconcile skeleton, written once for every kind: observe (the
//! resource, and AWS when a read is due), decide (pure, [`crate::decide`]),
//! guard a create, act, write status, finish; cleanup on deletion; the error
//! policy. Each kind plugs in through [`Managed`]: its remote type, how to
//! read, create, update and delete it, its decision, and what blocks its
//! deletion.
//!
//! The seam is that of a per-resource manager (read one, create, update,
//! delete) under one generic reconciler; the rules are ours: a remote object
//! is created only while status records none, always with the resource's UID
//! as ClientRequestToken, and never recreated once AWS reports it gone.

mod capture;
mod concat;
mod context;
mod finalizer;
mod media;
mod pipeline;
mod pool;

pub use context::Context;

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, info, info_span, warn};

use crate::aws::{Listed, Regional, unsupported_region};
use crate::config::Settings;
use crate::crd::{CommonSpec, DeletionPolicy, RECONCILE_REQUESTED_AT, Tag};
use crate::decide::event::Subject;
use crate::decide::{self, GONE, ManagedStatus, Plan, Read, RemoteObject};
use crate::error::Error;

/// The field manager of every status write; the operator never writes spec.
pub const MANAGER: &str = "chime-pipeline-operator";

/// What the decision of a kind sees besides its spec.
pub type Observed<'a, K> = decide::Seen<'a, <K as HasStatus>::Status, <K as Managed>::Remote>;

/// One kind of managed resource: what the skeleton needs of it.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + CommonSpec
    + HasStatus<Status: ManagedStatus + Serialize + Debug + Send + Sync>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The object as AWS describes it.
    type Remote: RemoteObject<Status = Self::Status> + Debug + Send + Sync;
    /// What can change in place (nothing for pipelines).
    type Update: Debug + Clone + PartialEq + Send + Sync;
    /// What the decision and a create need besides the resource.
    type Inputs: Send + Sync;
    const KIND: decide::KindInfo;

    /// An existing remote object to read instead of creating one.
    fn adopt_id(&self) -> Option<&str> {
        None
    }
    /// The spec's policy; else Retain for an adopted object (it was not
    /// ours to begin with), else the operator's default.
    fn deletion_policy(&self, default: DeletionPolicy) -> DeletionPolicy {
        let fallback = match self.adopt_id() {
            Some(_) => DeletionPolicy::Retain,
            None => default,
        };
        self.spec_deletion_policy().unwrap_or(fallback)
    }
    /// The inputs, looked up only when `needed` (a create or a spec change
    /// may use them).
    fn inputs(
        &self,
        ctx: &Context,
        needed: bool,
    ) -> impl Future<Output = Result<Self::Inputs, Error>> + Send;
    fn decide(
        &self,
        obs: Observed<'_, Self>,
        inputs: &Self::Inputs,
        settings: &Settings,
    ) -> Plan<Self::Status, Self::Update>;
    /// Reads the object; None when AWS answers NotFound.
    fn read(
        aws: &Regional,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self::Remote>, Error>> + Send;
    /// What AWS answering NotFound to a read means: gone, unless the kind
    /// can tell that the object ended first.
    fn gone(
        &self,
        _ctx: &Context,
        _aws: &Regional,
    ) -> impl Future<Output = Read<Self::Remote>> + Send {
        async { Read::Gone }
    }
    /// Creates the object with the resource's UID as ClientRequestToken.
    fn create(
        &self,
        aws: &Regional,
        inputs: &Self::Inputs,
        tags: &[Tag],
    ) -> impl Future<Output = Result<Self::Remote, Error>> + Send;
    fn update(
        aws: &Regional,
        id: &str,
        update: &Self::Update,
    ) -> impl Future<Output = Result<Self::Remote, Error>> + Send;
    /// Every object of this kind in the region.
    fn list(aws: &Regional) -> impl Future<Output = Result<Vec<Listed>, Error>> + Send;
    /// Deletes the object; one already gone counts as deleted.
    fn delete(aws: &Regional, id: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Whether the object recorded as `id` is still the one this resource
    /// made or adopted, checked before cleanup touches it. IDs that AWS
    /// never reuses need no check; a name-based identifier (a pool's ARN)
    /// may name someone else's object by now.
    fn still_own(
        &self,
        _aws: &Regional,
        _id: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        async { Ok(true) }
    }
    /// A spec change refused before any AWS call (a field that cannot change
    /// any more), if there is one.
    fn refused(&self) -> Option<Error> {
        None
    }
    /// Records in the status that a create may have reached AWS: `sent`,
    /// this spec's request (it succeeded, or its outcome is unknown); else
    /// an object an earlier request made was found by its tags, and what
    /// made it is not this spec's to say.
    fn record_attempt(&self, _status: &mut Self::Status, _sent: bool) {}
    /// How long the resource is kept once its object finished, if it
    /// expires; `default` is the operator's.
    fn time_to_live(&self, _default: Option<Duration>) -> Option<Duration> {
        None
    }
    /// Whether an event about `subject` concerns this resource (its object,
    /// or what it serves).
    fn named_by(&self, _subject: &Subject) -> bool {
        false
    }
    /// Why deletion must wait (resources still using this one), if it must.
    fn blocked(
        &self,
        _ctx: &Context,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        async { Ok(None) }
    }
}

/// Runs one reconcile of `obj`, with a span and metrics: apply while it
/// lives; on deletion, cleanup and then our finalizer's removal, when it has
/// our finalizer (else nothing of it can be in AWS: see [`finalizer`]).
pub async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let ns = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", kind = %K::kind(&()), namespace = %ns, name = %obj.name_any(), uid = %obj.uid().unwrap_or_default());
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let result = async {
        if obj.meta().deletion_timestamp.is_none() {
            apply(obj.as_ref(), &api, &ctx).await
        } else if finalizer::has(obj.as_ref()) {
            let action = cleanup(obj.as_ref(), &api, &ctx).await?;
            finalizer::remove(&api, obj.as_ref()).await?;
            Ok(action)
        } else {
            ctx.forget(&K::kind(&()), &obj.uid().unwrap_or_default());
            Ok(Action::await_change())
        }
    }
    .instrument(span)
    .await;
    let (outcome, reason) = match &result {
        Ok(_) => ("success", "Synced"),
        Err(e) => ("error", e.reason()),
    };
    ctx.metrics
        .reconciled(&K::kind(&()), outcome, reason, start.elapsed());
    result
}

/// Every failure comes through here: the resource waits for its backoff,
/// and `apply` refuses AWS calls until then, whatever event wakes it.
pub fn error_policy<K: Managed>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    let uid = obj.uid().unwrap_or_default();
    Action::requeue(ctx.failed(&uid, obj.meta().generation, err.retry()))
}

/// The region a resource's calls go to: where its object lives once known,
/// else the spec's, else the operator's.
fn regional<K: Managed>(obj: &K, ctx: &Context) -> Regional {
    let recorded = obj.status().and_then(|s| s.region());
    ctx.aws.region(recorded.or(obj.spec_region()))
}

async fn apply<K: Managed>(obj: &K, api: &Api<K>, ctx: &Context) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    let generation = obj.meta().generation;
    let requested = reconcile_requested(obj);
    if requested.is_some() {
        // A person asked for a reconcile now: past any back-off.
        ctx.succeeded(&uid);
    } else if let Some(left) = ctx.held_back(&uid, generation) {
        return Ok(Action::requeue(left));
    }
    let settings = &ctx.settings();
    let status = obj.status();
    let now = Timestamp::now();
    let aws = regional(obj, ctx);
    if let Some(err) = obj
        .refused()
        .or_else(|| decide::reserved_tag_keys(obj.spec_tags()))
        .or_else(|| unsupported_region(aws.name()))
    {
        return refuse(obj, api, ctx, err, requested, now).await;
    }

    let every = spread_first_read(obj, ctx, now);
    let remote = observe(obj, ctx, &aws, requested.is_some(), now).await;
    let needed = status.and_then(|s| s.remote_id()).is_none()
        || matches!(remote, Read::Found { tags: Some(_), .. });
    let inputs = obj.inputs(ctx, needed).await?;
    let own_tags = ctx.own_tags(obj, retained(obj, ctx));
    let create_tags = own_tags.clone();
    let mut plan = obj.decide(
        decide::Seen {
            generation,
            status,
            create_tags: &create_tags,
            own_tags: &own_tags,
            region: aws.name(),
            remote: &remote,
            now,
        },
        &inputs,
        settings,
    );
    let first = match protect(obj, api, &plan.actions, settings).await? {
        Protected::Go { first } => first,
        Protected::Wait(action) => return Ok(action),
    };
    if requested.is_some() {
        plan.status.set_last_handled_reconcile_at(requested);
    }
    // At rest, the next read is due one interval after the last.
    let requeue = match (&remote, plan.requeue, ctx.since_last_read(&uid)) {
        (Read::Unread, Some(d), Some(since)) if Some(d) == every => {
            Some(d.saturating_sub(since).max(settings.poll_min))
        }
        (_, d, _) => d,
    };
    let failure = match remote {
        Read::Failed(e) => Some(e),
        _ => None,
    };
    let done = Done {
        status: plan.status,
        requeue,
        failure,
    };
    let creation = Creation {
        inputs: &inputs,
        tags: &create_tags,
        first,
    };
    let done = act(obj, ctx, &aws, plan.actions, creation, done).await;
    finish(obj, api, ctx, &aws, done).await
}

/// Whether the remote object is to be kept when its resource goes (and so
/// never deleted by the orphan sweep): Retain, or adopted.
pub fn retained<K: Managed>(obj: &K, ctx: &Context) -> bool {
    obj.adopt_id().is_some()
        || obj.deletion_policy(ctx.config.default_deletion_policy) == DeletionPolicy::Retain
}

/// The value of the reconcile-request annotation, when it asks for a
/// reconcile not yet acted on.
fn reconcile_requested<K: Managed>(obj: &K) -> Option<String> {
    let value = obj.annotations().get(RECONCILE_REQUESTED_AT)?;
    let handled = obj.status().and_then(|s| s.last_handled_reconcile_at());
    (handled != Some(value.as_str())).then(|| value.clone())
}

/// A spec change that cannot be applied: said in the status, with no AWS
/// call. A later spec change (or restoring the old value) lifts it.
async fn refuse<K: Managed>(
    obj: &K,
    api: &Api<K>,
    ctx: &Context,
    err: Error,
    requested: Option<String>,
    now: Timestamp,
) -> Result<Action, Error> {
    let status = obj.status().cloned().unwrap_or_default();
    let mut status = decide::with_error(status, &err, obj.meta().generation, now);
    if requested.is_some() {
        status.set_last_handled_reconcile_at(requested);
    }
    write_status(api, obj, &status).await?;
    ctx.succeeded(&obj.uid().unwrap_or_default());
    Ok(Action::await_change())
}

/// First sight, in this process, of an object at rest (a restart): count it
/// as read at a random moment of the last interval, so that a restart costs
/// no burst of reads, and later reads spread evenly. Returns the object's
/// read interval.
fn spread_first_read<K: Managed>(obj: &K, ctx: &Context, now: Timestamp) -> Option<Duration> {
    let settings = &ctx.settings();
    let uid = obj.uid().unwrap_or_default();
    let status = obj.status()?;
    let every = decide::next_read(status, settings, now);
    if ctx.since_last_read(&uid).is_none()
        && every == Some(settings.refresh_interval)
        && status.observed_generation() == obj.meta().generation
    {
        let ago = settings.refresh_interval.mul_f64(rand::random::<f64>());
        ctx.mark_read_ago(&uid, ago);
    }
    every
}

/// Reads the remote object when a read is due (or an adoption names one);
/// its tags too when the spec changed, since only then can they differ.
async fn observe<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
    requested: bool,
    now: Timestamp,
) -> Read<K::Remote> {
    let uid = obj.uid().unwrap_or_default();
    let generation = obj.meta().generation;
    let status = obj.status();
    let since = ctx.since_last_read(&uid);
    let settings = &ctx.settings();
    let id = match status.and_then(|s| s.remote_id()) {
        // An event named it: read now (the event is a hint; the read decides).
        Some(id) if requested || ctx.events.due(&uid) => id,
        Some(id) if decide::refresh_due(generation, status, since, settings, now) => id,
        Some(_) => return Read::Unread,
        None => match obj.adopt_id() {
            Some(id) => id,
            None => return Read::Unread,
        },
    };
    ctx.mark_read(&uid);
    // Tags can differ only when the spec changed, or the last attempt to
    // apply them failed; a requested reconcile checks everything.
    let spec_changed = status.and_then(|s| s.observed_generation()) != generation;
    let full = spec_changed || requested || !status.is_none_or(decide::synced);
    let remote = match K::read(aws, id).await {
        Ok(Some(remote)) => remote,
        Ok(None) => return obj.gone(ctx, aws).await,
        Err(e) => return Read::Failed(e),
    };
    if !full {
        return Read::Found { remote, tags: None };
    }
    match aws.list_tags(remote.arn()).await {
        Ok(tags) => Read::Found {
            remote,
            tags: Some(tags),
        },
        Err(e) => Read::Failed(e),
    }
}

/// What may happen after the decision: its calls (`first`: a create that
/// is the resource's first, as it just got our finalizer), or a wait.
enum Protected {
    Go { first: bool },
    Wait(Action),
}

/// Our finalizer goes on before the first AWS call that can leave
/// something behind, and stays on while an object is recorded (restored if
/// a person removed it). A create checks a fresh read of the resource first.
async fn protect<K: Managed>(
    obj: &K,
    api: &Api<K>,
    actions: &[decide::Call<K::Update>],
    settings: &Settings,
) -> Result<Protected, Error> {
    if actions.contains(&decide::Call::Create) {
        return guard_create(obj, api, settings).await;
    }
    let recorded = obj.status().and_then(|s| s.remote_id()).is_some();
    if (recorded || !actions.is_empty()) && !finalizer::has(obj) {
        finalizer::add(api, obj).await?;
    }
    Ok(Protected::Go { first: false })
}

/// A create needs the resource to be really there, not being deleted: the
/// cache may lag a delete, and a delete racing the finalizer's addition can
/// win (seen on a 1.20 API server). The cache may also lag our own status
/// write: an ID there means the object exists, and the next reconcile sees
/// it. The finalizer goes on the fresh object, unless it has it already
/// (then an earlier create may have been sent).
async fn guard_create<K: Managed>(
    obj: &K,
    api: &Api<K>,
    settings: &Settings,
) -> Result<Protected, Error> {
    let name = obj.name_any();
    let fresh = match api.get(&name).await {
        Ok(o) => o,
        Err(e) if object_gone(&e, &name) => return Ok(Protected::Wait(Action::await_change())),
        Err(e) => return Err(e.into()),
    };
    match judge_create(obj, Some(&fresh)) {
        CreateGuard::Go if finalizer::has(&fresh) => Ok(Protected::Go { first: false }),
        CreateGuard::Go => match finalizer::add(api, &fresh).await {
            Ok(_) => Ok(Protected::Go { first: true }),
            Err(Error::Kube(e)) if object_gone(&e, &name) => {
                Ok(Protected::Wait(Action::await_change()))
            }
            Err(e) => Err(e),
        },
        CreateGuard::Vanished => Ok(Protected::Wait(Action::await_change())),
        CreateGuard::Recorded => Ok(Protected::Wait(Action::requeue(settings.poll_min))),
    }
}

/// A 404 that says the object itself is gone, and not that the API server
/// does not serve its kind: right after an API server restart, custom
/// resources answer 404 until their CRD is served again, and taking that
/// for "gone" would undo a create and leave the resource unreconciled.
fn object_gone(e: &kube::Error, name: &str) -> bool {
    match e {
        kube::Error::Api(s) if s.code == 404 => s.details.as_ref().is_some_and(|d| d.name == name),
        _ => false,
    }
}

/// What a fresh read of the resource says of a planned create.
#[derive(Debug, PartialEq, Eq)]
enum CreateGuard {
    Go,
    /// Gone, replaced (another UID) or deleting: nothing may be created
    /// for it.
    Vanished,
    /// Its status already records the object: the cache lags our write.
    Recorded,
}

fn judge_create<K: Managed>(cached: &K, fresh: Option<&K>) -> CreateGuard {
    let Some(fresh) = fresh else {
        return CreateGuard::Vanished;
    };
    if fresh.uid() != cached.uid() || fresh.meta().deletion_timestamp.is_some() {
        return CreateGuard::Vanished;
    }
    match fresh.status().and_then(|s| s.remote_id()) {
        Some(_) => CreateGuard::Recorded,
        None => CreateGuard::Go,
    }
}

/// Where a reconcile stands after its calls: the status to write, when to
/// look again, and the failure to report, if any.
struct Done<S> {
    status: S,
    requeue: Option<Duration>,
    failure: Option<Error>,
}

/// What a create sends besides the resource: the kind's inputs, the
/// operator's tags, and whether it is the resource's first create (nothing
/// can have been sent for it before).
struct Creation<'a, I> {
    inputs: &'a I,
    tags: &'a [Tag],
    first: bool,
}

/// Makes the planned calls in order, folding each answer into the status;
/// the first failure stops the rest.
async fn act<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
    actions: Vec<decide::Call<K::Update>>,
    creation: Creation<'_, K::Inputs>,
    mut done: Done<K::Status>,
) -> Done<K::Status> {
    let generation = obj.meta().generation;
    let now = Timestamp::now();
    let settings = &ctx.settings();
    for step in actions {
        let id = done.status.remote_id().unwrap_or_default().to_string();
        let arn = done.status.remote_arn().unwrap_or_default().to_string();
        let described = match &step {
            decide::Call::Create => {
                let made = create(obj, ctx, aws, &creation).await;
                match &made {
                    Ok(Made::Sent(_)) => obj.record_attempt(&mut done.status, true),
                    Ok(Made::Found(_)) => obj.record_attempt(&mut done.status, false),
                    Err(e) if e.may_have_succeeded() => obj.record_attempt(&mut done.status, true),
                    Err(_) => {}
                }
                made.map(|m| Some(m.into_remote()))
            }
            decide::Call::Update(u) => K::update(aws, &id, u).await.map(Some),
            decide::Call::Tag(tags) => aws.tag(&arn, tags).await.map(|()| None),
            decide::Call::Untag(keys) => aws.untag(&arn, keys).await.map(|()| None),
        };
        match described {
            Ok(Some(remote)) => {
                done.status = remote.fold(done.status, generation, now);
                done.status.set_region(aws.name());
                done.requeue = decide::next_read(&done.status, settings, now);
            }
            Ok(None) => {}
            Err(e) => {
                // Synced=False makes the next attempt re-read and retry.
                done.status = decide::with_error(done.status, &e, generation, now);
                done.failure = Some(e);
                break;
            }
        }
    }
    done
}

/// What a create gave: the object the request made (or, with the same
/// token, had made), or one an earlier create made with other parameters,
/// found by its identity tags.
enum Made<R> {
    Sent(R),
    Found(R),
}

impl<R> Made<R> {
    fn into_remote(self) -> R {
        match self {
            Made::Sent(r) | Made::Found(r) => r,
        }
    }
}

/// The create call, with its log line and (routine or failure) Event.
async fn create<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
    creation: &Creation<'_, K::Inputs>,
) -> Result<Made<K::Remote>, Error> {
    match obj.create(aws, creation.inputs, creation.tags).await {
        Ok(remote) => {
            let id = remote.id();
            info!(id = %id, "created {}", K::KIND.noun);
            ctx.mark_read(&obj.uid().unwrap_or_default());
            if K::KIND.routine_events {
                let note = format!("Created {} {id}", K::KIND.noun);
                ctx.event(obj, false, "Created", note);
            }
            Ok(Made::Sent(remote))
        }
        // A refused first create is about its input: nothing was sent
        // before it. Later, the token may have made an object with other
        // parameters (the deletion policy changed, or a status was lost
        // and the spec edited): find it by its identity tags rather than
        // stall.
        Err(Error::BadRequest(why)) if !creation.first => {
            match recover_own::<K>(obj, ctx, aws).await {
                Ok(Some(remote)) => Ok(Made::Found(remote)),
                Ok(None) => {
                    ctx.event(obj, true, "CreateFailed", why.clone());
                    Err(Error::BadRequest(why))
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => {
            ctx.event(obj, true, "CreateFailed", e.to_string());
            Err(e)
        }
    }
}

/// The object an earlier create made for this resource, found by its
/// identity tags and read, if there is one.
async fn recover_own<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
) -> Result<Option<K::Remote>, Error> {
    let uid = obj.uid().unwrap_or_default();
    let Some(own) = find_owned::<K>(aws, ctx, &uid).await? else {
        return Ok(None);
    };
    info!(id = %own.id, "found the {} an earlier create made, by its tags", K::KIND.noun);
    K::read(aws, &own.id).await
}

/// Writes the status, undoes a create whose resource vanished meanwhile,
/// and turns the outcome into the controller's next step.
async fn finish<K: Managed>(
    obj: &K,
    api: &Api<K>,
    ctx: &Context,
    aws: &Regional,
    done: Done<K::Status>,
) -> Result<Action, Error> {
    let uid = obj.uid().unwrap_or_default();
    let old = obj.status();
    let was_gone = old.and_then(|s| s.remote_state()) == Some(GONE);
    // A finished object that AWS removed since is no failure: no Warning.
    let failed_gone =
        done.status.remote_state() == Some(GONE) && done.status.finished_at().is_none();
    if !was_gone && failed_gone {
        let note = format!(
            "AWS no longer knows the {}; it is not recreated",
            K::KIND.noun
        );
        ctx.event(obj, true, K::KIND.gone_reason, note);
    }
    match write_status(api, obj, &done.status).await {
        Err(Error::Kube(e)) if object_gone(&e, &obj.name_any()) => {
            let created = old.and_then(|s| s.remote_id()).is_none();
            undo_orphan(obj, ctx, aws, created, &done.status).await?;
            return Ok(Action::await_change());
        }
        other => other?,
    }
    if let Some(at) = ctx.events.take(&uid) {
        let lag = Timestamp::now().duration_since(at);
        ctx.metrics
            .events
            .lag(Duration::try_from(lag).unwrap_or_default());
    }
    let state = done.status.remote_state();
    ctx.metrics.remote_status(&K::kind(&()), &uid, state);
    if let Some(e) = done.failure {
        return Err(e);
    }
    ctx.succeeded(&uid);
    let ttl = obj.time_to_live(ctx.config.ttl_after_finished);
    let left = decide::expires_in(done.status.finished_at(), ttl, Timestamp::now());
    let requeue = match left {
        Some(Duration::ZERO) => return expire(obj, api, ctx, ttl).await,
        Some(left) => Some(done.requeue.map_or(left, |r| r.min(left))),
        None => done.requeue,
    };
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// The resource outlived its time to live after finishing: delete it, as
/// the Job controller does; its cleanup then treats the remote object per
/// its deletion policy. The UID precondition spares a new resource of the
/// same name.
async fn expire<K: Managed>(
    obj: &K,
    api: &Api<K>,
    ctx: &Context,
    ttl: Option<Duration>,
) -> Result<Action, Error> {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: obj.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&obj.name_any(), &params).await {
        Ok(_) => {
            let secs = ttl.unwrap_or_default().as_secs();
            info!(ttl = secs, "finished and past its time to live: deleted");
            let note = format!("Deleted {secs} s after it finished (ttlSecondsAfterFinished)");
            ctx.event(obj, false, "Expired", note);
            Ok(Action::await_change())
        }
        Err(e) if object_gone(&e, &obj.name_any()) => Ok(Action::await_change()),
        // Another object of that name now: the precondition spared it.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

/// The resource vanished under us: its finalizer was never effective (the
/// API server can lose a race between adding a finalizer and a delete).
/// Nothing will ever record an object created just now, so delete it.
async fn undo_orphan<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
    created: bool,
    status: &K::Status,
) -> Result<(), Error> {
    let policy = obj.deletion_policy(ctx.config.default_deletion_policy);
    if let (true, DeletionPolicy::Delete, Some(id)) = (created, policy, status.remote_id()) {
        warn!(id = %id, "the resource is gone: deleting the {} just created for it", K::KIND.noun);
        K::delete(aws, id).await?;
    }
    ctx.forget(&K::kind(&()), &obj.uid().unwrap_or_default());
    Ok(())
}

/// The resource is going and holds our finalizer: its remote object, if it
/// has one, is deleted or (Retain) marked as retained in AWS before the
/// finalizer goes, so that no orphan sweep can ever claim it. Never creates.
async fn cleanup<K: Managed>(obj: &K, api: &Api<K>, ctx: &Context) -> Result<Action, Error> {
    if let Some(why) = obj.blocked(ctx).await? {
        // An error keeps the finalizer (Ok would mean "cleaned up"); what it
        // waits for wakes this resource.
        return Err(cleanup_failed(obj, api, Error::InUse(why)).await);
    }
    let retain = obj.deletion_policy(ctx.config.default_deletion_policy) == DeletionPolicy::Retain;
    let aws = regional(obj, ctx);
    match release(obj, ctx, &aws, retain).await {
        Ok(Some(id)) if retain => {
            let note = format!("{} {id} kept (deletionPolicy Retain)", K::KIND.noun);
            ctx.event(obj, false, "Retained", note);
        }
        Ok(Some(id)) => {
            info!(id = %id, "deleted {}", K::KIND.noun);
            if K::KIND.routine_events {
                let note = format!("Deleted {} {id}", K::KIND.noun);
                ctx.event(obj, false, "Deleted", note);
            }
        }
        Ok(None) => {}
        Err(e) => {
            let reason = if retain {
                "RetainFailed"
            } else {
                "DeleteFailed"
            };
            ctx.event(obj, true, reason, e.to_string());
            return Err(cleanup_failed(obj, api, e).await);
        }
    }
    ctx.forget(&K::kind(&()), &obj.uid().unwrap_or_default());
    Ok(Action::await_change())
}

/// Deletes the resource's remote object, or tags it as retained. Returns
/// its ID, or None when there is nothing of it in AWS.
async fn release<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
    retain: bool,
) -> Result<Option<String>, Error> {
    let Some(own) = own_object(obj, ctx, aws).await? else {
        return Ok(None);
    };
    if retain {
        match aws.tag(&own.arn, &[decide::policy_tag(true)]).await {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    } else {
        K::delete(aws, &own.id).await?;
    }
    Ok(Some(own.id))
}

/// The remote object of a resource being deleted: the recorded one while it
/// is still this resource's; else, since a create may have been sent and
/// its answer lost (a crash, a failed status write), the one its identity
/// tags name. A create is never sent to find out: it would start a
/// pipeline only to delete it.
async fn own_object<K: Managed>(
    obj: &K,
    ctx: &Context,
    aws: &Regional,
) -> Result<Option<Listed>, Error> {
    let status = obj.status();
    if let Some(id) = status.and_then(|s| s.remote_id()) {
        if !obj.still_own(aws, id).await? {
            info!(id = %id, "the recorded {} is no longer this resource's: left alone", K::KIND.noun);
            return Ok(None);
        }
        let arn = status.and_then(|s| s.remote_arn()).unwrap_or(id);
        return Ok(Some(Listed {
            id: id.to_string(),
            arn: arn.to_string(),
        }));
    }
    // Where the service has no endpoint, no create can have been sent.
    if unsupported_region(aws.name()).is_some() {
        return Ok(None);
    }
    find_owned::<K>(aws, ctx, &obj.uid().unwrap_or_default()).await
}

/// The object of this kind that this installation created for the
/// resource with `uid`, found by its identity tags. Concurrent callers in a
/// region share one listing (see [`Context::owned_listing`]).
pub async fn find_owned<K: Managed>(
    aws: &Regional,
    ctx: &Context,
    uid: &str,
) -> Result<Option<Listed>, Error> {
    let listing = ctx
        .owned_listing(K::KIND.noun, aws.name(), || owned_by_uid::<K>(aws, ctx))
        .await?;
    Ok(listing.get(uid).cloned())
}

/// One List of the kind in the region, then the tags of each object (each
/// read once: identity tags never change): this installation's objects, by
/// the UID they were made for.
async fn owned_by_uid<K: Managed>(
    aws: &Regional,
    ctx: &Context,
) -> Result<HashMap<String, Listed>, Error> {
    let listed = K::list(aws).await?;
    aws.keep_known_tags(K::KIND.arn_type, &listed);
    let mut owned = HashMap::new();
    for obj in listed {
        let tags = match aws.known_tags(&obj.arn).await {
            Ok(tags) => tags,
            // Deleted between the List and the tag read.
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let ours = decide::tag_value(&tags, decide::CLUSTER_TAG) == Some(&ctx.config.cluster_id);
        if let (true, Some(uid)) = (ours, decide::tag_value(&tags, decide::UID_TAG)) {
            owned.insert(uid.to_string(), obj);
        }
    }
    Ok(owned)
}

/// Shows a failed cleanup step in the status; returns the error to report
/// (a failed status write wins, as it is what needs fixing first).
async fn cleanup_failed<K: Managed>(obj: &K, api: &Api<K>, err: Error) -> Error {
    let status = obj.status().cloned().unwrap_or_default();
    let status = decide::with_error(status, &err, obj.meta().generation, Timestamp::now());
    match write_status(api, obj, &status).await {
        Ok(()) => err,
        Err(write) => write,
    }
}

/// One server-side apply of the whole status under our field manager;
/// skipped when nothing changed, so a quiet reconcile costs no write.
pub async fn write_status<K>(api: &Api<K>, obj: &K, status: &K::Status) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + HasStatus + Clone + DeserializeOwned + Debug,
    K::Status: Serialize + PartialEq,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::FINALIZER;
    use crate::crd::MediaPipelineKinesisVideoStreamPool as Pool;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pool(uid: &str, finalized: bool, arn: Option<&str>) -> Pool {
        let mut p: Pool = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": uid},
            "spec": {"streamConfiguration": {"region": "us-east-1"}},
        }))
        .unwrap();
        if finalized {
            p.metadata.finalizers = Some(vec![FINALIZER.into()]);
        }
        if let Some(arn) = arn {
            p.status = Some(crate::crd::KinesisVideoStreamPoolStatus {
                pool_arn: Some(arn.into()),
                ..Default::default()
            });
        }
        p
    }

    /// Only a 404 that names the object means it is gone; a kind the API
    /// server does not serve yet (after a restart) is no such proof.
    #[test]
    fn only_a_404_naming_the_object_says_it_is_gone() {
        let not_found = |name: Option<&str>| {
            let mut s = kube::core::Status::failure("not found", "NotFound");
            s.code = 404;
            s.details = name.map(|n| kube::core::response::StatusDetails {
                name: n.into(),
                group: "media.chimeoperator.dev".into(),
                kind: "mediastreampipelines".into(),
                uid: String::new(),
                causes: vec![],
                retry_after_seconds: 0,
            });
            kube::Error::Api(Box::new(s))
        };
        assert!(object_gone(&not_found(Some("p")), "p"));
        assert!(!object_gone(&not_found(Some("other")), "p"));
        assert!(!object_gone(&not_found(None), "p"));
    }

    /// The cache may lag a delete, a replacement, or our own status write;
    /// only a fresh read of the resource lets a create go ahead. A missing
    /// finalizer is no obstacle: it goes on just before the first create.
    #[test]
    fn a_create_goes_ahead_only_for_a_live_unrecorded_resource() {
        let cached = pool("u1", true, None);
        assert_eq!(judge_create(&cached, Some(&cached)), CreateGuard::Go);
        assert_eq!(judge_create(&cached, None), CreateGuard::Vanished);
        let replaced = pool("u2", true, None);
        assert_eq!(
            judge_create(&cached, Some(&replaced)),
            CreateGuard::Vanished
        );
        let unfinalized = pool("u1", false, None);
        assert_eq!(judge_create(&cached, Some(&unfinalized)), CreateGuard::Go);
        let mut deleting = pool("u1", true, None);
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            judge_create(&cached, Some(&deleting)),
            CreateGuard::Vanished
        );
        let recorded = pool("u1", true, Some("arn:aws:chime:us-east-1:1:p"));
        assert_eq!(
            judge_create(&cached, Some(&recorded)),
            CreateGuard::Recorded
        );
    }
}
