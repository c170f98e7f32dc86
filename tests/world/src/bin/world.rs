//! Starts the test world and keeps it up until SIGINT or SIGTERM, then tears
//! it down.
//!
//! `world up`: a control plane for a test run; writes its kubeconfig where
//! asked and touches `<kubeconfig>.ready` once the CRDs are installed.
//!
//! `world demo`: the local demo: control plane, emulator, the operator binary
//! against both, the samples applied, and their status shown as it fills in.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Discovery};
use testworld::controlplane::ControlPlane;
use testworld::emulator::{Emulator, EmulatorConfig};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
struct Cli {
    /// Folder with the etcd and kube-apiserver binaries (tests/provision.sh prints it, plus /bin).
    #[arg(long, env = "TESTWORLD_BIN_DIR")]
    bin_dir: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Up {
        /// Where to write the admin kubeconfig.
        #[arg(long)]
        kubeconfig: PathBuf,
    },
    Demo {
        /// The operator binary to run.
        #[arg(long)]
        operator: PathBuf,
        /// Folder of sample manifests to apply.
        #[arg(long)]
        samples: PathBuf,
        /// Seconds a new pipeline stays Initializing in the emulator.
        #[arg(long, default_value_t = 3)]
        initializing_seconds: u64,
    },
}

// A current-thread runtime: the servers are spawned from the main thread,
// which outlives them, so their parent-death signal fires only when we exit.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                "info,kube_client=off,kube=warn,testworld::emulator=warn".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut term = signal(SignalKind::terminate())?;
    let mut cp = ControlPlane::start(&cli.bin_dir).await?;
    let client = testworld::client_from_kubeconfig(&cp.kubeconfig).await?;
    let crds = testworld::install_crds(&client, &testworld::crds_dir()).await?;
    eprintln!(
        "world: control plane at {} with CRDs {crds:?}",
        cp.server_url
    );

    let result = match &cli.command {
        Cmd::Up { kubeconfig } => {
            std::fs::copy(&cp.kubeconfig, kubeconfig)?;
            // tests/run checks after teardown that nothing of this folder is left.
            let dir = cp
                .dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            std::fs::write(kubeconfig.with_extension("dir"), dir)?;
            std::fs::write(kubeconfig.with_extension("ready"), b"")?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            Ok(())
        }
        Cmd::Demo {
            operator,
            samples,
            initializing_seconds,
        } => {
            let run = demo(
                &cp,
                client,
                operator.clone(),
                samples.clone(),
                *initializing_seconds,
            );
            tokio::select! {
                r = run => r,
                _ = tokio::signal::ctrl_c() => Ok(()),
                _ = term.recv() => Ok(()),
            }
        }
    };
    let is_demo = matches!(cli.command, Cmd::Demo { .. });
    cp.stop();
    // tests/run checks the teardown itself, and its last line must stay the
    // test runner's summary.
    if is_demo {
        eprintln!("world: stopped; nothing left running");
    }
    result
}

