//! The project's test world: a real control plane ([`controlplane`]), an
//! emulator of the Chime SDK Media Pipelines API ([`emulator`]), and what a
//! test needs on top of them ([`TestEnv`]).
//!
//! Tests never start a control plane: `tests/run` starts one per test run
//! and passes its kubeconfig in `CHIME_TEST_KUBECONFIG` (a user may point
//! that at any cluster instead).

pub mod controlplane;
pub mod emulator;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Deserialize;

pub const KUBECONFIG_ENV: &str = "CHIME_TEST_KUBECONFIG";

pub async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The project's crds/ folder.
pub fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds")
}

/// Installs every CRD in `dir` (again if present, so it is always current)
/// and waits until the API server serves them.
pub async fn install_crds(client: &Client, dir: &Path) -> anyhow::Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = vec![];
    let mut files: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|e| e.path());
    for entry in files {
        let text = std::fs::read_to_string(entry.path())?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc)?;
            // crds/ also holds a kustomization listing the CRDs.
            if value["kind"] != "CustomResourceDefinition" {
                continue;
            }
            let mut crd: CustomResourceDefinition = serde_json::from_value(value)?;
            let name = crd.metadata.name.clone().context("CRD without a name")?;
            // Create or replace, not server-side apply: a 1.20 server's apply
            // refuses x-kubernetes-validations, while create and update drop
            // it silently (CEL runs only from 1.25 on).
            // Test processes install concurrently: retry on a conflict.
            for attempt in 0.. {
                let result = match api.get_opt(&name).await? {
                    Some(existing) => {
                        crd.metadata.resource_version = existing.metadata.resource_version;
                        api.replace(&name, &PostParams::default(), &crd)
                            .await
                            .map(|_| ())
                    }
                    None => api.create(&PostParams::default(), &crd).await.map(|_| ()),
                };
                match result {
                    Ok(()) => break,
                    Err(kube::Error::Api(e)) if e.code == 409 && attempt < 10 => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            names.push(name);
        }
    }
    for name in &names {
        let cond = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(api.clone(), name, cond),
        )
        .await
        .with_context(|| format!("CRD {name} not established in 30 s"))??;
    }
    Ok(names)
}

/// Creates the namespace `name` unless it exists: a test or benchmark run
/// that reuses a cluster finds its namespaces already there.
pub async fn ensure_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// GET `path` from the HTTP server at `addr` (`host:port`, with or without
/// `http://`): (status, body). Asks for `Connection: close`, so reading to
/// the end gives the whole answer.
pub async fn http_get(addr: &str, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = addr.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    // 0 when the answer has no status line: callers compare against an
    // expected code, and a garbled answer must simply not match.
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    Ok((status, body))
}

/// What one test gets: an admin client of the shared control plane, the
/// kubeconfig it came from, and a namespace of its own.
pub struct TestEnv {
    pub client: Client,
    pub kubeconfig: PathBuf,
    pub namespace: String,
    /// Files a test writes (kubeconfigs); removed with the TestEnv.
    pub files: tempfile::TempDir,
}

impl TestEnv {
    /// Connects to the control plane named by `CHIME_TEST_KUBECONFIG`,
    /// makes sure the CRDs are current, and creates a fresh namespace whose
    /// name starts with `prefix`.
    pub async fn new(prefix: &str) -> anyhow::Result<TestEnv> {
        let Some(path) = std::env::var_os(KUBECONFIG_ENV) else {
            bail!(
                "{KUBECONFIG_ENV} is not set: run the tests with `bash tests/run` (it starts a \
                 control plane), or point {KUBECONFIG_ENV} at a cluster's kubeconfig"
            );
        };
        TestEnv::on(PathBuf::from(path), prefix).await
    }

    /// The same on the cluster of `kubeconfig` (a test's own control plane).
    pub async fn on(kubeconfig: PathBuf, prefix: &str) -> anyhow::Result<TestEnv> {
        let client = client_from_kubeconfig(&kubeconfig).await?;
        install_crds(&client, &crds_dir()).await?;
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let namespace = format!("{}-{suffix}", prefix.replace('_', "-"));
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.clone()),
                labels: Some([("testworld".to_string(), "true".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await?;
        Ok(TestEnv {
            client,
            kubeconfig,
            namespace,
            files: tempfile::Builder::new().prefix("testenv-").tempdir()?,
        })
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// A client that authenticates as a new service account of this test's
    /// namespace bound to `cluster_role`, with a token from the TokenRequest
    /// API: what a pod of the operator would get.
    pub async fn client_bound_to_cluster_role(&self, cluster_role: &str) -> anyhow::Result<Client> {
        let token = self.token_for_cluster_role(cluster_role).await?;
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let mut config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.into()),
            ..Default::default()
        };
        Ok(Client::try_from(config)?)
    }

    /// The same as a kubeconfig file, for an operator run as its own process.
    pub async fn kubeconfig_bound_to_cluster_role(
        &self,
        cluster_role: &str,
    ) -> anyhow::Result<PathBuf> {
        let token = self.token_for_cluster_role(cluster_role).await?;
        self.kubeconfig_with_token(&token)
    }

    /// The test world's kubeconfig with `token` as the user's credential.
    pub fn kubeconfig_with_token(&self, token: &str) -> anyhow::Result<PathBuf> {
        let mut kubeconfig: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&self.kubeconfig)?)?;
        if let Some(users) = kubeconfig["users"].as_array_mut() {
            for user in users {
                user["user"] = serde_json::json!({ "token": token });
            }
        }
        let path = self
            .files
            .path()
            .join(format!("{}.kubeconfig", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, serde_yaml_ng::to_string(&kubeconfig)?)?;
        Ok(path)
    }

    /// A token of a new service account bound to `cluster_role`.
    pub async fn token_for_cluster_role(&self, cluster_role: &str) -> anyhow::Result<String> {
        let sa_name = format!("sa-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let sas: Api<ServiceAccount> = self.api();
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(sa_name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        sas.create(&PostParams::default(), &sa).await?;
        let binding = ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(format!("{}-{sa_name}", self.namespace)),
                ..Default::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: cluster_role.into(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: sa_name.clone(),
                namespace: Some(self.namespace.clone()),
                ..Default::default()
            }]),
        };
        Api::<ClusterRoleBinding>::all(self.client.clone())
            .create(&PostParams::default(), &binding)
            .await?;
        let tr = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec!["https://kubernetes.default.svc".into()],
                expiration_seconds: Some(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        Ok(sas
            .create_token_request(&sa_name, &PostParams::default(), &tr)
            .await?
            .status
            .context("TokenRequest answered without a token")?
            .token)
    }
}
