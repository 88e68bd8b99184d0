//! Signalbox's own logs, through `tracing`: text for people, JSON for log platforms.

use signalbox::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `filter` is a tracing filter (`info`, `signalbox=debug,…`).
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("RUST_LOG/LOG_LEVEL: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first subscriber.
    drop(result);
    Ok(())
}
