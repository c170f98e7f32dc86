//! Every media pipeline kind under the skeleton at once: AWS reads, lists
//! and deletes every pipeline type with the same calls, answers each with
//! the same status, and stops a pipeline when its meeting ends. A kind
//! supplies only what is its own ([`MediaKind`]): its create, which member
//! of GetMediaPipeline's answer is its type, what its create sends (for
//! the request digest), and what it waits for.

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use aws_sdk_chimesdkmediapipelines::types::MediaPipeline;
use k8s_openapi::NamespaceResourceScope;
use kube::core::object::HasStatus;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use super::{Context, Managed, Observed};
use crate::aws::{Described, Listed, Regional};
use crate::config::Settings;
use crate::crd::{CommonSpec, Lifetime, PipelineStatus, Tag};
use crate::decide::event::Subject;
use crate::decide::media::{meeting_of, request_digest, same_id, unless_ended};
use crate::decide::{KindInfo, Plan, Read};
use crate::error::Error;

/// What a media pipeline kind adds to what every pipeline kind shares.
pub trait MediaKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + CommonSpec
    + HasStatus<Status = PipelineStatus>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// What AWS describes of this type besides the common fields.
    type Detail: Debug + Send + Sync;
    /// What the decision and the create need besides the resource (a
    /// reference resolved to an ARN).
    type Inputs: Send + Sync;
    const KIND: KindInfo;

    fn lifetime(&self) -> &Lifetime;
    /// What the create sends besides the token and tags, in a canonical
    /// form: its digest fixes it once a create may have reached AWS.
    fn request(&self) -> impl Serialize;
    /// A spec change refused before any AWS call.
    fn refused(&self) -> Option<Error>;
    /// The meetings the pipeline serves (their ARNs): once every one has
    /// ended, a pipeline AWS no longer knows finished rather than vanished.
    fn meetings(&self) -> Vec<&str> {
        vec![]
    }
    fn adopt_id(&self) -> Option<&str> {
        None
    }
    fn inputs(
        &self,
        ctx: &Context,
        needed: bool,
    ) -> impl Future<Output = Result<Self::Inputs, Error>> + Send;
    fn decide(
        &self,
        obs: Observed<'_, Self>,
        inputs: &Self::Inputs,
        settings: &Settings,
    ) -> Plan<PipelineStatus, Infallible>;
    /// This type's member of GetMediaPipeline's answer, if it is this type.
    fn describe(id: &str, any: MediaPipeline) -> Result<Described<Self::Detail>, Error>;
    /// Creates the pipeline with the resource's UID as ClientRequestToken.
    fn create(
        &self,
        aws: &Regional,
        inputs: &Self::Inputs,
        tags: &[Tag],
    ) -> impl Future<Output = Result<Described<Self::Detail>, Error>> + Send;
}

impl<K: MediaKind> Managed for K {
    type Remote = Described<K::Detail>;
    type Update = Infallible;
    type Inputs = K::Inputs;
    const KIND: KindInfo = K::KIND;

    fn adopt_id(&self) -> Option<&str> {
        MediaKind::adopt_id(self)
    }

    fn inputs(
        &self,
        ctx: &Context,
        needed: bool,
    ) -> impl Future<Output = Result<K::Inputs, Error>> + Send {
        MediaKind::inputs(self, ctx, needed)
    }

    fn decide(
        &self,
        obs: Observed<'_, Self>,
        inputs: &K::Inputs,
        settings: &Settings,
    ) -> Plan<PipelineStatus, Infallible> {
        MediaKind::decide(self, obs, inputs, settings)
    }

    async fn read(aws: &Regional, id: &str) -> Result<Option<Self::Remote>, Error> {
        match aws.get_pipeline(id).await? {
            Some(any) => K::describe(id, any).map(Some),
            None => Ok(None),
        }
    }

    /// AWS stops a pipeline when its meeting ends and removes it some time
    /// later, perhaps before any read saw it stopped: GetMeeting tells that
    /// from a removal while the meeting goes on. Nothing is asked for an
    /// adoption not yet recorded (its ID may be wrong), nor for a pipeline
    /// already finished (it stays so), nor for one that serves no meeting.
    async fn gone(&self, ctx: &Context, aws: &Regional) -> Read<Self::Remote> {
        let unasked = |s: &PipelineStatus| s.media_pipeline_id.is_none() || s.finished_at.is_some();
        let meetings = self.meetings();
        if self.status().is_none_or(unasked) || meetings.is_empty() {
            return Read::Gone;
        }
        for arn in meetings {
            let answer = match meeting_of(arn, aws.name()) {
                Some((region, id)) => Some(meeting_exists(ctx, region, id).await),
                None => None,
            };
            if let Some(verdict) = unless_ended(answer) {
                return verdict;
            }
        }
        Read::Ended
    }

    fn create(
        &self,
        aws: &Regional,
        inputs: &K::Inputs,
        tags: &[Tag],
    ) -> impl Future<Output = Result<Self::Remote, Error>> + Send {
        MediaKind::create(self, aws, inputs, tags)
    }

    async fn update(_: &Regional, _: &str, never: &Infallible) -> Result<Self::Remote, Error> {
        match *never {}
    }

    async fn list(aws: &Regional) -> Result<Vec<Listed>, Error> {
        aws.list_pipelines().await
    }

    async fn delete(aws: &Regional, id: &str) -> Result<(), Error> {
        aws.delete(id).await
    }

    fn refused(&self) -> Option<Error> {
        MediaKind::refused(self)
    }

    /// Its pipeline by ID, or a meeting it serves that ended.
    fn named_by(&self, subject: &Subject) -> bool {
        match subject {
            Subject::Pipeline(id) => {
                let recorded = self.status().and_then(|s| s.media_pipeline_id.as_deref());
                recorded.is_some_and(|r| same_id(r, id))
            }
            Subject::MeetingEnded(id) => self
                .meetings()
                .iter()
                .any(|arn| meeting_of(arn, "").is_some_and(|(_, meeting)| same_id(meeting, id))),
            Subject::Pool(_) => false,
        }
    }

    /// From now on a replay must send this request: what it sends is fixed.
    /// A pipeline found by its tags was made by an earlier request, perhaps
    /// from another spec: no digest, and the comparison with what AWS
    /// describes judges (a digest of this spec would forbid restoring the
    /// one that made it).
    fn record_attempt(&self, status: &mut PipelineStatus, sent: bool) {
        status.request_digest = sent.then(|| request_digest(&self.request()));
    }

    fn time_to_live(&self, default: Option<Duration>) -> Option<Duration> {
        match self.lifetime().ttl_seconds_after_finished {
            Some(secs) => Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0))),
            None => default,
        }
    }
}

/// GetMeeting in `region`; a failure is logged with the meeting it was
/// about, which the status (a gone pipeline, or a failed read) does not say.
async fn meeting_exists(ctx: &Context, region: &str, id: &str) -> Result<bool, Error> {
    let answer = ctx.aws.region(Some(region)).meeting_exists(id).await;
    if let Err(e) = &answer {
        warn!(meeting = %id, region = %region, error = %e, "GetMeeting failed: cannot tell whether the meeting ended");
    }
    answer
}

/// The resource's UID: the ClientRequestToken of every create for it.
pub fn token<K: Resource>(obj: &K) -> String {
    obj.uid().unwrap_or_default()
}
