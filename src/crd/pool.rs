//! MediaPipelineKinesisVideoStreamPool: mirrors the
//! CreateMediaPipelineKinesisVideoStreamPool request.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{CommonFields, CommonSpec, CommonStatus};

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
    #[serde(flatten)]
    pub common: CommonFields,
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
    /// The retention AWS reports, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub data_retention_in_hours: Option<i32>,
    #[serde(flatten)]
    pub common: CommonStatus,
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
    fn common(&self) -> &CommonFields {
        &self.spec.common
    }
}
