//! Nothing we own is lost by mistake: a deletion never creates and never
//! wedges, the orphan sweep touches only what this installation watches,
//! Retain is written to AWS before the finalizer goes, and a pool is known
//! by its ID, not by the ARN its name makes. On the real control plane and
//! the emulator.

mod common;

use std::time::Duration;

use chime_pipeline_operator::config::{Config, Sweep, SweepMode};
use chime_pipeline_operator::crd::{
    DeletionPolicy, FINALIZER, MediaCapturePipeline, MediaConcatenationPipeline,
    MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline,
};
use common::kinds::{TestKind, kind_name, manifests};
use common::*;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use testworld::TestEnv;
use testworld::emulator::{EmulatorConfig, sdk_client};

const CREATE: &str = "CreateMediaStreamPipeline";
const LIST: &str = "ListMediaPipelines";
const DELETE: &str = "DeleteMediaPipeline";

fn sweeping(mode: SweepMode) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.sweep = Sweep {
            mode,
            interval: Duration::from_millis(300),
            grace: Duration::from_millis(300),
        };
    }
}

/// Waits until `n` more sweeps (`list` calls) have run after now.
async fn sweeps(h: &Harness, list: &str, n: usize) -> bool {
    let start = h.emulator.call_count(list);
    eventually(Duration::from_secs(30), || {
        h.emulator.call_count(list) >= start + n
    })
    .await
}

fn pipeline_of(h: &Harness, uid: &str) -> Option<testworld::emulator::PipelineRecord> {
    h.emulator
        .pipelines()
        .into_iter()
        .find(|p| p.client_request_token.as_deref() == Some(uid))
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn creates_for(h: &Harness, uid: &str) -> usize {
    h.emulator
        .calls()
        .iter()
        .filter(|c| c.operation == CREATE && c.subject.as_deref() == Some(uid))
        .count()
}

fn recorded_id(o: &MediaStreamPipeline) -> Option<&str> {
    o.status.as_ref()?.media_pipeline_id.as_deref()
}

fn ready_reason(o: &MediaStreamPipeline) -> Option<String> {
    condition(o, "Ready").map(|c| c.1)
}

/// What the operator does for a create whose answer is then lost (a crash
/// right after it): our finalizer on the resource, and the pipeline in AWS
/// with the resource's UID as token and its identity tags.
async fn create_with_lost_answer(
    h: &Harness,
    name: &str,
    meeting: &str,
    config: &Config,
) -> anyhow::Result<(String, String)> {
    let o = h.create(name, spec_json(meeting, json!({}))).await?;
    let uid = uid(&o)?;
    let body = json!({"metadata": {"finalizers": [FINALIZER]}});
    h.api()
        .patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await?;
    let sdk = sdk_client(&h.emulator.endpoint_url(), REGION).await;
    let tags = [
        ("chimeoperator.dev/cluster", config.cluster_id.as_str()),
        ("chimeoperator.dev/namespace", h.env.namespace.as_str()),
        ("chimeoperator.dev/name", name),
        ("chimeoperator.dev/uid", uid.as_str()),
        ("chimeoperator.dev/deletion-policy", "Delete"),
    ];
    let id = sdk_pipeline(&sdk, meeting, POOL_ARN, Some(&uid), &tags).await?;
    Ok((uid, id))
}

/// A pipeline that waits for a pool that never comes was never sent to
/// AWS: it carries no finalizer, and deleting it is immediate, with no AWS
/// call (it used to replay its create, fail to resolve the pool, and hang
/// in Terminating).
#[tokio::test]
async fn a_pipeline_waiting_for_its_pool_is_deleted_at_once_with_no_aws_call() -> anyhow::Result<()>
{
    let h = Harness::start("waitdel").await?;
    h.create("waiting", spec_with_pool_ref("m-waiting", "no-such-pool"))
        .await?;
    let o = h
        .wait_for("waiting", "WaitingForPool", |o| {
            ready_reason(o).as_deref() == Some("WaitingForPool")
        })
        .await?;
    assert!(
        o.finalizers().is_empty(),
        "a resource that never reached AWS holds a finalizer: {:?}",
        o.finalizers()
    );
    let calls = h.emulator.calls().len();
    h.delete("waiting").await?;
    h.wait_gone("waiting").await?;
    assert_eq!(h.emulator.calls().len(), calls, "the deletion called AWS");
    Ok(())
}

/// A pool still CREATING and the pipeline waiting for it, deleted
/// together: both go (they used to wait on each other forever), and no
/// create is sent for the pipeline.
#[tokio::test]
async fn a_creating_pool_and_the_pipeline_waiting_for_it_are_deleted_together() -> anyhow::Result<()>
{
    let h = Harness::start_with(
        "together",
        EmulatorConfig {
            require_existing_pools: true,
            initializing_delay: Duration::from_secs(3600),
            ..Default::default()
        },
        |_| {},
    )
    .await?;
    let pools: Api<MediaPipelineKinesisVideoStreamPool> = h.env.api();
    pools
        .create(&PostParams::default(), &pool_manifest("pool-t")?)
        .await?;
    wait_for(&pools, "pool-t", "CREATING", Duration::from_secs(60), |p| {
        p.status.as_ref().and_then(|s| s.pool_status.as_deref()) == Some("CREATING")
    })
    .await?;
    let o = h
        .create("user", spec_with_pool_ref("m-user", "pool-t"))
        .await?;
    let uid = uid(&o)?;
    h.wait_for("user", "WaitingForPool", |o| {
        ready_reason(o).as_deref() == Some("WaitingForPool")
    })
    .await?;
    h.delete("user").await?;
    pools.delete("pool-t", &Default::default()).await?;
    h.wait_gone("user").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(p) = pools.get_opt("pool-t").await? {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool's deletion still waits: {:?}",
            p.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        creates_for(&h, &uid),
        0,
        "a create was sent for the pipeline"
    );
    Ok(())
}

/// A Region where the service has no endpoint (a typo, or us-east-2) is
/// Stalled at once with the Regions that work, and no call is sent; the
/// resource deletes at once.
#[tokio::test]
async fn a_pipeline_in_a_region_without_the_service_is_stalled_and_deleted_at_once()
-> anyhow::Result<()> {
    let h = Harness::start("noregion").await?;
    h.create("typo", spec_json("m-typo", json!({"region": "us-east-2"})))
        .await?;
    let o = h
        .wait_for("typo", "Stalled UnsupportedRegion", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "UnsupportedRegion")
        })
        .await?;
    let (_, _, message) = condition(&o, "Stalled").unwrap_or_default();
    assert!(message.contains("us-east-1"), "{message}");
    assert!(h.emulator.calls().is_empty(), "a call went out");
    h.delete("typo").await?;
    h.wait_gone("typo").await?;
    assert!(h.emulator.calls().is_empty(), "the deletion called AWS");
    Ok(())
}

