//! The state every request shares: compiled config, key store, key hasher, one
//! upstream client per provider, the limiter and the monitor (audit, anomalies). Built once at start-up; requests only read it.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use rampart_config::{Config, PolicyProfile};
use rampart_scan::Scanner;
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
    /// The detection engine (compiled once per process: every gateway shares it).
    pub(crate) scanner: &'static Scanner,
    /// The key-encryption key for provider credentials and TOTP secrets (`[vault]`,
    /// else derived from `auth.key_secret`).
    pub(crate) kek: rampart_identity::vault::Kek,
    /// JWT issuers, when configured.
    pub(crate) federation: Option<crate::oidc::Federation>,
    /// Policy profiles by name, each with its canary token.
    pub(crate) policies: HashMap<String, (Arc<PolicyProfile>, Arc<str>)>,
    /// Rate limits, budgets and shedding.
    pub(crate) admission: crate::admission::Admission,
    /// Audit trail, anomaly detectors and alerts.
    pub(crate) monitor: crate::monitor::Monitor,
}

/// The process's detection engine: compiling it takes a while, and it is immutable.
fn shared_scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

impl AppState {
    pub(crate) fn new(
        config: Config,
        store: Store,
        monitor: crate::monitor::Monitor,
    ) -> Result<Self, UpstreamSetupError> {
        let providers =
            config.providers.iter().map(|p| ProviderClient::new(p).map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
        let provider_names = config.providers.iter().map(|p| Arc::from(p.name.as_str())).collect();
        let hasher = KeyHasher::new(config.auth.key_secret.expose());
        let keys = crate::auth::KeyCache::new(config.auth.cache_ttl);
        // One canary per profile for the life of the process, not per request: a
        // system prompt that changes with every request would defeat the providers'
        // prompt caching for everything after it.
        let policies = config
            .policies
            .iter()
            .map(|p| (p.name.clone(), (Arc::new(p.clone()), crate::inspect::new_canary())))
            .collect();
        let federation = crate::oidc::Federation::new(&config.auth.oidc).map_err(UpstreamSetupError::Identity)?;
        let kek = match &config.vault {
            Some(vault) => rampart_identity::vault::Kek::parse(vault.kek.expose(), "vault.kek")
                .map_err(|error| UpstreamSetupError::Identity(error.to_string()))?,
            None => rampart_identity::vault::Kek::derive_from_secret(config.auth.key_secret.expose()),
        };
        let admission =
            crate::admission::Admission::new(&config.limits, &config.prices).map_err(UpstreamSetupError::Limits)?;
        Ok(Self {
            monitor,
            admission,
            kek,
            federation,
            config,
            store,
            hasher,
            keys,
            providers,
            provider_names,
            ready: AtomicBool::new(true),
            scanner: shared_scanner(),
            policies,
        })
    }

    /// The profile a key names. A key naming a profile the configuration no longer
    /// has is refused (fail closed) rather than inspected under another one.
    pub(crate) fn policy(&self, name: &str) -> Result<(Arc<PolicyProfile>, Arc<str>), crate::error::ApiError> {
        self.policies.get(name).cloned().ok_or_else(|| {
            tracing::error!(policy = name, "a key names a policy profile that is not configured");
            crate::error::ApiError::unavailable(
                "policy_missing",
                "this API key's inspection policy is not configured on this gateway",
            )
        })
    }
}
