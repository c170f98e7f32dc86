//! Bad input: what the API server refuses (the CRD schema, naming the
//! field, before the operator or AWS sees anything), and what only AWS can
//! refuse (ending in a clear, stalled condition that is not hammered).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use testworld::emulator::{Fault, FaultKind, Trigger};

/// The invalid manifests: one file per constraint of the schema.
fn corpus() -> anyhow::Result<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    Ok(files)
}

/// The `# expect: <text>` line that opens each manifest.
fn expectation(text: &str) -> Option<&str> {
    text.lines()
        .next()?
        .strip_prefix("# expect:")
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

fn api_resource(obj: &DynamicObject) -> anyhow::Result<ApiResource> {
    let types = obj
        .types
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no apiVersion/kind"))?;
    let (group, version) = types
        .api_version
        .split_once('/')
        .unwrap_or(("", types.api_version.as_str()));
    let gvk = GroupVersionKind::gvk(group, version, &types.kind);
    let plural = format!("{}s", types.kind.to_ascii_lowercase());
    Ok(ApiResource::from_gvk_with_plural(&gvk, &plural))
}

/// The API server's words: the Status message for an API error.
fn server_message(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn every_invalid_manifest_is_refused_naming_the_field() -> anyhow::Result<()> {
    let h = Harness::start("badinput").await?;
    let ns = h.env.namespace.clone();
    let files = corpus()?;
    assert!(
        files.len() >= 37,
        "the corpus has {} manifests, expected at least 37",
        files.len()
    );

    let mut failures = Vec::new();
    let mut refused = 0;
    let mut named = 0;
    let mut resources: Vec<ApiResource> = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path)?;
        let Some(expect) = expectation(&text) else {
            failures.push(format!("{file}: no `# expect:` line"));
            continue;
        };
        if !expect.contains("spec.") && !expect.contains("\"spec") {
            failures.push(format!("{file}: `# expect: {expect}` names no field"));
        }
        let obj: DynamicObject = match serde_yaml_ng::from_str(&text) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{file}: not a Kubernetes object: {e}"));
                continue;
            }
        };
        if obj.metadata.namespace.is_some() {
            failures.push(format!("{file}: has a namespace"));
        }
        let ar = api_resource(&obj)?;
        if !resources.iter().any(|r| r.kind == ar.kind) {
            resources.push(ar.clone());
        }
        let api: Api<DynamicObject> = Api::namespaced_with(h.env.client.clone(), &ns, &ar);
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => failures.push(format!("{file}: accepted (expected: {expect})")),
            Err(e) => {
                let msg = server_message(&e);
                if matches!(e, kube::Error::Api(ref s) if s.code == 422) {
                    refused += 1;
                } else {
                    failures.push(format!("{file}: refused, but not as invalid: {e}"));
                }
                if msg.contains(expect) {
                    named += 1;
                } else {
                    failures.push(format!(
                        "{file}: the message does not contain {expect:?}: {msg}"
                    ));
                }
            }
        }
    }

    // Give the operator a moment: had anything been accepted, it would act.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // List calls are the operator's own start-up sweep, about no resource.
    let mut calls = h.emulator.calls();
    calls.retain(|c| !c.operation.starts_with("List"));
    if !calls.is_empty() {
        failures.push(format!("the emulator saw calls: {calls:?}"));
    }
    for ar in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(h.env.client.clone(), &ns, ar);
        let left: Vec<String> = api
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        if !left.is_empty() {
            failures.push(format!("{} objects exist: {left:?}", ar.kind));
        }
    }
    println!(
        "bad input: {refused} manifests refused by the API server, field named in {named}, emulator calls {}",
        calls.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} manifests went wrong:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert_eq!(refused, files.len());
    assert_eq!(named, files.len());
    Ok(())
}

/// One valid resource that AWS refuses for good; returns (creates until it
/// settled, creates during a 10 s window after).
async fn refused_by_aws(
    prefix: &str,
    reason: &str,
    aws_words: &str,
    prepare: impl FnOnce(&Harness, &str),
) -> anyhow::Result<(usize, usize)> {
    let h = Harness::start(prefix).await?;
    let meeting = format!("m-{prefix}");
    prepare(&h, &meeting);
    h.create("refused", spec_json(&meeting, json!({}))).await?;
    let o = h
        .wait_for("refused", &format!("Stalled={reason}"), |o| {
            condition(o, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == reason)
                && condition(o, "Synced").is_some_and(|c| c.0 == "False" && c.1 == reason)
        })
        .await?;
    let (_, _, synced) = condition(&o, "Synced").unwrap_or_default();
    assert!(
        synced.contains(aws_words),
        "Synced does not carry AWS's message {aws_words:?}: {synced}"
    );
    let (_, _, stalled) = condition(&o, "Stalled").unwrap_or_default();
    assert!(
        stalled.contains(aws_words),
        "Stalled does not carry AWS's message {aws_words:?}: {stalled}"
    );
    let ready = condition(&o, "Ready").map(|c| c.0);
    assert_ne!(ready.as_deref(), Some("True"), "{reason} yet Ready");

    let settled = h.emulator.call_count("CreateMediaStreamPipeline");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let window = h.emulator.call_count("CreateMediaStreamPipeline") - settled;
    assert!(
        window <= 1,
        "{reason}: {window} creates in a 10 s window after it settled"
    );
    assert!(h.emulator.pipelines().is_empty(), "a pipeline was created");
    Ok((settled, window))
}

#[tokio::test]
async fn valid_manifests_refused_by_aws_end_in_a_clear_condition() -> anyhow::Result<()> {
    let (not_found, forbidden) = tokio::try_join!(
        refused_by_aws("awsnotfound", "NotFound", "not found", |h, meeting| {
            h.emulator.mark_meeting_missing(&meeting_arn(meeting));
        }),
        refused_by_aws("awsforbidden", "Forbidden", "not authorized", |h, _| {
            h.emulator.inject(Fault {
                operation: Some("CreateMediaStreamPipeline".into()),
                kind: FaultKind::Forbidden,
                trigger: Trigger::Probability(1.0),
            });
        }),
    )?;
    println!(
        "refused by AWS: NotFound {} create(s) to settle, {} in the next 10 s; Forbidden {} create(s) to settle, {} in the next 10 s",
        not_found.0, not_found.1, forbidden.0, forbidden.1
    );
    Ok(())
}
