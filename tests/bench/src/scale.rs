//! How the operator's cost grows: the pools of the memory phase, the memory
//! of an operator managing 100 resources, the scaling curve (one operator
//! growing through 1k, 5k, 10k and 20k resources, the pipeline kinds mixed),
//! and memory, watches and start-up with the same stream pipelines spread
//! over 1, 10 and 50 namespaces.
//!
//! Every operator started here names its namespaces (`--namespace`), so
//! that the resources of the earlier phases, which stay in the cluster, are
//! out of its scope: each figure is about exactly the resources it names.

use std::time::{Duration, Instant};

use anyhow::bail;
use chime_pipeline_operator::crd::MediaPipelineKinesisVideoStreamPool;
use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use testworld::ensure_namespace;

use crate::mix::{self, Mix};
use crate::process::{Operator, mib};
use crate::{World, cost, create_many, memory, snapshot};

/// Creates `n` pools named `pool-{i}` in `ns` and waits until all are Ready.
pub async fn create_pools(
    client: &Client,
    ns: &str,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    ensure_namespace(client, ns).await?;
    let api: Api<MediaPipelineKinesisVideoStreamPool> = Api::namespaced(client.clone(), ns);
    let t0 = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &pool(&format!("pool-{i}")))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    wait_pools(&api, "Ready", Duration::from_secs(300), |pools| {
        pools.iter().filter(|p| pool_ready(p)).count() >= n
    })
    .await?;
    eprintln!(
        "bench: {n} pools Ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Deletes every pool of `ns` and waits until the operator has let them go.
pub async fn delete_pools(client: &Client, ns: &str) -> anyhow::Result<()> {
    let api: Api<MediaPipelineKinesisVideoStreamPool> = Api::namespaced(client.clone(), ns);
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    wait_pools(&api, "gone", Duration::from_secs(300), |pools| {
        pools.is_empty()
    })
    .await
}

/// A pool in us-east-1 whose AWS name is the resource's (distinct per pool).
fn pool(name: &str) -> MediaPipelineKinesisVideoStreamPool {
    serde_json::from_value(json!({
        "apiVersion": "media.chimeoperator.dev/v1alpha1",
        "kind": "MediaPipelineKinesisVideoStreamPool",
        "metadata": {"name": name},
        "spec": {"streamConfiguration": {"region": "us-east-1", "dataRetentionInHours": 24}},
    }))
    .expect("a valid MediaPipelineKinesisVideoStreamPool")
}

fn pool_ready(p: &MediaPipelineKinesisVideoStreamPool) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.common
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Lists the pools every 250 ms until `done` holds (the observer watches
/// pipelines only; a hundred pools are cheap to list).
async fn wait_pools(
    api: &Api<MediaPipelineKinesisVideoStreamPool>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&[MediaPipelineKinesisVideoStreamPool]) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if done(&api.list(&ListParams::default()).await?.items) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("pools not {what} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl World<'_> {
    /// An operator of its own, watching only `namespaces`, ready to work;
    /// with its time from spawn to /readyz 200.
    async fn scoped_operator(
        &mut self,
        namespaces: &[String],
    ) -> anyhow::Result<(Operator, Duration)> {
        let mut flags = self.base_flags();
        flags.extend(["--namespace".to_string(), namespaces.join(",")]);
        let mut op = self.spawn_operator(&flags)?;
        let ready = op.wait_ok("/readyz", Duration::from_secs(300)).await?;
        Ok((op, ready))
    }
}

/// Creates `total` resources spread evenly over `namespaces` (the first ones
/// take the remainder), `concurrency` in flight; returns each namespace's count.
async fn create_spread(
    client: &Client,
    namespaces: &[String],
    total: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<usize>> {
    let k = namespaces.len().max(1);
    let counts: Vec<usize> = (0..k)
        .map(|i| total / k + usize::from(i < total % k))
        .collect();
    // Interleaved, so that every namespace fills at once, as many teams would.
    let c = &counts;
    let jobs: Vec<(usize, usize)> = (0..counts[0])
        .flat_map(|j| (0..k).filter(move |&i| j < c[i]).map(move |i| (i, j)))
        .collect();
    futures::stream::iter(jobs)
        .map(|(i, j)| {
            let ns = &namespaces[i];
            let api: Api<chime_pipeline_operator::crd::MediaStreamPipeline> =
                Api::namespaced(client.clone(), ns);
            async move {
                api.create(
                    &PostParams::default(),
                    &crate::mix::stream(ns, format!("n-{j}")),
                )
                .await
                .map(|_| ())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await?;
    Ok(counts)
}

/// The memory of an operator managing 100 resources: a fresh process whose
/// only namespace gets 100 resources while it runs (as a burst: its peak
/// covers creating them), read once all are Ready and the work has settled.
pub async fn hundred(w: &mut World<'_>) -> anyhow::Result<Value> {
    const N: usize = 100;
    let ns = "hundred".to_string();
    ensure_namespace(&w.client, &ns).await?;
    let (op, _) = w.scoped_operator(std::slice::from_ref(&ns)).await?;
    let t0 = Instant::now();
    create_many(&w.client, &ns, "h", N, w.cli.apply_concurrency).await?;
    let ready = w.obs.all_ready(&ns, N, Duration::from_secs(300)).await? - t0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut m = memory(&op.usage()?, N);
    m["ready_seconds"] = json!(ready.as_secs_f64());
    m["when"] = json!("a fresh operator with --namespace naming only these 100, after all Ready");
    m["operator_flags"] = json!(op.args);
    eprintln!(
        "bench: operator with {N} resources: peak RSS {:.1} MiB, RSS {:.1} MiB",
        m["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
        m["rss_mib"].as_f64().unwrap_or(f64::NAN)
    );
    op.stop().await?;
    Ok(m)
}

/// One operator, one namespace, growing through the plan's points with the
/// kinds mixed as in the fill (crate::mix). At each point, once all are
/// Ready: RSS, peak RSS, and what the stretch since the last point cost
/// (CPU per 1,000 reconciles, reconciles per resource).
pub async fn curve(w: &mut World<'_>) -> anyhow::Result<Value> {
    let ns = "scale".to_string();
    ensure_namespace(&w.client, &ns).await?;
    let (op, _) = w.scoped_operator(std::slice::from_ref(&ns)).await?;
    let flags = op.args.clone();
    let mut points = vec![];
    let mut have = Mix::default();
    let mut before = snapshot(&op, w).await?;
    let plan = w.plan;
    for &target in &plan.scale_points {
        let add = Mix::thirds(target).beyond(&have);
        have = have.plus(&add);
        let t0 = Instant::now();
        let prefix = format!("s{target}");
        mix::create(
            &w.client,
            &w.obs,
            &ns,
            &prefix,
            add,
            w.cli.apply_concurrency,
        )
        .await?;
        let ready = w
            .obs
            .all_ready(&ns, have.total(), Duration::from_secs(1800))
            .await?
            - t0;
        // Calls and writes that trail the last Ready belong to the stretch.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = snapshot(&op, w).await?;
        let stretch = cost(&before, &after, add.total().max(1));
        let point = json!({
            "resources": have.total(),
            "kinds": have.to_json(),
            "created": add.total(),
            "ready_seconds": ready.as_secs_f64(),
            "rss_mib": mib(after.usage.rss),
            "peak_rss_mib": mib(after.usage.peak_rss),
            "cpu_seconds_total": after.usage.cpu,
            "reconciles_total": after.reconciles,
            "cpu_seconds_per_1000_reconciles": stretch["cpu_seconds_per_1000_reconciles"],
            "cpu_seconds_per_1000_resources": stretch["cpu_seconds"].as_f64().unwrap_or(0.0) / add.total().max(1) as f64 * 1000.0,
            "reconciles_per_resource": stretch["reconciles_per_resource"],
            "stretch": stretch,
        });
        eprintln!(
            "bench: scaling: {target} resources, RSS {:.1} MiB (peak {:.1}), stretch {:.3} CPU s per 1,000 reconciles",
            mib(after.usage.rss),
            mib(after.usage.peak_rss),
            point["cpu_seconds_per_1000_reconciles"]
                .as_f64()
                .unwrap_or(f64::NAN)
        );
        points.push(point);
        before = after;
    }
    op.stop().await?;
    Ok(json!({
        "namespace": ns,
        "operator_flags": flags,
        "points": points,
        "rss_fit": fit(&points, "rss_mib"),
        "peak_rss_fit": fit(&points, "peak_rss_mib"),
    }))
}

/// A least-squares line through (resources in thousands, `key`): the slope
/// is MiB per 1,000 resources; r² near 1 says the growth is linear.
pub fn fit(points: &[Value], key: &str) -> Value {
    let xy: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((p["resources"].as_f64()? / 1000.0, p[key].as_f64()?)))
        .collect();
    let n = xy.len() as f64;
    if xy.len() < 2 {
        return Value::Null;
    }
    let (mx, my) = (
        xy.iter().map(|p| p.0).sum::<f64>() / n,
        xy.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = xy.iter().map(|p| (p.1 - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    json!({
        "mib_per_1000_resources": slope,
        "intercept_mib": intercept,
        "r_squared": r2,
    })
}

/// For each namespace count: the `big` resources spread over that many
/// fresh namespaces, a fresh operator naming them all; its memory and
/// watches once all are Ready, then its start-up when restarted.
pub async fn namespaces(w: &mut World<'_>) -> anyhow::Result<Value> {
    let mut cases = vec![];
    let plan = w.plan;
    for &k in &plan.namespace_counts {
        cases.push(namespace_case(w, k).await?);
    }
    Ok(json!({
        "resources": plan.big,
        "operator_flags_besides_namespace": w.base_flags(),
        "cases": cases,
    }))
}

async fn namespace_case(w: &mut World<'_>, k: usize) -> anyhow::Result<Value> {
    let total = w.plan.big;
    let names: Vec<String> = (0..k).map(|i| format!("ns{k}-{i}")).collect();
    for ns in &names {
        ensure_namespace(&w.client, ns).await?;
    }
    // The watches of everything else (the benchmark's observer) are the
    // baseline the operator's are counted against.
    let baseline = watches(&w.client).await?;
    let (op, _) = w.scoped_operator(&names).await?;
    let t0 = Instant::now();
    let counts = create_spread(&w.client, &names, total, w.cli.apply_concurrency).await?;
    let mut last = t0;
    for (ns, &n) in names.iter().zip(&counts) {
        last = last.max(w.obs.all_ready(ns, n, Duration::from_secs(1800)).await?);
    }
    let ready = last - t0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let usage = op.usage()?;
    let held = watches(&w.client).await?.minus(&baseline);
    let reconciles = op.reconciles().await?;
    op.stop().await?;

    // The restart: caches filled from a list of every resource in scope.
    let (op, startup) = w.scoped_operator(&names).await?;
    let after_startup = op.usage()?;
    op.stop().await?;
    eprintln!(
        "bench: {k} namespaces, {total} resources: peak RSS {:.1} MiB, {} watches, restart /readyz after {:.2} s",
        mib(usage.peak_rss),
        held.operator_total(),
        startup.as_secs_f64()
    );
    Ok(json!({
        "namespaces": k,
        "resources": total,
        "ready_seconds": ready.as_secs_f64(),
        "peak_rss_mib": mib(usage.peak_rss),
        "rss_mib": mib(usage.rss),
        "cpu_seconds": usage.cpu,
        "reconciles": reconciles,
        "watches": held.operator_total(),
        "watches_by_resource": held.by_resource,
        "registered_watchers_by_kind": held.by_kind,
        "restart": {
            "readyz_seconds": startup.as_secs_f64(),
            "rss_mib": mib(after_startup.rss),
            "peak_rss_mib": mib(after_startup.peak_rss),
        },
    }))
}

/// Watches the kube-apiserver holds open on the operator's API group, from
/// its /metrics: `apiserver_longrunning_gauge{verb="WATCH"}` by resource
/// (requests in flight) and `apiserver_registered_watchers` by kind (watchers
/// of the watch cache). 1.20 has both.
struct Watches {
    by_resource: std::collections::BTreeMap<String, f64>,
    by_kind: std::collections::BTreeMap<String, f64>,
}

const GROUP: &str = "media.chimeoperator.dev";

async fn watches(client: &Client) -> anyhow::Result<Watches> {
    let req = kube::core::Request::new("/metrics").list(&ListParams::default())?;
    let text = client.request_text(req).await?;
    let mut w = Watches {
        by_resource: Default::default(),
        by_kind: Default::default(),
    };
    for line in text.lines() {
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        if label(line, "group") != Some(GROUP) {
            continue;
        }
        if line.starts_with("apiserver_longrunning_gauge{") && label(line, "verb") == Some("WATCH")
        {
            let r = label(line, "resource").unwrap_or("?").to_string();
            *w.by_resource.entry(r).or_default() += value;
        } else if line.starts_with("apiserver_registered_watchers{") {
            let k = label(line, "kind").unwrap_or("?").to_string();
            *w.by_kind.entry(k).or_default() += value;
        }
    }
    Ok(w)
}

impl Watches {
    /// What was added since `baseline`.
    fn minus(self, baseline: &Watches) -> Watches {
        let sub = |m: std::collections::BTreeMap<String, f64>,
                   b: &std::collections::BTreeMap<String, f64>| {
            m.into_iter()
                .map(|(k, v)| {
                    let d = v - b.get(&k).copied().unwrap_or(0.0);
                    (k, d)
                })
                .collect()
        };
        Watches {
            by_resource: sub(self.by_resource, &baseline.by_resource),
            by_kind: sub(self.by_kind, &baseline.by_kind),
        }
    }

    fn operator_total(&self) -> f64 {
        self.by_resource.values().sum()
    }
}

/// The value of `key` in a Prometheus sample line's labels.
fn label<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let labels = &line[line.find('{')? + 1..line.rfind('}')?];
    labels.split("\",").find_map(|kv| {
        let (k, v) = kv.split_once("=\"")?;
        (k.trim() == key).then(|| v.trim_end_matches('"'))
    })
}
