//! Status in seconds (issue 23), on the real control plane and the
//! emulator, whose SQS-compatible queue receives the events EventBridge
//! would deliver: an event wakes exactly the resources it names, polling
//! stays the safety net when events are lost, duplicated or reordered, and
//! a queue that fails stops nothing.
//!
//! Each test reads running pipelines only every hour at rest (events flowing
//! or not) unless it says otherwise: what reaches status faster came
//! through the queue.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use chime_pipeline_operator::config::Events;
use chime_pipeline_operator::crd::MediaStreamPipeline;
use common::*;
use serde_json::json;
use testworld::TestEnv;
use testworld::emulator::{EmulatorConfig, EventChaos};

const HOUR: Duration = Duration::from_secs(3600);

fn finished(o: &MediaStreamPipeline) -> bool {
    condition(o, "Finished").is_some_and(|c| c.0 == "True")
}

/// A harness whose operator reads the emulator's queue; `refresh` is the
/// read interval at rest, with events and without.
async fn with_events(prefix: &str, refresh: Duration) -> anyhow::Result<Harness> {
    let env = TestEnv::new(prefix).await?;
    let emulator = EmulatorConfig {
        events: true,
        ..EmulatorConfig::default()
    };
    let mut h = Harness::on(env, emulator).await?;
    let mut config = test_config(&h.env.namespace);
    config.settings.refresh_interval = refresh;
    config.events = Some(Events {
        queue_url: h.emulator.queue_url(),
        refresh_interval: refresh,
        ..Events::default()
    });
    h.run_operator(h.env.client.clone(), config).await;
    Ok(h)
}

/// A meeting ends: its pipeline reads Finished within seconds although it
/// would not be read again for an hour; only it is woken (its neighbour of
/// another meeting is not read again).
#[tokio::test]
async fn a_meeting_end_reaches_status_through_its_event() -> anyhow::Result<()> {
    let h = with_events("events", HOUR).await?;
    h.create("ending", spec_json("ev-ending", json!({})))
        .await?;
    h.create("going-on", spec_json("ev-going-on", json!({})))
        .await?;
    h.wait_ready("ending").await?;
    h.wait_ready("going-on").await?;
    let gets = h.emulator.call_count("GetMediaPipeline");
    let ended = Instant::now();
    assert_eq!(h.emulator.end_meeting(&meeting_arn("ev-ending")), 1);
    h.wait_for("ending", "Finished", finished).await?;
    let took = ended.elapsed();
    // Only the pipelines of that meeting read AWS (once per event naming
    // it: the meeting's end, and the pipeline's own change).
    let reads = h.emulator.call_count("GetMediaPipeline") - gets;
    assert!(
        (1..=4).contains(&reads),
        "{reads} reads for one ended meeting"
    );
    let matched = metric_value(&h.metrics, "chime_operator_events_total", "matched");
    assert!(matched >= 1.0, "no event matched");
    println!("events: meeting end to Finished in {took:?} ({reads} GetMediaPipeline)");
    Ok(())
}

/// Half the events dropped, duplicated or reordered: every resource still
/// ends Finished (polling, every 2 s here, catches what events missed),
/// with one create each and no hot loop of reads.
#[tokio::test]
async fn lost_duplicated_and_reordered_events_still_end_right() -> anyhow::Result<()> {
    const N: usize = 12;
    let h = with_events("events-chaos", Duration::from_secs(2)).await?;
    h.emulator.set_event_chaos(EventChaos {
        drop: 0.5,
        duplicate: 0.5,
        reorder: true,
        delay: Duration::from_millis(300),
        seed: 7,
    });
    let names: Vec<String> = (0..N).map(|i| format!("chaos-{i}")).collect();
    for name in &names {
        h.create(name, spec_json(&format!("ev-{name}"), json!({})))
            .await?;
    }
    for name in &names {
        h.wait_ready(name).await?;
    }
    let started = Instant::now();
    for name in &names {
        h.emulator.end_meeting(&meeting_arn(&format!("ev-{name}")));
    }
    for name in &names {
        h.wait_for(name, "Finished", finished).await?;
    }
    let creates = h.emulator.call_count("CreateMediaStreamPipeline");
    assert_eq!(creates, N, "a create was repeated");
    // At rest every 2 s for the whole test: no more than one read per
    // resource and second, with room for the events' own reads.
    let reads = h.emulator.call_count("GetMediaPipeline");
    let seconds = started.elapsed().as_secs_f64() + 10.0;
    let bound = (N as f64 * seconds).ceil() as usize;
    assert!(
        reads <= bound,
        "{reads} reads in {seconds:.0} s: a hot loop"
    );
    println!(
        "events: chaos (50% dropped, 50% duplicated, reordered): {N} finished, {creates} creates, {reads} reads"
    );
    Ok(())
}

