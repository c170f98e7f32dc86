//! The MediaStreamPipeline custom resource. Its spec mirrors the
//! CreateMediaStreamPipeline request of the Chime SDK Media Pipelines API
//! (service model 2021-07-15); the constraints below are the model's, so that
//! the API server refuses what AWS would refuse, before anything is called.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "media.chimeoperator.dev";
/// The finalizer the controller puts on every resource it manages.
pub const FINALIZER: &str = "media.chimeoperator.dev/pipeline";
/// The model's `Arn` shape: pattern and length.
pub const ARN_PATTERN: &str = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$";

/// A Chime SDK media stream pipeline: streams the audio of a Chime SDK meeting
/// into Kinesis Video Stream pools.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "media.chimeoperator.dev",
    version = "v1alpha1",
    kind = "MediaStreamPipeline",
    namespaced,
    shortname = "msp",
    category = "chime",
    category = "chime-pipelines",
    status = "MediaStreamPipelineStatus",
    doc = "A Chime SDK media stream pipeline, managed declaratively: the operator creates it with this resource's UID as ClientRequestToken, keeps its status fresh, and deletes it with the resource.",
    printcolumn = r#"{"name":"Pipeline ID","type":"string","jsonPath":".status.mediaPipelineId"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.pipelineStatus"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamPipelineSpec {
    /// The media sources: the Chime SDK meetings whose audio is streamed (at
    /// least one). Immutable once the pipeline exists.
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sources are immutable: create a new MediaStreamPipeline instead"))]
    pub sources: Vec<MediaStreamSource>,

    /// Where the audio goes: one or two Kinesis Video Stream pools (one per
    /// media stream type). Immutable once the pipeline exists.
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sinks are immutable: create a new MediaStreamPipeline instead"))]
    pub sinks: Vec<MediaStreamSink>,

    /// Tags on the media pipeline (at most 200, keys unique). May change: the
    /// operator applies the difference with TagResource and UntagResource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub tags: Vec<Tag>,

    /// What happens to the media pipeline when this resource is deleted:
    /// Delete (stop and delete it) or Retain (leave it running). Defaults to
    /// Retain for an adopted pipeline, else to the operator's
    /// --default-deletion-policy, itself Delete by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,

    /// The AWS Region of the media pipeline, e.g. eu-central-1. Defaults to
    /// the operator's region. Immutable once the pipeline exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^([a-z]+-){2,}\d+$"))]
    pub region: Option<String>,

    /// Bring an existing media pipeline under this resource instead of
    /// creating one: its ID (a GUID). Nothing is created; the status fills
    /// from GetMediaPipeline; sources and sinks must match the pipeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("adoptMediaPipelineId is immutable"))]
    pub adopt_media_pipeline_id: Option<String>,
}

/// A media source of the pipeline.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamSource {
    /// The type of the source. Only ChimeSdkMeeting exists.
    pub source_type: SourceType,
    /// The ARN of the Chime SDK meeting, e.g.
    /// arn:aws:chime:us-east-1:111122223333:meeting/<meeting-id>.
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub source_arn: String,
}

/// A sink of the pipeline: a Kinesis Video Stream pool, named by its ARN or
/// by a MediaPipelineKinesisVideoStreamPool resource of this namespace
/// (exactly one of the two).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["sinkArn"]}, {"required": ["poolRef"]}]))]
pub struct MediaStreamSink {
    /// The ARN of the Kinesis Video Stream pool, as returned by
    /// CreateMediaPipelineKinesisVideoStreamPool. Give this or poolRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$")
    )]
    pub sink_arn: Option<String>,
    /// A MediaPipelineKinesisVideoStreamPool of this namespace whose pool is
    /// the sink; the pipeline waits until that pool is ACTIVE. Give this or
    /// sinkArn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_ref: Option<PoolRef>,
    /// The type of the sink. Only KinesisVideoStreamPool exists.
    pub sink_type: SinkType,
    /// How many streams of the pool this pipeline reserves, 1 to 10.
    #[schemars(range(min = 1, max = 10))]
    pub reserved_stream_capacity: i32,
    /// MixedAudio (one stream of the whole meeting) or IndividualAudio (one
    /// stream per attendee).
    pub media_stream_type: MediaStreamType,
}

