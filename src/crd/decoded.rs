//! A resource as the watches read it: decoded into its type, or kept apart
//! with why it does not decode. An object stored before the CRD bounded one
//! of its fields (a number past 32 bits, say) would otherwise fail the whole
//! list, and with it every other resource of the kind.

use std::borrow::Cow;
use std::sync::Arc;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, Error as _};

/// One object of kind `K`, whether or not it decodes.
#[derive(Debug)]
pub enum Decoded<K> {
    Valid(Arc<K>),
    Invalid(Box<Invalid>),
}

/// An object that does not decode: its metadata, which field is wrong and
/// how, and its spec and status as stored (what can still be read of it,
/// and the status to write back with a condition).
#[derive(Debug, Clone)]
pub struct Invalid {
    pub metadata: ObjectMeta,
    /// The field's path and what is wrong with its value, e.g.
    /// `spec.streamConfiguration.dataRetentionInHours: invalid value: integer
    /// `2147483648`, expected i32`.
    pub error: String,
    pub spec: Option<serde_json::Value>,
    pub status: Option<serde_json::Value>,
}

impl<K> Clone for Decoded<K> {
    fn clone(&self) -> Self {
        match self {
            Decoded::Valid(k) => Decoded::Valid(k.clone()),
            Decoded::Invalid(i) => Decoded::Invalid(i.clone()),
        }
    }
}

impl<K> Decoded<K> {
    pub fn valid(&self) -> Option<&Arc<K>> {
        match self {
            Decoded::Valid(k) => Some(k),
            Decoded::Invalid(_) => None,
        }
    }
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Decoded<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match serde_path_to_error::deserialize::<_, K>(&value) {
            Ok(k) => Ok(Decoded::Valid(Arc::new(k))),
            Err(e) => {
                // The API server validated the metadata: only a field of
                // ours can be wrong.
                let metadata =
                    ObjectMeta::deserialize(&value["metadata"]).map_err(D::Error::custom)?;
                let path = e.path().to_string();
                let inner = e.inner().to_string();
                let path = within_flattened(&value, &path, &inner).unwrap_or(path);
                let error = format!("{path}: {inner}");
                Ok(Decoded::Invalid(Box::new(Invalid {
                    metadata,
                    error,
                    spec: value.get("spec").cloned(),
                    status: value.get("status").cloned(),
                })))
            }
        }
    }
}

/// The field a decoding error is about, when serde could only name the
/// object holding it: fields flattened into a spec or status (the fields
/// every kind shares) are decoded from a buffered copy, which loses their
/// names. The error quotes the value (`integer `2147483648``, `variant
/// `Foo``): the one leaf under `path` with that value is the field. None
/// when there is no such leaf, or more than one.
fn within_flattened(value: &serde_json::Value, path: &str, error: &str) -> Option<String> {
    let quoted = error.split('`').nth(1)?;
    let mut node = value;
    for key in path.split('.') {
        node = node.get(key)?;
    }
    let mut found = vec![];
    leaves_equal_to(node, quoted, path.to_string(), &mut found);
    match found.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The paths of the scalar leaves of `node` whose text is `quoted`.
fn leaves_equal_to(node: &serde_json::Value, quoted: &str, at: String, out: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                leaves_equal_to(v, quoted, format!("{at}.{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves_equal_to(v, quoted, format!("{at}[{i}]"), out);
            }
        }
        serde_json::Value::String(s) if s == quoted => out.push(at),
        serde_json::Value::Number(n) if n.to_string() == quoted => out.push(at),
        _ => {}
    }
}

impl<K> Resource for Decoded<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone,
{
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Decoded::Valid(k) => k.meta(),
            Decoded::Invalid(i) => &i.metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Decoded::Valid(k) => Arc::make_mut(k).meta_mut(),
            Decoded::Invalid(i) => &mut i.metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pool::MediaPipelineKinesisVideoStreamPool as Pool;
    use super::*;
    use kube::ResourceExt;

    fn pool(hours: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "media.chimeoperator.dev/v1alpha1",
            "kind": "MediaPipelineKinesisVideoStreamPool",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": hours}},
            "status": {"poolStatus": "ACTIVE"},
        })
    }

    /// One object out of range spoils neither the list nor its neighbours.
    #[test]
    fn an_object_that_does_not_decode_is_kept_apart_with_the_field_named() {
        let list = serde_json::json!([pool(24.into()), pool(2147483648u64.into())]);
        let items: Vec<Decoded<Pool>> = serde_json::from_value(list).unwrap();
        assert!(items[0].valid().is_some());
        let Decoded::Invalid(bad) = &items[1] else {
            panic!("decoded: {:?}", items[1]);
        };
        assert_eq!(bad.metadata.name.as_deref(), Some("p"));
        assert!(
            bad.error
                .starts_with("spec.streamConfiguration.dataRetentionInHours: ")
                && bad.error.contains("2147483648"),
            "{}",
            bad.error
        );
        assert_eq!(bad.status.as_ref().unwrap()["poolStatus"], "ACTIVE");
        assert_eq!(items[1].uid().as_deref(), Some("u1"));
    }

    /// Fields flattened in from what every kind shares are named too.
    #[test]
    fn a_shared_field_that_does_not_decode_is_named() {
        let mut bad = pool(24.into());
        bad["spec"]["deletionPolicy"] = "Keep".into();
        let decoded: Decoded<Pool> = serde_json::from_value(bad).unwrap();
        let Decoded::Invalid(bad) = decoded else {
            panic!("decoded: {decoded:?}");
        };
        assert!(
            bad.error.starts_with("spec.deletionPolicy: "),
            "{}",
            bad.error
        );
    }
}
