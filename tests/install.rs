//! Installing as the README says: every combination of deploy/ (base or the
//! namespaced overlay, with the IRSA or the Pod Identity component, with or
//! without monitoring) passes a server-side dry run and, since the test
//! server is 1.20, strict schema validation for every supported Kubernetes
//! version; a real install runs the operator with its own RBAC, and an
//! uninstall leaves every resource and every AWS pipeline in place.

mod common;
mod shipped;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail, ensure};
use common::*;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::json;
use shipped::{REPO, kubectl, overlay, render};
use testworld::ensure_namespace;

/// The Kubernetes versions the README supports; each rendered combination
/// is validated strictly against each one's schemas.
const SUPPORTED: [&str; 9] = [
    "1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0",
];

/// The combinations a user may apply: name and kustomization folder.
fn combinations(prefix: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut all = vec![];
    for c in ["irsa", "pod-identity"] {
        all.push((
            format!("deploy/install/{c}"),
            Path::new(REPO).join("deploy/install").join(c),
        ));
    }
    for (base, components) in [
        ("base", &["irsa", "monitoring"][..]),
        ("base", &["pod-identity", "monitoring"][..]),
        ("overlays/namespaced", &["irsa"][..]),
        ("overlays/namespaced", &["pod-identity"][..]),
        ("overlays/namespaced", &["pod-identity", "monitoring"][..]),
    ] {
        let name = format!("{base} + {}", components.join(" + "));
        let list: Vec<String> = components
            .iter()
            .map(|c| format!("{{REPO}}/deploy/components/{c}"))
            .collect();
        let dir = overlay(
            &format!("{prefix}-{}", name.replace([' ', '/', '+'], "")),
            &format!(
                "resources: [{{REPO}}/deploy/{base}]\ncomponents: [{}]\n",
                list.join(", ")
            ),
        )?;
        all.push((name, dir));
    }
    Ok(all)
}

/// The Prometheus Operator's kinds, as stand-ins that take any spec: the
/// test server has no Prometheus Operator, and the dry run needs the kinds
/// to exist (their specs are checked by promtool in tests/monitoring.rs).
async fn stand_in_monitoring_crds(client: &kube::Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (plural, kind) in [
        ("servicemonitors", "ServiceMonitor"),
        ("prometheusrules", "PrometheusRule"),
    ] {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.monitoring.coreos.com")},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"plural": plural, "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))?;
        match api.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        let name = format!("{plural}.monitoring.coreos.com");
        kube::runtime::wait::await_condition(
            api.clone(),
            &name,
            kube::runtime::conditions::is_crd_established(),
        )
        .await?;
    }
    Ok(())
}

