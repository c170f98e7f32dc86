//! The CRDs against the AWS service model: every integer, string and list
//! field of every kind carries bounds, those of the model's type where the
//! field mirrors one (a model `integer` is 32-bit), so that the API server
//! refuses what the operator could not read or AWS would refuse. For the
//! kinds whose fields name their model member (`Shape.Member`), every
//! member of the create request is offered by a field or listed as not
//! offered, with why. And every error the model lists for an operation the
//! operator calls is classified.
//!
//! The model's extract, tests/model/chime-sdk-media-pipelines-subset.json,
//! holds only the operations the operator calls and the shapes they reach.
//! It comes from botocore's data/chime-sdk-media-pipelines/2021-07-15/
//! service-2.json (botocore ships it gzipped: zcat service-2.json.gz to a
//! file first); to refresh it from a newer botocore, run
//! `CHIME_MODEL=/path/to/service-2.json CHIME_BLESS=1 cargo nextest run
//! --config-file tests/nextest.toml --test model_bounds` (without
//! CHIME_BLESS the test only says whether the extract is current). The
//! extract holds all the emulator (tests/world) validates and answers with:
//! nothing in it is added by hand.
//! tests/model/chime-sdk-meetings-subset.json is the same for the one
//! Chime SDK Meetings call, GetMeeting (from data/chime-sdk-meetings/
//! 2021-07-15/service-2.json, by hand: its input and errors).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline,
};
use chime_pipeline_operator::error::Error;
use kube::CustomResourceExt;
use serde_json::{Value, json};

const PIPELINE: &str = "MediaStreamPipeline";
const POOL: &str = "MediaPipelineKinesisVideoStreamPool";
const CAPTURE: &str = "MediaCapturePipeline";
const CONCAT: &str = "MediaConcatenationPipeline";
const INT32_MAX: f64 = 2_147_483_647.0;

/// The operations the operator calls.
const OPERATIONS: &[&str] = &[
    "CreateMediaStreamPipeline",
    "CreateMediaCapturePipeline",
    "CreateMediaConcatenationPipeline",
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

/// The members of GetMediaPipeline's answer (the union `MediaPipeline`)
/// the extract keeps, with all they reach: the emulator (tests/world)
/// answers these kinds' pipelines in the model's form.
const ANSWERED_PIPELINES: &[&str] = &["MediaCapturePipeline", "MediaConcatenationPipeline"];

/// Where a field's bounds come from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The model's shape of that name, or the shape of a member named by
    /// its path from a shape: `CreateMediaCapturePipelineRequest.SinkArn`,
    /// `[]` for a list's element (`Sources[].Type`).
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

/// The tags of a kind whose fields name their member of `$request`.
macro_rules! request_tags {
    ($request:literal) => {
        [
            ("spec.tags", ModelOptionalList(concat!($request, ".Tags"))),
            ("spec.tags[].key", Model(concat!($request, ".Tags[].Key"))),
            (
                "spec.tags[].value",
                Model(concat!($request, ".Tags[].Value")),
            ),
        ]
    };
}

/// The create request each kind mirrors member by member (its fields name
/// their member path): every member of it must be offered or listed in
/// [`not_offered`].
fn request(kind: &str) -> Option<&'static str> {
    match kind {
        CAPTURE => Some("CreateMediaCapturePipelineRequest"),
        CONCAT => Some("CreateMediaConcatenationPipelineRequest"),
        _ => None,
    }
}

/// A member of CreateMediaCapturePipelineRequest's meeting configuration.
macro_rules! meeting {
    ($path:literal) => {
        concat!(
            "CreateMediaCapturePipelineRequest.ChimeSdkMeetingConfiguration.",
            $path
        )
    };
}

/// A member of CreateMediaConcatenationPipelineRequest's source.
macro_rules! concat_source {
    ($path:literal) => {
        concat!(
            "CreateMediaConcatenationPipelineRequest.Sources[].MediaCapturePipelineSourceConfiguration.",
            $path
        )
    };
}

