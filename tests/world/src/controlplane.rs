//! A real etcd + kube-apiserver + kube-controller-manager on loopback, from
//! the binaries that tests/provision.sh builds. One is started per test run
//! (by the `world` program) and shared by every test through its kubeconfig.
//!
//! The controller manager is what makes namespace deletion, garbage
//! collection (owner references) and ClusterRole aggregation (the `edit` and
//! `view` roles picking up the operator's rules) happen; there is no
//! scheduler and no kubelet, so Deployments never get pods.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The bearer token of the control plane's admin (group system:masters).
const ADMIN_USER: &str = "testworld-admin";

pub struct ControlPlane {
    dir: Option<tempfile::TempDir>,
    etcd: Option<Child>,
    apiserver: Option<Child>,
    controller_manager: Option<Child>,
    bin_dir: PathBuf,
    etcd_args: Vec<String>,
    apiserver_args: Vec<String>,
    pub server_url: String,
    pub kubeconfig: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Children die with the process that started them, even on SIGKILL, so a
/// crashed test run leaves no server behind. The signal is tied to the thread
/// that spawns, so spawn only from a thread that lives as long as the world.
fn spawn(cmd: &mut Command, log: &Path) -> anyhow::Result<Child> {
    let out = fs::File::create(log)?;
    cmd.stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(cmd.spawn()?)
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver from `bin_dir`, waits until /readyz
    /// answers ok, and writes an admin kubeconfig.
    pub async fn start(bin_dir: &Path) -> anyhow::Result<ControlPlane> {
        let dir = tempfile::Builder::new().prefix("testworld-").tempdir()?;
        let root = dir.path().to_path_buf();
        let mut cp = ControlPlane {
            dir: Some(dir),
            etcd: None,
            apiserver: None,
            controller_manager: None,
            server_url: String::new(),
            kubeconfig: root.join("kubeconfig"),
            bin_dir: bin_dir.to_path_buf(),
            etcd_args: vec![],
            apiserver_args: vec![],
        };

        let (etcd_port, peer_port, api_port) = (free_port()?, free_port()?, free_port()?);
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        cp.etcd_args = vec![
            format!("--data-dir={}", root.join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
            "--log-level=warn".into(),
        ];
        cp.start_etcd()?;

        let token = uuid::Uuid::new_v4().simple().to_string();
        fs::write(
            root.join("tokens.csv"),
            format!("{token},{ADMIN_USER},{ADMIN_USER},system:masters\n"),
        )?;
        let sa_key = root.join("sa.key");
        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&sa_key)
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .context("running openssl to make the service account key")?;
        if !status.success() {
            bail!("openssl genrsa failed");
        }
        let certs = root.join("certs");
        cp.apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            format!("--cert-dir={}", certs.display()),
            format!("--secure-port={api_port}"),
            "--insecure-port=0".into(),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--token-auth-file={}", root.join("tokens.csv").display()),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", sa_key.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            "--enable-priority-and-fairness=false".into(),
            "--v=0".into(),
        ];
        cp.start_apiserver()?;
        cp.server_url = format!("https://127.0.0.1:{api_port}");

        // The apiserver writes its self-signed certificate (leaf + CA) at start.
        let cert_file = certs.join("apiserver.crt");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cert_file.exists() {
            cp.check_alive()?;
            if Instant::now() > deadline {
                bail!("kube-apiserver wrote no certificate in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ca = fs::read(&cert_file)?;
        fs::write(&cp.kubeconfig, kubeconfig_yaml(&cp.server_url, &ca, &token))?;

        cp.wait_ready().await?;

        let mut cmd = Command::new(cp.bin_dir.join("kube-controller-manager"));
        cmd.arg(format!("--kubeconfig={}", cp.kubeconfig.display()))
            .arg(format!(
                "--service-account-private-key-file={}",
                sa_key.display()
            ))
            .arg(format!("--root-ca-file={}", cert_file.display()))
            // No serving: nothing here scrapes it, and fixed ports would
            // clash between the control planes of one test run.
            .args(["--port=0", "--secure-port=0", "--leader-elect=false"])
            .arg("--v=0");
        cp.controller_manager = Some(spawn(&mut cmd, &root.join("kube-controller-manager.log"))?);
        cp.wait_aggregation().await?;
        Ok(cp)
    }

    /// Waits until the controller manager works: the built-in `view` role,
    /// empty until its aggregation controller fills it, has rules.
    async fn wait_aggregation(&mut self) -> anyhow::Result<()> {
        use k8s_openapi::api::rbac::v1::ClusterRole;
        let client = crate::client_from_kubeconfig(&self.kubeconfig).await?;
        let roles: kube::Api<ClusterRole> = kube::Api::all(client);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_alive()?;
            let role = roles.get_opt("view").await?;
            if role.and_then(|r| r.rules).is_some_and(|r| !r.is_empty()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("kube-controller-manager aggregated no ClusterRole in 120 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn start_etcd(&mut self) -> anyhow::Result<()> {
        let root = self.dir().context("control plane stopped")?.to_path_buf();
        let mut cmd = Command::new(self.bin_dir.join("etcd"));
        cmd.args(&self.etcd_args);
        self.etcd = Some(spawn(&mut cmd, &root.join("etcd.log"))?);
        Ok(())
    }

    fn start_apiserver(&mut self) -> anyhow::Result<()> {
        let root = self.dir().context("control plane stopped")?.to_path_buf();
        let mut cmd = Command::new(self.bin_dir.join("kube-apiserver"));
        cmd.args(&self.apiserver_args);
        self.apiserver = Some(spawn(&mut cmd, &root.join("kube-apiserver.log"))?);
        Ok(())
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = crate::client_from_kubeconfig(&self.kubeconfig).await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_alive()?;
            let req = http::Request::get("/readyz").body(Vec::new())?;
            match client.request_text(req).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                _ if Instant::now() > deadline => bail!("kube-apiserver not ready in 120 s"),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Fault injection: kills kube-apiserver and starts it again on the same
    /// port and data, returning once it is ready. Spawn from the thread that
    /// started the control plane (see [`spawn`]).
    pub async fn restart_apiserver(&mut self) -> anyhow::Result<()> {
        if let Some(mut c) = self.apiserver.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.start_apiserver()?;
        self.wait_ready().await
    }

    /// Fault injection: stops etcd (SIGKILL); [`ControlPlane::start_etcd_again`] brings it back.
    pub fn stop_etcd(&mut self) {
        if let Some(mut c) = self.etcd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub async fn start_etcd_again(&mut self) -> anyhow::Result<()> {
        self.start_etcd()?;
        self.wait_ready().await
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        for (name, child) in [
            ("etcd", &mut self.etcd),
            ("kube-apiserver", &mut self.apiserver),
            ("kube-controller-manager", &mut self.controller_manager),
        ] {
            if let Some(c) = child
                && let Some(status) = c.try_wait()?
            {
                let log = self
                    .dir
                    .as_ref()
                    .map(|d| d.path().join(format!("{name}.log")));
                let tail = log
                    .and_then(|l| fs::read_to_string(l).ok())
                    .map(|s| s.lines().rev().take(20).collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default();
                bail!("{name} exited with {status}; last log lines (newest first):\n{tail}");
            }
        }
        Ok(())
    }

    /// The folder holding data, logs and the kubeconfig; gone after `stop`.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Stops the servers, waits for them, and removes their files.
    pub fn stop(&mut self) {
        for child in [
            self.controller_manager.take(),
            self.apiserver.take(),
            self.etcd.take(),
        ]
        .into_iter()
        .flatten()
        {
            let mut child = child;
            // SIGTERM first so etcd closes its files; SIGKILL if it lingers.
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kubeconfig_yaml(server: &str, ca_pem: &[u8], token: &str) -> String {
    use base64::Engine;
    use std::fmt::Write;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testworld\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: testworld\n  context:\n    cluster: testworld\n    user: admin\ncurrent-context: testworld\n"
    );
    s
}
