use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use futures::FutureExt;
use kube_lease_manager::LeaseManagerBuilder;

use chime_pipeline_operator::aws::{Aws, AwsOptions, RateLimit};
use chime_pipeline_operator::config::{self, Backoff, Config, Events, Settings, Sweep, SweepMode};
use chime_pipeline_operator::crd::{self, DeletionPolicy};
use chime_pipeline_operator::error::InvalidSetting;
use chime_pipeline_operator::metrics::Metrics;
use chime_pipeline_operator::{controller, sweep};
use chime_pipeline_operator::{http, telemetry};

// See Cargo.toml: measured against musl's allocator, glibc's and mimalloc.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Kubernetes operator for Amazon Chime SDK media stream pipelines.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (uses the in-cluster config or KUBECONFIG).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
}

#[derive(Clone, Copy, ValueEnum)]
enum SweepArg {
    Off,
    Report,
    Delete,
}

#[derive(Clone, Copy, ValueEnum)]
enum Policy {
    Delete,
    Retain,
}

/// Every flag has an environment variable of the same name in capitals,
/// prefixed with CHIME_OPERATOR_.
#[derive(clap::Args)]
struct RunArgs {
    /// Watch only these namespaces, comma-separated (default: all namespaces).
    #[arg(
        long = "namespace",
        env = "CHIME_OPERATOR_NAMESPACE",
        value_delimiter = ','
    )]
    namespaces: Vec<String>,
    /// Manage only resources matching this label selector.
    #[arg(long, env = "CHIME_OPERATOR_LABEL_SELECTOR")]
    label_selector: Option<String>,
    /// AWS region (default: from the AWS provider chain, e.g. AWS_REGION).
    #[arg(long, env = "CHIME_OPERATOR_REGION")]
    region: Option<String>,
    /// Override the AWS endpoint (an emulator, a VPC endpoint).
    #[arg(long, env = "CHIME_OPERATOR_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// What happens to a pipeline when its resource is deleted, unless the
    /// resource says otherwise.
    #[arg(
        long,
        env = "CHIME_OPERATOR_DEFAULT_DELETION_POLICY",
        value_enum,
        default_value = "delete"
    )]
    default_deletion_policy: Policy,
    /// Delete a pipeline resource this long after its pipeline finished (its
    /// meeting ended, or its work is done), unless it sets
    /// spec.ttlSecondsAfterFinished.
    /// Unset: finished resources are kept.
    #[arg(long, env = "CHIME_OPERATOR_TTL_SECONDS_AFTER_FINISHED")]
    ttl_seconds_after_finished: Option<u32>,
    /// An SQS queue an EventBridge rule fills with Chime SDK's state changes
    /// (docs/operations.md): the resources an event names read AWS at once.
    /// Unset: polling alone.
    #[arg(long, env = "CHIME_OPERATOR_EVENT_QUEUE_URL")]
    event_queue_url: Option<String>,
    /// With the event queue: how often objects at rest are re-read while
    /// events flow (polling stays as the safety net).
    #[arg(long, env = "CHIME_OPERATOR_EVENTS_REFRESH_INTERVAL", value_parser = duration, default_value = "30m")]
    events_refresh_interval: Duration,
    /// With the event queue: past this long without an event, polling
    /// tightens back to --refresh-interval.
    #[arg(long, env = "CHIME_OPERATOR_EVENT_SILENCE", value_parser = duration, default_value = "6h")]
    event_silence: Duration,
    /// How often InProgress pipelines are re-read from AWS.
    #[arg(long, env = "CHIME_OPERATOR_REFRESH_INTERVAL", value_parser = duration, default_value = "5m")]
    refresh_interval: Duration,
    /// Shortest wait between reads of a pipeline that is changing state.
    #[arg(long, env = "CHIME_OPERATOR_POLL_MIN", value_parser = duration, default_value = "50ms")]
    poll_min: Duration,
    /// Wait before retrying after ResourceLimitExceeded.
    #[arg(long, env = "CHIME_OPERATOR_LIMIT_RETRY_INTERVAL", value_parser = duration, default_value = "60s")]
    limit_retry_interval: Duration,
    /// Wait before retrying after an error that needs a person (BadRequest,
    /// Forbidden, ...), unless the spec changes first.
    #[arg(long, env = "CHIME_OPERATOR_ERROR_RETRY_INTERVAL", value_parser = duration, default_value = "10m")]
    error_retry_interval: Duration,
    /// Most reconciles running at once.
    #[arg(
        long,
        env = "CHIME_OPERATOR_MAX_CONCURRENT_RECONCILES",
        default_value_t = 16
    )]
    max_concurrent_reconciles: u16,
    /// Client-side limit on AWS requests per second; 0 is no limit.
    #[arg(long, env = "CHIME_OPERATOR_AWS_RATE_LIMIT", default_value_t = 10)]
    aws_rate_limit: u32,
    /// Requests the AWS rate limit lets through at once after a quiet spell.
    #[arg(long, env = "CHIME_OPERATOR_AWS_BURST", default_value_t = 20)]
    aws_burst: u32,
    /// This installation's identity, tagged (chimeoperator.dev/cluster) on
    /// every AWS object it creates; installations sharing an AWS account
    /// must differ. Default: the UID of the kube-system namespace.
    #[arg(long, env = "CHIME_OPERATOR_CLUSTER_ID")]
    cluster_id: Option<String>,
    /// What the orphan sweep does with an AWS object of this installation
    /// whose resource is gone: off, report, or delete (only objects tagged
    /// chimeoperator.dev/deletion-policy=Delete).
    #[arg(
        long,
        env = "CHIME_OPERATOR_SWEEP_MODE",
        value_enum,
        default_value = "report"
    )]
    sweep_mode: SweepArg,
    /// How often the orphan sweep lists AWS.
    #[arg(long, env = "CHIME_OPERATOR_SWEEP_INTERVAL", value_parser = duration, default_value = "10m")]
    sweep_interval: Duration,
    /// How long an AWS object stays without a resource before the sweep
    /// counts it as an orphan.
    #[arg(long, env = "CHIME_OPERATOR_SWEEP_GRACE", value_parser = duration, default_value = "10m")]
    sweep_grace: Duration,
    /// Where to serve /healthz, /readyz and /metrics.
    #[arg(long, env = "CHIME_OPERATOR_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Reconcile only while holding a Lease, so that one of several replicas
    /// works at a time.
    #[arg(long, env = "CHIME_OPERATOR_LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the Lease (default: POD_NAMESPACE, else "default").
    #[arg(long, env = "CHIME_OPERATOR_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    #[arg(
        long,
        env = "CHIME_OPERATOR_LEASE_NAME",
        default_value = "chime-pipeline-operator"
    )]
    lease_name: String,
    /// How long a Lease holds without renewal; a standby takes over after it.
    #[arg(long, env = "CHIME_OPERATOR_LEASE_DURATION", value_parser = duration, default_value = "15s")]
    lease_duration: Duration,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, env = "CHIME_OPERATOR_LOG_JSON")]
    log_json: bool,
}

