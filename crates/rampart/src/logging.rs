//! Structured logging setup. Logs go to stderr (stdout is for command output); the
//! format and filter come from `[log]`, and `RUST_LOG` overrides the filter.

use rampart_config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

pub(crate) fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
