//! Recordings on the real control plane and the emulator: a
//! MediaCapturePipeline records a meeting while it runs and finishes when
//! it ends; a MediaConcatenationPipeline naming it is created only then,
//! joins the chunks and finishes; both go with their resources; bad input
//! is stalled (or waits) before any AWS call.

mod common;

use chime_pipeline_operator::crd::{MediaCapturePipeline, MediaConcatenationPipeline};
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

/// A concatenation of `source` (the `mediaCapturePipelineSourceConfiguration`
/// bar its artifacts) into `destination`.
fn concat(source: Value, destination: &str) -> anyhow::Result<MediaConcatenationPipeline> {
    let mut config = source;
    let states = [
        "video",
        "content",
        "dataChannel",
        "transcriptionMessages",
        "meetingEvents",
        "compositedVideo",
    ];
    let mut artifacts = json!({"audio": {"state": "Enabled"}});
    for (i, name) in states.iter().enumerate() {
        let state = if i % 2 == 0 { "Enabled" } else { "Disabled" };
        artifacts[*name] = json!({"state": state});
    }
    config["chimeSdkMeetingConfiguration"] = json!({"artifactsConfiguration": artifacts});
    let spec = json!({
        "sources": [{"type": "MediaCapturePipeline", "mediaCapturePipelineSourceConfiguration": config}],
        "sinks": [{"type": "S3Bucket", "s3BucketSinkConfiguration": {"destination": destination}}],
    });
    Ok(MediaConcatenationPipeline {
        metadata: ObjectMeta::default(),
        spec: serde_json::from_value(spec)?,
        status: None,
    })
}

fn by_ref(name: &str) -> Value {
    json!({"captureRef": {"name": name}})
}

const BUCKET: &str = "arn:aws:s3:::meeting-recordings/joined";
const CONCAT: &str = "CreateMediaConcatenationPipeline";

/// Ready=False with this reason, and Stalled as given.
fn waiting_or_stalled(o: &MediaConcatenationPipeline, reason: &str, stalled: bool) -> bool {
    let ready = condition(o, "Ready").is_some_and(|c| c.0 == "False" && c.1 == reason);
    let is_stalled = condition(o, "Stalled").is_some_and(|c| c.0 == "True");
    ready && is_stalled == stalled
}

