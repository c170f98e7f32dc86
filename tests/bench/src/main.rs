//! The operator's benchmark (issue 7). Starts a real kube-apiserver + etcd
//! (the test world's), the Chime SDK Media Pipelines emulator with no
//! Initializing delay, and the operator's release binary as a process, then
//! measures burst time against two floor programs (the least work, and the
//! minimal correct work), apply-to-Ready latency, AWS calls per resource (in
//! a burst and at rest), memory, CPU per reconcile, start-up with many
//! resources, a scaling curve, and memory, watches and start-up with 1, 10
//! and 50 namespaces. Writes `bench.json`, `bench.md`, `bench.svg` and
//! `bench-scaling.svg` to `--out`. Run it with `bash tests/bench/run`.

mod floor;
mod mix;
mod observer;
mod process;
mod report;
mod scale;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chime_pipeline_operator::crd::MediaStreamPipeline;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use testworld::controlplane::ControlPlane;
use testworld::emulator::{Emulator, EmulatorConfig};
use testworld::ensure_namespace;

use crate::observer::Observer;
use crate::process::{Operator, Usage, log_path, mib};

#[derive(Parser)]
#[command(about = "The operator's benchmark: see tests/bench/run")]
struct Cli {
    /// Folder with the etcd and kube-apiserver binaries (tests/provision.sh prints it, plus /bin).
    #[arg(long, env = "TESTWORLD_BIN_DIR", required_unless_present = "from_json")]
    bin_dir: Option<PathBuf>,
    /// The operator binary (a release build).
    #[arg(long, required_unless_present = "from_json")]
    operator: Option<PathBuf>,
    /// Measure nothing: write bench.md and bench.svg again from this bench.json.
    #[arg(long)]
    from_json: Option<PathBuf>,
    /// Where bench.json, bench.md, bench.svg and the operator logs go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// A fast check: N=100 only, 200 latency samples, 1,000 resources
    /// instead of 10,000 (also per namespace case), a scaling curve of 500
    /// and 1,000, shorter at-rest windows.
    #[arg(long)]
    quick: bool,
    /// Resource creations in flight at once, for every bulk create.
    #[arg(long, default_value_t = 32)]
    apply_concurrency: usize,
    /// The operator's --max-concurrent-reconciles, and the floor's concurrency.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Latency samples (default 300; 200 with --quick).
    #[arg(long)]
    latency_samples: Option<usize>,
    /// Resources for the memory and start-up figures, and for each namespace
    /// case (default 10,000; 1,000 with --quick).
    #[arg(long)]
    big: Option<usize>,
    /// The operator's --refresh-interval while calls at rest are counted,
    /// seconds (default 30; 10 with --quick).
    #[arg(long)]
    rest_refresh_secs: Option<u64>,
    /// How long calls at rest are counted, seconds (default 60; 30 with --quick).
    #[arg(long)]
    rest_window_secs: Option<u64>,
    /// Resource counts of the scaling curve, comma-separated (default
    /// 1000,5000,10000,20000; 500,1000 with --quick).
    #[arg(long, value_delimiter = ',')]
    scale_points: Vec<usize>,
    /// How many namespaces the `big` resources are spread over, one
    /// operator each, comma-separated (default 1,10,50).
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    namespace_counts: Vec<usize>,
}

struct Plan {
    bursts: Vec<usize>,
    latency_samples: usize,
    big: usize,
    rest_refresh: Duration,
    rest_window: Duration,
    /// Pools beside the `big` pipelines in the memory phase.
    pools: usize,
    scale_points: Vec<usize>,
    namespace_counts: Vec<usize>,
}

