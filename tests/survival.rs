//! It survives: operator crashes, AWS faults, the active-pipeline limit and
//! control-plane faults, with exactly-once checks on the emulator's records.
//! Each suite is written once, generic over the kind
//! ([`common::kinds::TestKind`]), and run for each kind by a one-line test;
//! each run prints one `survival:` line of figures, naming the kind.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use chime_pipeline_operator::crd::{
    MediaCapturePipeline, MediaConcatenationPipeline, MediaPipelineKinesisVideoStreamPool,
    MediaStreamPipeline,
};
use common::kinds::{Remote, TestKind, assert_one_per_uid, kind_name, manifests, names};
use common::*;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::json;
use testworld::TestEnv;
use testworld::controlplane::ControlPlane;
use testworld::emulator::{EmulatorConfig, Fault, FaultKind, Trigger};

/// Waits until every named resource satisfies `pred`, listing them all at
/// once per round.
async fn wait_all<K: TestKind>(
    api: &Api<K>,
    names: &[String],
    what: &str,
    timeout: Duration,
    pred: impl Fn(&K) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = api.list(&Default::default()).await?;
        let by_name: HashMap<String, &K> = list.items.iter().map(|o| (o.name_any(), o)).collect();
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
                        o.meta().generation,
                        o.status()
                    ),
                })
                .collect();
            anyhow::bail!(
                "{} of {} {} not {what} in {timeout:?}:\n{}",
                missing.len(),
                names.len(),
                kind_name::<K>(),
                seen.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the namespace holds exactly `names` of the kind (`[]`: none
/// left), the others gone once their cleanup is done.
async fn wait_only<K: TestKind>(
    api: &Api<K>,
    names: &[String],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = api.list(&Default::default()).await?.items;
        let stale: Vec<String> = left
            .iter()
            .map(|o| o.name_any())
            .filter(|n| !names.contains(n))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{} deleted {} stuck on their finalizer, e.g. {:?}",
                stale.len(),
                kind_name::<K>(),
                &stale[..stale.len().min(5)]
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

/// AWS objects of the kind made beyond the first per resource (by create
/// token): duplicates.
fn duplicates<K: TestKind>(h: &Harness) -> usize {
    let mut per: HashMap<String, usize> = HashMap::new();
    for r in K::remote(&h.emulator) {
        *per.entry(r.owner()).or_default() += 1;
    }
    per.values().filter(|n| **n > 1).map(|n| n - 1).sum()
}

/// Create attempts per resource (by token), from the emulator's call log.
fn create_attempts<K: TestKind>(h: &Harness) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for c in h.emulator.calls() {
        if c.operation == K::CREATE
            && let Some(token) = c.subject
        {
            *per.entry(token).or_default() += 1;
        }
    }
    per
}

/// The UIDs of the kind's resources in the namespace.
async fn uids<K: TestKind>(api: &Api<K>) -> anyhow::Result<Vec<String>> {
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter_map(|o| o.uid())
        .collect())
}

/// How big a crash suite is.
struct Crashes {
    bursts: usize,
    per_burst: usize,
    kills: usize,
    neighbours: usize,
}

/// The stream pipelines' suite, as large as it always was: 200 resources,
/// 12 kills, 10 neighbours.
const LARGE: Crashes = Crashes {
    bursts: 4,
    per_burst: 50,
    kills: 12,
    neighbours: 10,
};

/// The other kinds', as large as the pools' always was (in about the same
/// time): 80 resources, 10 kills, 5 neighbours.
const SMALL: Crashes = Crashes {
    bursts: 4,
    per_burst: 20,
    kills: 10,
    neighbours: 5,
};

/// Resources of kind K created and deleted in bursts while the operator
/// process is SIGKILLed at random moments and restarted: afterwards every
/// survivor has converged (Ready), one AWS object per UID, and deleting
/// everything leaves nothing. Every fifth resource is deleted right after
/// its create request, racing the finalizer's addition itself: on a 1.20
/// API server the delete can win and leave no trace for any reconcile; the
/// orphan sweep (delete mode) finds what it left. The one after it is
/// deleted at a random moment: before its finalizer (the sweep's, if the
/// delete wins a race with it), or after. Every seventh says Retain and is
/// deleted at a random moment. Beside it runs a second installation with
/// the same flags (so the same cluster ID), its sweep in delete mode too,
/// with live objects of its own. No object whose resource exists, or whose
/// resource said Retain, is ever deleted. Every check holds for every kind:
/// each has a finalizer, identity tags, Retain and the sweep.
async fn crashes_neither_duplicate_nor_orphan<K: TestKind>(
    prefix: &str,
    size: Crashes,
) -> anyhow::Result<()> {
    let Crashes {
        bursts,
        per_burst,
        kills,
        neighbours: neighbour_count,
    } = size;
    let kind = kind_name::<K>();
    let h = Harness::without_operator(prefix).await?;
    h.emulator.set_region_limit(REGION, 10_000);
    let api: Api<K> = h.env.api();
    let kc = h.env.kubeconfig.clone();
    let ns = h.env.namespace.clone();
    let flags = CRASH_FLAGS;
    let emulator_url = h.emulator.endpoint_url();
    // The neighbour: another namespace, another operator, the same account.
    let other = TestEnv::new(&format!("{prefix}-other")).await?;
    let _neighbour = Operator::spawn(&kc, &h.emulator, &other.namespace, &flags)?;
    let other_api: Api<K> = other.api();
    let mut neighbours = vec![];
    let none = |_| json!({});
    for o in manifests::<K>(&h.emulator, &names("n", neighbour_count), none).await? {
        let o = other_api.create(&Default::default(), &o).await?;
        neighbours.push(o.uid().unwrap_or_default());
    }
    // Every resource of the suite made before the first kill; every seventh
    // of a burst says Retain.
    let all: Vec<String> = (0..bursts * per_burst)
        .map(|n| format!("b{}-{}", n / per_burst, n % per_burst))
        .collect();
    let retain = |n: usize| n % per_burst % 7 == 3;
    let policy = |n| match retain(n) {
        true => json!({"deletionPolicy": "Retain"}),
        false => json!({}),
    };
    let mut made = manifests::<K>(&h.emulator, &all, policy).await?.into_iter();
    let first = Operator::spawn(&kc, &h.emulator, &ns, &flags)?;
    let killer = {
        let (kc, ns) = (kc.clone(), ns.clone());
        tokio::spawn(async move {
            let mut op = first;
            for _ in 0..kills {
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
    for b in 0..bursts {
        for i in 0..per_burst {
            let name = all[b * per_burst + i].clone();
            let retain = retain(b * per_burst + i);
            let o = made.next().context("a manifest for each resource")?;
            let o = api.create(&Default::default(), &o).await?;
            let uid = o.uid().unwrap_or_default();
            names_by_uid.insert(uid.clone(), name.clone());
            if retain {
                retained.push(uid);
            }
            if i % 5 == 0 {
                // Right after its create request.
                api.delete(&name, &Default::default()).await?;
            } else if retain || i % 5 == 1 {
                // At a random moment of its life.
                let (api, most) = (api.clone(), if retain { 3000 } else { 2000 });
                deletes.push(tokio::spawn(async move {
                    let pause = rand::random_range(0..most);
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
    let timeout = Duration::from_secs(180);
    wait_all(&api, &survivors, "Ready", timeout, K::converged).await?;
    // The resources deleted go once their cleanup is done (the Retain ones
    // once it tagged their objects).
    wait_only(&api, &survivors, timeout).await?;
    let uids = uids(&api).await?;
    assert_eq!(
        uids.len(),
        survivors.len(),
        "a deleted resource is still there"
    );
    let mut one_each = uids.clone();
    one_each.extend(neighbours.iter().cloned());
    assert_one_per_uid::<K>(&h.emulator, &one_each);
    let dups = duplicates::<K>(&h);

    for name in &survivors {
        api.delete(name, &Default::default()).await?;
    }
    wait_only(&api, &[], timeout).await?;
    // What no reconcile could see is the sweep's: within a sweep interval
    // and its grace period (polled, not timed); a deleted pool also stays
    // DELETING in AWS a while. Retained objects and the neighbour's stay.
    let kept = |r: &Remote| retained.contains(&r.owner()) || neighbours.contains(&r.owner());
    let orphans = || {
        K::remote(&h.emulator)
            .into_iter()
            .filter(|r| !r.deleted && !kept(r))
            .collect::<Vec<_>>()
    };
    // Those not even on their way out (a pool DELETING) are the sweep's.
    let left = orphans().iter().filter(|r| !r.deleting).count();
    eventually(Duration::from_secs(60), || orphans().is_empty()).await;
    let orphaned = orphans();
    let swept = left.saturating_sub(orphaned.len());
    for r in &orphaned {
        let calls: Vec<String> = h
            .emulator
            .calls()
            .into_iter()
            .filter(|c| r.is_subject(c.subject.as_deref()))
            .map(|c| format!("{}@{}:{:?}", c.operation, c.at_ms, c.status))
            .collect();
        eprintln!(
            "orphan {kind} {} of resource {:?}: {calls:?}",
            r.id,
            names_by_uid.get(&r.owner())
        );
    }
    // Two more sweeps of each installation after the last delete.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let remote = K::remote(&h.emulator);
    let lost: Vec<String> = remote
        .iter()
        .filter(|r| r.deleted && kept(r))
        .map(Remote::owner)
        .collect();
    let retained_made = remote
        .iter()
        .filter(|r| retained.contains(&r.owner()))
        .count();
    let neighbours_alive = remote
        .iter()
        .filter(|r| !r.deleted && neighbours.contains(&r.owner()))
        .count();
    let max_creates = create_attempts::<K>(&h)
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    println!(
        "survival: crash {kind}: resources {}, kills {kills}, faults 0, duplicates {dups}, orphans {} (the sweep deleted {swept}), retained objects {retained_made} of {} Retain resources, neighbour objects alive {neighbours_alive} of {neighbour_count}, deleted while their resource existed or said Retain {}, max create calls per resource {max_creates}",
        bursts * per_burst,
        orphaned.len(),
        retained.len(),
        lost.len()
    );
    assert_eq!(dups, 0);
    assert!(
        orphaned.is_empty(),
        "{kind} objects left after every resource was deleted"
    );
    assert!(lost.is_empty(), "kept objects were deleted: {lost:?}");
    assert_eq!(
        neighbours_alive, neighbour_count,
        "the neighbour's objects are not all there"
    );
    drop(op);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_pipeline_crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    crashes_neither_duplicate_nor_orphan::<MediaStreamPipeline>("crash", LARGE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    crashes_neither_duplicate_nor_orphan::<MediaPipelineKinesisVideoStreamPool>("poolcrash", SMALL)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_pipeline_crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    crashes_neither_duplicate_nor_orphan::<MediaCapturePipeline>("capcrash", SMALL).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concatenation_pipeline_crashes_neither_duplicate_nor_orphan() -> anyhow::Result<()> {
    crashes_neither_duplicate_nor_orphan::<MediaConcatenationPipeline>("concatcrash", SMALL).await
}

/// 20% 5xx, 10% throttling, added latency and dropped connections: every
/// resource of kind K converges, nothing is created twice, retries stay
/// bounded.
async fn aws_faults_converge_with_bounded_retries<K: TestKind>(prefix: &str) -> anyhow::Result<()> {
    const N: usize = 40;
    let kind = kind_name::<K>();
    let h = Harness::start(prefix).await?;
    let api: Api<K> = h.env.api();
    // The manifests first: what they need in AWS is made without faults.
    let names = names("f", N);
    let made = manifests::<K>(&h.emulator, &names, |_| json!({})).await?;
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
    for o in &made {
        api.create(&Default::default(), o).await?;
    }
    let timeout = Duration::from_secs(180);
    wait_all(&api, &names, "Ready", timeout, K::converged).await?;
    assert_one_per_uid::<K>(&h.emulator, &uids(&api).await?);
    let faulted = h
        .emulator
        .calls()
        .iter()
        .filter(|c| c.status.is_none_or(|s| s >= 429))
        .count();
    let attempts = create_attempts::<K>(&h);
    let max_retries = attempts.values().map(|n| n - 1).max().unwrap_or(0);
    let total: usize = attempts.values().sum();
    println!(
        "survival: aws faults {kind}: resources {N}, kills 0, faults {faulted}, duplicates {}, orphans 0, max retries {max_retries} (mean {:.2} creates per resource)",
        duplicates::<K>(&h),
        total as f64 / N as f64
    );
    assert_eq!(duplicates::<K>(&h), 0);
    assert!(
        max_retries <= 8,
        "a resource retried its create {max_retries} times"
    );
    Ok(())
}

#[tokio::test]
async fn stream_pipeline_aws_faults_converge_with_bounded_retries() -> anyhow::Result<()> {
    aws_faults_converge_with_bounded_retries::<MediaStreamPipeline>("awsfaults").await
}

#[tokio::test]
async fn pool_aws_faults_converge_with_bounded_retries() -> anyhow::Result<()> {
    aws_faults_converge_with_bounded_retries::<MediaPipelineKinesisVideoStreamPool>("poolfaults")
        .await
}

#[tokio::test]
async fn capture_pipeline_aws_faults_converge_with_bounded_retries() -> anyhow::Result<()> {
    aws_faults_converge_with_bounded_retries::<MediaCapturePipeline>("capfaults").await
}

#[tokio::test]
async fn concatenation_pipeline_aws_faults_converge_with_bounded_retries() -> anyhow::Result<()> {
    aws_faults_converge_with_bounded_retries::<MediaConcatenationPipeline>("concatfaults").await
}

/// A region limit of 10 and 25 resources of kind K: 10 Ready, 15 say the
/// limit is reached; deleting the 10 lets 10 of the waiting ones proceed
/// unaided. For the meeting pipeline kinds only: AWS limits active
/// pipelines (of each kind, per Region), and neither it nor the emulator
/// has such a limit on pools; a concatenation is active only while it joins
/// (it stops on its own within a second here), so it frees its slot before
/// 15 could be seen waiting.
async fn the_limit_holds_and_waiting_resources_proceed<K: TestKind>(
    prefix: &str,
) -> anyhow::Result<()> {
    let kind = kind_name::<K>();
    let h = Harness::start(prefix).await?;
    let api: Api<K> = h.env.api();
    h.emulator.set_region_limit(REGION, 10);
    let names = names("l", 25);
    for o in manifests::<K>(&h.emulator, &names, |_| json!({})).await? {
        api.create(&Default::default(), &o).await?;
    }
    let limited = |o: &K| condition(o, "Ready").is_some_and(|c| c.1 == "ResourceLimitExceeded");
    wait_all(
        &api,
        &names,
        "Ready or limited",
        Duration::from_secs(120),
        |o| K::converged(o) || limited(o),
    )
    .await?;
    let list = api.list(&Default::default()).await?.items;
    let ready: Vec<String> = list
        .iter()
        .filter(|o| K::converged(o))
        .map(|o| o.name_any())
        .collect();
    let waiting: Vec<&K> = list.iter().filter(|o| limited(o)).collect();
    assert_eq!((ready.len(), waiting.len()), (10, 15));
    let msg = condition(waiting[0], "Ready")
        .map(|c| c.2)
        .unwrap_or_default();
    assert!(msg.contains("limit"), "{msg}");

    for n in &ready {
        api.delete(n, &Default::default()).await?;
    }
    let waiting_names: Vec<String> = waiting.iter().map(|o| o.name_any()).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = api.list(&Default::default()).await?.items;
        let now_ready = list
            .iter()
            .filter(|o| waiting_names.contains(&o.name_any()) && K::converged(o))
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
        "survival: limit {kind}: resources 25, kills 0, faults 0, duplicates {}, orphans 0, 10 Ready + 15 waiting, then 10 more Ready after 10 deletions",
        duplicates::<K>(&h)
    );
    assert_eq!(duplicates::<K>(&h), 0);
    Ok(())
}

#[tokio::test]
async fn stream_pipeline_limit_holds_and_waiting_resources_proceed() -> anyhow::Result<()> {
    the_limit_holds_and_waiting_resources_proceed::<MediaStreamPipeline>("limit25").await
}

#[tokio::test]
async fn capture_pipeline_limit_holds_and_waiting_resources_proceed() -> anyhow::Result<()> {
    the_limit_holds_and_waiting_resources_proceed::<MediaCapturePipeline>("caplimit25").await
}

/// kube-apiserver restarted in the middle of a burst, then etcd stopped
/// for a few seconds: the operator recovers with the same exactly-once
/// result for resources of kind K. A control plane of its own, so other
/// tests are not disturbed.
async fn control_plane_faults_are_survived<K: TestKind>(prefix: &str) -> anyhow::Result<()> {
    let kind = kind_name::<K>();
    let Some(bin_dir) = std::env::var_os("TESTWORLD_BIN_DIR") else {
        println!(
            "survival: control plane {kind}: skipped (TESTWORLD_BIN_DIR unset: not started by tests/run)"
        );
        return Ok(());
    };
    let mut cp = ControlPlane::start(std::path::Path::new(&bin_dir)).await?;
    let client = testworld::client_from_kubeconfig(&cp.kubeconfig).await?;
    testworld::install_crds(&client, &testworld::crds_dir()).await?;
    let env = TestEnv::on(cp.kubeconfig.clone(), prefix).await?;
    let mut h = Harness::on(env, EmulatorConfig::default()).await?;
    let api: Api<K> = h.env.api();
    let config = test_config(&h.env.namespace);
    h.run_operator(client, config).await;

    let all = names("c", 60);
    let made = manifests::<K>(&h.emulator, &all, |_| json!({})).await?;
    let mut names = vec![];
    let mut create = async |range: std::ops::Range<usize>| -> anyhow::Result<()> {
        for i in range {
            let (name, o) = (&all[i], &made[i]);
            // Creates during an outage fail; the test (like a client) retries.
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Err(e) = api.create(&Default::default(), o).await {
                if api.get_opt(name).await.ok().flatten().is_some() {
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "create {name}: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            names.push(name.clone());
        }
        Ok(())
    };
    create(0..20).await?;
    cp.restart_apiserver().await?;
    create(20..40).await?;
    cp.stop_etcd();
    tokio::time::sleep(Duration::from_secs(4)).await;
    cp.start_etcd_again().await?;
    create(40..60).await?;
    let timeout = Duration::from_secs(180);
    wait_all(&api, &names, "Ready", timeout, K::converged).await?;
    assert_one_per_uid::<K>(&h.emulator, &uids(&api).await?);
    println!(
        "survival: control plane {kind}: resources {}, kills 0, faults 2 (apiserver restart, etcd down 4 s), duplicates {}, orphans 0",
        names.len(),
        duplicates::<K>(&h)
    );
    assert_eq!(duplicates::<K>(&h), 0);
    h.stop_operator().await;
    cp.stop();
    Ok(())
}

#[tokio::test]
async fn stream_pipeline_control_plane_faults_are_survived() -> anyhow::Result<()> {
    control_plane_faults_are_survived::<MediaStreamPipeline>("cpfaults").await
}

#[tokio::test]
async fn pool_control_plane_faults_are_survived() -> anyhow::Result<()> {
    control_plane_faults_are_survived::<MediaPipelineKinesisVideoStreamPool>("poolcpfaults").await
}

#[tokio::test]
async fn capture_pipeline_control_plane_faults_are_survived() -> anyhow::Result<()> {
    control_plane_faults_are_survived::<MediaCapturePipeline>("capcpfaults").await
}

#[tokio::test]
async fn concatenation_pipeline_control_plane_faults_are_survived() -> anyhow::Result<()> {
    control_plane_faults_are_survived::<MediaConcatenationPipeline>("concatcpfaults").await
}
