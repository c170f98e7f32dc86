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
//! Samples of both kinds are built by the operator's own status code
//! (`decide::pipeline` and `decide::pool`: each kind's `decide` and
//! `with_remote`, and the shared `with_error`), so these tests break when the
//! statuses it writes drift from what the health checks expect.
//!
//! Needs `lua5.1` on PATH (`apt-get install -y lua5.1`); no control plane.

mod common;

use chime_pipeline_operator::aws::{RemotePipeline, RemotePool, StreamDetail};
use chime_pipeline_operator::config::Settings;
use chime_pipeline_operator::crd::{
    KinesisVideoStreamPoolSpec, KinesisVideoStreamPoolStatus, StreamConfiguration,
};
use chime_pipeline_operator::crd::{
    MediaStreamPipelineSpec, MediaStreamSink, MediaStreamSource, MediaStreamType, PipelineStatus,
    SinkType, SourceType,
};
use chime_pipeline_operator::decide::pipeline::{Observation, decide, with_remote};
use chime_pipeline_operator::decide::pool::{
    Observation as PoolObservation, decide as decide_pool, with_remote as pool_with_remote,
};
use chime_pipeline_operator::decide::{Read, Seen, with_error};
use chime_pipeline_operator::error::Error;
use common::gitops::*;
use jiff::Timestamp;
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

/// What the placeholders of `health.lua.template` stand for in one kind's
/// health check.
struct HealthCheck {
    /// `{{KIND}}`: the kind, as in the header and argocd-cm's key.
    kind: &'static str,
    /// The rendered file next to the template.
    file: &'static str,
    /// `{{REMOTE_FIELD}}`: the status field with the status AWS reports.
    remote_field: &'static str,
    /// `{{KIND_NAME}}`: the kind in the words of hs.message.
    kind_name: &'static str,
}

