//! The MediaStreamPipeline decision: create while no pipeline is recorded
//! (or read the adopted one), then follow AWS; sources and sinks are
//! compared, never updated (AWS has no update for them).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::pool::ACTIVE;
use super::{
    Action, FINISHED, GONE, KindInfo, ManagedStatus, Phase, Plan, Remote, RemoteObject, SYNCED,
    SYNCED_OK, Seen, desired_tags, next_read, set_condition, set_observed, settle_status,
    tag_actions, with_error, with_gone,
};
use crate::aws::RemotePipeline;
use crate::config::Settings;
use crate::crd::{
    KinesisVideoStreamPoolStatus, MediaStreamPipelineSpec, MediaStreamPipelineStatus,
    MediaStreamSink, MediaStreamSource,
};
use crate::error::{Error, Retry};
use crate::metrics;

pub const KIND: KindInfo = KindInfo {
    metrics: metrics::Kind::Pipeline,
    noun: "media pipeline",
    gone_reason: "PipelineGone",
    arn_type: ":media-pipeline/",
    // A pipeline per meeting: a Created and a Deleted Event per meeting
    // would be two more writes to the API server each (the status already
    // records the create), held 6 minutes in the Event recorder's cache.
    routine_events: false,
};

/// Pipelines have nothing AWS can update in place.
pub type PipelineAction = Action<std::convert::Infallible>;
pub type PipelinePlan = Plan<MediaStreamPipelineStatus, std::convert::Infallible>;

impl ManagedStatus for MediaStreamPipelineStatus {
    fn remote_id(&self) -> Option<&str> {
        self.media_pipeline_id.as_deref()
    }
    fn remote_arn(&self) -> Option<&str> {
        self.media_pipeline_arn.as_deref()
    }
    fn remote_state(&self) -> Option<&str> {
        self.pipeline_status.as_deref()
    }
    fn set_remote_state(&mut self, state: &str) {
        self.pipeline_status = Some(state.into());
    }
    fn phase(&self) -> Phase {
        if self.finished_at.is_some() {
            return Phase::Finished;
        }
        match self.pipeline_status.as_deref() {
            Some("Stopped" | "Failed" | GONE) => Phase::Final,
            Some("InProgress" | "Paused" | "NotStarted") => Phase::Steady,
            _ => Phase::Changing,
        }
    }
    fn updated_timestamp(&self) -> Option<&str> {
        self.updated_timestamp.as_deref()
    }
    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    fn set_region(&mut self, region: &str) {
        self.region = Some(region.into());
    }
    fn observed_generation(&self) -> Option<i64> {
        self.observed_generation
    }
    fn set_observed_generation(&mut self, generation: Option<i64>) {
        self.observed_generation = generation;
    }
    fn finished_at(&self) -> Option<&str> {
        self.finished_at.as_deref()
    }
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.last_handled_reconcile_at.as_deref()
    }
    fn set_last_handled_reconcile_at(&mut self, value: Option<String>) {
        self.last_handled_reconcile_at = value;
    }
    fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    fn conditions_mut(&mut self) -> &mut Vec<Condition> {
        &mut self.conditions
    }
}

impl RemoteObject for RemotePipeline {
    type Status = MediaStreamPipelineStatus;
    fn id(&self) -> &str {
        &self.id
    }
    fn arn(&self) -> &str {
        &self.arn
    }
    fn fold(&self, status: Self::Status, generation: Option<i64>, now: Timestamp) -> Self::Status {
        with_remote(status, self, generation, now)
    }
}

/// Why the spec's sinks do not resolve to ARNs.
#[derive(Debug)]
pub enum Unresolved {
    /// A referenced pool is missing or not ACTIVE yet: it may come.
    Waiting(String),
    /// Only a person can help (a name no object can have, a pool that
    /// failed or is gone): the error says which.
    Refused(Error),
}

/// The spec's sinks with pool references resolved to ARNs.
pub type Sinks = Result<Vec<MediaStreamSink>, Unresolved>;

impl Unresolved {
    pub fn message(&self) -> String {
        match self {
            Unresolved::Waiting(why) => why.clone(),
            Unresolved::Refused(err) => err.to_string(),
        }
    }
}

/// A sink's pool reference against what the API server holds: the pool's
/// ARN, or why not. `pool` is the pool resource's status (None: no such
/// resource; `Err`: a pool the operator cannot read, with why).
pub fn resolve_pool_ref(
    ns: &str,
    name: &str,
    pool: Option<Result<&KinesisVideoStreamPoolStatus, String>>,
) -> Result<String, Unresolved> {
    let what = format!("MediaPipelineKinesisVideoStreamPool {ns}/{name}");
    if !is_object_name(name) {
        return Err(Unresolved::Refused(Error::InvalidReference(format!(
            "spec.sinks[].poolRef.name {name:?} is not a Kubernetes object name (a pool of \
             this namespace, lower case, no slash): no such pool can exist; fix the name"
        ))));
    }
    let status = match pool {
        None => {
            return Err(Unresolved::Waiting(format!(
                "Waiting for {what}: it does not exist"
            )));
        }
        Some(Err(why)) => {
            return Err(Unresolved::Refused(Error::InvalidReference(format!(
                "{what} cannot be read: {why}"
            ))));
        }
        Some(Ok(status)) => status,
    };
    match (&status.pool_arn, status.pool_status.as_deref()) {
        (Some(arn), Some(ACTIVE)) => Ok(arn.clone()),
        (_, Some(state @ ("FAILED" | GONE))) => Err(Unresolved::Refused(Error::InvalidReference(
            format!("{what} is {state}: fix or recreate the pool, or name another one"),
        ))),
        (_, state) => Err(Unresolved::Waiting(format!(
            "Waiting for {what} to be ACTIVE (it is {})",
            state.unwrap_or("not created yet")
        ))),
    }
}

