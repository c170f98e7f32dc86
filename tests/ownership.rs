//! Own what we create: a replay always finds the object an earlier create
//! made, identity tags cannot be lost or forged, and the orphan sweep finds
//! what no reconcile can see, touching only this installation's objects.
//! On the real control plane and the emulator.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chime_pipeline_operator::config::{Config, Sweep, SweepMode};
use chime_pipeline_operator::crd::MediaStreamPipeline;
use chime_pipeline_operator::metrics::Metrics;
use chime_pipeline_operator::sweep::Sweeper;
use chime_pipeline_operator::{controller, sweep};
use common::*;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Recorder, Reporter};
use serde_json::json;
use testworld::TestEnv;
use testworld::emulator::{EmulatorConfig, sdk_client};

const LIST: &str = "ListMediaPipelines";
const TAGS: &str = "ListTagsForResource";

fn sweeping(mode: SweepMode) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.sweep = Sweep {
            mode,
            interval: Duration::from_millis(500),
            grace: Duration::from_millis(500),
        };
    }
}

fn pipeline_of(h: &Harness, uid: &str) -> Option<testworld::emulator::PipelineRecord> {
    h.emulator
        .pipelines()
        .into_iter()
        .find(|p| p.client_request_token.as_deref() == Some(uid))
}

fn deleted(h: &Harness, uid: &str) -> bool {
    pipeline_of(h, uid).is_some_and(|p| p.deleted)
}

