//! What both kinds share: the API group, the finalizer, tags and the
//! deletion policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "media.chimeoperator.dev";
/// The finalizer the controller puts on every resource it manages.
pub const FINALIZER: &str = "media.chimeoperator.dev/pipeline";
/// Changing this annotation's value (any value; a timestamp reads best) asks
/// for a reconcile now, past any back-off, as Flux's
/// reconcile.fluxcd.io/requestedAt does.
pub const RECONCILE_REQUESTED_AT: &str = "reconcile.chimeoperator.dev/requestedAt";
/// The model's `Arn` shape: pattern and length.
pub const ARN_PATTERN: &str = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$";
/// A Kubernetes object name (a DNS subdomain, RFC 1123), at most 253
/// characters: what a reference to another resource must look like.
pub const OBJECT_NAME_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// `status.conditions` with the bounds Kubernetes' API conventions give
/// `metav1.Condition` (the kubebuilder markers of its Go type), which the
/// generated schema lacks: every string bounded, at most 16 conditions.
pub fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    let mut item = serde_json::Value::from(Condition::json_schema(generator));
    let bounds = serde_json::json!({
        "type": {"maxLength": 316, "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"},
        "status": {"enum": ["True", "False", "Unknown"]},
        "observedGeneration": {"minimum": 0},
        "reason": {"minLength": 1, "maxLength": 1024, "pattern": r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"},
        "message": {"maxLength": 32768},
        // An RFC 3339 time is at most 35 characters; bounded so that a rule
        // may look through the conditions at a known cost.
        "lastTransitionTime": {"maxLength": 64},
    });
    if let (Some(props), Some(bounds)) = (item["properties"].as_object_mut(), bounds.as_object()) {
        for (field, extra) in bounds {
            if let (Some(p), Some(extra)) = (
                props.get_mut(field).and_then(|p| p.as_object_mut()),
                extra.as_object(),
            ) {
                p.extend(extra.clone());
            }
        }
    }
    schemars::json_schema!({"type": "array", "maxItems": 16, "items": item})
}

/// A tag of the media pipeline.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub struct Tag {
    /// The tag's key, 1 to 128 characters.
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// The tag's value, 0 to 256 characters.
    #[schemars(length(max = 256))]
    pub value: String,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the media pipeline with the resource.
    #[default]
    Delete,
    /// Leave the media pipeline running when the resource is deleted.
    Retain,
}

/// The spec fields both kinds have.
pub trait CommonSpec {
    fn spec_tags(&self) -> &[Tag];
    /// The AWS Region the spec names, if any.
    fn spec_region(&self) -> Option<&str>;
    fn spec_deletion_policy(&self) -> Option<DeletionPolicy>;
}
