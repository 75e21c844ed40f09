//! Logging set-up: events go to stderr as text lines or JSON objects (`log_format`), filtered by
//! `RUST_LOG` or `log_level`. Text is coloured only on a terminal: under systemd, in a container
//! or redirected to a file stderr is not one, and escape codes there would only litter the log.

use std::{ffi::OsString, io::IsTerminal};

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

pub fn init(default_filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(colour_wanted(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .try_init(),
        // Every field a top-level key (`"status":200`, not `"fields":{…}`), so a collector
        // can filter on it without unwrapping; toker keeps no spans worth repeating per line.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_ansi(false)
            .try_init(),
    };
}

/// Colour for a terminal, unless `NO_COLOR` is set to anything but the empty string
/// (the no-color.org convention).
fn colour_wanted(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some("".into())));
        assert!(!colour_wanted(true, Some("1".into())));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some("1".into())));
    }
}