/// A create reached AWS but its answer was lost (a crash): deleting the
/// resource finds the pipeline by its identity tags and deletes it. No
/// create is sent during the deletion (a replay would start a pipeline in
/// the meeting only to delete it).
#[tokio::test]
async fn a_pipeline_whose_create_answer_was_lost_is_found_and_deleted_without_a_new_create()
-> anyhow::Result<()> {
    let mut h = Harness::without_operator("lostdel").await?;
    let config = test_config(&h.env.namespace);
    let (uid, id) = create_with_lost_answer(&h, "lost", "m-lost", &config).await?;
    h.delete("lost").await?;
    h.run_operator(h.env.client.clone(), config).await;
    h.wait_gone("lost").await?;
    let p = pipeline_of(&h, &uid).expect("the pipeline");
    assert_eq!(p.id, id);
    assert!(p.deleted, "the pipeline outlived its resource");
    assert_eq!(creates_for(&h, &uid), 1, "the deletion sent a create");
    Ok(())
}

/// The crash window again, and the user edits the sources meanwhile
/// (nothing was recorded, so the edit is allowed): the operator finds the
/// pipeline the first spec made and says the spec differs; restoring the
/// first sources makes it Ready. (It used to record the digest of the
/// edited spec, and then refused the restored one forever.)
#[tokio::test]
async fn a_spec_edited_after_a_lost_create_answer_can_be_restored() -> anyhow::Result<()> {
    let mut h = Harness::without_operator("lostedit").await?;
    let config = test_config(&h.env.namespace);
    let (uid, id) = create_with_lost_answer(&h, "edited", "m-first", &config).await?;
    let api = h.api();
    let set_sources = |m: &str| {
        let body = json!({"spec": {"sources": [{"sourceType": "ChimeSdkMeeting", "sourceArn": meeting_arn(m)}]}});
        let api = api.clone();
        async move {
            api.patch("edited", &PatchParams::default(), &Patch::Merge(body))
                .await
        }
    };
    set_sources("m-second").await?;
    h.run_operator(h.env.client.clone(), config).await;
    let o = h
        .wait_for("edited", "ImmutableFieldChanged", |o| {
            condition(o, "Synced").is_some_and(|c| c.1 == "ImmutableFieldChanged")
        })
        .await?;
    assert_eq!(recorded_id(&o), Some(id.as_str()));
    set_sources("m-first").await?;
    let o = h
        .wait_for("edited", "Ready and Synced", |o| {
            is_ready(o) && condition(o, "Synced").is_some_and(|c| c.0 == "True")
        })
        .await?;
    assert_eq!(recorded_id(&o), Some(id.as_str()));
    h.assert_one_pipeline_per_uid(&[uid]);
    Ok(())
}

