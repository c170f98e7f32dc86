//! How the operator fits kubectl and GitOps: clean server-side re-applies,
//! per-resource regions, adopting existing pipelines.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::MediaStreamPipeline;
use common::*;
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// Apply as a GitOps tool would, let the operator reconcile, apply the same
/// manifest again: nothing changes, and the operator owns only status and
/// its finalizer.
#[tokio::test]
async fn a_server_side_reapply_changes_nothing() -> anyhow::Result<()> {
    let h = Harness::start("reapply").await?;
    let manifest = json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaStreamPipeline",
        "metadata": {"name": "p", "labels": {"app": "meetings"}},
        "spec": {
            "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn("m-reapply")}],
            "sinks": [{"sinkType": "KinesisVideoStreamPool", "sinkArn": POOL_ARN, "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
            "tags": [{"key": "team", "value": "a"}],
        },
    });
    let pp = PatchParams::apply("argocd-controller");
    h.api().patch("p", &pp, &Patch::Apply(&manifest)).await?;
    let ready = h.wait_ready("p").await?;
    // Let the operator settle: no write for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = h.api().get("p").await?;
    let after = h.api().patch("p", &pp, &Patch::Apply(&manifest)).await?;
    assert_eq!(
        before.metadata.resource_version, after.metadata.resource_version,
        "the re-apply changed the object"
    );
    assert_eq!(before.metadata.generation, ready.metadata.generation);
    for entry in after.metadata.managed_fields.unwrap_or_default() {
        let fields = serde_json::to_string(&entry.fields_v1)?;
        if entry.manager.as_deref() == Some("argocd-controller") {
            continue;
        }
        assert!(
            !fields.contains("f:spec"),
            "{:?} owns spec fields: {fields}",
            entry.manager
        );
    }
    h.assert_one_pipeline_per_uid(&[uid(&ready)?]);
    Ok(())
}

/// Two regions in one run, each with its own limit in the emulator.
#[tokio::test]
async fn each_resource_in_its_own_region_with_that_regions_limit() -> anyhow::Result<()> {
    let h = Harness::start("regions").await?;
    h.emulator.set_region_limit("eu-central-1", 1);
    let a = h.create("home", spec_json("m-home", json!({}))).await?;
    let b = h
        .create("eu", spec_json("m-eu", json!({"region": "eu-central-1"})))
        .await?;
    h.wait_ready("home").await?;
    let eu = h.wait_ready("eu").await?;
    assert_eq!(
        eu.status.as_ref().and_then(|s| s.common.region.as_deref()),
        Some("eu-central-1")
    );
    // The second pipeline in eu-central-1 passes its limit of 1; us-east-1 has room.
    let c = h
        .create("eu2", spec_json("m-eu2", json!({"region": "eu-central-1"})))
        .await?;
    h.wait_for("eu2", "ResourceLimitExceeded", |o: &MediaStreamPipeline| {
        condition(o, "Synced").is_some_and(|c| c.1 == "ResourceLimitExceeded")
    })
    .await?;
    let d = h.create("home2", spec_json("m-home2", json!({}))).await?;
    let home2 = h.wait_ready("home2").await?;
    assert_eq!(
        home2.status.and_then(|s| s.common.region).as_deref(),
        Some(REGION)
    );
    let regions: Vec<(String, String)> = h
        .emulator
        .pipelines()
        .into_iter()
        .map(|p| (p.client_request_token.unwrap_or_default(), p.region))
        .collect();
    assert!(regions.contains(&(uid(&b)?, "eu-central-1".into())));
    assert!(regions.contains(&(uid(&a)?, REGION.into())));
    assert_eq!(regions.len(), 3, "{regions:?}");

    // A region edit is refused, not a new pipeline elsewhere.
    h.api()
        .patch(
            "eu",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"region": "us-west-2"}})),
        )
        .await?;
    h.wait_for("eu", "ImmutableFieldChanged", |o: &MediaStreamPipeline| {
        condition(o, "Synced").is_some_and(|c| c.1 == "ImmutableFieldChanged")
    })
    .await?;
    assert_eq!(h.emulator.pipelines().len(), 3);
    h.assert_one_pipeline_per_uid(&[uid(&a)?, uid(&b)?, uid(&d)?]);
    let _ = c;
    Ok(())
}

/// An existing pipeline comes under a resource without a create; a missing
/// one is reported, never created; adopted pipelines are retained.
#[tokio::test]
async fn adoption_fills_status_and_creates_nothing() -> anyhow::Result<()> {
    let h = Harness::start("adopt").await?;
    let id = pipeline_made_elsewhere(&h.emulator, "m-adopt").await?;
    let creates = h.emulator.call_count("CreateMediaStreamPipeline");

    h.create(
        "adopted",
        spec_json("m-adopt", json!({"adoptMediaPipelineId": id})),
    )
    .await?;
    let o = h.wait_ready("adopted").await?;
    let st = o.status.clone().unwrap_or_default();
    assert_eq!(st.media_pipeline_id.as_deref(), Some(id.as_str()));
    assert_eq!(st.pipeline_status.as_deref(), Some("InProgress"));
    assert!(st.media_pipeline_arn.is_some());

    let missing = "00000000-0000-4000-8000-000000000000";
    h.create(
        "ghost",
        spec_json("m-ghost", json!({"adoptMediaPipelineId": missing})),
    )
    .await?;
    let g = h
        .wait_for("ghost", "NotFound", |o: &MediaStreamPipeline| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "NotFound")
        })
        .await?;
    assert!(condition(&g, "Stalled").is_some_and(|c| c.2.contains(missing)));
    assert_eq!(
        h.emulator.call_count("CreateMediaStreamPipeline"),
        creates,
        "adoption created a pipeline"
    );

    // Deleting the resource leaves the adopted pipeline running (Retain).
    h.delete("adopted").await?;
    h.delete("ghost").await?;
    h.wait_gone("adopted").await?;
    h.wait_gone("ghost").await?;
    assert_eq!(h.emulator.call_count("DeleteMediaPipeline"), 0);
    assert_eq!(h.emulator.call_count("CreateMediaStreamPipeline"), creates);
    assert!(!h.emulator.pipelines()[0].deleted);
    Ok(())
}
