//! Kinesis Video Stream pools as resources, and pipelines whose sinks name
//! them; against the real control plane and the emulator.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool;
use common::*;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use testworld::emulator::EmulatorConfig;

fn pool_obj(
    name: &str,
    extra: serde_json::Value,
) -> anyhow::Result<MediaPipelineKinesisVideoStreamPool> {
    let mut spec =
        json!({"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24}});
    if let (Some(m), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaPipelineKinesisVideoStreamPool",
        "metadata": {"name": name},
        "spec": spec,
    }))?)
}

fn pipeline_spec(
    meeting: &str,
    pool: &str,
) -> chime_pipeline_operator::crd::MediaStreamPipelineSpec {
    serde_json::from_value(json!({
        "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(meeting)}],
        "sinks": [{"sinkType": "KinesisVideoStreamPool", "poolRef": {"name": pool}, "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
    }))
    .expect("spec")
}

async fn start() -> anyhow::Result<Harness> {
    // Pipelines are refused unless their pool exists and is ACTIVE, and a
    // new pool stays CREATING for a while: the order matters, as in AWS.
    Harness::start_with(
        "pools",
        EmulatorConfig {
            require_existing_pools: true,
            initializing_delay: Duration::from_millis(500),
            ..Default::default()
        },
        |_| {},
    )
    .await
}

fn pools(h: &Harness) -> Api<MediaPipelineKinesisVideoStreamPool> {
    h.env.api()
}

async fn pool_ready(
    h: &Harness,
    name: &str,
) -> anyhow::Result<MediaPipelineKinesisVideoStreamPool> {
    wait_ready(&pools(h), name).await
}

#[tokio::test]
async fn a_pool_and_its_pipeline_in_either_order() -> anyhow::Result<()> {
    let h = start().await?;
    // Pipeline first: it waits, naming the pool.
    let a = h.create("a", pipeline_spec("m-a", "pool-a")).await?;
    let waiting = h
        .wait_for("a", "WaitingForPool", |o| {
            condition(o, "Ready").is_some_and(|c| c.1 == "WaitingForPool")
        })
        .await?;
    let msg = condition(&waiting, "Ready")
        .map(|c| c.2)
        .unwrap_or_default();
    assert!(msg.contains("pool-a"), "{msg}");
    assert_eq!(
        condition(&waiting, "Reconciling").map(|c| c.0).as_deref(),
        Some("True")
    );
    pools(&h)
        .create(&PostParams::default(), &pool_obj("pool-a", json!({}))?)
        .await?;
    let pa = pool_ready(&h, "pool-a").await?;
    h.wait_ready("a").await?;

    // Pool first.
    pools(&h)
        .create(
            &PostParams::default(),
            &pool_obj("pool-b", json!({"poolName": "aws-name-b"}))?,
        )
        .await?;
    let b = h.create("b", pipeline_spec("m-b", "pool-b")).await?;
    let pb = pool_ready(&h, "pool-b").await?;
    h.wait_ready("b").await?;

    let arn = |p: &MediaPipelineKinesisVideoStreamPool| {
        p.status.as_ref().and_then(|s| s.pool_arn.clone())
    };
    assert!(arn(&pb).unwrap_or_default().ends_with("/aws-name-b"));
    let remote = h.emulator.pipelines();
    let sink_of = |uid: &str| {
        remote
            .iter()
            .find(|p| p.client_request_token.as_deref() == Some(uid))
            .map(|p| p.sink_arns.clone())
    };
    assert_eq!(sink_of(&uid(&a)?), arn(&pa).map(|a| vec![a]));
    assert_eq!(sink_of(&uid(&b)?), arn(&pb).map(|a| vec![a]));
    assert_eq!(h.emulator.pools().len(), 2, "one remote pool per resource");
    h.assert_one_pipeline_per_uid(&[uid(&a)?, uid(&b)?]);
    Ok(())
}

#[tokio::test]
async fn retention_changes_reach_aws_and_region_changes_are_refused() -> anyhow::Result<()> {
    let h = start().await?;
    pools(&h)
        .create(&PostParams::default(), &pool_obj("p", json!({}))?)
        .await?;
    pool_ready(&h, "p").await?;
    let api = pools(&h);
    let patch = |v: serde_json::Value| {
        let api = api.clone();
        async move {
            let body = json!({"spec": {"streamConfiguration": v}});
            api.patch("p", &PatchParams::default(), &Patch::Merge(body))
                .await
        }
    };
    patch(json!({"dataRetentionInHours": 48})).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.emulator.pools()[0].data_retention_in_hours != Some(48) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention not updated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        h.emulator
            .call_count("UpdateMediaPipelineKinesisVideoStreamPool"),
        1
    );

    patch(json!({"region": "eu-west-1"})).await?;
    let o = wait_for(
        &pools(&h),
        "p",
        "ImmutableFieldChanged",
        Duration::from_secs(30),
        |p: &MediaPipelineKinesisVideoStreamPool| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Synced" && c.reason == "ImmutableFieldChanged")
            })
        },
    )
    .await?;
    let msg = o
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Stalled"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(msg.contains("region"), "{msg}");
    assert_eq!(h.emulator.pools()[0].region, "us-east-1");
    assert_eq!(h.emulator.pools().len(), 1);
    Ok(())
}

#[tokio::test]
async fn deleting_both_removes_the_pipeline_first_then_the_pool() -> anyhow::Result<()> {
    let h = start().await?;
    pools(&h)
        .create(&PostParams::default(), &pool_obj("pool", json!({}))?)
        .await?;
    let p = h.create("user", pipeline_spec("m-user", "pool")).await?;
    pool_ready(&h, "pool").await?;
    h.wait_ready("user").await?;

    // The pool first, to show that it waits for the pipeline.
    pools(&h).delete("pool", &Default::default()).await?;
    let o = wait_for(
        &pools(&h),
        "pool",
        "InUse",
        Duration::from_secs(30),
        |p: &MediaPipelineKinesisVideoStreamPool| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.reason == "InUse" && c.message.contains("user"))
            })
        },
    )
    .await?;
    assert!(o.metadata.deletion_timestamp.is_some());
    assert!(!h.emulator.pools()[0].deleted);
    h.delete("user").await?;
    h.wait_gone("user").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pools(&h).get_opt("pool").await?.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool resource stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        h.emulator.pipelines().iter().all(|p| p.deleted),
        "a pipeline remains"
    );
    assert!(
        h.emulator.pools().iter().all(|p| p.deleted),
        "a pool remains"
    );
    let order: Vec<String> = h
        .emulator
        .calls()
        .into_iter()
        .filter(|c| c.operation.starts_with("Delete") && c.status.is_some_and(|s| s < 300))
        .map(|c| c.operation)
        .collect();
    assert_eq!(
        order,
        [
            "DeleteMediaPipeline",
            "DeleteMediaPipelineKinesisVideoStreamPool"
        ]
    );
    h.assert_one_pipeline_per_uid(&[uid(&p)?]);
    Ok(())
}