/// Removes the operator's finalizer by hand, as a person does when a
/// deletion hangs, and deletes the resource: nothing in the cluster points
/// at its pipeline any more.
async fn drop_by_hand(api: &Api<MediaStreamPipeline>, name: &str) -> anyhow::Result<()> {
    let body = json!({"metadata": {"finalizers": null}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await?;
    api.delete(name, &Default::default()).await?;
    Ok(())
}

/// Waits until `n` more sweeps (List calls) have run after now.
async fn sweeps(h: &Harness, n: usize) -> bool {
    let start = h.emulator.call_count(LIST);
    eventually(Duration::from_secs(30), || {
        h.emulator.call_count(LIST) >= start + n
    })
    .await
}

async fn event_reasons(h: &Harness) -> anyhow::Result<Vec<String>> {
    let events: Api<Event> = h.env.api();
    Ok(events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect())
}

/// The status is lost (a backup restored without it) and a tag edited
/// meanwhile: the replay of the create still sends what the first create
/// sent, so the same pipeline comes back; deleting the resource deletes it.
#[tokio::test]
async fn a_replay_after_a_lost_status_and_a_tag_edit_finds_the_same_pipeline() -> anyhow::Result<()>
{
    let mut h = Harness::start("replay").await?;
    let spec = spec_json("m-replay", json!({"tags": [{"key": "team", "value": "a"}]}));
    let o = h.create("p", spec).await?;
    let uid = uid(&o)?;
    let first = h.wait_ready("p").await?;
    let id = first.status.and_then(|s| s.media_pipeline_id);
    h.stop_operator().await;

    let api = h.api();
    api.patch_status(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": null})),
    )
    .await?;
    let tags =
        json!({"spec": {"tags": [{"key": "team", "value": "b"}, {"key": "new", "value": "x"}]}});
    api.patch("p", &PatchParams::default(), &Patch::Merge(tags))
        .await?;
    let (client, config) = (h.env.client.clone(), test_config(&h.env.namespace));
    h.run_operator(client, config).await;

    let again = h.wait_ready("p").await?;
    assert_eq!(
        again
            .status
            .as_ref()
            .and_then(|s| s.media_pipeline_id.clone()),
        id
    );
    assert_ne!(
        condition(&again, "Stalled").map(|c| c.0).as_deref(),
        Some("True")
    );
    assert_eq!(
        h.emulator.call_count("CreateMediaStreamPipeline"),
        2,
        "one replay"
    );
    h.assert_one_pipeline_per_uid(std::slice::from_ref(&uid));
    let tagged = eventually(Duration::from_secs(30), || {
        pipeline_of(&h, &uid).is_some_and(|p| p.tags.contains(&("team".into(), "b".into())))
    })
    .await;
    assert!(tagged, "the edited tag never reached the pipeline");

    h.delete("p").await?;
    h.wait_gone("p").await?;
    assert!(deleted(&h, &uid), "the pipeline outlived its resource");
    Ok(())
}

/// Finalizers removed by hand while the operator is down: after a restart
/// the sweep deletes the orphaned pipeline in delete mode, keeps the one
/// whose resource said Retain, and reports both.
#[tokio::test]
async fn the_sweep_deletes_orphans_in_delete_mode_and_keeps_retained_ones() -> anyhow::Result<()> {
    let mut h = Harness::start_with(
        "sweepdel",
        EmulatorConfig::default(),
        sweeping(SweepMode::Delete),
    )
    .await?;
    let d = h.create("d", spec_json("m-d", json!({}))).await?;
    let r = h
        .create("r", spec_json("m-r", json!({"deletionPolicy": "Retain"})))
        .await?;
    h.wait_ready("d").await?;
    h.wait_ready("r").await?;
    h.stop_operator().await;
    for name in ["d", "r"] {
        drop_by_hand(&h.api(), name).await?;
        h.wait_gone(name).await?;
    }
    let mut config = test_config(&h.env.namespace);
    sweeping(SweepMode::Delete)(&mut config);
    h.run_operator(h.env.client.clone(), config).await;

    let (d, r) = (uid(&d)?, uid(&r)?);
    assert!(
        eventually(Duration::from_secs(30), || deleted(&h, &d)).await,
        "the orphan was not deleted"
    );
    assert!(sweeps(&h, 3).await);
    assert!(!deleted(&h, &r), "a Retain pipeline was deleted");
    let orphans = metric_value(&h.metrics, "chime_operator_orphans", "MediaStreamPipeline");
    assert_eq!(orphans, 1.0, "the retained orphan is still reported");
    let reasons = event_reasons(&h).await?;
    assert!(reasons.iter().any(|r| r == "OrphanDeleted"), "{reasons:?}");
    println!("ownership: sweep (delete mode): 1 orphan deleted, 1 Retain orphan kept and reported");
    Ok(())
}

/// In report mode the sweep only reports: metric and Event, no delete.
#[tokio::test]
async fn the_sweep_only_reports_in_report_mode() -> anyhow::Result<()> {
    let mut h = Harness::start_with(
        "sweeprep",
        EmulatorConfig::default(),
        sweeping(SweepMode::Report),
    )
    .await?;
    let x = h.create("x", spec_json("m-x", json!({}))).await?;
    h.wait_ready("x").await?;
    h.stop_operator().await;
    drop_by_hand(&h.api(), "x").await?;
    h.wait_gone("x").await?;
    let mut config = test_config(&h.env.namespace);
    sweeping(SweepMode::Report)(&mut config);
    h.run_operator(h.env.client.clone(), config).await;

    let reported = eventually(Duration::from_secs(30), || {
        metric_value(&h.metrics, "chime_operator_orphans", "MediaStreamPipeline") == 1.0
    })
    .await;
    assert!(reported, "the orphan was not reported");
    assert!(sweeps(&h, 3).await);
    assert!(!deleted(&h, &uid(&x)?), "report mode deleted");
    assert_eq!(h.emulator.call_count("DeleteMediaPipeline"), 0);
    let reasons = event_reasons(&h).await?;
    assert!(reasons.iter().any(|r| r == "Orphaned"), "{reasons:?}");
    Ok(())
}

/// Two installations (cluster IDs) in one AWS account, both sweeping in
/// delete mode: each deletes only its own orphan, never the other's
/// pipelines.
#[tokio::test]
async fn two_installations_never_touch_each_others_pipelines() -> anyhow::Result<()> {
    let a = Harness::start_with("share-a", EmulatorConfig::default(), |c| {
        c.cluster_id = "cluster-a".into();
        sweeping(SweepMode::Delete)(c);
    })
    .await?;
    // B: another namespace and installation, the same AWS account.
    let env_b = TestEnv::new("share-b").await?;
    let mut config_b = test_config(&env_b.namespace);
    config_b.cluster_id = "cluster-b".into();
    sweeping(SweepMode::Delete)(&mut config_b);
    let metrics_b = Arc::new(Metrics::default());
    let counted_b = metrics_b.clone();
    let aws_b = test_aws_counted(&a.emulator.endpoint_url(), None, metrics_b.clone()).await;
    let (stop_b, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    }
    .shared();
    let client_b = env_b.client.clone();
    let b_task = tokio::spawn(async move {
        futures::join!(
            controller::run(
                client_b.clone(),
                aws_b.clone(),
                config_b.clone(),
                metrics_b.clone(),
                stopped.clone()
            ),
            sweep::run(client_b, aws_b, config_b, metrics_b, stopped),
        );
    });
    let api_b: Api<MediaStreamPipeline> = env_b.api();
    let mut uids = vec![];
    for i in 0..3 {
        let o = a
            .create(&format!("a{i}"), spec_json(&format!("m-a{i}"), json!({})))
            .await?;
        uids.push(uid(&o)?);
        let b =
            MediaStreamPipeline::new(&format!("b{i}"), spec_json(&format!("m-b{i}"), json!({})));
        uids.push(
            api_b
                .create(&PostParams::default(), &b)
                .await?
                .uid()
                .unwrap_or_default(),
        );
    }
    for i in 0..3 {
        a.wait_ready(&format!("a{i}")).await?;
        wait_ready(&api_b, &format!("b{i}")).await?;
    }
    // B's resource b0 loses its finalizer and goes: B's orphan.
    drop_by_hand(&api_b, "b0").await?;
    let b0 = uids[1].clone();
    assert!(
        eventually(Duration::from_secs(30), || deleted(&a, &b0)).await,
        "B never swept its own orphan"
    );
    assert!(sweeps(&a, 6).await);
    let deletes = |m: &Metrics| {
        metric_value(
            m,
            "chime_operator_aws_calls_total",
            "operation=\"DeleteMediaPipeline\"",
        )
    };
    assert_eq!(deletes(&a.metrics), 0.0, "A deleted something");
    assert_eq!(deletes(&counted_b), 1.0, "B deleted other than its orphan");
    let alive = uids
        .iter()
        .filter(|u| **u != b0)
        .filter(|u| !deleted(&a, u))
        .count();
    assert_eq!(alive, 5, "a live pipeline was deleted");
    let orphans_a = metric_value(&a.metrics, "chime_operator_orphans", "MediaStreamPipeline");
    assert_eq!(orphans_a, 0.0, "A took B's pipelines for orphans");
    println!(
        "ownership: two installations: A deleted 0, B deleted its 1 orphan, 5 live pipelines untouched"
    );
    let _ = stop_b.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), b_task).await;
    Ok(())
}

