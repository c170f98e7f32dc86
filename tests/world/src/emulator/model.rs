//! Input validation, following the constraints of the service model
//! (chime-sdk-media-pipelines 2021-07-15).
//!
//! The create requests are checked against the model subset itself
//! (tests/model/chime-sdk-media-pipelines-subset.json, compiled in): a
//! generic walk over its shapes applies required members, enums, lengths,
//! patterns, integer ranges and list sizes, and answers the request cut to
//! the model's members. Inputs are checked as raw JSON so that every
//! violation is reported with the member path the way the service does,
//! instead of being swallowed by a deserializer. Smithy patterns are applied
//! as whole-string matches: the model's unanchored patterns (e.g.
//! `[-_a-zA-Z0-9]*` for tokens) are meant as the allowed alphabet. Members
//! of requests whose shapes the subset lacks (pool updates, tag keys, path
//! identifiers of other services) are checked by hand, with the same
//! helpers.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult, ErrorKind};

const GUID_PATTERN: &str = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$";
const NON_EMPTY_PATTERN: &str = r"\S";
/// An S3 bucket ARN, optionally with a key prefix (AWS accepts
/// `arn:aws:s3:::bucket/prefix` as a capture sink); the bucket name follows
/// S3's naming rules.
const S3_BUCKET_ARN_PATTERN: &str =
    r"^arn:aws(?:-[a-z]+)*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/[^/].*)?$";
/// A Chime SDK meeting ARN: `meeting/<id>` as Chime SDK Meetings writes it,
/// or `meeting:<id>` as capture pipelines of the older API did.
const MEETING_ARN_PATTERN: &str = r"^arn:aws(?:-[a-z]+)*:chime:[a-z0-9-]*:[0-9]*:meeting[/:].+$";

fn regex(pattern: &str) -> Regex {
    // The patterns are compile-time constants (ours, or the model's)
    // covered by the tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("static pattern compiles")
}

static GUID_RE: LazyLock<Regex> = LazyLock::new(|| regex(GUID_PATTERN));
static NON_EMPTY_RE: LazyLock<Regex> = LazyLock::new(|| regex(NON_EMPTY_PATTERN));
static S3_BUCKET_ARN_RE: LazyLock<Regex> = LazyLock::new(|| regex(S3_BUCKET_ARN_PATTERN));
static MEETING_ARN_RE: LazyLock<Regex> = LazyLock::new(|| regex(MEETING_ARN_PATTERN));

/// The model subset's shapes, with each string pattern compiled once.
struct Model {
    shapes: Map<String, Value>,
    /// By shape name: the whole-string regex and the pattern as messages
    /// show it (anchored).
    patterns: HashMap<String, (Regex, String)>,
}

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    // The subset is part of the source tree; the tests read every shape.
    #[allow(clippy::expect_used)]
    let model: Value = serde_json::from_str(include_str!(
        "../../../model/chime-sdk-media-pipelines-subset.json"
    ))
    .expect("the model subset is JSON");
    let shapes = match model.get("shapes") {
        Some(Value::Object(shapes)) => shapes.clone(),
        _ => Map::new(),
    };
    let patterns = shapes
        .iter()
        .filter_map(|(name, shape)| {
            let bare = shape["pattern"]
                .as_str()?
                .trim_start_matches('^')
                .trim_end_matches('$');
            // `(?s)`: the model's `.*` (shape String) means any text.
            let re = regex(&format!("(?s)^(?:{bare})$"));
            Some((name.clone(), (re, format!("^{bare}$"))))
        })
        .collect();
    Model { shapes, patterns }
});

#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) source_type: String,
    pub(crate) source_arn: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Sink {
    pub(crate) sink_arn: String,
    pub(crate) sink_type: String,
    pub(crate) reserved_stream_capacity: i64,
    pub(crate) media_stream_type: String,
}

pub(crate) type Tags = Vec<(String, String)>;

