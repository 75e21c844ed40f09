//! Logging set-up: human-readable lines on stderr, filtered by `RUST_LOG` or `log_level`.

use tracing_subscriber::{EnvFilter, fmt};

pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
