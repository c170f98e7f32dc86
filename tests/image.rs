//! The container image, built and run for real: buildah builds
//! deploy/Dockerfile for linux/amd64 and linux/arm64 into one OCI image
//! index (the build stage supplied by tests/image-build.sh, which builds
//! natively from exactly what that stage copies), podman runs the amd64
//! image read-only as its non-root user against the test control plane and
//! the emulator until a MediaStreamPipeline is Ready, and qemu runs the
//! arm64 binary.

mod common;
mod shipped;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};
use common::*;
use serde_json::{Value, json};
use shipped::{REPO, install_shipped_cluster_role};

/// Runs a command; its stdout, or an error with both outputs.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// tests/image-build.sh: the folder holding `amd64/` and `arm64/`, each what
/// the Dockerfile's build stage leaves for the final stage. tests/run builds
/// it before the tests (CHIME_IMAGE_BUILD names it); run alone, a test
/// builds it.
fn native_build() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CHIME_IMAGE_BUILD") {
        return Ok(PathBuf::from(dir));
    }
    let out = run(Command::new("bash")
        .arg(format!("{REPO}/tests/image-build.sh"))
        .stderr(Stdio::inherit()))?;
    Ok(PathBuf::from(out.trim()))
}

/// buildah and podman on a storage of this test's own (vfs: works without
/// overlay or fuse), removed with it.
struct Engine {
    root: PathBuf,
    runroot: PathBuf,
    containers: Vec<String>,
}

impl Engine {
    fn new(name: &str) -> anyhow::Result<Engine> {
        let root = Path::new(REPO).join("target/image-tests").join(name);
        // podman refuses a runroot longer than 50 characters, and a clone's
        // path can be any length: the runroot (sockets and locks, no
        // layers) lives under /tmp, the storage beside the build.
        let runroot = Path::new("/tmp").join(format!("podman-{name}"));
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(&runroot)?;
        Ok(Engine {
            root,
            runroot,
            containers: vec![],
        })
    }

    fn storage_args(&self) -> Vec<String> {
        vec![
            "--storage-driver".into(),
            "vfs".into(),
            "--root".into(),
            self.root.join("storage").display().to_string(),
            "--runroot".into(),
            self.runroot.display().to_string(),
        ]
    }

    fn buildah(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("buildah").args(self.storage_args()).args(args))
    }

    fn podman(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("podman")
            .args(self.storage_args())
            .args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .args(args))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = self.podman(&["rm", "--force", "--time", "2", c]);
        }
        // The vfs storage holds a full copy per layer: do not keep it.
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_dir_all(&self.runroot);
    }
}

/// The platforms of an OCI image layout's index: `os/arch` of every
/// manifest of the image index it holds.
fn platforms(layout: &Path) -> anyhow::Result<Vec<String>> {
    let blob = |digest: &str| -> anyhow::Result<Value> {
        let (alg, hex) = digest.split_once(':').context("digest without algorithm")?;
        let text = std::fs::read(layout.join("blobs").join(alg).join(hex))?;
        Ok(serde_json::from_slice(&text)?)
    };
    let top: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    // index.json names the pushed image index (a manifest list pushed with
    // --all), which names one manifest per platform.
    let mut found = vec![];
    for m in top["manifests"]
        .as_array()
        .context("index.json without manifests")?
    {
        let inner = if m["mediaType"] == "application/vnd.oci.image.index.v1+json" {
            blob(m["digest"].as_str().context("no digest")?)?
        } else {
            top.clone()
        };
        for p in inner["manifests"]
            .as_array()
            .context("index without manifests")?
        {
            let manifest = blob(p["digest"].as_str().context("no digest")?)?;
            let config = blob(manifest["config"]["digest"].as_str().context("no config")?)?;
            ensure!(
                config["config"]["User"] == "65532:65532",
                "image {} runs as {:?}, not 65532",
                p["platform"],
                config["config"]["User"]
            );
            ensure!(
                p["platform"]["architecture"] == config["architecture"],
                "index says {} but the image is {}",
                p["platform"]["architecture"],
                config["architecture"]
            );
            found.push(format!(
                "{}/{}",
                p["platform"]["os"].as_str().unwrap_or("?"),
                p["platform"]["architecture"].as_str().unwrap_or("?")
            ));
        }
    }
    found.sort();
    Ok(found)
}

