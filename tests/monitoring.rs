//! The monitoring component's alerts hold against the operator as it is:
//! `promtool check rules` passes; a real operator, driven into the
//! situations the alerts are about (the region's limit, an AWS
//! authorization failure), exports every metric and label value the rules
//! name; and `promtool test rules`, fed with that very scrape, fires the
//! alerts those situations call for and no other (and, with a Failed
//! pipeline of one kind added to it, the Failed alert for that kind).

mod common;
mod shipped;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};
use common::*;
use serde_json::{Value, json};
use shipped::REPO;
use testworld::emulator::{Fault, FaultKind, Trigger};

/// The rule groups of deploy/components/monitoring's PrometheusRule, as a
/// Prometheus rules file.
fn rules_file() -> anyhow::Result<Value> {
    let rule: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(format!(
        "{REPO}/deploy/components/monitoring/prometheusrule.yaml"
    ))?)?;
    Ok(json!({ "groups": rule["spec"]["groups"] }))
}

fn promtool(args: &[&str], dir: &std::path::Path) -> anyhow::Result<String> {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running promtool (tests/provision-tools.sh installs it)")?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("promtool {args:?} failed:\n{text}");
    }
    Ok(text)
}

/// The metric names and `label="value"` matchers an expression uses; a
/// regex matcher's alternatives come as one entry.
fn named_in(expr: &str) -> (BTreeSet<String>, BTreeSet<(String, Vec<String>)>) {
    let ident = |c: char| c.is_ascii_lowercase() || c == '_';
    let names = expr
        .match_indices("chime_operator_")
        .map(|(i, _)| expr[i..].chars().take_while(|c| ident(*c)).collect())
        .collect();
    let mut values = BTreeSet::new();
    // label="value" or label=~"a|b": a label name, an operator, a quoted value.
    for (i, _) in expr.match_indices("=\"").chain(expr.match_indices("=~\"")) {
        let label: String = expr[..i].chars().rev().take_while(|c| ident(*c)).collect();
        let start = expr[i..].find('"').map_or(i, |q| i + q + 1);
        let value = expr[start..].split('"').next().unwrap_or_default();
        values.insert((
            label.chars().rev().collect(),
            value.split('|').map(String::from).collect(),
        ));
    }
    (names, values)
}

