//! A meeting's lifecycle as its users live it, on the real control plane and
//! the emulator: a pipeline whose meeting ended is finished (not failed),
//! even when AWS removed it before any read saw it stopped, is deleted after
//! its time to live, a person can ask for a retry at once, a failed update
//! reads as failed in GitOps tools, and a create AWS refused can be
//! corrected.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::{MediaStreamPipeline, RECONCILE_REQUESTED_AT};
use common::gitops::{KStatus, PIPELINE_LUA, argocd_health, kstatus};
use common::*;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use testworld::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

fn finished(o: &MediaStreamPipeline) -> bool {
    condition(o, "Finished").is_some_and(|c| c.0 == "True")
}

/// How Argo CD (the shipped Lua) and Flux (kstatus) see the live object.
fn gitops(o: &MediaStreamPipeline) -> (String, String, KStatus) {
    let v: Value = serde_json::to_value(o).unwrap_or_default();
    let hs = argocd_health(PIPELINE_LUA, &v);
    (hs.status, hs.message, kstatus(&v))
}

/// Finished as every reader sees it: finishedAt set, no Ready, not
/// Stalled, kstatus Current, Argo CD Healthy with "Finished".
fn assert_reads_finished(o: &MediaStreamPipeline) {
    let status = o.status.clone().unwrap_or_default();
    assert!(status.finished_at.is_some(), "{status:?}");
    assert!(condition(o, "Ready").is_none(), "{status:?}");
    assert_eq!(
        condition(o, "Stalled").map(|c| c.0).as_deref(),
        Some("False")
    );
    let (argo, message, flux) = gitops(o);
    assert_eq!(
        (argo.as_str(), flux),
        ("Healthy", KStatus::Current),
        "{message}"
    );
    assert!(message.contains("Finished"), "{message}");
}

async fn patch(h: &Harness, name: &str, body: Value) -> anyhow::Result<()> {
    h.api()
        .patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await?;
    Ok(())
}

/// Asks for a reconcile now, as a person would after fixing something.
async fn request_reconcile(h: &Harness, name: &str, value: &str) -> anyhow::Result<()> {
    let body = json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: value}}});
    patch(h, name, body).await
}

fn calls(h: &Harness, operation: &str) -> usize {
    h.emulator.call_count(operation)
}

/// The meeting ends: the pipeline stops and the resource reads as finished
/// everywhere (no Ready, not Stalled, kstatus Current, Argo CD Healthy),
/// recording when. AWS later removes the pipeline: it stays finished.
#[tokio::test]
async fn a_meeting_that_ends_finishes_its_pipeline() -> anyhow::Result<()> {
    let h = Harness::start("finish").await?;
    h.create("m", spec_json("m-end", json!({}))).await?;
    h.wait_ready("m").await?;
    assert_eq!(h.emulator.end_meeting(&meeting_arn("m-end")), 1);
    let o = h.wait_for("m", "Finished", finished).await?;
    let status = o.status.clone().unwrap_or_default();
    assert_eq!(status.pipeline_status.as_deref(), Some("Stopped"));
    assert_reads_finished(&o);

    // AWS removes it; a requested reconcile reads it again.
    h.emulator.set_remove_stopped_after(Some(Duration::ZERO));
    request_reconcile(&h, "m", "after-removal").await?;
    let o = h
        .wait_for("m", "read as removed", |o| {
            o.status.as_ref().is_some_and(|s| {
                s.pipeline_status.as_deref() == Some("Gone")
                    && s.common.last_handled_reconcile_at.as_deref() == Some("after-removal")
            })
        })
        .await?;
    assert!(finished(&o), "{:?}", o.status);
    assert_eq!(
        o.status.as_ref().and_then(|s| s.finished_at.clone()),
        status.finished_at
    );
    let (argo, message, flux) = gitops(&o);
    assert_eq!(
        (argo.as_str(), flux),
        ("Healthy", KStatus::Current),
        "{message}"
    );
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 1, "never recreated");
    Ok(())
}

/// A pipeline AWS reports Failed is no normal end: Stalled, Degraded in
/// Argo CD, Failed in kstatus, and never read or recreated again.
#[tokio::test]
async fn a_failed_pipeline_reads_as_failed() -> anyhow::Result<()> {
    let h = Harness::start("failed").await?;
    h.create("f", spec_json("m-fail", json!({}))).await?;
    h.wait_ready("f").await?;
    assert_eq!(h.emulator.fail_pipelines_of(&meeting_arn("m-fail")), 1);
    let o = h
        .wait_for("f", "Stalled Failed", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "Failed")
        })
        .await?;
    assert!(!finished(&o));
    let (argo, message, flux) = gitops(&o);
    assert_eq!(
        (argo.as_str(), flux),
        ("Degraded", KStatus::Failed),
        "{message}"
    );
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 1);
    Ok(())
}

