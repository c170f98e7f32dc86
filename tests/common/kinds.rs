//! The kinds as the suites see them: one trait, [`TestKind`], says how to
//! make a kind's i-th resource, how the emulator creates and records its
//! AWS objects, and when a resource has converged; the suites that hold for
//! every kind (crashes, AWS faults) are written once against it.

use std::collections::HashMap;
use std::fmt::Debug;

use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
};
use chime_pipeline_operator::decide::ManagedStatus;
use k8s_openapi::NamespaceResourceScope;
use kube::core::object::HasStatus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testworld::emulator::{Emulator, PipelineRecord};

use super::{POOL_ARN, is_ready, meeting_arn};

/// The identity tag holding the UID of the resource an object was made for.
pub const UID_TAG: &str = "chimeoperator.dev/uid";

/// An AWS object of a kind, as the emulator records it (deleted ones too).
#[derive(Clone, Debug)]
pub struct Remote {
    /// What calls name it by: the pipeline's ID, the pool's ARN.
    pub id: String,
    pub arn: String,
    /// The create's ClientRequestToken: the operator's is the resource's UID.
    pub token: Option<String>,
    /// Its `chimeoperator.dev/uid` tag.
    pub uid_tag: Option<String>,
    /// Gone from AWS (a pool once through DELETING).
    pub deleted: bool,
    /// On its way out: a delete was accepted (a pool DELETING).
    pub deleting: bool,
}

impl Remote {
    /// The resource it is for: its create token (the operator's idempotency
    /// key: two objects for one token are a duplicate), else its identity
    /// tag; empty for an object made by someone else without either.
    pub fn owner(&self) -> String {
        self.token
            .clone()
            .or_else(|| self.uid_tag.clone())
            .unwrap_or_default()
    }

    /// Whether a call record's subject names this object (or its create).
    pub fn is_subject(&self, subject: Option<&str>) -> bool {
        subject.is_some_and(|s| s == self.id || s == self.arn || Some(s) == self.token.as_deref())
    }

    fn of_pipeline(p: PipelineRecord) -> Remote {
        Remote {
            uid_tag: tag(&p.tags, UID_TAG),
            id: p.id,
            arn: p.arn,
            token: p.client_request_token,
            deleted: p.deleted,
            deleting: false,
        }
    }
}

fn tag(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// A kind of resource the operator manages, for tests.
pub trait TestKind:
    kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasStatus<Status: ManagedStatus + Debug>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The emulator's operation that creates one (its call records' name).
    const CREATE: &'static str;

    /// The spec of the i-th resource of a suite, named `name` (unique in
    /// the emulator for the test): its own meeting, its own pool name, the
    /// rest varied by `i`. What it needs in AWS first is made in `emulator`.
    async fn spec(emulator: &Emulator, i: usize, name: &str) -> anyhow::Result<Value>;

    /// Every AWS object of this kind the emulator ever held.
    fn remote(emulator: &Emulator) -> Vec<Remote>;

    /// What the suites wait for: Ready, with the AWS object recorded.
    fn converged(o: &Self) -> bool {
        is_ready(o)
    }
}

/// The kind's name, as in manifests and the emulator's records.
pub fn kind_name<K: TestKind>() -> String {
    K::kind(&()).into_owned()
}

/// The i-th resource of a suite (see [`TestKind::spec`]), with `extra`
/// merged into its spec (`{"deletionPolicy": "Retain"}`, say).
pub async fn manifest<K: TestKind>(
    emulator: &Emulator,
    i: usize,
    name: &str,
    extra: Value,
) -> anyhow::Result<K> {
    let mut spec = K::spec(emulator, i, name).await?;
    if let (Some(map), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name},
        "spec": spec,
    }))?)
}

fn pipelines_of(emulator: &Emulator, kind: &str) -> Vec<Remote> {
    emulator
        .pipelines()
        .into_iter()
        .filter(|p| p.kind == kind)
        .map(Remote::of_pipeline)
        .collect()
}