/// deploy/Dockerfile builds for both architectures into one image index, and
/// the amd64 image, run by podman read-only with the shipped ClusterRole,
/// brings a MediaStreamPipeline to Ready.
#[tokio::test]
async fn the_image_builds_for_two_architectures_and_its_operator_gets_a_pipeline_ready()
-> anyhow::Result<()> {
    let built = native_build()?;
    let h = Harness::without_operator("image").await?;
    let mut engine = Engine::new(&h.env.namespace)?;
    // The final stage copies only from the build stage: an empty context.
    let context = engine.root.join("context");
    std::fs::create_dir(&context)?;
    let list = format!("localhost/chime-pipeline-operator-test:{}", h.env.namespace);
    for arch in ["amd64", "arm64"] {
        let stage = built.join(arch);
        engine.buildah(&[
            "bud",
            "--isolation",
            "chroot",
            "--platform",
            &format!("linux/{arch}"),
            "--build-context",
            &format!("build={}", stage.display()),
            "-f",
            &format!("{REPO}/deploy/Dockerfile"),
            "--manifest",
            &list,
            "--tag",
            &format!("{list}-{arch}"),
            &context.display().to_string(),
        ])?;
    }
    let layout = engine.root.join("oci");
    engine.buildah(&[
        "manifest",
        "push",
        "--all",
        &list,
        &format!("oci:{}", layout.display()),
    ])?;
    assert_eq!(platforms(&layout)?, ["linux/amd64", "linux/arm64"]);

    // The operator in the container, with the shipped ClusterRole's rights.
    let role = install_shipped_cluster_role(&h.env).await?;
    let kubeconfig = h.env.kubeconfig_bound_to_cluster_role(&role).await?;
    // The container's user (65532) must read it through the bind mount.
    std::fs::set_permissions(
        &kubeconfig,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let name = format!("operator-{}", h.env.namespace);
    engine.containers.push(name.clone());
    let image = format!("{list}-amd64");
    engine.podman(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--read-only",
        "--network",
        "host",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--volume",
        &format!("{}:/etc/operator/kubeconfig:ro", kubeconfig.display()),
        "--env",
        "KUBECONFIG=/etc/operator/kubeconfig",
        "--env",
        "AWS_ACCESS_KEY_ID=AKIDTEST",
        "--env",
        "AWS_SECRET_ACCESS_KEY=secret",
        // The region the pod gets from IRSA or Pod Identity.
        "--env",
        &format!("AWS_REGION={REGION}"),
        "--env",
        "AWS_EC2_METADATA_DISABLED=true",
        &image,
        "run",
        "--namespace",
        &h.env.namespace,
        "--endpoint-url",
        &h.emulator.endpoint_url(),
        "--http-addr",
        &format!("127.0.0.1:{port}"),
    ])?;
    let inspect: Value = serde_json::from_str(&engine.podman(&["inspect", &name])?)?;
    assert_eq!(inspect[0]["Config"]["User"], "65532:65532");
    assert_eq!(inspect[0]["HostConfig"]["ReadonlyRootfs"], true);

    let o = h.create("p", spec_json("m-image", json!({}))).await?;
    let ready = h.wait_ready("p").await;
    if ready.is_err() {
        let logs = engine
            .podman(&["logs", &name])
            .unwrap_or_else(|e| format!("(no log: {e})"));
        eprintln!("the container's log:\n{logs}");
    }
    let ready = ready?;
    assert_eq!(
        ready
            .status
            .as_ref()
            .and_then(|s| s.common.region.as_deref()),
        Some(REGION),
        "the region did not come from AWS_REGION"
    );
    let (status, body) = testworld::http_get(&format!("127.0.0.1:{port}"), "/metrics").await?;
    assert_eq!(status, 200);
    assert!(body.contains("chime_operator_leader 1"), "{body}");
    h.assert_one_pipeline_per_uid(&[uid(&o)?]);
    eprintln!(
        "image: linux/amd64 + linux/arm64 in one OCI index; the amd64 image brought a pipeline to Ready"
    );
    Ok(())
}

/// The arm64 binary runs (under qemu) and prints the same CRDs as amd64's.
#[test]
fn the_arm64_binary_runs_under_qemu() -> anyhow::Result<()> {
    let built = native_build()?;
    let bin = |arch: &str| built.join(arch).join("out/chime-pipeline-operator");
    let elf = std::fs::read(bin("arm64"))?;
    // ELF e_machine 183 = AArch64: the build really is for arm64.
    ensure!(elf.get(18..20) == Some(&[183, 0][..]), "not an AArch64 ELF");
    let version = run(Command::new("qemu-aarch64-static")
        .arg(bin("arm64"))
        .arg("--version"))?;
    assert!(
        version.contains(env!("CARGO_PKG_VERSION")),
        "arm64 --version: {version}"
    );
    let arm = run(Command::new("qemu-aarch64-static")
        .arg(bin("arm64"))
        .arg("crds"))?;
    let amd = run(Command::new(bin("amd64")).arg("crds"))?;
    assert!(arm.contains("kind: CustomResourceDefinition"));
    assert_eq!(arm, amd, "arm64 and amd64 print different CRDs");
    eprintln!("image: arm64 binary under qemu: {}", version.trim());
    Ok(())
}
