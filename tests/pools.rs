//! Kinesis Video Stream pools as resources, and pipelines whose sinks name
//! them; against the real control plane and the emulator.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool;
use common::*;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use testworld::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

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
    let a = h.create("a", spec_with_pool_ref("m-a", "pool-a")).await?;
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
    // Refreshes (every second here) read the pipeline without looking the
    // pool up: the reference is no change, Synced stays True throughout.
    let reads = h.emulator.call_count("GetMediaPipeline");
    let mut unsynced = vec![];
    while h.emulator.call_count("GetMediaPipeline") < reads + 3 {
        let a_now = h.api().get("a").await?;
        if let Some(c) = condition(&a_now, "Synced").filter(|c| c.0 != "True") {
            unsynced.push(c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        unsynced.is_empty(),
        "Synced flipped on refresh: {unsynced:?}"
    );

    // Pool first.
    pools(&h)
        .create(
            &PostParams::default(),
            &pool_obj("pool-b", json!({"poolName": "aws-name-b"}))?,
        )
        .await?;
    let b = h.create("b", spec_with_pool_ref("m-b", "pool-b")).await?;
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
                s.common
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Synced" && c.reason == "ImmutableFieldChanged")
            })
        },
    )
    .await?;
    let msg = o
        .status
        .and_then(|s| {
            s.common
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Stalled")
        })
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
    let p = h
        .create("user", spec_with_pool_ref("m-user", "pool"))
        .await?;
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
                s.common
                    .conditions
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
    // AWS keeps a deleted pool DELETING a while.
    let gone = eventually(Duration::from_secs(30), || {
        h.emulator.pools().iter().all(|p| p.deleted)
    })
    .await;
    assert!(gone, "a pool remains");
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

// ----- Every guard pipelines have, shown for pools --------------------------

type Event = k8s_openapi::api::events::v1::Event;
type Pool = MediaPipelineKinesisVideoStreamPool;

const CREATE_POOL: &str = "CreateMediaPipelineKinesisVideoStreamPool";
const GET_POOL: &str = "GetMediaPipelineKinesisVideoStreamPool";
const DELETE_POOL: &str = "DeleteMediaPipelineKinesisVideoStreamPool";
const POOL_KIND: &str = "MediaPipelineKinesisVideoStreamPool";

async fn create_pool(h: &Harness, name: &str, extra: serde_json::Value) -> anyhow::Result<Pool> {
    Ok(pools(h)
        .create(&PostParams::default(), &pool_obj(name, extra)?)
        .await?)
}