/// policy/v1 PodDisruptionBudget exists from 1.21; on an older test server
/// its identical policy/v1beta1 form is applied instead.
fn for_this_server(kubeconfig: &Path, rendered: &str) -> anyhow::Result<String> {
    let served = kubectl(kubeconfig, &["api-versions"], None)?;
    if served.lines().any(|l| l == "policy/v1") {
        return Ok(rendered.to_string());
    }
    Ok(rendered
        .split("\n---\n")
        .map(|doc| {
            if doc.contains("kind: PodDisruptionBudget") {
                doc.replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n")
            } else {
                doc.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n---\n"))
}

#[tokio::test]
async fn every_combination_passes_a_server_dry_run_and_strict_schemas() -> anyhow::Result<()> {
    let h = Harness::without_operator("install").await?;
    let kc = h.env.kubeconfig.clone();
    // A dry run creates nothing, so the namespaces the objects go to must exist.
    for ns in ["chime-pipeline-operator", "meetings"] {
        ensure_namespace(&h.env.client, ns).await?;
    }
    stand_in_monitoring_crds(&h.env.client).await?;
    let out_dir = Path::new(REPO)
        .join("target/kustomize-tests")
        .join(format!("{}-rendered", h.env.namespace));
    std::fs::create_dir_all(&out_dir)?;

    // The CRDs, installed apart. A 1.20 server's OpenAPI predates
    // x-kubernetes-validations, so kubectl's own schema check refuses it;
    // the server takes the CRD.
    let crds = render(&kc, &Path::new(REPO).join("deploy/crds"))?;
    let out = kubectl(
        &kc,
        &["apply", "--dry-run=server", "--validate=false", "-f", "-"],
        Some(&crds),
    )?;
    assert_eq!(out.matches("(server dry run)").count(), 2, "{out}");
    let mut files = vec![out_dir.join("crds.yaml")];
    std::fs::write(&files[0], &crds)?;

    let mut objects = 2;
    for (name, dir) in combinations(&h.env.namespace)? {
        let rendered = render(&kc, &dir)?;
        ensure!(
            !rendered.contains("kind: CustomResourceDefinition"),
            "{name} installs CRDs: removing it would remove every resource"
        );
        ensure!(
            !rendered.contains("111122223333") && !rendered.contains("CHIME_OPERATOR_REGION"),
            "{name} carries a placeholder account or a fixed region"
        );
        let docs =
            rendered.matches("\nkind: ").count() + usize::from(rendered.starts_with("kind: "));
        let out = kubectl(
            &kc,
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&for_this_server(&kc, &rendered)?),
        )
        .with_context(|| format!("dry run of {name}"))?;
        let n = out.matches("(server dry run)").count();
        assert_eq!(n, docs, "{name}: {n} of {docs} objects passed:\n{out}");
        objects += n;
        let file = out_dir.join(format!("{}.yaml", name.replace([' ', '/', '+'], "")));
        std::fs::write(&file, &rendered)?;
        files.push(file);
    }

    let validate = which("kubernetes-validate")?;
    for version in SUPPORTED {
        let out = std::process::Command::new(&validate)
            .args(["--strict", "--quiet", "-k", version])
            .args(&files)
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || text.contains("ERROR") {
            bail!("strict validation for Kubernetes {version} failed:\n{text}");
        }
    }
    eprintln!(
        "install: {} combinations, {objects} objects passed a server-side dry run and strict \
         validation for Kubernetes {} to {}",
        files.len() - 1,
        SUPPORTED[0],
        SUPPORTED[SUPPORTED.len() - 1]
    );
    Ok(())
}

fn which(tool: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .with_context(|| format!("{tool} is not on PATH: run the tests with `bash tests/run`"))
}

/// A real install (under names of this test's own), the operator running
/// with exactly the rights it gives, then the uninstall the README gives:
/// every resource stays, with its finalizer and its pipeline ID, and no AWS
/// pipeline is deleted; the CRDs stay.
#[tokio::test]
async fn uninstalling_the_operator_leaves_every_resource_and_aws_pipeline() -> anyhow::Result<()> {
    let h = Harness::without_operator("uninstall").await?;
    let kc = h.env.kubeconfig.clone();
    let op_ns = format!("{}-op", h.env.namespace);
    let dir = overlay(
        &op_ns,
        &format!(
            "resources: [{{REPO}}/deploy/install/pod-identity]\nnamespace: {op_ns}\nnamePrefix: {op_ns}-\n"
        ),
    )?;
    let manifests = for_this_server(&kc, &render(&kc, &dir)?)?;
    kubectl(&kc, &["apply", "-f", "-"], Some(&manifests))?;

    // The operator as the install's pods would run it: its ServiceAccount,
    // leader election in its namespace, the region from AWS_REGION.
    let sa = format!("{op_ns}-chime-pipeline-operator");
    let token = kubectl(
        &kc,
        &[
            "-n",
            &op_ns,
            "create",
            "token",
            &sa,
            "--audience",
            "https://kubernetes.default.svc",
        ],
        None,
    )?;
    let token = token.trim();
    let op_kc = h.env.kubeconfig_with_token(token)?;
    let mut op = Operator::spawn_with(
        &op_kc,
        &h.emulator.endpoint_url(),
        &h.env.namespace,
        &["--leader-election", "--lease-namespace", &op_ns],
        &[("POD_NAMESPACE", op_ns.as_str())],
        Stdio::inherit(),
    )?;
    let mut uids = vec![];
    for i in 0..3 {
        let o = h
            .create(&format!("p{i}"), spec_json(&format!("m-u{i}"), json!({})))
            .await?;
        uids.push(uid(&o)?);
    }
    for i in 0..3 {
        h.wait_ready(&format!("p{i}")).await?;
    }

    // Uninstall: what `kubectl delete -k deploy/install/pod-identity`
    // deletes. The pods go with the Deployment: the process stops too.
    kubectl(
        &kc,
        &["delete", "--wait=false", "-f", "-"],
        Some(&manifests),
    )?;
    op.child.start_kill()?;
    op.child.wait().await?;
    // The namespace controller empties and removes the operator's namespace.
    let namespaces: Api<Namespace> = Api::all(h.env.client.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while namespaces.get_opt(&op_ns).await?.is_some() {
        ensure!(
            std::time::Instant::now() < deadline,
            "{op_ns} not deleted in 120 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let crds: Api<CustomResourceDefinition> = Api::all(h.env.client.clone());
    for crd in [
        "mediastreampipelines.media.chimeoperator.dev",
        "mediapipelinekinesisvideostreampools.media.chimeoperator.dev",
    ] {
        ensure!(
            crds.get_opt(crd).await?.is_some(),
            "the uninstall removed {crd}"
        );
    }
    for i in 0..3 {
        let o = h.api().get(&format!("p{i}")).await?;
        assert!(o.metadata.deletion_timestamp.is_none());
        assert!(
            o.status
                .as_ref()
                .and_then(|s| s.media_pipeline_id.as_ref())
                .is_some(),
            "p{i} lost its pipeline ID"
        );
    }
    let pipelines = h.emulator.pipelines();
    assert_eq!(pipelines.len(), 3);
    assert!(
        pipelines.iter().all(|p| !p.deleted),
        "an AWS pipeline was deleted"
    );
    assert_eq!(h.emulator.call_count("DeleteMediaPipeline"), 0);
    h.assert_one_pipeline_per_uid(&uids);
    eprintln!("uninstall: 3 resources and 3 AWS pipelines left in place, CRDs kept");
    Ok(())
}
