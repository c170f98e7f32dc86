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

/// The image deploy/base names: a placeholder under the reserved `.invalid`
/// domain, which a user's `images:` entry replaces.
const SHIPPED_IMAGE: &str = concat!(
    "registry.invalid/chime-pipeline-operator:",
    env!("CARGO_PKG_VERSION")
);
/// What the test's user overlays set the image to.
const USER_IMAGE: &str =
    "123456789012.dkr.ecr.eu-west-2.amazonaws.com/chime-pipeline-operator:0.1.0";
const USER_ROLE: &str = "arn:aws:iam::123456789012:role/chime-pipeline-operator";
const USER_REGION: &str = "eu-west-2";
const USER_QUEUE: &str =
    "https://sqs.eu-west-2.amazonaws.com/210987654321/chime-pipeline-operator-events";
/// The namespaces the namespaced overlay's test installs watch.
const WATCHED: [&str; 2] = ["meetings", "webinars"];
/// Left in a file for the user to fill in: none may reach the cluster.
const PLACEHOLDERS: [&str; 6] = [
    "111122223333",
    "OIDC_PROVIDER",
    "REPLACE_ME",
    "WATCHED_NAMESPACE",
    "${",
    "<account>",
];
/// The kinds deploy/ renders, by scope; any other kind fails the test
/// until it is added to one of these lists.
const CLUSTER_SCOPED: [&str; 4] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
];
const NAMESPACED: [&str; 9] = [
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "ConfigMap",
    "ServiceMonitor",
    "PrometheusRule",
];

/// One way to install: a kustomization folder, and what the user set in
/// it (None: the shipped default).
struct InstallPath {
    name: String,
    dir: PathBuf,
    image: Option<&'static str>,
    role_arn: Option<&'static str>,
    region: Option<&'static str>,
    /// The event queue's URL (components/events, given with the region).
    queue: Option<&'static str>,
    watched: Option<&'static [&'static str]>,
}

/// Every way to install: the ready-to-apply folders of deploy/install, and
/// a user's own kustomization over deploy/base or the namespaced overlay
/// (watching two namespaces) with each identity component, with and
/// without the region and monitoring components, with the shipped image
/// or the user's own, as docs/install.md writes them.
fn install_paths(prefix: &str) -> anyhow::Result<Vec<InstallPath>> {
    let mut all = vec![];
    for c in ["irsa", "pod-identity"] {
        all.push(InstallPath {
            name: format!("deploy/install/{c}"),
            dir: Path::new(REPO).join("deploy/install").join(c),
            image: None,
            role_arn: None,
            region: None,
            queue: None,
            watched: None,
        });
    }
    for namespaced in [false, true] {
        for identity in ["irsa", "irsa-role-arn", "pod-identity"] {
            for region in [false, true] {
                for monitoring in [false, true] {
                    for own_image in [false, true] {
                        let mut components = vec![format!("{{REPO}}/deploy/components/{identity}")];
                        let mut settings = vec![];
                        let base = if namespaced {
                            for n in 1..=WATCHED.len() {
                                components
                                    .push(format!("{{REPO}}/deploy/overlays/namespaced/watch-{n}"));
                            }
                            settings.push(format!("namespaces={}", WATCHED.join(",")));
                            "overlays/namespaced"
                        } else {
                            "base"
                        };
                        if identity == "irsa-role-arn" {
                            settings.push(format!("roleArn={USER_ROLE}"));
                        }
                        if region {
                            components.push("{REPO}/deploy/components/region".into());
                            settings.push(format!("region={USER_REGION}"));
                            components.push("{REPO}/deploy/components/events".into());
                            settings.push(format!("eventQueueUrl={USER_QUEUE}"));
                        }
                        if monitoring {
                            components.push("{REPO}/deploy/components/monitoring".into());
                        }
                        let mut body = json!({
                            "apiVersion": "kustomize.config.k8s.io/v1beta1",
                            "kind": "Kustomization",
                            "resources": [format!("{{REPO}}/deploy/{base}")],
                            "components": components,
                        });
                        if own_image {
                            let (name, tag) = USER_IMAGE.rsplit_once(':').context("no tag")?;
                            body["images"] = json!([{
                                "name": SHIPPED_IMAGE.rsplit_once(':').context("no tag")?.0,
                                "newName": name, "newTag": tag}]);
                        }
                        if !settings.is_empty() {
                            body["configMapGenerator"] = json!([{
                                "name": "chime-pipeline-operator-settings",
                                "literals": settings}]);
                        }
                        let name = format!(
                            "{base} + {identity}{}{}{}",
                            if region { " + region + events" } else { "" },
                            if monitoring { " + monitoring" } else { "" },
                            if own_image { " + own image" } else { "" },
                        );
                        let dir = overlay(
                            &format!("{prefix}-{}", name.replace([' ', '/', '+'], "")),
                            &serde_json::to_string_pretty(&body)?,
                        )?;
                        all.push(InstallPath {
                            name,
                            dir,
                            image: own_image.then_some(USER_IMAGE),
                            role_arn: (identity == "irsa-role-arn").then_some(USER_ROLE),
                            region: region.then_some(USER_REGION),
                            queue: region.then_some(USER_QUEUE),
                            watched: namespaced.then_some(&WATCHED[..]),
                        });
                    }
                }
            }
        }
    }
    Ok(all)
}

