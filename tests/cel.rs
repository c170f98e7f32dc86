//! The CEL rules of the CRDs (`x-kubernetes-validations`), evaluated the
//! way the API server evaluates them. The test API server (kube-apiserver
//! 1.20) ignores these rules, so nothing else checks that they refuse what
//! they should and let through the rest.
//!
//! - [`cases_hold_for_the_table_rules`]: a table of creates and updates
//!   (old object, new object, allowed or not) runs against every rule of
//!   [`RULES`], each at its location; every rule must refuse some case and
//!   allow another.
//! - [`crd_rules_are_the_table_rules`]: the generated CRDs carry exactly the
//!   rules of [`RULES`], at the same locations, so that the cases above hold
//!   for every rule the API server will evaluate.
//! - [`rules_read_only_bounded_fields`]: a modern API server estimates each
//!   rule's cost from the largest lists and strings its schema allows and
//!   refuses the whole CRD when a rule is too expensive; every field a rule
//!   can read must therefore be bounded.
//!
//! cel-interpreter takes `self` as an ordinary variable name, so the rules
//! are compiled exactly as the CRD spells them, with no renaming.

use std::collections::{BTreeMap, BTreeSet};

use cel_interpreter::{Context, Program, Value as Cel, to_value};
use cel_parser::ast::{EntryExpr, Expr, IdedExpr};
use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline,
};
use kube::CustomResourceExt;
use serde_json::{Value, json};

const PIPELINE: &str = "MediaStreamPipeline";
const POOL: &str = "MediaPipelineKinesisVideoStreamPool";
const CAPTURE: &str = "MediaCapturePipeline";
const CONCAT: &str = "MediaConcatenationPipeline";
const API_VERSION: &str = "media.chimeoperator.dev/v1alpha1";
/// The location of a rule on the schema's root.
const ROOT: &str = "openAPIV3Schema";

/// Every kind's tags: the operator's own keys are refused.
const TAG_RULE: &str = "self.all(t, !t.key.startsWith('chimeoperator.dev/'))";
/// A capture pipeline's sink and a concatenation pipeline's destination:
/// an S3 bucket's ARN, in any partition, optionally with a key prefix.
const S3_RULE: &str = "self.matches('^arn:[a-z-]+:s3:::.+$')";

/// Every rule the CRDs should carry: kind, location, rule text.
const RULES: &[(&str, &str, &str)] = &[
    (PIPELINE, "spec.adoptMediaPipelineId", "self == oldSelf"),
    (
        PIPELINE,
        ROOT,
        "!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sources == oldSelf.spec.sources && self.spec.sinks == oldSelf.spec.sinks) || (has(oldSelf.status.conditions) && oldSelf.status.conditions.exists(c, c.type == 'Synced' && c.reason == 'ImmutableFieldChanged'))",
    ),
    (
        PIPELINE,
        ROOT,
        "has(self.spec.adoptMediaPipelineId) == has(oldSelf.spec.adoptMediaPipelineId)",
    ),
    (PIPELINE, "spec.tags", TAG_RULE),
    (POOL, "spec.poolName", "self == oldSelf"),
    (POOL, "spec.tags", TAG_RULE),
    (POOL, "spec.streamConfiguration.region", "self == oldSelf"),
    (
        CAPTURE,
        ROOT,
        "!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sourceArn == oldSelf.spec.sourceArn && self.spec.sinkArn == oldSelf.spec.sinkArn)",
    ),
    (CAPTURE, "spec.sinkArn", S3_RULE),
    (CAPTURE, "spec.tags", TAG_RULE),
    (
        CONCAT,
        ROOT,
        "!has(oldSelf.status) || (!has(oldSelf.status.mediaPipelineId) && !has(oldSelf.status.requestDigest)) || (self.spec.sources == oldSelf.spec.sources && self.spec.sinks == oldSelf.spec.sinks)",
    ),
    (
        CONCAT,
        "spec.sinks[*].s3BucketSinkConfiguration.destination",
        S3_RULE,
    ),
    (CONCAT, "spec.tags", TAG_RULE),
];

// ----- the harness -----------------------------------------------------------

/// One step from a schema node (or a value) down to a child.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(String),
    /// Any element of a list (`items`).
    Item,
    /// Any value of a map (`additionalProperties`).
    Entry,
}

/// `spec.sinks[*].poolRef.name`, `metadata.labels{*}`; [`ROOT`] for none.
fn location(steps: &[Step]) -> String {
    if steps.is_empty() {
        return ROOT.to_owned();
    }
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Step::Item => out.push_str("[*]"),
            Step::Entry => out.push_str("{*}"),
        }
    }
    out
}

/// The inverse of [`location`], for the table.
fn steps_of(location: &str) -> Vec<Step> {
    if location == ROOT {
        return vec![];
    }
    let mut steps = vec![];
    for part in location.split('.') {
        let mut name = part;
        let mut tail = vec![];
        loop {
            if let Some(rest) = name.strip_suffix("[*]") {
                tail.push(Step::Item);
                name = rest;
            } else if let Some(rest) = name.strip_suffix("{*}") {
                tail.push(Step::Entry);
                name = rest;
            } else {
                break;
            }
        }
        steps.push(Step::Field(name.to_owned()));
        steps.extend(tail.into_iter().rev());
    }
    steps
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    kind: &'static str,
    /// From the schema's root to the node the rule sits on.
    steps: Vec<Step>,
    text: String,
    message: String,
}

