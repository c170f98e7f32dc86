//! What the tests of the shipped files share (production, image, install,
//! rbac, monitoring): kubectl, kustomize rendering, and the shipped RBAC
//! installed under a test's own names.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, PostParams};
use testworld::TestEnv;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// kubectl against `kubeconfig`, with `stdin` piped in; stdout and stderr
/// together, or an error carrying them.
pub fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running kubectl")?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("kubectl {args:?} failed:\n{text}");
    }
    Ok(text)
}

/// A kustomization of a test's own, as a user's overlay would be: `body` is
/// its YAML, in which `{REPO}` stands for the repository (kustomize takes
/// only relative paths). It lives under target/, so that such a path
/// exists; `name` must be unique to the test. Returns its folder.
pub fn overlay(name: &str, body: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = Path::new(REPO).join("target/kustomize-tests").join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("kustomization.yaml"),
        body.replace("{REPO}", "../../.."),
    )?;
    Ok(dir)
}

/// `kubectl kustomize DIR`.
pub fn render(kubeconfig: &Path, dir: &Path) -> anyhow::Result<String> {
    kubectl(kubeconfig, &["kustomize", &dir.display().to_string()], None)
}

/// Installs the ClusterRole of deploy/base under a name of this test's.
pub async fn install_shipped_cluster_role(env: &TestEnv) -> anyhow::Result<String> {
    let mut role: ClusterRole = serde_yaml_ng::from_str(&std::fs::read_to_string(format!(
        "{REPO}/deploy/base/clusterrole.yaml"
    ))?)?;
    let role_name = format!("{}-shipped", env.namespace);
    role.metadata.name = Some(role_name.clone());
    Api::<ClusterRole>::all(env.client.clone())
        .create(&PostParams::default(), &role)
        .await?;
    Ok(role_name)
}

/// Installs the leader-election Role of deploy/base in `env`'s namespace,
/// bound to every service account of that namespace (the test's operator
/// identities are made there, under names of their own).
pub async fn install_shipped_lease_role(env: &TestEnv) -> anyhow::Result<()> {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};
    use kube::api::ObjectMeta;
    let text = std::fs::read_to_string(format!("{REPO}/deploy/base/role-leader-election.yaml"))?;
    let doc = serde_yaml_ng::Deserializer::from_str(&text)
        .next()
        .context("role-leader-election.yaml is empty")?;
    let mut role: Role = serde::Deserialize::deserialize(doc)?;
    role.metadata.namespace = Some(env.namespace.clone());
    let role_name = role.metadata.name.clone().context("Role without a name")?;
    let pp = PostParams::default();
    Api::<Role>::namespaced(env.client.clone(), &env.namespace)
        .create(&pp, &role)
        .await?;
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(role_name.clone()),
            namespace: Some(env.namespace.clone()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: role_name,
        },
        subjects: Some(vec![Subject {
            kind: "Group".into(),
            name: format!("system:serviceaccounts:{}", env.namespace),
            api_group: Some("rbac.authorization.k8s.io".into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(env.client.clone(), &env.namespace)
        .create(&pp, &binding)
        .await?;
    Ok(())
}