#[tokio::test]
async fn the_alerts_check_and_fire_on_the_operators_real_metrics() -> anyhow::Result<()> {
    let h = Harness::without_operator("monitoring").await?;
    let dir = h.env.files.path();
    let rules = rules_file()?;
    std::fs::write(dir.join("rules.yaml"), serde_yaml_ng::to_string(&rules)?)?;
    let out = promtool(&["check", "rules", "rules.yaml"], dir)?;
    assert!(out.contains("SUCCESS"), "{out}");

    // A real operator process, driven into what the alerts are about.
    let op = Operator::spawn(&h.env.kubeconfig, &h.emulator, &h.env.namespace, &[])?;
    op.wait_http("/readyz", 200).await?;
    h.emulator.set_region_limit(REGION, 1);
    h.create("first", spec_json("m-mon1", json!({}))).await?;
    h.wait_ready("first").await?;
    h.create("over-the-limit", spec_json("m-mon2", json!({})))
        .await?;
    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(1)).on("GetMediaPipeline"));
    // Until the scrape shows both situations.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let scrape = loop {
        let (_, text) = op.get("/metrics").await?;
        if text.contains(r#"outcome="ResourceLimitExceeded""#)
            && text.contains(r#"outcome="Forbidden""#)
        {
            break text;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the situations never showed:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };

    // Every metric and label value the rules name is in the scrape, but
    // status="Failed": the emulator cannot fail a pipeline; the value is
    // AWS's own status name, which the operator exports as it reads it (a
    // series of it is added for promtool below).
    let samples: Vec<&str> = scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    // Resources are counted under their own kind: the pipeline that
    // streams, in the one family of every kind.
    let streaming =
        r#"chime_operator_managed_resources{kind="MediaStreamPipeline",status="InProgress"} 1"#;
    ensure!(
        samples.contains(&streaming),
        "no `{streaming}` in the scrape:\n{scrape}"
    );
    let mut checked = 0;
    for rule in rules["groups"][0]["rules"].as_array().context("no rules")? {
        let expr = rule["expr"].as_str().context("rule without expr")?;
        let (names, values) = named_in(expr);
        ensure!(
            !names.is_empty(),
            "{} names no operator metric",
            rule["alert"]
        );
        for name in &names {
            ensure!(
                samples
                    .iter()
                    .any(|s| s.starts_with(&format!("{name}{{"))
                        || s.starts_with(&format!("{name} "))),
                "{}: {name} is not exported",
                rule["alert"]
            );
            checked += 1;
        }
        for (label, alternatives) in &values {
            if label == "status" && alternatives == &["Failed"] {
                continue;
            }
            ensure!(
                alternatives
                    .iter()
                    .any(|v| scrape.contains(&format!("{label}=\"{v}\""))),
                "{}: no series with {label} in {alternatives:?}",
                rule["alert"]
            );
        }
    }

    // promtool's unit test, fed with this scrape: counters keep growing at
    // the rate they have, gauges stay. Alerts are checked at 20 minutes.
    let mut series = vec![];
    let mut without_leader = vec![];
    for s in &samples {
        let (metric, value) = s.rsplit_once(' ').context("sample without value")?;
        let v: f64 = value.parse()?;
        let values = if metric.contains("_total")
            || metric.contains("_count")
            || metric.contains("_sum")
            || metric.contains("_bucket")
        {
            format!("0+{v}x30")
        } else {
            format!("{v}x30")
        };
        let entry = json!({"series": metric, "values": values});
        if !metric.starts_with("chime_operator_leader") {
            without_leader.push(entry.clone());
        }
        series.push(entry);
    }
    let alerts = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"eval_time": "20m", "alertname": n, "exp_alerts": []}))
            .collect()
    };
    let fired = |name: &str, labels: Value| {
        json!({"eval_time": "20m", "alertname": name,
        "exp_alerts": [{"exp_labels": labels}]})
    };
    let mut running = alerts(&["ChimePipelineOperatorDown", "ChimeMediaPipelinesFailed"]);
    running.push(fired(
        "ChimeMediaPipelineLimitReached",
        json!({"severity": "warning", "operation": "CreateMediaStreamPipeline"}),
    ));
    running.push(fired(
        "ChimePipelineOperatorAWSAuthorizationFailing",
        json!({"severity": "critical", "operation": "GetMediaPipeline", "outcome": "Forbidden"}),
    ));
    let mut down = alerts(&["ChimeMediaPipelinesFailed"]);
    down.push(fired(
        "ChimePipelineOperatorDown",
        json!({"severity": "critical"}),
    ));
    // A Failed pipeline of one kind fires the alert for that kind.
    let mut failed = series.clone();
    failed.push(json!({
        "series": r#"chime_operator_managed_resources{kind="MediaCapturePipeline",status="Failed"}"#,
        "values": "2x30",
    }));
    let failed_alert = vec![fired(
        "ChimeMediaPipelinesFailed",
        json!({"severity": "warning", "kind": "MediaCapturePipeline"}),
    )];
    // The unit test compares annotations too; they are prose (checked
    // above), so the alerts are tested without them.
    let mut bare = rules.clone();
    for rule in bare["groups"][0]["rules"]
        .as_array_mut()
        .context("no rules")?
    {
        if let Some(rule) = rule.as_object_mut() {
            rule.remove("annotations");
        }
    }
    std::fs::write(
        dir.join("bare-rules.yaml"),
        serde_yaml_ng::to_string(&bare)?,
    )?;
    let tests = json!({
        "rule_files": ["bare-rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": series, "alert_rule_test": running},
            {"interval": "1m", "input_series": without_leader, "alert_rule_test": down},
            {"interval": "1m", "input_series": failed, "alert_rule_test": failed_alert},
        ]
    });
    std::fs::write(dir.join("tests.yaml"), serde_yaml_ng::to_string(&tests)?)?;
    let out = promtool(&["test", "rules", "tests.yaml"], dir)?;
    assert!(out.contains("SUCCESS"), "{out}");

    // The dashboard's queries, each as an alert `count(query) > 0`: it
    // parses, and fires (with no labels but its name) exactly when the
    // query selects at least one series of this scrape.
    let board: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(format!(
        "{REPO}/deploy/components/monitoring/dashboard.yaml"
    ))?)?;
    let board: Value = serde_json::from_str(
        board["data"]["chime-pipeline-operator.json"]
            .as_str()
            .context("no dashboard JSON")?,
    )?;
    let mut queries = vec![];
    for panel in board["panels"].as_array().context("no panels")? {
        for target in panel["targets"]
            .as_array()
            .context("panel without targets")?
        {
            queries.push(target["expr"].as_str().context("target without expr")?);
        }
    }
    ensure!(!queries.is_empty(), "the dashboard has no queries");
    let probes: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| json!({"alert": format!("DashboardQuery{i}"), "expr": format!("count({q}) > 0")}))
        .collect();
    std::fs::write(
        dir.join("dashboard-rules.yaml"),
        serde_yaml_ng::to_string(&json!({"groups": [{"name": "dashboard", "rules": probes}]}))?,
    )?;
    let fires: Vec<Value> = (0..queries.len())
        .map(|i| fired(&format!("DashboardQuery{i}"), json!({})))
        .collect();
    let tests = json!({
        "rule_files": ["dashboard-rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": fires}]
    });
    std::fs::write(
        dir.join("dashboard-tests.yaml"),
        serde_yaml_ng::to_string(&tests)?,
    )?;
    let out = promtool(&["test", "rules", "dashboard-tests.yaml"], dir)
        .with_context(|| format!("a dashboard query selects nothing: {queries:#?}"))?;
    assert!(out.contains("SUCCESS"), "{out}");
    eprintln!(
        "monitoring: promtool check and test pass; {checked} metric references, {} dashboard \
         queries, {} series from a real scrape",
        queries.len(),
        samples.len()
    );
    Ok(())
}
