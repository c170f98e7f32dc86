//! The benchmark's output: bench.json (every figure), bench.md (tables, also
//! printed, with the targets and whether each is met), bench.svg (the
//! latency distribution, and burst time against N for the operator and both
//! floors) and bench-scaling.svg (memory and CPU against resources).

use std::fmt::Write;
use std::path::Path;

use plotters::prelude::*;
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn calls(v: &Value) -> String {
    let Some(m) = v.as_object() else {
        return "-".into();
    };
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, n)| format!("{k} {}", trim(f(n))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A number with up to 3 decimals, trailing zeros cut.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

struct Target {
    what: String,
    measured: String,
    /// None: the run did not reach the target's scale (quick mode).
    met: Option<bool>,
}

impl Target {
    fn new(what: impl Into<String>, measured: impl Into<String>, met: bool) -> Target {
        Target {
            what: what.into(),
            measured: measured.into(),
            met: Some(met),
        }
    }

    /// A target whose scale this run did not reach; `seen` is what it
    /// measured at a smaller scale, if anything.
    fn not_measured(what: impl Into<String>, seen: Option<String>) -> Target {
        let mut measured = "not measured (quick)".to_string();
        if let Some(seen) = seen {
            measured = format!("{measured}; {seen}");
        }
        Target {
            what: what.into(),
            measured,
            met: None,
        }
    }

    fn met_cell(&self) -> &'static str {
        match self.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        }
    }
}

fn array(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

fn at_n(list: &[Value], n: u64) -> Option<&Value> {
    list.iter().find(|x| x["n"].as_u64() == Some(n))
}

/// The burst time at N=1000 against one floor (`key`), at most 1.3x.
fn floor_target(r: &Value, key: &str, name: &str) -> Target {
    const N: u64 = 1000;
    let what = format!("burst time at N={N} at most 1.3x the {name}");
    let bursts = array(&r["bursts"]);
    let floors = array(&r[key]);
    let ratio = |n: u64| {
        let (b, fl) = (at_n(&bursts, n)?, at_n(&floors, n)?);
        let (bs, fs) = (f(&b["burst_seconds"]), f(&fl["burst_seconds"]));
        Some((bs / fs, format!("{:.2}x ({bs:.2} s vs {fs:.2} s)", bs / fs)))
    };
    if let Some((x, text)) = ratio(N) {
        return Target::new(what, text, x <= 1.3);
    }
    // Quick mode: the largest N it ran, for information.
    let largest = bursts.iter().filter_map(|b| b["n"].as_u64()).max();
    let seen = largest.and_then(|n| Some(format!("at N={n}: {}", ratio(n)?.1)));
    Target::not_measured(what, seen)
}

/// Kubernetes writes per resource in every burst: resource updates (the
/// watch's MODIFIED events: finalizer, status writes) at most 4; Events,
/// which a user reads, are allowed beside them and shown.
fn writes_target(r: &Value) -> Target {
    let bursts = array(&r["bursts"]);
    let mut worst = 0f64;
    let mut seen = vec![];
    for b in &bursts {
        let u = f(&b["kubernetes_updates_per_resource"]);
        worst = worst.max(u);
        seen.push(format!(
            "N={}: {} updates + {} Events",
            b["n"],
            trim(u),
            trim(f(&b["events_per_resource"]))
        ));
    }
    Target::new(
        "Kubernetes writes per resource in a burst at most 4 (resource updates; Events counted apart)",
        seen.join("; "),
        !bursts.is_empty() && worst <= 4.0,
    )
}

/// AWS calls per resource in every burst: exactly one create, and at most
/// one read per state change (a burst's pipelines change state once,
/// Initializing to InProgress), nothing else.
fn aws_target(r: &Value) -> Target {
    let bursts = array(&r["bursts"]);
    let mut ok = !bursts.is_empty();
    let mut seen = vec![];
    for b in &bursts {
        let per = &b["aws_calls_per_resource"];
        let creates = f(&per["CreateMediaStreamPipeline"]);
        let reads = per["GetMediaPipeline"].as_f64().unwrap_or(0.0);
        let others: f64 = per
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "CreateMediaStreamPipeline" && *k != "GetMediaPipeline")
                    .map(|(_, v)| f(v))
                    .sum()
            })
            .unwrap_or(0.0);
        ok &= creates == 1.0 && reads <= 1.0 && others == 0.0;
        seen.push(format!("N={}: {}", b["n"], calls(per)));
    }
    Target::new(
        "AWS calls per resource in a burst: 1 create, at most 1 read per state change (1 change: Initializing to InProgress)",
        seen.join("; "),
        ok,
    )
}

