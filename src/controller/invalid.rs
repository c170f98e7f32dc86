//! Objects that do not decode (a field stored before the CRD bounded it):
//! each is told on itself, with a Warning Event naming the field and its
//! value and, when its status still decodes, Synced=False and Stalled=True
//! (reason InvalidField); and counted, per kind, in
//! `chime_operator_invalid_objects`. Nothing else is done with them, and
//! nothing else waits for them.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::crd::{Decoded, FINALIZER, Invalid};
use crate::decide::{self, ManagedStatus};
use crate::error::Error;
use crate::reconcile::{Context, MANAGER, Managed};

/// Reports an object that does not decode; it waits for its next change.
pub async fn report<K>(obj: &Decoded<K>, bad: &Invalid, ctx: &Context) -> Result<Action, Error>
where
    K: Managed,
    K::Status: DeserializeOwned,
{
    let err = Error::InvalidField(message(bad));
    warn!(kind = %K::kind(&()), namespace = %obj.namespace().unwrap_or_default(),
        name = %obj.name_any(), error = %err, "an object the operator cannot read");
    ctx.event(obj, true, err.reason(), err.to_string());
    if let Err(e) = write_condition::<K>(obj, bad, &err, ctx).await {
        // The Event says it all the same: an API server may refuse any
        // write to an object that no longer passes its schema.
        debug!(error = %e, "could not write the InvalidField condition");
    }
    Ok(Action::await_change())
}

/// What is wrong, and what to do about it.
fn message(bad: &Invalid) -> String {
    let deleting = bad.metadata.deletion_timestamp.is_some()
        && bad
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == FINALIZER);
    let what = if deleting {
        "its AWS object cannot be cleaned up until the field is fixed (removing the finalizer \
         by hand leaves it behind)"
    } else {
        "it is left alone until the field is fixed"
    };
    format!(
        "the operator cannot read this object: {}; {what}",
        bad.error
    )
}

/// Synced=False and Stalled=True, reason InvalidField, written over the
/// stored status (when that decodes) with the operator's field manager.
async fn write_condition<K>(
    obj: &Decoded<K>,
    bad: &Invalid,
    err: &Error,
    ctx: &Context,
) -> Result<(), Error>
where
    K: Managed,
    K::Status: DeserializeOwned,
{
    let stored: K::Status = match &bad.status {
        Some(raw) => serde_json::from_value(raw.clone())
            .map_err(|e| Error::InvalidField(format!("status: {e}")))?,
        None => K::Status::default(),
    };
    let generation = obj.meta().generation;
    let status = decide::with_error(stored, err, generation, Timestamp::now());
    if status.conditions().is_empty() {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<Decoded<K>> = Api::namespaced(ctx.client.clone(), &ns);
    let params = PatchParams::apply(MANAGER).force();
    api.patch_status(&obj.name_any(), &params, &Patch::Apply(&patch))
        .await?;
    Ok(())
}

/// Counts the objects of one watch that do not decode, for the metric: a
/// fresh count at every (re)list, kept up to date by each event.
pub fn tracker<K>(
    ctx: Arc<Context>,
    scope: Option<&str>,
) -> impl FnMut(&watcher::Event<Decoded<K>>) + Send + 'static
where
    K: Managed,
{
    let scope = scope.unwrap_or_default().to_string();
    let mut live: HashSet<String> = HashSet::new();
    let mut listing: HashSet<String> = HashSet::new();
    move |event| {
        let kind = K::kind(&());
        let note = |set: &mut HashSet<String>, obj: &Decoded<K>| {
            let uid = obj.meta().uid.clone().unwrap_or_default();
            match obj {
                Decoded::Invalid(_) => set.insert(uid),
                Decoded::Valid(_) => set.remove(&uid),
            };
        };
        match event {
            watcher::Event::Init => listing.clear(),
            watcher::Event::InitApply(obj) => note(&mut listing, obj),
            watcher::Event::InitDone => live = std::mem::take(&mut listing),
            watcher::Event::Apply(obj) => note(&mut live, obj),
            watcher::Event::Delete(obj) => {
                live.remove(&obj.meta().uid.clone().unwrap_or_default());
            }
        }
        ctx.metrics.set_invalid(&kind, &scope, live.len());
    }
}