/// A Kubernetes object name (RFC 1123 subdomain), as the CRD's pattern for
/// poolRef.name ([`crate::crd::OBJECT_NAME_PATTERN`]) and maxLength say.
pub fn is_object_name(name: &str) -> bool {
    let label = |l: &str| {
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let bytes = l.as_bytes();
        bytes.first().is_some_and(|&b| alnum(b))
            && bytes.last().is_some_and(|&b| alnum(b))
            && bytes.iter().all(|&b| alnum(b) || b == b'-')
    };
    name.len() <= 253 && name.split('.').all(label)
}

#[derive(Debug)]
pub struct Observation<'a> {
    pub seen: Seen<'a, MediaStreamPipelineStatus, RemotePipeline>,
    pub spec: &'a MediaStreamPipelineSpec,
    /// The spec's sinks with pool references resolved to ARNs, or why they
    /// cannot be yet (a referenced pool is missing or not ACTIVE).
    pub sinks: &'a Sinks,
}

pub fn decide(obs: Observation<'_>, settings: &Settings) -> PipelinePlan {
    let status = obs.seen.status.cloned().unwrap_or_default();
    if let Some(err) = refused_change(obs.spec, &status) {
        return PipelinePlan::idle(
            with_error(status, &err, obs.seen.generation, obs.seen.now),
            None,
        );
    }
    match (&status.media_pipeline_id, &obs.spec.adopt_media_pipeline_id) {
        (None, Some(adopt)) => adopt_existing(&obs, status, adopt, settings),
        (None, None) => create(&obs, status, settings),
        (Some(_), _) => follow(&obs, status, settings),
    }
}

/// A change the recorded pipeline cannot follow, found without asking AWS:
/// another adopted ID, another region, or other sources or sinks than a
/// create that may have reached AWS was sent with.
pub fn refused_change(
    spec: &MediaStreamPipelineSpec,
    status: &MediaStreamPipelineStatus,
) -> Option<Error> {
    if let Some(sent) = &status.request_digest
        && *sent != request_digest(spec)
    {
        return Some(Error::ImmutableFieldChanged(
            "spec.sources and spec.sinks cannot change once a create may have reached AWS \
             (status.requestDigest): restore them, or create a new MediaStreamPipeline"
                .into(),
        ));
    }
    let id = status.media_pipeline_id.as_ref()?;
    if let Some(adopt) = &spec.adopt_media_pipeline_id
        && !same_id(id, adopt)
    {
        return Some(Error::ImmutableFieldChanged(format!(
            "spec.adoptMediaPipelineId is {adopt}, but this resource already manages {id}"
        )));
    }
    match (&spec.region, &status.region) {
        (Some(want), Some(have)) if want != have => Some(Error::ImmutableFieldChanged(format!(
            "spec.region cannot change once the media pipeline exists (it lives in {have}); \
             restore it, or create a new MediaStreamPipeline"
        ))),
        _ => None,
    }
}

/// The digest of what a create sends besides the token and tags: sources
/// and sinks, in a canonical order, as the spec gives them.
pub fn request_digest(spec: &MediaStreamPipelineSpec) -> String {
    use sha2::{Digest, Sha256};
    let mut sources = spec.sources.clone();
    sources.sort();
    let mut sinks = spec.sinks.clone();
    sinks.sort();
    // Serializing our own plain types cannot fail.
    let canonical = serde_json::to_vec(&(sources, sinks)).unwrap_or_default();
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Adoption: read the named pipeline, never create one.
fn adopt_existing(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    adopt: &str,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.seen.generation, obs.seen.now);
    match obs.seen.remote {
        // Tagged from the first read, identity and Retain included, so
        // that nothing (a sweep, a lookup) can take it for another's.
        Remote::Found { remote, tags } => follow_found(obs, status, remote, tags, settings),
        Remote::Gone | Remote::Ended => {
            let err = Error::NotFound(format!(
                "media pipeline {adopt} (spec.adoptMediaPipelineId) does not exist in {}; nothing is created",
                obs.seen.region
            ));
            PipelinePlan::idle(with_error(status, &err, generation, now), None)
        }
        Remote::Failed(err) => PipelinePlan::idle(with_error(status, err, generation, now), None),
        Remote::Unread => PipelinePlan::idle(status, Some(settings.poll_min)),
    }
}

/// No pipeline recorded: create it once every sink resolves.
fn create(
    obs: &Observation<'_>,
    mut status: MediaStreamPipelineStatus,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.seen.generation, obs.seen.now);
    if let Err(Unresolved::Refused(err)) = obs.sinks {
        return PipelinePlan::idle(with_error(status, err, generation, now), None);
    }
    if let Err(Unresolved::Waiting(waiting)) = obs.sinks {
        status.observed_generation = generation;
        set_observed(
            &mut status.conditions,
            false,
            "WaitingForPool",
            waiting,
            generation,
            now,
        );
        settle_status(&mut status, generation, now);
        // The pool's own changes wake this resource; the requeue is a backstop.
        return PipelinePlan::idle(status, Some(settings.refresh_interval));
    }
    // User tags go on after the create: the create's input is then fixed by
    // immutable fields alone, so a replay with the same token always
    // matches, however the tags were edited meanwhile.
    let desired = desired_tags(&obs.spec.tags, obs.seen.own_tags);
    let mut actions = vec![Action::Create];
    actions.extend(tag_actions(&desired, obs.seen.create_tags));
    PipelinePlan {
        actions,
        status,
        requeue: None,
    }
}