/// A tag key under chimeoperator.dev/ is refused with a condition and no
/// AWS call (the 1.20 test server has no CEL); the most user tags a spec
/// may carry still leave the operator's five on the pipeline.
#[tokio::test]
async fn identity_tags_can_be_neither_forged_nor_crowded_out() -> anyhow::Result<()> {
    let h = Harness::start("idtags").await?;
    let forged = json!({"tags": [{"key": "chimeoperator.dev/uid", "value": "someone-else"}]});
    h.create("forged", spec_json("m-forged", forged)).await?;
    let o = h
        .wait_for("forged", "InvalidSpec", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InvalidSpec")
        })
        .await?;
    let msg = condition(&o, "Stalled").map(|c| c.2).unwrap_or_default();
    assert!(msg.contains("spec.tags"), "{msg}");
    // Only the sweep's listings reach AWS.
    let calls: Vec<String> = h
        .emulator
        .calls()
        .into_iter()
        .map(|c| c.operation)
        .filter(|op| !op.starts_with("List"))
        .collect();
    assert!(calls.is_empty(), "a refused spec reached AWS: {calls:?}");

    let many: Vec<_> = (0..195)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let full = h
        .create("full", spec_json("m-full", json!({"tags": many})))
        .await?;
    let uid = uid(&full)?;
    h.wait_ready("full").await?;
    let complete = eventually(Duration::from_secs(30), || {
        pipeline_of(&h, &uid).is_some_and(|p| p.tags.len() == 200)
    })
    .await;
    let tags = pipeline_of(&h, &uid).map(|p| p.tags).unwrap_or_default();
    assert!(complete, "{} tags on the pipeline", tags.len());
    for key in ["cluster", "namespace", "name", "uid", "deletion-policy"] {
        let key = format!("chimeoperator.dev/{key}");
        assert!(tags.iter().any(|(k, _)| *k == key), "{key} missing");
    }
    assert!(tags.contains(&("chimeoperator.dev/uid".into(), uid.clone())));
    Ok(())
}

