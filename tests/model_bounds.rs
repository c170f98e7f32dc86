//! The CRDs against the AWS service model: every integer, string and list
//! field of both kinds carries bounds, those of the model's type where the
//! field mirrors one (a model `integer` is 32-bit), so that the API server
//! refuses what the operator could not read or AWS would refuse. And every
//! error the model lists for an operation the operator calls is classified.
//!
//! The model's extract, tests/model/chime-sdk-media-pipelines-subset.json,
//! holds only the operations the operator calls and the shapes they reach.
//! It comes from botocore's data/chime-sdk-media-pipelines/2021-07-15/
//! service-2.json; to refresh it from a newer botocore, run
//! `CHIME_MODEL=/path/to/service-2.json CHIME_BLESS=1 cargo nextest run
//! --config-file tests/nextest.toml --test model_bounds` (without
//! CHIME_BLESS the test only says whether the extract is current).
//! tests/model/chime-sdk-meetings-subset.json is the same for the one
//! Chime SDK Meetings call, GetMeeting (from data/chime-sdk-meetings/
//! 2021-07-15/service-2.json, by hand: its input and errors).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chime_pipeline_operator::crd::{MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline};
use chime_pipeline_operator::error::Error;
use kube::CustomResourceExt;
use serde_json::{Value, json};

const PIPELINE: &str = "MediaStreamPipeline";
const POOL: &str = "MediaPipelineKinesisVideoStreamPool";
const INT32_MAX: f64 = 2_147_483_647.0;

/// The operations the operator calls.
const OPERATIONS: &[&str] = &[
    "CreateMediaStreamPipeline",
    "GetMediaPipeline",
    "DeleteMediaPipeline",
    "ListMediaPipelines",
    "CreateMediaPipelineKinesisVideoStreamPool",
    "GetMediaPipelineKinesisVideoStreamPool",
    "UpdateMediaPipelineKinesisVideoStreamPool",
    "DeleteMediaPipelineKinesisVideoStreamPool",
    "ListMediaPipelineKinesisVideoStreamPools",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
];

/// Where a field's bounds come from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The model's shape of that name.
    Model(&'static str),
    /// The model's list shape, but an empty list is allowed: the field is
    /// optional and an empty one is not sent.
    ModelOptionalList(&'static str),
    /// Ours (the field mirrors nothing in the model): why.
    Ours(&'static str),
}
use Source::*;

const TAGS: [(&str, Source); 3] = [
    ("spec.tags", ModelOptionalList("TagList")),
    ("spec.tags[].key", Model("TagKey")),
    ("spec.tags[].value", Model("TagValue")),
];

/// What every field of both kinds mirrors; a field missing here fails the
/// test, so that no new field goes unbounded.
fn fields(kind: &str) -> BTreeMap<&'static str, Source> {
    let conditions = [
        ("status.conditions", Ours("at most 16 conditions")),
        ("status.conditions[].type", Ours("metav1.Condition")),
        ("status.conditions[].status", Ours("metav1.Condition")),
        ("status.conditions[].reason", Ours("metav1.Condition")),
        ("status.conditions[].message", Ours("metav1.Condition")),
        ("status.conditions[].lastTransitionTime", Ours("date-time")),
        ("status.conditions[].observedGeneration", Ours("int64")),
        (
            "status.observedGeneration",
            Ours("int64, metadata.generation"),
        ),
        (
            "status.lastHandledReconcileAt",
            Ours("an annotation's value"),
        ),
        ("spec.deletionPolicy", Ours("Delete or Retain")),
        ("spec.region", Model("AwsRegion")),
        ("status.region", Model("AwsRegion")),
        ("status.createdTimestamp", Model("Iso8601Timestamp")),
        ("status.updatedTimestamp", Model("Iso8601Timestamp")),
    ];
    let own: Vec<(&str, Source)> = match kind {
        PIPELINE => vec![
            ("spec.sources", Model("MediaStreamSourceList")),
            (
                "spec.sources[].sourceType",
                Model("MediaPipelineSourceType"),
            ),
            ("spec.sources[].sourceArn", Model("Arn")),
            ("spec.sinks", Model("MediaStreamSinkList")),
            ("spec.sinks[].sinkArn", Model("Arn")),
            (
                "spec.sinks[].sinkType",
                Model("MediaStreamPipelineSinkType"),
            ),
            (
                "spec.sinks[].reservedStreamCapacity",
                Model("ReservedStreamCapacity"),
            ),
            ("spec.sinks[].mediaStreamType", Model("MediaStreamType")),
            (
                "spec.sinks[].poolRef.name",
                Ours("a Kubernetes object name"),
            ),
            ("spec.ttlSecondsAfterFinished", Ours("seconds, 32-bit")),
            ("spec.adoptMediaPipelineId", Model("GuidString")),
            ("status.mediaPipelineId", Model("GuidString")),
            ("status.mediaPipelineArn", Model("AmazonResourceName")),
            ("status.pipelineStatus", Model("MediaPipelineStatus")),
            ("status.requestDigest", Ours("SHA-256, hex")),
            ("status.finishedAt", Ours("RFC 3339")),
        ],
        _ => vec![
            ("spec.poolName", Model("KinesisVideoStreamPoolName")),
            ("spec.streamConfiguration.region", Model("AwsRegion")),
            (
                "spec.streamConfiguration.dataRetentionInHours",
                Model("DataRetentionInHours"),
            ),
            ("status.poolArn", Model("Arn")),
            ("status.poolId", Model("KinesisVideoStreamPoolId")),
            ("status.poolName", Model("KinesisVideoStreamPoolName")),
            ("status.poolStatus", Model("KinesisVideoStreamPoolStatus")),
            ("status.poolSize", Model("KinesisVideoStreamPoolSize")),
            ("status.dataRetentionInHours", Model("DataRetentionInHours")),
        ],
    };
    conditions.into_iter().chain(TAGS).chain(own).collect()
}

fn extract_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/model/chime-sdk-media-pipelines-subset.json")
}

