//! Running it for real: the shipped RBAC, two replicas with leader
//! election, the HTTP endpoints, the AWS rate limit. (The deploy/ manifests
//! themselves: tests/install.rs.)

mod common;
mod shipped;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::bail;
use chime_pipeline_operator::aws::RateLimit;
use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use shipped::{install_shipped_cluster_role, install_shipped_lease_role};
use testworld::emulator::{Fault, FaultKind, Trigger};

/// The ClusterRole of deploy/ is all the operator needs, and no more: it
/// carries a resource through create, refresh and delete, and may not read
/// Secrets.
#[tokio::test]
async fn the_shipped_cluster_role_is_enough() -> anyhow::Result<()> {
    let mut h = Harness::without_operator("rbac").await?;
    let role_name = install_shipped_cluster_role(&h.env).await?;
    let client = h.env.client_bound_to_cluster_role(&role_name).await?;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &h.env.namespace);
    match secrets.list(&Default::default()).await {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => bail!("reading Secrets was not refused: {other:?}"),
    }

    h.run_operator(client, test_config(&h.env.namespace)).await;
    let o = h.create("p", spec_json("m-rbac", json!({}))).await?;
    h.wait_ready("p").await?;
    // Refresh: the pipeline is read again on its own (every 1 s here).
    let gets = h.emulator.call_count("GetMediaPipeline");
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.emulator.call_count("GetMediaPipeline") < gets + 2 {
        assert!(Instant::now() < deadline, "no refresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.delete("p").await?;
    h.wait_gone("p").await?;
    assert!(h.emulator.pipelines()[0].deleted);
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

#[tokio::test]
async fn metrics_move_and_readyz_turns_ready() -> anyhow::Result<()> {
    let h = Harness::without_operator("metrics").await?;
    let op = Operator::spawn(&h.env.kubeconfig, &h.emulator, &h.env.namespace, &[])?;
    op.wait_http("/healthz", 200).await?;
    op.wait_http("/readyz", 200).await?;
    let creates = "chime_operator_aws_calls_total";
    assert_eq!(op.metric(creates, "CreateMediaStreamPipeline").await, 0.0);
    let o = h.create("p", spec_json("m-metrics", json!({}))).await?;
    h.wait_ready("p").await?;
    assert_eq!(
        op.metric(
            creates,
            r#"operation="CreateMediaStreamPipeline",outcome="Success""#
        )
        .await,
        1.0
    );
    assert!(
        op.metric("chime_operator_reconciles_total", r#"outcome="success""#)
            .await
            >= 1.0
    );
    assert_eq!(
        op.metric(
            "chime_operator_managed_resources",
            r#"kind="MediaStreamPipeline",status="InProgress""#
        )
        .await,
        1.0
    );
    assert!(
        op.metric(
            "chime_operator_aws_call_duration_seconds_count",
            "CreateMediaStreamPipeline"
        )
        .await
            >= 1.0
    );
    assert_eq!(op.metric("chime_operator_leader", "").await, 1.0);
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// Even at trace level, no credential, token or request signature reaches
/// the log.
#[tokio::test]
async fn no_secret_in_the_log_even_at_trace_level() -> anyhow::Result<()> {
    let h = Harness::without_operator("logs").await?;
    let role_name = install_shipped_cluster_role(&h.env).await?;
    let token = h.env.token_for_cluster_role(&role_name).await?;
    let kc = h.env.kubeconfig_with_token(&token)?;
    let log_path = h.env.files.path().join("operator.log");
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY";
    let session = "FwoGZXIvYXdzSESSIONTOKENmustneverappear";
    let op = Operator::spawn_with(
        &kc,
        &h.emulator.endpoint_url(),
        &h.env.namespace,
        &["--log-json"],
        &[
            ("RUST_LOG", "trace"),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_SESSION_TOKEN", session),
        ],
        Stdio::from(std::fs::File::create(&log_path)?),
    )?;
    op.wait_http("/readyz", 200).await?;
    let o = h
        .create(
            "p",
            spec_json("m-logs", json!({"tags": [{"key": "a", "value": "b"}]})),
        )
        .await?;
    h.wait_ready("p").await?;
    h.delete("p").await?;
    h.wait_gone("p").await?;
    drop(op);
    let log = std::fs::read_to_string(&log_path)?;
    assert!(
        log.lines().count() > 100,
        "trace logging produced little: {} lines",
        log.lines().count()
    );
    for (what, needle) in [
        ("AWS secret key", secret),
        ("AWS session token", session),
        ("Kubernetes token", token.as_str()),
        ("request signature", "Signature="),
    ] {
        // Name the logging targets, not the lines: those would show the secret.
        let targets: std::collections::BTreeSet<String> = log
            .lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["target"].as_str().unwrap_or("?").to_string())
            .collect();
        assert!(
            targets.is_empty(),
            "the log carries the {what}, from {targets:?}"
        );
    }
    eprintln!(
        "logs: {} trace lines, no secret among them",
        log.lines().count()
    );
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// Two replicas with the shipped RBAC: one reconciles; when it is killed
/// the other takes over; nothing is created twice.
#[tokio::test]
async fn two_replicas_one_leader_and_a_handover() -> anyhow::Result<()> {
    let h = Harness::without_operator("leader").await?;
    let role_name = install_shipped_cluster_role(&h.env).await?;
    // The Lease rights are a Role of the operator's namespace: the test's.
    install_shipped_lease_role(&h.env).await?;
    let kc: PathBuf = h.env.kubeconfig_bound_to_cluster_role(&role_name).await?;
    let lease = [
        "--leader-election",
        "--lease-namespace",
        &h.env.namespace,
        "--lease-duration",
        "4s",
    ];
    let mut ops = vec![
        Operator::spawn(&kc, &h.emulator, &h.env.namespace, &lease)?,
        Operator::spawn(&kc, &h.emulator, &h.env.namespace, &lease)?,
    ];
    for op in &ops {
        op.wait_http("/readyz", 200).await?;
    }
    let mut uids = vec![];
    for i in 0..3 {
        uids.push(uid(&h
            .create(&format!("p{i}"), spec_json(&format!("m-l{i}"), json!({})))
            .await?)?);
    }
    for i in 0..3 {
        h.wait_ready(&format!("p{i}")).await?;
    }
    let (leader, standby) = leader_of(&ops).await?;
    assert_eq!(
        ops[standby]
            .metric("chime_operator_reconciles_total", "")
            .await,
        0.0
    );
    assert!(
        ops[leader]
            .metric("chime_operator_reconciles_total", "")
            .await
            >= 3.0
    );

    let killed = Instant::now();
    ops[leader].child.start_kill()?;
    ops[leader].child.wait().await?;
    ops[standby]
        .wait_metric("chime_operator_leader", "the standby's takeover", |l| {
            l == 1.0
        })
        .await?;
    let handover = killed.elapsed();
    uids.push(uid(&h
        .create("after", spec_json("m-after", json!({})))
        .await?)?);
    h.wait_ready("after").await?;
    eprintln!(
        "leader election: handover {:.1} s after SIGKILL (lease 4 s)",
        handover.as_secs_f64()
    );
    // Generous: the figure is printed; the bound only catches a hang.
    assert!(
        handover < Duration::from_secs(20),
        "handover took {handover:?}"
    );
    h.assert_one_pipeline_per_uid(&uids);
    drop(ops.pop());
    Ok(())
}

/// With a limit of N requests per second, no second ever sees more than the
/// bucket allows (N, plus the burst once), and every resource gets Ready.
#[tokio::test]
async fn the_aws_rate_limit_holds_under_a_burst() -> anyhow::Result<()> {
    const RATE: u32 = 20;
    const BURST: u32 = 5;
    const N: usize = 200;
    let mut h = Harness::without_operator("ratelimit").await?;
    h.emulator.set_region_limit(REGION, 1000);
    let limit = RateLimit {
        per_second: RATE.try_into()?,
        burst: BURST.try_into()?,
    };
    let mut config = test_config(&h.env.namespace);
    config.settings.refresh_interval = Duration::from_secs(600);
    let aws = test_aws(&h.emulator.endpoint_url(), Some(limit)).await;
    h.run_operator_with(h.env.client.clone(), aws, config).await;
    let start = Instant::now();
    let mut uids = vec![];
    for i in 0..N {
        uids.push(uid(&h
            .create(&format!("r{i}"), spec_json(&format!("m-r{i}"), json!({})))
            .await?)?);
    }
    for i in 0..N {
        h.wait_ready(&format!("r{i}")).await?;
    }
    let took = start.elapsed();
    let at: Vec<u64> = h.emulator.calls().iter().map(|c| c.at_ms).collect();
    let max_in_a_second = (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| **t < at[i] + 1000).count())
        .max()
        .unwrap_or(0);
    eprintln!(
        "rate limit {RATE}/s burst {BURST}: {} calls for {N} resources in {:.1} s, at most {max_in_a_second} in any second",
        at.len(),
        took.as_secs_f64()
    );
    // The bucket bounds when calls leave: at most BURST + RATE in any
    // second. The emulator sees when they arrive, which on a loaded machine
    // can bunch up sends from a slightly longer span: a quarter second of
    // delivery jitter is allowed for (5 calls at this rate), no more.
    let bound = BURST as usize + RATE as usize * 5 / 4;
    assert!(
        max_in_a_second <= bound,
        "{max_in_a_second} calls in one second (bound {bound})"
    );
    h.assert_one_pipeline_per_uid(&uids);
    Ok(())
}

/// A flag out of range is refused at start-up, before anything is done:
/// exit code 2 and a message that names the flag and its allowed range.
/// (`--poll-min` above 15 s used to start, then panic after each create,
/// before its status write: a crash loop.)
#[tokio::test]
async fn out_of_range_flags_are_refused_at_start_up() -> anyhow::Result<()> {
    let h = Harness::without_operator("flags").await?;
    let cases: [(&[&str], &str, &str); 8] = [
        (&["--poll-min", "20s"], "--poll-min", "15s"),
        (&["--poll-min", "0s"], "--poll-min", "1ms"),
        (
            &["--max-concurrent-reconciles", "0"],
            "--max-concurrent-reconciles",
            "at least 1",
        ),
        (&["--aws-burst", "0"], "--aws-burst", "at least 1"),
        (&["--sweep-interval", "0s"], "--sweep-interval", "1s"),
        (&["--lease-duration", "1s"], "--lease-duration", "3s"),
        (&["--cluster-id", ""], "--cluster-id", "256"),
        (&["--namespace", "a,"], "--namespace", "63"),
    ];
    for (flags, flag, range) in cases {
        let (code, stderr) =
            Operator::run_to_exit(&h.env.kubeconfig, &h.emulator, &h.env.namespace, flags).await?;
        assert_eq!(code, Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(range),
            "{flags:?}: the message names neither {flag} nor {range}: {stderr}"
        );
        eprintln!("refused {flags:?}: {}", stderr.lines().next().unwrap_or(""));
    }
    assert_eq!(h.emulator.calls().len(), 0, "a refused operator called AWS");
    Ok(())
}

/// The same namespace named twice is watched once: the operator gets ready
/// and reconciles. (It used to wait for a second list of that namespace,
/// and was never ready.)
#[tokio::test]
async fn a_namespace_named_twice_is_watched_once() -> anyhow::Result<()> {
    let h = Harness::without_operator("twice").await?;
    let ns = &h.env.namespace;
    let twice = format!("{ns},{ns}");
    let op = Operator::spawn(&h.env.kubeconfig, &h.emulator, ns, &["--namespace", &twice])?;
    op.wait_http("/readyz", 200).await?;
    let o = h.create("p", spec_json("m-twice", json!({}))).await?;
    h.wait_ready("p").await?;
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// A replica that loses the lease while alive (here: the test hands it to
/// the standby) stops exporting per-resource gauges, so that a sum over the
/// replicas counts each resource once; the new leader exports them.
#[tokio::test]
async fn a_replica_that_loses_the_lease_exports_no_resource_gauges() -> anyhow::Result<()> {
    const GAUGE: &str = "chime_operator_managed_resources";
    let h = Harness::without_operator("lost").await?;
    let ns = &h.env.namespace;
    let lease = [
        "--leader-election",
        "--lease-namespace",
        ns,
        "--lease-duration",
        "4s",
    ];
    let names = ["replica-0", "replica-1"];
    let mut ops = vec![];
    for name in names {
        let env = [("POD_NAME", name)];
        let endpoint = h.emulator.endpoint_url();
        let (kc, log) = (&h.env.kubeconfig, Stdio::inherit());
        ops.push(Operator::spawn_with(kc, &endpoint, ns, &lease, &env, log)?);
    }
    for op in &ops {
        op.wait_http("/readyz", 200).await?;
    }
    for i in 0..3 {
        h.create(
            &format!("p{i}"),
            spec_json(&format!("m-lost{i}"), json!({})),
        )
        .await?;
    }
    for i in 0..3 {
        h.wait_ready(&format!("p{i}")).await?;
    }
    let leader = wait_leader(&ops).await?;
    let standby = 1 - leader;
    wait_metric(&ops[leader], GAUGE, 3.0).await?;

    let leases: Api<Lease> = h.env.api();
    let now = serde_json::to_value(MicroTime(jiff::Timestamp::now()))?;
    let handover = json!({"spec": {"holderIdentity": names[standby], "renewTime": now}});
    leases
        .patch(
            "chime-pipeline-operator",
            &PatchParams::default(),
            &Patch::Merge(handover),
        )
        .await?;
    wait_metric(&ops[leader], "chime_operator_leader", 0.0).await?;
    let kept = ops[leader].series(GAUGE).await?;
    assert!(kept.is_empty(), "the former leader still exports {kept:?}");
    wait_metric(&ops[standby], "chime_operator_leader", 1.0).await?;
    wait_metric(&ops[standby], GAUGE, 3.0).await?;
    let kept = ops[leader].series(GAUGE).await?;
    assert!(kept.is_empty(), "the former leader exports {kept:?} again");
    Ok(())
}

/// The index of the replica that leads, once one does.
async fn wait_leader(ops: &[Operator]) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (i, op) in ops.iter().enumerate() {
            if op.metric("chime_operator_leader", "").await == 1.0 {
                return Ok(i);
            }
        }
        if Instant::now() > deadline {
            bail!("no leader");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the metric `name`, summed over its label sets, is `value`.
async fn wait_metric(op: &Operator, name: &str, value: f64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while op.metric(name, "").await != value {
        if Instant::now() > deadline {
            bail!("{name} never {value}: {:?}", op.series(name).await?);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A resource whose deletion hangs (its pipeline's delete is refused) and
/// whose finalizer a person then removes is gone without the operator's
/// cleanup: what the operator kept about it goes too, and with it its
/// per-resource series.
#[tokio::test]
async fn a_resource_gone_without_cleanup_leaves_no_series() -> anyhow::Result<()> {
    const GAUGE: &str = "chime_operator_managed_resources";
    let h = Harness::start("unfinalized").await?;
    h.create("p", spec_json("m-unfinalized", json!({}))).await?;
    h.wait_ready("p").await?;
    let counted = || metric_value(&h.metrics, GAUGE, "");
    assert!(eventually(Duration::from_secs(30), || counted() == 1.0).await);
    h.emulator
        .inject(Fault::new(FaultKind::Forbidden, Trigger::Next(1000)).on("DeleteMediaPipeline"));
    h.delete("p").await?;
    let tried = || h.emulator.call_count("DeleteMediaPipeline") >= 1;
    assert!(
        eventually(Duration::from_secs(60), tried).await,
        "no cleanup tried"
    );
    let unfinalize = json!({"metadata": {"finalizers": null}});
    h.api()
        .patch("p", &PatchParams::default(), &Patch::Merge(unfinalize))
        .await?;
    h.wait_gone("p").await?;
    assert!(
        eventually(Duration::from_secs(30), || counted() == 0.0).await,
        "a resource that is gone is still counted: {}",
        counted()
    );
    Ok(())
}