/// With ttlSecondsAfterFinished the resource is deleted that long after it
/// finished, and its pipeline with it (deletion policy Delete).
#[tokio::test]
async fn a_finished_resource_expires_after_its_ttl() -> anyhow::Result<()> {
    let h = Harness::start("ttl").await?;
    let spec = spec_json("m-ttl", json!({"ttlSecondsAfterFinished": 5}));
    let o = h.create("t", spec).await?;
    h.wait_ready("t").await?;
    h.emulator.end_meeting(&meeting_arn("m-ttl"));
    let f = h.wait_for("t", "Finished", finished).await?;
    assert!(f.metadata.deletion_timestamp.is_none());
    h.wait_gone("t").await?;
    let uid = uid(&o)?;
    let deleted = h
        .emulator
        .pipelines()
        .iter()
        .any(|p| p.client_request_token.as_deref() == Some(uid.as_str()) && p.deleted);
    assert!(deleted, "the AWS pipeline was not deleted");
    assert_eq!(calls(&h, "DeleteMediaPipeline"), 1);
    Ok(())
}

/// A create refused for want of a permission waits out a long back-off; a
/// person who fixed IAM asks for a retry and gets it at once.
#[tokio::test]
async fn a_forbidden_create_is_retried_when_asked() -> anyhow::Result<()> {
    let h = Harness::start("retry").await?;
    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(1)).on("CreateMediaStreamPipeline"));
    h.create("r", spec_json("m-retry", json!({}))).await?;
    h.wait_for("r", "Forbidden", |o| {
        condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "Forbidden")
    })
    .await?;
    // Without a request nothing more is tried (the back-off is 10 minutes).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 1);

    request_reconcile(&h, "r", "2026-11-26T10:00:00Z").await?;
    let o = h.wait_ready("r").await?;
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 2);
    assert_eq!(
        o.status
            .and_then(|s| s.common.last_handled_reconcile_at)
            .as_deref(),
        Some("2026-11-26T10:00:00Z")
    );
    println!(
        "lifecycle: retry on request: 1 create before the request, 1 after, 0 in the 3 s without"
    );
    Ok(())
}

/// A tag update AWS refuses: the generation is observed and the resource
/// reads Degraded (Argo CD) and Failed (kstatus), not Progressing forever.
#[tokio::test]
async fn a_refused_tag_update_reads_as_failed() -> anyhow::Result<()> {
    let h = Harness::start("tagfail").await?;
    h.create("g", spec_json("m-tag", json!({}))).await?;
    h.wait_ready("g").await?;
    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(100)).on("TagResource"));
    patch(
        &h,
        "g",
        json!({"spec": {"tags": [{"key": "team", "value": "a"}]}}),
    )
    .await?;
    let o = h
        .wait_for("g", "Synced=False Forbidden", |o| {
            condition(o, "Synced").is_some_and(|c| c.0 == "False" && c.1 == "Forbidden")
        })
        .await?;
    assert_eq!(
        o.status.as_ref().and_then(|s| s.common.observed_generation),
        o.metadata.generation
    );
    let (argo, message, flux) = gitops(&o);
    assert_eq!(
        (argo.as_str(), flux),
        ("Degraded", KStatus::Failed),
        "{message}"
    );

    // Fixed, and asked again: applied.
    h.emulator.clear_faults();
    request_reconcile(&h, "g", "fixed").await?;
    let o = h
        .wait_for("g", "tagged", |o| {
            condition(o, "Synced").is_some_and(|c| c.0 == "True")
        })
        .await?;
    let (argo, _, flux) = gitops(&o);
    assert_eq!((argo.as_str(), flux), ("Healthy", KStatus::Current));
    Ok(())
}