/// What a sweep costs with 1,000 live pipelines and 10 orphans: the list
/// pages, plus one tag read per object no resource records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_reads_tags_only_of_unknown_objects() -> anyhow::Result<()> {
    const LIVE: usize = 1000;
    const ORPHANS: usize = 10;
    let h = Harness::without_operator("sweepcost").await?;
    h.emulator.set_region_limit(REGION, 10_000);
    let config = test_config(&h.env.namespace);
    let sdk = sdk_client(&h.emulator.endpoint_url(), REGION).await;
    let api = h.api();
    // Live resources, each with its pipeline recorded in its status.
    let made = futures::stream::iter(0..LIVE)
        .map(|i| live_resource(&api, &sdk, &config, i))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for m in made {
        m?;
    }
    for i in 0..ORPHANS {
        create_tagged(
            &sdk,
            &config,
            &format!("gone-{i}"),
            &format!("orphan-uid-{i}"),
        )
        .await?;
    }

    let aws = test_aws(&h.emulator.endpoint_url(), None).await;
    let recorder = Recorder::new(
        h.env.client.clone(),
        Reporter {
            controller: "test".into(),
            instance: None,
        },
    );
    let mut config = config;
    config.sweep.grace = Duration::ZERO;
    let (lists, tags) = (h.emulator.call_count(LIST), h.emulator.call_count(TAGS));
    let (pipelines, _) = Sweeper::default()
        .once(&h.env.client, &aws, &config, &recorder)
        .await?;
    let lists = h.emulator.call_count(LIST) - lists;
    let tags = h.emulator.call_count(TAGS) - tags;
    println!(
        "ownership: sweep cost with {LIVE} live pipelines and {ORPHANS} orphans: {lists} ListMediaPipelines pages, {tags} ListTagsForResource, {} orphans found",
        pipelines.orphans
    );
    assert_eq!(pipelines.orphans, ORPHANS);
    assert_eq!(lists, (LIVE + ORPHANS).div_ceil(100));
    assert_eq!(tags, ORPHANS);
    // A second sweep reads no tag again.
    let before = h.emulator.call_count(TAGS);
    let mut sweeper = Sweeper::default();
    sweeper
        .once(&h.env.client, &aws, &config, &recorder)
        .await?;
    assert!(h.emulator.call_count(TAGS) - before <= ORPHANS);
    Ok(())
}

/// A pipeline made in AWS with this installation's identity tags (its
/// cluster, its watched namespace).
async fn create_tagged(
    sdk: &aws_sdk_chimesdkmediapipelines::Client,
    config: &Config,
    name: &str,
    uid: &str,
) -> anyhow::Result<String> {
    let namespace = config.namespaces.first().map_or("", String::as_str);
    let tags = [
        ("chimeoperator.dev/cluster", config.cluster_id.as_str()),
        ("chimeoperator.dev/namespace", namespace),
        ("chimeoperator.dev/uid", uid),
        ("chimeoperator.dev/deletion-policy", "Delete"),
    ];
    sdk_pipeline(sdk, name, POOL_ARN, None, &tags).await
}

async fn live_resource(
    api: &Api<MediaStreamPipeline>,
    sdk: &aws_sdk_chimesdkmediapipelines::Client,
    config: &Config,
    i: usize,
) -> anyhow::Result<()> {
    let name = format!("live-{i}");
    let o = MediaStreamPipeline::new(&name, spec_json(&name, json!({})));
    let o = api.create(&PostParams::default(), &o).await?;
    let id = create_tagged(sdk, config, &name, &o.uid().unwrap_or_default()).await?;
    let status = json!({"status": {"mediaPipelineId": id}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await?;
    Ok(())
}
