//! MediaCapturePipeline under the skeleton: it needs nothing besides its
//! spec, and finishes when its meeting ends.

use aws_sdk_chimesdkmediapipelines::types::MediaPipeline;
use serde::Serialize;

use super::media::{MediaKind, token};
use super::{Context, Observed};
use crate::aws::{CaptureDetail, Regional, RemoteCapture, capture_pipeline, of_type};
use crate::config::Settings;
use crate::crd::{Lifetime, MediaCapturePipeline, PipelineStatus, Tag};
use crate::decide::capture::{self, Observation};
use crate::decide::{KindInfo, Plan};
use crate::error::Error;

impl MediaKind for MediaCapturePipeline {
    type Detail = CaptureDetail;
    type Inputs = ();
    const KIND: KindInfo = capture::KIND;

    fn lifetime(&self) -> &Lifetime {
        &self.spec.lifetime
    }
    fn request(&self) -> impl Serialize {
        capture::request(&self.spec)
    }
    fn refused(&self) -> Option<Error> {
        capture::refused_change(&self.spec, self.status.as_ref()?)
    }
    fn meetings(&self) -> Vec<&str> {
        vec![&self.spec.source_arn]
    }
    async fn inputs(&self, _: &Context, _: bool) -> Result<(), Error> {
        Ok(())
    }
    fn decide(
        &self,
        seen: Observed<'_, Self>,
        _: &(),
        settings: &Settings,
    ) -> Plan<PipelineStatus, std::convert::Infallible> {
        let spec = &self.spec;
        capture::decide(Observation { seen, spec }, settings)
    }
    fn describe(id: &str, any: MediaPipeline) -> Result<RemoteCapture, Error> {
        capture_pipeline(of_type(id, "capture", any.media_capture_pipeline)?)
    }
    async fn create(&self, aws: &Regional, _: &(), tags: &[Tag]) -> Result<RemoteCapture, Error> {
        aws.create_capture(&self.spec, &token(self), tags).await
    }
}
