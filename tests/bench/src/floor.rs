//! The floor: the least any controller must do per resource, at the
//! operator's concurrency. It watches one namespace and, for each new
//! resource, makes one CreateMediaStreamPipeline call with the real AWS SDK
//! (ClientRequestToken = the resource's UID, no tags) and one status write
//! (server-side apply on the status subresource) that makes it Ready. No
//! finalizer, no Event, no status read of AWS, no retries.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use aws_sdk_chimesdkmediapipelines::types as t;
use chime_pipeline_operator::crd::MediaStreamPipeline;
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub struct Floor {
    task: JoinHandle<()>,
}

impl Floor {
    pub fn start(
        client: Client,
        aws: aws_sdk_chimesdkmediapipelines::Client,
        ns: &str,
        (meeting, pool): (String, String),
        concurrency: usize,
    ) -> Floor {
        let api: Api<MediaStreamPipeline> = Api::namespaced(client, ns);
        let task = tokio::spawn(async move {
            let limit = Arc::new(Semaphore::new(concurrency));
            let mut started = HashSet::new();
            let mut stream =
                std::pin::pin!(watcher::watcher(api.clone(), watcher::Config::default()));
            while let Some(ev) = stream.next().await {
                let obj = match ev {
                    Ok(Event::Apply(o) | Event::InitApply(o)) => o,
                    Ok(_) => continue,
                    Err(e) => {
                        eprintln!("bench: floor watch error: {e}");
                        continue;
                    }
                };
                let uid = obj.uid().unwrap_or_default();
                if obj.status.is_some() || !started.insert(uid) {
                    continue;
                }
                let permit = Arc::clone(&limit)
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let (api, aws) = (api.clone(), aws.clone());
                let (meeting, pool) = (meeting.clone(), pool.clone());
                tokio::spawn(async move {
                    if let Err(e) = handle(&api, &aws, &obj, &meeting, &pool).await {
                        eprintln!("bench: floor failed on {}: {e:#}", obj.name_any());
                    }
                    drop(permit);
                });
            }
        });
        Floor { task }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    api: &Api<MediaStreamPipeline>,
    aws: &aws_sdk_chimesdkmediapipelines::Client,
    obj: &MediaStreamPipeline,
    meeting: &str,
    pool: &str,
) -> anyhow::Result<()> {
    // The benchmark's resources all have this one source and one sink.
    let out = aws
        .create_media_stream_pipeline()
        .client_request_token(obj.uid().unwrap_or_default())
        .sources(
            t::MediaStreamSource::builder()
                .source_type(t::MediaPipelineSourceType::ChimeSdkMeeting)
                .source_arn(meeting)
                .build()?,
        )
        .sinks(
            t::MediaStreamSink::builder()
                .sink_arn(pool)
                .sink_type(t::MediaStreamPipelineSinkType::KinesisVideoStreamPool)
                .reserved_stream_capacity(1)
                .media_stream_type(t::MediaStreamType::MixedAudio)
                .build()?,
        )
        .send()
        .await?;
    let p = out
        .media_stream_pipeline
        .context("create answered without a pipeline")?;
    let now = jiff::Timestamp::now().to_string();
    let generation = obj.metadata.generation;
    // A non-empty message: server-side apply on a 1.20 server turns "" into
    // null, which the schema refuses.
    let condition = |type_: &str, reason: &str| {
        json!({
            "type": type_, "status": "True", "reason": reason, "message": "written by the floor",
            "lastTransitionTime": now, "observedGeneration": generation,
        })
    };
    let patch = json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaStreamPipeline",
        "status": {
            "mediaPipelineId": p.media_pipeline_id,
            "mediaPipelineArn": p.media_pipeline_arn,
            "pipelineStatus": "InProgress",
            "observedGeneration": generation,
            "conditions": [condition("Ready", "InProgress"), condition("Synced", "Synced")],
        },
    });
    api.patch_status(
        &obj.name_any(),
        &PatchParams::apply("bench-floor").force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}