/// The members of a kind's create request that no field offers, with why.
/// Listed one by one, so that a member the model adds, or a field the CRD
/// adds for one of these, fails
/// [`every_member_of_the_request_is_offered_or_listed`].
fn not_offered(kind: &str) -> Vec<(&'static str, &'static str)> {
    let token = "the operator sends the resource's UID";
    // The grid's per-layout settings: AWS applies its defaults.
    let defaults = "not offered yet (see GridView in src/crd/capture.rs)";
    match kind {
        CAPTURE => vec![
            (
                "CreateMediaCapturePipelineRequest.ClientRequestToken",
                token,
            ),
            (
                meeting!(
                    "ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.PresenterOnlyConfiguration"
                ),
                defaults,
            ),
            (
                meeting!(
                    "ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.ActiveSpeakerOnlyConfiguration"
                ),
                defaults,
            ),
            (
                meeting!(
                    "ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.HorizontalLayoutConfiguration"
                ),
                defaults,
            ),
            (
                meeting!(
                    "ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.VerticalLayoutConfiguration"
                ),
                defaults,
            ),
            (
                meeting!(
                    "ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.VideoAttribute"
                ),
                defaults,
            ),
        ],
        CONCAT => vec![(
            "CreateMediaConcatenationPipelineRequest.ClientRequestToken",
            token,
        )],
        _ => vec![],
    }
}