/// A media capture pipeline's request, past the model's checks.
#[derive(Clone, Debug)]
pub(crate) struct Capture {
    pub(crate) source_type: String,
    /// The meeting.
    pub(crate) source_arn: String,
    pub(crate) sink_type: String,
    pub(crate) sink_arn: String,
    /// The bucket `sink_arn` names.
    pub(crate) bucket: String,
    /// `ChimeSdkMeetingConfiguration`, `SseAwsKeyManagementParams` and
    /// `SinkIamRoleArn` as sent (cut to the model's members), answered back.
    pub(crate) echoed: Map<String, Value>,
}

/// A media concatenation pipeline's request, past the model's checks.
#[derive(Clone, Debug)]
pub(crate) struct Concatenation {
    /// The capture pipeline its one source names.
    pub(crate) capture_arn: String,
    /// Its one sink's destination, and the bucket that names.
    pub(crate) destination: String,
    pub(crate) bucket: String,
    /// `Sources` and `Sinks` as sent (cut to the model's members).
    pub(crate) sources: Value,
    pub(crate) sinks: Value,
}

/// What a create asks for, by operation.
#[derive(Clone, Debug)]
pub(crate) enum Spec {
    Stream {
        sources: Vec<Source>,
        sinks: Vec<Sink>,
    },
    Capture(Capture),
    Concatenation(Concatenation),
}

#[derive(Debug)]
pub(crate) struct CreatePipelineInput {
    pub(crate) spec: Spec,
    pub(crate) token: Option<String>,
    pub(crate) tags: Tags,
    /// Everything but the token, to tell a replay from a token reuse.
    pub(crate) fingerprint: Value,
}

#[derive(Debug)]
pub(crate) struct CreatePoolInput {
    pub(crate) name: String,
    pub(crate) stream_region: String,
    pub(crate) data_retention_in_hours: Option<i32>,
    pub(crate) token: Option<String>,
    pub(crate) tags: Tags,
    pub(crate) fingerprint: Value,
}

fn path(prefix: &str, member: &str) -> String {
    if prefix.is_empty() {
        member.to_owned()
    } else {
        format!("{prefix}.{member}")
    }
}

fn structure<'a>(value: &'a Value, path: &str) -> ApiResult<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        let what = if path.is_empty() {
            "The request body"
        } else {
            path
        };
        ApiError::bad_request(format!("{what} must be a JSON object"))
    })
}

/// A member that is present and not null.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn required<'a>(obj: &'a Map<String, Value>, prefix: &str, name: &str) -> ApiResult<&'a Value> {
    member(obj, name)
        .ok_or_else(|| ApiError::bad_request(format!("{} is required", path(prefix, name))))
}

fn string<'a>(value: &'a Value, path: &str) -> ApiResult<&'a str> {
    value
        .as_str()
        .ok_or_else(|| ApiError::bad_request(format!("{path} must be a string")))
}

fn length(s: &str, path: &str, min: usize, max: Option<usize>) -> ApiResult<()> {
    let len = s.chars().count();
    let too_long = max.is_some_and(|max| len > max);
    if len >= min && !too_long {
        return Ok(());
    }
    Err(ApiError::bad_request(match max {
        Some(max) => format!("{path} must be between {min} and {max} characters long"),
        None => format!("{path} must be at least {min} characters long"),
    }))
}

fn pattern(s: &str, path: &str, re: &Regex, shown: &str) -> ApiResult<()> {
    if re.is_match(s) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{path} must match the pattern {shown}"
        )))
    }
}

fn one_of(s: &str, path: &str, allowed: &[&str]) -> ApiResult<()> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{path} must be one of: {}",
            allowed.join(", ")
        )))
    }
}

