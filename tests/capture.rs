//! MediaCapturePipeline on the real control plane and the emulator: a
//! meeting recorded while it runs, finished when it ends, its pipeline
//! deleted (or kept) with the resource, and bad input stalled before any
//! AWS call.

mod common;

use chime_pipeline_operator::crd::MediaCapturePipeline;
use common::*;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

const CREATE: &str = "CreateMediaCapturePipeline";

fn capture(meeting: &str, extra: Value) -> anyhow::Result<MediaCapturePipeline> {
    let mut spec = json!({
        "sourceType": "ChimeSdkMeeting",
        "sourceArn": meeting_arn(meeting),
        "sinkType": "S3Bucket",
        "sinkArn": "arn:aws:s3:::meeting-recordings",
        "chimeSdkMeetingConfiguration": {"artifactsConfiguration": {
            "audio": {"muxType": "AudioWithActiveSpeakerVideo"},
            "video": {"state": "Enabled", "muxType": "VideoOnly"},
            "content": {"state": "Disabled"},
        }},
    });
    if let (Some(map), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    Ok(MediaCapturePipeline {
        metadata: ObjectMeta::default(),
        spec: serde_json::from_value(spec)?,
        status: None,
    })
}

async fn create(
    api: &Api<MediaCapturePipeline>,
    name: &str,
    mut obj: MediaCapturePipeline,
) -> anyhow::Result<()> {
    obj.metadata.name = Some(name.into());
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}

/// Waits until the resource is gone (its cleanup done).
async fn wait_deleted(api: &Api<MediaCapturePipeline>, name: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while api.get_opt(name).await?.is_some() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} still exists"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn finished(o: &MediaCapturePipeline) -> bool {
    condition(o, "Finished").is_some_and(|c| c.0 == "True")
}

/// Ready while the meeting runs, finished when it ends, deleted with its
/// resource: one create, one delete, nothing left in AWS.
#[tokio::test]
async fn a_recording_runs_with_its_meeting_and_goes_with_its_resource() -> anyhow::Result<()> {
    let h = Harness::start("capture").await?;
    let api: Api<MediaCapturePipeline> = Api::namespaced(h.env.client.clone(), &h.env.namespace);
    create(&api, "rec", capture("rec-meeting", json!({}))?).await?;
    let ready = wait_ready(&api, "rec").await?;
    let id = ready
        .status
        .as_ref()
        .and_then(|s| s.media_pipeline_id.clone())
        .unwrap_or_default();
    assert_eq!(h.emulator.end_meeting(&meeting_arn("rec-meeting")), 1);
    let done = wait_for(&api, "rec", "Finished", Duration::from_secs(60), finished).await?;
    assert!(condition(&done, "Ready").is_none(), "{:?}", done.status);
    assert_eq!(h.emulator.call_count(CREATE), 1);

    api.delete("rec", &DeleteParams::default()).await?;
    wait_deleted(&api, "rec").await?;
    assert_eq!(h.emulator.call_count("DeleteMediaPipeline"), 1);
    let records = h.emulator.pipelines();
    let left = records.iter().filter(|p| p.id == id && !p.deleted).count();
    assert_eq!(left, 0, "the capture pipeline {id} is still in AWS");
    assert!(records.iter().all(|p| p.kind == "MediaCapturePipeline"));
    assert_eq!(h.emulator.call_count(CREATE), 1, "never recreated");
    Ok(())
}

/// A sink of another service is refused before any AWS call (API servers
/// before 1.25 skip the CRD's rule): Stalled, naming the field.
#[tokio::test]
async fn a_sink_that_is_no_s3_bucket_stalls_with_no_aws_call() -> anyhow::Result<()> {
    let h = Harness::start("capture-bad").await?;
    let api: Api<MediaCapturePipeline> = Api::namespaced(h.env.client.clone(), &h.env.namespace);
    let sink = json!({"sinkArn": "arn:aws:kinesisvideo:us-east-1:111122223333:stream/x"});
    create(&api, "bad", capture("bad-meeting", sink)?).await?;
    let stalled = |o: &MediaCapturePipeline| condition(o, "Stalled").is_some_and(|c| c.0 == "True");
    let o = wait_for(&api, "bad", "Stalled", Duration::from_secs(60), stalled).await?;
    let (_, reason, message) = condition(&o, "Stalled").unwrap_or_default();
    assert_eq!(reason, "InvalidSpec");
    assert!(message.contains("spec.sinkArn"), "{message}");
    assert_eq!(h.emulator.call_count(CREATE), 0);
    // Deleted at once: nothing of it can be in AWS.
    api.delete("bad", &DeleteParams::default()).await?;
    wait_deleted(&api, "bad").await?;
    assert_eq!(h.emulator.call_count(CREATE), 0);
    Ok(())
}