/// A pipeline is recorded: follow what AWS says of it, and bring its tags to
/// the spec. It is never recreated.
fn follow(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    settings: &Settings,
) -> PipelinePlan {
    let (generation, now) = (obs.seen.generation, obs.seen.now);
    match obs.seen.remote {
        Remote::Unread => {
            let requeue = next_read(&status, settings, now);
            PipelinePlan::idle(status, requeue)
        }
        // The controller retries failures on its own backoff.
        Remote::Failed(err) => PipelinePlan::idle(with_error(status, err, generation, now), None),
        // AWS removes a pipeline some time after its meeting ended: it stays
        // finished.
        Remote::Gone if status.finished_at.is_some() => {
            PipelinePlan::idle(finished_gone(status, generation, now), None)
        }
        // Its meetings ended between two reads: it stopped, and AWS removed
        // it before a read saw it stopped. Finished all the same.
        Remote::Ended => PipelinePlan::idle(finished_gone(status, generation, now), None),
        Remote::Gone => PipelinePlan::idle(
            with_gone(
                status,
                KIND.gone_reason,
                "AWS no longer knows this media pipeline, and its meeting goes on (or GetMeeting \
                 could not tell: the operator's log says why); it is not recreated. Delete this \
                 resource, or create a new one for a new pipeline.",
                generation,
                now,
            ),
            None,
        ),
        Remote::Found { remote, tags } => follow_found(obs, status, remote, tags, settings),
    }
}

/// AWS described the pipeline: the status says what, and its tags (when
/// read) are brought to the spec's, unless the spec no longer matches it.
fn follow_found(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    remote: &RemotePipeline,
    tags: &Option<Vec<crate::crd::Tag>>,
    settings: &Settings,
) -> PipelinePlan {
    let (status, refused) = found(obs, status, remote);
    let actions = match tags {
        Some(t) if !refused => tag_actions(&desired_tags(&obs.spec.tags, obs.seen.own_tags), t),
        _ => vec![],
    };
    let requeue = next_read(&status, settings, obs.seen.now);
    PipelinePlan {
        actions,
        status,
        requeue,
    }
}

/// The status after AWS described the pipeline, and whether the spec's
/// sources or sinks no longer match it (refused: nothing else is done).
fn found(
    obs: &Observation<'_>,
    status: MediaStreamPipelineStatus,
    remote: &RemotePipeline,
) -> (MediaStreamPipelineStatus, bool) {
    let mut status = with_remote(status, remote, obs.seen.generation, obs.seen.now);
    status.region = Some(obs.seen.region.to_string());
    match immutable_change(obs.spec, obs.sinks, remote) {
        Some(msg) => {
            let err = Error::ImmutableFieldChanged(msg);
            (
                with_error(status, &err, obs.seen.generation, obs.seen.now),
                true,
            )
        }
        None => (status, false),
    }
}

/// The status after AWS described the pipeline (a create or a read).
pub fn with_remote(
    mut status: MediaStreamPipelineStatus,
    p: &RemotePipeline,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    status.media_pipeline_id = Some(p.id.clone());
    status.media_pipeline_arn = Some(p.arn.clone());
    status.pipeline_status = Some(p.status.clone());
    status.created_timestamp = p.created.map(|t| t.to_string());
    status.updated_timestamp = p.updated.map(|t| t.to_string());
    status.observed_generation = generation;
    let (ready, reason, message) = match p.status.as_str() {
        "InProgress" => (true, "InProgress", "The media pipeline is streaming."),
        "Initializing" => (false, "Initializing", "The media pipeline is starting."),
        "Stopping" => (false, "Stopping", "The media pipeline is stopping."),
        "Stopped" => return with_finished(status, p, generation, now),
        "Failed" => (false, "Failed", "The media pipeline failed in AWS."),
        "Paused" => (false, "Paused", "The media pipeline is paused."),
        "NotStarted" => (false, "NotStarted", "The media pipeline has not started."),
        _ => (
            false,
            "UnknownStatus",
            "AWS reports a status this operator does not know.",
        ),
    };
    set_observed(
        &mut status.conditions,
        ready,
        reason,
        message,
        generation,
        now,
    );
    settle_status(&mut status, generation, now);
    status
}

/// A stopped pipeline has finished: its meeting ended. Not Ready, and
/// nothing for a person to do: Finished says so, with when.
fn with_finished(
    mut status: MediaStreamPipelineStatus,
    p: &RemotePipeline,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    if status.finished_at.is_none() {
        status.finished_at = Some(p.updated.unwrap_or(now).to_string());
    }
    let message = "The media pipeline stopped: its meeting ended.";
    finished(status, "Stopped", message, generation, now)
}

/// A finished pipeline that AWS has since removed stays finished; one that
/// no read saw stopped finished, as far as we know, now (its time to live
/// counts from then: later than the stop, never earlier).
fn finished_gone(
    mut status: MediaStreamPipelineStatus,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    status.finished_at.get_or_insert_with(|| now.to_string());
    status.pipeline_status = Some(GONE.into());
    status.observed_generation = generation;
    let message = "The media pipeline stopped when its meeting ended; AWS has since removed it.";
    finished(status, "Removed", message, generation, now)
}

