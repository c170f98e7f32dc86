//! MediaPipelineKinesisVideoStreamPool: mirrors the
//! CreateMediaPipelineKinesisVideoStreamPool request.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CommonSpec, DeletionPolicy, Tag};

/// A Kinesis Video Stream pool for media pipelines: where a media stream
/// pipeline's audio goes.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "media.chimeoperator.dev",
    version = "v1alpha1",
    kind = "MediaPipelineKinesisVideoStreamPool",
    namespaced,
    shortname = "kvsp",
    category = "chime",
    category = "chime-pipelines",
    status = "KinesisVideoStreamPoolStatus",
    doc = "A Kinesis Video Stream pool for Chime SDK media pipelines, managed declaratively: created with this resource's UID as ClientRequestToken, its retention kept to the spec, deleted with the resource once no MediaStreamPipeline refers to it.",
    printcolumn = r#"{"name":"Pool ID","type":"string","jsonPath":".status.poolId"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.poolStatus"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Synced","type":"string","jsonPath":".status.conditions[?(@.type==\"Synced\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ARN","type":"string","priority":1,"jsonPath":".status.poolArn"}"#,
    printcolumn = r#"{"name":"Region","type":"string","priority":1,"jsonPath":".status.region"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct KinesisVideoStreamPoolSpec {
    /// The pool's name in AWS, 1 to 128 of [0-9a-zA-Z._-]. Defaults to the
    /// resource's name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[0-9a-zA-Z._-]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("poolName is immutable"))]
    pub pool_name: Option<String>,
    /// Where the pool's streams live and how long they keep data.
    pub stream_configuration: StreamConfiguration,
    /// Tags on the pool (at most 195, keys unique; keys under
    /// chimeoperator.dev/ are the operator's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 195))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["key".into()]),
        validation = Rule::new("self.all(t, !t.key.startsWith('chimeoperator.dev/'))").message("tag keys starting with chimeoperator.dev/ are the operator's own")
    )]
    pub tags: Vec<Tag>,
    /// Delete (default) or Retain the pool in AWS when this resource is
    /// deleted; defaults to the operator's --default-deletion-policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// The AWS Region of the Chime SDK Media Pipelines API that manages the
    /// pool. Defaults to the operator's region. Immutable once the pool
    /// exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^([a-z]+-){2,}\d+$"))]
    pub region: Option<String>,
}

/// The pool's Kinesis Video Streams configuration.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamConfiguration {
    /// The AWS Region of the pool's streams, e.g. us-east-1. Immutable.
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^([a-z]+-){2,}\d+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("region is immutable"))]
    pub region: String,
    /// How long the streams keep data, in hours (0: no retention). May
    /// change; a change to 0 after creation is refused by AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub data_retention_in_hours: Option<i32>,
}

/// What the operator observed of the pool. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KinesisVideoStreamPoolStatus {
    /// The pool's ARN in AWS: what a media stream pipeline's sink names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub pool_arn: Option<String>,
    /// The pool's ID in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub pool_id: Option<String>,
    /// The pool's name in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub pool_name: Option<String>,
    /// The pool's status in AWS: CREATING, ACTIVE, UPDATING, DELETING or
    /// FAILED; Gone once AWS no longer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub pool_status: Option<String>,
    /// The number of streams in the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub pool_size: Option<i32>,
    /// The AWS Region of the API that manages the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub region: Option<String>,
    /// The retention AWS reports, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub data_retention_in_hours: Option<i32>,
    /// When AWS created the pool (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the pool (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub updated_timestamp: Option<String>,
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
    /// Ready (the pool is ACTIVE), Synced, Reconciling and Stalled, as for
    /// MediaStreamPipeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::common::conditions_schema")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

impl MediaPipelineKinesisVideoStreamPool {
    /// The pool's name in AWS.
    pub fn pool_name(&self) -> String {
        self.spec
            .pool_name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}

impl CommonSpec for MediaPipelineKinesisVideoStreamPool {
    fn spec_tags(&self) -> &[Tag] {
        &self.spec.tags
    }
    fn spec_region(&self) -> Option<&str> {
        self.spec.region.as_deref()
    }
    fn spec_deletion_policy(&self) -> Option<DeletionPolicy> {
        self.spec.deletion_policy
    }
}
