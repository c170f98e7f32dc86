//! The kinds as the suites see them: one trait, [`TestKind`], says how to
//! make a kind's i-th resource, how the emulator creates and records its
//! AWS objects, and when a resource has converged; the suites that hold for
//! every kind (crashes, AWS faults) are written once against it.

use std::collections::HashMap;
use std::fmt::Debug;

use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline,
};
use chime_pipeline_operator::decide::ManagedStatus;
use k8s_openapi::NamespaceResourceScope;
use kube::core::object::HasStatus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use testworld::emulator::{Emulator, PipelineRecord};

use super::{POOL_ARN, REGION, condition, eventually, is_ready, meeting_arn};

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
    /// Its tags, the operator's identity tags among them.
    pub tags: Vec<(String, String)>,
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
            .or_else(|| self.tag(UID_TAG).map(str::to_string))
            .unwrap_or_default()
    }

    /// The value of its tag `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        let mut tags = self.tags.iter();
        tags.find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether a call record's subject names this object (or its create).
    pub fn is_subject(&self, subject: Option<&str>) -> bool {
        subject.is_some_and(|s| s == self.id || s == self.arn || Some(s) == self.token.as_deref())
    }

    fn of_pipeline(p: PipelineRecord) -> Remote {
        Remote {
            tags: p.tags,
            id: p.id,
            arn: p.arn,
            token: p.client_request_token,
            deleted: p.deleted,
            deleting: false,
        }
    }
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
    /// The emulator's operations (its call records' names) that create
    /// one, delete one, and list the kind (the sweep's).
    const CREATE: &'static str;
    const DELETE: &'static str;
    const LIST: &'static str;

    /// The spec of the i-th resource of a suite, named `name` (unique in
    /// the emulator for the test): its own meeting, its own pool name, the
    /// rest varied by `i`. What it needs in AWS first (a concatenation's
    /// finished capture pipeline) is made in `emulator`: build the
    /// manifests before injecting faults.
    async fn spec(emulator: &Emulator, i: usize, name: &str) -> anyhow::Result<Value>;

    /// Every AWS object of this kind the emulator ever held.
    fn remote(emulator: &Emulator) -> Vec<Remote>;

    /// What the suites wait for: Ready, with the AWS object recorded (a kind
    /// that finishes on its own may be Finished instead).
    fn converged(o: &Self) -> bool {
        is_ready(o)
    }
}

/// The kind's name, as in manifests and the emulator's records.
pub fn kind_name<K: TestKind>() -> String {
    K::kind(&()).into_owned()
}

/// The resources of a suite: the i-th named `names[i]` (see
/// [`TestKind::spec`]), with `extra(i)` merged into its spec
/// (`{"deletionPolicy": "Retain"}`, say). Made all at once, what they need
/// in AWS too, so that a suite's timing is the same for every kind: build
/// them before a suite's clock (or faults) starts.
pub async fn manifests<K: TestKind>(
    emulator: &Emulator,
    names: &[String],
    extra: impl Fn(usize) -> Value,
) -> anyhow::Result<Vec<K>> {
    let each = names.iter().enumerate().map(|(i, name)| {
        let extra = extra(i);
        async move {
            let mut spec = K::spec(emulator, i, name).await?;
            if let (Some(map), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
                map.extend(extra.clone());
            }
            anyhow::Ok(serde_json::from_value::<K>(json!({
                "apiVersion": K::api_version(&()),
                "kind": K::kind(&()),
                "metadata": {"name": name},
                "spec": spec,
            }))?)
        }
    });
    futures::future::try_join_all(each).await
}

/// `n` names: `{prefix}0`, `{prefix}1`, ...
pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
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
    const DELETE: &'static str = "DeleteMediaPipeline";
    const LIST: &'static str = "ListMediaPipelines";

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
    const DELETE: &'static str = "DeleteMediaPipelineKinesisVideoStreamPool";
    const LIST: &'static str = "ListMediaPipelineKinesisVideoStreamPools";

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
                tags: p.tags,
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
    const DELETE: &'static str = "DeleteMediaPipeline";
    const LIST: &'static str = "ListMediaPipelines";

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

impl TestKind for MediaConcatenationPipeline {
    const CREATE: &'static str = "CreateMediaConcatenationPipeline";
    const DELETE: &'static str = "DeleteMediaPipeline";
    const LIST: &'static str = "ListMediaPipelines";

    /// The chunks of a capture pipeline of its own (made in AWS by someone
    /// else, its meeting `m-{name}` ended), named by ARN, joined into one
    /// bucket; which of the six optional artifacts are joined varies by `i`.
    async fn spec(emulator: &Emulator, i: usize, name: &str) -> anyhow::Result<Value> {
        let capture = finished_capture(emulator, &format!("m-{name}")).await?;
        const OPTIONAL: [&str; 6] = [
            "video",
            "content",
            "dataChannel",
            "transcriptionMessages",
            "meetingEvents",
            "compositedVideo",
        ];
        const STATES: [&str; 2] = ["Disabled", "Enabled"];
        // Bit b of i says whether the b-th optional artifact is joined.
        let mut artifacts: serde_json::Map<String, Value> = (OPTIONAL.iter().enumerate())
            .map(|(b, a)| (a.to_string(), json!({"state": STATES[(i >> b) & 1]})))
            .collect();
        artifacts.insert("audio".into(), json!({"state": "Enabled"}));
        Ok(json!({
            "sources": [{"type": "MediaCapturePipeline", "mediaCapturePipelineSourceConfiguration": {
                "mediaPipelineArn": capture,
                "chimeSdkMeetingConfiguration": {"artifactsConfiguration": artifacts},
            }}],
            "sinks": [{"type": "S3Bucket", "s3BucketSinkConfiguration": {"destination": "arn:aws:s3:::meeting-recordings/joined"}}],
        }))
    }

    fn remote(emulator: &Emulator) -> Vec<Remote> {
        pipelines_of(emulator, "MediaConcatenationPipeline")
    }

    /// Recorded, and Ready or already Finished: a concatenation stops on
    /// its own once its files are joined.
    fn converged(o: &Self) -> bool {
        let finished = condition(o, "Finished").is_some_and(|c| c.0 == "True");
        let recorded = o
            .status
            .as_ref()
            .is_some_and(|s| s.media_pipeline_id.is_some());
        recorded && (is_ready(o) || finished)
    }
}

/// A capture pipeline made in the emulator as someone else would (no
/// token, no identity tags) recording `meeting`, which then ends; its ARN
/// once it is Stopped.
pub async fn finished_capture(emulator: &Emulator, meeting: &str) -> anyhow::Result<String> {
    use aws_sdk_chimesdkmediapipelines::types as t;
    let sdk = testworld::emulator::sdk_client(&emulator.endpoint_url(), REGION).await;
    let made = sdk
        .create_media_capture_pipeline()
        .source_type(t::MediaPipelineSourceType::ChimeSdkMeeting)
        .source_arn(meeting_arn(meeting))
        .sink_type(t::MediaPipelineSinkType::S3Bucket)
        .sink_arn("arn:aws:s3:::meeting-recordings")
        .send()
        .await?;
    let arn = made
        .media_capture_pipeline
        .and_then(|p| p.media_pipeline_arn)
        .unwrap_or_default();
    emulator.end_meeting(&meeting_arn(meeting));
    let stopped = || {
        emulator
            .pipelines()
            .iter()
            .any(|p| p.arn == arn && p.status == "Stopped")
    };
    anyhow::ensure!(
        eventually(std::time::Duration::from_secs(30), stopped).await,
        "the capture pipeline {arn} never stopped"
    );
    Ok(arn)
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