/// A Smithy `integer` (32-bit) with the model's range.
fn integer(value: &Value, path: &str, min: i64, max: Option<i64>) -> ApiResult<i64> {
    let n = value
        .as_i64()
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| ApiError::bad_request(format!("{path} must be a 32-bit integer")))?;
    let too_big = max.is_some_and(|max| n > max);
    if n >= min && !too_big {
        return Ok(n);
    }
    Err(ApiError::bad_request(match max {
        Some(max) => format!("{path} must be between {min} and {max}"),
        None => format!("{path} must be at least {min}"),
    }))
}

fn list<'a>(
    value: &'a Value,
    path: &str,
    min: usize,
    max: Option<usize>,
) -> ApiResult<&'a Vec<Value>> {
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::bad_request(format!("{path} must be a list")))?;
    let too_long = max.is_some_and(|max| items.len() > max);
    if items.len() >= min && !too_long {
        return Ok(items);
    }
    Err(ApiError::bad_request(match max {
        Some(max) => format!("{path} must contain between {min} and {max} items"),
        None => format!("{path} must contain at least {min} item(s)"),
    }))
}

/// A bound of a shape (`min`, `max`), as a count.
fn bound(shape: &Value, key: &str) -> Option<usize> {
    shape[key].as_u64().and_then(|n| usize::try_from(n).ok())
}

/// Checks `value` at `at` against the model's shape `name`, and returns it
/// cut to the model's members (unknown members and nulls dropped), which is
/// what the service keeps of a request.
fn check(name: &str, value: &Value, at: &str) -> ApiResult<Value> {
    let model = &*MODEL;
    let Some(shape) = model.shapes.get(name) else {
        // A shape the subset lacks is a bug of this emulator, not the caller's.
        return Err(ApiError::new(
            ErrorKind::ServiceFailure,
            format!("the model subset has no shape {name}"),
        ));
    };
    match shape["type"].as_str() {
        Some("structure") => {
            let obj = structure(value, at)?;
            let required_names: Vec<&str> = shape["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut kept = Map::new();
            // In the subset's (sorted) member order, each required member
            // checked where it comes.
            for (member_name, reference) in shape["members"].as_object().into_iter().flatten() {
                let target = reference["shape"].as_str().unwrap_or_default();
                let found = if required_names.contains(&member_name.as_str()) {
                    Some(required(obj, at, member_name)?)
                } else {
                    member(obj, member_name)
                };
                if let Some(found) = found {
                    let checked = check(target, found, &path(at, member_name))?;
                    kept.insert(member_name.clone(), checked);
                }
            }
            Ok(Value::Object(kept))
        }
        Some("list") => {
            let items = list(
                value,
                at,
                bound(shape, "min").unwrap_or(0),
                bound(shape, "max"),
            )?;
            let target = shape["member"]["shape"].as_str().unwrap_or_default();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| check(target, item, &format!("{at}[{i}]")))
                .collect::<ApiResult<Vec<Value>>>()
                .map(Value::Array)
        }
        Some("string") => {
            let s = string(value, at)?;
            if let Some(allowed) = shape["enum"].as_array() {
                let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                one_of(s, at, &allowed)?;
            }
            let (min, max) = (bound(shape, "min"), bound(shape, "max"));
            if min.is_some() || max.is_some() {
                length(s, at, min.unwrap_or(0), max)?;
            }
            if let Some((re, shown)) = model.patterns.get(name) {
                pattern(s, at, re, shown)?;
            }
            Ok(value.clone())
        }
        Some("integer") => {
            let min = shape["min"].as_i64().unwrap_or(i64::from(i32::MIN));
            integer(value, at, min, shape["max"].as_i64())?;
            Ok(value.clone())
        }
        Some("boolean") if !value.is_boolean() => {
            Err(ApiError::bad_request(format!("{at} must be a boolean")))
        }
        _ => Ok(value.clone()),
    }
}

/// A checked request's string member (present by the model's checks).
fn text(input: &Value, member: &str) -> String {
    input[member].as_str().unwrap_or_default().to_owned()
}

