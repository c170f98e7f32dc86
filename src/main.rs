use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use chime_pipeline_operator::aws::{Aws, AwsOptions};
use chime_pipeline_operator::controller::{self, Config};
use chime_pipeline_operator::crd::{self, DeletionPolicy};
use chime_pipeline_operator::decide::Settings;
use chime_pipeline_operator::error::Backoff;

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
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crds,
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
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "CHIME_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
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
    /// How often InProgress pipelines are re-read from AWS.
    #[arg(long, env = "CHIME_OPERATOR_REFRESH_INTERVAL", value_parser = duration, default_value = "5m")]
    refresh_interval: Duration,
    /// Shortest wait between reads of a pipeline that is changing state.
    #[arg(long, env = "CHIME_OPERATOR_POLL_MIN", value_parser = duration, default_value = "200ms")]
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
    /// Attempts per AWS call (the SDK retries throttling, 5xx and network errors).
    #[arg(long, env = "CHIME_OPERATOR_AWS_MAX_ATTEMPTS", default_value_t = 3)]
    aws_max_attempts: u32,
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
        Command::Run(args) => run(args).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn,aws_config=warn".into());
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    if args.log_json {
        fmt.json().init();
    } else {
        fmt.init();
    }

    let client = kube::Client::try_default().await?;
    let aws = Aws::new(&AwsOptions {
        region: args.region,
        endpoint_url: args.endpoint_url,
        max_attempts: args.aws_max_attempts,
    })
    .await;
    let config = Config {
        namespace: args.namespace,
        label_selector: args.label_selector,
        max_concurrent_reconciles: args.max_concurrent_reconciles,
        default_deletion_policy: match args.default_deletion_policy {
            Policy::Delete => DeletionPolicy::Delete,
            Policy::Retain => DeletionPolicy::Retain,
        },
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
    };
    tracing::info!(namespace = ?config.namespace, "starting controller");
    controller::run(client, aws, config, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
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
