//! MediaConcatenationPipeline under the skeleton: its input is its capture
//! pipeline's ARN, from a captureRef resolved once that capture finished.

use aws_sdk_chimesdkmediapipelines::types::MediaPipeline;
use kube::ResourceExt;
use kube::api::Api;
use serde::Serialize;

use super::media::{MediaKind, token};
use super::{Context, Observed};
use crate::aws::{ConcatDetail, Regional, RemoteConcat, concat_pipeline, of_type};
use crate::config::Settings;
use crate::crd::{Lifetime, MediaCapturePipeline, MediaConcatenationPipeline, PipelineStatus, Tag};
use crate::decide::concat::{self, Capture, Observation, resolve_capture_ref};
use crate::decide::refs::is_object_name;
use crate::decide::{KindInfo, Plan};
use crate::error::Error;

impl MediaKind for MediaConcatenationPipeline {
    type Detail = ConcatDetail;
    type Inputs = Capture;
    const KIND: KindInfo = concat::KIND;

    fn lifetime(&self) -> &Lifetime {
        &self.spec.lifetime
    }
    fn request(&self) -> impl Serialize {
        concat::request(&self.spec)
    }
    fn refused(&self) -> Option<Error> {
        concat::refused_change(&self.spec, self.status.as_ref()?)
    }
    async fn inputs(&self, ctx: &Context, needed: bool) -> Result<Capture, Error> {
        let source = self.spec.source();
        match (source.and_then(|s| s.capture_ref.as_ref()), source) {
            (Some(r), _) if needed => resolve(self, ctx, &r.name).await,
            (_, Some(s)) => Ok(Ok(s.media_pipeline_arn.clone().unwrap_or_default())),
            // Not needed: the ARN the status records stands for it.
            _ => Ok(Ok(String::new())),
        }
    }
    fn decide(
        &self,
        seen: Observed<'_, Self>,
        capture: &Capture,
        settings: &Settings,
    ) -> Plan<PipelineStatus, std::convert::Infallible> {
        let spec = &self.spec;
        concat::decide(
            Observation {
                seen,
                spec,
                capture,
            },
            settings,
        )
    }
    fn describe(id: &str, any: MediaPipeline) -> Result<RemoteConcat, Error> {
        concat_pipeline(of_type(
            id,
            "concatenation",
            any.media_concatenation_pipeline,
        )?)
    }
    async fn create(
        &self,
        aws: &Regional,
        capture: &Capture,
        tags: &[Tag],
    ) -> Result<RemoteConcat, Error> {
        let arn = capture
            .as_ref()
            .map_err(|why| Error::Unexpected(why.message()))?;
        aws.create_concat(&self.spec, arn, &token(self), tags).await
    }
}

/// The named capture resource's ARN once it finished, or why not.
async fn resolve(
    obj: &MediaConcatenationPipeline,
    ctx: &Context,
    name: &str,
) -> Result<Capture, Error> {
    let ns = obj.namespace().unwrap_or_default();
    // A name no object can have is not looked up (a slash would make it
    // another path).
    let found = match is_object_name(name) {
        true => {
            let captures: Api<MediaCapturePipeline> = Api::namespaced(ctx.client.clone(), &ns);
            match captures.get_opt(name).await {
                Ok(c) => c.map(|c| Ok(c.status.unwrap_or_default())),
                Err(kube::Error::SerdeError(e)) => Some(Err(e.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        false => None,
    };
    let status = found.as_ref().map(|c| c.as_ref().map_err(String::clone));
    Ok(resolve_capture_ref(&ns, name, status))
}
