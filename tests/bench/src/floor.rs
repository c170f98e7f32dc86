//! The floors: what any controller must do per resource, at the operator's
//! concurrency, on the same servers. Each watches one namespace and works on
//! every new resource with the real AWS SDK (ClientRequestToken = the
//! resource's UID, no tags); status writes are server-side apply on the
//! status subresource.
//!
//! - [`Mode::Least`], "the floor": one CreateMediaStreamPipeline and one
//!   status write that makes the resource Ready. No finalizer, no Event, no
//!   status read of AWS, no retries.
//! - [`Mode::MinimalCorrect`], "the minimal-correct floor": what a correct
//!   controller cannot skip. The operator's finalizer first (one metadata
//!   patch: without it a deletion could lose the pipeline), the create, one
//!   status write with the pipeline's ID and ARN before anything else can
//!   happen (so a crash cannot lose them), GetMediaPipeline until the
//!   pipeline is InProgress, and one status write that makes it Ready.
//!   Still no Event, no retries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use aws_sdk_chimesdkmediapipelines::types as t;
use chime_pipeline_operator::crd::{FINALIZER, MediaStreamPipeline};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One create and one status write per resource.
    Least,
    /// Finalizer, create, status with the ID, reads until InProgress, status
    /// at InProgress.
    MinimalCorrect,
}

impl Mode {
    /// The field manager of the floor's status writes.
    fn manager(self) -> &'static str {
        match self {
            Mode::Least => "bench-floor",
            Mode::MinimalCorrect => "bench-floor-minimal",
        }
    }
}

pub struct Floor {
    task: JoinHandle<()>,
}

/// What one floor works with: the namespace's resources and the AWS API, and
/// the benchmark's one source (a meeting) and one sink (a pool ARN).
#[derive(Clone)]
struct Work {
    api: Api<MediaStreamPipeline>,
    aws: aws_sdk_chimesdkmediapipelines::Client,
    meeting: String,
    pool: String,
    mode: Mode,
}