/// The queue goes away: the operator keeps working on polling alone (a
/// metric and a log say so, readiness stays), and events resume when the
/// queue is back.
#[tokio::test]
async fn a_queue_that_fails_stops_nothing_and_events_resume() -> anyhow::Result<()> {
    let h = with_events("events-down", Duration::from_secs(2)).await?;
    h.create("during", spec_json("ev-during", json!({})))
        .await?;
    h.wait_ready("during").await?;
    h.emulator.set_queue_available(false);
    let down = eventually(Duration::from_secs(60), || {
        metric_value(&h.metrics, "chime_operator_event_queue_up", "") == 0.0
    })
    .await;
    assert!(down, "the queue's failure is not in the metrics");
    assert!(h.metrics.is_ready(), "readiness fell with the queue");
    // Polling alone finishes this one.
    h.emulator.end_meeting(&meeting_arn("ev-during"));
    h.wait_for("during", "Finished", finished).await?;

    h.emulator.set_queue_available(true);
    let up = eventually(Duration::from_secs(90), || {
        metric_value(&h.metrics, "chime_operator_event_queue_up", "") == 1.0
    })
    .await;
    assert!(up, "events did not resume");
    let before = metric_value(&h.metrics, "chime_operator_events_total", "matched");
    h.create("after", spec_json("ev-after", json!({}))).await?;
    h.wait_ready("after").await?;
    h.emulator.end_meeting(&meeting_arn("ev-after"));
    h.wait_for("after", "Finished", finished).await?;
    let after = metric_value(&h.metrics, "chime_operator_events_total", "matched");
    assert!(after > before, "no event matched after the queue came back");
    Ok(())
}

/// Foreign (another source, another account's pipeline, a meeting event the
/// operator does not follow) and malformed messages are counted and
/// deleted, never fatal; a duplicate of a real event is harmless.
#[tokio::test]
async fn foreign_and_malformed_messages_are_counted_and_deleted() -> anyhow::Result<()> {
    let h = with_events("events-junk", HOUR).await?;
    let chime = |detail_type: &str, detail: serde_json::Value| {
        json!({"version": "0", "id": "x", "detail-type": detail_type, "source": "aws.chime",
            "account": "999999999999", "time": "2026-12-06T10:00:00Z", "region": "us-east-1",
            "resources": [], "detail": detail})
        .to_string()
    };
    let bodies = [
        "{not json".to_string(),
        json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}).to_string(),
        chime(
            "Chime Meeting State Change",
            json!({"eventType": "chime:MeetingStarted", "meetingId": "m"}),
        ),
        chime(
            "Chime Media Pipeline State Change",
            json!({"eventType": "chime:MediaPipelineDeleted",
            "mediaPipelineId": "00000000-0000-4000-8000-000000000000"}),
        ),
    ];
    for body in &bodies {
        assert!(
            h.emulator.send_raw(body).is_some(),
            "the queue refused {body}"
        );
    }
    let counted = |outcome: &str| metric_value(&h.metrics, "chime_operator_events_total", outcome);
    let all = eventually(Duration::from_secs(60), || {
        counted("malformed") == 1.0 && counted("foreign") == 2.0 && counted("unmatched") == 1.0
    })
    .await;
    assert!(
        all,
        "malformed {}, foreign {}, unmatched {}",
        counted("malformed"),
        counted("foreign"),
        counted("unmatched")
    );
    let drained = eventually(Duration::from_secs(30), || {
        h.emulator.sqs_call_count("DeleteMessageBatch") >= 1
    })
    .await;
    assert!(drained, "the messages were not deleted");
    assert_eq!(
        metric_value(&h.metrics, "chime_operator_event_queue_up", ""),
        1.0
    );
    Ok(())
}

