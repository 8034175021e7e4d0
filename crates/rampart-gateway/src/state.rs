//! The state every request shares: compiled config, key store, key hasher and one
//! upstream client per provider. Built once at start-up; requests only read it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rampart_config::Config;
use rampart_store::{KeyHasher, Store};

use crate::upstream::{ProviderClient, UpstreamSetupError};

/// Shared request state.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) hasher: KeyHasher,
    pub(crate) keys: crate::auth::KeyCache,
    /// Indexed like `config.providers`.
    pub(crate) providers: Vec<Arc<ProviderClient>>,
    /// Provider names as shared strings, for logs and relays.
    pub(crate) provider_names: Vec<Arc<str>>,
    /// False once shutdown begins, so load balancers stop sending traffic.
    pub(crate) ready: AtomicBool,
}

impl AppState {
    pub(crate) fn new(config: Config, store: Store) -> Result<Self, UpstreamSetupError> {
        let providers =
            config.providers.iter().map(|p| ProviderClient::new(p).map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
        let provider_names = config.providers.iter().map(|p| Arc::from(p.name.as_str())).collect();
        let hasher = KeyHasher::new(config.auth.key_secret.expose());
        let keys = crate::auth::KeyCache::new(&store, config.auth.cache_ttl);
        Ok(Self { config, store, hasher, keys, providers, provider_names, ready: AtomicBool::new(true) })
    }
}