/// What every field of every kind mirrors; a field missing here fails the
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
    // Every media pipeline kind's lifetime and status (src/crd/media.rs):
    // AWS answers every pipeline type with the same ID, ARN and status.
    let media = [
        ("spec.ttlSecondsAfterFinished", Ours("seconds, 32-bit")),
        ("status.mediaPipelineId", Model("GuidString")),
        ("status.mediaPipelineArn", Model("AmazonResourceName")),
        ("status.pipelineStatus", Model("MediaPipelineStatus")),
        ("status.requestDigest", Ours("SHA-256, hex")),
        ("status.finishedAt", Ours("RFC 3339")),
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
            ("spec.adoptMediaPipelineId", Model("GuidString")),
        ]
        .into_iter()
        .chain(TAGS)
        .chain(media)
        .collect(),
        CAPTURE => vec![
            (
                "spec.sourceType",
                Model("CreateMediaCapturePipelineRequest.SourceType"),
            ),
            (
                "spec.sourceArn",
                Model("CreateMediaCapturePipelineRequest.SourceArn"),
            ),
            (
                "spec.sinkType",
                Model("CreateMediaCapturePipelineRequest.SinkType"),
            ),
            (
                "spec.sinkArn",
                Model("CreateMediaCapturePipelineRequest.SinkArn"),
            ),
            (
                "spec.sinkIamRoleArn",
                Model("CreateMediaCapturePipelineRequest.SinkIamRoleArn"),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.sourceConfiguration.selectedVideoStreams.attendeeIds",
                Model(meeting!("SourceConfiguration.SelectedVideoStreams.AttendeeIds")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.sourceConfiguration.selectedVideoStreams.attendeeIds[]",
                Model(meeting!("SourceConfiguration.SelectedVideoStreams.AttendeeIds[]")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.sourceConfiguration.selectedVideoStreams.externalUserIds",
                Model(meeting!("SourceConfiguration.SelectedVideoStreams.ExternalUserIds")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.sourceConfiguration.selectedVideoStreams.externalUserIds[]",
                Model(meeting!("SourceConfiguration.SelectedVideoStreams.ExternalUserIds[]")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.audio.muxType",
                Model(meeting!("ArtifactsConfiguration.Audio.MuxType")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.video.state",
                Model(meeting!("ArtifactsConfiguration.Video.State")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.video.muxType",
                Model(meeting!("ArtifactsConfiguration.Video.MuxType")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.content.state",
                Model(meeting!("ArtifactsConfiguration.Content.State")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.content.muxType",
                Model(meeting!("ArtifactsConfiguration.Content.MuxType")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.compositedVideo.layout",
                Model(meeting!("ArtifactsConfiguration.CompositedVideo.Layout")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.compositedVideo.resolution",
                Model(meeting!("ArtifactsConfiguration.CompositedVideo.Resolution")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.compositedVideo.gridViewConfiguration.contentShareLayout",
                Model(meeting!("ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.ContentShareLayout")),
            ),
            (
                "spec.chimeSdkMeetingConfiguration.artifactsConfiguration.compositedVideo.gridViewConfiguration.canvasOrientation",
                Model(meeting!("ArtifactsConfiguration.CompositedVideo.GridViewConfiguration.CanvasOrientation")),
            ),
            (
                "spec.sseAwsKeyManagementParams.awsKmsKeyId",
                Model("CreateMediaCapturePipelineRequest.SseAwsKeyManagementParams.AwsKmsKeyId"),
            ),
            (
                "spec.sseAwsKeyManagementParams.awsKmsEncryptionContext",
                Model("CreateMediaCapturePipelineRequest.SseAwsKeyManagementParams.AwsKmsEncryptionContext"),
            ),
        ]
        .into_iter()
        .chain(request_tags!("CreateMediaCapturePipelineRequest"))
        .chain(media)
        .collect(),
        CONCAT => vec![
            (
                "spec.sources",
                Model("CreateMediaConcatenationPipelineRequest.Sources"),
            ),
            (
                "spec.sources[].type",
                Model("CreateMediaConcatenationPipelineRequest.Sources[].Type"),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.mediaPipelineArn",
                Model(concat_source!("MediaPipelineArn")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.captureRef.name",
                Ours("a Kubernetes object name: a MediaCapturePipeline instead of mediaPipelineArn"),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.audio.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.Audio.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.video.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.Video.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.content.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.Content.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.dataChannel.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.DataChannel.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.transcriptionMessages.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.TranscriptionMessages.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.meetingEvents.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.MeetingEvents.State")),
            ),
            (
                "spec.sources[].mediaCapturePipelineSourceConfiguration.chimeSdkMeetingConfiguration.artifactsConfiguration.compositedVideo.state",
                Model(concat_source!("ChimeSdkMeetingConfiguration.ArtifactsConfiguration.CompositedVideo.State")),
            ),
            (
                "spec.sinks",
                Model("CreateMediaConcatenationPipelineRequest.Sinks"),
            ),
            (
                "spec.sinks[].type",
                Model("CreateMediaConcatenationPipelineRequest.Sinks[].Type"),
            ),
            (
                "spec.sinks[].s3BucketSinkConfiguration.destination",
                Model("CreateMediaConcatenationPipelineRequest.Sinks[].S3BucketSinkConfiguration.Destination"),
            ),
        ]
        .into_iter()
        .chain(request_tags!("CreateMediaConcatenationPipelineRequest"))
        .chain(media)
        .collect(),
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
        ]
        .into_iter()
        .chain(TAGS)
        .collect(),
    };
    conditions.into_iter().chain(own).collect()
}

/// The CRD of every kind this test knows.
fn crds() -> [Value; 4] {
    [
        serde_json::to_value(MediaStreamPipeline::crd()).unwrap(),
        serde_json::to_value(MediaPipelineKinesisVideoStreamPool::crd()).unwrap(),
        serde_json::to_value(MediaCapturePipeline::crd()).unwrap(),
        serde_json::to_value(MediaConcatenationPipeline::crd()).unwrap(),
    ]
}

/// Every member path below `shape` (at `path`) a field can mirror: each
/// string, number or enum, each list and, unless a structure, its element
/// (`[]`); structures are walked into, except the members at a path of
/// `skip`.
fn model_members(
    shapes: &Value,
    shape: &str,
    path: String,
    skip: &BTreeSet<&str>,
    out: &mut BTreeSet<String>,
) {
    let node = &shapes[shape];
    let shape_of = |m: &Value| m["shape"].as_str().unwrap_or_default().to_string();
    match node["type"].as_str() {
        Some("structure") => {
            for (member, m) in node["members"].as_object().into_iter().flatten() {
                let below = format!("{path}.{member}");
                if !skip.contains(below.as_str()) {
                    model_members(shapes, &shape_of(m), below, skip, out);
                }
            }
        }
        Some("list") => {
            out.insert(path.clone());
            let element = shape_of(&node["member"]);
            model_members(shapes, &element, format!("{path}[]"), skip, out);
        }
        _ => {
            out.insert(path);
        }
    }
}

/// For each kind that mirrors a create request member by member
/// ([`request`]): every member of the request is mirrored by a field or
/// listed in [`not_offered`]; nothing listed is offered; everything listed
/// is in the model. A member the model adds, a field the CRD adds for a
/// listed member, or one it drops, fails here.
#[test]
fn every_member_of_the_request_is_offered_or_listed() {
    let model = model();
    let shapes = &model["shapes"];
    let mut wrong = vec![];
    let mut counts = vec![];
    for kind in [PIPELINE, POOL, CAPTURE, CONCAT] {
        let Some(request) = request(kind) else {
            continue;
        };
        let listed = not_offered(kind);
        let skip: BTreeSet<&str> = listed.iter().map(|(member, _)| *member).collect();
        let mut members = BTreeSet::new();
        model_members(shapes, request, request.to_string(), &skip, &mut members);
        let offered: BTreeSet<&str> = fields(kind)
            .into_values()
            .filter_map(|source| match source {
                Model(name) | ModelOptionalList(name) if name.contains('.') => Some(name),
                _ => None,
            })
            .collect();
        for member in members.iter().filter(|m| !offered.contains(m.as_str())) {
            wrong.push(format!(
                "{kind}: the model's {member} is neither mirrored by a field nor listed as not offered"
            ));
        }
        for name in offered.iter().filter(|name| !members.contains(**name)) {
            let under = |s: &&&str| {
                name.strip_prefix(**s)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            };
            match skip.iter().find(under) {
                Some(s) => wrong.push(format!(
                    "{kind}: a field mirrors {name}, but {s} is listed as not offered"
                )),
                None => wrong.push(format!(
                    "{kind}: a field mirrors {name}, no member of {request} a field can mirror"
                )),
            }
        }
        for (member, why) in &listed {
            if shape_name(shapes, member).is_none() {
                wrong.push(format!(
                    "{kind}: {member} is listed as not offered ({why}), but the model has no such member"
                ));
            }
        }
        counts.push(format!(
            "{kind}: {} members of {request} mirrored, {} listed as not offered",
            members.len(),
            listed.len()
        ));
    }
    println!("{}", counts.join("\n"));
    assert!(
        wrong.is_empty(),
        "the create requests against the CRDs:\n{}",
        wrong.join("\n")
    );
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

/// The shape `name` names: a shape's name, or a member's path from a
/// shape (`Shape.Member.Member`, `[]` for a list's element); `None` when the
/// model lacks it.
fn shape_name<'a>(shapes: &'a Value, name: &'a str) -> Option<&'a str> {
    let mut parts = name.split('.');
    let mut shape = parts.next()?;
    for part in parts {
        let member = part.trim_end_matches("[]");
        shape = shapes[shape]["members"][member]["shape"].as_str()?;
        for _ in 0..(part.len() - member.len()) / 2 {
            shape = shapes[shape]["member"]["shape"].as_str()?;
        }
    }
    shapes.get(shape).map(|_| shape)
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
    let Some(resolved) = shape_name(shapes, name) else {
        wrong.push(format!("{path}: the model has no {name}"));
        return wrong;
    };
    let shape = &shapes[resolved];
    let name = match resolved == name {
        true => name.to_string(),
        false => format!("{name} ({resolved})"),
    };
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
    for crd in crds() {
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
/// the CRDs mirror, GetMediaPipeline's answer cut to
/// [`ANSWERED_PIPELINES`], and the shapes those reach; without
/// documentation.
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
    // What the specs mirror: the create requests, and each field's shape
    // (a member's path: the shape it starts from).
    todo.extend(
        [
            "CreateMediaStreamPipelineRequest",
            "CreateMediaPipelineKinesisVideoStreamPoolRequest",
        ]
        .map(String::from),
    );
    for kind in [PIPELINE, POOL, CAPTURE, CONCAT] {
        todo.extend(request(kind).map(String::from));
        for source in fields(kind).into_values() {
            if let Model(name) | ModelOptionalList(name) = source {
                todo.extend(name.split('.').next().map(String::from));
            }
        }
    }
    let mut shapes = BTreeMap::new();
    // GetMediaPipeline's answer, cut to the members the emulator answers.
    let mut answer = full["shapes"]["MediaPipeline"].clone();
    strip_docs(&mut answer);
    if let Some(members) = answer["members"].as_object_mut() {
        members.retain(|member, _| ANSWERED_PIPELINES.contains(&member.as_str()));
    }
    shapes.insert("MediaPipeline".to_string(), answer);
    todo.extend(ANSWERED_PIPELINES.iter().map(|s| s.to_string()));
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
    let source = format!(
        "botocore data/chime-sdk-media-pipelines/2021-07-15/service-2.json, reduced by tests/model_bounds.rs (extract): the operations the operator calls (input, errors), the shapes the CRDs mirror and those they reach, and for the emulator (tests/world) GetMediaPipeline's answer MediaPipeline cut to its members {} with what they reach; documentation removed; refresh as that file's header says",
        ANSWERED_PIPELINES.join(" and ")
    );
    json!({
        "_source": source,
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
