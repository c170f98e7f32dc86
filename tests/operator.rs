//! The operator against the real control plane and the emulator, driven
//! through the real AWS SDK client.

mod common;

use std::time::Duration;

use chime_pipeline_operator::crd::MediaStreamPipeline;
use common::*;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use testworld::emulator::{EmulatorConfig, Fault, FaultKind, Trigger, sdk_client};

fn synced_reason(o: &MediaStreamPipeline) -> Option<String> {
    condition(o, "Synced")
        .filter(|c| c.0 == "False")
        .map(|c| c.1)
}

async fn patch_spec(h: &Harness, name: &str, spec: serde_json::Value) -> anyhow::Result<()> {
    h.api()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        )
        .await?;
    Ok(())
}

/// The API server enforces the CRD schema, naming the field.
#[tokio::test]
async fn the_api_server_enforces_the_schema() -> anyhow::Result<()> {
    let h = Harness::without_operator("schema").await?;
    let created = h.create("valid", spec_json("m-valid", json!({}))).await?;
    let read = h.api().get("valid").await?;
    assert_eq!(read.spec, created.spec);
    assert_eq!(read.uid(), created.uid());

    let mut bad = spec_json("m-bad", json!({}));
    bad.sinks[0].reserved_stream_capacity = 11;
    let err = h
        .create("too-much", bad)
        .await
        .expect_err("capacity 11 accepted");
    let msg = err.to_string();
    assert!(msg.contains("reservedStreamCapacity"), "{msg}");

    let mut bad = spec_json("m-bad", json!({}));
    bad.sinks = vec![bad.sinks[0].clone(); 3];
    let msg = h
        .create("three-sinks", bad)
        .await
        .expect_err("3 sinks")
        .to_string();
    assert!(msg.contains("spec.sinks"), "{msg}");

    let mut bad = spec_json("m-bad", json!({}));
    bad.sources[0].source_arn = "not-an-arn".into();
    let msg = h
        .create("bad-arn", bad)
        .await
        .expect_err("bad ARN")
        .to_string();
    assert!(msg.contains("sourceArn"), "{msg}");
    assert_eq!(h.emulator.calls().len(), 0);
    Ok(())
}

#[tokio::test]
async fn create_ready_and_delete() -> anyhow::Result<()> {
    let h = Harness::start("lifecycle").await?;
    h.create(
        "p",
        spec_json("m-1", json!({"tags": [{"key": "team", "value": "a"}]})),
    )
    .await?;
    let o = h.wait_ready("p").await?;
    let st = o.status.clone().unwrap_or_default();
    let id = st.media_pipeline_id.clone().unwrap_or_default();
    assert_eq!(id.len(), 36);
    assert!(st.media_pipeline_arn.unwrap_or_default().ends_with(&id));
    assert_eq!(st.pipeline_status.as_deref(), Some("InProgress"));
    assert_eq!(st.common.observed_generation, o.metadata.generation);
    assert!(
        o.finalizers()
            .iter()
            .any(|f| f == "media.chimeoperator.dev/pipeline")
    );
    let uid = uid(&o)?;
    let record = h
        .emulator
        .pipelines()
        .into_iter()
        .find(|p| p.id == id)
        .expect("remote pipeline");
    assert_eq!(record.client_request_token.as_deref(), Some(uid.as_str()));
    assert_eq!(
        user_tags(&record.tags),
        vec![("team".to_string(), "a".to_string())]
    );
    for (k, v) in [
        ("namespace", h.env.namespace.as_str()),
        ("name", "p"),
        ("uid", uid.as_str()),
    ] {
        let key = format!("chimeoperator.dev/{k}");
        assert!(
            record.tags.contains(&(key, v.to_string())),
            "identity tag {k} missing: {:?}",
            record.tags
        );
    }

    h.delete("p").await?;
    h.wait_gone("p").await?;
    let record = h
        .emulator
        .pipelines()
        .into_iter()
        .find(|p| p.id == id)
        .expect("record");
    assert!(record.deleted, "remote pipeline not deleted");
    h.assert_one_pipeline_per_uid(&[uid]);
    Ok(())
}

