//! It survives: operator crashes, AWS faults, the active-pipeline limit and
//! control-plane faults, with exactly-once checks on the emulator's records.
//! Each check prints one `survival:` line of figures.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chime_pipeline_operator::crd::{MediaPipelineKinesisVideoStreamPool, MediaStreamPipeline};
use common::*;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::json;
use testworld::TestEnv;
use testworld::controlplane::ControlPlane;
use testworld::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

/// Waits until every named resource satisfies `pred`, listing them all at
/// once per round.
async fn wait_all(
    h: &Harness,
    names: &[String],
    what: &str,
    timeout: Duration,
    pred: impl Fn(&MediaStreamPipeline) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = h.api().list(&Default::default()).await?;
        let by_name: HashMap<String, &MediaStreamPipeline> =
            list.items.iter().map(|o| (o.name_any(), o)).collect();
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !by_name.get(*n).is_some_and(|o| pred(o)))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            // Say where each is stuck: its finalizers and conditions.
            let seen: Vec<String> = missing[..missing.len().min(5)]
                .iter()
                .map(|n| match by_name.get(*n) {
                    None => format!("{n}: gone"),
                    Some(o) => format!(
                        "{n}: finalizers {:?}, generation {:?}, status {:?}",
                        o.finalizers(),
                        o.metadata.generation,
                        o.status
                    ),
                })
                .collect();
            anyhow::bail!(
                "{} of {} not {what} in {timeout:?}:\n{}",
                missing.len(),
                names.len(),
                seen.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_all_gone(h: &Harness, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = h.api().list(&Default::default()).await?.items;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{} resources stuck on their finalizer, e.g. {}",
                left.len(),
                left[0].name_any()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The crash suites' operators: quick polls, no client rate limit, and the
/// sweep deleting orphans every 2 s after a 2 s grace.
const CRASH_FLAGS: [&str; 10] = [
    "--poll-min",
    "100ms",
    "--aws-rate-limit",
    "0",
    "--sweep-mode",
    "delete",
    "--sweep-interval",
    "2s",
    "--sweep-grace",
    "2s",
];

/// Pipelines created per ClientRequestToken; more than one is a duplicate.
fn duplicates(h: &Harness) -> usize {
    let mut per: HashMap<String, usize> = HashMap::new();
    for p in h.emulator.pipelines() {
        *per.entry(p.client_request_token.unwrap_or_default())
            .or_default() += 1;
    }
    per.values().filter(|n| **n > 1).map(|n| n - 1).sum()
}

/// Create attempts per resource (by token), from the emulator's call log.
fn create_attempts(h: &Harness) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for c in h.emulator.calls() {
        if c.operation == "CreateMediaStreamPipeline"
            && let Some(token) = c.subject
        {
            *per.entry(token).or_default() += 1;
        }
    }
    per
}

/// 200 resources created and deleted in bursts while the operator process
/// is SIGKILLed at random moments and restarted: afterwards every survivor
/// is Ready, one pipeline per UID, and deleting everything leaves nothing.
/// Every fifth resource is deleted right after its create request, racing
/// the finalizer's addition itself: on a 1.20 API server the delete can win
/// and leave no trace for any reconcile; the orphan sweep (delete mode)
/// finds what it left. Every seventh says Retain and is deleted at a random
/// moment. Beside it runs a second installation with default flags (so the
/// same cluster ID), its sweep in delete mode too, with live pipelines of
/// its own. No pipeline whose resource exists, or whose resource said
/// Retain, is ever deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    const BURSTS: usize = 4;
    const PER_BURST: usize = 50;
    const KILLS: usize = 12;
    const NEIGHBOURS: usize = 10;
    let h = Harness::without_operator("crash").await?;
    h.emulator.set_region_limit(REGION, 10_000);
    let kc = h.env.kubeconfig.clone();
    let ns = h.env.namespace.clone();
    let flags = CRASH_FLAGS;
    let emulator_url = h.emulator.endpoint_url();
    // The neighbour: another namespace, another operator, the same account.
    let other = TestEnv::new("crash-other").await?;
    let _neighbour = Operator::spawn(&kc, &h.emulator, &other.namespace, &flags)?;
    let other_api: Api<MediaStreamPipeline> = other.api();
    let mut neighbours = vec![];
    for i in 0..NEIGHBOURS {
        let o =
            MediaStreamPipeline::new(&format!("n{i}"), spec_json(&format!("m-n{i}"), json!({})));
        let o = other_api.create(&Default::default(), &o).await?;
        neighbours.push(o.uid().unwrap_or_default());
    }
    let first = Operator::spawn(&kc, &h.emulator, &ns, &flags)?;
    let killer = {
        let (kc, ns) = (kc.clone(), ns.clone());
        tokio::spawn(async move {
            let mut op = first;
            for _ in 0..KILLS {
                let pause = rand::random_range(300..1500);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                op.child.start_kill()?;
                op.child.wait().await?;
                op = Operator::spawn_at(&kc, &emulator_url, &ns, &flags)?;
            }
            anyhow::Ok(op)
        })
    };

    let (mut survivors, mut retained) = (vec![], vec![]);
    let mut names_by_uid: HashMap<String, String> = HashMap::new();
    let mut deletes = vec![];
    for b in 0..BURSTS {
        for i in 0..PER_BURST {
            let name = format!("b{b}-{i}");
            let retain = i % 7 == 3;
            let extra = match retain {
                true => json!({"deletionPolicy": "Retain"}),
                false => json!({}),
            };
            let o = h
                .create(&name, spec_json(&format!("m-{name}"), extra))
                .await?;
            let uid = o.uid().unwrap_or_default();
            names_by_uid.insert(uid.clone(), name.clone());
            if retain {
                retained.push(uid);
            }
            if i % 5 == 0 {
                // Right after its create request.
                h.delete(&name).await?;
            } else if retain {
                // At a random moment of its life.
                let api = h.api();
                deletes.push(tokio::spawn(async move {
                    let pause = rand::random_range(0..3000);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    api.delete(&name, &Default::default()).await
                }));
            } else {
                survivors.push(name);
            }
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    for d in deletes {
        d.await??;
    }
    let op = killer.await??;
    wait_all(&h, &survivors, "Ready", Duration::from_secs(180), is_ready).await?;
    // The Retain resources deleted at random go once their cleanup tagged
    // their pipelines.
    let deadline = Instant::now() + Duration::from_secs(180);
    let list = loop {
        let list = h.api().list(&Default::default()).await?;
        if list.items.len() == survivors.len() || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        list.items.len(),
        survivors.len(),
        "a deleted resource is still there"
    );
    let uids: Vec<String> = list.items.iter().filter_map(|o| o.uid()).collect();
    let mut one_each = uids.clone();
    one_each.extend(neighbours.iter().cloned());
    h.assert_one_pipeline_per_uid(&one_each);
    let dups = duplicates(&h);

    for name in &survivors {
        h.delete(name).await?;
    }
    wait_all_gone(&h, Duration::from_secs(180)).await?;
    // What no reconcile could see is the sweep's: within a sweep interval
    // and its grace period (polled, not timed). Retained pipelines and the
    // neighbour's stay.
    let kept = |p: &testworld::emulator::PipelineRecord| {
        let token = p.client_request_token.clone().unwrap_or_default();
        retained.contains(&token) || neighbours.contains(&token)
    };
    let orphans = || {
        h.emulator
            .pipelines()
            .iter()
            .filter(|p| !p.deleted && !kept(p))
            .count()
    };
    let left = orphans();
    eventually(Duration::from_secs(60), || orphans() == 0).await;
    let swept = left - orphans();
    let orphaned = orphans();
    for p in h
        .emulator
        .pipelines()
        .iter()
        .filter(|p| !p.deleted && !kept(p))
    {
        let token = p.client_request_token.clone().unwrap_or_default();
        let calls: Vec<String> = h
            .emulator
            .calls()
            .into_iter()
            .filter(|c| {
                c.subject.as_deref() == Some(token.as_str())
                    || c.subject.as_deref() == Some(p.id.as_str())
            })
            .map(|c| format!("{}@{}:{:?}", c.operation, c.at_ms, c.status))
            .collect();
        eprintln!(
            "orphan {} of resource {:?}: {calls:?}",
            p.id,
            names_by_uid.get(&token)
        );
    }
    // Two more sweeps of each installation after the last delete.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let lost: Vec<String> = h
        .emulator
        .pipelines()
        .iter()
        .filter(|p| p.deleted && kept(p))
        .map(|p| p.client_request_token.clone().unwrap_or_default())
        .collect();
    let retained_made = h
        .emulator
        .pipelines()
        .iter()
        .filter(|p| retained.contains(&p.client_request_token.clone().unwrap_or_default()))
        .count();
    let max_creates = create_attempts(&h).values().copied().max().unwrap_or(0);
    println!(
        "survival: crash: resources {}, kills {KILLS}, faults 0, duplicates {dups}, orphans {orphaned} (the sweep deleted {swept}), retained pipelines {retained_made} of {} Retain resources, neighbour pipelines {NEIGHBOURS}, deleted while their resource existed or said Retain {}, max create calls per resource {max_creates}",
        BURSTS * PER_BURST,
        retained.len(),
        lost.len()
    );
    assert_eq!(dups, 0);
    assert_eq!(
        orphaned, 0,
        "pipelines left after every resource was deleted"
    );
    assert!(lost.is_empty(), "kept pipelines were deleted: {lost:?}");
    let live = neighbours
        .iter()
        .filter(|u| {
            h.emulator
                .pipelines()
                .iter()
                .any(|p| p.client_request_token.as_deref() == Some(u.as_str()) && !p.deleted)
        })
        .count();
    assert_eq!(
        live, NEIGHBOURS,
        "the neighbour's pipelines are not all there"
    );
    drop(op);
    Ok(())
}

/// 20% 5xx, 10% throttling, added latency and dropped connections: every
/// resource converges, nothing is created twice, retries stay bounded.
#[tokio::test]
async fn aws_faults_converge_with_bounded_retries() -> anyhow::Result<()> {
    const N: usize = 40;
    let h = Harness::start("awsfaults").await?;
    let faults = [
        (FaultKind::Unavailable, 0.10),
        (FaultKind::Failure, 0.10),
        (FaultKind::Throttle, 0.10),
        (FaultKind::Latency(Duration::from_millis(100)), 0.30),
        (FaultKind::Drop, 0.05),
    ];
    for (kind, p) in faults {
        h.emulator.inject(Fault {
            operation: None,
            kind,
            trigger: Trigger::Probability(p),
        });
    }
    let mut names = vec![];
    for i in 0..N {
        let name = format!("f{i}");
        h.create(&name, spec_json(&format!("m-f{i}"), json!({})))
            .await?;
        names.push(name);
    }
    wait_all(&h, &names, "Ready", Duration::from_secs(180), is_ready).await?;
    let uids: Vec<String> = h
        .api()
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter_map(|o| o.uid())
        .collect();
    h.assert_one_pipeline_per_uid(&uids);
    let faulted = h
        .emulator
        .calls()
        .iter()
        .filter(|c| c.status.is_none_or(|s| s >= 429))
        .count();
    let attempts = create_attempts(&h);
    let max_retries = attempts.values().map(|n| n - 1).max().unwrap_or(0);
    let total: usize = attempts.values().sum();
    println!(
        "survival: aws faults: resources {N}, kills 0, faults {faulted}, duplicates {}, orphans 0, max retries {max_retries} (mean {:.2} creates per resource)",
        duplicates(&h),
        total as f64 / N as f64
    );
    assert_eq!(duplicates(&h), 0);
    assert!(
        max_retries <= 8,
        "a resource retried its create {max_retries} times"
    );
    Ok(())
}

/// A region limit of 10 and 25 resources: 10 Ready, 15 say the limit is
/// reached; deleting the 10 lets 10 of the waiting ones proceed unaided.
#[tokio::test]
async fn the_limit_holds_and_waiting_resources_proceed() -> anyhow::Result<()> {
    let h = Harness::start("limit25").await?;
    h.emulator.set_region_limit(REGION, 10);
    let names: Vec<String> = (0..25).map(|i| format!("l{i}")).collect();
    for n in &names {
        h.create(n, spec_json(&format!("m-{n}"), json!({}))).await?;
    }
    let limited = |o: &MediaStreamPipeline| {
        condition(o, "Ready").is_some_and(|c| c.1 == "ResourceLimitExceeded")
    };
    wait_all(
        &h,
        &names,
        "Ready or limited",
        Duration::from_secs(120),
        |o| is_ready(o) || limited(o),
    )
    .await?;
    let list = h.api().list(&Default::default()).await?.items;
    let ready: Vec<String> = list
        .iter()
        .filter(|o| is_ready(*o))
        .map(|o| o.name_any())
        .collect();
    let waiting: Vec<&MediaStreamPipeline> = list.iter().filter(|o| limited(o)).collect();
    assert_eq!((ready.len(), waiting.len()), (10, 15));
    let msg = condition(waiting[0], "Ready")
        .map(|c| c.2)
        .unwrap_or_default();
    assert!(msg.contains("limit"), "{msg}");

    for n in &ready {
        h.delete(n).await?;
    }
    let waiting_names: Vec<String> = waiting.iter().map(|o| o.name_any()).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = h.api().list(&Default::default()).await?.items;
        let now_ready = list
            .iter()
            .filter(|o| waiting_names.contains(&o.name_any()) && is_ready(*o))
            .count();
        if now_ready == 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{now_ready} of the waiting became Ready"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "survival: limit: resources 25, kills 0, faults 0, duplicates {}, orphans 0, 10 Ready + 15 waiting, then 10 more Ready after 10 deletions",
        duplicates(&h)
    );
    assert_eq!(duplicates(&h), 0);
    Ok(())
}

/// kube-apiserver restarted in the middle of a burst, then etcd stopped
/// for a few seconds: the operator recovers with the same exactly-once
/// result. A control plane of its own, so other tests are not disturbed.
#[tokio::test]
async fn control_plane_faults_are_survived() -> anyhow::Result<()> {
    let Some(bin_dir) = std::env::var_os("TESTWORLD_BIN_DIR") else {
        println!(
            "survival: control plane: skipped (TESTWORLD_BIN_DIR unset: not started by tests/run)"
        );
        return Ok(());
    };
    let mut cp = ControlPlane::start(std::path::Path::new(&bin_dir)).await?;
    let client = testworld::client_from_kubeconfig(&cp.kubeconfig).await?;
    testworld::install_crds(&client, &testworld::crds_dir()).await?;
    let env = TestEnv::on(cp.kubeconfig.clone(), "cpfaults").await?;
    let mut h = Harness::on(env, EmulatorConfig::default()).await?;
    let config = test_config(&h.env.namespace);
    h.run_operator(client, config).await;

    let mut names = vec![];
    let mut create = async |h: &Harness, range: std::ops::Range<usize>| -> anyhow::Result<()> {
        for i in range {
            let name = format!("c{i}");
            // Creates during an outage fail; the test (like a client) retries.
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Err(e) = h
                .create(&name, spec_json(&format!("m-c{i}"), json!({})))
                .await
            {
                if h.api().get_opt(&name).await.ok().flatten().is_some() {
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "create {name}: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            names.push(name);
        }
        Ok(())
    };
    create(&h, 0..20).await?;
    cp.restart_apiserver().await?;
    create(&h, 20..40).await?;
    cp.stop_etcd();
    tokio::time::sleep(Duration::from_secs(4)).await;
    cp.start_etcd_again().await?;
    create(&h, 40..60).await?;
    wait_all(&h, &names, "Ready", Duration::from_secs(180), is_ready).await?;
    let uids: Vec<String> = h
        .api()
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter_map(|o| o.uid())
        .collect();
    h.assert_one_pipeline_per_uid(&uids);
    println!(
        "survival: control plane: resources {}, kills 0, faults 2 (apiserver restart, etcd down 4 s), duplicates {}, orphans 0",
        names.len(),
        duplicates(&h)
    );
    assert_eq!(duplicates(&h), 0);
    h.stop_operator().await;
    cp.stop();
    Ok(())
}

/// Pools (resources) in the namespace, by name.
async fn pools_by_name(
    api: &Api<MediaPipelineKinesisVideoStreamPool>,
) -> anyhow::Result<HashMap<String, MediaPipelineKinesisVideoStreamPool>> {
    let list = api.list(&Default::default()).await?;
    Ok(list.items.into_iter().map(|o| (o.name_any(), o)).collect())
}

/// 80 pools created and deleted in bursts while the operator process is
/// SIGKILLed at random moments and restarted (10 kills): afterwards every
/// survivor is Ready (ACTIVE), one pool per UID in AWS, and deleting
/// everything leaves no pool behind. Every fifth is deleted at a random
/// moment (before its finalizer, or after); the sweep runs in delete mode,
/// and a second installation with default flags keeps pools of its own
/// beside it, none of which is ever deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    const BURSTS: usize = 4;
    const PER_BURST: usize = 20;
    const KILLS: usize = 10;
    let h = Harness::without_operator("poolcrash").await?;
    let api: Api<MediaPipelineKinesisVideoStreamPool> = h.env.api();
    let kc = h.env.kubeconfig.clone();
    let ns = h.env.namespace.clone();
    let flags = CRASH_FLAGS;
    let emulator_url = h.emulator.endpoint_url();
    let other = TestEnv::new("poolcrash-other").await?;
    let _neighbour = Operator::spawn(&kc, &h.emulator, &other.namespace, &flags)?;
    let other_api: Api<MediaPipelineKinesisVideoStreamPool> = other.api();
    let mut neighbours = vec![];
    for i in 0..5 {
        let o = other_api
            .create(&Default::default(), &pool_manifest(&format!("nb-{i}"))?)
            .await?;
        neighbours.push(o.uid().unwrap_or_default());
    }
    let first = Operator::spawn(&kc, &h.emulator, &ns, &flags)?;
    let killer = {
        let (kc, ns) = (kc.clone(), ns.clone());
        tokio::spawn(async move {
            let mut op = first;
            for _ in 0..KILLS {
                let pause = rand::random_range(300..1500);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                op.child.start_kill()?;
                op.child.wait().await?;
                op = Operator::spawn_at(&kc, &emulator_url, &ns, &flags)?;
            }
            anyhow::Ok(op)
        })
    };

    let (mut survivors, mut deleted) = (vec![], vec![]);
    let mut names_by_uid: HashMap<String, String> = HashMap::new();
    let mut deletes = vec![];
    for b in 0..BURSTS {
        for i in 0..PER_BURST {
            // Unique names: a pool's name in AWS is the resource's.
            let name = format!("pc{b}-{i}");
            let o = api
                .create(&Default::default(), &pool_manifest(&name)?)
                .await?;
            names_by_uid.insert(o.uid().unwrap_or_default(), name.clone());
            if i % 5 == 0 {
                deleted.push(name);
            } else {
                survivors.push(name);
            }
        }
        // Every fifth goes at a random moment: before its finalizer (the
        // sweep's, if the delete wins a race with it), or after.
        for name in deleted.iter().filter(|n| n.starts_with(&format!("pc{b}-"))) {
            let (api, name) = (api.clone(), name.clone());
            deletes.push(tokio::spawn(async move {
                let pause = rand::random_range(0..2000);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                api.delete(&name, &Default::default()).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    for d in deletes {
        d.await??;
    }
    let op = killer.await??;

    let active = |o: &MediaPipelineKinesisVideoStreamPool| {
        is_ready(o)
            && o.status
                .as_ref()
                .is_some_and(|s| s.pool_status.as_deref() == Some("ACTIVE"))
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let by_name = pools_by_name(&api).await?;
        let missing: Vec<&String> = survivors
            .iter()
            .filter(|n| !by_name.get(*n).is_some_and(active))
            .collect();
        let stale: Vec<&String> = deleted
            .iter()
            .filter(|n| by_name.contains_key(*n))
            .collect();
        if missing.is_empty() && stale.is_empty() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} survivors not Ready, e.g. {:?}; {} deleted ones still there, e.g. {:?}",
            missing.len(),
            survivors.len(),
            &missing[..missing.len().min(5)],
            stale.len(),
            &stale[..stale.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let uids: Vec<String> = pools_by_name(&api)
        .await?
        .values()
        .filter_map(|o| o.uid())
        .collect();
    assert_eq!(uids.len(), survivors.len());
    let mut per_token: HashMap<String, usize> = HashMap::new();
    for p in h.emulator.pools() {
        *per_token
            .entry(p.client_request_token.unwrap_or_default())
            .or_default() += 1;
    }
    let dups: usize = per_token.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    for uid in &uids {
        assert_eq!(
            per_token.get(uid),
            Some(&1),
            "pools for resource {:?}",
            names_by_uid.get(uid)
        );
    }

    for name in &survivors {
        api.delete(name, &Default::default()).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left = pools_by_name(&api).await?;
        if left.is_empty() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} pools stuck on their finalizer, e.g. {:?}",
            left.len(),
            left.keys().next()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // A deleted pool stays DELETING in AWS a while, and an orphan waits for
    // a sweep and its grace period: give them that.
    let neighbour = |p: &testworld::emulator::PoolRecord| {
        neighbours.contains(&p.client_request_token.clone().unwrap_or_default())
    };
    eventually(Duration::from_secs(60), || {
        h.emulator.pools().iter().all(|p| p.deleted || neighbour(p))
    })
    .await;
    let remote = h.emulator.pools();
    let orphaned = remote
        .iter()
        .filter(|p| !p.deleted && !neighbour(p))
        .count();
    let neighbours_alive = remote.iter().filter(|p| !p.deleted && neighbour(p)).count();
    for p in remote.iter().filter(|p| !p.deleted && !neighbour(p)) {
        let token = p.client_request_token.clone().unwrap_or_default();
        let calls: Vec<String> = h
            .emulator
            .calls()
            .into_iter()
            .filter(|c| {
                c.subject.as_deref() == Some(token.as_str())
                    || c.subject.as_deref() == Some(p.arn.as_str())
            })
            .map(|c| format!("{}@{}:{:?}", c.operation, c.at_ms, c.status))
            .collect();
        eprintln!(
            "orphan pool {} of resource {:?}: {calls:?}",
            p.arn,
            names_by_uid.get(&token)
        );
    }
    let mut creates: HashMap<String, usize> = HashMap::new();
    for c in h.emulator.calls() {
        if c.operation == "CreateMediaPipelineKinesisVideoStreamPool"
            && let Some(token) = c.subject
        {
            *creates.entry(token).or_default() += 1;
        }
    }
    let max_creates = creates.values().copied().max().unwrap_or(0);
    println!(
        "survival: pool crash: resources {}, kills {KILLS}, duplicates {dups}, orphans {orphaned}, neighbour pools alive {neighbours_alive} of {}, max create calls per resource {max_creates}",
        BURSTS * PER_BURST,
        neighbours.len()
    );
    assert_eq!(dups, 0);
    assert_eq!(orphaned, 0, "pools left after every resource was deleted");
    assert_eq!(
        neighbours_alive,
        neighbours.len(),
        "the neighbour's pools were deleted"
    );
    drop(op);
    Ok(())
}