/// AWS refuses a create for its input (a sink that does not exist): that
/// create made nothing, so the region is not listed to look for one.
#[tokio::test]
async fn a_create_aws_refuses_for_its_input_lists_nothing() -> anyhow::Result<()> {
    let h = Harness::start_with(
        "refused",
        EmulatorConfig {
            require_existing_pools: true,
            ..Default::default()
        },
        |_| {},
    )
    .await?;
    h.create("bad", spec_json("m-bad", json!({}))).await?;
    h.wait_for("bad", "BadRequest", |o| {
        condition(o, "Synced").is_some_and(|c| c.1 == "BadRequest")
    })
    .await?;
    assert_eq!(h.emulator.call_count(LIST), 0, "the region was listed");
    assert_eq!(h.emulator.call_count("ListTagsForResource"), 0);
    Ok(())
}

/// Switched to Retain and deleted while the operator was down, or deleted
/// under `--default-deletion-policy retain`: the AWS object (of any kind) is
/// tagged Retain before the finalizer goes, and the sweep in delete mode
/// keeps it.
async fn retained_objects_are_tagged_retain_in_aws_before_their_resource_goes<K: TestKind>(
    prefix: &str,
) -> anyhow::Result<()> {
    let mut h = Harness::start_with(prefix, EmulatorConfig::default(), |_| {}).await?;
    let api: Api<K> = h.env.api();
    let names = ["switched".to_string(), "defaulted".to_string()];
    let mut uids = vec![];
    for o in manifests::<K>(&h.emulator, &names, |_| json!({})).await? {
        let o = api.create(&PostParams::default(), &o).await?;
        uids.push(o.uid().unwrap_or_default());
    }
    for name in &names {
        wait_for(&api, name, "Ready", Duration::from_secs(60), K::converged).await?;
    }
    h.stop_operator().await;
    let retain = json!({"spec": {"deletionPolicy": "Retain"}});
    api.patch("switched", &PatchParams::default(), &Patch::Merge(retain))
        .await?;
    for name in &names {
        api.delete(name, &Default::default()).await?;
    }
    let mut config = test_config(&h.env.namespace);
    config.default_deletion_policy = DeletionPolicy::Retain;
    sweeping(SweepMode::Delete)(&mut config);
    h.run_operator(h.env.client.clone(), config).await;
    for name in &names {
        wait_gone(&api, name).await?;
    }
    assert!(sweeps(&h, K::LIST, 6).await, "the sweep did not run");
    let remote = K::remote(&h.emulator);
    for uid in &uids {
        let r = remote
            .iter()
            .find(|r| r.owner() == *uid)
            .expect("the object");
        assert!(!r.deleted, "a retained {} was deleted", kind_name::<K>());
        assert_eq!(r.tag("chimeoperator.dev/deletion-policy"), Some("Retain"));
    }
    assert_eq!(h.emulator.call_count(K::DELETE), 0);
    Ok(())
}

#[tokio::test]
async fn retained_pipelines_are_tagged_retain_in_aws_before_their_resource_goes()
-> anyhow::Result<()> {
    retained_objects_are_tagged_retain_in_aws_before_their_resource_goes::<MediaStreamPipeline>(
        "retain",
    )
    .await
}