impl Rule {
    fn location(&self) -> String {
        location(&self.steps)
    }

    fn describe(&self) -> String {
        format!("{} rule `{}` at {}", self.kind, self.text, self.location())
    }
}

/// The structural schema (`openAPIV3Schema`) of each kind, as the operator
/// generates it.
fn schemas() -> BTreeMap<&'static str, Value> {
    let crds = [
        (PIPELINE, serde_json::to_value(MediaStreamPipeline::crd())),
        (
            POOL,
            serde_json::to_value(MediaPipelineKinesisVideoStreamPool::crd()),
        ),
        (CAPTURE, serde_json::to_value(MediaCapturePipeline::crd())),
        (
            CONCAT,
            serde_json::to_value(MediaConcatenationPipeline::crd()),
        ),
    ];
    crds.into_iter()
        .map(|(kind, crd)| {
            let crd = crd.expect("a CRD serializes");
            let versions = crd["spec"]["versions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // The cases name one apiVersion; a second version would need its own.
            assert_eq!(versions.len(), 1, "{kind}: tests/cel.rs knows one version");
            (kind, versions[0]["schema"]["openAPIV3Schema"].clone())
        })
        .collect()
}

/// The children a structural schema node can have, with the step to each.
/// Structural schemas declare fields only there: `allOf`, `anyOf`, `oneOf`
/// and `not` may only repeat them, and may carry no rules.
fn children(node: &Value) -> Vec<(Step, &Value)> {
    let mut out: Vec<(Step, &Value)> = node["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, child)| (Step::Field(name.clone()), child))
        .collect();
    if node["items"].is_object() {
        out.push((Step::Item, &node["items"]));
    }
    if node["additionalProperties"].is_object() {
        out.push((Step::Entry, &node["additionalProperties"]));
    }
    out
}

fn child<'a>(node: &'a Value, step: &Step) -> Option<&'a Value> {
    let found = match step {
        Step::Field(name) => &node["properties"][name],
        Step::Item => &node["items"],
        Step::Entry => &node["additionalProperties"],
    };
    found.is_object().then_some(found)
}

fn collect_rules(kind: &'static str, node: &Value, steps: &mut Vec<Step>, out: &mut Vec<Rule>) {
    for rule in node["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default().to_owned();
        // The API server then evaluates the rule without an old value too,
        // with oldSelf an optional: not what this harness does.
        assert!(
            rule.get("optionalOldSelf").is_none(),
            "{kind} rule `{text}` at {}: optionalOldSelf is not supported by tests/cel.rs",
            location(steps)
        );
        out.push(Rule {
            kind,
            steps: steps.clone(),
            text,
            message: rule["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    for (step, child) in children(node) {
        steps.push(step);
        collect_rules(kind, child, steps, out);
        steps.pop();
    }
}

/// How many `x-kubernetes-validations` lists `value` holds, wherever they are.
fn count_rule_lists(value: &Value) -> usize {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| usize::from(k == "x-kubernetes-validations") + count_rule_lists(v))
            .sum(),
        Value::Array(items) => items.iter().map(count_rule_lists).sum(),
        _ => 0,
    }
}

/// Every rule of every CRD, with its location.
fn crd_rules(schemas: &BTreeMap<&'static str, Value>) -> Vec<Rule> {
    let mut rules = vec![];
    for (kind, schema) in schemas {
        let before = rules.len();
        collect_rules(kind, schema, &mut vec![], &mut rules);
        let mut lists: BTreeSet<Vec<Step>> = BTreeSet::new();
        lists.extend(rules[before..].iter().map(|r| r.steps.clone()));
        // A rule list where collect_rules does not look would go untested.
        assert_eq!(
            lists.len(),
            count_rule_lists(schema),
            "{kind}: some x-kubernetes-validations sit outside properties, items and additionalProperties"
        );
    }
    rules
}

fn table_rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|(kind, location, text)| Rule {
            kind,
            steps: steps_of(location),
            text: (*text).to_owned(),
            message: String::new(),
        })
        .collect()
}

/// A field set to null counts as absent, as for `has()`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

/// The values a rule at `steps` applies to in `new`, each with its
/// counterpart in `old` where the API server has one: the same field, the
/// same map key, or the element with the same keys of a list of
/// `x-kubernetes-list-type: map`; elements of other lists have none.
/// `schema` is the node the steps start from, where known.
fn values_at<'a>(
    schema: Option<&Value>,
    steps: &[Step],
    new: &'a Value,
    old: Option<&'a Value>,
) -> Vec<(&'a Value, Option<&'a Value>)> {
    let Some((step, rest)) = steps.split_first() else {
        return vec![(new, old)];
    };
    let below = schema.and_then(|s| child(s, step));
    match step {
        Step::Field(name) => present(new.get(name))
            .map(|value| {
                let before = old.and_then(|o| present(o.get(name)));
                values_at(below, rest, value, before)
            })
            .unwrap_or_default(),
        Step::Entry => new
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(key, value)| {
                let before = old.and_then(|o| present(o.get(key)));
                values_at(below, rest, value, before)
            })
            .collect(),
        Step::Item => {
            let keys: Option<Vec<&str>> = schema
                .filter(|s| s["x-kubernetes-list-type"] == "map")
                .map(|s| {
                    let keys = s["x-kubernetes-list-map-keys"].as_array();
                    keys.into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect()
                });
            let before = old.and_then(Value::as_array);
            new.as_array()
                .into_iter()
                .flatten()
                .flat_map(|item| {
                    let counterpart = keys.as_ref().and_then(|keys| {
                        before?
                            .iter()
                            .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
                    });
                    values_at(below, rest, item, counterpart)
                })
                .collect()
        }
    }
}

