//! What every kind shares: the API group, the finalizer, tags, the
//! deletion policy, and the spec and status fields every kind has (each
//! kind's spec and status flatten them in: the stored format is that of one
//! flat object).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
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

/// The model's enums, spelled as AWS spells them, with `as_str`.
#[macro_export]
macro_rules! model_enum {
    ($($name:ident: $($variant:ident),+;)+) => {$(
        // Each variant documented: schemars then describes the enum as
        // one value per variant, which stays null-free when optional (an
        // enum listing null makes a 1.20 API server refuse the CRD).
        #[derive(serde::Deserialize, serde::Serialize, Clone, Copy, Debug, PartialEq, schemars::JsonSchema)]
        pub enum $name { $(#[doc = stringify!($variant)] $variant),+ }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }
        }
    )+};
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

/// The spec fields every kind has.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CommonFields {
    /// Tags on the AWS object (at most 195, keys unique: AWS allows 200
    /// and the operator keeps 5, under chimeoperator.dev/, which a spec may
    /// not use). May change: the operator applies the difference with
    /// TagResource and UntagResource, after the create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 195))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["key".into()]),
        validation = Rule::new("self.all(t, !t.key.startsWith('chimeoperator.dev/'))").message("tag keys starting with chimeoperator.dev/ are the operator's own")
    )]
    pub tags: Vec<Tag>,

    /// What happens to the AWS object when this resource is deleted: Delete
    /// (stop and delete it) or Retain (leave it as it is). Defaults to Retain
    /// for an adopted object, else to the operator's
    /// --default-deletion-policy, itself Delete by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// The AWS Region of the Chime SDK Media Pipelines API that manages the
    /// object, e.g. eu-central-1. Defaults to the operator's region.
    /// Immutable once the object exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^([a-z]+-){2,}\d+$"))]
    pub region: Option<String>,
}

#[cfg(test)]
impl CommonFields {
    /// Fields with these tags (key, value) and nothing else.
    pub fn with_tags(tags: &[(&str, &str)]) -> Self {
        let tags = tags.iter().map(|(key, value)| Tag {
            key: (*key).into(),
            value: (*value).into(),
        });
        CommonFields {
            tags: tags.collect(),
            ..Default::default()
        }
    }
}

/// The status fields every kind has. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonStatus {
    /// When AWS created the object (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the object (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub updated_timestamp: Option<String>,
    /// The AWS Region of the API that manages the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub region: Option<String>,
    /// The metadata.generation the operator last processed, whether it
    /// could apply it or not (the conditions say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// The value of the reconcile.chimeoperator.dev/requestedAt annotation
    /// that the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 262144))]
    pub last_handled_reconcile_at: Option<String>,
    /// Ready: the AWS object is in service (a pipeline InProgress, a pool
    /// ACTIVE). Synced: the last reconcile reached AWS and succeeded; if
    /// not, the reason says why. Finished: the object ended normally (a
    /// pipeline stopped with its meeting; Ready is then absent).
    /// Reconciling and Stalled: the kstatus summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The spec fields every kind has, through its spec.
pub trait CommonSpec {
    fn common(&self) -> &CommonFields;
    fn spec_tags(&self) -> &[Tag] {
        &self.common().tags
    }
    /// The AWS Region the spec names, if any.
    fn spec_region(&self) -> Option<&str> {
        self.common().region.as_deref()
    }
    fn spec_deletion_policy(&self) -> Option<DeletionPolicy> {
        self.common().deletion_policy
    }
}