#[tokio::test]
async fn retained_pools_are_tagged_retain_in_aws_before_their_resource_goes() -> anyhow::Result<()>
{
    retained_objects_are_tagged_retain_in_aws_before_their_resource_goes::<
        MediaPipelineKinesisVideoStreamPool,
    >("poolretain")
    .await
}

#[tokio::test]
async fn retained_captures_are_tagged_retain_in_aws_before_their_resource_goes()
-> anyhow::Result<()> {
    retained_objects_are_tagged_retain_in_aws_before_their_resource_goes::<MediaCapturePipeline>(
        "capretain",
    )
    .await
}

#[tokio::test]
async fn retained_concatenations_are_tagged_retain_in_aws_before_their_resource_goes()
-> anyhow::Result<()> {
    retained_objects_are_tagged_retain_in_aws_before_their_resource_goes::<
        MediaConcatenationPipeline,
    >("concatretain")
    .await
}

/// An adopted pipeline carries the identity tags and Retain from its first
/// reconcile (it used to get none until a spec edit).
#[tokio::test]
async fn an_adopted_pipeline_is_tagged_retained_from_its_first_reconcile() -> anyhow::Result<()> {
    let h = Harness::start("adopttags").await?;
    let id = pipeline_made_elsewhere(&h.emulator, "m-adopted").await?;
    let o = h
        .create(
            "adopted",
            spec_json("m-adopted", json!({"adoptMediaPipelineId": id})),
        )
        .await?;
    let uid = uid(&o)?;
    h.wait_ready("adopted").await?;
    let tagged = eventually(Duration::from_secs(30), || {
        h.emulator.pipelines().iter().any(|p| {
            p.id == id
                && tag(&p.tags, "chimeoperator.dev/deletion-policy") == Some("Retain")
                && tag(&p.tags, "chimeoperator.dev/uid") == Some(uid.as_str())
        })
    })
    .await;
    assert!(tagged, "{:?}", h.emulator.pipelines());
    Ok(())
}

/// Two namespaced installations in one cluster and account, with default
/// flags (so one cluster ID), both sweeping in delete mode: neither
/// deletes the other's live pipelines; each still sweeps its own orphan.
#[tokio::test]
async fn two_installations_with_default_flags_never_delete_each_others_pipelines()
-> anyhow::Result<()> {
    let a = Harness::start_with(
        "dflt-a",
        EmulatorConfig::default(),
        sweeping(SweepMode::Delete),
    )
    .await?;
    let mut b = Harness::on(TestEnv::new("dflt-b").await?, EmulatorConfig::default()).await?;
    let mut config_b = test_config(&b.env.namespace);
    sweeping(SweepMode::Delete)(&mut config_b);
    assert_eq!(
        config_b.cluster_id,
        test_config(&a.env.namespace).cluster_id
    );
    let aws_b = test_aws_counted(&a.emulator.endpoint_url(), None, b.metrics.clone()).await;
    b.run_operator_with(b.env.client.clone(), aws_b, config_b)
        .await;
    let mut uids = vec![];
    for i in 0..2 {
        let o = a
            .create(&format!("a{i}"), spec_json(&format!("m-a{i}"), json!({})))
            .await?;
        uids.push(uid(&o)?);
        let o = b
            .create(&format!("b{i}"), spec_json(&format!("m-b{i}"), json!({})))
            .await?;
        uids.push(uid(&o)?);
    }
    for i in 0..2 {
        a.wait_ready(&format!("a{i}")).await?;
        b.wait_ready(&format!("b{i}")).await?;
    }
    assert!(sweeps(&a, LIST, 10).await, "no sweeps ran");
    let live = uids
        .iter()
        .filter(|u| pipeline_of(&a, u).is_some_and(|p| !p.deleted))
        .count();
    assert_eq!(live, 4, "a live pipeline was deleted");
    assert_eq!(a.emulator.call_count(DELETE), 0);
    // B's b0 loses its finalizer and goes: B's orphan, B's to delete.
    let body = json!({"metadata": {"finalizers": null}});
    b.api()
        .patch("b0", &PatchParams::default(), &Patch::Merge(body))
        .await?;
    b.delete("b0").await?;
    let b0 = uids[1].clone();
    let swept = eventually(Duration::from_secs(30), || {
        pipeline_of(&a, &b0).is_some_and(|p| p.deleted)
    })
    .await;
    assert!(swept, "B never swept its own orphan");
    let deletes_by = |m: &chime_pipeline_operator::metrics::Metrics| {
        metric_value(
            m,
            "chime_operator_aws_calls_total",
            "operation=\"DeleteMediaPipeline\"",
        )
    };
    assert_eq!(deletes_by(&a.metrics), 0.0, "A deleted B's orphan");
    assert_eq!(deletes_by(&b.metrics), 1.0);
    Ok(())
}