/// Names a MediaPipelineKinesisVideoStreamPool in the same namespace.
#[derive(
    Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub struct PoolRef {
    /// The name of the MediaPipelineKinesisVideoStreamPool resource.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
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

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SourceType {
    ChimeSdkMeeting,
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum SinkType {
    KinesisVideoStreamPool,
}

#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum MediaStreamType {
    MixedAudio,
    IndividualAudio,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the media pipeline with the resource.
    #[default]
    Delete,
    /// Leave the media pipeline running when the resource is deleted.
    Retain,
}

/// What the operator observed. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaStreamPipelineStatus {
    /// The ID of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_pipeline_id: Option<String>,
    /// The ARN of the media pipeline in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_pipeline_arn: Option<String>,
    /// The pipeline's status in AWS: Initializing, InProgress, Failed,
    /// Stopping, Stopped, Paused or NotStarted; Gone once AWS no longer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_status: Option<String>,
    /// When AWS created the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the pipeline (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_timestamp: Option<String>,
    /// The AWS Region the pipeline lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The metadata.generation that this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready: the pipeline is InProgress. Synced: the last reconcile reached
    /// AWS and succeeded; if not, the reason says why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

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
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
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
    /// Tags on the pool (at most 200, keys unique).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
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
    #[schemars(range(min = 0))]
    pub data_retention_in_hours: Option<i32>,
}

/// What the operator observed of the pool. Written only by the operator.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KinesisVideoStreamPoolStatus {
    /// The pool's ARN in AWS: what a media stream pipeline's sink names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_arn: Option<String>,
    /// The pool's ID in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    /// The pool's name in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    /// The pool's status in AWS: CREATING, ACTIVE, UPDATING, DELETING or
    /// FAILED; Gone once AWS no longer knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_status: Option<String>,
    /// The number of streams in the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<i32>,
    /// The AWS Region of the API that manages the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The retention AWS reports, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_retention_in_hours: Option<i32>,
    /// When AWS created the pool (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<String>,
    /// When AWS last updated the pool (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_timestamp: Option<String>,
    /// The metadata.generation that this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (the pool is ACTIVE), Synced, Reconciling and Stalled, as for
    /// MediaStreamPipeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

/// All CRDs of the operator, as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let pipelines = serde_yaml_ng::to_string(&MediaStreamPipeline::crd())?;
    let pools = serde_yaml_ng::to_string(&MediaPipelineKinesisVideoStreamPool::crd())?;
    Ok(format!(
        "# Generated by `chime-pipeline-operator crds`; do not edit.\n---\n{pipelines}---\n{pools}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// crds/ is generated from these types; a stale file fails here.
    #[test]
    fn crds_folder_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/crds.yaml");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        let generated = crds_yaml().unwrap();
        assert!(
            on_disk == generated,
            "crds/crds.yaml is stale: run `cargo run -- crds > crds/crds.yaml`"
        );
    }

    #[test]
    fn schema_carries_the_model_constraints() {
        let crd = serde_json::to_value(MediaStreamPipeline::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let sinks = &spec["properties"]["sinks"];
        assert_eq!(sinks["minItems"], 1);
        assert_eq!(sinks["maxItems"], 2);
        let sink = &sinks["items"]["properties"];
        assert_eq!(
            sink["reservedStreamCapacity"]["minimum"].as_f64(),
            Some(1.0)
        );
        assert_eq!(
            sink["reservedStreamCapacity"]["maximum"].as_f64(),
            Some(10.0)
        );
        assert_eq!(sink["sinkArn"]["maxLength"], 1024);
        assert_eq!(sink["sinkArn"]["pattern"], ARN_PATTERN);
        assert_eq!(spec["properties"]["tags"]["maxItems"], 200);
        assert_eq!(spec["properties"]["tags"]["x-kubernetes-list-type"], "map");
        assert_eq!(spec["properties"]["sources"]["minItems"], 1);
        assert!(
            sinks["x-kubernetes-validations"][0]["rule"]
                .as_str()
                .unwrap()
                .contains("oldSelf")
        );
    }

    /// `kubectl explain` teaches the API only if every field says what it is.
    #[test]
    fn every_spec_field_has_a_description() {
        fn walk(path: &str, schema: &serde_json::Value, missing: &mut Vec<String>) {
            if let Some(props) = schema["properties"].as_object() {
                for (name, sub) in props {
                    let p = format!("{path}.{name}");
                    if sub["description"].as_str().unwrap_or("").is_empty() {
                        missing.push(p.clone());
                    }
                    walk(&p, sub, missing);
                    walk(&p, &sub["items"], missing);
                }
            }
        }
        let mut missing = vec![];
        for crd in [
            serde_json::to_value(MediaStreamPipeline::crd()).unwrap(),
            serde_json::to_value(MediaPipelineKinesisVideoStreamPool::crd()).unwrap(),
        ] {
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
            walk(&format!("{kind}.spec"), &root["spec"], &mut missing);
            walk(&format!("{kind}.status"), &root["status"], &mut missing);
        }
        assert!(
            missing.is_empty(),
            "fields without description: {missing:?}"
        );
    }
}
