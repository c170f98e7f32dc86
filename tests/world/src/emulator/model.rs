//! Input validation, following the constraints of the service model
//! (chime-sdk-media-pipelines 2021-07-15).
//!
//! Inputs are checked as raw JSON so that every violation is reported with the
//! member path the way the service does, instead of being swallowed by a
//! deserializer. Smithy patterns are applied as whole-string matches: the
//! model's unanchored patterns (e.g. `[-_a-zA-Z0-9]*` for tokens) are meant as
//! the allowed alphabet.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

pub(crate) const ARN_PATTERN: &str = r"^arn[\/\:\-\_\.a-zA-Z0-9]+$";
const TOKEN_PATTERN: &str = r"^[-_a-zA-Z0-9]*$";
const GUID_PATTERN: &str = r"^[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}$";
const POOL_NAME_PATTERN: &str = r"^[0-9a-zA-Z._-]+$";
const REGION_PATTERN: &str = r"^([a-z]+-){2,}\d+$";
const NON_EMPTY_PATTERN: &str = r"\S";

fn regex(pattern: &'static str) -> Regex {
    // The patterns are compile-time constants covered by the tests.
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("static pattern compiles")
}

static ARN_RE: LazyLock<Regex> = LazyLock::new(|| regex(ARN_PATTERN));
static TOKEN_RE: LazyLock<Regex> = LazyLock::new(|| regex(TOKEN_PATTERN));
static GUID_RE: LazyLock<Regex> = LazyLock::new(|| regex(GUID_PATTERN));
static POOL_NAME_RE: LazyLock<Regex> = LazyLock::new(|| regex(POOL_NAME_PATTERN));
static REGION_RE: LazyLock<Regex> = LazyLock::new(|| regex(REGION_PATTERN));
static NON_EMPTY_RE: LazyLock<Regex> = LazyLock::new(|| regex(NON_EMPTY_PATTERN));

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

#[derive(Debug)]
pub(crate) struct CreatePipelineInput {
    pub(crate) sources: Vec<Source>,
    pub(crate) sinks: Vec<Sink>,
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

/// Shape `Arn` (sensitive, up to 1024) or `AmazonResourceName` (up to 1011).
fn arn<'a>(value: &'a Value, path: &str, max: usize) -> ApiResult<&'a str> {
    let s = string(value, path)?;
    check_arn(s, path, max)?;
    Ok(s)
}

fn check_arn(s: &str, path: &str, max: usize) -> ApiResult<()> {
    length(s, path, 1, Some(max))?;
    pattern(s, path, &ARN_RE, ARN_PATTERN)
}

/// Shape `AmazonResourceName`, e.g. `ResourceARN` of the tagging operations.
pub(crate) fn check_resource_arn(s: &str, path: &str) -> ApiResult<()> {
    check_arn(s, path, 1011)
}

/// Shape `GuidString`, used for `mediaPipelineId` in paths.
pub(crate) fn check_pipeline_id(s: &str) -> ApiResult<()> {
    length(s, "MediaPipelineId", 36, Some(36))?;
    pattern(s, "MediaPipelineId", &GUID_RE, GUID_PATTERN)
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

fn token(obj: &Map<String, Value>) -> ApiResult<Option<String>> {
    let Some(value) = member(obj, "ClientRequestToken") else {
        return Ok(None);
    };
    let s = string(value, "ClientRequestToken")?;
    length(s, "ClientRequestToken", 2, Some(64))?;
    pattern(s, "ClientRequestToken", &TOKEN_RE, TOKEN_PATTERN)?;
    Ok(Some(s.to_owned()))
}

fn tag_list(value: &Value, prefix: &str) -> ApiResult<Tags> {
    let items = list(value, prefix, 1, Some(200))?;
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        let tag = structure(item, &at)?;
        let key_path = path(&at, "Key");
        let key = string(required(tag, &at, "Key")?, &key_path)?;
        length(key, &key_path, 1, Some(128))?;
        let value_path = path(&at, "Value");
        let value = string(required(tag, &at, "Value")?, &value_path)?;
        length(value, &value_path, 0, Some(256))?;
        tags.push((key.to_owned(), value.to_owned()));
    }
    Ok(tags)
}

fn optional_tags(obj: &Map<String, Value>) -> ApiResult<Tags> {
    member(obj, "Tags").map_or(Ok(Vec::new()), |v| tag_list(v, "Tags"))
}

fn fingerprint(obj: &Map<String, Value>) -> Value {
    let mut copy = obj.clone();
    copy.remove("ClientRequestToken");
    copy.retain(|_, v| !v.is_null());
    Value::Object(copy)
}

