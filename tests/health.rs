//! GitOps health of the operator's resources, as Argo CD and Flux see it.
//!
//! - Argo CD: runs the Lua health checks of `deploy/argocd/` with Debian's
//!   `lua5.1` (Argo CD embeds gopher-lua, a Lua 5.1) against sample objects,
//!   and checks that the `.lua` files and the copies inline in
//!   `argocd-cm-patch.yaml` are renderings of `health.lua.template`
//!   (`CHIME_BLESS=1` rewrites them when they are not).
//! - Flux: Flux's `healthChecks` use kstatus; `common::gitops::kstatus` is kstatus's
//!   rule for custom resources, checked against the same samples.
//!
//! Every kind of `crds/crds.yaml` must have a health check here, with
//! samples. They are built by the operator's own status code (each kind's
//! `decide`, `decide::fold` of what AWS describes, and the shared
//! `with_error`), so these tests break when the statuses it writes drift from
//! what the health checks expect.
//!
//! Needs `lua5.1` on PATH (`apt-get install -y lua5.1`); no control plane.

mod common;

use std::collections::BTreeSet;

use chime_pipeline_operator::aws::{
    CaptureDetail, ConcatDetail, Described, RemoteCapture, RemoteConcat, RemotePipeline,
    RemotePool, StreamDetail,
};
use chime_pipeline_operator::config::Settings;
use chime_pipeline_operator::crd::{
    KinesisVideoStreamPoolSpec, KinesisVideoStreamPoolStatus, MediaCapturePipelineSpec,
    MediaConcatenationPipelineSpec, MediaStreamPipelineSpec, MediaStreamSink, MediaStreamSource,
    MediaStreamType, PipelineStatus, SinkType, SourceType, StreamConfiguration,
};
use chime_pipeline_operator::decide::pool::{
    Observation as PoolObservation, decide as decide_pool, with_remote as pool_with_remote,
};
use chime_pipeline_operator::decide::{self, ManagedStatus, Read, Seen, fold, with_error};
use chime_pipeline_operator::error::Error;
use common::gitops::*;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const TEMPLATE: &str = "health.lua.template";
const CM_PATCH: &str = "argocd-cm-patch.yaml";
const GROUP: &str = "media.chimeoperator.dev";
/// Set to 1, the template test rewrites what it finds stale instead of failing.
const BLESS_ENV: &str = "CHIME_BLESS";
const BLESS_COMMAND: &str =
    "CHIME_BLESS=1 cargo nextest run --config-file tests/nextest.toml --test health";

// ---------------------------------------------------------------------------
// Lua: run an Argo CD health script on an object.

/// Writes through a temporary file, so that tests running the scripts at the
/// same time never read half of one.
fn write_script(file: &str, text: &str) {
    let path = format!("{ARGOCD_DIR}/{file}");
    let tmp = format!("{path}.bless");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("{tmp}: {e}"));
    std::fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// One kind's health check: what the placeholders of `health.lua.template`
/// stand for in it, and the samples it must read right.
struct HealthCheck {
    /// `{{KIND}}`: the kind, as in the header and argocd-cm's key.
    kind: &'static str,
    /// The rendered file next to the template.
    file: &'static str,
    /// `{{REMOTE_FIELD}}`: the status field with the status AWS reports.
    remote_field: &'static str,
    /// `{{KIND_NAME}}`: the kind in the words of hs.message.
    kind_name: &'static str,
    /// The kind in its states, and how each must read; the first is a
    /// healthy one.
    cases: fn() -> Vec<Case>,
}

/// Every kind's health check: one per kind of crds/crds.yaml (checked by
/// `every_kind_of_the_crds_has_a_health_check`).
const HEALTH_CHECKS: [HealthCheck; 4] = [
    HealthCheck {
        kind: "MediaStreamPipeline",
        file: PIPELINE_LUA,
        remote_field: "pipelineStatus",
        kind_name: "media pipeline",
        cases: media_cases::<StreamKind>,
    },
    HealthCheck {
        kind: "MediaPipelineKinesisVideoStreamPool",
        file: POOL_LUA,
        remote_field: "poolStatus",
        kind_name: "Kinesis Video Stream pool",
        cases: pool_cases,
    },
    HealthCheck {
        kind: "MediaCapturePipeline",
        file: CAPTURE_LUA,
        remote_field: "pipelineStatus",
        kind_name: "media capture pipeline",
        cases: media_cases::<CaptureKind>,
    },
    HealthCheck {
        kind: "MediaConcatenationPipeline",
        file: CONCAT_LUA,
        remote_field: "pipelineStatus",
        kind_name: "media concatenation pipeline",
        cases: concat_cases,
    },
];