impl Floor {
    pub fn start(
        client: Client,
        aws: aws_sdk_chimesdkmediapipelines::Client,
        ns: &str,
        (meeting, pool): (String, String),
        concurrency: usize,
        mode: Mode,
    ) -> Floor {
        let work = Work {
            api: Api::namespaced(client, ns),
            aws,
            meeting,
            pool,
            mode,
        };
        let task = tokio::spawn(async move {
            let limit = Arc::new(Semaphore::new(concurrency));
            let mut started = HashSet::new();
            let mut stream = std::pin::pin!(watcher::watcher(
                work.api.clone(),
                watcher::Config::default()
            ));
            while let Some(ev) = stream.next().await {
                let obj = match ev {
                    Ok(Event::Apply(o) | Event::InitApply(o)) => o,
                    Ok(_) => continue,
                    Err(e) => {
                        eprintln!("bench: floor watch error: {e}");
                        continue;
                    }
                };
                // The benchmark's teardown deletes the minimal-correct floor's
                // resources while the floor still runs: it lets them go by
                // removing its finalizer (teardown is not measured, so it
                // deletes no pipeline in AWS, as the plain floor does not).
                if obj.metadata.deletion_timestamp.is_some() {
                    if obj.finalizers().iter().any(|f| f == FINALIZER) {
                        let api = work.api.clone();
                        tokio::spawn(async move { release(&api, &obj.name_any()).await });
                    }
                    continue;
                }
                let uid = obj.uid().unwrap_or_default();
                if obj.status.is_some() || !started.insert(uid) {
                    continue;
                }
                let permit = Arc::clone(&limit)
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let work = work.clone();
                tokio::spawn(async move {
                    let done = match work.mode {
                        Mode::Least => handle(&work, &obj).await,
                        Mode::MinimalCorrect => handle_minimal(&work, &obj).await,
                    };
                    if let Err(e) = done {
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

/// CreateMediaStreamPipeline for the resource; the benchmark's resources
/// all have this one source and one sink.
async fn create(work: &Work, obj: &MediaStreamPipeline) -> anyhow::Result<t::MediaStreamPipeline> {
    let out = work
        .aws
        .create_media_stream_pipeline()
        .client_request_token(obj.uid().unwrap_or_default())
        .sources(
            t::MediaStreamSource::builder()
                .source_type(t::MediaPipelineSourceType::ChimeSdkMeeting)
                .source_arn(&work.meeting)
                .build()?,
        )
        .sinks(
            t::MediaStreamSink::builder()
                .sink_arn(&work.pool)
                .sink_type(t::MediaStreamPipelineSinkType::KinesisVideoStreamPool)
                .reserved_stream_capacity(1)
                .media_stream_type(t::MediaStreamType::MixedAudio)
                .build()?,
        )
        .send()
        .await?;
    out.media_stream_pipeline
        .context("create answered without a pipeline")
}

/// One status write: the pipeline's ID, ARN and status, Ready=True only once
/// it is InProgress.
async fn write_status(
    work: &Work,
    obj: &MediaStreamPipeline,
    p: &t::MediaStreamPipeline,
    pipeline_status: &str,
) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now().to_string();
    let generation = obj.metadata.generation;
    // A non-empty message: server-side apply on a 1.20 server turns "" into
    // null, which the schema refuses.
    let condition = |type_: &str, status: &str, reason: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": "written by the floor",
            "lastTransitionTime": now, "observedGeneration": generation,
        })
    };
    let ready = if pipeline_status == "InProgress" {
        "True"
    } else {
        "False"
    };
    let patch = json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaStreamPipeline",
        "status": {
            "mediaPipelineId": p.media_pipeline_id,
            "mediaPipelineArn": p.media_pipeline_arn,
            "pipelineStatus": pipeline_status,
            "observedGeneration": generation,
            "conditions": [
                condition("Ready", ready, pipeline_status),
                condition("Synced", "True", "Synced"),
            ],
        },
    });
    work.api
        .patch_status(
            &obj.name_any(),
            &PatchParams::apply(work.mode.manager()).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(())
}

/// The floor: one create, one status write.
async fn handle(work: &Work, obj: &MediaStreamPipeline) -> anyhow::Result<()> {
    let p = create(work, obj).await?;
    write_status(work, obj, &p, "InProgress").await
}

/// The minimal-correct floor: finalizer, create, status with the ID, reads
/// until InProgress, status at InProgress.
async fn handle_minimal(work: &Work, obj: &MediaStreamPipeline) -> anyhow::Result<()> {
    // A merge patch: the resource is new and has no finalizer of anyone else.
    let finalizer = json!({"metadata": {"finalizers": [FINALIZER]}});
    work.api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&finalizer),
        )
        .await?;
    let p = create(work, obj).await?;
    let answered = p.status.as_ref().map_or("Initializing", |s| s.as_str());
    write_status(work, obj, &p, answered).await?;
    let id = p.media_pipeline_id.clone().unwrap_or_default();
    wait_in_progress(work, &id).await?;
    write_status(work, obj, &p, "InProgress").await
}

/// GetMediaPipeline until the pipeline is InProgress. With the benchmark's
/// emulator (no Initializing delay) the first read finds it so; the short
/// pause is there should an emulator take time.
async fn wait_in_progress(work: &Work, id: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        let out = work
            .aws
            .get_media_pipeline()
            .media_pipeline_id(id)
            .send()
            .await?;
        let status = out
            .media_pipeline
            .and_then(|m| m.media_stream_pipeline)
            .and_then(|p| p.status);
        match status {
            Some(t::MediaPipelineStatus::InProgress) => return Ok(()),
            Some(t::MediaPipelineStatus::Initializing) | None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Some(other) => bail!("pipeline {id} is {other:?}, not InProgress"),
        }
    }
    bail!("pipeline {id} was not InProgress after 200 reads")
}

/// Removes every finalizer of a resource being deleted, so that the
/// benchmark's teardown completes; a resource already gone is fine.
async fn release(api: &Api<MediaStreamPipeline>, name: &str) {
    let patch: Value = json!({"metadata": {"finalizers": null}});
    if let Err(e) = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        && !matches!(&e, kube::Error::Api(s) if s.code == 404)
    {
        eprintln!("bench: floor could not release {name}: {e}");
    }
}
