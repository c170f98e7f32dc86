//! Runs the Chime SDK Media Pipelines emulator as a standalone server.
//! Point an SDK at the printed endpoint URL; drive the emulator through the
//! admin API under `/_emulator/`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use testworld::emulator::{Emulator, EmulatorConfig};

#[derive(Debug, Parser)]
#[command(about = "Emulator of the Amazon Chime SDK Media Pipelines API")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// How long new pipelines stay Initializing (and pools CREATING).
    #[arg(long, default_value_t = 2000)]
    initializing_delay_ms: u64,
    /// Active-pipeline limit of a region, as REGION=N; repeatable.
    #[arg(long = "limit", value_parser = parse_limit)]
    limits: Vec<(String, usize)>,
    /// The AWS account in generated ARNs.
    #[arg(long, default_value = "111122223333")]
    account_id: String,
    /// Refuse pipelines whose sink ARN is not an existing pool.
    #[arg(long)]
    require_existing_pools: bool,
    /// Publish Chime SDK's EventBridge events into the SQS queue
    /// `chime-events` (URL `<endpoint>/<account>/chime-events`).
    #[arg(long)]
    events: bool,
}

fn parse_limit(raw: &str) -> Result<(String, usize), String> {
    let (region, limit) = raw.split_once('=').ok_or("expected REGION=N")?;
    let limit = limit
        .parse()
        .map_err(|e| format!("bad limit {limit:?}: {e}"))?;
    Ok((region.to_owned(), limit))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // stdout carries only the endpoint URL, for scripts that read it.
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = EmulatorConfig {
        initializing_delay: Duration::from_millis(args.initializing_delay_ms),
        region_limits: args.limits.into_iter().collect::<HashMap<_, _>>(),
        account_id: args.account_id,
        require_existing_pools: args.require_existing_pools,
        events: args.events,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start_on(args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("{}", emulator.endpoint_url());

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    drop(emulator);
    Ok(())
}