/// Pipelines created, of every kind, in a map of AWS calls by operation.
fn creates_in(calls: &Value) -> u64 {
    let Some(m) = calls.as_object() else {
        return 0;
    };
    m.iter()
        .filter(|(op, _)| op.starts_with("CreateMedia") && op.ends_with("Pipeline"))
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

/// "3334 MediaStreamPipeline, 3333 MediaCapturePipeline, ..." from a map of
/// counts by kind.
fn kinds(v: &Value) -> String {
    let Some(m) = v.as_object() else {
        return "stream pipelines only".into();
    };
    m.iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The README's sizing sentence ("About 60 MiB for 10,000 pipelines"), read
/// from README.md when the benchmark runs: its words, MiB and pipelines.
pub fn readme_sizing() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse_sizing(&text).unwrap_or(Value::Null)
}

fn parse_sizing(text: &str) -> Option<Value> {
    const MID: &str = " MiB for ";
    let line = text.lines().find(|l| l.contains(MID))?;
    let at = line.find(MID)?;
    let number = line[..at].rsplit(' ').next()?;
    let mib: f64 = number.parse().ok()?;
    let rest = &line[at + MID.len()..];
    let count = rest.split(' ').next()?;
    let pipelines: u64 = count.replace(',', "").parse().ok()?;
    let from = line[..at].rfind("About").unwrap_or(at - number.len());
    let to = at + MID.len() + rest.find("pipelines").map_or(count.len(), |i| i + 9);
    Some(serde_json::json!({
        "text": &line[from..to],
        "mib": mib,
        "pipelines": pipelines,
    }))
}

/// Operator 1's peak RSS after the fill (the kinds mixed, with the pools)
/// against the README's sizing, at the README's count of pipelines.
fn readme_target(r: &Value) -> Option<Target> {
    let sizing = &r["readme_sizing"];
    let (text, stated) = (sizing["text"].as_str()?, sizing["mib"].as_f64()?);
    let wanted = sizing["pipelines"].as_u64()?;
    let big = &r["memory_big"];
    let peak = f(&big["peak_rss_mib"]);
    let resources = big["resources"].as_u64().unwrap_or(0);
    let what = format!(
        "within the README's sizing: \"{text}\" (operator 1's peak RSS after the fill, the kinds mixed)"
    );
    let seen = format!(
        "{peak:.1} MiB with {resources} resources ({}) + {} pools: {:+.1} MiB ({:+.0}%) against {stated} MiB",
        kinds(&big["kinds"]),
        big["pools"],
        peak - stated,
        (peak / stated - 1.0) * 100.0
    );
    if resources < wanted {
        // Quick mode: the scaling curve's line, carried to the README's count.
        let fit = &r["scaling"]["peak_rss_fit"];
        let mut small = format!("{peak:.1} MiB with {resources} resources");
        if !fit.is_null() {
            let at = f(&fit["intercept_mib"])
                + f(&fit["mib_per_1000_resources"]) * wanted as f64 / 1000.0;
            let _ = write!(
                small,
                "; the scaling curve's line gives {at:.1} MiB at {wanted} (an extrapolation)"
            );
        }
        return Some(Target::not_measured(what, Some(small)));
    }
    Some(Target::new(what, seen, peak <= stated))
}

/// Peak RSS with 10,000 pipelines and 100 pools: operator 1 after the fill
/// (with the pools), and operator 2 restarted with the pipelines (the pools
/// are gone by then); the larger counts.
fn big_memory_target(r: &Value) -> Target {
    let what = "peak RSS at most 64 MiB with 10,000 pipelines + 100 pools";
    let big = &r["memory_big"];
    let (filled, restarted) = (
        f(&big["peak_rss_mib"]),
        f(&r["restart"]["memory"]["peak_rss_mib"]),
    );
    let peak = filled.max(restarted);
    let resources = big["resources"].as_u64().unwrap_or(0);
    let pools = big["pools"].as_u64().unwrap_or(0);
    let measured = format!(
        "{filled:.1} MiB (operator 1: {resources} pipelines ({}) + {pools} pools); {restarted:.1} MiB (restarted with the {resources} pipelines)",
        kinds(&big["kinds"])
    );
    if resources < 10_000 || pools < 100 {
        return Target::not_measured(what, Some(measured));
    }
    Target::new(what, measured, peak <= 64.0)
}

fn small_memory_target(r: &Value) -> Target {
    let m = &r["memory_100"];
    let peak = f(&m["peak_rss_mib"]);
    Target::new(
        "peak RSS at most 24 MiB with 100 resources",
        format!("{peak:.1} MiB (RSS {:.1} MiB)", f(&m["rss_mib"])),
        peak <= 24.0,
    )
}

fn targets(r: &Value) -> Vec<Target> {
    let mut t = vec![
        floor_target(r, "floor", "floor"),
        floor_target(r, "floor_minimal", "minimal-correct floor"),
        writes_target(r),
        aws_target(r),
    ];
    let bursts = array(&r["bursts"]);
    let mut creates = vec![];
    let mut one_each = true;
    for (name, v) in bursts
        .iter()
        .map(|b| (format!("burst N={}", b["n"]), b))
        .chain([
            ("latency".to_string(), &r["latency"]["cost"]),
            ("fill".to_string(), &r["fill"]),
        ])
    {
        let c = creates_in(&v["aws_calls"]);
        let n = v["resources"].as_u64().unwrap_or(0);
        one_each &= c == n;
        creates.push(format!("{name}: {c} for {n}"));
    }
    t.push(Target::new(
        "exactly one create (CreateMediaStreamPipeline, CreateMediaCapturePipeline or CreateMediaConcatenationPipeline) per resource",
        creates.join("; "),
        one_each,
    ));
    let stopped = f(&r["rest_stopped"]["aws_calls_per_resource_per_hour"]);
    t.push(Target::new(
        "zero AWS calls at rest for Stopped pipelines",
        format!(
            "{} calls in {} s",
            r["rest_stopped"]["aws_calls"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
                .unwrap_or(0),
            trim(f(&r["rest_stopped"]["seconds"]))
        ),
        stopped == 0.0,
    ));
    let restart_creates = creates_in(&r["restart"]["aws_calls"]);
    t.push(Target::new(
        "a restart costs no creates",
        format!(
            "{restart_creates} creates ({})",
            calls(&r["restart"]["aws_calls"])
        ),
        restart_creates == 0,
    ));
    t.push(big_memory_target(r));
    if let Some(t_readme) = readme_target(r) {
        t.push(t_readme);
    }
    if !r["memory_100"].is_null() {
        t.push(small_memory_target(r));
    }
    let p99 = f(&r["latency"]["p99_ms"]);
    t.push(Target::new(
        "apply-to-Ready p99 under 250 ms",
        format!("{p99:.1} ms"),
        p99 < 250.0,
    ));
    t
}

pub fn markdown(r: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# chime-pipeline-operator benchmark ({} mode)\n",
        r["mode"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "kube-apiserver {} + etcd on loopback, {} CPUs shared by everything; emulator with no Initializing delay.  ",
        r["machine"]["kube_apiserver"].as_str().unwrap_or("?"),
        r["machine"]["cpus"]
    );
    // The flags but the per-run addresses.
    let flags = |v: &Value| {
        let args: Vec<&str> = v
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut shown = vec![];
        let mut skip = false;
        for a in args {
            if std::mem::take(&mut skip) {
                continue;
            }
            if a == "--endpoint-url" || a == "--http-addr" {
                skip = true;
                continue;
            }
            shown.push(a);
        }
        shown.join(" ")
    };
    let _ = writeln!(
        s,
        "Operator: `{}` (plus --endpoint-url and --http-addr); at rest: `{}`.  ",
        flags(&r["operator_flags"]),
        flags(&r["rest_operator_flags"])
    );
    let _ = writeln!(
        s,
        "Resources created (POST) {} at a time; the floor and the operator both handle {} at a time.\n",
        r["apply_concurrency"], r["reconcile_concurrency"]
    );
    let _ = writeln!(s, "| figure | value |\n|---|---|");
    let mut row = |k: String, v: String| {
        let _ = writeln!(s, "| {k} | {v} |");
    };
    let floors = array(&r["floor"]);
    let minimal = array(&r["floor_minimal"]);
    let mut bursts = array(&r["bursts"]);
    bursts.sort_by_key(|b| b["n"].as_u64());
    for b in &bursts {
        let n = b["n"].as_u64().unwrap_or(0);
        let fl = at_n(&floors, n);
        let floor_s = fl.map(|x| f(&x["burst_seconds"])).unwrap_or(f64::NAN);
        row(
            format!("burst N={n}: all Ready"),
            format!(
                "{:.2} s ({:.0}/s); floor {:.2} s ({:.0}/s); ratio {:.2}x",
                f(&b["burst_seconds"]),
                f(&b["resources_per_second"]),
                floor_s,
                n as f64 / floor_s,
                f(&b["burst_seconds"]) / floor_s
            ),
        );
        if let Some(m) = at_n(&minimal, n) {
            let ms = f(&m["burst_seconds"]);
            row(
                format!("burst N={n}: minimal-correct floor"),
                format!(
                    "{ms:.2} s ({:.0}/s); operator ratio {:.2}x; {} resource updates per resource; AWS calls per resource: {}; etcd + kube-apiserver {} CPU s",
                    n as f64 / ms,
                    f(&b["burst_seconds"]) / ms,
                    trim(f(&m["kubernetes_updates_per_resource"])),
                    calls(&m["aws_calls_per_resource"]),
                    trim(f(&m["control_plane_cpu_seconds"]))
                ),
            );
        }
        row(
            format!("burst N={n}: AWS calls per resource"),
            format!(
                "{} (floor: {})",
                calls(&b["aws_calls_per_resource"]),
                fl.map(|x| calls(&x["aws_calls_per_resource"]))
                    .unwrap_or_default()
            ),
        );
        row(
            format!("burst N={n}: Kubernetes writes per resource"),
            format!(
                "{} resource updates + {} Events (floor: {} update)",
                trim(f(&b["kubernetes_updates_per_resource"])),
                trim(f(&b["events_per_resource"])),
                // Older runs did not count the floor's: it writes once.
                fl.and_then(|x| x["kubernetes_updates_per_resource"].as_f64())
                    .map_or("1".into(), trim)
            ),
        );
        row(
            format!("burst N={n}: reconciles, CPU"),
            format!(
                "{} reconciles per resource; operator {} CPU s per 1,000 reconciles ({} CPU s); etcd + kube-apiserver {} CPU s (floor: {})",
                trim(f(&b["reconciles_per_resource"])),
                trim(f(&b["cpu_seconds_per_1000_reconciles"])),
                trim(f(&b["cpu_seconds"])),
                trim(f(&b["control_plane_cpu_seconds"])),
                fl.map(|x| trim(f(&x["control_plane_cpu_seconds"])))
                    .unwrap_or_default()
            ),
        );
    }
    let l = &r["latency"];
    row(
        format!("apply-to-Ready, {} single resources", l["samples"]),
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            f(&l["p50_ms"]),
            f(&l["p90_ms"]),
            f(&l["p99_ms"]),
            f(&l["max_ms"])
        ),
    );
    row(
        "latency runs: AWS calls per resource".into(),
        calls(&l["cost"]["aws_calls_per_resource"]),
    );
    let fill = &r["fill"];
    row(
        format!(
            "fill: {} more resources ({})",
            fill["created"],
            kinds(&fill["kinds"])
        ),
        format!(
            "created in {:.1} s, all Ready in {:.1} s; {}; {} CPU s per 1,000 reconciles",
            f(&fill["create_seconds"]),
            f(&fill["ready_seconds"]),
            calls(&fill["aws_calls_per_resource"]),
            trim(f(&fill["cpu_seconds_per_1000_reconciles"]))
        ),
    );
    for (key, label) in [
        ("rest_in_progress", "at rest, InProgress"),
        ("rest_stopped", "at rest, Stopped"),
    ] {
        let v = &r[key];
        row(
            format!("{label}: AWS calls per resource per hour"),
            format!(
                "{} at --refresh-interval {}s ({} expected; {} scaled to the default 5m); measured over {:.0} s with {} resources: {}",
                trim(f(&v["aws_calls_per_resource_per_hour"])),
                v["refresh_interval_seconds"],
                trim(f(&v["expected_per_resource_per_hour"])),
                trim(f(&v["aws_calls_per_resource_per_hour_at_default_5m"])),
                f(&v["seconds"]),
                v["resources"],
                calls(&v["aws_calls"]),
            ),
        );
        row(
            format!("{label}: Kubernetes writes, CPU"),
            format!(
                "{} updates per resource in the window; {} reconciles; {} CPU s",
                trim(f(&v["kubernetes_updates_per_resource"])),
                trim(f(&v["reconciles"])),
                trim(f(&v["cpu_seconds"]))
            ),
        );
    }
    for key in ["memory_100", "memory_1000", "memory_big"] {
        let m = &r[key];
        if m.is_null() {
            continue;
        }
        let mut pools = match m["pools"].as_u64() {
            Some(p) => format!(" + {p} pools"),
            None => String::new(),
        };
        if !m["kinds"].is_null() {
            pools = format!(" ({}){pools}", kinds(&m["kinds"]));
        }
        row(
            format!(
                "memory with {} resources{pools} ({})",
                m["resources"],
                m["when"].as_str().unwrap_or("")
            ),
            format!(
                "peak RSS {:.1} MiB, RSS {:.1} MiB",
                f(&m["peak_rss_mib"]),
                f(&m["rss_mib"])
            ),
        );
    }
    let rs = &r["restart"];
    row(
        format!("start-up with {} resources", rs["resources"]),
        format!(
            "/readyz 200 after {:.2} s; peak RSS {:.1} MiB",
            f(&rs["readyz_seconds"]),
            f(&rs["memory"]["peak_rss_mib"])
        ),
    );
    row(
        format!(
            "restart: AWS calls in the first {} s",
            trim(f(&rs["window_seconds"]))
        ),
        format!(
            "{} (steady state at the 5m refresh: {} Gets in as long); {} per resource; {} Kubernetes updates; {} reconciles, {} CPU s",
            calls(&rs["aws_calls"]),
            trim(f(&rs["steady_state_gets_in_window"])),
            calls(&rs["aws_calls_per_resource"]),
            rs["kubernetes_updates"],
            trim(f(&rs["reconciles"])),
            trim(f(&rs["cpu_seconds"]))
        ),
    );
    let p = &r["pipelines_in_aws"];
    if !p.is_null() {
        row(
            "pipelines in the emulator".into(),
            format!(
                "{} pipelines, {} distinct ClientRequestTokens, for {} floors' + {} operator resources (before the scaling and namespace phases)",
                p["pipelines"], p["distinct_tokens"], p["floor_resources"], p["operator_resources"]
            ),
        );
    }
    row(
        "benchmark run time".into(),
        format!("{:.0} s", f(&r["total_seconds"])),
    );
    scaling_table(&mut s, &r["scaling"]);
    namespaces_table(&mut s, &r["namespaces"]);
    let targets = targets(r);
    let _ = writeln!(s, "\n| target | measured | met |\n|---|---|---|");
    for t in &targets {
        let _ = writeln!(s, "| {} | {} | {} |", t.what, t.measured, t.met_cell());
    }
    let _ = writeln!(s, "\n{}", verdict(&targets));
    s
}

/// The closing sentence: how many targets are met, and which are not.
fn verdict(targets: &[Target]) -> String {
    let names = |want: Option<bool>| {
        targets
            .iter()
            .filter(|t| t.met == want)
            .map(|t| t.what.as_str())
            .collect::<Vec<_>>()
    };
    let (met, missed, skipped) = (names(Some(true)), names(Some(false)), names(None));
    let mut v = format!(
        "**Targets met: {} of {} measured.**",
        met.len(),
        met.len() + missed.len()
    );
    if !missed.is_empty() {
        let _ = write!(v, " Not met: {}.", missed.join("; "));
    }
    if !skipped.is_empty() {
        let _ = write!(v, " Not measured in this mode: {}.", skipped.join("; "));
    }
    v
}

/// The scaling curve: one operator growing through the points.
fn scaling_table(s: &mut String, sc: &Value) {
    let points = array(&sc["points"]);
    if points.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nScaling: one operator (`--namespace {}`) while its namespace grows ({}); each row once all are Ready, CPU for the stretch since the row before.\n",
        sc["namespace"].as_str().unwrap_or("?"),
        points
            .last()
            .map_or("stream pipelines only".into(), |p| format!(
                "at the last row: {}",
                kinds(&p["kinds"])
            ))
    );
    let _ = writeln!(
        s,
        "| resources | RSS MiB | peak RSS MiB | CPU s per 1,000 reconciles | CPU s per 1,000 resources | reconciles per resource | stretch Ready in |\n|---|---|---|---|---|---|---|"
    );
    for p in &points {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {} | {} | {} | {:.1} s |",
            p["resources"],
            f(&p["rss_mib"]),
            f(&p["peak_rss_mib"]),
            trim(f(&p["cpu_seconds_per_1000_reconciles"])),
            trim(f(&p["cpu_seconds_per_1000_resources"])),
            trim(f(&p["reconciles_per_resource"])),
            f(&p["ready_seconds"])
        );
    }
    for (key, label) in [("rss_fit", "RSS"), ("peak_rss_fit", "peak RSS")] {
        let fit = &sc[key];
        if fit.is_null() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{label}, least-squares line: {:.2} MiB per 1,000 resources + {:.1} MiB (r² {:.4}).",
            f(&fit["mib_per_1000_resources"]),
            f(&fit["intercept_mib"]),
            f(&fit["r_squared"])
        );
    }
}