fn cel(value: &Value) -> Cel {
    to_value(value).expect("JSON converts to a CEL value")
}

/// What `rule` says of a create (`old` None) or an update: `None` when the
/// API server would not evaluate it (nothing at its location, or a
/// transition rule, one that reads oldSelf, without an old value there),
/// else whether every value at its location passes.
///
/// cel-interpreter compares lists in order, as the API server compares
/// atomic lists (sources and sinks are); the API server compares lists of
/// `x-kubernetes-list-type` set or map regardless of order, which a rule
/// comparing such a list would need handled here.
fn verdict(
    rule: &Rule,
    schemas: &BTreeMap<&'static str, Value>,
    old: Option<&Value>,
    new: &Value,
) -> Option<bool> {
    let program = Program::compile(&rule.text)
        .unwrap_or_else(|e| panic!("{}: does not compile: {e}", rule.describe()));
    let transition = program.references().has_variable("oldSelf");
    let schema = schemas.get(rule.kind);
    let mut outcome = None;
    for (value, before) in values_at(schema, &rule.steps, new, old) {
        let mut context = Context::default();
        context.add_variable_from_value("self", cel(value));
        if transition {
            let Some(before) = before else { continue };
            context.add_variable_from_value("oldSelf", cel(before));
        }
        match program.execute(&context) {
            Ok(Cel::Bool(passes)) => outcome = Some(outcome.unwrap_or(true) && passes),
            // The API server refuses the request then too, but a rule that
            // errors on a well-formed object is a bug of the rule.
            other => panic!(
                "{} gave {other:?} for self = {value}: a rule must give true or false",
                rule.describe()
            ),
        }
    }
    outcome
}

// ----- the cases -------------------------------------------------------------

struct Case {
    kind: &'static str,
    what: String,
    /// `None` for a create.
    old: Option<Value>,
    new: Value,
    allowed: bool,
}

fn resource(kind: &str, spec: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": "r", "namespace": "default", "uid": "6f1c2d3e-0000-4000-8000-000000000001", "generation": 1},
        "spec": spec,
    })
}

fn with(mut object: Value, field: &str, value: Value) -> Value {
    object[field] = value;
    object
}

fn with_spec(mut object: Value, field: &str, value: Value) -> Value {
    object["spec"][field] = value;
    object
}

fn meeting_arn(meeting: &str) -> String {
    format!("arn:aws:chime:us-east-1:111122223333:meeting/{meeting}")
}

fn source(meeting: &str) -> Value {
    json!([{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(meeting)}])
}