/// A string against the model's string shape of that name.
fn check_string(shape: &str, s: &str, path: &str) -> ApiResult<()> {
    check(shape, &Value::from(s), path).map(drop)
}

/// Shape `AmazonResourceName`, e.g. `ResourceARN` of the tagging operations.
pub(crate) fn check_resource_arn(s: &str, path: &str) -> ApiResult<()> {
    check_string("AmazonResourceName", s, path)
}

/// Shape `GuidString`, used for `mediaPipelineId` in paths.
pub(crate) fn check_pipeline_id(s: &str) -> ApiResult<()> {
    check_string("GuidString", s, "MediaPipelineId")
}

/// Chime SDK Meetings' `MeetingId`: its `GuidString` has a pattern and no
/// length bounds.
pub(crate) fn check_meeting_id(s: &str) -> ApiResult<()> {
    pattern(s, "MeetingId", &GUID_RE, GUID_PATTERN)
}

/// Shape `NonEmptyString`, used for the pool `identifier` in paths.
pub(crate) fn check_pool_identifier(s: &str) -> ApiResult<()> {
    length(s, "Identifier", 0, Some(1024))?;
    pattern(s, "Identifier", &NON_EMPTY_RE, ".*\\S.*")
}

/// Query member `max-results` (shape `ResultMax`).
pub(crate) fn parse_max_results(raw: Option<&str>) -> ApiResult<Option<usize>> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw
        .parse()
        .map_err(|_| ApiError::bad_request("MaxResults must be an integer"))?;
    let n = integer(&Value::from(n), "MaxResults", 1, Some(100))?;
    Ok(usize::try_from(n).ok())
}

/// A checked `TagList`.
fn tags_of(checked: &Value) -> Tags {
    checked
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| (text(tag, "Key"), text(tag, "Value")))
        .collect()
}

/// Checks a create request against its model shape; the token, tags and
/// fingerprint are common to all creates, the rest is `spec`'s.
fn create_input<T>(
    shape: &str,
    body: &Value,
    spec: impl FnOnce(&Value) -> ApiResult<T>,
) -> ApiResult<(T, CommonInput)> {
    let checked = check(shape, body, "")?;
    let spec = spec(&checked)?;
    let token = checked["ClientRequestToken"].as_str().map(str::to_owned);
    let tags = tags_of(&checked["Tags"]);
    let mut fingerprint = checked;
    if let Some(map) = fingerprint.as_object_mut() {
        map.remove("ClientRequestToken");
    }
    Ok((
        spec,
        CommonInput {
            token,
            tags,
            fingerprint,
        },
    ))
}

struct CommonInput {
    token: Option<String>,
    tags: Tags,
    fingerprint: Value,
}

fn pipeline_input(
    shape: &str,
    body: &Value,
    spec: impl FnOnce(&Value) -> ApiResult<Spec>,
) -> ApiResult<CreatePipelineInput> {
    let (spec, common) = create_input(shape, body, spec)?;
    Ok(CreatePipelineInput {
        spec,
        token: common.token,
        tags: common.tags,
        fingerprint: common.fingerprint,
    })
}

/// CreateMediaStreamPipeline.
pub(crate) fn parse_create_pipeline(body: &Value) -> ApiResult<CreatePipelineInput> {
    pipeline_input("CreateMediaStreamPipelineRequest", body, |input| {
        let items = |member: &str| input[member].as_array().cloned().unwrap_or_default();
        let sources = items("Sources")
            .iter()
            .map(|s| Source {
                source_type: text(s, "SourceType"),
                source_arn: text(s, "SourceArn"),
            })
            .collect();
        let sinks = items("Sinks")
            .iter()
            .map(|s| Sink {
                sink_arn: text(s, "SinkArn"),
                sink_type: text(s, "SinkType"),
                reserved_stream_capacity: s["ReservedStreamCapacity"].as_i64().unwrap_or_default(),
                media_stream_type: text(s, "MediaStreamType"),
            })
            .collect();
        Ok(Spec::Stream { sources, sinks })
    })
}