fn model() -> Value {
    read_model(&extract_path())
}

fn read_model(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the model extract");
    serde_json::from_str(&text).expect("the model extract is JSON")
}

/// Every string, integer and list node under spec and status, by path
/// (`[]` for a list's items), with its schema.
fn leaves(crd: &Value) -> BTreeMap<String, Value> {
    fn walk(path: &str, schema: &Value, out: &mut BTreeMap<String, Value>) {
        match schema["type"].as_str() {
            Some("object") => {
                for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
                    walk(&format!("{path}.{name}"), sub, out);
                }
            }
            Some("array") => {
                out.insert(path.to_string(), schema.clone());
                walk(&format!("{path}[]"), &schema["items"], out);
            }
            _ => {
                out.insert(path.to_string(), schema.clone());
            }
        }
    }
    let root = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"];
    let mut out = BTreeMap::new();
    walk("spec", &root["spec"], &mut out);
    walk("status", &root["status"], &mut out);
    out
}

/// A pattern without its anchors: the model anchors some and not others.
fn unanchored(p: &str) -> &str {
    p.trim_start_matches('^').trim_end_matches('$')
}

/// What is wrong with one field's bounds against its source; empty if
/// nothing.
fn judge(path: &str, crd: &Value, source: Source, shapes: &Value) -> Vec<String> {
    let mut wrong = vec![];
    let num = |v: &Value, k: &str| v[k].as_f64();
    let ty = crd["type"].as_str().unwrap_or("?");
    // Bounded at all.
    let bounded = match ty {
        "string" => {
            crd.get("maxLength").is_some()
                || crd.get("enum").is_some()
                || crd["format"] == "date-time"
        }
        "integer" => crd.get("maximum").is_some() || crd["format"] == "int64",
        "array" => crd.get("maxItems").is_some(),
        _ => true,
    };
    if !bounded {
        let from = match source {
            Ours(why) => why,
            Model(name) | ModelOptionalList(name) => name,
        };
        wrong.push(format!("{path}: {ty} without an upper bound ({from})"));
    }
    let (name, optional_list) = match source {
        Ours(_) => return wrong,
        Model(name) => (name, false),
        ModelOptionalList(name) => (name, true),
    };
    let shape = &shapes[name];
    let status = path.contains(".status.");
    let mut expect = |what: &str, crd_v: Option<f64>, model_v: Option<f64>| {
        if crd_v != model_v {
            wrong.push(format!(
                "{path}: {what} is {crd_v:?}, the model's {name} says {model_v:?}"
            ));
        }
    };
    match shape["type"].as_str() {
        Some("string") if shape.get("enum").is_some() => {
            let members: BTreeSet<&str> = shape["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if status {
                // AWS may add states: a status keeps any, up to a length.
                let longest = members.iter().map(|m| m.len()).max().unwrap_or(0) as f64;
                if num(crd, "maxLength").is_none_or(|m| m < longest) {
                    wrong.push(format!("{path}: maxLength below {name}'s longest member"));
                }
            } else {
                let ours: BTreeSet<&str> = crd["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if ours != members {
                    wrong.push(format!(
                        "{path}: enum {ours:?}, the model's {name} has {members:?}"
                    ));
                }
            }
        }
        Some("string") => {
            expect("maxLength", num(crd, "maxLength"), num(shape, "max"));
            if !status {
                let model_min = num(shape, "min").filter(|m| *m > 0.0);
                expect("minLength", num(crd, "minLength"), model_min);
                let (ours, theirs) = (crd["pattern"].as_str(), shape["pattern"].as_str());
                if theirs.map(unanchored) != ours.map(unanchored) {
                    wrong.push(format!(
                        "{path}: pattern {ours:?}, the model's {name} says {theirs:?}"
                    ));
                }
            }
        }
        Some("integer") => {
            expect("minimum", num(crd, "minimum"), num(shape, "min"));
            expect(
                "maximum",
                num(crd, "maximum"),
                num(shape, "max").or(Some(INT32_MAX)),
            );
        }
        Some("list") => {
            let model_min = if optional_list {
                None
            } else {
                num(shape, "min")
            };
            expect("minItems", num(crd, "minItems"), model_min);
            // Ours may be smaller: the operator keeps some tags, and long
            // lists make CEL rules costly.
            match (num(crd, "maxItems"), num(shape, "max")) {
                (Some(ours), Some(theirs)) if ours > theirs => wrong.push(format!(
                    "{path}: maxItems {ours} above the model's {theirs}"
                )),
                (None, _) => wrong.push(format!("{path}: a list without maxItems")),
                _ => {}
            }
        }
        Some("timestamp") => {}
        other => wrong.push(format!(
            "{path}: the model's {name} is a {other:?}, not mirrored"
        )),
    }
    wrong
}