async fn demo(
    cp: &ControlPlane,
    client: kube::Client,
    operator: PathBuf,
    samples: PathBuf,
    initializing_seconds: u64,
) -> anyhow::Result<()> {
    let emulator = Emulator::start(EmulatorConfig {
        initializing_delay: Duration::from_secs(initializing_seconds),
        ..Default::default()
    })
    .await?;
    eprintln!(
        "world: Chime SDK Media Pipelines emulator at {}",
        emulator.endpoint_url()
    );

    let http_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    eprintln!("world: operator metrics at http://127.0.0.1:{http_port}/metrics");
    // The operator's log goes to a file so the status table stays readable.
    let log_path = std::env::temp_dir().join("chime-pipeline-operator-demo.log");
    let log = std::fs::File::create(&log_path)?;
    eprintln!("world: operator log in {}", log_path.display());
    // kill_on_drop: the operator goes when the demo ends, however it ends.
    let mut op = tokio::process::Command::new(&operator)
        .arg("run")
        .env("KUBECONFIG", &cp.kubeconfig)
        .env("AWS_ACCESS_KEY_ID", "demo")
        .env("AWS_SECRET_ACCESS_KEY", "demo")
        .env("CHIME_OPERATOR_ENDPOINT_URL", emulator.endpoint_url())
        .env("CHIME_OPERATOR_REGION", "us-east-1")
        // Read running pipelines every few seconds, not every 5 minutes:
        // the demo's recorded meeting ends within a minute, and the demo
        // has no event queue to say so sooner.
        .env("CHIME_OPERATOR_REFRESH_INTERVAL", "5s")
        .env("CHIME_OPERATOR_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", operator.display()))?;

    let discovery = Discovery::new(client.clone()).run().await?;
    let mut applied = vec![];
    let mut files: Vec<_> = std::fs::read_dir(&samples)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|e| e.path());
    for entry in files {
        let text = std::fs::read_to_string(entry.path())?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let obj: DynamicObject = serde::Deserialize::deserialize(doc)?;
            let gvk = obj
                .types
                .as_ref()
                .context("sample without apiVersion/kind")?
                .try_into()?;
            let (ar, _) = discovery
                .resolve_gvk(&gvk)
                .context("unknown kind in sample")?;
            let name = obj.metadata.name.clone().context("sample without a name")?;
            let ns = obj
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
            api.patch(&name, &PatchParams::apply("demo"), &Patch::Apply(&obj))
                .await?;
            eprintln!(
                "world: applied {}/{name} from {}",
                ar.kind,
                entry.path().display()
            );
            applied.push((api, ar, name));
        }
    }

    // What a newcomer needs to take the demo into their own hands.
    eprintln!();
    eprintln!("world: the demo runs. In another shell:");
    eprintln!("  export KUBECONFIG={}", cp.kubeconfig.display());
    eprintln!("  kubectl get chime -A            # pipelines and pools, as the table below");
    eprintln!("  kubectl describe msp mixed-audio");
    eprintln!("  kubectl delete msp with-tags    # the operator deletes its pipeline");
    eprintln!("  kubectl apply -f deploy/samples/01-mixed-audio.yaml   # or a manifest of yours");
    eprintln!(
        "world: the emulator answers at {} (its calls: {}/_emulator/calls)",
        emulator.endpoint_url(),
        emulator.endpoint_url()
    );
    eprintln!(
        "world: the table shows every pipeline and pool, and changes as they do; Ctrl-C stops everything"
    );
    eprintln!();

    let kinds: Vec<ApiResource> =
        applied
            .iter()
            .map(|(_, ar, _)| ar.clone())
            .fold(vec![], |mut kinds, ar| {
                if !kinds.iter().any(|k: &ApiResource| k.kind == ar.kind) {
                    kinds.push(ar);
                }
                kinds
            });
    // A recording: once the capture samples have recorded a while, their
    // meetings end; the capture pipelines finish and the concatenations
    // naming them start.
    let recorded: Vec<&str> = applied
        .iter()
        .filter(|(_, ar, _)| ar.kind == "MediaCapturePipeline")
        .map(|(_, _, name)| name.as_str())
        .collect();
    let meetings = capture_meetings(&samples)?;
    let end_at = tokio::time::Instant::now() + Duration::from_secs(RECORDING_SECONDS);
    let mut ended = meetings.is_empty();
    let mut last = String::new();
    loop {
        if let Some(status) = op.try_wait()? {
            anyhow::bail!("the operator exited with {status}");
        }
        if !ended && tokio::time::Instant::now() >= end_at {
            for arn in &meetings {
                emulator.end_meeting(arn);
            }
            eprintln!(
                "world: the recorded meeting ended ({}): the capture pipeline finishes, then the concatenation joins its chunks",
                recorded.join(", ")
            );
            ended = true;
        }
        let table = status_table(&client, &kinds).await;
        if table != last {
            println!("{table}");
            last = table;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How long the demo's recordings run before their meetings end.
const RECORDING_SECONDS: u64 = 20;

/// The meetings the capture samples record (their spec.sourceArn).
fn capture_meetings(samples: &Path) -> anyhow::Result<Vec<String>> {
    let mut meetings = vec![];
    for entry in std::fs::read_dir(samples)? {
        let text = std::fs::read_to_string(entry?.path())?;
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let obj: serde_json::Value = serde::Deserialize::deserialize(doc)?;
            if obj["kind"] == "MediaCapturePipeline"
                && let Some(arn) = obj["spec"]["sourceArn"].as_str()
            {
                meetings.push(arn.to_string());
            }
        }
    }
    Ok(meetings)
}

/// Every resource of `kinds` in every namespace, one row each, in columns
/// as wide as their widest cell (pools' names are long).
async fn status_table(client: &kube::Client, kinds: &[ApiResource]) -> String {
    let mut rows = vec![
        [
            "NAMESPACE",
            "NAME",
            "ID",
            "STATUS",
            "READY",
            "REASON",
            "SYNCED",
            "ARN",
        ]
        .map(String::from),
    ];
    for ar in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), ar);
        let Ok(list) = api.list(&Default::default()).await else {
            continue;
        };
        for obj in list {
            let status = &obj.data["status"];
            let field = |f: &str| status[f].as_str().map(String::from);
            // Pipelines and pools name the same things differently.
            let either = |a: &str, b: &str| field(a).or_else(|| field(b)).unwrap_or("-".into());
            let condition = |type_: &str, what: &str| {
                status["conditions"]
                    .as_array()
                    .and_then(|c| c.iter().find(|c| c["type"] == type_))
                    .and_then(|c| c[what].as_str())
                    .unwrap_or("-")
                    .to_string()
            };
            rows.push([
                obj.metadata.namespace.clone().unwrap_or_default(),
                format!(
                    "{}/{}",
                    ar.kind.to_lowercase(),
                    obj.metadata.name.clone().unwrap_or_default()
                ),
                either("mediaPipelineId", "poolId"),
                either("pipelineStatus", "poolStatus"),
                condition("Ready", "status"),
                condition("Ready", "reason"),
                condition("Synced", "status"),
                either("mediaPipelineArn", "poolArn"),
            ]);
        }
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
