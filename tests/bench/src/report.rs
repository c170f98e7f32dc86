//! The benchmark's output: bench.json (every figure), bench.md (a table,
//! also printed, with the targets and whether each is met) and bench.svg
//! (the latency distribution, and burst time against N).

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
    met: bool,
}

fn targets(r: &Value) -> Vec<Target> {
    let mut t = vec![];
    let bursts = r["bursts"].as_array().cloned().unwrap_or_default();
    let floors = r["floor"].as_array().cloned().unwrap_or_default();
    // N=1000 if measured, else the largest N (quick mode).
    if let Some(b) = bursts.iter().max_by_key(|b| b["n"].as_u64().unwrap_or(0)) {
        let n = b["n"].as_u64().unwrap_or(0);
        if let Some(fl) = floors.iter().find(|x| x["n"].as_u64() == Some(n)) {
            let ratio = f(&b["burst_seconds"]) / f(&fl["burst_seconds"]);
            t.push(Target {
                what: format!("burst time at N={n} at most 1.3x the floor"),
                measured: format!(
                    "{ratio:.2}x ({:.2} s vs {:.2} s)",
                    f(&b["burst_seconds"]),
                    f(&fl["burst_seconds"])
                ),
                met: ratio <= 1.3,
            });
        }
    }
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
        let c = v["aws_calls"]["CreateMediaStreamPipeline"]
            .as_u64()
            .unwrap_or(0);
        let n = v["resources"].as_u64().unwrap_or(0);
        one_each &= c == n;
        creates.push(format!("{name}: {c} for {n}"));
    }
    t.push(Target {
        what: "exactly one CreateMediaStreamPipeline per resource".into(),
        measured: creates.join("; "),
        met: one_each,
    });
    let stopped = f(&r["rest_stopped"]["aws_calls_per_resource_per_hour"]);
    t.push(Target {
        what: "zero AWS calls at rest for Stopped pipelines".into(),
        measured: format!(
            "{} calls in {} s",
            r["rest_stopped"]["aws_calls"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
                .unwrap_or(0),
            trim(f(&r["rest_stopped"]["seconds"]))
        ),
        met: stopped == 0.0,
    });
    let restart_creates = r["restart"]["aws_calls"]["CreateMediaStreamPipeline"]
        .as_u64()
        .unwrap_or(0);
    t.push(Target {
        what: "a restart costs no creates".into(),
        measured: format!(
            "{restart_creates} creates ({})",
            calls(&r["restart"]["aws_calls"])
        ),
        met: restart_creates == 0,
    });
    let big = &r["memory_big"];
    let peak = f(&big["peak_rss_mib"]).max(f(&r["restart"]["memory"]["peak_rss_mib"]));
    t.push(Target {
        what: format!(
            "peak RSS at most 64 MiB with {} resources",
            big["resources"]
        ),
        measured: format!("{peak:.1} MiB"),
        met: peak <= 64.0,
    });
    let p99 = f(&r["latency"]["p99_ms"]);
    t.push(Target {
        what: "apply-to-Ready p99 under 250 ms".into(),
        measured: format!("{p99:.1} ms"),
        met: p99 < 250.0,
    });
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
    let floors = r["floor"].as_array().cloned().unwrap_or_default();
    let mut bursts = r["bursts"].as_array().cloned().unwrap_or_default();
    bursts.sort_by_key(|b| b["n"].as_u64());
    for b in &bursts {
        let n = b["n"].as_u64().unwrap_or(0);
        let fl = floors.iter().find(|x| x["n"].as_u64() == Some(n));
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
                "{} resource updates + {} Events (floor: 1 update)",
                trim(f(&b["kubernetes_updates_per_resource"])),
                trim(f(&b["events_per_resource"]))
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
        format!("fill: {} more resources", fill["created"]),
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
    for key in ["memory_1000", "memory_big"] {
        let m = &r[key];
        if m.is_null() {
            continue;
        }
        row(
            format!(
                "memory with {} resources ({})",
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
                "{} pipelines, {} distinct ClientRequestTokens, for {} floor + {} operator resources",
                p["pipelines"], p["distinct_tokens"], p["floor_resources"], p["operator_resources"]
            ),
        );
    }
    row(
        "benchmark run time".into(),
        format!("{:.0} s", f(&r["total_seconds"])),
    );
    let _ = writeln!(s, "\n| target | measured | met |\n|---|---|---|");
    for t in targets(r) {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            t.what,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    s
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
    let (op, floor) = (points("bursts"), points("floor"));
    let xmax = op.iter().map(|p| p.0).fold(100.0, f64::max) * 1.1;
    let ymax = op.iter().chain(&floor).map(|p| p.1).fold(0.1, f64::max) * 1.2;
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
    for (pts, color, label) in [(op, RED, "operator"), (floor, BLUE, "floor")] {
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

pub fn write(out: &Path, r: &Value) -> anyhow::Result<()> {
    std::fs::write(out.join("bench.json"), serde_json::to_string_pretty(r)?)?;
    let md = markdown(r);
    std::fs::write(out.join("bench.md"), &md)?;
    println!("{md}");
    svg(&out.join("bench.svg"), r)?;
    let met = targets(r).iter().filter(|t| t.met).count();
    eprintln!(
        "bench: {met} of {} targets met; wrote {}/bench.json, bench.md, bench.svg",
        targets(r).len(),
        out.display()
    );
    Ok(())
}