#[test]
fn every_field_carries_the_bounds_of_its_model_type() {
    let model = model();
    let shapes = &model["shapes"];
    let mut wrong = vec![];
    let mut checked = 0;
    for crd in [
        serde_json::to_value(MediaStreamPipeline::crd()).unwrap(),
        serde_json::to_value(MediaPipelineKinesisVideoStreamPool::crd()).unwrap(),
    ] {
        let kind = crd["spec"]["names"]["kind"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let table = fields(&kind);
        let found = leaves(&crd);
        for (path, schema) in &found {
            match table.get(path.as_str()) {
                Some(source) => {
                    wrong.extend(judge(&format!("{kind}.{path}"), schema, *source, shapes))
                }
                None => wrong.push(format!("{kind}.{path}: not in the table of this test")),
            }
            checked += 1;
        }
        for path in table.keys().filter(|p| !found.contains_key(**p)) {
            wrong.push(format!("{kind}.{path}: in the table, not in the CRD"));
        }
    }
    println!(
        "model bounds: {checked} fields checked, {} wrong",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "bounds missing or off the model:\n{}",
        wrong.join("\n")
    );
}

/// Every error the model lists for an operation the operator calls maps to
/// a reason of its own, by what it means for that operation.
#[test]
fn every_error_of_every_operation_is_classified() {
    let meetings = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/model/chime-sdk-meetings-subset.json");
    let services: [(Value, &[&str]); 2] = [
        (model(), OPERATIONS),
        (read_model(&meetings), &["GetMeeting"]),
    ];
    let mut table = vec![];
    for (model, op) in services
        .iter()
        .flat_map(|(model, ops)| ops.iter().map(move |op| (model, op)))
    {
        let errors = model["operations"][op]["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!errors.is_empty(), "{op}: not in the model extract");
        for e in errors {
            let code = e["shape"].as_str().unwrap_or_default();
            let err = Error::from_aws(op, Some(code), "m".into());
            let expected = match code {
                "ConflictException" if *op == "CreateMediaPipelineKinesisVideoStreamPool" => {
                    "NameInUse"
                }
                "ConflictException" => "Conflict",
                "ThrottledClientException" | "ThrottlingException" => "Throttled",
                "ServiceUnavailableException" => "ServiceUnavailable",
                "ServiceFailureException" => "ServiceFailure",
                "ResourceLimitExceededException" => "ResourceLimitExceeded",
                "BadRequestException" => "BadRequest",
                "ForbiddenException" => "Forbidden",
                "UnauthorizedClientException" | "UnauthorizedException" => "Unauthorized",
                "NotFoundException" => "NotFound",
                other => panic!("{op}: {other} is new in the model: classify it in src/error.rs"),
            };
            assert_eq!(err.reason(), expected, "{op} {code}");
            table.push(format!("{op} {code} -> {} {:?}", err.reason(), err.retry()));
        }
    }
    println!(
        "{} (operation, error) pairs classified:\n{}",
        table.len(),
        table.join("\n")
    );
}

/// The extract against a full model given in CHIME_MODEL: current, or
/// rewritten with CHIME_BLESS=1.
#[test]
fn the_model_extract_is_current() {
    let Some(full) = std::env::var_os("CHIME_MODEL") else {
        println!(
            "model extract: not compared (set CHIME_MODEL to a service-2.json; see the file's header)"
        );
        return;
    };
    let full: Value = serde_json::from_str(&std::fs::read_to_string(full).unwrap()).unwrap();
    let fresh = extract(&full);
    let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
    if std::env::var_os("CHIME_BLESS").is_some() {
        std::fs::write(extract_path(), &text).unwrap();
        return;
    }
    assert!(
        std::fs::read_to_string(extract_path()).unwrap_or_default() == text,
        "the model extract is stale: rerun with CHIME_BLESS=1"
    );
}

/// The operations the operator calls (their errors and input), the shapes
/// the CRDs mirror, and the shapes those reach; without documentation.
fn extract(full: &Value) -> Value {
    let mut operations = serde_json::Map::new();
    let mut todo: Vec<String> = vec![];
    for op in OPERATIONS {
        let o = &full["operations"][op];
        let errors: Vec<Value> = o["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| json!({"shape": e["shape"]}))
            .collect();
        operations.insert(
            op.to_string(),
            json!({"input": o["input"], "errors": errors}),
        );
    }
    // What the specs mirror: the create requests, and each field's shape.
    todo.extend(
        [
            "CreateMediaStreamPipelineRequest",
            "CreateMediaPipelineKinesisVideoStreamPoolRequest",
        ]
        .map(String::from),
    );
    for kind in [PIPELINE, POOL] {
        for source in fields(kind).into_values() {
            if let Model(name) | ModelOptionalList(name) = source {
                todo.push(name.to_string());
            }
        }
    }
    let mut shapes = BTreeMap::new();
    while let Some(name) = todo.pop() {
        if shapes.contains_key(&name) {
            continue;
        }
        let mut shape = full["shapes"][&name].clone();
        strip_docs(&mut shape);
        let members = shape["members"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, m)| &m["shape"]);
        let refs = members.chain([&shape["member"]["shape"]]);
        todo.extend(refs.filter_map(Value::as_str).map(str::to_string));
        shapes.insert(name, shape);
    }
    json!({
        "_source": "botocore data/chime-sdk-media-pipelines/2021-07-15/service-2.json, reduced by tests/model_bounds.rs (extract): the operations the operator calls (input, errors), the shapes the CRDs mirror and those they reach, documentation removed; refresh as that file's header says",
        "metadata": {"apiVersion": full["metadata"]["apiVersion"], "serviceId": full["metadata"]["serviceId"]},
        "operations": operations,
        "shapes": shapes,
    })
}

fn strip_docs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("documentation");
            map.values_mut().for_each(strip_docs);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_docs),
        _ => {}
    }
}