fn render(check: &HealthCheck) -> String {
    let lua = read_script(TEMPLATE)
        .replace("{{KIND}}", check.kind)
        .replace("{{REMOTE_FIELD}}", check.remote_field)
        .replace("{{KIND_NAME}}", check.kind_name);
    if let Some(at) = lua.find("{{") {
        let line = lua[at..].lines().next().unwrap_or_default();
        panic!("{TEMPLATE}: a placeholder this test does not fill: {line}");
    }
    lua
}

/// argocd-cm's key for the health check of `kind`.
fn cm_key(kind: &str) -> String {
    format!("resource.customizations.health.{GROUP}_{kind}")
}

/// `yaml` with the literal block of `data.<key>` (its lines indented by 4
/// spaces) replaced by `text`; a key it lacks (a new kind's) is added at the
/// end, where `data` is.
fn splice_block(yaml: &str, key: &str, text: &str) -> String {
    let head = format!("\n  {key}: |\n");
    let block: String = text
        .split_inclusive('\n')
        .map(|l| {
            if l == "\n" {
                l.to_string()
            } else {
                format!("    {l}")
            }
        })
        .collect();
    let Some(at) = yaml.find(&head) else {
        let yaml = yaml.trim_end_matches('\n');
        return format!("{yaml}{head}{block}");
    };
    let start = at + head.len();
    // The block ends at its last indented line: blank lines after it belong
    // to what follows.
    let (mut end, mut at) = (start, start);
    for line in yaml[start..].split_inclusive('\n') {
        at += line.len();
        if line.starts_with("    ") {
            end = at;
        } else if !line.trim().is_empty() {
            break;
        }
    }
    format!("{}{block}{}", &yaml[..start], &yaml[end..])
}

// ---------------------------------------------------------------------------
// Samples.

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

/// A kind whose status is [`PipelineStatus`] and whose object AWS describes
/// as a [`Described`] (stream, capture and concatenation pipelines): the
/// same states, read by the same health check, so one list of samples
/// serves them all.
trait MediaKind {
    const KIND: &'static str;
    const NAME: &'static str;
    type Spec: Serialize;
    type Detail;
    fn spec() -> Self::Spec;
    /// `spec` with a field changed that AWS cannot update.
    fn edit(spec: &mut Self::Spec);
    /// What AWS describes of the pipeline `spec` made.
    fn detail(spec: &Self::Spec) -> Self::Detail;
    /// The status after one reconcile (the kind's own `decide`) of a
    /// resource at `generation` whose pipeline had `before`, with this read
    /// of AWS.
    fn reconciled(
        spec: &Self::Spec,
        before: &PipelineStatus,
        remote: Read<Described<Self::Detail>>,
        generation: i64,
    ) -> PipelineStatus;
}

/// What the reconciles of every kind see besides their spec.
fn seen_at<'a, S, R>(generation: i64, before: &'a S, remote: &'a Read<R>) -> Seen<'a, S, R> {
    Seen {
        generation: Some(generation),
        status: Some(before),
        create_tags: &[],
        own_tags: &[],
        region: "us-east-1",
        remote,
        now: now(),
    }
}

fn described<M: MediaKind>(spec: &M::Spec, status: &str) -> Described<M::Detail> {
    Described {
        id: "6d5caf81-8c83-487c-bf9a-a2fb52822d93".into(),
        arn: "arn:aws:chime:us-east-1:111122223333:media-pipeline/6d5caf81".into(),
        status: status.into(),
        created: Some(now()),
        updated: Some(now()),
        detail: M::detail(spec),
    }
}