/// Durations like 300ms, 30s, 5m, 1h.
fn duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("{s:?} is not a duration: {e}"))?;
    Duration::try_from(d).map_err(|e| format!("{s:?}: {e}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => {
            print!("{}", crd::crds_yaml()?);
            Ok(())
        }
        Command::Run(args) => run(*args).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = config_of(&args);
    if let Err(e) = validate(&args, &config) {
        // As clap reports a flag it cannot parse: the message, and code 2.
        Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, e)
            .exit();
    }
    telemetry::init(args.log_json)?;
    let metrics = Arc::new(Metrics::default());
    let client = kube::Client::try_default().await?;
    config.cluster_id = cluster_id(&client, args.cluster_id.clone()).await?;
    let rate_limit = NonZeroU32::new(args.aws_rate_limit).map(|per_second| RateLimit {
        per_second,
        burst: NonZeroU32::new(args.aws_burst).unwrap_or(per_second),
    });
    let aws = Aws::new(
        &AwsOptions {
            region: args.region,
            endpoint_url: args.endpoint_url,
            rate_limit,
        },
        metrics.clone(),
    )
    .await;
    let listener = tokio::net::TcpListener::bind(args.http_addr).await?;
    let served = metrics.clone();
    tokio::spawn(async move {
        if let Err(e) = http::serve(listener, served).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    let shutdown = shutdown_signal().boxed().shared();
    tracing::info!(namespaces = ?config.namespaces, "starting");
    if !args.leader_election {
        metrics.set_leader(true);
        operate(client, aws, config, metrics.clone(), shutdown).await;
        tracing::info!("stopped");
        return Ok(());
    }

    let namespace = args
        .lease_namespace
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".into());
    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("chime-pipeline-operator-{}", rand::random::<u32>()));
    let secs = args.lease_duration.as_secs().max(2);
    let lease = LeaseManagerBuilder::new(client.clone(), &args.lease_name)
        .with_namespace(&namespace)
        .with_identity(&identity)
        .with_duration(secs)
        .with_grace(secs / 3)
        .build()
        .await?;
    let (mut leading, lease_task) = lease.watch().await;
    // A standby is ready: it can take over at once.
    metrics.set_ready(true);
    tracing::info!(%identity, lease = %args.lease_name, %namespace, "standing by for the lease");
    loop {
        tokio::select! {
            r = leading.wait_for(|l| *l) => if r.is_err() { break },
            _ = shutdown.clone() => break,
        }
        tracing::info!(%identity, "leading: reconciling");
        metrics.set_leader(true);
        // Dropping the controller on lease loss stops it at once, mid-call
        // if need be: every AWS call it makes is safe to repeat.
        let mut lost = leading.clone();
        tokio::select! {
            _ = operate(client.clone(), aws.clone(), config.clone(), metrics.clone(), futures::future::pending::<()>()) => {}
            _ = lost.wait_for(|l| !*l) => tracing::warn!("lost the lease: stopped reconciling"),
            _ = shutdown.clone() => {
                metrics.set_leader(false);
                break;
            }
        }
        metrics.lost_lead();
        metrics.set_ready(true);
    }
    // Closing the channel ends the lease task; releasing lets a standby
    // take over without waiting for the lease to expire.
    drop(leading);
    if let Ok(Ok(manager)) = lease_task.await
        && let Err(e) = manager.release().await
    {
        tracing::warn!(error = %e, "could not release the lease");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The settings the flags give; the cluster ID is left to [`cluster_id`],
/// which may read it from the cluster.
fn config_of(args: &RunArgs) -> Config {
    Config {
        namespaces: config::unique(args.namespaces.clone()),
        label_selector: args.label_selector.clone(),
        max_concurrent_reconciles: args.max_concurrent_reconciles,
        default_deletion_policy: match args.default_deletion_policy {
            Policy::Delete => DeletionPolicy::Delete,
            Policy::Retain => DeletionPolicy::Retain,
        },
        cluster_id: String::new(),
        sweep: Sweep {
            mode: match args.sweep_mode {
                SweepArg::Off => SweepMode::Off,
                SweepArg::Report => SweepMode::Report,
                SweepArg::Delete => SweepMode::Delete,
            },
            interval: args.sweep_interval,
            grace: args.sweep_grace,
        },
        ttl_after_finished: args
            .ttl_seconds_after_finished
            .map(|s| Duration::from_secs(s.into())),
        settings: Settings {
            refresh_interval: args.refresh_interval,
            poll_min: args.poll_min,
            backoff: Backoff {
                limit: args.limit_retry_interval,
                permanent: args.error_retry_interval,
                ..Backoff::default()
            },
            ..Settings::default()
        },
        events: args.event_queue_url.clone().map(|queue_url| Events {
            queue_url,
            refresh_interval: args.events_refresh_interval,
            silence: args.event_silence,
        }),
    }
}

/// Every flag against its range (src/config.rs), before anything starts.
fn validate(args: &RunArgs, config: &Config) -> Result<(), InvalidSetting> {
    config.validate()?;
    if let Some(id) = &args.cluster_id {
        config::cluster_id(id)?;
    }
    config::burst(args.aws_burst)?;
    config::lease(
        args.lease_duration,
        &args.lease_name,
        args.lease_namespace.as_deref(),
    )
}

/// The installation's identity: the flag, else the kube-system namespace's
/// UID, stable for the life of a cluster and unique to it.
async fn cluster_id(client: &kube::Client, flag: Option<String>) -> anyhow::Result<String> {
    if let Some(id) = flag {
        return Ok(id);
    }
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    let ns = namespaces.get("kube-system").await.map_err(|e| {
        anyhow::anyhow!("reading the kube-system namespace's UID (the default --cluster-id) failed: {e}; set --cluster-id, or allow get on that namespace")
    })?;
    ns.metadata
        .uid
        .ok_or_else(|| anyhow::anyhow!("the kube-system namespace has no UID; set --cluster-id"))
}

/// The controllers and the orphan sweep, until `shutdown` completes.
async fn operate(
    client: kube::Client,
    aws: Aws,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let sweeping = sweep::run(
        client.clone(),
        aws.clone(),
        config.clone(),
        metrics.clone(),
        shutdown.clone(),
    );
    futures::join!(
        controller::run(client, aws, config, metrics, shutdown),
        sweeping
    );
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