/// A pool deleted out-of-band whose name another pool then takes (and so
/// its ARN): the first resource reads PoolGone, and neither tags nor, when
/// it is deleted, deletes the new pool.
#[tokio::test]
async fn a_pool_whose_name_was_taken_again_is_gone_and_the_new_pool_is_left_alone()
-> anyhow::Result<()> {
    use aws_sdk_chimesdkmediapipelines::types as t;
    let h = Harness::start("poolid").await?;
    let pools: Api<MediaPipelineKinesisVideoStreamPool> = h.env.api();
    pools
        .create(&PostParams::default(), &pool_manifest("shared")?)
        .await?;
    let first = wait_ready(&pools, "shared").await?;
    let status = first.status.unwrap_or_default();
    let (arn, first_id) = (status.pool_arn.unwrap_or_default(), status.pool_id);
    let sdk = sdk_client(&h.emulator.endpoint_url(), REGION).await;
    sdk.delete_media_pipeline_kinesis_video_stream_pool()
        .identifier(&arn)
        .send()
        .await?;
    let gone = eventually(Duration::from_secs(30), || {
        h.emulator.pools().iter().all(|p| p.arn != arn || p.deleted)
    })
    .await;
    assert!(gone, "the pool was never deleted");
    let conf = t::KinesisVideoStreamConfiguration::builder()
        .region(REGION)
        .data_retention_in_hours(24)
        .build()?;
    let made = sdk
        .create_media_pipeline_kinesis_video_stream_pool()
        .pool_name("shared")
        .stream_configuration(conf)
        .tags(t::Tag::builder().key("team").value("other").build()?)
        .send()
        .await?;
    let second = made
        .kinesis_video_stream_pool_configuration
        .unwrap_or_else(|| panic!("no pool in the answer"));
    assert_eq!(second.pool_arn.as_deref(), Some(arn.as_str()));
    assert_ne!(second.pool_id, first_id);
    wait_for(&pools, "shared", "PoolGone", Duration::from_secs(60), |p| {
        condition(p, "Ready").is_some_and(|c| c.1 == "PoolGone")
    })
    .await?;
    pools.delete("shared", &Default::default()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pools.get_opt("shared").await?.is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the resource stays");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second_id = second.pool_id.unwrap_or_default();
    let now = h.emulator.pools();
    let new_pool = now
        .iter()
        .find(|p| p.id == second_id)
        .expect("the new pool");
    assert!(!new_pool.deleted, "the other pool was deleted");
    assert_eq!(
        new_pool.tags,
        vec![("team".to_string(), "other".to_string())]
    );
    Ok(())
}

/// An operator sweeping in delete mode, with one resource Ready in
/// eu-central-1 (`far`), whose UID it returns.
async fn sweeping_with_one_far(prefix: &str) -> anyhow::Result<(Harness, String)> {
    let h = Harness::start_with(
        prefix,
        EmulatorConfig::default(),
        sweeping(SweepMode::Delete),
    )
    .await?;
    let o = h
        .create("far", spec_json("m-far", json!({"region": "eu-central-1"})))
        .await?;
    h.wait_ready("far").await?;
    let uid = uid(&o)?;
    Ok((h, uid))
}

/// A pool AWS will not delete (in use) and a failing object in the first
/// region swept do not stop the sweep: the orphan in the next region is
/// still deleted, and the failure is counted.
#[tokio::test]
async fn one_failing_object_does_not_stop_the_sweep_of_other_regions() -> anyhow::Result<()> {
    use aws_sdk_chimesdkmediapipelines::types as t;
    // A live resource in eu-central-1, so that the sweep goes there (first).
    let (h, _) = sweeping_with_one_far("sweepfail").await?;
    let ns = h.env.namespace.clone();
    let ours = |uid: &'static str| {
        [
            ("chimeoperator.dev/cluster", "test-cluster"),
            ("chimeoperator.dev/namespace", ns.as_str()),
            ("chimeoperator.dev/uid", uid),
            ("chimeoperator.dev/deletion-policy", "Delete"),
        ]
    };
    // eu-central-1: an orphaned pool that a pipeline made elsewhere uses.
    let eu = sdk_client(&h.emulator.endpoint_url(), "eu-central-1").await;
    let conf = t::KinesisVideoStreamConfiguration::builder()
        .region("eu-central-1")
        .build()?;
    let mut pool = eu
        .create_media_pipeline_kinesis_video_stream_pool()
        .pool_name("orphan-in-use")
        .stream_configuration(conf);
    for (k, v) in ours("gone-pool") {
        pool = pool.tags(t::Tag::builder().key(k).value(v).build()?);
    }
    let pool_arn = pool
        .send()
        .await?
        .kinesis_video_stream_pool_configuration
        .and_then(|p| p.pool_arn)
        .unwrap_or_default();
    sdk_pipeline(&eu, "m-elsewhere", &pool_arn, None, &[]).await?;
    // us-east-1: an orphaned pipeline.
    let us = sdk_client(&h.emulator.endpoint_url(), REGION).await;
    sdk_pipeline(&us, "m-orphan", POOL_ARN, None, &ours("gone-pipeline")).await?;
    let swept = eventually(Duration::from_secs(30), || {
        h.emulator
            .pipelines()
            .iter()
            .any(|p| p.deleted && tag(&p.tags, "chimeoperator.dev/uid") == Some("gone-pipeline"))
    })
    .await;
    assert!(swept, "the orphan in us-east-1 was never swept");
    let errors = metric_value(
        &h.metrics,
        "chime_operator_sweep_errors_total",
        "MediaPipelineKinesisVideoStreamPool",
    );
    assert!(errors >= 1.0, "the pool's refused delete was not counted");
    Ok(())
}