/// The status the operator writes once AWS described the pipeline.
fn seen<M: MediaKind>(status: &str, generation: i64) -> PipelineStatus {
    fold(
        &described::<M>(&M::spec(), status),
        Default::default(),
        Some(generation),
        now(),
    )
}

/// The status the operator writes when the create failed, for any kind.
fn create_failed<S: ManagedStatus>(err: Error, generation: i64) -> S {
    with_error(Default::default(), &err, Some(generation), now())
}

fn object<M: MediaKind>(generation: i64, status: Option<PipelineStatus>) -> Value {
    let mut obj = json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": M::KIND,
        "metadata": {"name": M::NAME, "namespace": "meetings", "generation": generation},
        "spec": M::spec(),
    });
    if let Some(status) = status {
        obj["status"] = serde_json::to_value(status).unwrap();
    }
    obj
}

struct StreamKind;

impl MediaKind for StreamKind {
    const KIND: &'static str = "MediaStreamPipeline";
    const NAME: &'static str = "mixed-audio";
    type Spec = MediaStreamPipelineSpec;
    type Detail = StreamDetail;

    fn spec() -> MediaStreamPipelineSpec {
        MediaStreamPipelineSpec {
            sources: vec![MediaStreamSource {
                source_type: SourceType::ChimeSdkMeeting,
                source_arn: "arn:aws:chime:us-east-1:111122223333:meeting/m".into(),
            }],
            sinks: vec![MediaStreamSink {
                sink_arn: Some(
                    "arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/p"
                        .into(),
                ),
                pool_ref: None,
                sink_type: SinkType::KinesisVideoStreamPool,
                reserved_stream_capacity: 1,
                media_stream_type: MediaStreamType::MixedAudio,
            }],
            common: Default::default(),
            lifetime: Default::default(),
            adopt_media_pipeline_id: None,
        }
    }
    fn edit(spec: &mut MediaStreamPipelineSpec) {
        spec.sinks[0].reserved_stream_capacity = 5;
    }
    fn detail(spec: &MediaStreamPipelineSpec) -> StreamDetail {
        StreamDetail {
            sources: spec.sources.clone(),
            sinks: spec.sinks.clone(),
        }
    }
    fn reconciled(
        spec: &MediaStreamPipelineSpec,
        before: &PipelineStatus,
        remote: Read<RemotePipeline>,
        generation: i64,
    ) -> PipelineStatus {
        let observation = decide::pipeline::Observation {
            seen: seen_at(generation, before, &remote),
            spec,
            sinks: &Ok(spec.sinks.clone()),
        };
        decide::pipeline::decide(observation, &Settings::default()).status
    }
}