pub(crate) fn parse_create_pipeline(body: &Value) -> ApiResult<CreatePipelineInput> {
    let obj = structure(body, "")?;

    let raw_sources = list(required(obj, "", "Sources")?, "Sources", 1, None)?;
    let mut sources = Vec::with_capacity(raw_sources.len());
    for (i, item) in raw_sources.iter().enumerate() {
        let at = format!("Sources[{i}]");
        let source = structure(item, &at)?;
        let type_path = path(&at, "SourceType");
        let source_type = string(required(source, &at, "SourceType")?, &type_path)?;
        one_of(source_type, &type_path, &["ChimeSdkMeeting"])?;
        let source_arn = arn(
            required(source, &at, "SourceArn")?,
            &path(&at, "SourceArn"),
            1024,
        )?;
        sources.push(Source {
            source_type: source_type.to_owned(),
            source_arn: source_arn.to_owned(),
        });
    }

    let raw_sinks = list(required(obj, "", "Sinks")?, "Sinks", 1, Some(2))?;
    let mut sinks = Vec::with_capacity(raw_sinks.len());
    for (i, item) in raw_sinks.iter().enumerate() {
        let at = format!("Sinks[{i}]");
        let sink = structure(item, &at)?;
        let sink_arn = arn(required(sink, &at, "SinkArn")?, &path(&at, "SinkArn"), 1024)?;
        let type_path = path(&at, "SinkType");
        let sink_type = string(required(sink, &at, "SinkType")?, &type_path)?;
        one_of(sink_type, &type_path, &["KinesisVideoStreamPool"])?;
        let capacity_path = path(&at, "ReservedStreamCapacity");
        let capacity = integer(
            required(sink, &at, "ReservedStreamCapacity")?,
            &capacity_path,
            1,
            Some(10),
        )?;
        let media_path = path(&at, "MediaStreamType");
        let media = string(required(sink, &at, "MediaStreamType")?, &media_path)?;
        one_of(media, &media_path, &["MixedAudio", "IndividualAudio"])?;
        sinks.push(Sink {
            sink_arn: sink_arn.to_owned(),
            sink_type: sink_type.to_owned(),
            reserved_stream_capacity: capacity,
            media_stream_type: media.to_owned(),
        });
    }

    Ok(CreatePipelineInput {
        sources,
        sinks,
        token: token(obj)?,
        tags: optional_tags(obj)?,
        fingerprint: fingerprint(obj),
    })
}

pub(crate) fn parse_create_pool(body: &Value) -> ApiResult<CreatePoolInput> {
    let obj = structure(body, "")?;

    let config = structure(
        required(obj, "", "StreamConfiguration")?,
        "StreamConfiguration",
    )?;
    let region_path = "StreamConfiguration.Region";
    let stream_region = string(
        required(config, "StreamConfiguration", "Region")?,
        region_path,
    )?;
    length(stream_region, region_path, 1, Some(32))?;
    pattern(stream_region, region_path, &REGION_RE, REGION_PATTERN)?;
    let retention = member(config, "DataRetentionInHours")
        .map(|v| integer(v, "StreamConfiguration.DataRetentionInHours", 0, None))
        .transpose()?;

    let name = string(required(obj, "", "PoolName")?, "PoolName")?;
    length(name, "PoolName", 1, Some(128))?;
    pattern(name, "PoolName", &POOL_NAME_RE, POOL_NAME_PATTERN)?;

    Ok(CreatePoolInput {
        name: name.to_owned(),
        stream_region: stream_region.to_owned(),
        data_retention_in_hours: retention.and_then(|n| i32::try_from(n).ok()),
        token: token(obj)?,
        tags: optional_tags(obj)?,
        fingerprint: fingerprint(obj),
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
    let tags = tag_list(required(obj, "", "Tags")?, "Tags")?;
    Ok((arn, tags))
}

pub(crate) fn parse_untag_resource(body: &Value) -> ApiResult<(String, Vec<String>)> {
    let obj = structure(body, "")?;
    let arn = resource_arn(obj)?;
    let items = list(required(obj, "", "TagKeys")?, "TagKeys", 1, Some(200))?;
    let mut keys = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("TagKeys[{i}]");
        let key = string(item, &at)?;
        length(key, &at, 1, Some(128))?;
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
            format!("ClientRequestToken must match the pattern {TOKEN_PATTERN}")
        );
        assert!(parse_create_pipeline(&json!({"Sources": [source], "Sinks": [sink()]})).is_ok());
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
