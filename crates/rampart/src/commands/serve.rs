//! `rampart serve --config FILE`: run the gateway until SIGINT/SIGTERM, then drain.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use rampart_gateway::Gateway;
use rampart_store::Store;

pub(crate) async fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = super::load_config(path)?;
    let _log_guard = crate::logging::init(&config.log);
    let store = Store::connect(config.store.url.expose()).await.context("cannot open the key store")?;
    let grace = config.server.shutdown_grace;
    let gateway = Gateway::new(config, store).await?.bind().await?;
    tracing::info!(address = %gateway.local_addr(), url = %gateway.base_url(), "rampart listening");
    let trigger = gateway.shutdown_trigger();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        tracing::info!(grace_s = grace.as_secs_f64(), "shutdown signal received");
        trigger.trigger();
        // A second signal stops at once.
        super::shutdown_signal().await;
        tracing::warn!("second signal: exiting without draining");
        std::process::exit(130);
    });
    gateway.wait().await;
    tracing::info!("rampart stopped");
    Ok(ExitCode::SUCCESS)
}