/// The bucket an S3 bucket ARN names; anything else is a BadRequest naming
/// the member.
fn s3_bucket(arn: &str, path: &str) -> ApiResult<String> {
    S3_BUCKET_ARN_RE
        .captures(arn)
        .and_then(|c| c.get(1))
        .map(|bucket| bucket.as_str().to_owned())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{path} {arn} is not an S3 bucket ARN (arn:aws:s3:::bucket-name)"
            ))
        })
}

/// CreateMediaCapturePipeline.
pub(crate) fn parse_create_capture_pipeline(body: &Value) -> ApiResult<CreatePipelineInput> {
    pipeline_input("CreateMediaCapturePipelineRequest", body, |input| {
        let source_arn = text(input, "SourceArn");
        if !MEETING_ARN_RE.is_match(&source_arn) {
            return Err(ApiError::bad_request(format!(
                "SourceArn {source_arn} is not a Chime SDK meeting ARN"
            )));
        }
        let sink_arn = text(input, "SinkArn");
        let bucket = s3_bucket(&sink_arn, "SinkArn")?;
        let mut echoed = Map::new();
        for name in [
            "ChimeSdkMeetingConfiguration",
            "SseAwsKeyManagementParams",
            "SinkIamRoleArn",
        ] {
            if let Some(value) = input.get(name) {
                echoed.insert(name.to_owned(), value.clone());
            }
        }
        Ok(Spec::Capture(Capture {
            source_type: text(input, "SourceType"),
            source_arn,
            sink_type: text(input, "SinkType"),
            sink_arn,
            bucket,
            echoed,
        }))
    })
}

/// CreateMediaConcatenationPipeline: one source, one sink (the model's list
/// bounds).
pub(crate) fn parse_create_concatenation_pipeline(body: &Value) -> ApiResult<CreatePipelineInput> {
    pipeline_input("CreateMediaConcatenationPipelineRequest", body, |input| {
        let capture_arn =
            input["Sources"][0]["MediaCapturePipelineSourceConfiguration"]["MediaPipelineArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        let destination = input["Sinks"][0]["S3BucketSinkConfiguration"]["Destination"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let bucket = s3_bucket(
            &destination,
            "Sinks[0].S3BucketSinkConfiguration.Destination",
        )?;
        Ok(Spec::Concatenation(Concatenation {
            capture_arn,
            destination,
            bucket,
            sources: input["Sources"].clone(),
            sinks: input["Sinks"].clone(),
        }))
    })
}

/// The bucket a name or an S3 ARN (with or without a key prefix) names, as
/// the admin switches take it.
pub(crate) fn bucket_name(name_or_arn: &str) -> String {
    S3_BUCKET_ARN_RE
        .captures(name_or_arn)
        .and_then(|c| c.get(1))
        .map_or(name_or_arn, |bucket| bucket.as_str())
        .to_owned()
}

pub(crate) fn parse_create_pool(body: &Value) -> ApiResult<CreatePoolInput> {
    let ((name, config), common) = create_input(
        "CreateMediaPipelineKinesisVideoStreamPoolRequest",
        body,
        |input| {
            Ok((
                text(input, "PoolName"),
                input["StreamConfiguration"].clone(),
            ))
        },
    )?;
    Ok(CreatePoolInput {
        name,
        stream_region: text(&config, "Region"),
        data_retention_in_hours: config["DataRetentionInHours"]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok()),
        token: common.token,
        tags: common.tags,
        fingerprint: common.fingerprint,
    })
}

