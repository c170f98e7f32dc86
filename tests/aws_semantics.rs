//! AWS's own semantics, kept: IDs compared as AWS compares them (GUIDs
//! without regard to case), and an error classified by what it means for
//! the call (a pool name already taken is permanent, not a conflict to
//! retry). Against the real control plane and the emulator.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool as Pool;
use common::*;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use testworld::TestEnv;
use testworld::emulator::EmulatorConfig;

const CREATE_POOL: &str = "CreateMediaPipelineKinesisVideoStreamPool";

/// A pipeline adopted by its ID in capitals (the model's GUID pattern
/// allows A-F), its meeting named in capitals too, stays Ready however
/// often it is read again: AWS answers in lower case.
#[tokio::test]
async fn adoption_by_an_upper_case_id_stays_ready_across_refreshes() -> anyhow::Result<()> {
    let h = Harness::start("upperid").await?;
    let meeting = "3f1c2b9e-7d1a-4c8e-9a55-0d6e2f1b7c10";
    let id = pipeline_made_elsewhere(&h.emulator, meeting).await?;
    let upper = id.to_ascii_uppercase();
    assert_ne!(id, upper, "the emulator answers IDs in lower case");
    let spec = spec_json(
        &meeting.to_ascii_uppercase(),
        json!({"adoptMediaPipelineId": upper}),
    );
    h.create("adopted", spec).await?;
    h.wait_ready("adopted").await?;

    // Refreshes come every second: watch several go by.
    let reads_before = h.emulator.call_count("GetMediaPipeline");
    let mut checks = 0;
    while h.emulator.call_count("GetMediaPipeline") < reads_before + 4 {
        let o = h.api().get("adopted").await?;
        assert!(
            is_ready(&o) && condition(&o, "Synced").is_some_and(|c| c.0 == "True"),
            "not Ready and Synced after a refresh: {:?}",
            o.status
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let o = h.api().get("adopted").await?;
    assert!(is_ready(&o), "{:?}", o.status);
    assert_eq!(
        condition(&o, "Stalled").map(|c| c.0).as_deref(),
        Some("False")
    );
    let reads = h.emulator.call_count("GetMediaPipeline") - reads_before;
    println!(
        "adopted {upper} (AWS says {id}): Ready and Synced through {reads} refreshes ({checks} checks)"
    );
    assert_eq!(h.emulator.call_count("CreateMediaStreamPipeline"), 1);
    Ok(())
}

/// The same manifest applied in two namespaces: the second pool's name is
/// taken in the Region. It is Stalled, naming the first pool, and asks AWS
/// once until its spec changes.
#[tokio::test]
async fn a_pool_name_taken_in_the_region_stalls_naming_the_first() -> anyhow::Result<()> {
    let first_env = TestEnv::new("nametaken").await?;
    let second_env = TestEnv::new("nametaken2").await?;
    let (ns1, ns2) = (first_env.namespace.clone(), second_env.namespace.clone());
    let mut h = Harness::on(first_env, EmulatorConfig::default()).await?;
    let mut config = test_config(&ns1);
    config.namespaces.push(ns2.clone());
    h.run_operator(h.env.client.clone(), config).await;
    let first: Api<Pool> = Api::namespaced(h.env.client.clone(), &ns1);
    let second: Api<Pool> = Api::namespaced(h.env.client.clone(), &ns2);

    first
        .create(&PostParams::default(), &pool_manifest("meeting-audio")?)
        .await?;
    let one = wait_ready(&first, "meeting-audio").await?;
    let first_arn = one.status.and_then(|s| s.pool_arn).unwrap_or_default();
    let before = h.emulator.call_count(CREATE_POOL);

    second
        .create(&PostParams::default(), &pool_manifest("meeting-audio")?)
        .await?;
    let two = wait_for(
        &second,
        "meeting-audio",
        "Stalled=NameInUse",
        Duration::from_secs(60),
        |o| condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "NameInUse"),
    )
    .await?;
    let (_, _, message) = condition(&two, "Stalled").unwrap_or_default();
    assert!(
        message.contains(&first_arn),
        "the message does not name {first_arn}: {message}"
    );
    assert_eq!(
        condition(&two, "Reconciling").map(|c| c.0).as_deref(),
        Some("False")
    );
    // Refreshes, status writes and the first pool's reads go on meanwhile.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let creates = h.emulator.call_count(CREATE_POOL) - before;
    assert_eq!(creates, 1, "{creates} creates for the clashing pool");

    // A spec that names another pool is created at once.
    let rename = json!({"spec": {"poolName": "meeting-audio-2"}});
    second
        .patch(
            "meeting-audio",
            &PatchParams::default(),
            &Patch::Merge(&rename),
        )
        .await?;
    let renamed = wait_ready(&second, "meeting-audio").await?;
    let after = h.emulator.call_count(CREATE_POOL) - before;
    println!(
        "name taken: Stalled NameInUse naming {first_arn}; {creates} create in 8 s; \
         after the rename {after} creates in all, Ready as {:?}",
        renamed.status.and_then(|s| s.pool_name)
    );
    assert_eq!(after, 2);
    assert_eq!(h.emulator.pools().len(), 2);
    Ok(())
}