/// The queue's SQS calls, in order, each with the access key that signed it.
fn queue_callers(h: &Harness) -> Vec<(String, Option<String>)> {
    h.emulator
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(
                c.operation.as_str(),
                "ReceiveMessage" | "DeleteMessageBatch"
            )
        })
        .map(|c| (c.operation, c.access_key_id))
        .collect()
}

/// Two replicas with leader election, both told of the queue: only the
/// leader reads it (the emulator tells the replicas apart by the access key
/// each signs with). When the leader is killed, the new leader takes the
/// queue over and the events it reads reach status.
#[tokio::test]
async fn only_the_leader_reads_the_queue() -> anyhow::Result<()> {
    let env = TestEnv::new("events-leader").await?;
    let emulator = EmulatorConfig {
        events: true,
        ..EmulatorConfig::default()
    };
    let h = Harness::on(env, emulator).await?;
    let queue = h.emulator.queue_url();
    let ns = h.env.namespace.clone();
    let flags = [
        "--leader-election",
        "--lease-namespace",
        &ns,
        "--lease-duration",
        "4s",
        "--event-queue-url",
        &queue,
        "--events-refresh-interval",
        "1h",
    ];
    let keys = ["AKIDREPLICA0", "AKIDREPLICA1"];
    let mut ops = vec![];
    for key in keys {
        let env = [("AWS_ACCESS_KEY_ID", key)];
        ops.push(Operator::spawn_with(
            &h.env.kubeconfig,
            &h.emulator.endpoint_url(),
            &ns,
            &flags,
            &env,
            Stdio::inherit(),
        )?);
    }
    for op in &ops {
        op.wait_http("/readyz", 200).await?;
    }
    h.create("first", spec_json("ev-first", json!({}))).await?;
    h.wait_ready("first").await?;
    let (leader, standby) = leader_of(&ops).await?;
    // The pipeline's InProgress event reached the leader's reader.
    let received = "chime_operator_events_received_total";
    ops[leader]
        .wait_metric(received, "an event for the leader", |n| n >= 1.0)
        .await?;
    // A few more messages (foreign ones), each taken before the next is
    // sent: a standby that read the queue would take some of them.
    for i in 0..5 {
        let deletes = h.emulator.sqs_call_count("DeleteMessageBatch");
        let body = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"n": i}});
        h.emulator
            .send_raw(&body.to_string())
            .context("the queue is there")?;
        let taken = eventually(Duration::from_secs(60), || {
            h.emulator.sqs_call_count("DeleteMessageBatch") > deletes
        })
        .await;
        assert!(taken, "message {i} was not taken");
    }
    let before_handover = queue_callers(&h);
    assert!(!before_handover.is_empty());
    let strangers: Vec<_> = before_handover
        .iter()
        .filter(|(_, key)| key.as_deref() != Some(keys[leader]))
        .collect();
    assert!(
        strangers.is_empty(),
        "the standby read the queue: {strangers:?}"
    );
    assert_eq!(ops[standby].metric(received, "").await, 0.0);

    ops[leader].child.start_kill()?;
    ops[leader].child.wait().await?;
    let leads = |n: f64| n == 1.0;
    ops[standby]
        .wait_metric("chime_operator_leader", "the standby's takeover", leads)
        .await?;
    h.create("second", spec_json("ev-second", json!({})))
        .await?;
    h.wait_ready("second").await?;
    ops[standby]
        .wait_metric(received, "an event for the new leader", |n| n >= 1.0)
        .await?;
    let taken_over = queue_callers(&h)[before_handover.len()..]
        .iter()
        .filter(|(_, key)| key.as_deref() == Some(keys[standby]))
        .count();
    assert!(taken_over > 0, "the new leader never read the queue");
    println!(
        "events: {} queue calls by the leader, none by the standby; {taken_over} by the new leader after the handover",
        before_handover.len()
    );
    Ok(())
}