/// The new `DataRetentionInHours`, if the update carries one.
pub(crate) fn parse_update_pool(body: &Value) -> ApiResult<Option<i32>> {
    let obj = structure(body, "")?;
    let Some(config) = member(obj, "StreamConfiguration") else {
        return Ok(None);
    };
    let config = structure(config, "StreamConfiguration")?;
    let retention = member(config, "DataRetentionInHours")
        .map(|v| integer(v, "StreamConfiguration.DataRetentionInHours", 1, None))
        .transpose()?;
    Ok(retention.and_then(|n| i32::try_from(n).ok()))
}

fn resource_arn(obj: &Map<String, Value>) -> ApiResult<String> {
    let s = string(required(obj, "", "ResourceARN")?, "ResourceARN")?;
    check_resource_arn(s, "ResourceARN")?;
    Ok(s.to_owned())
}

pub(crate) fn parse_tag_resource(body: &Value) -> ApiResult<(String, Tags)> {
    let obj = structure(body, "")?;
    let arn = resource_arn(obj)?;
    let tags = check("TagList", required(obj, "", "Tags")?, "Tags")?;
    Ok((arn, tags_of(&tags)))
}

pub(crate) fn parse_untag_resource(body: &Value) -> ApiResult<(String, Vec<String>)> {
    let obj = structure(body, "")?;
    let arn = resource_arn(obj)?;
    let items = list(required(obj, "", "TagKeys")?, "TagKeys", 1, Some(200))?;
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("TagKeys[{i}]");
        let key = string(item, &at)?;
        check_string("TagKey", key, &at)?;
        keys.push(key.to_owned());
    }
    Ok((arn, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sink() -> Value {
        json!({"SinkArn": "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p",
               "SinkType": "KinesisVideoStreamPool", "ReservedStreamCapacity": 1, "MediaStreamType": "MixedAudio"})
    }

    fn message(body: Value) -> String {
        parse_create_pipeline(&body)
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    }

    #[test]
    fn names_the_member_path() {
        let source =
            json!({"SourceType": "ChimeSdkMeeting", "SourceArn": "arn:aws:chime::1:meeting/m"});
        assert_eq!(message(json!({"Sinks": [sink()]})), "Sources is required");
        let mut bad = sink();
        bad["ReservedStreamCapacity"] = json!(11);
        assert_eq!(
            message(json!({"Sources": [source], "Sinks": [sink(), bad]})),
            "Sinks[1].ReservedStreamCapacity must be between 1 and 10"
        );
        assert_eq!(
            message(json!({"Sources": [source], "Sinks": [sink()], "ClientRequestToken": "a b"})),
            "ClientRequestToken must match the pattern ^[-_a-zA-Z0-9]*$"
        );
        assert!(parse_create_pipeline(&json!({"Sources": [source], "Sinks": [sink()]})).is_ok());
    }

    /// Every shape a member or list names is in the subset, and every
    /// pattern compiles: a walk never meets a shape it lacks.
    #[test]
    fn the_model_subset_is_closed() {
        let model = &*MODEL;
        for (name, shape) in &model.shapes {
            let members = shape["members"].as_object().into_iter().flatten();
            let refs = members
                .map(|(_, m)| &m["shape"])
                .chain([&shape["member"]["shape"]]);
            for target in refs.filter_map(Value::as_str) {
                assert!(model.shapes.contains_key(target), "{name} -> {target}");
            }
        }
        assert!(model.patterns.contains_key("TileAspectRatio"));
    }

    #[test]
    fn path_identifiers() {
        assert!(check_pipeline_id("0b7c8a4e-1d2f-4c3b-9a8e-7f6d5c4b3a21").is_ok());
        assert!(check_pipeline_id("0b7c8a4e-1d2f-4c3b-9a8e-7f6d5c4b3a2z").is_err());
        assert!(check_pool_identifier("   ").is_err());
        assert_eq!(parse_max_results(Some("100")).ok(), Some(Some(100)));
        assert!(parse_max_results(Some("0")).is_err());
        assert!(parse_max_results(Some("x")).is_err());
    }
}
