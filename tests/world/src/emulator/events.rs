//! Amazon Chime SDK's EventBridge events, as an EventBridge rule delivers
//! them to an SQS target: the whole event, as JSON, is the message body.

use jiff::Timestamp;
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) const PIPELINE_IN_PROGRESS: &str = "chime:MediaPipelineInProgress";
pub(crate) const PIPELINE_DELETED: &str = "chime:MediaPipelineDeleted";
pub(crate) const PIPELINE_TEMPORARY_FAILURE: &str = "chime:MediaPipelineTemporaryFailure";
pub(crate) const PIPELINE_PERMANENT_FAILURE: &str = "chime:MediaPipelinePermanentFailure";
pub(crate) const POOL_ACTIVE: &str = "chime:MediaPipelineKinesisVideoStreamPoolActive";
pub(crate) const POOL_UPDATED: &str = "chime:MediaPipelineKinesisVideoStreamPoolUpdated";
pub(crate) const POOL_DELETED: &str = "chime:MediaPipelineKinesisVideoStreamPoolDeleted";
pub(crate) const POOL_PERMANENT_FAILURE: &str =
    "chime:MediaPipelineKinesisVideoStreamPoolPermanentFailure";
pub(crate) const MEETING_ENDED: &str = "chime:MeetingEnded";

/// What an event is about; decides its `detail-type` and the members of
/// its `detail` beside `eventType`, `timestamp` and `mediaRegion`.
#[derive(Clone, Debug)]
pub(crate) enum Subject {
    /// `meeting_id` is the first meeting feeding it; a concatenation
    /// pipeline has none, and its events then carry no `meetingId`.
    Pipeline {
        id: String,
        meeting_id: Option<String>,
    },
    Pool {
        arn: String,
    },
    Meeting {
        id: String,
    },
}

/// A state change, not yet turned into JSON: state changes are collected
/// while the state is being walked, and published once the walk is over.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    /// When the change happened (not when it was noticed).
    pub(crate) at: Timestamp,
    pub(crate) region: String,
    pub(crate) event_type: &'static str,
    pub(crate) subject: Subject,
}

impl Change {
    /// The EventBridge event, with a fresh `id`.
    pub(crate) fn event(&self, account: &str) -> Value {
        let millis = self.at.as_millisecond();
        let (detail_type, detail) = match &self.subject {
            Subject::Pipeline { id, meeting_id } => {
                let mut detail = json!({
                    "version": "0",
                    "eventType": self.event_type,
                    "timestamp": millis,
                    "mediaPipelineId": id,
                    "mediaRegion": self.region,
                });
                if let (Some(meeting), Some(map)) = (meeting_id, detail.as_object_mut()) {
                    map.insert("meetingId".into(), meeting.as_str().into());
                }
                ("Chime Media Pipeline State Change", detail)
            }
            Subject::Pool { arn } => (
                "Chime Media Pipeline Kinesis Video Pool State Change",
                json!({
                    "version": "0",
                    "eventType": self.event_type,
                    "timestamp": millis,
                    "poolArn": arn,
                    "mediaRegion": self.region,
                }),
            ),
            Subject::Meeting { id } => (
                "Chime Meeting State Change",
                json!({
                    "version": "0",
                    "eventType": self.event_type,
                    "timestamp": millis,
                    "meetingId": id,
                    "mediaRegion": self.region,
                }),
            ),
        };
        json!({
            "version": "0",
            "id": Uuid::new_v4().to_string(),
            "detail-type": detail_type,
            "source": "aws.chime",
            "account": account,
            // EventBridge dates events to the second.
            "time": self.at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": self.region,
            "resources": [],
            "detail": detail,
        })
    }
}

/// The meeting ID a meeting ARN ends with (`...:meeting/<id>` or
/// `...:meeting:<id>`); anything else is taken as the ID itself.
pub(crate) fn meeting_id(arn: &str) -> &str {
    arn.rsplit_once(":meeting/")
        .or_else(|| arn.rsplit_once(":meeting:"))
        .map_or(arn, |(_, id)| id)
}

/// The region an ARN names (`arn:aws:chime:<region>:...`), if any.
pub(crate) fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(2).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_event_has_eventbridge_shape() {
        let change = Change {
            at: Timestamp::from_millisecond(1_700_000_000_123).unwrap(),
            region: "eu-west-2".into(),
            event_type: PIPELINE_IN_PROGRESS,
            subject: Subject::Pipeline {
                id: "p-1".into(),
                meeting_id: Some("m-1".into()),
            },
        };
        let event = change.event("111122223333");
        assert_eq!(event["detail-type"], "Chime Media Pipeline State Change");
        assert_eq!(event["time"], "2023-11-14T22:13:20Z");
        assert_eq!(event["detail"]["timestamp"], 1_700_000_000_123_i64);
        assert_eq!(event["detail"]["meetingId"], "m-1");
        assert_eq!(event["detail"]["mediaRegion"], "eu-west-2");
        assert_eq!(event["resources"], json!([]));
    }

    #[test]
    fn reads_meeting_ids_and_regions_from_arns() {
        let arn = "arn:aws:chime:us-west-2:1:meeting/abc";
        assert_eq!(meeting_id(arn), "abc");
        assert_eq!(meeting_id("arn:aws:chime:us-west-2:1:meeting:abc"), "abc");
        assert_eq!(meeting_id("abc"), "abc");
        assert_eq!(arn_region(arn), Some("us-west-2"));
        assert_eq!(arn_region("abc"), None);
    }
}
