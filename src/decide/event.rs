//! What an Amazon Chime SDK event, as EventBridge delivers it to an SQS
//! queue, names: the media pipeline, the pool, or the meeting whose
//! resources should read AWS now. Events are hints: the read decides.

use jiff::Timestamp;
use serde_json::Value;

pub const PIPELINE_CHANGE: &str = "Chime Media Pipeline State Change";
pub const POOL_CHANGE: &str = "Chime Media Pipeline Kinesis Video Pool State Change";
pub const MEETING_CHANGE: &str = "Chime Meeting State Change";
pub const MEETING_ENDED: &str = "chime:MeetingEnded";

/// The event types the operator counts by name (any other is "other", so
/// that a new type AWS adds cannot grow the metrics without bound).
pub const KNOWN_TYPES: [&str; 16] = [
    "chime:MediaPipelineInProgress",
    "chime:MediaPipelineDeleted",
    "chime:MediaPipelineTemporaryFailure",
    "chime:MediaPipelinePermanentFailure",
    "chime:MediaPipelineKinesisVideoStreamStart",
    "chime:MediaPipelineKinesisVideoStreamEnd",
    "chime:MediaPipelineKinesisVideoStreamPoolActive",
    "chime:MediaPipelineKinesisVideoStreamPoolUpdated",
    "chime:MediaPipelineKinesisVideoStreamPoolDeleted",
    "chime:MediaPipelineKinesisVideoStreamPoolTemporaryFailure",
    "chime:MediaPipelineKinesisVideoStreamPoolPermanentFailure",
    "chime:MediaPipelineKinesisVideoStreamPoolStreamLimitExceeded",
    MEETING_ENDED,
    "chime:MeetingStarted",
    "chime:AttendeeJoined",
    "chime:AttendeeLeft",
];

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A media pipeline, by ID (any pipeline type).
    Pipeline(String),
    /// A Kinesis Video Stream pool, by ARN.
    Pool(String),
    /// A meeting that ended, by ID: the pipelines serving it.
    MeetingEnded(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// The event type, as counted (one of [`KNOWN_TYPES`], or "other").
    pub event_type: &'static str,
    pub subject: Subject,
    /// When AWS says the change happened.
    pub time: Option<Timestamp>,
    /// The account the event comes from.
    pub account: Option<String>,
}

/// A message body, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Hint(Hint),
    /// Not about anything the operator follows (another source, another
    /// detail type, a meeting event other than its end): why.
    Foreign(String),
    /// Not an EventBridge event, or one lacking what its type must name.
    Malformed(String),
}

/// Reads a message body.
pub fn parse(body: &str) -> Parsed {
    let event: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Parsed::Malformed(format!("not JSON: {e}")),
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    let (source, detail_type) = (text(&event["source"]), text(&event["detail-type"]));
    let detail = &event["detail"];
    let event_type = counted(detail["eventType"].as_str());
    let named = |field: &str| text(&detail[field]).filter(|s| !s.is_empty());
    let subject = match (source.as_deref(), detail_type.as_deref()) {
        (Some("aws.chime"), Some(PIPELINE_CHANGE)) => {
            named("mediaPipelineId").map(Subject::Pipeline)
        }
        (Some("aws.chime"), Some(POOL_CHANGE)) => named("poolArn").map(Subject::Pool),
        (Some("aws.chime"), Some(MEETING_CHANGE)) if event_type == MEETING_ENDED => {
            named("meetingId").map(Subject::MeetingEnded)
        }
        (Some("aws.chime"), Some(MEETING_CHANGE)) => {
            return Parsed::Foreign(format!("meeting event {event_type}"));
        }
        (None, _) | (_, None) => {
            return Parsed::Malformed("no source or detail-type: not an EventBridge event".into());
        }
        (Some(s), Some(t)) => return Parsed::Foreign(format!("{s}: {t}")),
    };
    let Some(subject) = subject else {
        return Parsed::Malformed(format!("{event_type} names no pipeline, pool or meeting"));
    };
    Parsed::Hint(Hint {
        event_type,
        subject,
        time: when(&event),
        account: text(&event["account"]),
    })
}

fn counted(event_type: Option<&str>) -> &'static str {
    let known = KNOWN_TYPES.iter().find(|t| Some(**t) == event_type);
    known.copied().unwrap_or("other")
}

/// The detail's timestamp (milliseconds, as a number or a string), else the
/// event's time (seconds).
fn when(event: &Value) -> Option<Timestamp> {
    let ms = &event["detail"]["timestamp"];
    let ms = ms
        .as_i64()
        .or_else(|| ms.as_str().and_then(|s| s.parse().ok()));
    ms.and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .or_else(|| event["time"].as_str().and_then(|t| t.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: &str, detail: Value) -> String {
        json!({"version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.chime",
            "account": "111122223333", "time": "2026-12-06T10:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail})
        .to_string()
    }

    fn hint(body: &str) -> Hint {
        match parse(body) {
            Parsed::Hint(h) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_followed_change_names_its_subject() {
        let p = hint(&event(
            PIPELINE_CHANGE,
            json!({"eventType": "chime:MediaPipelineInProgress",
            "timestamp": 1_796_000_000_123_i64, "mediaPipelineId": "p1", "meetingId": "m1"}),
        ));
        assert_eq!(p.subject, Subject::Pipeline("p1".into()));
        assert_eq!(p.event_type, "chime:MediaPipelineInProgress");
        assert_eq!(p.time.map(|t| t.as_millisecond()), Some(1_796_000_000_123));
        let pool = hint(&event(
            POOL_CHANGE,
            json!({"eventType": "chime:MediaPipelineKinesisVideoStreamPoolActive",
            "poolArn": "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p"}),
        ));
        assert!(matches!(pool.subject, Subject::Pool(ref a) if a.ends_with("/p")));
        let ended = hint(&event(
            MEETING_CHANGE,
            json!({"eventType": MEETING_ENDED, "meetingId": "m1"}),
        ));
        assert_eq!(ended.subject, Subject::MeetingEnded("m1".into()));
        // No detail timestamp: the event's time.
        assert_eq!(ended.time, "2026-12-06T10:00:00Z".parse().ok());
    }

    #[test]
    fn what_the_operator_does_not_follow_is_told_apart_from_garbage() {
        let started = event(
            MEETING_CHANGE,
            json!({"eventType": "chime:MeetingStarted", "meetingId": "m"}),
        );
        assert!(matches!(parse(&started), Parsed::Foreign(_)));
        let other = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
        assert!(matches!(parse(&other.to_string()), Parsed::Foreign(_)));
        assert!(matches!(parse("{not json"), Parsed::Malformed(_)));
        assert!(matches!(parse("{}"), Parsed::Malformed(_)));
        let nameless = event(
            PIPELINE_CHANGE,
            json!({"eventType": "chime:MediaPipelineDeleted"}),
        );
        assert!(matches!(parse(&nameless), Parsed::Malformed(_)));
        let new_type = event(
            PIPELINE_CHANGE,
            json!({"eventType": "chime:Brand New", "mediaPipelineId": "p"}),
        );
        assert_eq!(hint(&new_type).event_type, "other");
    }
}
