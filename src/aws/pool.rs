//! Kinesis Video Stream pools: create, get, update and delete, and the pool
//! as AWS describes it.

use aws_sdk_chimesdkmediapipelines::types as t;
use jiff::Timestamp;

use super::client::{Listed, Regional, sdk_tags, timestamp};
use crate::crd::Tag;
use crate::error::Error;

/// The pool as AWS describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemotePool {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub size: Option<i32>,
    pub region: String,
    pub retention_hours: Option<i32>,
    pub created: Option<Timestamp>,
    pub updated: Option<Timestamp>,
}

impl Regional {
    /// ListMediaPipelineKinesisVideoStreamPools, every page; a pool's ID
    /// for Get and Delete is its ARN.
    pub async fn list_pools(&self) -> Result<Vec<Listed>, Error> {
        let mut out = vec![];
        let mut next: Option<String> = None;
        loop {
            let send = self
                .client
                .list_media_pipeline_kinesis_video_stream_pools()
                .max_results(100)
                .set_next_token(next.take())
                .send();
            let page = self
                .call("ListMediaPipelineKinesisVideoStreamPools", send)
                .await?;
            for p in page.kinesis_video_stream_pools.unwrap_or_default() {
                if let Some(arn) = p.pool_arn {
                    out.push(Listed {
                        id: arn.clone(),
                        arn,
                    });
                }
            }
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// CreateMediaPipelineKinesisVideoStreamPool; safe to repeat with the
    /// same token and input.
    pub async fn create_pool(
        &self,
        name: &str,
        region: &str,
        retention_hours: Option<i32>,
        token: &str,
        tags: &[Tag],
    ) -> Result<RemotePool, Error> {
        let conf = t::KinesisVideoStreamConfiguration::builder()
            .region(region)
            .set_data_retention_in_hours(retention_hours)
            .build()
            .map_err(|e| Error::Unexpected(e.to_string()))?;
        let req = self
            .client
            .create_media_pipeline_kinesis_video_stream_pool()
            .pool_name(name)
            .stream_configuration(conf)
            .client_request_token(token)
            .set_tags(sdk_tags(tags)?);
        let out = self
            .call("CreateMediaPipelineKinesisVideoStreamPool", req.send())
            .await?;
        remote_pool(out.kinesis_video_stream_pool_configuration)
    }

    /// GetMediaPipelineKinesisVideoStreamPool; `None` when AWS answers NotFound.
    pub async fn get_pool(&self, identifier: &str) -> Result<Option<RemotePool>, Error> {
        let send = self
            .client
            .get_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .send();
        match self
            .call("GetMediaPipelineKinesisVideoStreamPool", send)
            .await
        {
            Ok(out) => remote_pool(out.kinesis_video_stream_pool_configuration).map(Some),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// UpdateMediaPipelineKinesisVideoStreamPool: the retention is all that
    /// can change.
    pub async fn update_pool_retention(
        &self,
        identifier: &str,
        hours: i32,
    ) -> Result<RemotePool, Error> {
        let update = t::KinesisVideoStreamConfigurationUpdate::builder()
            .data_retention_in_hours(hours)
            .build();
        let send = self
            .client
            .update_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .stream_configuration(update)
            .send();
        let out = self
            .call("UpdateMediaPipelineKinesisVideoStreamPool", send)
            .await?;
        remote_pool(out.kinesis_video_stream_pool_configuration)
    }

    /// DeleteMediaPipelineKinesisVideoStreamPool; a pool already gone counts
    /// as deleted. ConflictException (still in use) comes back as an error.
    pub async fn delete_pool(&self, identifier: &str) -> Result<(), Error> {
        let send = self
            .client
            .delete_media_pipeline_kinesis_video_stream_pool()
            .identifier(identifier)
            .send();
        match self
            .call("DeleteMediaPipelineKinesisVideoStreamPool", send)
            .await
        {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn remote_pool(p: Option<t::KinesisVideoStreamPoolConfiguration>) -> Result<RemotePool, Error> {
    let p = p.ok_or_else(|| Error::Unexpected("answer without a pool".into()))?;
    Ok(RemotePool {
        arn: p
            .pool_arn
            .ok_or_else(|| Error::Unexpected("pool without an ARN".into()))?,
        id: p.pool_id.unwrap_or_default(),
        name: p.pool_name.unwrap_or_default(),
        status: p
            .pool_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        size: p.pool_size,
        region: p
            .stream_configuration
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_default(),
        retention_hours: p
            .stream_configuration
            .and_then(|c| c.data_retention_in_hours),
        created: timestamp(p.created_timestamp.as_ref()),
        updated: timestamp(p.updated_timestamp.as_ref()),
    })
}