#[tokio::test]
async fn retain_keeps_the_pipeline() -> anyhow::Result<()> {
    let h = Harness::start("retain").await?;
    h.create(
        "keep",
        spec_json("m-keep", json!({"deletionPolicy": "Retain"})),
    )
    .await?;
    let o = h.wait_ready("keep").await?;
    h.delete("keep").await?;
    h.wait_gone("keep").await?;
    let pipelines = h.emulator.pipelines();
    assert_eq!(pipelines.len(), 1);
    assert!(!pipelines[0].deleted, "Retain deleted the pipeline");
    assert_eq!(h.emulator.call_count("DeleteMediaPipeline"), 0);
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// The create succeeds but writing the ID to status is refused: every retry
/// sends the same token and gets the same pipeline back.
#[tokio::test]
async fn a_failed_status_write_does_not_create_twice() -> anyhow::Result<()> {
    let mut h = Harness::without_operator("statusfail").await?;
    let role_name = format!("{}-operator", h.env.namespace);
    let rule = |resources: &[&str], verbs: &[&str], group: &str| PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let mut role = ClusterRole {
        metadata: ObjectMeta {
            name: Some(role_name.clone()),
            ..Default::default()
        },
        rules: Some(vec![
            rule(
                &["mediastreampipelines"],
                &["get", "list", "watch", "patch"],
                "media.chimeoperator.dev",
            ),
            rule(&["events"], &["create", "patch"], "events.k8s.io"),
        ]),
        ..Default::default()
    };
    let roles: Api<ClusterRole> = Api::all(h.env.client.clone());
    roles.create(&PostParams::default(), &role).await?;
    let client = h.env.client_bound_to_cluster_role(&role_name).await?;
    let config = test_config(&h.env.namespace);
    h.run_operator(client, config).await;

    let o = h.create("p", spec_json("m-status", json!({}))).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.emulator.call_count("CreateMediaStreamPipeline") < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the operator did not retry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(h.api().get("p").await?.status.is_none());

    // Grant the status write: the next retry records the one pipeline.
    if let Some(rules) = role.rules.as_mut() {
        rules.push(rule(
            &["mediastreampipelines/status"],
            &["patch"],
            "media.chimeoperator.dev",
        ));
    }
    role.metadata.resource_version = None;
    roles
        .patch(&role_name, &PatchParams::default(), &Patch::Merge(&role))
        .await?;
    let ready = h.wait_ready("p").await?;
    let creates = h.emulator.call_count("CreateMediaStreamPipeline");
    eprintln!("status-write failure: {creates} create calls, 1 pipeline");
    assert!(creates >= 3);
    let ids: Vec<_> = h.emulator.pipelines().into_iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        ready.status.and_then(|s| s.media_pipeline_id),
        Some(ids[0].clone())
    );
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

/// A permanent error shows in conditions with AWS's message, and costs at
/// most a handful of calls per minute.
#[tokio::test]
async fn permanent_errors_are_shown_and_not_hammered() -> anyhow::Result<()> {
    let h = Harness::start_with(
        "permanent",
        EmulatorConfig {
            require_existing_pools: true,
            ..Default::default()
        },
        |_| {},
    )
    .await?;
    h.create("no-pool", spec_json("m-nopool", json!({})))
        .await?;
    h.emulator.mark_meeting_missing(&meeting_arn("m-missing"));
    h.create("no-meeting", spec_json("m-missing", json!({})))
        .await?;

    let o = h
        .wait_for("no-pool", "BadRequest", |o| {
            synced_reason(o).as_deref() == Some("BadRequest")
        })
        .await?;
    let (_, reason, message) = condition(&o, "Ready").unwrap_or_default();
    assert_eq!(reason, "BadRequest");
    assert!(
        message.contains("SinkArn"),
        "AWS's message is shown: {message}"
    );
    h.wait_for("no-meeting", "NotFound", |o| {
        synced_reason(o).as_deref() == Some("NotFound")
    })
    .await?;

    // Watch 10 s of the hold: no further creates.
    let before = h.emulator.call_count("CreateMediaStreamPipeline");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = h.emulator.call_count("CreateMediaStreamPipeline");
    eprintln!(
        "permanent errors: {after} create calls for 2 resources, {} during a 10 s hold",
        after - before
    );
    assert!(
        after <= 4,
        "{after} creates for two permanently failing resources"
    );
    assert_eq!(after, before);
    assert!(h.emulator.pipelines().is_empty());

    let events: Api<k8s_openapi::api::events::v1::Event> = h.env.api();
    let evs = events.list(&Default::default()).await?;
    assert!(
        evs.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("CreateFailed"))
    );
    Ok(())
}

