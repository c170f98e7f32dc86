//! Logging: human-readable or JSON lines, filtered by RUST_LOG, with the
//! targets that would print credentials held at info whatever it asks.

/// Log targets that print credentials or signatures at debug or trace level
/// (session token, signature of signed requests).
const SECRET_BEARING_TARGETS: [&str; 3] =
    ["aws_sigv4", "aws_smithy_runtime", "aws_smithy_http_client"];

/// Installs the global subscriber.
pub fn init(json: bool) -> anyhow::Result<()> {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn,aws_config=warn".into());
    for target in SECRET_BEARING_TARGETS {
        filter = filter.add_directive(format!("{target}=info").parse()?);
    }
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
    Ok(())
}
