//! No single object can stall the operator. Objects stored before the CRD
//! bounded a field (an older CRD installed, the objects created, then the
//! current CRD installed) do not decode into the operator's types; they are
//! reported on themselves, and everything else goes on: other pools and
//! pipelines are created and deleted, and /readyz is ready.
//!
//! CRDs are cluster-wide, so this test starts a control plane of its own
//! rather than downgrade the shared one's.

mod common;

use std::path::Path;
use std::time::Duration;

use chime_pipeline_operator::crd::{
    MediaPipelineKinesisVideoStreamPool as Pool, MediaStreamPipeline, crds_yaml,
};
use common::*;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use testworld::TestEnv;
use testworld::controlplane::ControlPlane;
use testworld::emulator::{Emulator, EmulatorConfig};

const GROUP: &str = "media.chimeoperator.dev";
const TOO_BIG: u64 = 2_147_483_648;

/// The CRDs as they were before the 32-bit bounds: no maximum on the pool's
/// retention nor on the pipeline's time to live.
fn older_crds(dir: &Path) -> anyhow::Result<()> {
    let mut docs = vec![];
    for doc in serde_yaml_ng::Deserializer::from_str(&crds_yaml()?) {
        let mut crd: Value = serde::Deserialize::deserialize(doc)?;
        let spec = &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"];
        for path in [
            "/streamConfiguration/properties/dataRetentionInHours",
            "/ttlSecondsAfterFinished",
        ] {
            if let Some(schema) = spec.pointer_mut(path).and_then(Value::as_object_mut) {
                schema.remove("maximum");
            }
        }
        docs.push(serde_yaml_ng::to_string(&crd)?);
    }
    std::fs::write(dir.join("crds.yaml"), docs.join("---\n"))?;
    Ok(())
}

fn dynamic(env: &TestEnv, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(GROUP, "v1alpha1", kind);
    let plural = format!("{}s", kind.to_ascii_lowercase());
    let ar = ApiResource::from_gvk_with_plural(&gvk, &plural);
    Api::namespaced_with(env.client.clone(), &env.namespace, &ar)
}

/// Stores one pool and one pipeline that the current CRD would refuse.
async fn store_out_of_range(env: &TestEnv) -> anyhow::Result<()> {
    let old = env.files.path().join("older-crds");
    std::fs::create_dir_all(&old)?;
    older_crds(&old)?;
    testworld::install_crds(&env.client, &old).await?;
    let pool: DynamicObject = serde_json::from_value(json!({
        "apiVersion": format!("{GROUP}/v1alpha1"),
        "kind": "MediaPipelineKinesisVideoStreamPool",
        "metadata": {"name": "too-long"},
        "spec": {"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": TOO_BIG}},
    }))?;
    let mut pipeline = serde_json::to_value(MediaStreamPipeline::new(
        "too-late",
        spec_json("m-too-late", json!({})),
    ))?;
    pipeline["spec"]["ttlSecondsAfterFinished"] = json!(TOO_BIG);
    let pipeline: DynamicObject = serde_json::from_value(pipeline)?;
    create_once_unbounded(&dynamic(env, "MediaPipelineKinesisVideoStreamPool"), &pool).await?;
    create_once_unbounded(&dynamic(env, "MediaStreamPipeline"), &pipeline).await?;
    testworld::install_crds(&env.client, &testworld::crds_dir()).await?;
    Ok(())
}