/// Finished=True with why, and Synced: AWS answered.
fn finished(
    mut status: MediaStreamPipelineStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> MediaStreamPipelineStatus {
    let conditions = &mut status.conditions;
    set_condition(conditions, FINISHED, true, reason, message, generation, now);
    set_condition(
        conditions, SYNCED, true, "Synced", SYNCED_OK, generation, now,
    );
    settle_status(&mut status, generation, now);
    status
}

/// Did the spec's sources or sinks change since the pipeline was created?
/// Sinks compare once resolved to ARNs; unresolvable ones are not judged.
fn immutable_change(
    spec: &MediaStreamPipelineSpec,
    sinks: &Sinks,
    remote: &RemotePipeline,
) -> Option<String> {
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    let mut changed = vec![];
    let sources = |v: &[MediaStreamSource]| {
        let v: Vec<_> = v
            .iter()
            .map(|s| (s.source_type, arn_key(&s.source_arn)))
            .collect();
        sorted(&v)
    };
    if sources(&spec.sources) != sources(&remote.sources) {
        changed.push("spec.sources");
    }
    let sinks_of = |v: &[MediaStreamSink]| {
        let v: Vec<_> = v
            .iter()
            .map(|s| {
                let arn = s.sink_arn.as_deref().map(arn_key);
                (
                    arn,
                    s.sink_type,
                    s.reserved_stream_capacity,
                    s.media_stream_type,
                )
            })
            .collect();
        sorted(&v)
    };
    // A pool reference is judged only once resolved to its ARN: a refresh
    // does not look pools up, and an unresolved reference is no change.
    if let Ok(sinks) = sinks
        && sinks.iter().all(|s| s.pool_ref.is_none())
        && sinks_of(sinks) != sinks_of(&remote.sinks)
    {
        changed.push("spec.sinks");
    }
    (!changed.is_empty()).then(|| {
        format!(
            "{} cannot change once the media pipeline exists (AWS has no update for them); \
             restore the original values, or create a new MediaStreamPipeline",
            changed.join(" and ")
        )
    })
}

/// AWS compares IDs (GUIDs) without regard to case: so do we.
pub fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// An ARN as AWS compares it: its GUID parts (a meeting's ID) without
/// regard to case; names (a pool's) as they are.
fn arn_key(arn: &str) -> String {
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
/// the pipeline ended with them ([`Remote::Ended`]).
///
/// - The meeting goes on, or nothing can be asked: gone (`PipelineGone`),
///   as it was before GetMeeting was asked.
/// - A permanent error (Forbidden: a policy without `chime:GetMeeting`;
///   Unauthorized, BadRequest): no retry soon would tell more, so gone as
///   before; once IAM is fixed, a requested reconcile asks again.
/// - A transient error (throttled, 5xx, no answer): gone is a final
///   verdict, never read again, and nothing proves it yet; so the read
///   failed, and the controller's back-off retries it (Synced=False).
pub fn unless_ended(answer: Option<Result<bool, Error>>) -> Option<Remote<RemotePipeline>> {
    match answer {
        Some(Ok(false)) => None,
        Some(Err(e)) if e.retry() != Retry::Permanent => Some(Remote::Failed(e)),
        Some(Ok(true) | Err(_)) | None => Some(Remote::Gone),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{READY, SYNCED, refresh_due, set_condition};
    use super::*;
    use crate::crd::Tag;
    use crate::crd::{MediaStreamSource, MediaStreamType, SinkType, SourceType};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    use std::time::Duration;

    fn spec(tags: &[(&str, &str)]) -> MediaStreamPipelineSpec {
        MediaStreamPipelineSpec {
            sources: vec![MediaStreamSource {
                source_type: SourceType::ChimeSdkMeeting,
                source_arn: "arn:aws:chime:us-east-1:1:meeting/m".into(),
            }],
            sinks: vec![MediaStreamSink {
                sink_arn: Some(
                    "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p".into(),
                ),
                pool_ref: None,
                sink_type: SinkType::KinesisVideoStreamPool,
                reserved_stream_capacity: 1,
                media_stream_type: MediaStreamType::MixedAudio,
            }],
            region: None,
            adopt_media_pipeline_id: None,
            ttl_seconds_after_finished: None,
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            deletion_policy: None,
        }
    }

    fn remote(spec: &MediaStreamPipelineSpec, status: &str) -> RemotePipeline {
        RemotePipeline {
            id: "6d5caf81-8c83-487c-bf9a-a2fb52822d93".into(),
            arn: "arn:aws:chime:us-east-1:1:media-pipeline/6d5caf81".into(),
            status: status.into(),
            created: Some(Timestamp::UNIX_EPOCH),
            updated: Some(Timestamp::UNIX_EPOCH),
            sources: spec.sources.clone(),
            sinks: spec.sinks.clone(),
        }
    }

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn cond<'a>(s: &'a MediaStreamPipelineStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    fn existing(
        spec: &MediaStreamPipelineSpec,
        status: &str,
        generation: i64,
    ) -> MediaStreamPipelineStatus {
        with_remote(
            Default::default(),
            &remote(spec, status),
            Some(generation),
            now(),
        )
    }

    #[test]
    fn no_pipeline_id_means_create() {
        let spec = spec(&[]);
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: None,
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Remote::Unread,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(plan.actions, vec![PipelineAction::Create]);
    }

    #[test]
    fn a_known_pipeline_is_never_created_again() {
        let spec = spec(&[]);
        for status in ["InProgress", "Stopped", "Failed", "Initializing"] {
            let st = existing(&spec, status, 1);
            for remote_seen in [
                Remote::Unread,
                Remote::Gone,
                Remote::Failed(Error::Throttled("t".into())),
            ] {
                let plan = after_read(&st, remote_seen);
                assert!(!plan.actions.contains(&PipelineAction::Create), "{status}");
            }
        }
    }

    #[test]
    fn ready_follows_the_remote_status() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        assert_eq!(cond(&st, READY).status, "True");
        assert_eq!(cond(&st, SYNCED).status, "True");
        let st = existing(&spec, "Failed", 1);
        assert_eq!(
            (
                cond(&st, READY).status.as_str(),
                cond(&st, READY).reason.as_str()
            ),
            ("False", "Failed")
        );
    }

    /// A pipeline stops when its meeting ends: finished, not failed. It
    /// records when, is never read again, and stays finished once AWS
    /// removes it; a pipeline that vanished without stopping is Stalled.
    #[test]
    fn a_stopped_pipeline_is_finished_and_stays_so_when_aws_removes_it() {
        let spec = spec(&[]);
        let st = existing(&spec, "Stopped", 1);
        assert_eq!(st.pipeline_status.as_deref(), Some("Stopped"));
        assert_eq!(st.finished_at.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert!(st.conditions.iter().all(|c| c.type_ != READY));
        let finished = cond(&st, FINISHED);
        assert_eq!(
            (finished.status.as_str(), finished.reason.as_str()),
            ("True", "Stopped")
        );
        assert_eq!(cond(&st, "Stalled").status, "False");
        assert_eq!(cond(&st, "Reconciling").status, "False");
        assert_eq!(st.phase(), Phase::Finished);

        let gone = after_read(&st, Remote::Gone);
        assert_eq!(gone.status.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(gone.status.finished_at, st.finished_at);
        assert_eq!(cond(&gone.status, FINISHED).reason, "Removed");
        assert_eq!(cond(&gone.status, "Stalled").status, "False");
        assert_eq!(gone.requeue, None);

        let streaming = existing(&spec, "InProgress", 1);
        let vanished = after_read(&streaming, Remote::Gone);
        assert_eq!(cond(&vanished.status, "Stalled").status, "True");
        assert_eq!(cond(&vanished.status, READY).reason, "PipelineGone");
    }

    #[test]
    fn a_finished_resource_expires_after_its_time_to_live() {
        let at = "2026-11-25T12:00:00Z";
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let ttl = Some(Duration::from_secs(5));
        assert_eq!(
            super::super::expires_in(Some(at), ttl, t("2026-11-25T12:00:02Z")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            super::super::expires_in(Some(at), ttl, t("2026-11-25T12:00:09Z")),
            Some(Duration::ZERO)
        );
        assert_eq!(super::super::expires_in(Some(at), None, t(at)), None);
        assert_eq!(super::super::expires_in(None, ttl, t(at)), None);
    }

    /// A refresh does not resolve pool references: a pipeline whose sink
    /// names a pool stays Synced (it once flipped to ImmutableFieldChanged
    /// at every refresh).
    #[test]
    fn an_unresolved_pool_reference_is_no_change() {
        let mut by_ref = spec(&[]);
        by_ref.sinks[0].sink_arn = None;
        by_ref.sinks[0].pool_ref = Some(crate::crd::PoolRef { name: "p".into() });
        let st = existing(&spec(&[]), "InProgress", 1);
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    region: "us-east-1",
                    remote: &Remote::Found {
                        remote: remote(&spec(&[]), "InProgress"),
                        tags: None,
                    },
                    now: now(),
                },
                spec: &by_ref,
                sinks: &Ok(by_ref.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(cond(&plan.status, SYNCED).status, "True");
        assert_eq!(cond(&plan.status, READY).status, "True");
    }

    /// Sources and sinks may be corrected while AWS refused every create;
    /// once a create may have reached AWS, its digest fixes them.
    #[test]
    fn sources_are_fixed_once_a_create_may_have_reached_aws() {
        let old = spec(&[]);
        let mut new = old.clone();
        new.sources[0].source_arn = "arn:aws:chime:us-east-1:1:meeting/other".into();
        let refused = with_error(
            Default::default(),
            &Error::NotFound("meeting".into()),
            Some(1),
            now(),
        );
        assert!(refused_change(&new, &refused).is_none());
        let sent = MediaStreamPipelineStatus {
            request_digest: Some(request_digest(&old)),
            ..refused
        };
        assert!(refused_change(&old, &sent).is_none());
        let err = refused_change(&new, &sent).map(|e| e.reason());
        assert_eq!(err, Some("ImmutableFieldChanged"));
        // Tags are not part of the request.
        let mut tagged = old.clone();
        tagged.tags = vec![Tag {
            key: "a".into(),
            value: "b".into(),
        }];
        assert!(refused_change(&tagged, &sent).is_none());
        assert_eq!(request_digest(&old).len(), 64);
    }

    /// The plan for a recorded pipeline with `status` when a read gave `remote`.
    fn after_read(
        status: &MediaStreamPipelineStatus,
        remote: Remote<RemotePipeline>,
    ) -> PipelinePlan {
        let spec = spec(&[]);
        decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: Some(status),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &remote,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        )
    }

    /// Its meetings ended between two reads, and AWS stopped and removed
    /// the pipeline unseen: finished (Removed) from now on, never read
    /// again, nothing for a person; a stop seen before keeps its time.
    #[test]
    fn a_pipeline_removed_unseen_after_its_meeting_ended_is_finished() {
        let streaming = existing(&spec(&[]), "InProgress", 1);
        let plan = after_read(&streaming, Remote::Ended);
        assert!(plan.actions.is_empty());
        assert_eq!(plan.requeue, None);
        let st = &plan.status;
        assert_eq!(st.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(st.finished_at, Some(now().to_string()));
        assert_eq!(st.phase(), Phase::Finished);
        let finished = cond(st, FINISHED);
        assert_eq!(
            (finished.status.as_str(), finished.reason.as_str()),
            ("True", "Removed")
        );
        assert_eq!(cond(st, "Stalled").status, "False");
        assert_eq!(cond(st, SYNCED).status, "True");
        assert!(st.conditions.iter().all(|c| c.type_ != READY), "{st:?}");

        let stopped = existing(&spec(&[]), "Stopped", 1);
        let plan = after_read(&stopped, Remote::Ended);
        assert_eq!(plan.status.finished_at, stopped.finished_at);
        assert_eq!(cond(&plan.status, FINISHED).reason, "Removed");
    }

    /// GetMeeting takes the GUID at the end of a meeting's ARN, in the
    /// ARN's region (else the pipeline's); any other source names no
    /// meeting to ask about.
    #[test]
    fn a_source_arn_names_its_meeting_and_region() {
        let id = "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c10";
        let arn = format!("arn:aws:chime:eu-west-2:111122223333:meeting/{id}");
        assert_eq!(meeting_of(&arn, "us-east-1"), Some(("eu-west-2", id)));
        let arn = format!("arn:aws:chime::111122223333:meeting/{id}");
        assert_eq!(meeting_of(&arn, "us-east-1"), Some(("us-east-1", id)));
        let upper = id.to_ascii_uppercase();
        let arn = format!("arn:aws:chime:us-east-1:1:meeting/{upper}");
        assert_eq!(
            meeting_of(&arn, "us-east-1"),
            Some(("us-east-1", upper.as_str()))
        );
        for other in [
            "arn:aws:chime:us-east-1:1:meeting/m-end".to_string(),
            format!("arn:aws:chime:us-east-1:1:media-pipeline/{id}"),
            format!("arn:aws:s3:us-east-1:1:meeting/{id}"),
            format!("arn:aws:chime:us-east-1:1:meeting/{id}/x"),
            format!("meeting/{id}"),
            String::new(),
        ] {
            assert_eq!(meeting_of(&other, "us-east-1"), None, "{other}");
        }
    }

    /// Only an ended meeting finishes a gone pipeline. A meeting that goes
    /// on, or an answer no retry soon changes (IAM), is gone as before; a
    /// transient error is a failed read, retried, never a verdict.
    #[test]
    fn a_gone_pipeline_is_finished_only_by_an_ended_meeting() {
        assert!(unless_ended(Some(Ok(false))).is_none());
        assert!(matches!(unless_ended(Some(Ok(true))), Some(Remote::Gone)));
        assert!(matches!(unless_ended(None), Some(Remote::Gone)));
        for permanent in [
            Error::Forbidden("no chime:GetMeeting".into()),
            Error::Unauthorized("u".into()),
            Error::BadRequest("b".into()),
        ] {
            let verdict = unless_ended(Some(Err(permanent)));
            assert!(matches!(verdict, Some(Remote::Gone)), "{verdict:?}");
        }
        for transient in [
            Error::Throttled("t".into()),
            Error::ServiceUnavailable("s".into()),
            Error::ServiceFailure("f".into()),
            Error::Network("n".into()),
            Error::Unexpected("x".into()),
        ] {
            let reason = transient.reason();
            let verdict = unless_ended(Some(Err(transient)));
            assert!(
                matches!(&verdict, Some(Remote::Failed(e)) if e.reason() == reason),
                "{verdict:?}"
            );
        }
        // The failed read keeps the pipeline as it was, and says why.
        let streaming = existing(&spec(&[]), "InProgress", 1);
        let plan = after_read(&streaming, Remote::Failed(Error::Throttled("t".into())));
        assert_eq!(plan.status.pipeline_status.as_deref(), Some("InProgress"));
        assert_eq!(cond(&plan.status, SYNCED).reason, "Throttled");
        assert_eq!(cond(&plan.status, "Stalled").status, "False");
    }

    #[test]
    fn a_pipeline_gone_is_reported_not_recreated() {
        let spec = spec(&[]);
        let st = existing(&spec, "InProgress", 1);
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Remote::Gone,
                    now: now(),
                },
                spec: &spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        );
        assert!(plan.actions.is_empty());
        assert_eq!(plan.requeue, None);
        assert_eq!(plan.status.pipeline_status.as_deref(), Some(GONE));
        assert_eq!(cond(&plan.status, READY).reason, "PipelineGone");
    }

    #[test]
    fn changed_sinks_are_refused_without_aws_calls() {
        let old = spec(&[]);
        let st = existing(&old, "InProgress", 1);
        let mut new = old.clone();
        new.sinks[0].reserved_stream_capacity = 5;
        new.tags = vec![Tag {
            key: "a".into(),
            value: "b".into(),
        }];
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(2),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Remote::Found {
                        remote: remote(&old, "InProgress"),
                        tags: Some(vec![]),
                    },
                    now: now(),
                },
                spec: &new,
                sinks: &Ok(new.sinks.clone()),
            },
            &Settings::default(),
        );
        assert!(plan.actions.is_empty());
        let synced = cond(&plan.status, SYNCED);
        assert_eq!(
            (synced.status.as_str(), synced.reason.as_str()),
            ("False", "ImmutableFieldChanged")
        );
        assert!(synced.message.contains("spec.sinks"), "{}", synced.message);
        // The pipeline itself is still fine.
        assert_eq!(cond(&plan.status, READY).status, "True");
    }

    #[test]
    fn tags_are_brought_to_the_spec() {
        let s = spec(&[("keep", "1"), ("change", "new"), ("add", "x")]);
        let st = existing(&s, "InProgress", 1);
        let remote_tags = vec![
            Tag {
                key: "keep".into(),
                value: "1".into(),
            },
            Tag {
                key: "change".into(),
                value: "old".into(),
            },
            Tag {
                key: "drop".into(),
                value: "z".into(),
            },
        ];
        let plan = decide(
            Observation {
                seen: Seen {
                    generation: Some(2),
                    region: "us-east-1",
                    status: Some(&st),
                    create_tags: &[],
                    own_tags: &[],
                    remote: &Remote::Found {
                        remote: remote(&s, "InProgress"),
                        tags: Some(remote_tags),
                    },
                    now: now(),
                },
                spec: &s,
                sinks: &Ok(s.sinks.clone()),
            },
            &Settings::default(),
        );
        assert_eq!(
            plan.actions,
            vec![
                PipelineAction::Untag(vec!["drop".into()]),
                PipelineAction::Tag(vec![
                    Tag {
                        key: "add".into(),
                        value: "x".into()
                    },
                    Tag {
                        key: "change".into(),
                        value: "new".into()
                    },
                ]),
            ]
        );
        assert_eq!(plan.status.observed_generation, Some(2));
    }

    #[test]
    fn refresh_cadence_follows_the_remote_status() {
        let s = spec(&[]);
        let settings = Settings::default();
        let at = |status: &str, since: Option<u64>| {
            let st = existing(&s, status, 1);
            refresh_due(
                Some(1),
                Some(&st),
                since.map(Duration::from_secs),
                &settings,
                now(),
            )
        };
        // Never read by this process (a restart): read once.
        assert!(at("InProgress", None));
        assert!(!at("InProgress", Some(60)));
        assert!(at("InProgress", Some(301)));
        // Changing state: soon.
        assert!(at("Initializing", Some(16)));
        // Terminal: never, whatever the time.
        assert!(!at("Stopped", Some(100_000)));
        assert!(!at("Failed", None));
        // A spec change always reads.
        let st = existing(&s, "Stopped", 1);
        assert!(refresh_due(
            Some(2),
            Some(&st),
            Some(Duration::ZERO),
            &settings,
            now()
        ));
        // Nothing to read without a pipeline.
        assert!(!refresh_due::<MediaStreamPipelineStatus>(
            Some(1),
            None,
            None,
            &settings,
            now()
        ));
    }

    #[test]
    fn terminal_pipelines_are_not_requeued() {
        let s = spec(&[]);
        for (status, requeue) in [
            ("Stopped", None),
            ("Failed", None),
            ("InProgress", Some(Duration::from_secs(300))),
        ] {
            let st = existing(&s, status, 1);
            let plan = decide(
                Observation {
                    seen: Seen {
                        generation: Some(1),
                        region: "us-east-1",
                        status: Some(&st),
                        create_tags: &[],
                        own_tags: &[],
                        remote: &Remote::Unread,
                        now: now(),
                    },
                    spec: &s,
                    sinks: &Ok(s.sinks.clone()),
                },
                &Settings::default(),
            );
            assert_eq!(plan.requeue, requeue, "{status}");
        }
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time() {
        let mut conds = vec![];
        let t0 = now();
        let t1: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        set_condition(&mut conds, READY, false, "Initializing", "m", Some(1), t0);
        set_condition(&mut conds, READY, false, "Initializing", "m", Some(1), t1);
        assert_eq!(conds[0].last_transition_time.0, t0);
        set_condition(&mut conds, READY, true, "InProgress", "m", Some(1), t1);
        assert_eq!(conds[0].last_transition_time.0, t1);
        assert_eq!(conds.len(), 1);
    }

    #[test]
    fn a_failed_create_says_why_in_both_conditions() {
        let st = with_error(
            Default::default(),
            &Error::BadRequest("meeting not accepted".into()),
            Some(3),
            now(),
        );
        for t in [READY, SYNCED] {
            let c = cond(&st, t);
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "BadRequest")
            );
            assert!(c.message.contains("meeting not accepted"));
        }
        assert_eq!(st.observed_generation, Some(3));
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    /// The first plan for a resource with no status, given the operator's
    /// tags and what a read gave.
    fn first_plan(
        spec: &MediaStreamPipelineSpec,
        own: &[Tag],
        remote: &Remote<RemotePipeline>,
    ) -> PipelinePlan {
        decide(
            Observation {
                seen: Seen {
                    generation: Some(1),
                    region: "us-east-1",
                    status: None,
                    create_tags: own,
                    own_tags: own,
                    remote,
                    now: Timestamp::UNIX_EPOCH,
                },
                spec,
                sinks: &Ok(spec.sinks.clone()),
            },
            &Settings::default(),
        )
    }

    /// An adopted pipeline gets the identity tags and Retain from the first
    /// read, not at the first spec edit.
    #[test]
    fn an_adopted_pipeline_is_tagged_from_its_first_read() {
        let mut spec = spec(&[]);
        let found = remote(&spec, "InProgress");
        spec.adopt_media_pipeline_id = Some(found.id.clone());
        let mut own = super::super::identity_tags("c", "ns", "n", "u");
        own.push(super::super::policy_tag(true));
        let read = Remote::Found {
            remote: found,
            tags: Some(vec![]),
        };
        let plan = first_plan(&spec, &own, &read);
        let tagged = plan.actions.iter().any(|a| match a {
            PipelineAction::Tag(t) => t.contains(&tag(POLICY_TAG_KEY, "Retain")),
            _ => false,
        });
        assert!(tagged, "{:?}", plan.actions);
        assert!(!plan.actions.contains(&PipelineAction::Create));
    }

    const POLICY_TAG_KEY: &str = super::super::POLICY_TAG;

    /// User tags are applied after the create, so the create's input never
    /// depends on them.
    #[test]
    fn a_new_pipeline_gets_user_tags_after_the_create() {
        let spec: MediaStreamPipelineSpec = serde_json::from_value(serde_json::json!({
            "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": "arn:aws:chime:us-east-1:1:meeting/m"}],
            "sinks": [{"sinkType": "KinesisVideoStreamPool", "sinkArn": "arn:aws:chime:us-east-1:1:p/x", "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
            "tags": [{"key": "team", "value": "a"}],
        }))
        .unwrap();
        let own = super::super::identity_tags("c", "ns", "n", "u");
        let plan = first_plan(&spec, &own, &Remote::Unread);
        assert_eq!(
            plan.actions,
            vec![
                PipelineAction::Create,
                PipelineAction::Tag(vec![tag("team", "a")])
            ]
        );
    }

    /// AWS answers IDs and meeting GUIDs in lower case; a spec may give
    /// them in capitals (the model's pattern allows A-F).
    #[test]
    fn ids_and_guids_in_arns_compare_without_regard_to_case() {
        let id = "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c10";
        assert!(same_id(id, &id.to_ascii_uppercase()));
        assert!(!same_id(id, "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c11"));
        let meeting = |id: &str| format!("arn:aws:chime:us-east-1:1:meeting/{id}");
        assert_eq!(arn_key(&meeting(&id.to_ascii_uppercase())), meeting(id));
        // A pool's name is no GUID: its case matters.
        let pool = "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/Pool";
        assert_ne!(arn_key(pool), arn_key(&pool.to_ascii_lowercase()));
        let mut st = MediaStreamPipelineStatus {
            media_pipeline_id: Some(id.into()),
            ..Default::default()
        };
        let mut s = spec(&[]);
        s.adopt_media_pipeline_id = Some(id.to_ascii_uppercase());
        assert!(refused_change(&s, &st).is_none());
        st.media_pipeline_id = Some("00000000-0000-4000-8000-000000000000".into());
        assert!(refused_change(&s, &st).is_some());
    }

    #[test]
    fn a_pool_ref_only_a_person_can_fix_stalls_one_that_may_come_waits() {
        assert!(is_object_name("meeting-audio.v2"));
        for bad in ["other-ns/pool", "Pool", "-a", "a-", "a..b", ""] {
            assert!(!is_object_name(bad), "{bad}");
        }
        let active = KinesisVideoStreamPoolStatus {
            pool_arn: Some(
                "arn:aws:chime:us-east-1:1:media-pipeline-kinesis-video-stream-pool/p".into(),
            ),
            pool_status: Some(ACTIVE.into()),
            ..Default::default()
        };
        assert!(resolve_pool_ref("ns", "p", Some(Ok(&active))).is_ok());
        let creating = KinesisVideoStreamPoolStatus {
            pool_status: Some("CREATING".into()),
            ..Default::default()
        };
        let failed = KinesisVideoStreamPoolStatus {
            pool_status: Some("FAILED".into()),
            ..Default::default()
        };
        let cases = [
            ("p", None, false),
            ("p", Some(Ok(&creating)), false),
            ("p", Some(Ok(&failed)), true),
            ("p", Some(Err("spec.x: out of range".to_string())), true),
            ("other-ns/p", None, true),
        ];
        for (name, pool, stalls) in cases {
            let sinks = Err(resolve_pool_ref("ns", name, pool).unwrap_err());
            let plan = decide(
                Observation {
                    seen: Seen {
                        generation: Some(1),
                        status: None,
                        create_tags: &[],
                        own_tags: &[],
                        region: "us-east-1",
                        remote: &Remote::Unread,
                        now: now(),
                    },
                    spec: &spec(&[]),
                    sinks: &sinks,
                },
                &Settings::default(),
            );
            assert!(plan.actions.is_empty(), "{name}: {:?}", plan.actions);
            let stalled = cond(&plan.status, "Stalled");
            let reconciling = cond(&plan.status, "Reconciling");
            assert_eq!(stalled.status == "True", stalls, "{name}: {stalled:?}");
            assert_eq!(
                reconciling.status == "True",
                !stalls,
                "{name}: {reconciling:?}"
            );
            if stalls {
                assert_eq!(stalled.reason, "InvalidReference");
            }
        }
    }
}

