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
use rampart_config::{Config, ProcessEnv};

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

/// The audit trail the `keys` and `admin` commands record their changes in (admin
/// records, like the same changes through the admin API). Opened before the change,
/// so a trail that cannot be opened stops the command before anything changes.
pub(crate) struct Trail(Option<rampart_audit::AuditStore>);

impl Trail {
    /// A trail that records nothing (for commands that change nothing).
    pub(crate) fn disabled() -> Self {
        Self(None)
    }

    /// The trail `[audit]` of the configuration `text` names (nothing when auditing is
    /// off), given its already compiled `[store]` and `[auth]`.
    pub(crate) async fn open(
        text: &str,
        config: &Path,
        store: &rampart_config::StoreSettings,
        auth: &rampart_config::AuthSettings,
    ) -> anyhow::Result<Self> {
        let audit = Config::audit_only(text, &ProcessEnv, store)
            .map_err(|errors| anyhow::anyhow!("invalid configuration {}:\n{errors}", config.display()))?;
        if !audit.enabled {
            return Ok(Self(None));
        }
        let trail = rampart_gateway::open_audit_store_of(&audit, auth).await.context("cannot open the audit trail")?;
        Ok(Self(Some(trail)))
    }

    /// One admin record of `action` (the command and key ids, never a key) by the local
    /// user, with an HTTP-like `status` (200 done, 404 no such key).
    pub(crate) async fn record(&self, action: &str, status: u16) -> anyhow::Result<()> {
        let Some(store) = &self.0 else { return Ok(()) };
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "unknown".into());
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let record = rampart_audit::AuditRecord {
            time,
            request_id: format!("cli_{:024x}", rand::random::<u128>() >> 32),
            kind: rampart_audit::RecordKind::Admin,
            principal: Some(format!("cli:{}", user.chars().take(64).collect::<String>())),
            principal_kind: Some("cli".into()),
            endpoint: Some(action.chars().take(200).collect()),
            method: Some("CLI".into()),
            status: Some(status),
            ..Default::default()
        };
        let written = store.append_batch(&[record]).await;
        store.close().await;
        written.context("the change was made, but its audit record could not be written")?;
        Ok(())
    }
}