fn sink(pool: &str) -> Value {
    json!([{"sinkType": "KinesisVideoStreamPool",
            "sinkArn": format!("arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/{pool}"),
            "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}])
}

fn tags() -> Value {
    json!([{"key": "team", "value": "media"}])
}

const ADOPTED: &str = "0b7c8a4e-1d2f-4c3b-9a8e-7f6d5c4b3a21";
const OTHER_ID: &str = "1c8d9b5f-2e3a-4d4c-8b9f-8a7e6d5c4b32";

/// Every create refused outright: conditions, and nothing that says a
/// create may have reached AWS.
fn refused_status() -> Value {
    json!({"observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "False", "reason": "BadRequest",
        "message": "Sources[0].SourceArn is not valid", "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 1}]})
}

/// A create that may have reached AWS (its outcome unknown).
fn digest_status() -> Value {
    json!({"requestDigest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"})
}

/// A pipeline AWS created.
fn created_status() -> Value {
    json!({"mediaPipelineId": OTHER_ID, "pipelineStatus": "InProgress", "region": "us-east-1"})
}

/// Updates of spec `field` to `changed` from each status a media pipeline
/// passes through: while no create may have reached AWS (no status, or only
/// refused creates) and once one may have (requestDigest) or did
/// (mediaPipelineId). A field `fixed` once a create may have reached AWS is
/// refused from then on; any other is allowed throughout.
fn across_statuses(
    kind: &'static str,
    base: &Value,
    field: &str,
    changed: &Value,
    fixed: bool,
) -> Vec<Case> {
    let statuses = [
        ("no status", None, false),
        (
            "status with conditions only (a refused create)",
            Some(refused_status()),
            false,
        ),
        ("status.requestDigest set", Some(digest_status()), true),
        ("status.mediaPipelineId set", Some(created_status()), true),
    ];
    statuses
        .into_iter()
        .map(|(what, status, sent)| {
            let old = match status {
                Some(status) => with(base.clone(), "status", status),
                None => base.clone(),
            };
            Case {
                kind,
                what: format!("{what}: {field} changes to {changed}"),
                new: with_spec(old.clone(), field, changed.clone()),
                old: Some(old),
                allowed: !(fixed && sent),
            }
        })
        .collect()
}

/// Creates with user tags (allowed) and with a key of the operator's own
/// (refused).
fn tag_cases(kind: &'static str, base: &Value) -> Vec<Case> {
    let reserved = json!([{"key": "chimeoperator.dev/uid", "value": "x"}]);
    [
        ("a create with user tags", tags(), true),
        ("a create with an operator tag key", reserved, false),
    ]
    .into_iter()
    .map(|(what, tags, allowed)| Case {
        kind,
        what: what.to_owned(),
        old: None,
        new: with_spec(base.clone(), "tags", tags),
        allowed,
    })
    .collect()
}

/// S3 ARNs as a capture pipeline's sinkArn or a concatenation pipeline's
/// destination, each with whether it is one of a bucket.
const S3_ARNS: &[(&str, bool)] = &[
    ("arn:aws:s3:::recordings", true),
    ("arn:aws:s3:::recordings/meetings/2026", true),
    ("arn:aws-cn:s3:::recordings", true),
    ("arn:aws-us-gov:s3:::recordings/joined", true),
    // A bucket's ARN names no region or account.
    (
        "arn:aws:s3:us-east-1:111122223333:accesspoint/recordings",
        false,
    ),
    ("arn:aws:s3:::", false),
    (
        "arn:aws:kinesisvideo:us-east-1:111122223333:stream/recordings/1700000000000",
        false,
    ),
    (
        "arn:aws:chime:us-east-1:111122223333:meeting/6f1c2d3e-0000-4000-8000-000000000002",
        false,
    ),
];

/// Creates with each of [`S3_ARNS`], put in place by `set`.
fn s3_cases(kind: &'static str, field: &str, set: impl Fn(&str) -> Value) -> Vec<Case> {
    let cases = S3_ARNS.iter().map(|(arn, bucket)| Case {
        kind,
        what: format!("a create with {field} {arn}"),
        old: None,
        new: set(arn),
        allowed: *bucket,
    });
    cases.collect()
}

/// A capture pipeline of meeting `meeting` recorded to `sink_arn`.
fn capture(meeting: &str, sink_arn: &str) -> Value {
    resource(
        CAPTURE,
        json!({"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(meeting),
               "sinkType": "S3Bucket", "sinkArn": sink_arn}),
    )
}

/// A concatenation pipeline's sources: the capture pipeline named by `by`
/// (mediaPipelineArn or captureRef) `named`, audio and video joined.
fn concat_sources(by: &str, named: Value) -> Value {
    let state = |on: bool| json!({"state": if on { "Enabled" } else { "Disabled" }});
    let mut config = json!({"chimeSdkMeetingConfiguration": {"artifactsConfiguration": {
        "audio": state(true), "video": state(true), "content": state(false),
        "dataChannel": state(false), "transcriptionMessages": state(false),
        "meetingEvents": state(false), "compositedVideo": state(false)}}});
    config[by] = named;
    json!([{"type": "MediaCapturePipeline", "mediaCapturePipelineSourceConfiguration": config}])
}

fn concat_sinks(destination: &str) -> Value {
    json!([{"type": "S3Bucket", "s3BucketSinkConfiguration": {"destination": destination}}])
}

fn concatenation(sources: Value, destination: &str) -> Value {
    resource(
        CONCAT,
        json!({"sources": sources, "sinks": concat_sinks(destination)}),
    )
}

/// MediaCapturePipeline: sourceArn and sinkArn fixed once a create may have
/// reached AWS, the sink an S3 bucket, tags.
fn capture_cases() -> Vec<Case> {
    let base = capture("m1", "arn:aws:s3:::recordings");
    let mut cases = vec![Case {
        kind: CAPTURE,
        what: "a create".to_owned(),
        old: None,
        new: base.clone(),
        allowed: true,
    }];
    cases.extend(tag_cases(CAPTURE, &base));
    cases.extend(s3_cases(CAPTURE, "sinkArn", |arn| capture("m1", arn)));
    let fixed = [
        ("sourceArn", json!(meeting_arn("m2"))),
        ("sinkArn", json!("arn:aws:s3:::recordings/other")),
    ];
    // The rules fix only the ARNs; the operator refuses any other change
    // of what the create sent (status.requestDigest: ImmutableFieldChanged).
    let free = [
        ("tags", tags()),
        (
            "sinkIamRoleArn",
            json!("arn:aws:iam::111122223333:role/recorder"),
        ),
        (
            "chimeSdkMeetingConfiguration",
            json!({"artifactsConfiguration": {"audio": {"muxType": "AudioOnly"},
                "video": {"state": "Disabled"}, "content": {"state": "Disabled"}}}),
        ),
    ];
    for (fields, is_fixed) in [(&fixed[..], true), (&free[..], false)] {
        for (field, changed) in fields {
            cases.extend(across_statuses(CAPTURE, &base, field, changed, is_fixed));
        }
    }
    // The rule on sinkArn holds on updates too.
    cases.push(Case {
        kind: CAPTURE,
        what: "no status: sinkArn changes to a Kinesis video stream".to_owned(),
        old: Some(base.clone()),
        new: capture(
            "m1",
            "arn:aws:kinesisvideo:us-east-1:111122223333:stream/recordings/1700000000000",
        ),
        allowed: false,
    });
    cases
}

/// MediaConcatenationPipeline: sources and sinks fixed once a create may
/// have reached AWS, the destination an S3 bucket, tags.
fn concatenation_cases() -> Vec<Case> {
    let capture_arn = format!("arn:aws:chime:us-east-1:111122223333:media-pipeline/{OTHER_ID}");
    let by_ref = concat_sources("captureRef", json!({"name": "c1"}));
    let base = concatenation(by_ref.clone(), "arn:aws:s3:::recordings/joined");
    let by_arn = concatenation(
        concat_sources("mediaPipelineArn", json!(capture_arn)),
        "arn:aws:s3:::recordings/joined",
    );
    let creates = [
        ("a create naming a MediaCapturePipeline", base.clone()),
        ("a create naming a capture pipeline by ARN", by_arn),
    ];
    let mut cases: Vec<Case> = creates
        .into_iter()
        .map(|(what, new)| Case {
            kind: CONCAT,
            what: what.to_owned(),
            old: None,
            new,
            allowed: true,
        })
        .collect();
    cases.extend(tag_cases(CONCAT, &base));
    cases.extend(s3_cases(CONCAT, "destination", |arn| {
        concatenation(by_ref.clone(), arn)
    }));
    let changes = [
        (
            "sources",
            concat_sources("captureRef", json!({"name": "c2"})),
            true,
        ),
        (
            "sources",
            concat_sources("mediaPipelineArn", json!(capture_arn)),
            true,
        ),
        ("sinks", concat_sinks("arn:aws:s3:::recordings/other"), true),
        ("tags", tags(), false),
    ];
    for (field, changed, fixed) in &changes {
        cases.extend(across_statuses(CONCAT, &base, field, changed, *fixed));
    }
    cases
}

fn cases() -> Vec<Case> {
    let pipeline = resource(
        PIPELINE,
        json!({"sources": source("m1"), "sinks": sink("p")}),
    );
    let refused = with(pipeline.clone(), "status", refused_status());
    let digest = with(pipeline.clone(), "status", digest_status());
    let created = with(pipeline.clone(), "status", created_status());
    let adopted = with_spec(pipeline.clone(), "adoptMediaPipelineId", json!(ADOPTED));
    // A pipeline that differs from its spec (found by its tags after the
    // spec was edited in a crash window): the spec may be restored.
    let differs = with(
        pipeline.clone(),
        "status",
        json!({"mediaPipelineId": OTHER_ID, "pipelineStatus": "InProgress", "region": "us-east-1",
            "conditions": [{"type": "Synced", "status": "False", "reason": "ImmutableFieldChanged",
            "message": "spec.sources cannot change", "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1}]}),
    );

    let pool = resource(
        POOL,
        json!({"poolName": "p1", "streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24}}),
    );
    let unnamed = resource(
        POOL,
        json!({"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24}}),
    );

    let case = |kind, what: &str, old: Option<&Value>, new: Value, allowed| Case {
        kind,
        what: what.to_owned(),
        old: old.cloned(),
        new,
        allowed,
    };
    let mut cases = vec![
        case(PIPELINE, "a create", None, pipeline.clone(), true),
        case(
            PIPELINE,
            "a create adopting a pipeline",
            None,
            adopted.clone(),
            true,
        ),
        case(
            PIPELINE,
            "no status: sources change",
            Some(&pipeline),
            with_spec(pipeline.clone(), "sources", source("m2")),
            true,
        ),
        case(
            PIPELINE,
            "no status: the operator writes mediaPipelineId",
            Some(&pipeline),
            created.clone(),
            true,
        ),
        case(
            PIPELINE,
            "status with conditions only (a refused create): sources change",
            Some(&refused),
            with_spec(refused.clone(), "sources", source("m2")),
            true,
        ),
        case(
            PIPELINE,
            "status with conditions only (a refused create): sinks change",
            Some(&refused),
            with_spec(refused.clone(), "sinks", sink("q")),
            true,
        ),
        case(
            PIPELINE,
            "status.requestDigest set: sources change",
            Some(&digest),
            with_spec(digest.clone(), "sources", source("m2")),
            false,
        ),
        case(
            PIPELINE,
            "status.requestDigest set: sinks change",
            Some(&digest),
            with_spec(digest.clone(), "sinks", sink("q")),
            false,
        ),
        case(
            PIPELINE,
            "status.requestDigest set: tags-only change",
            Some(&digest),
            with_spec(digest.clone(), "tags", tags()),
            true,
        ),
        case(
            PIPELINE,
            "status.mediaPipelineId set: sources change",
            Some(&created),
            with_spec(created.clone(), "sources", source("m2")),
            false,
        ),
        case(
            PIPELINE,
            "status.mediaPipelineId set: sinks change",
            Some(&created),
            with_spec(created.clone(), "sinks", sink("q")),
            false,
        ),
        case(
            PIPELINE,
            "status.mediaPipelineId set, spec differs from the pipeline: sources restored",
            Some(&differs),
            with_spec(differs.clone(), "sources", source("m2")),
            true,
        ),
        case(
            PIPELINE,
            "status.mediaPipelineId set: tags change",
            Some(&created),
            with_spec(created.clone(), "tags", tags()),
            true,
        ),
        case(
            PIPELINE,
            "adoptMediaPipelineId added",
            Some(&pipeline),
            adopted.clone(),
            false,
        ),
        case(
            PIPELINE,
            "adoptMediaPipelineId removed",
            Some(&adopted),
            pipeline.clone(),
            false,
        ),
        case(
            PIPELINE,
            "adoptMediaPipelineId changed",
            Some(&adopted),
            with_spec(adopted.clone(), "adoptMediaPipelineId", json!(OTHER_ID)),
            false,
        ),
        case(
            PIPELINE,
            "adoptMediaPipelineId unchanged, tags change",
            Some(&adopted),
            with_spec(adopted.clone(), "tags", tags()),
            true,
        ),
        case(
            PIPELINE,
            "adoptMediaPipelineId absent on both sides, tags change",
            Some(&pipeline),
            with_spec(pipeline.clone(), "tags", tags()),
            true,
        ),
        case(POOL, "a create", None, pool.clone(), true),
        case(
            POOL,
            "retention changes",
            Some(&pool),
            with_spec(
                pool.clone(),
                "streamConfiguration",
                json!({"region": "us-east-1", "dataRetentionInHours": 48}),
            ),
            true,
        ),
        case(
            POOL,
            "poolName changes",
            Some(&pool),
            with_spec(pool.clone(), "poolName", json!("p2")),
            false,
        ),
        // A transition rule needs the value on both sides: poolName can be
        // set after the create (the operator has used the resource's name).
        case(
            POOL,
            "poolName set after the create",
            Some(&unnamed),
            pool.clone(),
            true,
        ),
        case(
            POOL,
            "streamConfiguration.region changes",
            Some(&pool),
            with_spec(
                pool.clone(),
                "streamConfiguration",
                json!({"region": "eu-west-1", "dataRetentionInHours": 24}),
            ),
            false,
        ),
        case(
            POOL,
            "tags change",
            Some(&pool),
            with_spec(pool.clone(), "tags", tags()),
            true,
        ),
    ];
    cases.extend(tag_cases(PIPELINE, &pipeline));
    cases.extend(tag_cases(POOL, &pool));
    cases.extend(capture_cases());
    cases.extend(concatenation_cases());
    cases
}

/// The objects must be resources the operator's types accept, or the cases
/// would test objects the API server never holds.
fn check_well_formed(case: &Case) {
    for object in case.old.iter().chain([&case.new]) {
        fn parse<K: serde::de::DeserializeOwned>(object: &Value) -> Result<(), serde_json::Error> {
            serde_json::from_value::<K>(object.clone()).map(drop)
        }
        let parsed = match case.kind {
            PIPELINE => parse::<MediaStreamPipeline>(object),
            POOL => parse::<MediaPipelineKinesisVideoStreamPool>(object),
            CAPTURE => parse::<MediaCapturePipeline>(object),
            CONCAT => parse::<MediaConcatenationPipeline>(object),
            other => panic!("case '{}': tests/cel.rs knows no kind {other}", case.what),
        };
        if let Err(e) = parsed {
            panic!(
                "{} case '{}': not a valid resource: {e}",
                case.kind, case.what
            );
        }
    }
}

/// Runs every case against `rules`; returns what went wrong.
fn run_cases(rules: &[Rule], schemas: &BTreeMap<&'static str, Value>) -> Vec<String> {
    let mut problems = vec![];
    // Per rule: how many cases it allowed, how many it refused.
    let mut tally = vec![(0usize, 0usize); rules.len()];
    for case in cases() {
        check_well_formed(&case);
        let mut refused_by = vec![];
        for (i, rule) in rules.iter().enumerate() {
            if rule.kind != case.kind {
                continue;
            }
            match verdict(rule, schemas, case.old.as_ref(), &case.new) {
                None => {}
                Some(true) => tally[i].0 += 1,
                Some(false) => {
                    tally[i].1 += 1;
                    let message = match rule.message.as_str() {
                        "" => String::new(),
                        m => format!(" (\"{m}\")"),
                    };
                    refused_by.push(format!("{}{message}", rule.describe()));
                }
            }
        }
        match (case.allowed, refused_by.is_empty()) {
            (true, false) => problems.push(format!(
                "{} case '{}' should be allowed, but is refused by {}",
                case.kind,
                case.what,
                refused_by.join(" and by ")
            )),
            (false, true) => problems.push(format!(
                "{} case '{}' should be refused, but every rule allows it",
                case.kind, case.what
            )),
            _ => {}
        }
    }
    for (rule, (allowed, refused)) in rules.iter().zip(tally) {
        if allowed == 0 {
            problems.push(format!("{}: no case that it allows", rule.describe()));
        }
        if refused == 0 {
            problems.push(format!("{}: no case that it refuses", rule.describe()));
        }
    }
    problems
}

// ----- the tests -------------------------------------------------------------

/// The cases hold for the rules of [`RULES`], each evaluated at its
/// location; every rule refuses one case and allows another.
#[test]
fn cases_hold_for_the_table_rules() {
    let problems = run_cases(&table_rules(), &schemas());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The CRDs carry exactly the rules of [`RULES`]: a rule the table does not
/// know has no cases, and a rule the table expects but the CRD lacks is not
/// enforced.
#[test]
fn crd_rules_are_the_table_rules() {
    let schemas = schemas();
    let key = |r: &Rule| (r.kind, r.location(), r.text.clone());
    let in_crd: BTreeSet<_> = crd_rules(&schemas).iter().map(key).collect();
    let in_table: BTreeSet<_> = table_rules().iter().map(key).collect();
    let mut problems = vec![];
    for (kind, location, text) in in_crd.difference(&in_table) {
        problems.push(format!(
            "{kind}: the CRD has rule `{text}` at {location}, unknown to RULES in tests/cel.rs: add it there, with cases"
        ));
    }
    for (kind, location, text) in in_table.difference(&in_crd) {
        problems.push(format!(
            "{kind}: RULES in tests/cel.rs expects rule `{text}` at {location}, which the CRD lacks"
        ));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A field a rule reads, as the cost estimate sees it.
struct Read {
    /// From the rule's node.
    steps: Vec<Step>,
    /// `has(x)` tells whether x is there without reading it.
    presence: bool,
}

/// `self.a.b`, `oldSelf.a[0]`: the steps from the rule's node, if `expr`
/// is such a chain. An index reads one element (or map value); which of the
/// two, [`resolve`] tells from the schema.
fn chain(expr: &IdedExpr) -> Option<Vec<Step>> {
    match &expr.expr {
        Expr::Ident(name) if name == "self" || name == "oldSelf" => Some(vec![]),
        Expr::Select(select) if !select.test => {
            let mut steps = chain(&select.operand)?;
            steps.push(Step::Field(select.field.clone()));
            Some(steps)
        }
        Expr::Call(call) if call.func_name == "_[_]" => {
            let mut steps = chain(call.args.first()?)?;
            steps.push(Step::Item);
            Some(steps)
        }
        _ => None,
    }
}

/// Every field of self or oldSelf that `expr` reads.
fn reads(expr: &IdedExpr, out: &mut Vec<Read>) {
    if let Some(steps) = chain(expr) {
        out.push(Read {
            steps,
            presence: false,
        });
        // An index can itself read a field: self.a[self.i].
        if let Expr::Call(call) = &expr.expr {
            call.args.iter().skip(1).for_each(|a| reads(a, out));
        }
        return;
    }
    match &expr.expr {
        Expr::Select(select) if select.test => match chain(&select.operand) {
            Some(mut steps) => {
                steps.push(Step::Field(select.field.clone()));
                out.push(Read {
                    steps,
                    presence: true,
                });
            }
            None => reads(&select.operand, out),
        },
        Expr::Select(select) => reads(&select.operand, out),
        Expr::Call(call) => {
            call.target.iter().for_each(|t| reads(t, out));
            call.args.iter().for_each(|a| reads(a, out));
        }
        // A macro (all, exists, map, filter) reads its whole range.
        Expr::Comprehension(c) => {
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                reads(part, out);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|e| reads(e, out)),
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    reads(&e.key, out);
                    reads(&e.value, out);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    reads(&f.value, out);
                }
            }
        }
        _ => {}
    }
}

/// Follows `steps` from `node`; an index becomes `Item` or `Entry` as the
/// schema says. Returns each node passed, with its steps, the last one
/// being the node read.
fn resolve<'a>(node: &'a Value, steps: &[Step]) -> Option<Vec<(Vec<Step>, &'a Value)>> {
    let mut path = vec![];
    let mut out = vec![(path.clone(), node)];
    let mut node = node;
    for step in steps {
        let step = match step {
            Step::Item if !node["items"].is_object() => Step::Entry,
            other => other.clone(),
        };
        node = child(node, &step)?;
        path.push(step);
        out.push((path.clone(), node));
    }
    Some(out)
}

/// Why a node leaves the cost estimate unbounded, if it does.
fn unbounded(node: &Value) -> Option<&'static str> {
    if node["x-kubernetes-preserve-unknown-fields"] == true {
        return Some("an object that keeps unknown fields");
    }
    let has = |key: &str| node.get(key).is_some();
    if node["x-kubernetes-int-or-string"] == true && !has("maxLength") {
        return Some("an int-or-string without maxLength");
    }
    match node["type"].as_str() {
        Some("array") if !has("maxItems") => Some("an array without maxItems"),
        Some("string") if !has("maxLength") && !has("enum") => {
            Some("a string without maxLength or enum")
        }
        Some("object")
            if (node["additionalProperties"].is_object()
                || node["additionalProperties"] == true)
                && !has("maxProperties") =>
        {
            Some("a map (additionalProperties) without maxProperties")
        }
        _ => None,
    }
}

/// The node and all its descendants, with their steps from `node`.
fn subtree<'a>(node: &'a Value, steps: Vec<Step>, out: &mut Vec<(Vec<Step>, &'a Value)>) {
    for (step, child) in children(node) {
        let mut below = steps.clone();
        below.push(step);
        subtree(child, below, out);
    }
    out.push((steps, node));
}

/// The largest a value of `node` can be: maxItems × maxLength multiplied
/// down the paths and summed over fields, a number or a boolean counting 1;
/// `None` when something is unbounded.
fn worst_size(node: &Value) -> Option<u64> {
    let number = |key: &str| node[key].as_u64();
    match node["type"].as_str() {
        Some("string") => number("maxLength").or_else(|| {
            let values = node["enum"].as_array()?;
            values
                .iter()
                .map(|v| v.as_str().map_or(1, |s| s.chars().count() as u64))
                .max()
        }),
        Some("array") => {
            let items = node.get("items").map_or(Some(1), worst_size)?;
            Some(number("maxItems")? * items)
        }
        Some("object") if node["x-kubernetes-preserve-unknown-fields"] != true => {
            let mut total = 0;
            for (step, child) in children(node) {
                total += match step {
                    Step::Entry => number("maxProperties")? * worst_size(child)?,
                    _ => worst_size(child)?,
                };
            }
            Some(total.max(1))
        }
        Some("object") => None,
        _ => Some(1),
    }
}

fn show(size: Option<u64>) -> String {
    size.map_or_else(|| "unbounded".to_owned(), |s| s.to_string())
}

/// Every field each rule can read has a bound: lists maxItems, strings
/// maxLength or an enum, maps maxProperties. Checked for the CRD's rules and
/// for the table's at their locations, so that a rule on its way into the
/// CRD is checked too. A value a rule compares is read with all it holds; a
/// field under `has()` only for being there: its own node is checked, not
/// what it holds (the estimate charges has() a constant; bounding the field
/// keeps the rule cheap if it ever compares it). Prints each rule's worst
/// case, one line each.
#[test]
fn rules_read_only_bounded_fields() {
    let schemas = schemas();
    let mut rules = crd_rules(&schemas);
    rules.extend(table_rules());
    rules.sort();
    rules.dedup_by(|a, b| (a.kind, &a.steps, &a.text) == (b.kind, &b.steps, &b.text));

    let mut problems = vec![];
    for rule in &rules {
        let schema = &schemas[rule.kind];
        let Some(rule_path) = resolve(schema, &rule.steps) else {
            problems.push(format!("{}: the schema has no node there", rule.describe()));
            continue;
        };
        let (_, rule_node) = rule_path[rule_path.len() - 1];
        // A rule below a list or map runs once for each element.
        let mut runs: Option<u64> = Some(1);
        for (i, step) in rule.steps.iter().enumerate() {
            let (steps, parent) = &rule_path[i];
            let limit = match step {
                Step::Item => parent["maxItems"].as_u64(),
                Step::Entry => parent["maxProperties"].as_u64(),
                Step::Field(_) => continue,
            };
            if limit.is_none() {
                problems.push(format!(
                    "{}: runs for each element of {}, {}",
                    rule.describe(),
                    location(steps),
                    unbounded(parent).unwrap_or("unbounded")
                ));
            }
            runs = runs.zip(limit).map(|(a, b)| a * b);
        }

        let expr = cel_parser::Parser::default()
            .parse(&rule.text)
            .unwrap_or_else(|e| panic!("{}: does not parse: {e}", rule.describe()));
        let mut found = vec![];
        reads(&expr, &mut found);
        // self and oldSelf read the same nodes; each counts once. The size
        // with how it came about, e.g. "10×1039=10390".
        let mut read: BTreeMap<String, (Option<u64>, String)> = BTreeMap::new();
        for r in &found {
            let Some(passed) = resolve(rule_node, &r.steps) else {
                problems.push(format!(
                    "{}: reads {}, which the schema lacks",
                    rule.describe(),
                    location(&[rule.steps.clone(), r.steps.clone()].concat())
                ));
                continue;
            };
            let (last_steps, last) = passed[passed.len() - 1].clone();
            // The nodes on the way are looked at, not read as a whole.
            let mut checked: Vec<(Vec<Step>, &Value)> = passed;
            if !r.presence {
                checked.pop();
                subtree(last, last_steps.clone(), &mut checked);
            }
            for (steps, node) in checked {
                if let Some(why) = unbounded(node) {
                    let at = location(&[rule.steps.clone(), steps].concat());
                    problems.push(format!("{}: reads {at}, {why}", rule.describe()));
                }
            }
            let at = location(&[rule.steps.clone(), last_steps].concat());
            let (at, size, how) = if r.presence {
                (format!("has({at})"), Some(1), "1".to_owned())
            } else {
                let size = worst_size(last);
                let shown = show(size);
                let how = match (last["maxItems"].as_u64(), last.get("items")) {
                    (Some(n), Some(items)) => format!("{n}×{}={shown}", show(worst_size(items))),
                    _ => shown,
                };
                (at, size, how)
            };
            read.insert(at, (size, how));
        }

        let total = read
            .values()
            .try_fold(0u64, |sum, (size, _)| Some(sum + (*size)?))
            .zip(runs)
            .map(|(sum, runs)| sum * runs);
        let parts: Vec<String> = read
            .iter()
            .map(|(at, (_, how))| format!("{at} {how}"))
            .collect();
        println!(
            "worst case {}: {} (runs {}×; reads {})",
            show(total),
            rule.describe(),
            show(runs),
            parts.join(", ")
        );
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
