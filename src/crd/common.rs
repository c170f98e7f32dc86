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