#[cfg(test)]
mod kstatus_tests {
    use super::super::{RECONCILING, STALLED};
    use super::*;

    fn state(status: &MediaStreamPipelineStatus) -> (String, String) {
        let get = |t: &str| {
            status
                .conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| format!("{}:{}", c.status, c.reason))
                .unwrap_or_default()
        };
        (get(RECONCILING), get(STALLED))
    }

    fn remote(status: &str) -> RemotePipeline {
        RemotePipeline {
            id: "i".into(),
            arn: "a".into(),
            status: status.into(),
            created: None,
            updated: None,
            sources: vec![],
            sinks: vec![],
        }
    }

    #[test]
    fn progress_and_failure_are_told_apart() {
        let t = Timestamp::UNIX_EPOCH;
        let s = |st: &str| with_remote(Default::default(), &remote(st), Some(1), t);
        assert_eq!(
            state(&s("InProgress")),
            ("False:Ready".into(), "False:NotStalled".into())
        );
        assert_eq!(
            state(&s("Initializing")),
            ("True:Initializing".into(), "False:NotStalled".into())
        );
        assert_eq!(
            state(&s("Failed")),
            ("False:Stalled".into(), "True:Failed".into())
        );
        // A meeting that ended is no failure: finished, nothing to do.
        assert_eq!(
            state(&s("Stopped")),
            ("False:Finished".into(), "False:NotStalled".into())
        );
        let e = |err: Error| with_error(Default::default(), &err, Some(1), t);
        assert_eq!(state(&e(Error::Throttled("x".into()))).0, "True:Throttled");
        assert_eq!(
            state(&e(Error::ResourceLimitExceeded("x".into()))).0,
            "True:ResourceLimitExceeded"
        );
        assert_eq!(
            state(&e(Error::BadRequest("x".into()))).1,
            "True:BadRequest"
        );
        // A refused edit of an immutable field stalls even a streaming pipeline.
        let st = with_error(
            s("InProgress"),
            &Error::ImmutableFieldChanged("x".into()),
            Some(2),
            t,
        );
        assert_eq!(state(&st).1, "True:ImmutableFieldChanged");
    }
}