/// The last resource of a region goes without its cleanup (its finalizer
/// removed by hand): the region stays in the sweep, and its orphan is
/// deleted.
#[tokio::test]
async fn an_orphan_in_a_region_no_resource_names_any_more_is_swept() -> anyhow::Result<()> {
    let (h, uid) = sweeping_with_one_far("lastregion").await?;
    let listed_eu = |h: &Harness| {
        h.emulator
            .calls()
            .iter()
            .filter(|c| c.operation == LIST && c.region.as_deref() == Some("eu-central-1"))
            .count()
    };
    assert!(
        eventually(Duration::from_secs(30), || listed_eu(&h) >= 2).await,
        "the sweep never went to eu-central-1"
    );
    let body = json!({"metadata": {"finalizers": null}});
    h.api()
        .patch("far", &PatchParams::default(), &Patch::Merge(body))
        .await?;
    h.delete("far").await?;
    h.wait_gone("far").await?;
    let swept = eventually(Duration::from_secs(30), || {
        pipeline_of(&h, &uid).is_some_and(|p| p.deleted)
    })
    .await;
    assert!(swept, "the orphan in eu-central-1 was never swept");
    Ok(())
}

/// Several resources deleted at once whose creates' answers were all lost:
/// their lookups by identity tags share the region's listing instead of
/// each listing the region, and each finds its own pipeline.
#[tokio::test]
async fn lookups_at_the_same_moment_share_one_listing() -> anyhow::Result<()> {
    const N: usize = 6;
    let mut h = Harness::without_operator("sharedlist").await?;
    let config = test_config(&h.env.namespace);
    let mut made = vec![];
    for i in 0..N {
        let name = format!("lost-{i}");
        made.push(create_with_lost_answer(&h, &name, &format!("m-{name}"), &config).await?);
        h.delete(&name).await?;
    }
    h.run_operator(h.env.client.clone(), config).await;
    for i in 0..N {
        h.wait_gone(&format!("lost-{i}")).await?;
    }
    for (uid, id) in &made {
        let p = pipeline_of(&h, uid).expect("the pipeline");
        assert!(p.deleted && p.id == *id, "{p:?}");
    }
    let lists = h.emulator.call_count(LIST);
    println!("safety: {N} lookups at once made {lists} ListMediaPipelines calls");
    assert!(lists < N, "{lists} listings for {N} lookups");
    Ok(())
}