/// The spec of a shipped sample manifest.
fn sample_spec<S: DeserializeOwned>(file: &str) -> S {
    let path = format!("{}/deploy/samples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let obj: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_value(obj["spec"].clone()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct CaptureKind;

impl MediaKind for CaptureKind {
    const KIND: &'static str = "MediaCapturePipeline";
    const NAME: &'static str = "meeting-recording";
    type Spec = MediaCapturePipelineSpec;
    type Detail = CaptureDetail;

    fn spec() -> MediaCapturePipelineSpec {
        sample_spec("06-capture.yaml")
    }
    fn edit(spec: &mut MediaCapturePipelineSpec) {
        spec.sink_arn = "arn:aws:s3:::other-recordings".into();
    }
    fn detail(spec: &MediaCapturePipelineSpec) -> CaptureDetail {
        CaptureDetail {
            source_arn: spec.source_arn.clone(),
            sink_arn: spec.sink_arn.clone(),
        }
    }
    fn reconciled(
        spec: &MediaCapturePipelineSpec,
        before: &PipelineStatus,
        remote: Read<RemoteCapture>,
        generation: i64,
    ) -> PipelineStatus {
        let observation = decide::capture::Observation {
            seen: seen_at(generation, before, &remote),
            spec,
        };
        decide::capture::decide(observation, &Settings::default()).status
    }
}

/// The ARN of the capture pipeline the concatenation samples join.
const CAPTURE_ARN: &str = "arn:aws:chime:us-east-1:111122223333:media-pipeline/0b1c2d3e";

struct ConcatKind;

impl ConcatKind {
    /// One reconcile, with the capture pipeline resolved as `capture` says.
    fn reconciled_with(
        capture: &decide::concat::Capture,
        spec: &MediaConcatenationPipelineSpec,
        before: &PipelineStatus,
        remote: Read<RemoteConcat>,
        generation: i64,
    ) -> PipelineStatus {
        let observation = decide::concat::Observation {
            seen: seen_at(generation, before, &remote),
            spec,
            capture,
        };
        decide::concat::decide(observation, &Settings::default()).status
    }

    /// A resource not created yet, whose captureRef names a capture
    /// resource with `capture` (the status the operator wrote for it).
    fn waiting_on(capture: &PipelineStatus) -> Value {
        let resolved =
            decide::concat::resolve_capture_ref("meetings", CaptureKind::NAME, Some(Ok(capture)));
        let status = Self::reconciled_with(
            &resolved,
            &Self::spec(),
            &PipelineStatus::default(),
            Read::Unread,
            1,
        );
        object::<Self>(1, Some(status))
    }
}

impl MediaKind for ConcatKind {
    const KIND: &'static str = "MediaConcatenationPipeline";
    const NAME: &'static str = "meeting-recording-joined";
    type Spec = MediaConcatenationPipelineSpec;
    type Detail = ConcatDetail;

    fn spec() -> MediaConcatenationPipelineSpec {
        sample_spec("07-recording.yaml")
    }
    fn edit(spec: &mut MediaConcatenationPipelineSpec) {
        spec.sinks[0].s3_bucket_sink_configuration.destination =
            "arn:aws:s3:::other-recordings/joined".into();
    }
    fn detail(spec: &MediaConcatenationPipelineSpec) -> ConcatDetail {
        ConcatDetail {
            source_arn: CAPTURE_ARN.into(),
            destination: spec.destination().unwrap_or_default().into(),
        }
    }
    fn reconciled(
        spec: &MediaConcatenationPipelineSpec,
        before: &PipelineStatus,
        remote: Read<RemoteConcat>,
        generation: i64,
    ) -> PipelineStatus {
        Self::reconciled_with(&Ok(CAPTURE_ARN.into()), spec, before, remote, generation)
    }
}

fn deleting(mut obj: Value) -> Value {
    obj["metadata"]["deletionTimestamp"] = json!("2026-11-25T12:05:00Z");
    obj
}

const POOL_NAME: &str = "meeting-audio";

fn pool_spec() -> KinesisVideoStreamPoolSpec {
    KinesisVideoStreamPoolSpec {
        pool_name: None,
        stream_configuration: StreamConfiguration {
            region: "us-east-1".into(),
            data_retention_in_hours: Some(24),
        },
        common: Default::default(),
    }
}

fn remote_pool(status: &str) -> RemotePool {
    RemotePool {
        arn: "arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/meeting-audio".into(),
        id: "9d3e1c6a-0b7f-4d2e-8f4a-5c1b2a3d4e5f".into(),
        name: POOL_NAME.into(),
        status: status.into(),
        size: Some(0),
        region: "us-east-1".into(),
        retention_hours: Some(24),
        created: Some(now()),
        updated: Some(now()),
    }
}

/// The status the operator writes once AWS described the pool.
fn pool_seen(status: &str, generation: i64) -> KinesisVideoStreamPoolStatus {
    pool_with_remote(
        Default::default(),
        &remote_pool(status),
        Some(generation),
        now(),
    )
}

/// The status after one reconcile of a pool at `generation` that had
/// `before`, with this read of AWS.
fn pool_reconciled(
    spec: &KinesisVideoStreamPoolSpec,
    before: &KinesisVideoStreamPoolStatus,
    remote: Read<RemotePool>,
    generation: i64,
) -> KinesisVideoStreamPoolStatus {
    decide_pool(
        PoolObservation {
            seen: seen_at(generation, before, &remote),
            spec,
            name: POOL_NAME,
        },
        &Settings::default(),
    )
    .status
}

fn pool(generation: i64, status: Option<KinesisVideoStreamPoolStatus>) -> Value {
    let mut obj = json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "MediaPipelineKinesisVideoStreamPool",
        "metadata": {"name": POOL_NAME, "namespace": "meetings", "generation": generation},
        "spec": pool_spec(),
    });
    if let Some(status) = status {
        obj["status"] = serde_json::to_value(status).unwrap();
    }
    obj
}