/// Creates `obj` once the API server serves the older, unbounded schema:
/// it takes a replaced CRD's schema up a moment after the update (seen
/// under load), and until then refuses the value with a 422.
async fn create_once_unbounded(
    api: &Api<DynamicObject>,
    obj: &DynamicObject,
) -> anyhow::Result<()> {
    for _ in 0..60 {
        match api.create(&PostParams::default(), obj).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 422 => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!("the older schema was not served within 30 s")
}

/// The Warning Event about `name` of reason InvalidField, once published.
async fn invalid_field_event(env: &TestEnv, kind: &str, name: &str) -> anyhow::Result<Event> {
    let api: Api<Event> = env.api();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let events = api.list(&Default::default()).await?.items;
        let found = events.into_iter().find(|e| {
            e.reason.as_deref() == Some("InvalidField")
                && e.regarding.as_ref().is_some_and(|r| {
                    r.name.as_deref() == Some(name) && r.kind.as_deref() == Some(kind)
                })
        });
        if let Some(e) = found {
            return Ok(e);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no InvalidField Event about {kind} {name} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_object_out_of_range_stalls_nothing_else() -> anyhow::Result<()> {
    let Some(bin_dir) = std::env::var_os("TESTWORLD_BIN_DIR") else {
        println!("tolerant: skipped (TESTWORLD_BIN_DIR unset: not started by tests/run)");
        return Ok(());
    };
    let cp = ControlPlane::start(Path::new(&bin_dir)).await?;
    let env = TestEnv::on(cp.kubeconfig.clone(), "tolerant").await?;
    store_out_of_range(&env).await?;

    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let op = Operator::spawn(&cp.kubeconfig, &emulator, &env.namespace, &[])?;
    op.wait_http("/readyz", 200).await?;

    // Others are created and deleted as ever, pools and pipelines alike.
    let pools: Api<Pool> = env.api();
    let pipelines: Api<MediaStreamPipeline> = env.api();
    pools
        .create(&PostParams::default(), &pool_manifest("fine")?)
        .await?;
    let spec = serde_json::from_value(json!({
        "sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn("m-fine")}],
        "sinks": [{"sinkType": "KinesisVideoStreamPool", "poolRef": {"name": "fine"},
                   "reservedStreamCapacity": 1, "mediaStreamType": "MixedAudio"}],
    }))?;
    pipelines
        .create(
            &PostParams::default(),
            &MediaStreamPipeline::new("fine", spec),
        )
        .await?;
    wait_ready(&pools, "fine").await?;
    wait_ready(&pipelines, "fine").await?;
    pipelines.delete("fine", &DeleteParams::default()).await?;
    pools.delete("fine", &DeleteParams::default()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pipelines.get_opt("fine").await?.is_some() || pools.get_opt("fine").await?.is_some() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the good objects were not deleted within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = (
        emulator.call_count("CreateMediaPipelineKinesisVideoStreamPool"),
        emulator.call_count("CreateMediaStreamPipeline"),
    );
    assert_eq!(created, (1, 1), "creates (pools, pipelines)");
    // Deleted in AWS too (a repeated delete answers NotFound: done).
    let deleted = (
        emulator
            .pools()
            .iter()
            .filter(|p| p.deleted || p.status == "DELETING")
            .count(),
        emulator.pipelines().iter().filter(|p| p.deleted).count(),
    );
    assert_eq!(deleted, (1, 1), "deleted in AWS (pools, pipelines)");

    // The bad ones carry an Event naming the field and its value.
    let pool_event =
        invalid_field_event(&env, "MediaPipelineKinesisVideoStreamPool", "too-long").await?;
    let pipeline_event = invalid_field_event(&env, "MediaStreamPipeline", "too-late").await?;
    for (event, field) in [
        (&pool_event, "spec.streamConfiguration.dataRetentionInHours"),
        (&pipeline_event, "spec.ttlSecondsAfterFinished"),
    ] {
        let note = event.note.clone().unwrap_or_default();
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert!(
            note.contains(field) && note.contains(&TOO_BIG.to_string()),
            "the Event does not name {field} and its value: {note}"
        );
    }
    let invalid_pools = op
        .metric(
            "chime_operator_invalid_objects",
            "MediaPipelineKinesisVideoStreamPool",
        )
        .await;
    let invalid_pipelines = op
        .metric(
            "chime_operator_invalid_objects",
            "kind=\"MediaStreamPipeline\"",
        )
        .await;
    assert_eq!((invalid_pools, invalid_pipelines), (1.0, 1.0));
    let (ready, _) = op.get("/readyz").await?;
    assert_eq!(ready, 200);
    // Whether the API server also takes a status condition on an object
    // its schema now refuses is its own business: the Event is the report.
    let stored = dynamic(&env, "MediaPipelineKinesisVideoStreamPool")
        .get("too-long")
        .await?;
    let condition = stored.data["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Stalled"))
        .map(|c| format!("{}={} {}", c["type"], c["status"], c["reason"]));
    println!(
        "tolerant: /readyz {ready}; good pool and pipeline created {created:?} and deleted {deleted:?}; \
         invalid objects pools {invalid_pools} pipelines {invalid_pipelines}; Event: {:?}; \
         status condition on the pool: {condition:?}",
        pool_event.note.unwrap_or_default()
    );
    Ok(())
}