impl TestKind for MediaStreamPipeline {
    const CREATE: &'static str = "CreateMediaStreamPipeline";

    /// The meeting `m-{name}`'s audio into POOL_ARN, mixed or per attendee,
    /// with 1 to 3 streams reserved.
    async fn spec(_: &Emulator, i: usize, name: &str) -> anyhow::Result<Value> {
        let media = ["MixedAudio", "IndividualAudio"][i % 2];
        Ok(json!({
            "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(&format!("m-{name}"))}],
            "sinks": [{"sinkType": "KinesisVideoStreamPool", "sinkArn": POOL_ARN, "reservedStreamCapacity": 1 + i % 3, "mediaStreamType": media}],
        }))
    }

    fn remote(emulator: &Emulator) -> Vec<Remote> {
        pipelines_of(emulator, "MediaStreamPipeline")
    }
}

impl TestKind for MediaPipelineKinesisVideoStreamPool {
    const CREATE: &'static str = "CreateMediaPipelineKinesisVideoStreamPool";

    /// A pool named `pool-{name}` in AWS (names are the account's, per
    /// Region: unique per resource), keeping data 24 to 71 hours.
    async fn spec(_: &Emulator, i: usize, name: &str) -> anyhow::Result<Value> {
        Ok(json!({
            "poolName": format!("pool-{name}"),
            "streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24 + i % 48},
        }))
    }

    fn remote(emulator: &Emulator) -> Vec<Remote> {
        emulator
            .pools()
            .into_iter()
            .map(|p| Remote {
                uid_tag: tag(&p.tags, UID_TAG),
                id: p.id,
                arn: p.arn,
                token: p.client_request_token,
                deleting: !p.deleted && p.status == "DELETING",
                deleted: p.deleted,
            })
            .collect()
    }

    /// Ready, and ACTIVE in AWS.
    fn converged(o: &Self) -> bool {
        is_ready(o)
            && o.status
                .as_ref()
                .is_some_and(|s| s.pool_status.as_deref() == Some("ACTIVE"))
    }
}

impl TestKind for MediaCapturePipeline {
    const CREATE: &'static str = "CreateMediaCapturePipeline";

    /// The meeting `m-{name}` recorded to one bucket, its audio alone or
    /// with the active speaker's video.
    async fn spec(_: &Emulator, i: usize, name: &str) -> anyhow::Result<Value> {
        let audio = ["AudioOnly", "AudioWithActiveSpeakerVideo"][i % 2];
        Ok(json!({
            "sourceType": "ChimeSdkMeeting",
            "sourceArn": meeting_arn(&format!("m-{name}")),
            "sinkType": "S3Bucket",
            "sinkArn": "arn:aws:s3:::meeting-recordings",
            "chimeSdkMeetingConfiguration": {"artifactsConfiguration": {
                "audio": {"muxType": audio},
                "video": {"state": "Enabled", "muxType": "VideoOnly"},
                "content": {"state": "Disabled"},
            }},
        }))
    }

    fn remote(emulator: &Emulator) -> Vec<Remote> {
        pipelines_of(emulator, "MediaCapturePipeline")
    }
}

/// The promise of the operator, for kind K: at most one AWS object per
/// resource UID, ever, and exactly one for each of `uids`.
pub fn assert_one_per_uid<K: TestKind>(emulator: &Emulator, uids: &[String]) {
    let mut per_owner: HashMap<String, usize> = HashMap::new();
    for r in K::remote(emulator) {
        *per_owner.entry(r.owner()).or_default() += 1;
    }
    let kind = kind_name::<K>();
    for (owner, n) in &per_owner {
        assert_eq!(*n, 1, "{n} {kind} objects were created for {owner}");
    }
    for uid in uids {
        assert_eq!(
            per_owner.get(uid),
            Some(&1),
            "no {kind} object for UID {uid}"
        );
    }
}