impl Plan {
    fn of(cli: &Cli) -> Plan {
        let q = cli.quick;
        Plan {
            // Largest first: the memory figure "with 1,000 resources" is read
            // right after the N=1000 burst, when exactly that many exist.
            bursts: if q { vec![100] } else { vec![1000, 100] },
            latency_samples: cli.latency_samples.unwrap_or(if q { 200 } else { 300 }),
            big: cli.big.unwrap_or(if q { 1_000 } else { 10_000 }),
            rest_refresh: Duration::from_secs(cli.rest_refresh_secs.unwrap_or(if q {
                10
            } else {
                30
            })),
            rest_window: Duration::from_secs(cli.rest_window_secs.unwrap_or(if q {
                30
            } else {
                60
            })),
            pools: 100,
            scale_points: if !cli.scale_points.is_empty() {
                cli.scale_points.clone()
            } else if q {
                vec![500, 1_000]
            } else {
                vec![1_000, 5_000, 10_000, 20_000]
            },
            namespace_counts: cli.namespace_counts.clone(),
        }
    }
}

pub(crate) const POOL_ARN: &str =
    "arn:aws:chime:us-east-1:111122223333:media-pipeline-kinesis-video-stream-pool/bench";

/// One meeting per namespace, so that ending it stops that namespace's pipelines.
pub(crate) fn meeting_arn(ns: &str) -> String {
    format!("arn:aws:chime:us-east-1:111122223333:meeting/bench-{ns}")
}

/// Creates `n` stream pipelines named `{prefix}-{i}` with `concurrency` in flight.
async fn create_many(
    client: &Client,
    ns: &str,
    prefix: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let api: Api<MediaStreamPipeline> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let obj = mix::stream(ns, format!("{prefix}-{i}"));
            async move { api.create(&PostParams::default(), &obj).await.map(|_| ()) }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
        .with_context(|| format!("creating resources in {ns}"))
}

/// AWS calls by operation.
type Calls = BTreeMap<String, usize>;

fn calls_by_op(emulator: &Emulator) -> Calls {
    let mut m = Calls::new();
    for c in emulator.calls() {
        *m.entry(c.operation).or_default() += 1;
    }
    m
}

fn diff(after: &Calls, before: &Calls) -> Calls {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn per(calls: &Calls, n: f64) -> BTreeMap<String, f64> {
    calls
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64 / n))
        .collect()
}

fn total(calls: &Calls) -> usize {
    calls.values().sum()
}

/// What one stretch of the operator's work cost.
struct Snapshot {
    at: Instant,
    calls: Calls,
    reconciles: f64,
    usage: Usage,
    updates: u64,
    control_plane_cpu: f64,
}

async fn snapshot(op: &Operator, w: &World<'_>) -> anyhow::Result<Snapshot> {
    Ok(Snapshot {
        at: Instant::now(),
        calls: calls_by_op(&w.emulator),
        reconciles: op.reconciles().await?,
        usage: op.usage()?,
        updates: w.obs.read(|s| s.total_updates()),
        control_plane_cpu: w.control_plane_cpu(),
    })
}

/// The cost between two snapshots, for `n` resources.
fn cost(before: &Snapshot, after: &Snapshot, n: usize) -> Value {
    let calls = diff(&after.calls, &before.calls);
    let reconciles = after.reconciles - before.reconciles;
    let cpu = after.usage.cpu - before.usage.cpu;
    json!({
        "seconds": (after.at - before.at).as_secs_f64(),
        "resources": n,
        "aws_calls": calls,
        "aws_calls_per_resource": per(&calls, n as f64),
        "aws_calls_per_resource_total": total(&calls) as f64 / n as f64,
        "reconciles": reconciles,
        "reconciles_per_resource": reconciles / n as f64,
        "cpu_seconds": cpu,
        "cpu_seconds_per_1000_reconciles": if reconciles > 0.0 { Some(cpu / reconciles * 1000.0) } else { None },
        "kubernetes_updates_per_resource": (after.updates - before.updates) as f64 / n as f64,
        "control_plane_cpu_seconds": after.control_plane_cpu - before.control_plane_cpu,
    })
}

struct World<'a> {
    cli: &'a Cli,
    operator: &'a Path,
    plan: &'a Plan,
    cp: &'a ControlPlane,
    client: Client,
    emulator: Emulator,
    obs: Observer,
    /// Operator processes started so far (names their log files).
    spawned: usize,
}

