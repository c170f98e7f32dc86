//! MediaPipelineKinesisVideoStreamPool under the skeleton: the retention
//! updates in place, and deletion waits for the pipelines that use the pool.

use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::{Context, Managed, Observed};
use crate::aws::{Listed, Regional, RemotePool};
use crate::config::Settings;
use crate::crd::{Decoded, MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline, Tag};
use crate::decide::KindInfo;
use crate::decide::event::Subject;
use crate::decide::pool::{self, Observation, PoolPlan};
use crate::error::Error;

impl Managed for MediaPipelineKinesisVideoStreamPool {
    type Remote = RemotePool;
    /// The retention, in hours.
    type Update = i32;
    type Inputs = ();
    const KIND: KindInfo = pool::KIND;

    async fn inputs(&self, _: &Context, _: bool) -> Result<(), Error> {
        Ok(())
    }

    fn decide(&self, obs: Observed<'_, Self>, _: &(), settings: &Settings) -> PoolPlan {
        pool::decide(
            Observation {
                seen: obs,
                spec: &self.spec,
                name: &self.pool_name(),
            },
            settings,
        )
    }

    async fn read(aws: &Regional, id: &str) -> Result<Option<RemotePool>, Error> {
        aws.get_pool(id).await
    }

    async fn create(&self, aws: &Regional, _: &(), tags: &[Tag]) -> Result<RemotePool, Error> {
        let conf = &self.spec.stream_configuration;
        let token = self.uid().unwrap_or_default();
        let name = self.pool_name();
        aws.create_pool(
            &name,
            &conf.region,
            conf.data_retention_in_hours,
            &token,
            tags,
        )
        .await
    }

    async fn update(aws: &Regional, id: &str, hours: &i32) -> Result<RemotePool, Error> {
        aws.update_pool_retention(id, *hours).await
    }

    async fn list(aws: &Regional) -> Result<Vec<Listed>, Error> {
        aws.list_pools().await
    }

    async fn delete(aws: &Regional, id: &str) -> Result<(), Error> {
        aws.delete_pool(id).await
    }

    /// A pool's ARN is made of its name: once the recorded pool is gone,
    /// another resource (any namespace) may make one of the same name. The
    /// pool ID tells them apart; a pool with another ID is not ours.
    async fn still_own(&self, aws: &Regional, arn: &str) -> Result<bool, Error> {
        let recorded = self.status.as_ref().and_then(|s| s.pool_id.as_deref());
        Ok(match aws.get_pool(arn).await? {
            None => false,
            Some(found) => pool::same_pool(recorded, &found),
        })
    }

    /// Its pool, by ARN.
    fn named_by(&self, subject: &Subject) -> bool {
        let recorded = self.status.as_ref().and_then(|s| s.pool_arn.as_deref());
        matches!(subject, Subject::Pool(arn) if recorded == Some(arn.as_str()))
    }

    /// Pipelines that still name this pool keep it: deleting both at once
    /// removes the pipelines first. Their watch wakes this pool up.
    async fn blocked(&self, ctx: &Context) -> Result<Option<String>, Error> {
        let ns = self.namespace().unwrap_or_default();
        // A pipeline that does not decode must not stop the pool's deletion.
        let pipelines: Api<Decoded<MediaStreamPipeline>> = Api::namespaced(ctx.client.clone(), &ns);
        let list = pipelines.list(&ListParams::default()).await?;
        let users = pool::referencing_any(self, &list.items);
        Ok((!users.is_empty()).then(|| {
            format!(
                "deletion waits for the MediaStreamPipelines that use this pool: {}",
                users.join(", ")
            )
        }))
    }
}