#[tokio::test]
async fn throttling_is_retried_until_it_passes() -> anyhow::Result<()> {
    let h = Harness::start("throttle").await?;
    h.emulator.inject(Fault {
        operation: Some("CreateMediaStreamPipeline".into()),
        kind: FaultKind::Throttle,
        trigger: Trigger::Next(1000),
    });
    h.create("t", spec_json("m-t", json!({}))).await?;
    h.wait_for("t", "Throttled", |o| {
        synced_reason(o).as_deref() == Some("Throttled")
    })
    .await?;
    h.emulator.clear_faults();
    let o = h.wait_ready("t").await?;
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

#[tokio::test]
async fn transient_faults_converge_without_duplicates() -> anyhow::Result<()> {
    let h = Harness::start("faults").await?;
    for kind in [FaultKind::Unavailable, FaultKind::Failure, FaultKind::Drop] {
        h.emulator.inject(Fault {
            operation: None,
            kind,
            trigger: Trigger::Probability(0.2),
        });
    }
    let mut uids = vec![];
    for i in 0..5 {
        uids.push(uid(&h
            .create(&format!("f{i}"), spec_json(&format!("m-f{i}"), json!({})))
            .await?)?);
    }
    for i in 0..5 {
        h.wait_ready(&format!("f{i}")).await?;
    }
    h.assert_one_pipeline_per_uid(&uids);
    Ok(())
}

#[tokio::test]
async fn the_active_pipeline_limit_waits_for_capacity() -> anyhow::Result<()> {
    let h = Harness::start("limit").await?;
    h.emulator.set_region_limit(REGION, 1);
    let a = h.create("a", spec_json("m-a", json!({}))).await?;
    h.wait_ready("a").await?;
    let b = h.create("b", spec_json("m-b", json!({}))).await?;
    let o = h
        .wait_for("b", "ResourceLimitExceeded", |o| {
            synced_reason(o).as_deref() == Some("ResourceLimitExceeded")
        })
        .await?;
    assert!(condition(&o, "Ready").is_some_and(|c| c.1 == "ResourceLimitExceeded"));
    h.delete("a").await?;
    h.wait_gone("a").await?;
    h.wait_ready("b").await?;
    h.assert_one_pipeline_per_uid(&[uid(&a)?, uid(&b)?]);
    Ok(())
}

#[tokio::test]
async fn sinks_are_immutable_and_tags_follow_the_spec() -> anyhow::Result<()> {
    let h = Harness::start("immutable").await?;
    let o = h
        .create(
            "p",
            spec_json(
                "m-imm",
                json!({"tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}),
            ),
        )
        .await?;
    h.wait_ready("p").await?;

    patch_spec(
        &h,
        "p",
        json!({"tags": [{"key": "a", "value": "changed"}, {"key": "c", "value": "3"}]}),
    )
    .await?;
    let want = vec![
        ("a".to_string(), "changed".to_string()),
        ("c".to_string(), "3".to_string()),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let tags = user_tags(&h.emulator.pipelines()[0].tags);
        if tags == want {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "remote tags are {tags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cur = h.api().get("p").await?;
    h.wait_for("p", "observed", |o| {
        o.status.as_ref().and_then(|s| s.common.observed_generation) == cur.metadata.generation
    })
    .await?;

    let creates = h.emulator.call_count("CreateMediaStreamPipeline");
    let mut sinks = serde_json::to_value(&cur.spec.sinks)?;
    sinks[0]["reservedStreamCapacity"] = json!(5);
    patch_spec(&h, "p", json!({ "sinks": sinks })).await?;
    let o2 = h
        .wait_for("p", "ImmutableFieldChanged", |o| {
            synced_reason(o).as_deref() == Some("ImmutableFieldChanged")
        })
        .await?;
    let msg = condition(&o2, "Synced").map(|c| c.2).unwrap_or_default();
    assert!(msg.contains("spec.sinks"), "{msg}");
    assert!(is_ready(&o2), "the pipeline itself is still streaming");
    assert_eq!(h.emulator.call_count("CreateMediaStreamPipeline"), creates);
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    Ok(())
}

#[tokio::test]
async fn ended_meetings_and_vanished_pipelines_are_reported_not_recreated() -> anyhow::Result<()> {
    let h = Harness::start("ended").await?;
    let a = h.create("ended", spec_json("m-end", json!({}))).await?;
    let b = h
        .create("vanished", spec_json("m-vanish", json!({})))
        .await?;
    h.wait_ready("ended").await?;
    let vb = h.wait_ready("vanished").await?;

    assert_eq!(h.emulator.end_meeting(&meeting_arn("m-end")), 1);
    let o = h
        .wait_for("ended", "Stopped", |o| {
            o.status.as_ref().and_then(|s| s.pipeline_status.as_deref()) == Some("Stopped")
        })
        .await?;
    // The normal end of a meeting: finished, not a failure.
    assert_eq!(
        condition(&o, "Finished").map(|c| (c.0, c.1)),
        Some(("True".into(), "Stopped".into()))
    );
    assert!(condition(&o, "Ready").is_none());

    let id = vb
        .status
        .and_then(|s| s.media_pipeline_id)
        .unwrap_or_default();
    sdk_client(&h.emulator.endpoint_url(), REGION)
        .await
        .delete_media_pipeline()
        .media_pipeline_id(&id)
        .send()
        .await?;
    let o = h
        .wait_for("vanished", "Gone", |o| {
            condition(o, "Ready").map(|c| c.1) == Some("PipelineGone".into())
        })
        .await?;
    assert_eq!(
        o.status.and_then(|s| s.pipeline_status).as_deref(),
        Some("Gone")
    );

    // Neither is refreshed or recreated any more.
    let calls = h.emulator.calls().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.emulator.calls().len(),
        calls,
        "terminal pipelines are still being called"
    );
    h.assert_one_pipeline_per_uid(&[uid(&a)?, uid(&b)?]);
    Ok(())
}

/// An IAM deny or bad credentials: shown with AWS's words and an Event,
/// held back like any error that needs a person.
#[tokio::test]
async fn forbidden_and_unauthorized_are_shown() -> anyhow::Result<()> {
    let h = Harness::start("iam").await?;
    for (name, kind, reason) in [
        ("denied", FaultKind::Forbidden, "Forbidden"),
        ("badcreds", FaultKind::Unauthorized, "Unauthorized"),
    ] {
        h.emulator.clear_faults();
        h.emulator.inject(Fault {
            operation: Some("CreateMediaStreamPipeline".into()),
            kind,
            trigger: Trigger::Probability(1.0),
        });
        h.create(name, spec_json(&format!("m-{name}"), json!({})))
            .await?;
        let o = h
            .wait_for(name, reason, |o| {
                synced_reason(o).as_deref() == Some(reason)
            })
            .await?;
        let message = condition(&o, "Synced").map(|c| c.2).unwrap_or_default();
        assert!(
            message.len() > reason.len(),
            "AWS's message is shown: {message}"
        );
    }
    let creates = h.emulator.call_count("CreateMediaStreamPipeline");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.emulator.call_count("CreateMediaStreamPipeline"),
        creates,
        "retried too soon"
    );
    assert!(h.emulator.pipelines().is_empty());
    Ok(())
}

/// A pipeline per meeting publishes the Events a person reads, not routine
/// ones: a failed create and a failed delete are Warnings, while the
/// create and the delete themselves publish nothing (the status records the
/// create), so a meeting costs the API server no Event write.
#[tokio::test]
async fn a_pipeline_publishes_warnings_not_routine_events() -> anyhow::Result<()> {
    let h = Harness::start("events").await?;
    let fail_once = |operation: &str| Fault {
        operation: Some(operation.into()),
        kind: FaultKind::Unavailable,
        trigger: Trigger::Next(1),
    };
    h.emulator.inject(fail_once("CreateMediaStreamPipeline"));
    h.create("e", spec_json("m-e", json!({}))).await?;
    h.wait_ready("e").await?;
    h.emulator.inject(fail_once("DeleteMediaPipeline"));
    h.delete("e").await?;
    h.wait_gone("e").await?;

    // Events are published aside: wait for both Warnings, then look at all.
    let api: Api<k8s_openapi::api::events::v1::Event> = h.env.api();
    let mut reasons = vec![];
    for _ in 0..150 {
        reasons = api
            .list(&Default::default())
            .await?
            .items
            .iter()
            .map(|e| (e.reason.clone().unwrap_or_default(), e.type_.clone()))
            .collect();
        let has = |r: &str| reasons.iter().any(|(x, _)| x == r);
        if has("CreateFailed") && has("DeleteFailed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("events: {reasons:?}");
    for (reason, type_) in &reasons {
        assert_eq!(type_.as_deref(), Some("Warning"), "{reason}: {reasons:?}");
    }
    let has = |r: &str| reasons.iter().any(|(x, _)| x == r);
    assert!(has("CreateFailed") && has("DeleteFailed"), "{reasons:?}");
    assert!(!has("Created") && !has("Deleted"), "{reasons:?}");
    assert_eq!(h.emulator.call_count("CreateMediaStreamPipeline"), 2);
    Ok(())
}

/// `--max-concurrent-reconciles` bounds the operator, not each of its
/// controllers (one per kind): with 2 allowed over three
/// namespaces and AWS holding every create 1 s, no more than 2 creates
/// start within any second.
#[tokio::test]
async fn the_reconcile_limit_holds_across_namespaces() -> anyhow::Result<()> {
    let mut h = Harness::without_operator("slots").await?;
    let first = h.env.namespace.clone();
    let namespaces = vec![first.clone(), format!("{first}-b"), format!("{first}-c")];
    for ns in &namespaces {
        testworld::ensure_namespace(&h.env.client, ns).await?;
    }
    h.emulator.inject(Fault {
        operation: Some("CreateMediaStreamPipeline".into()),
        kind: FaultKind::Latency(Duration::from_secs(1)),
        trigger: Trigger::Next(100),
    });
    let mut config = test_config(&first);
    config.namespaces = namespaces.clone();
    config.max_concurrent_reconciles = 2;
    h.run_operator(h.env.client.clone(), config).await;

    let mut made = vec![];
    for ns in &namespaces {
        let api: Api<MediaStreamPipeline> = Api::namespaced(h.env.client.clone(), ns);
        for i in 0..4 {
            let name = format!("p{i}");
            let obj = MediaStreamPipeline {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: spec_json(&format!("m-{ns}-{i}"), json!({})),
                status: None,
            };
            api.create(&PostParams::default(), &obj).await?;
            made.push((api.clone(), name));
        }
    }
    for (api, name) in &made {
        wait_ready(api, name).await?;
    }

    let mut starts: Vec<u64> = h
        .emulator
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateMediaStreamPipeline")
        .map(|c| c.at_ms)
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), 12, "one create per resource: {starts:?}");
    // A create holds its reconcile's slot for at least 1 s: a third start
    // within 900 ms of two others means a third slot.
    let most = (0..starts.len())
        .map(|i| {
            starts[i..]
                .iter()
                .take_while(|&&t| t < starts[i] + 900)
                .count()
        })
        .max()
        .unwrap_or(0);
    eprintln!("creates started within 900 ms of each other: at most {most}; starts {starts:?}");
    assert!(
        most <= 2,
        "{most} creates at once with a limit of 2: {starts:?}"
    );
    Ok(())
}