impl World<'_> {
    /// CPU seconds used so far by etcd and kube-apiserver.
    fn control_plane_cpu(&self) -> f64 {
        self.cp
            .dir()
            .map(|d| process::cpu_of_matching(&d.display().to_string()))
            .unwrap_or(0.0)
    }

    fn spawn_operator(&mut self, extra: &[String]) -> anyhow::Result<Operator> {
        self.spawned += 1;
        Operator::spawn(
            self.operator,
            &self.cp.kubeconfig,
            &self.emulator.endpoint_url(),
            extra,
            &log_path(&self.cli.out, self.spawned),
        )
    }

    fn base_flags(&self) -> Vec<String> {
        vec![
            "--aws-rate-limit".into(),
            "0".into(),
            "--max-concurrent-reconciles".into(),
            self.cli.concurrency.to_string(),
        ]
    }

    /// N resources created at once, until all are Ready.
    async fn burst(&self, op: &Operator, n: usize) -> anyhow::Result<Value> {
        let ns = format!("burst-{n}");
        ensure_namespace(&self.client, &ns).await?;
        let before = snapshot(op, self).await?;
        let t0 = Instant::now();
        create_many(&self.client, &ns, "p", n, self.cli.apply_concurrency).await?;
        let created = t0.elapsed();
        let ready = self.obs.all_ready(&ns, n, Duration::from_secs(900)).await? - t0;
        // Calls and writes that trail the last Ready belong to the burst too.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = snapshot(op, self).await?;
        let events =
            Api::<k8s_openapi::api::events::v1::Event>::namespaced(self.client.clone(), &ns)
                .list(&ListParams::default())
                .await?
                .items
                .len();
        let mut v = cost(&before, &after, n);
        v["n"] = json!(n);
        v["create_seconds"] = json!(created.as_secs_f64());
        v["burst_seconds"] = json!(ready.as_secs_f64());
        v["resources_per_second"] = json!(n as f64 / ready.as_secs_f64());
        v["events_per_resource"] = json!(events as f64 / n as f64);
        eprintln!(
            "bench: operator burst N={n}: all Ready in {:.2} s ({:.0}/s; creates took {:.2} s)",
            ready.as_secs_f64(),
            n as f64 / ready.as_secs_f64(),
            created.as_secs_f64()
        );
        Ok(v)
    }

    /// A floor for N: the same creations, handled by a floor program.
    async fn floor(&self, n: usize, mode: floor::Mode) -> anyhow::Result<Value> {
        let (ns, label) = match mode {
            floor::Mode::Least => (format!("floor-{n}"), "floor"),
            floor::Mode::MinimalCorrect => (format!("minfloor-{n}"), "minimal-correct floor"),
        };
        ensure_namespace(&self.client, &ns).await?;
        let floor_client = testworld::client_from_kubeconfig(&self.cp.kubeconfig).await?;
        let aws = testworld::emulator::sdk_client(&self.emulator.endpoint_url(), "us-east-1").await;
        let worker = floor::Floor::start(
            floor_client,
            aws,
            &ns,
            (meeting_arn(&ns), POOL_ARN.to_string()),
            self.cli.concurrency,
            mode,
        );
        // Let the floor's watch list (nothing) and start watching.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let calls_before = calls_by_op(&self.emulator);
        let cpu_before = self.control_plane_cpu();
        let t0 = Instant::now();
        create_many(&self.client, &ns, "p", n, self.cli.apply_concurrency).await?;
        let ready = self.obs.all_ready(&ns, n, Duration::from_secs(900)).await? - t0;
        let control_plane_cpu = self.control_plane_cpu() - cpu_before;
        let calls = diff(&calls_by_op(&self.emulator), &calls_before);
        let updates = self.obs.read(|s| s.updates.get(&ns).copied().unwrap_or(0));
        eprintln!(
            "bench: {label} burst N={n}: all Ready in {:.2} s ({:.0}/s)",
            ready.as_secs_f64(),
            n as f64 / ready.as_secs_f64()
        );
        // The floor's resources go, so the operator never sees them. The
        // minimal-correct floor still runs: it removes its finalizer.
        let api: Api<MediaStreamPipeline> = Api::namespaced(self.client.clone(), &ns);
        api.delete_collection(&DeleteParams::default(), &ListParams::default())
            .await?;
        self.obs
            .wait(&format!("{ns} emptied"), Duration::from_secs(300), |s| {
                (s.live_in(&ns) == 0).then_some(())
            })
            .await?;
        drop(worker);
        Ok(json!({
            "n": n,
            "burst_seconds": ready.as_secs_f64(),
            "resources_per_second": n as f64 / ready.as_secs_f64(),
            "aws_calls": calls,
            "aws_calls_per_resource": per(&calls, n as f64),
            "kubernetes_updates_per_resource": updates as f64 / n as f64,
            "control_plane_cpu_seconds": control_plane_cpu,
        }))
    }

    /// Single resources, one at a time: apply to Ready.
    async fn latency(&self) -> anyhow::Result<Vec<f64>> {
        let ns = "latency";
        ensure_namespace(&self.client, ns).await?;
        let api: Api<MediaStreamPipeline> = Api::namespaced(self.client.clone(), ns);
        let mut samples = vec![];
        for i in 0..self.plan.latency_samples {
            let name = format!("l-{i}");
            let key = observer::key::<MediaStreamPipeline>(ns, &name);
            let t0 = Instant::now();
            api.create(&PostParams::default(), &mix::stream(ns, name))
                .await?;
            let at = self
                .obs
                .wait(&format!("{key} Ready"), Duration::from_secs(60), |s| {
                    s.ready_at.get(&key).copied()
                })
                .await?;
            samples.push((at - t0).as_secs_f64() * 1000.0);
        }
        Ok(samples)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn memory(u: &Usage, resources: usize) -> Value {
    json!({
        "resources": resources,
        "peak_rss_mib": mib(u.peak_rss),
        "rss_mib": mib(u.rss),
    })
}

async fn run(cli: &Cli, operator: &Path, plan: &Plan, cp: &ControlPlane) -> anyhow::Result<Value> {
    let client = testworld::client_from_kubeconfig(&cp.kubeconfig).await?;
    testworld::install_crds(&client, &testworld::crds_dir()).await?;
    let version = client.apiserver_version().await?.git_version;
    let emulator = Emulator::start(EmulatorConfig {
        initializing_delay: Duration::ZERO,
        concatenation_delay: mix::CONCATENATION_RUNS,
        region_limits: [("us-east-1".to_string(), 1_000_000)].into(),
        ..Default::default()
    })
    .await?;
    let obs = Observer::start(testworld::client_from_kubeconfig(&cp.kubeconfig).await?).await?;
    let mut w = World {
        cli,
        operator,
        plan,
        cp,
        client,
        emulator,
        obs,
        spawned: 0,
    };
    let mut report = json!({
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "kube_apiserver": version,
            "note": "etcd, kube-apiserver, the operator and the benchmark (with the emulator and the floor in-process) share these CPUs",
        },
        "mode": if cli.quick { "quick" } else { "full" },
        "apply_concurrency": cli.apply_concurrency,
        "reconcile_concurrency": cli.concurrency,
        "emulator": {
            "initializing_delay_seconds": 0,
            "concatenation_delay_seconds": mix::CONCATENATION_RUNS.as_secs(),
        },
    });

    // The floors, before any operator runs.
    let mut floors = vec![];
    let mut minimal = vec![];
    for &n in &plan.bursts {
        floors.push(w.floor(n, floor::Mode::Least).await?);
        minimal.push(w.floor(n, floor::Mode::MinimalCorrect).await?);
    }
    report["floor"] = json!(floors);
    report["floor_minimal"] = json!(minimal);

    // Operator 1: default flags but the AWS rate limit.
    let flags = w.base_flags();
    let mut op = w.spawn_operator(&flags)?;
    report["operator_flags"] = json!(op.args);
    let ready = op.wait_ok("/readyz", Duration::from_secs(60)).await?;
    eprintln!(
        "bench: operator ready in {:.2} s (empty cluster)",
        ready.as_secs_f64()
    );
    report["startup_empty_seconds"] = json!(ready.as_secs_f64());

    let mut bursts = vec![];
    for &n in &plan.bursts {
        bursts.push(w.burst(&op, n).await?);
        if n == 1000 {
            report["memory_1000"] = memory(&op.usage()?, w.obs.read(|s| s.live()));
            report["memory_1000"]["when"] = json!("operator 1, right after the N=1000 burst");
        }
    }
    report["bursts"] = json!(with_ratios(bursts, &floors, &minimal));

    let before = snapshot(&op, &w).await?;
    let samples = w.latency().await?;
    let after = snapshot(&op, &w).await?;
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    eprintln!(
        "bench: latency over {} samples: p50 {:.1} ms, p99 {:.1} ms",
        sorted.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0)
    );
    report["latency"] = json!({
        "samples": samples.len(),
        "p50_ms": percentile(&sorted, 50.0),
        "p90_ms": percentile(&sorted, 90.0),
        "p99_ms": percentile(&sorted, 99.0),
        "min_ms": sorted.first(),
        "max_ms": sorted.last(),
        "mean_ms": sorted.iter().sum::<f64>() / sorted.len().max(1) as f64,
        "cost": cost(&before, &after, samples.len()),
        "samples_ms": samples,
    });

    // The pools live through the fill, so that the memory figure is with
    // both kinds; they go before the restart, so that no later figure (calls
    // at rest above all: an ACTIVE pool is re-read every refresh) has them.
    scale::create_pools(&w.client, POOLS_NS, plan.pools, cli.apply_concurrency).await?;

    // Fill up to `big` resources, the kinds mixed (crate::mix: a third each
    // of stream, capture and concatenation pipelines; the stream pipelines
    // of the bursts and latency runs count towards their third), with the
    // operator working on them.
    let existing = w.obs.read(|s| s.live());
    let had = mix::Mix {
        streams: existing,
        ..Default::default()
    };
    let fill = mix::Mix::thirds(plan.big).beyond(&had);
    let ns = "fill";
    ensure_namespace(&w.client, ns).await?;
    let before = snapshot(&op, &w).await?;
    let t0 = Instant::now();
    mix::create(&w.client, &w.obs, ns, "f", fill, cli.apply_concurrency).await?;
    let created = t0.elapsed();
    let ready = w
        .obs
        .all_ready(ns, fill.total(), Duration::from_secs(1800))
        .await?
        - t0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = snapshot(&op, &w).await?;
    let live = w.obs.read(|s| s.live());
    eprintln!(
        "bench: filled to {live} resources: {} created ({} stream, {} capture, {} concatenation) in {:.1} s, all Ready in {:.1} s",
        fill.total(),
        fill.streams,
        fill.captures,
        fill.concats,
        created.as_secs_f64(),
        ready.as_secs_f64()
    );
    let mut f = cost(&before, &after, fill.total().max(1));
    f["created"] = json!(fill.total());
    f["kinds"] = fill.to_json();
    f["create_seconds"] = json!(created.as_secs_f64());
    f["ready_seconds"] = json!(ready.as_secs_f64());
    report["fill"] = f;
    report["memory_big"] = memory(&op.usage()?, live);
    report["memory_big"]["pools"] = json!(plan.pools);
    report["memory_big"]["kinds"] = json!(w.obs.read(|s| s.live_by_kind()));
    report["memory_big"]["when"] =
        json!("operator 1, after the fill (its peak covers every burst)");
    report["readme_sizing"] = report::readme_sizing();
    eprintln!(
        "bench: memory with {live} resources, kinds mixed, + {} pools: peak RSS {:.1} MiB",
        plan.pools,
        report["memory_big"]["peak_rss_mib"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    report["operator_1_total"] = json!({
        "cpu_seconds": op.usage()?.cpu,
        "reconciles": op.reconciles().await?,
    });
    scale::delete_pools(&w.client, POOLS_NS).await?;
    op.stop().await?;

    // Operator 2: a restart with `big` resources, all InProgress (default
    // refresh interval, 5 minutes).
    let calls0 = calls_by_op(&w.emulator);
    let updates0 = w.obs.read(|s| s.total_updates());
    let mut op = w.spawn_operator(&flags)?;
    let startup = op.wait_ok("/readyz", Duration::from_secs(300)).await?;
    eprintln!(
        "bench: restart with {live} resources: /readyz after {:.2} s",
        startup.as_secs_f64()
    );
    // A restart makes no burst of reads: a pipeline at rest counts as read
    // at a random moment of the last refresh interval, so reads carry on at
    // the steady rate. Count what the first RESTART_WINDOW after /readyz costs.
    tokio::time::sleep(RESTART_WINDOW).await;
    let settled = op.started.elapsed();
    let calls = diff(&calls_by_op(&w.emulator), &calls0);
    let usage = op.usage()?;
    report["restart"] = json!({
        "resources": live,
        "readyz_seconds": startup.as_secs_f64(),
        "window_seconds": RESTART_WINDOW.as_secs_f64(),
        "window_ends_seconds_after_start": settled.as_secs_f64(),
        "steady_state_gets_in_window": live as f64 * RESTART_WINDOW.as_secs_f64() / 300.0,
        "aws_calls": calls,
        "aws_calls_per_resource": per(&calls, live as f64),
        "kubernetes_updates": w.obs.read(|s| s.total_updates()) - updates0,
        "reconciles": op.reconciles().await?,
        "cpu_seconds": usage.cpu,
        "memory": memory(&usage, live),
    });
    report["restart"]["memory"]["when"] =
        json!("operator 2, started with them, at the end of the restart window");
    op.stop().await?;

    // Operator 3: a shorter refresh interval, to count calls at rest.
    let mut flags3 = flags.clone();
    flags3.extend([
        "--refresh-interval".to_string(),
        format!("{}s", plan.rest_refresh.as_secs()),
    ]);
    let gets0 = w.emulator.call_count("GetMediaPipeline");
    let mut op = w.spawn_operator(&flags3)?;
    report["rest_operator_flags"] = json!(op.args);
    op.wait_ok("/readyz", Duration::from_secs(300)).await?;
    // Its start-up read of every resource, then one refresh interval.
    let deadline = Instant::now() + Duration::from_secs(600);
    while w.emulator.call_count("GetMediaPipeline") < gets0 + live {
        if Instant::now() > deadline {
            bail!("the restarted operator did not read every pipeline in 600 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(plan.rest_refresh).await;
    let window = |phase: &'static str| {
        let (op, w) = (&op, &w);
        async move {
            let before = snapshot(op, w).await?;
            tokio::time::sleep(plan.rest_window).await;
            let after = snapshot(op, w).await?;
            let mut v = cost(&before, &after, live);
            let calls = diff(&after.calls, &before.calls);
            let hours = (after.at - before.at).as_secs_f64() / 3600.0;
            let per_hour = total(&calls) as f64 / live as f64 / hours;
            v["refresh_interval_seconds"] = json!(plan.rest_refresh.as_secs());
            v["aws_calls_per_resource_per_hour"] = json!(per_hour);
            v["expected_per_resource_per_hour"] = json!(if phase == "InProgress" {
                3600.0 / plan.rest_refresh.as_secs_f64()
            } else {
                0.0
            });
            // The refresh interval scales the calls of InProgress pipelines
            // linearly: this is the same figure at the default of 5 minutes.
            v["aws_calls_per_resource_per_hour_at_default_5m"] =
                json!(per_hour * plan.rest_refresh.as_secs_f64() / 300.0);
            eprintln!(
                "bench: at rest, {phase}: {} AWS calls in {:.0} s for {live} resources = {per_hour:.2} per resource per hour at a {} s refresh",
                total(&calls),
                (after.at - before.at).as_secs_f64(),
                plan.rest_refresh.as_secs()
            );
            anyhow::Ok(v)
        }
    };
    report["rest_in_progress"] = window("InProgress").await?;

    // Every meeting ends: every stream and capture pipeline Stopped, and
    // every concatenation's processing ends; the operator sees it at its
    // next refresh.
    let namespaces: Vec<String> = w.obs.read(|s| {
        let mut v: Vec<String> = s
            .status
            .keys()
            .filter_map(|k| k.split('/').next().map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    });
    let t0 = Instant::now();
    for ns in &namespaces {
        w.emulator.end_meeting(&meeting_arn(ns));
    }
    // Concatenation pipelines feed on no meeting: their processing ends.
    w.emulator.set_concatenation_delay(Duration::ZERO);
    w.obs
        .wait(
            "every resource Stopped",
            plan.rest_refresh * 4 + Duration::from_secs(300),
            |s| (s.with_status("Stopped") == live).then_some(()),
        )
        .await?;
    let seen_stopped = t0.elapsed();
    eprintln!(
        "bench: all {live} pipelines seen Stopped {:.1} s after their meetings ended",
        seen_stopped.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut stopped = window("Stopped").await?;
    stopped["seen_stopped_seconds"] = json!(seen_stopped.as_secs_f64());
    report["rest_stopped"] = stopped;
    // The scaling curve's concatenation pipelines run like the fill's.
    w.emulator.set_concatenation_delay(mix::CONCATENATION_RUNS);
    report["operator_3_memory"] = memory(&op.usage()?, live);
    // Replayed creates are harmless only if they made no second pipeline.
    let pipelines = w.emulator.pipelines();
    let tokens: std::collections::HashSet<_> = pipelines
        .iter()
        .filter_map(|p| p.client_request_token.clone())
        .collect();
    report["pipelines_in_aws"] = json!({
        "pipelines": pipelines.len(),
        "distinct_tokens": tokens.len(),
        // Both floors' resources: each made one pipeline.
        "floor_resources": 2 * plan.bursts.iter().sum::<usize>(),
        "operator_resources": live,
    });
    op.stop().await?;

    // Every operator from here on names its namespaces: the resources above
    // are in none of them.
    report["memory_100"] = scale::hundred(&mut w).await?;
    report["scaling"] = scale::curve(&mut w).await?;
    report["namespaces"] = scale::namespaces(&mut w).await?;
    w.obs.stop();
    Ok(report)
}

/// Where the memory phase's pools live.
const POOLS_NS: &str = "pools";

/// Each burst with the operator's time as a multiple of each floor's at its N.
fn with_ratios(bursts: Vec<Value>, floors: &[Value], minimal: &[Value]) -> Vec<Value> {
    let seconds_at = |list: &[Value], n: &Value| {
        list.iter()
            .find(|x| &x["n"] == n)
            .and_then(|x| x["burst_seconds"].as_f64())
    };
    bursts
        .into_iter()
        .map(|mut b| {
            let s = b["burst_seconds"].as_f64().unwrap_or(f64::NAN);
            b["ratio_to_floor"] = json!(seconds_at(floors, &b["n"]).map(|f| s / f));
            b["ratio_to_minimal_floor"] = json!(seconds_at(minimal, &b["n"]).map(|f| s / f));
            b
        })
        .collect()
}

/// The operator logs of an earlier run, so that each log holds one run.
fn remove_logs(out: &Path) {
    let Ok(dir) = std::fs::read_dir(out) else {
        return;
    };
    for e in dir.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("operator-") && name.ends_with(".log") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// How long after a restart the AWS calls are counted.
const RESTART_WINDOW: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let plan = Plan::of(&cli);
    std::fs::create_dir_all(&cli.out)?;
    if let Some(path) = &cli.from_json {
        let report: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        return report::write(&cli.out, &report);
    }
    let (Some(bin_dir), Some(operator)) = (&cli.bin_dir, &cli.operator) else {
        bail!("--bin-dir and --operator are needed to measure");
    };
    remove_logs(&cli.out);
    let started = Instant::now();
    // Spawned from main()'s own future, which runs on the main thread: the
    // servers' parent-death signal fires only when the process ends.
    let mut cp = ControlPlane::start(bin_dir).await?;
    eprintln!("bench: control plane at {}", cp.server_url);
    // Ctrl-C or SIGTERM ends the run, and still tears the world down.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let result = tokio::select! {
        r = run(&cli, operator, &plan, &cp) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        _ = term.recv() => Err(anyhow::anyhow!("terminated")),
    };
    cp.stop();
    let mut report = result?;
    report["total_seconds"] = json!(started.elapsed().as_secs_f64());
    report::write(&cli.out, &report)?;
    Ok(())
}