/// The same resources spread over 1, 10 and 50 namespaces.
fn namespaces_table(s: &mut String, ns: &Value) {
    let cases = array(&ns["cases"]);
    if cases.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\nNamespaces: {} resources spread evenly over fresh namespaces, a fresh operator with `--namespace` naming them all; watches are the kube-apiserver's open WATCH requests on the operator's API group beyond the benchmark's own; start-up is a restart of the operator with all of them Ready.\n",
        ns["resources"]
    );
    let _ = writeln!(
        s,
        "| namespaces | peak RSS MiB | RSS MiB | watches | all Ready in | restart: /readyz | restart: RSS MiB |\n|---|---|---|---|---|---|---|"
    );
    for c in &cases {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {:.1} | {} | {:.1} s | {:.2} s | {:.1} |",
            c["namespaces"],
            f(&c["peak_rss_mib"]),
            f(&c["rss_mib"]),
            trim(f(&c["watches"])),
            f(&c["ready_seconds"]),
            f(&c["restart"]["readyz_seconds"]),
            f(&c["restart"]["rss_mib"])
        );
    }
}

/// The latency histogram (left) and burst time against N (right).
pub fn svg(path: &Path, r: &Value) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);

    let mut samples: Vec<f64> = r["latency"]["samples_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    samples.sort_by(f64::total_cmp);
    let max = samples.last().copied().unwrap_or(1.0).max(1.0);
    let min = samples.first().copied().unwrap_or(0.0).min(max);
    // About 40 bins from just below the fastest sample to the slowest.
    let width = ((max - min) / 40.0).ceil().max(1.0);
    let lo = ((min / width).floor() - 2.0).max(0.0) * width;
    let bins = ((max - lo) / width).ceil() as usize + 1;
    let mut counts = vec![0u32; bins];
    for s in &samples {
        counts[(((s - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let top = f64::from(counts.iter().copied().max().unwrap_or(1)) * 1.15;
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("apply-to-Ready latency, {} single resources", samples.len()),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..lo + width * bins as f64, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds")
        .y_desc("resources")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let x = lo + i as f64 * width;
        Rectangle::new(
            [(x, 0.0), (x + width * 0.9, f64::from(c))],
            BLUE.mix(0.6).filled(),
        )
    }))?;
    for (p, color) in [(50.0, GREEN), (99.0, RED)] {
        let x = crate::percentile(&samples, p);
        chart
            .draw_series(LineSeries::new([(x, 0.0), (x, top)], color.stroke_width(2)))?
            .label(format!("p{p} {x:.0} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let points = |key: &str| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = r[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| (f(&b["n"]), f(&b["burst_seconds"])))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    let (op, floor, minimal) = (points("bursts"), points("floor"), points("floor_minimal"));
    let xmax = op.iter().map(|p| p.0).fold(100.0, f64::max) * 1.1;
    let ymax = op
        .iter()
        .chain(&floor)
        .chain(&minimal)
        .map(|p| p.1)
        .fold(0.1, f64::max)
        * 1.2;
    let mut chart = ChartBuilder::on(&right)
        .caption(
            "burst: N created at once, until all Ready",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("N resources")
        .y_desc("seconds")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    for (pts, color, label) in [
        (op, RED, "operator"),
        (floor, BLUE, "floor"),
        (minimal, GREEN, "minimal-correct floor"),
    ] {
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The scaling curve: RSS and peak RSS against resources with the fitted
/// line (left), CPU per 1,000 reconciles against resources (right).
pub fn scaling_svg(path: &Path, r: &Value) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let sc = &r["scaling"];
    let series = |key: &str| -> Vec<(f64, f64)> {
        array(&sc["points"])
            .iter()
            .map(|p| (f(&p["resources"]), f(&p[key])))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let (rss, peak) = (series("rss_mib"), series("peak_rss_mib"));
    let xmax = rss.iter().map(|p| p.0).fold(1000.0, f64::max) * 1.1;
    let ymax = rss.iter().chain(&peak).map(|p| p.1).fold(1.0, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&left)
        .caption("memory against resources", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("resources")
        .y_desc("MiB")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    let fit = &sc["rss_fit"];
    if !fit.is_null() {
        let (slope, b) = (f(&fit["mib_per_1000_resources"]), f(&fit["intercept_mib"]));
        let line = [(0.0, b), (xmax, b + slope * xmax / 1000.0)];
        chart
            .draw_series(LineSeries::new(line, BLACK.mix(0.5).stroke_width(1)))?
            .label(format!("RSS fit: {slope:.2} MiB per 1,000"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
    }
    for (pts, color, label) in [(rss, BLUE, "RSS"), (peak, RED, "peak RSS")] {
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;

    let cpu = series("cpu_seconds_per_1000_reconciles");
    let ymax = cpu.iter().map(|p| p.1).fold(0.1, f64::max) * 1.3;
    let mut chart = ChartBuilder::on(&right)
        .caption(
            "operator CPU per 1,000 reconciles, by stretch",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc("resources at the stretch's end")
        .y_desc("CPU seconds")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    chart.draw_series(LineSeries::new(cpu.iter().copied(), GREEN.stroke_width(2)))?;
    chart.draw_series(cpu.iter().map(|&p| Circle::new(p, 4, GREEN.filled())))?;
    root.present()?;
    Ok(())
}

pub fn write(out: &Path, r: &Value) -> anyhow::Result<()> {
    std::fs::write(out.join("bench.json"), serde_json::to_string_pretty(r)?)?;
    let md = markdown(r);
    std::fs::write(out.join("bench.md"), &md)?;
    println!("{md}");
    svg(&out.join("bench.svg"), r)?;
    scaling_svg(&out.join("bench-scaling.svg"), r)?;
    let targets = targets(r);
    eprintln!(
        "bench: {} of {} measured targets met; wrote {}/bench.json, bench.md, bench.svg, bench-scaling.svg",
        targets.iter().filter(|t| t.met == Some(true)).count(),
        targets.iter().filter(|t| t.met.is_some()).count(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_sizing_is_read_from_its_sentence() {
        let line = "- **Frugal.** About 60 MiB for 10,000 pipelines, no AWS call at rest";
        let v = parse_sizing(line).expect("a sizing");
        assert_eq!(v["text"], "About 60 MiB for 10,000 pipelines");
        assert_eq!(v["mib"], 60.0);
        assert_eq!(v["pipelines"], 10_000);
        assert!(parse_sizing("no sizing here").is_none());
    }

    #[test]
    fn creates_of_every_kind_count() {
        let calls = serde_json::json!({
            "CreateMediaStreamPipeline": 2,
            "CreateMediaCapturePipeline": 3,
            "CreateMediaConcatenationPipeline": 4,
            "CreateMediaPipelineKinesisVideoStreamPool": 1,
            "GetMediaPipeline": 9,
        });
        assert_eq!(creates_in(&calls), 9);
    }
}
