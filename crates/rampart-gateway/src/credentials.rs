//! Provider credentials kept in the store (set through the admin API), sealed at rest
//! with AES-256-GCM under the vault key and opened only here, into the provider
//! client's header. A stored credential replaces the configured `api_key`; deleting it
//! restores the configured one.
//!
//! Every instance follows changes through the store's change watch: a credential set
//! on one instance is in use on the others within about a second. A credential that
//! cannot be opened (wrong vault key, tampered row) is logged by provider name and
//! not used; the previous one stays in place. Plaintext lives only in a zeroized
//! buffer while the header is built, and is never logged.

use std::sync::Arc;
use std::time::Duration;

use rampart_identity::vault;

use crate::state::AppState;

/// How often the change watch is looked at.
const POLL: Duration = Duration::from_millis(250);

/// The AAD binding a sealed credential to its provider (a row moved to another
/// provider's name does not open).
pub(crate) fn aad(provider: &str) -> Vec<u8> {
    format!("provider:{provider}").into_bytes()
}

/// Loads every provider's stored credential now.
pub(crate) async fn load(state: &AppState) {
    for (i, provider) in state.config.providers.iter().enumerate() {
        let stored = match state.store.get_sealed_credential(&provider.name).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::error!(provider = %provider.name, %error, "cannot read the stored provider credential");
                continue;
            }
        };
        let result = match stored {
            None => state.providers[i].use_stored_credential(None),
            Some(sealed) => match vault::open(&state.kek, &sealed.sealed, &aad(&provider.name)) {
                Ok(plain) => match std::str::from_utf8(&plain) {
                    Ok(key) => state.providers[i].use_stored_credential(Some(key)),
                    Err(_) => {
                        tracing::error!(provider = %provider.name, "stored provider credential is not text: not used");
                        continue;
                    }
                },
                Err(error) => {
                    tracing::error!(provider = %provider.name, %error, "stored provider credential cannot be opened: not used");
                    continue;
                }
            },
        };
        if let Err(error) = result {
            tracing::error!(%error, "stored provider credential not used");
        }
    }
}

/// Follows changes in the background: reloads whenever the change watch moves (or
/// cannot vouch for anything, then every few seconds). Ends when the gateway is gone.
pub(crate) fn follow(state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let watch = loop {
            let Some(state) = weak.upgrade() else { return };
            match state.store.watch_changes().await {
                Ok(watch) => break watch,
                Err(error) => {
                    tracing::warn!(%error, "change watch unavailable: retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut seen = watch.generation();
        let mut unsure_since = tokio::time::Instant::now();
        if let Some(state) = weak.upgrade() {
            load(&state).await;
        }
        loop {
            tokio::time::sleep(POLL).await;
            let Some(state) = weak.upgrade() else { return };
            let now = watch.generation();
            let reload = match now {
                Some(_) => now != seen,
                None => unsure_since.elapsed() >= Duration::from_secs(5),
            };
            if now.is_some() || reload {
                unsure_since = tokio::time::Instant::now();
            }
            if reload {
                load(&state).await;
                seen = now;
            }
        }
    });
}