/// One state of a resource, and how Argo CD and kstatus must read it.
struct Case {
    name: &'static str,
    obj: Value,
    argocd: &'static str,
    /// A word hs.message must contain (the telling condition's reason).
    message_has: &'static str,
    kstatus: KStatus,
}

fn case(
    name: &'static str,
    obj: Value,
    argocd: &'static str,
    message_has: &'static str,
    kstatus: KStatus,
) -> Case {
    Case {
        name,
        obj,
        argocd,
        message_has,
        kstatus,
    }
}

/// The states every media pipeline kind goes through, each built by the
/// kind's own status code.
fn media_cases<M: MediaKind>() -> Vec<Case> {
    use KStatus::*;
    let spec = M::spec();
    let mut edited = M::spec();
    M::edit(&mut edited);
    let running = seen::<M>("InProgress", 1);
    let starting = seen::<M>("Initializing", 1);
    let found = || Read::Found {
        remote: described::<M>(&spec, "InProgress"),
        tags: Some(vec![]),
    };
    let throttled = || Read::Failed(Error::Throttled("rate exceeded".into()));
    let refused = |err| object::<M>(1, Some(create_failed(err, 1)));
    vec![
        case(
            "running",
            object::<M>(1, Some(running.clone())),
            "Healthy",
            "InProgress",
            Current,
        ),
        // kstatus reads an object without status as Current (rule 5): nothing
        // the operator can change; Flux normally polls after it wrote status.
        case(
            "no status yet",
            object::<M>(1, None),
            "Progressing",
            "operator",
            Current,
        ),
        case(
            "spec change not yet observed",
            object::<M>(2, Some(running.clone())),
            "Progressing",
            "generation 2",
            InProgress,
        ),
        case(
            "initializing",
            object::<M>(1, Some(starting.clone())),
            "Progressing",
            "Initializing",
            InProgress,
        ),
        case(
            "stopping",
            object::<M>(1, Some(seen::<M>("Stopping", 1))),
            "Progressing",
            "Stopping",
            InProgress,
        ),
        case(
            "create throttled",
            object::<M>(
                1,
                Some(create_failed(Error::Throttled("rate exceeded".into()), 1)),
            ),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        case(
            "create: AWS unreachable",
            object::<M>(
                1,
                Some(create_failed(Error::Network("connection reset".into()), 1)),
            ),
            "Progressing",
            "NetworkError",
            InProgress,
        ),
        case(
            "waiting for capacity",
            object::<M>(
                1,
                Some(create_failed(
                    Error::ResourceLimitExceeded("too many pipelines".into()),
                    1,
                )),
            ),
            "Progressing",
            "ResourceLimitExceeded",
            InProgress,
        ),
        case(
            "initializing, read throttled",
            object::<M>(1, Some(M::reconciled(&spec, &starting, throttled(), 1))),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        // A failed refresh says nothing new about a running pipeline.
        case(
            "running, read throttled",
            object::<M>(1, Some(M::reconciled(&spec, &running, throttled(), 1))),
            "Healthy",
            "InProgress",
            Current,
        ),
        case(
            "immutable field edited",
            object::<M>(2, Some(M::reconciled(&edited, &running, found(), 2))),
            "Degraded",
            "ImmutableFieldChanged",
            Failed,
        ),
        case(
            "failed in AWS",
            object::<M>(1, Some(seen::<M>("Failed", 1))),
            "Degraded",
            "Failed",
            Failed,
        ),
        // A meeting that ended is the normal end, not a failure.
        case(
            "finished: stopped with its meeting",
            object::<M>(1, Some(seen::<M>("Stopped", 1))),
            "Healthy",
            "Finished. Stopped: The media pipeline stopped: its meeting ended, or its work is done.",
            Current,
        ),
        case(
            "finished, then removed by AWS",
            object::<M>(
                2,
                Some(M::reconciled(
                    &spec,
                    &seen::<M>("Stopped", 1),
                    Read::Gone,
                    2,
                )),
            ),
            "Healthy",
            "Finished. Removed",
            Current,
        ),
        case(
            "gone from AWS without stopping",
            object::<M>(1, Some(M::reconciled(&spec, &running, Read::Gone, 1))),
            "Degraded",
            "PipelineGone",
            Failed,
        ),
        // The generation was processed, though not applied: GitOps tools
        // must see the failure, not wait for the generation.
        case(
            "tag update refused",
            object::<M>(
                2,
                Some(with_error(
                    M::reconciled(&spec, &running, found(), 2),
                    &Error::Forbidden("no chime:TagResource".into()),
                    Some(2),
                    now(),
                )),
            ),
            "Degraded",
            "Forbidden",
            Failed,
        ),
        // Refusals that only a person can lift.
        case(
            "create refused: bad request",
            refused(Error::BadRequest("meeting not accepted".into())),
            "Degraded",
            "BadRequest",
            Failed,
        ),
        case(
            "create refused: forbidden",
            refused(Error::Forbidden("no chime:Create".into())),
            "Degraded",
            "Forbidden",
            Failed,
        ),
        case(
            "create refused: unauthorized",
            refused(Error::Unauthorized("bad key".into())),
            "Degraded",
            "Unauthorized",
            Failed,
        ),
        case(
            "create refused: not found",
            refused(Error::NotFound("no such meeting".into())),
            "Degraded",
            "NotFound",
            Failed,
        ),
    ]
}

fn concat_cases() -> Vec<Case> {
    use KStatus::*;
    let mut cases = media_cases::<ConcatKind>();
    cases.extend([
        // The capture pipeline still records: the create waits, as a
        // rollout does.
        case(
            "waiting for its capture pipeline",
            ConcatKind::waiting_on(&seen::<CaptureKind>("InProgress", 1)),
            "Progressing",
            "WaitingForCapture",
            InProgress,
        ),
        case(
            "its capture pipeline failed",
            ConcatKind::waiting_on(&seen::<CaptureKind>("Failed", 1)),
            "Degraded",
            "InvalidReference",
            Failed,
        ),
    ]);
    cases
}

fn pool_cases() -> Vec<Case> {
    use KStatus::*;
    let spec = pool_spec();
    let mut moved = spec.clone();
    moved.stream_configuration.region = "eu-west-1".into();
    let active = pool_seen("ACTIVE", 1);
    vec![
        case(
            "active",
            pool(1, Some(active.clone())),
            "Healthy",
            "ACTIVE",
            Current,
        ),
        case(
            "no status yet",
            pool(1, None),
            "Progressing",
            "operator",
            Current,
        ),
        case(
            "spec change not yet observed",
            pool(2, Some(active.clone())),
            "Progressing",
            "generation 2",
            InProgress,
        ),
        case(
            "creating",
            pool(1, Some(pool_seen("CREATING", 1))),
            "Progressing",
            "CREATING",
            InProgress,
        ),
        case(
            "updating",
            pool(2, Some(pool_seen("UPDATING", 2))),
            "Progressing",
            "UPDATING",
            InProgress,
        ),
        case(
            "create throttled",
            pool(
                1,
                Some(create_failed(Error::Throttled("rate exceeded".into()), 1)),
            ),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        case(
            "create refused: forbidden",
            pool(
                1,
                Some(create_failed(
                    Error::Forbidden("no chime:CreateMediaPipelineKinesisVideoStreamPool".into()),
                    1,
                )),
            ),
            "Degraded",
            "Forbidden",
            Failed,
        ),
        case(
            "immutable field edited",
            pool(
                2,
                Some(pool_reconciled(
                    &moved,
                    &active,
                    Read::Found {
                        remote: remote_pool("ACTIVE"),
                        tags: Some(vec![]),
                    },
                    2,
                )),
            ),
            "Degraded",
            "ImmutableFieldChanged",
            Failed,
        ),
        case(
            "failed in AWS",
            pool(1, Some(pool_seen("FAILED", 1))),
            "Degraded",
            "FAILED",
            Failed,
        ),
        case(
            "gone from AWS",
            pool(1, Some(pool_reconciled(&spec, &active, Read::Gone, 1))),
            "Degraded",
            "PoolGone",
            Failed,
        ),
    ]
}

/// Every case of every kind, with its health check's file.
fn all_cases() -> Vec<(&'static str, Case)> {
    HEALTH_CHECKS
        .iter()
        .flat_map(|check| (check.cases)().into_iter().map(|c| (check.file, c)))
        .collect()
}

// ---------------------------------------------------------------------------
// Tests.

/// Each kind's samples, read by its health check and by kstatus; every
/// mismatch of every kind is reported at once.
#[test]
fn every_kind_reads_right_in_every_state() {
    let mut wrong = vec![];
    for (file, c) in all_cases() {
        let hs = argocd_health(file, &c.obj);
        if hs.status != c.argocd || !hs.message.contains(c.message_has) {
            wrong.push(format!(
                "{file}: {}: Argo CD health {} {:?}, want {} with a message containing {:?}",
                c.name, hs.status, hs.message, c.argocd, c.message_has
            ));
        }
        let ks = kstatus(&c.obj);
        if ks != c.kstatus {
            wrong.push(format!(
                "{file}: {}: kstatus {ks:?}, want {:?}",
                c.name, c.kstatus
            ));
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

/// The CRDs users install (crds/crds.yaml, generated from the types): each
/// kind with the properties of its status.
fn crd_kinds() -> Vec<(String, BTreeSet<String>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/crds.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut kinds = vec![];
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let crd = Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}"));
        if crd.is_null() {
            continue;
        }
        assert_eq!(
            crd["spec"]["group"], GROUP,
            "{path}: a CRD of another group"
        );
        let kind = crd["spec"]["names"]["kind"].as_str();
        let kind = kind.unwrap_or_else(|| panic!("{path}: a CRD without spec.names.kind"));
        let versions = crd["spec"]["versions"].as_array().cloned();
        let fields = versions
            .unwrap_or_default()
            .iter()
            .filter_map(|v| {
                v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
                    .as_object()
                    .cloned()
            })
            .flat_map(|p| p.into_iter().map(|(name, _)| name))
            .collect();
        kinds.push((kind.to_string(), fields));
    }
    kinds
}

/// A kind the operator serves must show its health in Argo CD: a kind added
/// to the CRDs fails here until it has a health check, with samples, in
/// HEALTH_CHECKS; and a health check must read a field the kind's status
/// has.
#[test]
fn every_kind_of_the_crds_has_a_health_check() {
    let crds = crd_kinds();
    assert!(crds.len() >= 2, "crds/crds.yaml lists {crds:?}");
    let mut wrong = vec![];
    for (kind, fields) in &crds {
        match HEALTH_CHECKS.iter().find(|c| c.kind == kind) {
            None => wrong.push(format!(
                "{kind} has no health check: add it to HEALTH_CHECKS in tests/health.rs (the \
                 rendered file, its status field, its samples), then run\n    {BLESS_COMMAND}"
            )),
            Some(check) if !fields.contains(check.remote_field) => wrong.push(format!(
                "{kind}: its status has no {}, which its health check names (it has {fields:?})",
                check.remote_field
            )),
            Some(_) => {}
        }
    }
    for check in &HEALTH_CHECKS {
        if !crds.iter().any(|(kind, _)| kind == check.kind) {
            wrong.push(format!(
                "{}: a health check for a kind crds/crds.yaml does not have",
                check.kind
            ));
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

/// The operator itself says, with Reconciling and Stalled, which states it
/// works through and which need a person: kstatus must not have to guess
/// from Ready=False (older kstatus releases read that as Current).
#[test]
fn statuses_carry_reconciling_and_stalled() {
    let mut wrong = vec![];
    for (file, c) in all_cases() {
        let Some(conditions) = c.obj["status"]["conditions"].as_array() else {
            continue;
        };
        let is_true = |t: &str| {
            conditions
                .iter()
                .any(|x| x["type"] == t && x["status"] == "True")
        };
        let (reconciling, stalled) = (is_true("Reconciling"), is_true("Stalled"));
        let want = match (
            c.argocd,
            c.obj["metadata"]["generation"] == c.obj["status"]["observedGeneration"],
        ) {
            ("Healthy", _) | (_, false) => None, // nothing to say about these
            ("Progressing", true) => Some((true, false)),
            ("Degraded", true) => Some((false, true)),
            _ => None,
        };
        if let Some(want) = want
            && (reconciling, stalled) != want
        {
            wrong.push(format!(
                "{file}: {}: Reconciling={reconciling} Stalled={stalled}, want Reconciling={} \
                 Stalled={}",
                c.name, want.0, want.1
            ));
        }
        if c.argocd == "Healthy" && (reconciling || stalled) {
            wrong.push(format!(
                "{file}: {}: healthy, yet Reconciling or Stalled is True",
                c.name
            ));
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

#[test]
fn deleting_objects_read_terminating() {
    for check in &HEALTH_CHECKS {
        let healthy = (check.cases)().remove(0);
        let obj = deleting(healthy.obj);
        assert_eq!(kstatus(&obj), KStatus::Terminating, "{}", check.kind);
        // Argo CD reports any object with a deletionTimestamp as Progressing
        // ("Pending deletion") before it runs a custom check; the scripts
        // need only not fail on one.
        argocd_health(check.file, &obj);
    }
}

/// The .lua files and the Lua inline in argocd-cm-patch.yaml are the
/// template rendered for each kind; with CHIME_BLESS=1, stale ones are
/// rewritten.
#[test]
fn argocd_health_checks_are_rendered_from_the_template() {
    let bless = std::env::var(BLESS_ENV).is_ok_and(|v| v == "1");
    let mut stale = vec![];
    let mut rewrite = |file: &str, want: &str| {
        // A new kind's file does not exist yet: stale too.
        let path = format!("{ARGOCD_DIR}/{file}");
        if std::fs::read_to_string(path).is_ok_and(|have| have == want) {
            return;
        }
        if bless {
            write_script(file, want);
        }
        stale.push(format!("deploy/argocd/{file}"));
    };
    let mut cm = read_script(CM_PATCH);
    for check in &HEALTH_CHECKS {
        let lua = render(check);
        rewrite(check.file, &lua);
        cm = splice_block(&cm, &cm_key(check.kind), &lua);
    }
    rewrite(CM_PATCH, &cm);
    assert!(
        bless || stale.is_empty(),
        "not what deploy/argocd/{TEMPLATE} renders: {}\nedit the template, not these, then \
         regenerate them with\n  {BLESS_COMMAND}",
        stale.join(", ")
    );

    // The splicing above works on text: check that YAML reads the same Lua
    // back, so a block that ends early or takes in too much cannot pass.
    let cm: Value = serde_yaml_ng::from_str(&read_script(CM_PATCH)).unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    for check in &HEALTH_CHECKS {
        let key = cm_key(check.kind);
        assert!(
            cm["data"][&key].as_str() == Some(render(check).as_str()),
            "{CM_PATCH}: data.{key} does not read back as the rendered template"
        );
    }
    // And no check of a kind that is gone stays behind.
    let keys: BTreeSet<&str> = cm["data"]
        .as_object()
        .map(|data| data.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let want: BTreeSet<String> = HEALTH_CHECKS.iter().map(|c| cm_key(c.kind)).collect();
    let want: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(
        keys, want,
        "{CM_PATCH}: data holds other keys than the checks'"
    );
}

#[test]
fn lua_literals_survive_awkward_strings() {
    let awkward = "quote \" backslash \\ newline \n tab \t nul \0 then 1 and ünïcode";
    let obj = json!({
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "True", "reason": "InProgress", "message": awkward}],
        },
    });
    let hs = argocd_health(PIPELINE_LUA, &obj);
    assert_eq!(hs.status, "Healthy");
    assert_eq!(hs.message, format!("InProgress: {awkward}"));
}