/// Waits until the resource is gone (its cleanup done).
async fn wait_deleted<K>(api: &Api<K>, name: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
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

/// The whole recording: the capture runs with its meeting; the
/// concatenation waits for it (no call), is created once the meeting ended,
/// is Ready, then finishes; both are deleted with their resources.
#[tokio::test]
async fn a_recording_is_joined_once_its_meeting_ended() -> anyhow::Result<()> {
    let h = Harness::start("recording").await?;
    let client = h.env.client.clone();
    let captures: Api<MediaCapturePipeline> = Api::namespaced(client.clone(), &h.env.namespace);
    let concats: Api<MediaConcatenationPipeline> = Api::namespaced(client, &h.env.namespace);
    h.emulator.set_concatenation_delay(Duration::from_secs(2));
    create(&captures, "rec", capture("joined-meeting", json!({}))?).await?;
    let concat = concat(by_ref("rec"), BUCKET)?;
    create_concat(&concats, "joined", concat).await?;
    wait_ready(&captures, "rec").await?;
    let waiting =
        |o: &MediaConcatenationPipeline| waiting_or_stalled(o, "WaitingForCapture", false);
    wait_for(
        &concats,
        "joined",
        "waiting",
        Duration::from_secs(60),
        waiting,
    )
    .await?;
    assert_eq!(
        h.emulator.call_count(CONCAT),
        0,
        "created before the meeting ended"
    );

    assert_eq!(h.emulator.end_meeting(&meeting_arn("joined-meeting")), 1);
    wait_for(
        &captures,
        "rec",
        "Finished",
        Duration::from_secs(60),
        finished,
    )
    .await?;
    // The capture's change wakes the concatenation: no poll interval.
    let running = wait_ready(&concats, "joined").await?;
    let done =
        |o: &MediaConcatenationPipeline| condition(o, "Finished").is_some_and(|c| c.0 == "True");
    let joined = wait_for(
        &concats,
        "joined",
        "Finished",
        Duration::from_secs(60),
        done,
    )
    .await?;
    assert_eq!(h.emulator.call_count(CONCAT), 1);
    let records = h.emulator.pipelines();
    let record = records
        .iter()
        .find(|p| p.kind == "MediaConcatenationPipeline");
    let rec_arn = captures
        .get("rec")
        .await?
        .status
        .and_then(|s| s.media_pipeline_arn);
    assert_eq!(
        record.map(|r| r.source_arns.clone()),
        Some(rec_arn.into_iter().collect())
    );
    assert_eq!(
        running.status.and_then(|s| s.media_pipeline_id),
        joined.status.and_then(|s| s.media_pipeline_id)
    );

    concats.delete("joined", &DeleteParams::default()).await?;
    captures.delete("rec", &DeleteParams::default()).await?;
    wait_deleted(&concats, "joined").await?;
    wait_deleted(&captures, "rec").await?;
    let left = h
        .emulator
        .pipelines()
        .into_iter()
        .filter(|p| !p.deleted)
        .count();
    assert_eq!(left, 0, "AWS objects left behind");
    assert_eq!(h.emulator.call_count(CREATE), 1);
    assert_eq!(h.emulator.call_count(CONCAT), 1);
    Ok(())
}

/// A captureRef to nothing waits (it may come); to a failed capture, or
/// with a destination that is no S3 bucket, stalls; none calls AWS.
#[tokio::test]
async fn a_concatenation_that_cannot_start_says_why_with_no_aws_call() -> anyhow::Result<()> {
    let h = Harness::start("concat-bad").await?;
    let client = h.env.client.clone();
    let captures: Api<MediaCapturePipeline> = Api::namespaced(client.clone(), &h.env.namespace);
    let concats: Api<MediaConcatenationPipeline> = Api::namespaced(client, &h.env.namespace);
    create_concat(&concats, "missing", concat(by_ref("nothing"), BUCKET)?).await?;
    let waits = |o: &MediaConcatenationPipeline| waiting_or_stalled(o, "WaitingForCapture", false);
    wait_for(
        &concats,
        "missing",
        "waiting",
        Duration::from_secs(60),
        waits,
    )
    .await?;

    create(&captures, "broken", capture("broken-meeting", json!({}))?).await?;
    let id = wait_ready(&captures, "broken")
        .await?
        .status
        .and_then(|s| s.media_pipeline_id);
    assert_eq!(h.emulator.fail_pipeline(&id.unwrap_or_default()), 1);
    create_concat(&concats, "of-failed", concat(by_ref("broken"), BUCKET)?).await?;
    let refused = |o: &MediaConcatenationPipeline| waiting_or_stalled(o, "InvalidReference", true);
    let o = wait_for(
        &concats,
        "of-failed",
        "Stalled",
        Duration::from_secs(60),
        refused,
    )
    .await?;
    let message = condition(&o, "Stalled").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("MediaCapturePipeline") && message.contains("broken"),
        "{message}"
    );

    let arn = json!({"mediaPipelineArn": "arn:aws:chime:us-east-1:111122223333:media-pipeline/x"});
    let kvs = "arn:aws:kinesisvideo:us-east-1:111122223333:stream/x";
    create_concat(&concats, "not-s3", concat(arn, kvs)?).await?;
    let invalid = |o: &MediaConcatenationPipeline| waiting_or_stalled(o, "InvalidSpec", true);
    let o = wait_for(
        &concats,
        "not-s3",
        "Stalled",
        Duration::from_secs(60),
        invalid,
    )
    .await?;
    let message = condition(&o, "Stalled").map(|c| c.2).unwrap_or_default();
    assert!(
        message.contains("s3BucketSinkConfiguration.destination"),
        "{message}"
    );
    assert_eq!(h.emulator.call_count(CONCAT), 0);
    Ok(())
}

async fn create_concat(
    api: &Api<MediaConcatenationPipeline>,
    name: &str,
    mut obj: MediaConcatenationPipeline,
) -> anyhow::Result<()> {
    obj.metadata.name = Some(name.into());
    api.create(&PostParams::default(), &obj).await?;
    Ok(())
}
