//! What every media pipeline kind shares (stream, capture,
//! concatenation): the state table of MediaPipelineStatus, how AWS's
//! description is recorded, the request digest that fixes what a create
//! sends, and the meetings a pipeline serves (GetMeeting tells a pipeline
//! that ended unseen from one that vanished).

use serde::Serialize;

use super::{ManagedStatus, Phase, Read, RemoteObject, State};
use crate::aws::Described;
use crate::crd::PipelineStatus;
use crate::error::{Error, Retry};

impl ManagedStatus for PipelineStatus {
    const STATES: &'static [State] = &[
        State::new(
            "InProgress",
            Phase::Steady,
            true,
            "The media pipeline is running.",
        ),
        State::new(
            "Initializing",
            Phase::Changing,
            false,
            "The media pipeline is starting.",
        ),
        State::new(
            "Stopping",
            Phase::Changing,
            false,
            "The media pipeline is stopping.",
        ),
        State::new(
            "Stopped",
            Phase::Finished,
            false,
            "The media pipeline stopped: its meeting ended, or its work is done.",
        ),
        State::new(
            "Failed",
            Phase::Final,
            false,
            "The media pipeline failed in AWS.",
        ),
        State::new(
            "Paused",
            Phase::Steady,
            false,
            "The media pipeline is paused.",
        ),
        State::new(
            "NotStarted",
            Phase::Steady,
            false,
            "The media pipeline has not started.",
        ),
    ];
    crate::status_fields!(id: media_pipeline_id, arn: media_pipeline_arn, state: pipeline_status);
    fn finished_at(&self) -> Option<&str> {
        self.finished_at.as_deref()
    }
    fn set_finished_at(&mut self, at: String) {
        self.finished_at = Some(at);
    }
}

impl<T> RemoteObject for Described<T> {
    type Status = PipelineStatus;
    crate::remote_fields!(id: id, arn: arn, state: status);
    fn record(&self, status: &mut PipelineStatus) {
        status.media_pipeline_id = Some(self.id.clone());
        status.media_pipeline_arn = Some(self.arn.clone());
        status.pipeline_status = Some(self.status.clone());
        status.common.created_timestamp = self.created.map(|t| t.to_string());
        status.common.updated_timestamp = self.updated.map(|t| t.to_string());
    }
}

/// The digest (SHA-256, hex) of what a create sends besides the token and
/// tags, in a canonical form (the caller sorts what AWS does not order).
pub fn request_digest(request: &impl Serialize) -> String {
    use sha2::{Digest, Sha256};
    // Serializing our own plain types cannot fail.
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A create that may have reached AWS fixed its request: a spec whose
/// digest differs is refused, naming the fields that must be restored.
pub fn changed_request(status: &PipelineStatus, digest: String, fields: &str) -> Option<Error> {
    let sent = status.request_digest.as_ref()?;
    (*sent != digest).then(|| {
        Error::ImmutableFieldChanged(format!(
            "{fields} cannot change once a create may have reached AWS (status.requestDigest): \
             restore them, or create a new resource"
        ))
    })
}

/// A region edited once the object exists is refused: it lives where it
/// was made.
pub fn changed_region(spec: Option<&str>, status: &PipelineStatus) -> Option<Error> {
    match (spec, status.region()) {
        (Some(want), Some(have)) if want != have && status.media_pipeline_id.is_some() => {
            Some(Error::ImmutableFieldChanged(format!(
                "spec.region cannot change once the media pipeline exists (it lives in {have}); \
                 restore it, or create a new resource"
            )))
        }
        _ => None,
    }
}

/// A sink that is no S3 bucket, refused before any AWS call (the CRDs'
/// rules say so at admission from Kubernetes 1.25 on; older API servers
/// skip them).
pub fn refused_sink(field: &str, arn: &str) -> Option<Error> {
    (!is_s3_bucket_arn(arn)).then(|| {
        Error::InvalidSpec(format!(
            "{field} {arn:?} is not an S3 bucket ARN (arn:aws:s3:::bucket): recordings go to S3"
        ))
    })
}

/// `arn:<partition>:s3:::<bucket>[/<prefix>]`, as the CRD's rule on
/// spec.sinkArn says.
pub fn is_s3_bucket_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "s3", "", "", bucket]
        if !partition.is_empty() && !bucket.is_empty())
}

/// AWS compares IDs (GUIDs) without regard to case: so do we.
pub fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// An ARN as AWS compares it: its GUID parts (a meeting's ID) without
/// regard to case; names (a pool's) as they are.
pub fn arn_key(arn: &str) -> String {
    arn.split_inclusive([':', '/'])
        .map(|part| {
            let (body, sep) = match part.strip_suffix([':', '/']) {
                Some(body) => (body, &part[body.len()..]),
                None => (part, ""),
            };
            if is_guid(body) {
                format!("{}{sep}", body.to_ascii_lowercase())
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The model's GuidString: 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The region and ID of the meeting a source ARN names, for GetMeeting;
/// the region is the ARN's, else `pipeline_region` (an ARN may leave it
/// empty). The pipelines model gives SourceArn ("the ARN of the meeting")
/// only the pattern `^arn[\/\:\-\_\.a-zA-Z0-9]+$`; an ARN is
/// `arn:partition:service:region:account:resource`, and the meetings
/// model's MeetingId, what GetMeeting takes, is a GuidString: so
/// `arn:aws:chime:us-east-1:111122223333:meeting/<MeetingId>`. None for any
/// other shape: no meeting to ask about.
pub fn meeting_of<'a>(arn: &'a str, pipeline_region: &'a str) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "chime", region, _, resource] = parts.as_slice() else {
        return None;
    };
    let id = resource.strip_prefix("meeting/").filter(|id| is_guid(id))?;
    let region = if region.is_empty() {
        pipeline_region
    } else {
        region
    };
    Some((region, id))
}

/// What one meeting's GetMeeting answer (None: a source naming no meeting
/// to ask about) makes of a recorded pipeline AWS answered NotFound for.
/// None: that meeting ended, and the next one decides; once every one has,
/// the pipeline ended with them ([`Read::Ended`]).
///
/// - The meeting goes on, or nothing can be asked: gone (`PipelineGone`),
///   as it was before GetMeeting was asked.
/// - A permanent error (Forbidden: a policy without `chime:GetMeeting`;
///   Unauthorized, BadRequest): no retry soon would tell more, so gone as
///   before; once IAM is fixed, a requested reconcile asks again.
/// - A transient error (throttled, 5xx, no answer): gone is a final
///   verdict, never read again, and nothing proves it yet; so the read
///   failed, and the controller's back-off retries it (Synced=False).
pub fn unless_ended<R>(answer: Option<Result<bool, Error>>) -> Option<Read<R>> {
    match answer {
        Some(Ok(false)) => None,
        Some(Err(e)) if e.retry() != Retry::Permanent => Some(Read::Failed(e)),
        Some(Ok(true) | Err(_)) | None => Some(Read::Gone),
    }
}
