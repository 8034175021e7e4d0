//! One module per subcommand.

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod config;
mod corpus;
pub(crate) mod demo;
pub(crate) mod eval;
pub(crate) mod keys;
mod metrics;
pub(crate) mod mock;
pub(crate) mod scan;
pub(crate) mod serve;
pub(crate) mod train;

use std::path::Path;

use anyhow::Context;
use rampart_config::Config;

/// Loads a config file, or explains every error and fails.
pub(crate) fn load_config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", path.display()))
}

/// Waits for SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Reads a file into a string with context.
pub(crate) fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