async fn pool_gone(h: &Harness, name: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pools(h).get_opt(name).await?.is_some() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "pool {name} still exists after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Waits for an Event of this reason about the named pool (Events are
/// published aside, asynchronously); checks its type.
async fn wait_event(h: &Harness, name: &str, reason: &str, type_: &str) -> anyhow::Result<Event> {
    let api: Api<Event> = h.env.api();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let events = api.list(&Default::default()).await?.items;
        let found = events.iter().find(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().is_some_and(|r| {
                    r.name.as_deref() == Some(name) && r.kind.as_deref() == Some(POOL_KIND)
                })
        });
        if let Some(e) = found {
            assert_eq!(e.type_.as_deref(), Some(type_), "{reason} event: {e:?}");
            return Ok(e.clone());
        }
        if tokio::time::Instant::now() > deadline {
            let seen: Vec<String> = events
                .iter()
                .map(|e| {
                    let about = e.regarding.as_ref().and_then(|r| r.name.clone());
                    format!("{about:?}:{:?}", e.reason)
                })
                .collect();
            anyhow::bail!("no {reason} event about pool {name} within 60 s; seen: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Calls of `operation` whose subject (create token, or the identifier in
/// the path) is `subject`.
fn calls_about(h: &Harness, operation: &str, subject: &str) -> usize {
    h.emulator
        .calls()
        .iter()
        .filter(|c| c.operation == operation && c.subject.as_deref() == Some(subject))
        .count()
}

fn pool_arn(p: &Pool) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.pool_arn.clone())
        .unwrap_or_default()
}

/// The in-process operator's pool reconciles, all outcomes.
fn pool_reconciles(h: &Harness) -> u64 {
    h.metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("chime_operator_reconciles_total{"))
        .filter(|l| l.contains(&format!("kind=\"{POOL_KIND}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A pool's life publishes the same Events as a pipeline's: CreateFailed
/// (a Forbidden create, held back until the spec changes), Created,
/// DeleteFailed (a 503 on the delete, retried) and Deleted; the resource is
/// gone afterwards, and so is its one pool in AWS.
#[tokio::test]
async fn pool_events_create_failed_created_delete_failed_deleted() -> anyhow::Result<()> {
    let h = start().await?;
    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(1)).on(CREATE_POOL));
    let o = create_pool(&h, "life", json!({})).await?;
    let token = o.uid().unwrap_or_default();
    wait_event(&h, "life", "CreateFailed", "Warning").await?;
    wait_for(
        &pools(&h),
        "life",
        "Forbidden",
        Duration::from_secs(60),
        |p: &Pool| condition(p, "Ready").is_some_and(|c| c.1 == "Forbidden"),
    )
    .await?;
    assert_eq!(calls_about(&h, CREATE_POOL, &token), 1);
    assert!(h.emulator.pools().is_empty());

    // A permanent refusal waits for a change of the spec.
    let tag = json!({"spec": {"tags": [{"key": "team", "value": "media"}]}});
    pools(&h)
        .patch("life", &PatchParams::default(), &Patch::Merge(tag))
        .await?;
    let ready = pool_ready(&h, "life").await?;
    wait_event(&h, "life", "Created", "Normal").await?;
    assert_eq!(calls_about(&h, CREATE_POOL, &token), 2);
    let remote = h.emulator.pools();
    assert_eq!(remote.len(), 1);
    assert_eq!(remote[0].client_request_token.as_deref(), Some(&*token));
    assert_eq!(remote[0].arn, pool_arn(&ready));

    h.emulator
        .inject(Fault::new(FaultKind::Unavailable, Trigger::Next(1)).on(DELETE_POOL));
    pools(&h).delete("life", &Default::default()).await?;
    wait_event(&h, "life", "DeleteFailed", "Warning").await?;
    pool_gone(&h, "life").await?;
    wait_event(&h, "life", "Deleted", "Normal").await?;
    let gone = eventually(Duration::from_secs(30), || h.emulator.pools()[0].deleted).await;
    assert!(gone, "the pool is left in AWS");
    assert_eq!(h.emulator.call_count(DELETE_POOL), 2);
    assert_eq!(h.emulator.call_count(CREATE_POOL), 2);
    Ok(())
}

/// Retained: deleting a pool with deletionPolicy Retain leaves it in AWS,
/// with a Retained Event. PoolGone: a pool deleted behind the operator's
/// back shows status Gone and a PoolGone Warning after the next read, and
/// is not recreated.
#[tokio::test]
async fn pool_events_retained_and_pool_gone() -> anyhow::Result<()> {
    let h = start().await?;
    create_pool(&h, "kept", json!({"deletionPolicy": "Retain"})).await?;
    let vanish = create_pool(&h, "vanish", json!({})).await?;
    let token = vanish.uid().unwrap_or_default();
    let kept = pool_ready(&h, "kept").await?;
    let vanish = pool_ready(&h, "vanish").await?;

    pools(&h).delete("kept", &Default::default()).await?;
    pool_gone(&h, "kept").await?;
    wait_event(&h, "kept", "Retained", "Normal").await?;
    let remote = h.emulator.pools();
    let kept_remote = remote.iter().find(|p| p.arn == pool_arn(&kept));
    assert!(
        kept_remote.is_some_and(|p| !p.deleted),
        "the retained pool: {kept_remote:?}"
    );
    assert_eq!(h.emulator.call_count(DELETE_POOL), 0);

    // Behind the operator's back.
    let sdk = testworld::emulator::sdk_client(&h.emulator.endpoint_url(), REGION).await;
    sdk.delete_media_pipeline_kinesis_video_stream_pool()
        .identifier(pool_arn(&vanish))
        .send()
        .await?;
    let gone = wait_for(
        &pools(&h),
        "vanish",
        "Gone",
        Duration::from_secs(60),
        |p: &Pool| {
            p.status
                .as_ref()
                .is_some_and(|s| s.pool_status.as_deref() == Some("Gone"))
        },
    )
    .await?;
    wait_event(&h, "vanish", "PoolGone", "Warning").await?;
    let ready = condition(&gone, "Ready").unwrap_or_default();
    assert_eq!(ready.0, "False", "{ready:?}");
    // Two more refresh intervals: still one create, one pool for the token.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls_about(&h, CREATE_POOL, &token), 1);
    let for_token = h
        .emulator
        .pools()
        .into_iter()
        .filter(|p| p.client_request_token.as_deref() == Some(&*token))
        .count();
    assert_eq!(for_token, 1, "the vanished pool was recreated");
    Ok(())
}

/// The pool controller's watch predicate: a write to a pool's status (by
/// anyone: the operator's own writes are the common case) wakes no
/// reconcile; a spec change does. Timed requeues are out of the way (a
/// refresh interval of 1 h).
#[tokio::test]
async fn pool_status_writes_wake_no_reconcile() -> anyhow::Result<()> {
    let h = Harness::start_with("poolpred", EmulatorConfig::default(), |c| {
        c.settings.refresh_interval = Duration::from_secs(3600);
    })
    .await?;
    create_pool(&h, "quiet", json!({})).await?;
    pool_ready(&h, "quiet").await?;
    // Stable: no change over two consecutive seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last = pool_reconciles(&h);
    let mut still = 0;
    while still < 2 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "pool reconciles never settle: {last}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = pool_reconciles(&h);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    let settled = last;

    let body = json!({"status": {"poolSize": 7}});
    pools(&h)
        .patch_status("quiet", &PatchParams::default(), &Patch::Merge(body))
        .await?;
    let written = pools(&h).get("quiet").await?;
    assert_eq!(written.status.and_then(|s| s.pool_size), Some(7));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_status = pool_reconciles(&h);

    let tag = json!({"spec": {"tags": [{"key": "team", "value": "media"}]}});
    pools(&h)
        .patch("quiet", &PatchParams::default(), &Patch::Merge(tag))
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while pool_reconciles(&h) == after_status {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "a spec change woke no reconcile"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after_spec = pool_reconciles(&h);
    println!(
        "pool watch predicate: pool reconciles settled {settled}, after a status write + 2 s {after_status} ({} from it), after a spec change {after_spec}",
        after_status - settled
    );
    assert_eq!(
        after_status, settled,
        "a status write woke a pool reconcile"
    );
    Ok(())
}

/// A restart does not read every pool at once: with a refresh interval of
/// 4 s, the new operator's first reads of 20 pools at rest spread over more
/// than a second, and nothing is created again.
#[tokio::test]
async fn a_restart_spreads_the_first_pool_reads() -> anyhow::Result<()> {
    const N: usize = 20;
    let every = Duration::from_secs(4);
    let mut h = Harness::start_with("poolspread", EmulatorConfig::default(), |c| {
        c.settings.refresh_interval = every;
    })
    .await?;
    let names: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    for n in &names {
        create_pool(&h, n, json!({})).await?;
    }
    let mut arns = std::collections::HashSet::new();
    for n in &names {
        arns.insert(pool_arn(&pool_ready(&h, n).await?));
    }
    assert_eq!(arns.len(), N);

    h.stop_operator().await;
    let mark = h.emulator.calls().len();
    let creates = h.emulator.call_count(CREATE_POOL);
    let restart_ms = h.emulator.elapsed_ms();
    let mut config = test_config(&h.env.namespace);
    config.settings.refresh_interval = every;
    let client = h.env.client.clone();
    h.run_operator(client, config).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let first: std::collections::HashMap<String, u64> = loop {
        let mut first = std::collections::HashMap::new();
        for c in h.emulator.calls().into_iter().skip(mark) {
            if let Some(s) = c
                .subject
                .filter(|s| c.operation == GET_POOL && arns.contains(s))
            {
                let at = first.entry(s).or_insert(c.at_ms);
                *at = (*at).min(c.at_ms);
            }
        }
        if first.len() == N {
            break first;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "only {} of {N} pools read after the restart",
            first.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (lo, hi) = (
        first.values().copied().min().unwrap_or(0),
        first.values().copied().max().unwrap_or(0),
    );
    println!(
        "pool restart: {N} pools, refresh 4 s: first reads after the restart span {} ms (from +{} ms to +{} ms)",
        hi - lo,
        lo.saturating_sub(restart_ms),
        hi.saturating_sub(restart_ms)
    );
    assert!(hi - lo >= 1000, "first reads within {} ms", hi - lo);
    assert_eq!(
        h.emulator.call_count(CREATE_POOL),
        creates,
        "a pool was created again"
    );
    assert_eq!(h.emulator.pools().len(), N);
    Ok(())
}

/// A TCP proxy to `target` that counts, as they pass and before any answer,
/// the requests whose bytes contain `needle` (e.g. a request line).
async fn counting_proxy(
    target: std::net::SocketAddr,
    needle: &'static [u8],
) -> anyhow::Result<(String, tokio::sync::watch::Receiver<usize>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = tokio::sync::watch::channel(0usize);
    let tx = std::sync::Arc::new(tx);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let up = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut tail: Vec<u8> = vec![];
                    loop {
                        let n = match ri.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        tail.extend_from_slice(&buf[..n]);
                        let (mut hits, mut end) = (0, 0);
                        while let Some(pos) =
                            tail[end..].windows(needle.len()).position(|w| w == needle)
                        {
                            hits += 1;
                            end += pos + needle.len();
                        }
                        if hits > 0 {
                            tx.send_modify(|c| *c += hits);
                        }
                        let keep_from = end.max(tail.len().saturating_sub(needle.len() - 1));
                        tail.drain(..keep_from);
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = wo.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                    let _ = wi.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok((url, rx))
}

/// The undo of a create whose status write finds the resource gone: the
/// create is slow (3 s), and meanwhile the resource loses its finalizer and
/// is deleted. Nothing could ever record the pool, so the operator deletes
/// it: one create, and the pool is deleted in AWS.
#[tokio::test]
async fn a_pool_created_for_a_vanished_resource_is_deleted() -> anyhow::Result<()> {
    let mut h = Harness::without_operator("poolundo").await?;
    let (proxy, mut seen) = counting_proxy(
        h.emulator.local_addr(),
        b"POST /media-pipeline-kinesis-video-stream-pools",
    )
    .await?;
    let client = h.env.client.clone();
    let config = test_config(&h.env.namespace);
    h.run_operator_with(client, test_aws(&proxy, None).await, config)
        .await;
    h.emulator.inject(
        Fault::new(FaultKind::Latency(Duration::from_secs(3)), Trigger::Next(1)).on(CREATE_POOL),
    );
    let o = create_pool(&h, "undone", json!({})).await?;
    let token = o.uid().unwrap_or_default();
    // The create is on its way to the emulator, which holds it for 3 s.
    tokio::time::timeout(Duration::from_secs(60), seen.wait_for(|n| *n >= 1)).await??;
    let unfinalize = json!({"metadata": {"finalizers": null}});
    pools(&h)
        .patch("undone", &PatchParams::default(), &Patch::Merge(unfinalize))
        .await?;
    pools(&h).delete("undone", &Default::default()).await?;
    pool_gone(&h, "undone").await?;
    let in_flight = h.emulator.call_count(CREATE_POOL);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let remote = loop {
        let mine: Vec<_> = h
            .emulator
            .pools()
            .into_iter()
            .filter(|p| p.client_request_token.as_deref() == Some(&*token))
            .collect();
        if mine.iter().any(|p| p.deleted) {
            break mine;
        }
        if tokio::time::Instant::now() > deadline {
            let calls: Vec<String> = h
                .emulator
                .calls()
                .iter()
                .map(|c| format!("{}:{:?}:{:?}", c.operation, c.status, c.subject))
                .collect();
            anyhow::bail!("the pool of the vanished resource stays: {mine:?}; calls {calls:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        in_flight, 0,
        "the create had answered before the resource was gone"
    );
    assert_eq!(remote.len(), 1);
    assert_eq!(calls_about(&h, CREATE_POOL, &token), 1);
    assert_eq!(h.emulator.call_count(CREATE_POOL), 1);
    assert_eq!(h.emulator.call_count(DELETE_POOL), 1);
    Ok(())
}

/// A pool that failed is no reason to wait: a pipeline naming it is
/// Stalled (InvalidReference, naming the pool), not Reconciling, and asks
/// AWS nothing.
#[tokio::test]
async fn a_pipeline_naming_a_failed_pool_stalls_instead_of_waiting() -> anyhow::Result<()> {
    let h = start().await?;
    create_pool(&h, "broken", json!({})).await?;
    pool_ready(&h, "broken").await?;
    assert_eq!(h.emulator.fail_pool("broken"), 1);
    wait_for(
        &pools(&h),
        "broken",
        "FAILED",
        Duration::from_secs(60),
        |p| p.status.as_ref().and_then(|s| s.pool_status.as_deref()) == Some("FAILED"),
    )
    .await?;
    h.create("user", spec_with_pool_ref("m-user", "broken"))
        .await?;
    let o = h
        .wait_for("user", "Stalled=InvalidReference", |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "InvalidReference")
        })
        .await?;
    let (_, _, message) = condition(&o, "Stalled").unwrap_or_default();
    assert!(
        message.contains("broken") && message.contains("FAILED"),
        "{message}"
    );
    assert_eq!(
        condition(&o, "Reconciling").map(|c| c.0).as_deref(),
        Some("False")
    );
    assert_eq!(h.emulator.call_count("CreateMediaStreamPipeline"), 0);
    println!("failed pool: the pipeline is Stalled, InvalidReference: {message}");
    Ok(())
}