/// A create AWS refused outright (an unknown meeting) leaves sources
/// editable: the fix reaches Ready. Once the pipeline exists they are
/// fixed: an edit is refused with no AWS call.
#[tokio::test]
async fn a_refused_create_can_be_corrected_and_then_sources_are_fixed() -> anyhow::Result<()> {
    let h = Harness::start("correct").await?;
    h.emulator.mark_meeting_missing(&meeting_arn("m-typo"));
    let o = h.create("c", spec_json("m-typo", json!({}))).await?;
    let refused = h
        .wait_for("c", "NotFound", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "NotFound")
        })
        .await?;
    assert!(
        refused
            .status
            .as_ref()
            .is_some_and(|s| s.request_digest.is_none()),
        "a refused create freezes nothing: {:?}",
        refused.status
    );
    let fixed = json!({"spec": {"sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn("m-right")}]}});
    patch(&h, "c", fixed).await?;
    let ready = h.wait_ready("c").await?;
    assert!(
        ready
            .status
            .as_ref()
            .is_some_and(|s| s.request_digest.is_some())
    );
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);

    let before = h.emulator.calls().len();
    let moved = json!({"spec": {"sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn("m-other")}]}});
    patch(&h, "c", moved).await?;
    let o = h
        .wait_for("c", "ImmutableFieldChanged", |o| {
            condition(o, "Synced").is_some_and(|c| c.1 == "ImmutableFieldChanged")
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = h.emulator.calls().len();
    assert_eq!(after, before, "a refused edit made AWS calls");
    let msg = condition(&o, "Stalled").map(|c| c.2).unwrap_or_default();
    assert!(msg.contains("spec.sources"), "{msg}");
    // The pipeline itself still streams.
    assert_eq!(
        o.status.and_then(|s| s.pipeline_status).as_deref(),
        Some("InProgress")
    );
    println!(
        "lifecycle: corrected after NotFound; a later edit refused with {} AWS calls",
        after - before
    );
    Ok(())
}

/// Meetings GetMeeting can be asked about: their IDs are GUIDs (the
/// model's GuidString). The other tests' short names never reach it.
const MEETING_ENDED: &str = "0b8e7f52-1d3c-4a6e-9f21-5c7d8e9a0b01";
const MEETING_GOES_ON: &str = "0b8e7f52-1d3c-4a6e-9f21-5c7d8e9a0b02";
const MEETING_DENIED: &str = "0b8e7f52-1d3c-4a6e-9f21-5c7d8e9a0b03";
const MEETING_THROTTLED: &str = "0b8e7f52-1d3c-4a6e-9f21-5c7d8e9a0b04";

/// An emulator that stops a pipeline and removes it the moment its meeting
/// ends: whatever the read cadence, no read ever sees it Stopped.
fn removed_at_once() -> EmulatorConfig {
    EmulatorConfig {
        stopping_delay: Duration::ZERO,
        remove_stopped_after: Some(Duration::ZERO),
        ..EmulatorConfig::default()
    }
}

fn removed(o: &MediaStreamPipeline) -> bool {
    condition(o, "Finished").is_some_and(|c| c.0 == "True" && c.1 == "Removed")
}

fn reported_gone(o: &MediaStreamPipeline) -> bool {
    condition(o, "Ready").is_some_and(|c| c.0 == "False" && c.1 == "PipelineGone")
}

/// A GetMeeting call: (signing region, meeting ID, HTTP status).
type MeetingCheck = (Option<String>, Option<String>, Option<u16>);

/// The GetMeeting call about `meeting` in REGION, answered `status`.
fn asked(meeting: &str, status: u16) -> MeetingCheck {
    (Some(REGION.into()), Some(meeting.into()), Some(status))
}

/// The GetMeeting calls so far.
fn meeting_checks(h: &Harness) -> Vec<MeetingCheck> {
    h.emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetMeeting")
        .map(|c| (c.region, c.subject, c.status))
        .collect()
}

/// AWS stops a pipeline when its meeting ends and removes it a while
/// later; with reads minutes apart at rest, the operator may never see it
/// Stopped. Its meeting has ended (GetMeeting: NotFound, asked once, in the
/// meeting's region): finished, not failed, and deleted after its TTL.
#[tokio::test]
async fn a_pipeline_removed_after_its_meeting_ended_between_reads_is_finished_and_expires()
-> anyhow::Result<()> {
    let h = Harness::start_with("between", removed_at_once(), |_| {}).await?;
    let spec = spec_json(MEETING_ENDED, json!({"ttlSecondsAfterFinished": 3}));
    let o = h.create("b", spec).await?;
    h.wait_ready("b").await?;
    assert_eq!(h.emulator.end_meeting(&meeting_arn(MEETING_ENDED)), 1);
    assert!(h.emulator.pipelines()[0].removed_by_aws);

    let f = h.wait_for("b", "Finished (Removed)", removed).await?;
    let status = f.status.clone().unwrap_or_default();
    assert_eq!(status.pipeline_status.as_deref(), Some("Gone"));
    assert_reads_finished(&f);
    assert_eq!(meeting_checks(&h), [asked(MEETING_ENDED, 404)]);

    h.wait_gone("b").await?;
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 1, "never recreated");
    // Finished is no failure: no Warning says the pipeline is gone.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> = h.env.api();
    let reasons: Vec<String> = events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(!reasons.iter().any(|r| r == "PipelineGone"), "{reasons:?}");
    let uid = uid(&o)?;
    assert_eq!(h.emulator.pipelines()[0].client_request_token, Some(uid));
    println!(
        "lifecycle: removed unseen after its meeting ended: Finished/Removed, 1 GetMeeting, expired"
    );
    Ok(())
}

/// A pipeline removed while its meeting goes on (deleted outside the
/// operator) did not finish: PipelineGone, Stalled, as before. So too when
/// GetMeeting cannot tell for want of `chime:GetMeeting`: asked once, not
/// retried; once IAM is fixed, a requested reconcile tells it finished.
#[tokio::test]
async fn a_pipeline_gone_while_its_meeting_goes_on_stays_pipeline_gone() -> anyhow::Result<()> {
    let h = Harness::start_with("goneon", removed_at_once(), |_| {}).await?;
    let o = h
        .create("on", spec_json(MEETING_GOES_ON, json!({})))
        .await?;
    let id = h
        .wait_ready("on")
        .await?
        .status
        .and_then(|s| s.media_pipeline_id)
        .unwrap_or_default();
    testworld::emulator::sdk_client(&h.emulator.endpoint_url(), REGION)
        .await
        .delete_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await?;
    let g = h.wait_for("on", "PipelineGone", reported_gone).await?;
    assert!(!finished(&g));
    let (argo, message, flux) = gitops(&g);
    assert_eq!(
        (argo.as_str(), flux),
        ("Degraded", KStatus::Failed),
        "{message}"
    );
    let goes_on = asked(MEETING_GOES_ON, 200);
    assert_eq!(meeting_checks(&h), std::slice::from_ref(&goes_on));

    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(100)).on("GetMeeting"));
    h.create("denied", spec_json(MEETING_DENIED, json!({})))
        .await?;
    h.wait_ready("denied").await?;
    assert_eq!(h.emulator.end_meeting(&meeting_arn(MEETING_DENIED)), 1);
    let d = h.wait_for("denied", "PipelineGone", reported_gone).await?;
    assert!(!finished(&d));
    let denied = asked(MEETING_DENIED, 403);
    assert_eq!(meeting_checks(&h), [goes_on.clone(), denied.clone()]);

    h.emulator.clear_faults();
    request_reconcile(&h, "denied", "iam-fixed").await?;
    h.wait_for("denied", "Finished (Removed)", removed).await?;
    let ended = asked(MEETING_DENIED, 404);
    assert_eq!(meeting_checks(&h), [goes_on, denied, ended]);
    assert!(reported_gone(&h.api().get("on").await?));
    assert_eq!(calls(&h, "CreateMediaStreamPipeline"), 2, "never recreated");
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// A throttled GetMeeting is no answer: the read counts as failed and is
/// retried on the back-off, and the answer then finishes the pipeline.
#[tokio::test]
async fn a_throttled_meeting_check_is_retried_before_any_verdict() -> anyhow::Result<()> {
    let h = Harness::start_with("throttled", removed_at_once(), |_| {}).await?;
    h.create("t", spec_json(MEETING_THROTTLED, json!({})))
        .await?;
    h.wait_ready("t").await?;
    h.emulator
        .inject(Fault::new(FaultKind::Throttle, Trigger::Next(1)).on("GetMeeting"));
    assert_eq!(h.emulator.end_meeting(&meeting_arn(MEETING_THROTTLED)), 1);
    let o = h.wait_for("t", "Finished (Removed)", removed).await?;
    assert_eq!(
        condition(&o, "Synced").map(|c| c.0).as_deref(),
        Some("True")
    );
    let checks = [asked(MEETING_THROTTLED, 429), asked(MEETING_THROTTLED, 404)];
    assert_eq!(meeting_checks(&h), checks);
    let failed = metric_value(
        &h.metrics,
        "chime_operator_reconciles_total",
        r#"reason="Throttled""#,
    );
    assert_eq!(failed, 1.0, "one reconcile failed on the throttled check");
    Ok(())
}
