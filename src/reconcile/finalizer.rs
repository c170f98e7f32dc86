//! Our finalizer, on our terms. kube-runtime's helper adds a finalizer
//! before the first reconcile; we add it just before the first AWS call
//! that can leave something behind (a create, a tag on an adopted object),
//! so that a resource holds the finalizer exactly when AWS may hold
//! something of it. A resource that never got that far (waiting for a
//! pool, refused at admission to AWS) is deleted at once, with no AWS call.
//!
//! Both patches test what they change, as kube-runtime's helper does: a
//! finalizer list changed meanwhile by someone else fails the patch (and the
//! reconcile retries) instead of losing their finalizer.

use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::crd::FINALIZER;
use crate::error::Error;

pub fn has<K: Resource>(obj: &K) -> bool {
    obj.finalizers().iter().any(|f| f == FINALIZER)
}

/// Adds our finalizer to `obj` (as last read) unless it has it; returns the
/// object as the API server now holds it. Refused when the object was
/// replaced (another UID), is being deleted (the API server adds no
/// finalizer then), or its finalizers changed since `obj` was read.
pub async fn add<K>(api: &Api<K>, obj: &K) -> Result<K, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    if has(obj) {
        return Ok(obj.clone());
    }
    let current = obj.meta().finalizers.as_ref().filter(|f| !f.is_empty());
    let mut ops = vec![json!({"op": "test", "path": "/metadata/uid", "value": obj.uid()})];
    match current {
        None => ops.extend([
            json!({"op": "test", "path": "/metadata/finalizers", "value": null}),
            json!({"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]}),
        ]),
        Some(list) => ops.extend([
            json!({"op": "test", "path": "/metadata/finalizers", "value": list}),
            json!({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}),
        ]),
    }
    patch(api, obj, ops).await
}

/// Removes our finalizer once cleanup is done; an object already gone
/// counts as done.
pub async fn remove<K>(api: &Api<K>, obj: &K) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let Some(at) = obj.finalizers().iter().position(|f| f == FINALIZER) else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{at}");
    let ops = vec![
        json!({"op": "test", "path": path, "value": FINALIZER}),
        json!({"op": "remove", "path": path}),
    ];
    match patch(api, obj, ops).await {
        Err(Error::Kube(kube::Error::Api(s))) if s.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn patch<K>(api: &Api<K>, obj: &K, ops: Vec<serde_json::Value>) -> Result<K, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let ops: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops))
        .map_err(|e| Error::Unexpected(format!("finalizer patch: {e}")))?;
    let patched = api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(ops),
        )
        .await?;
    Ok(patched)
}