const HEALTH_CHECKS: [HealthCheck; 2] = [
    HealthCheck {
        kind: "MediaStreamPipeline",
        file: PIPELINE_LUA,
        remote_field: "pipelineStatus",
        kind_name: "media pipeline",
    },
    HealthCheck {
        kind: "MediaPipelineKinesisVideoStreamPool",
        file: POOL_LUA,
        remote_field: "poolStatus",
        kind_name: "Kinesis Video Stream pool",
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
/// spaces) replaced by `text`.
fn splice_block(yaml: &str, key: &str, text: &str) -> String {
    let head = format!("\n  {key}: |\n");
    let start = yaml
        .find(&head)
        .unwrap_or_else(|| panic!("{CM_PATCH}: no `{}`: add it by hand", head.trim()))
        + head.len();
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
    format!("{}{block}{}", &yaml[..start], &yaml[end..])
}

// ---------------------------------------------------------------------------
// kstatus: what Flux (and `kubectl`-less tools built on cli-utils) read.

// ---------------------------------------------------------------------------
// Samples.

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

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

fn remote(spec: &MediaStreamPipelineSpec, status: &str) -> RemotePipeline {
    RemotePipeline {
        id: "6d5caf81-8c83-487c-bf9a-a2fb52822d93".into(),
        arn: "arn:aws:chime:us-east-1:111122223333:media-pipeline/6d5caf81".into(),
        status: status.into(),
        created: Some(now()),
        updated: Some(now()),
        detail: StreamDetail {
            sources: spec.sources.clone(),
            sinks: spec.sinks.clone(),
        },
    }
}

/// The status the operator writes once AWS described the pipeline.
fn seen(status: &str, generation: i64) -> PipelineStatus {
    with_remote(
        Default::default(),
        &remote(&spec(), status),
        Some(generation),
        now(),
    )
}

/// The status the operator writes when the create failed.
fn create_failed(err: Error, generation: i64) -> PipelineStatus {
    with_error(Default::default(), &err, Some(generation), now())
}

/// The status after one reconcile of a resource at `generation` whose
/// pipeline had `before`, with this read of AWS.
fn reconciled(
    spec: &MediaStreamPipelineSpec,
    before: &PipelineStatus,
    remote: Read<RemotePipeline>,
    generation: i64,
) -> PipelineStatus {
    decide(
        Observation {
            seen: Seen {
                generation: Some(generation),
                status: Some(before),
                create_tags: &[],
                own_tags: &[],
                region: "us-east-1",
                remote: &remote,
                now: now(),
            },
            spec,
            sinks: &Ok(spec.sinks.clone()),
        },
        &Settings::default(),
    )
    .status
}

fn pipeline(generation: i64, status: Option<PipelineStatus>) -> Value {
    let mut obj = json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "MediaStreamPipeline",
        "metadata": {"name": "mixed-audio", "namespace": "meetings", "generation": generation},
        "spec": spec(),
    });
    if let Some(status) = status {
        obj["status"] = serde_json::to_value(status).unwrap();
    }
    obj
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

/// The status the operator writes when the pool's create failed.
fn pool_create_failed(err: Error, generation: i64) -> KinesisVideoStreamPoolStatus {
    with_error(Default::default(), &err, Some(generation), now())
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
            seen: Seen {
                generation: Some(generation),
                status: Some(before),
                create_tags: &[],
                own_tags: &[],
                remote: &remote,
                now: now(),
                region: "us-east-1",
            },
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

fn pipeline_cases() -> Vec<Case> {
    use KStatus::*;
    let spec = spec();
    let mut changed = spec.clone();
    changed.sinks[0].reserved_stream_capacity = 5;
    let streaming = seen("InProgress", 1);
    let starting = seen("Initializing", 1);
    vec![
        case(
            "streaming",
            pipeline(1, Some(streaming.clone())),
            "Healthy",
            "InProgress",
            Current,
        ),
        // kstatus reads an object without status as Current (rule 5): nothing
        // the operator can change; Flux normally polls after it wrote status.
        case(
            "no status yet",
            pipeline(1, None),
            "Progressing",
            "operator",
            Current,
        ),
        case(
            "spec change not yet observed",
            pipeline(2, Some(streaming.clone())),
            "Progressing",
            "generation 2",
            InProgress,
        ),
        case(
            "initializing",
            pipeline(1, Some(starting.clone())),
            "Progressing",
            "Initializing",
            InProgress,
        ),
        case(
            "stopping",
            pipeline(1, Some(seen("Stopping", 1))),
            "Progressing",
            "Stopping",
            InProgress,
        ),
        case(
            "create throttled",
            pipeline(
                1,
                Some(create_failed(Error::Throttled("rate exceeded".into()), 1)),
            ),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        case(
            "create: AWS unreachable",
            pipeline(
                1,
                Some(create_failed(Error::Network("connection reset".into()), 1)),
            ),
            "Progressing",
            "NetworkError",
            InProgress,
        ),
        case(
            "waiting for capacity",
            pipeline(
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
            pipeline(
                1,
                Some(reconciled(
                    &spec,
                    &starting,
                    Read::Failed(Error::Throttled("rate exceeded".into())),
                    1,
                )),
            ),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        // A failed refresh says nothing new about a streaming pipeline.
        case(
            "streaming, read throttled",
            pipeline(
                1,
                Some(reconciled(
                    &spec,
                    &streaming,
                    Read::Failed(Error::Throttled("rate exceeded".into())),
                    1,
                )),
            ),
            "Healthy",
            "InProgress",
            Current,
        ),
        case(
            "create refused: bad request",
            pipeline(
                1,
                Some(create_failed(
                    Error::BadRequest("meeting not accepted".into()),
                    1,
                )),
            ),
            "Degraded",
            "BadRequest",
            Failed,
        ),
        case(
            "create refused: forbidden",
            pipeline(
                1,
                Some(create_failed(Error::Forbidden("no chime:Create".into()), 1)),
            ),
            "Degraded",
            "Forbidden",
            Failed,
        ),
        case(
            "create refused: unauthorized",
            pipeline(
                1,
                Some(create_failed(Error::Unauthorized("bad key".into()), 1)),
            ),
            "Degraded",
            "Unauthorized",
            Failed,
        ),
        case(
            "create refused: meeting not found",
            pipeline(
                1,
                Some(create_failed(Error::NotFound("no such meeting".into()), 1)),
            ),
            "Degraded",
            "NotFound",
            Failed,
        ),
        case(
            "sinks edited",
            pipeline(
                2,
                Some(reconciled(
                    &changed,
                    &streaming,
                    Read::Found {
                        remote: remote(&spec, "InProgress"),
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
            pipeline(1, Some(seen("Failed", 1))),
            "Degraded",
            "Failed",
            Failed,
        ),
        // A meeting that ended is the normal end, not a failure.
        case(
            "finished: stopped with its meeting",
            pipeline(1, Some(seen("Stopped", 1))),
            "Healthy",
            "Finished. Stopped: The media pipeline stopped: its meeting ended, or its work is done.",
            Current,
        ),
        case(
            "finished, then removed by AWS",
            pipeline(
                2,
                Some(reconciled(&spec, &seen("Stopped", 1), Read::Gone, 2)),
            ),
            "Healthy",
            "Finished. Removed",
            Current,
        ),
        case(
            "gone from AWS without stopping",
            pipeline(1, Some(reconciled(&spec, &streaming, Read::Gone, 1))),
            "Degraded",
            "PipelineGone",
            Failed,
        ),
        // The generation was processed, though not applied: GitOps tools
        // must see the failure, not wait for the generation.
        case(
            "tag update refused",
            pipeline(
                2,
                Some(with_error(
                    reconciled(
                        &spec,
                        &streaming,
                        Read::Found {
                            remote: remote(&spec, "InProgress"),
                            tags: Some(vec![]),
                        },
                        2,
                    ),
                    &Error::Forbidden("no chime:TagResource".into()),
                    Some(2),
                    now(),
                )),
            ),
            "Degraded",
            "Forbidden",
            Failed,
        ),
    ]
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
                Some(pool_create_failed(
                    Error::Throttled("rate exceeded".into()),
                    1,
                )),
            ),
            "Progressing",
            "Throttled",
            InProgress,
        ),
        case(
            "create refused: forbidden",
            pool(
                1,
                Some(pool_create_failed(
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

/// Checks every case, and reports every mismatch at once.
fn check(file: &str, cases: &[Case]) {
    let mut wrong = vec![];
    for c in cases {
        let hs = argocd_health(file, &c.obj);
        if hs.status != c.argocd || !hs.message.contains(c.message_has) {
            wrong.push(format!(
                "{}: Argo CD health {} {:?}, want {} with a message containing {:?}",
                c.name, hs.status, hs.message, c.argocd, c.message_has
            ));
        }
        let ks = kstatus(&c.obj);
        if ks != c.kstatus {
            wrong.push(format!("{}: kstatus {ks:?}, want {:?}", c.name, c.kstatus));
        }
    }
    assert!(wrong.is_empty(), "{file}:\n  {}", wrong.join("\n  "));
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn pipeline_health_in_every_state() {
    check(PIPELINE_LUA, &pipeline_cases());
}

#[test]
fn pool_health_in_every_state() {
    check(POOL_LUA, &pool_cases());
}

/// The operator itself says, with Reconciling and Stalled, which states it
/// works through and which need a person: kstatus must not have to guess
/// from Ready=False (older kstatus releases read that as Current).
#[test]
fn statuses_carry_reconciling_and_stalled() {
    let mut wrong = vec![];
    for c in pipeline_cases().into_iter().chain(pool_cases()) {
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
                "{}: Reconciling={reconciling} Stalled={stalled}, want Reconciling={} Stalled={}",
                c.name, want.0, want.1
            ));
        }
        if c.argocd == "Healthy" && (reconciling || stalled) {
            wrong.push(format!(
                "{}: healthy, yet Reconciling or Stalled is True",
                c.name
            ));
        }
    }
    assert!(wrong.is_empty(), "\n  {}", wrong.join("\n  "));
}

#[test]
fn deleting_objects_read_terminating() {
    let pipeline = deleting(pipeline(1, Some(seen("InProgress", 1))));
    assert_eq!(kstatus(&pipeline), KStatus::Terminating);
    let pool = deleting(pool(1, Some(pool_seen("DELETING", 1))));
    assert_eq!(kstatus(&pool), KStatus::Terminating);
    // Argo CD reports any object with a deletionTimestamp as Progressing
    // ("Pending deletion") before it runs a custom check; the scripts need
    // only not fail on one.
    argocd_health(PIPELINE_LUA, &pipeline);
    argocd_health(POOL_LUA, &pool);
}

/// The .lua files and the Lua inline in argocd-cm-patch.yaml are the
/// template rendered for each kind; with CHIME_BLESS=1, stale ones are
/// rewritten.
#[test]
fn argocd_health_checks_are_rendered_from_the_template() {
    let bless = std::env::var(BLESS_ENV).is_ok_and(|v| v == "1");
    let mut stale = vec![];
    let mut rewrite = |file: &str, want: &str| {
        if read_script(file) == want {
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