/// The rendered objects of a kustomization.
fn objects(rendered: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    serde_yaml_ng::Deserializer::from_str(rendered)
        .map(|doc| Ok(serde::Deserialize::deserialize(doc)?))
        .collect()
}

fn named<'a>(
    objects: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> Vec<&'a serde_json::Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect()
}

/// The value of environment variable `name` of the operator's container.
fn env_of(deployment: &serde_json::Value, name: &str) -> Option<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .map(String::from)
}

/// What every install path must render: each namespaced object with a
/// namespace, each cluster-scoped one without; the image the user set, or
/// else the shipped placeholder, and never a name without a registry; no
/// placeholder; the pod as Pod Security `restricted` admits it, on Linux
/// nodes, in a namespace that enforces `restricted`; and the settings the
/// user gave (role, region, watched namespaces, with rights there only).
fn check_rendered(path: &InstallPath, rendered: &str) -> anyhow::Result<()> {
    let name = &path.name;
    for p in PLACEHOLDERS {
        ensure!(
            !rendered.contains(p),
            "{name} still carries the placeholder {p}"
        );
    }
    let objects = objects(rendered)?;
    for o in &objects {
        let kind = o["kind"].as_str().context("object without kind")?;
        let ns = o["metadata"]["namespace"].as_str().unwrap_or_default();
        let id = format!("{name}: {kind} {}", o["metadata"]["name"]);
        if NAMESPACED.contains(&kind) {
            ensure!(
                !ns.is_empty(),
                "{id} has no namespace: it would land in the applier's"
            );
        } else {
            ensure!(
                CLUSTER_SCOPED.contains(&kind),
                "{id}: scope unknown to this test"
            );
            ensure!(
                ns.is_empty(),
                "{id} is cluster-scoped but names namespace {ns}"
            );
        }
        for key in ["containers", "initContainers"] {
            for c in o["spec"]["template"]["spec"][key]
                .as_array()
                .into_iter()
                .flatten()
            {
                let image = c["image"].as_str().context("container without image")?;
                let host = image.split_once('/').map(|(h, _)| h).unwrap_or_default();
                ensure!(
                    host.contains('.') || host.contains(':') || host == "localhost",
                    "{id}: image {image} names no registry (it would come from Docker Hub)"
                );
                ensure!(
                    image == path.image.unwrap_or(SHIPPED_IMAGE),
                    "{id}: image {image}, not {:?}",
                    path.image.unwrap_or(SHIPPED_IMAGE)
                );
            }
        }
    }
    ensure!(
        named(&objects, "ConfigMap", "chime-pipeline-operator-settings").is_empty()
            && !objects.iter().any(|o| o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("chime-pipeline-operator-settings"))),
        "{name}: the settings ConfigMap is applied"
    );

    let ns = named(&objects, "Namespace", "chime-pipeline-operator");
    ensure!(
        ns.len() == 1
            && ns[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted",
        "{name}: the operator's namespace does not enforce Pod Security restricted"
    );
    let deployment = named(&objects, "Deployment", "chime-pipeline-operator");
    ensure!(
        deployment.len() == 1,
        "{name}: {} Deployments",
        deployment.len()
    );
    let deployment = deployment[0];
    let pod = &deployment["spec"]["template"]["spec"];
    ensure!(
        pod["nodeSelector"]["kubernetes.io/os"] == "linux",
        "{name}: no Linux nodeSelector"
    );
    ensure!(
        pod["securityContext"]["runAsNonRoot"] == true
            && pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault",
        "{name}: the pod may run as root or without seccomp"
    );
    for c in pod["containers"].as_array().context("no containers")? {
        let sc = &c["securityContext"];
        ensure!(
            sc["allowPrivilegeEscalation"] == false
                && sc["readOnlyRootFilesystem"] == true
                && sc["capabilities"]["drop"] == json!(["ALL"])
                && sc["capabilities"].get("add").is_none()
                && sc.get("privileged").is_none_or(|p| p == false),
            "{name}: container {} fails Pod Security restricted",
            c["name"]
        );
    }

    ensure!(
        env_of(deployment, "CHIME_OPERATOR_REGION").as_deref() == path.region,
        "{name}: region {:?}, not {:?}",
        env_of(deployment, "CHIME_OPERATOR_REGION"),
        path.region
    );
    let queue = env_of(deployment, "CHIME_OPERATOR_EVENT_QUEUE_URL");
    ensure!(
        queue.as_deref() == path.queue,
        "{name}: event queue {queue:?}, not {:?}",
        path.queue
    );
    let sa = named(&objects, "ServiceAccount", "chime-pipeline-operator");
    ensure!(sa.len() == 1, "{name}: {} ServiceAccounts", sa.len());
    ensure!(
        sa[0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].as_str() == path.role_arn,
        "{name}: the ServiceAccount's role is not {:?}",
        path.role_arn
    );

    // The operator's rights on the resources: a ClusterRole bound
    // cluster-wide, or, namespaced, the same rules as Roles in exactly
    // the watched namespaces.
    let cluster_rules = |o: &serde_json::Value| -> Vec<serde_json::Value> {
        o["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["apiGroups"] != json!([""]))
            .cloned()
            .collect()
    };
    let roles = named(&objects, "Role", "chime-pipeline-operator");
    let bindings = named(&objects, "RoleBinding", "chime-pipeline-operator");
    let cluster_role = named(&objects, "ClusterRole", "chime-pipeline-operator");
    let cluster_binding = named(&objects, "ClusterRoleBinding", "chime-pipeline-operator");
    match path.watched {
        None => {
            ensure!(
                cluster_role.len() == 1 && cluster_binding.len() == 1 && roles.is_empty(),
                "{name}: not the cluster-wide RBAC"
            );
            ensure!(
                env_of(deployment, "CHIME_OPERATOR_NAMESPACE").is_none(),
                "{name}: watches only some namespaces"
            );
        }
        Some(watched) => {
            ensure!(
                cluster_role.is_empty() && cluster_binding.is_empty(),
                "{name}: the namespaced install keeps cluster-wide rights"
            );
            ensure!(
                env_of(deployment, "CHIME_OPERATOR_NAMESPACE") == Some(watched.join(",")),
                "{name}: watches {:?}, not {watched:?}",
                env_of(deployment, "CHIME_OPERATOR_NAMESPACE")
            );
            let base: serde_json::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(
                format!("{REPO}/deploy/base/clusterrole.yaml"),
            )?)?;
            for list in [&roles, &bindings] {
                let mut in_ns: Vec<&str> = list
                    .iter()
                    .filter_map(|o| o["metadata"]["namespace"].as_str())
                    .collect();
                in_ns.sort_unstable();
                ensure!(
                    in_ns == watched,
                    "{name}: operator rights in {in_ns:?}, not {watched:?}"
                );
            }
            for role in &roles {
                ensure!(
                    role["rules"] == json!(cluster_rules(&base)),
                    "{name}: a watched namespace's Role is not the base ClusterRole's rules"
                );
            }
            for b in &bindings {
                ensure!(
                    b["subjects"]
                        == json!([{"kind": "ServiceAccount", "name": "chime-pipeline-operator",
                            "namespace": "chime-pipeline-operator"}]),
                    "{name}: a RoleBinding binds someone else"
                );
            }
        }
    }
    Ok(())
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
    for ns in ["chime-pipeline-operator"].iter().chain(&WATCHED) {
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
    // One per kind, as crds/ lists them.
    let kinds = crds.matches("kind: CustomResourceDefinition").count();
    assert!(kinds >= 3, "{crds}");
    assert_eq!(out.matches("(server dry run)").count(), kinds, "{out}");
    let mut files = vec![out_dir.join("crds.yaml")];
    std::fs::write(&files[0], &crds)?;

    let mut objects = kinds;
    for InstallPath { name, dir, .. } in install_paths(&h.env.namespace)? {
        let rendered = render(&kc, &dir)?;
        ensure!(
            !rendered.contains("kind: CustomResourceDefinition"),
            "{name} installs CRDs: removing it would remove every resource"
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

/// Rendering alone (no server: a dry run would put namespace-less objects
/// into the kubeconfig's namespace and hide them): every install path and
/// component combination passes `check_rendered`.
#[test]
fn every_install_path_renders_namespaced_with_its_image_and_no_placeholder() -> anyhow::Result<()> {
    let no_server = Path::new("/nonexistent/kubeconfig");
    let paths = install_paths("render")?;
    for path in &paths {
        let rendered = render(no_server, &path.dir)?;
        check_rendered(path, &rendered)?;
    }
    // A watch-N past the end of `namespaces=` is an error, not a Role in
    // no namespace.
    let dir = overlay(
        "render-watch-past-the-end",
        "resources: [{REPO}/deploy/overlays/namespaced]\n\
         components: [{REPO}/deploy/components/pod-identity, \
         {REPO}/deploy/overlays/namespaced/watch-1, {REPO}/deploy/overlays/namespaced/watch-3]\n\
         configMapGenerator:\n  - name: chime-pipeline-operator-settings\n    \
         literals: [\"namespaces=meetings,webinars\"]\n",
    )?;
    let err = render(no_server, &dir).expect_err("watch-3 rendered with two namespaces");
    ensure!(format!("{err:#}").contains("out of bounds"), "{err:#}");
    eprintln!("install: {} install paths render as they must", paths.len());
    Ok(())
}

/// The IAM trust policies are templates for `envsubst`, as docs/install.md
/// runs it: filled in, each is JSON with nothing left to fill, and the IRSA
/// one trusts exactly the cluster's OIDC provider for the operator's
/// ServiceAccount.
#[test]
fn the_trust_policy_templates_fill_in_with_envsubst() -> anyhow::Result<()> {
    let provider = "oidc.eks.eu-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
    for file in [
        "iam-trust-policy-irsa.json",
        "iam-trust-policy-pod-identity.json",
    ] {
        let out = std::process::Command::new("envsubst")
            .env("ACCOUNT_ID", "123456789012")
            .env("OIDC_PROVIDER", provider)
            .stdin(std::fs::File::open(format!("{REPO}/deploy/{file}"))?)
            .output()
            .context("running envsubst (gettext-base)")?;
        ensure!(out.status.success(), "envsubst failed on {file}");
        let text = String::from_utf8(out.stdout)?;
        for p in PLACEHOLDERS {
            ensure!(!text.contains(p), "{file} keeps {p} once filled in");
        }
        let policy: serde_json::Value = serde_json::from_str(&text)?;
        let statement = &policy["Statement"][0];
        if file.contains("irsa") {
            ensure!(
                statement["Principal"]["Federated"]
                    == format!("arn:aws:iam::123456789012:oidc-provider/{provider}").as_str()
            );
            ensure!(
                statement["Condition"]["StringEquals"]
                    == json!({
                        format!("{provider}:aud"): "sts.amazonaws.com",
                        format!("{provider}:sub"):
                            "system:serviceaccount:chime-pipeline-operator:chime-pipeline-operator",
                    }),
                "{file}: {statement}"
            );
        }
    }
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
