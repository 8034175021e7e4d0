//! Authentication: turns the presented virtual key into a [`Principal`] request
//! extension, or rejects with 401 in OpenAI's shape.
//!
//! Sits after the request id (so rejections are traceable) and before any route logic:
//! every route except the public `/healthz` and `/readyz` passes through it, unknown
//! paths included (default deny). Keys are accepted as `Authorization: Bearer rk-...`
//! or `api-key: rk-...`; a malformed credential is refused before hashing or touching
//! the store; the store lookup goes by keyed hash with a constant-time final compare.
//! If the store cannot answer, the request fails closed with 503.
//!
//! Found keys are cached by keyed hash ([`KeyCache`]) while the store's key-change
//! epoch is unchanged and for at most `auth.cache_ttl`: a SQLite lookup through sqlx
//! costs tens of microseconds per request, the epoch check one `pread`. Revocation
//! stays effective on the next request (see `rampart_store::epoch`). Stores without an
//! epoch (PostgreSQL, for now) are read on every request. Unknown keys are never
//! cached, so a key created a moment ago works at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use rampart_store::epoch::{Epoch, EpochReader};
use rampart_store::{KeyHash, KeyRecord, KeyStatus, ModelScope, PresentedKey, Store, StoreError, unix_now};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest wait for the key store; past it the request fails closed with 503.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Who is calling: attached to the request (and its response, for the access log) by
/// [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    key: Arc<KeyRecord>,
}

impl Principal {
    /// Key id (`key_...`), safe to log.
    pub fn key_id(&self) -> &str {
        &self.key.id
    }

    /// Models this key may use.
    pub fn models(&self) -> &ModelScope {
        &self.key.models
    }

    /// The inspection policy profile this key names (`default` when none).
    pub fn policy(&self) -> &str {
        self.key.policy.as_deref().unwrap_or(rampart_config::DEFAULT_POLICY)
    }
}

/// Most keys held in the cache; past it the cache starts over.
const CACHE_CAPACITY: usize = 100_000;

/// Keys recently found in the store, by keyed hash.
#[derive(Debug)]
pub(crate) struct KeyCache {
    epoch: Option<EpochReader>,
    ttl: Duration,
    entries: RwLock<HashMap<[u8; 32], Cached>>,
}

#[derive(Debug)]
struct Cached {
    key: Arc<KeyRecord>,
    epoch: Epoch,
    fetched: Instant,
}

impl KeyCache {
    pub(crate) fn new(store: &Store, ttl: Duration) -> Self {
        let epoch = if ttl.is_zero() { None } else { store.epoch_reader() };
        Self { epoch, ttl, entries: RwLock::new(HashMap::new()) }
    }

    /// The key with this hash, from the cache when it is still valid, else from the
    /// store (and then cached).
    async fn find(&self, store: &Store, hash: &KeyHash) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // Read the epoch before querying: a change committed after this read bumps
        // the epoch after it too, so the entry below is dropped on the next request.
        let epoch = self.epoch.as_ref().and_then(EpochReader::read);
        if let Some(epoch) = epoch {
            if let Ok(entries) = self.entries.read() {
                if let Some(hit) = entries.get(&hash.0) {
                    if hit.epoch == epoch && hit.fetched.elapsed() < self.ttl {
                        return Ok(Some(hit.key.clone()));
                    }
                }
            }
        }
        let Some(key) = store.find_by_hash(hash).await?.map(Arc::new) else { return Ok(None) };
        if let (Some(epoch), Ok(mut entries)) = (epoch, self.entries.write()) {
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(hash.0, Cached { key: key.clone(), epoch, fetched: Instant::now() });
        }
        Ok(Some(key))
    }
}

/// Axum middleware: authenticate or reject.
pub(crate) async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    match principal(&state, request.headers()).await {
        Ok(principal) => {
            let principal = Arc::new(principal);
            request.extensions_mut().insert(principal.clone());
            let mut response = next.run(request).await;
            response.extensions_mut().insert(principal);
            response
        }
        Err(error) => error.into_response(),
    }
}

fn presented(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "missing_key",
            "You didn't provide an API key. Provide your rampart key as `Authorization: Bearer rk-...` or `api-key: rk-...`.",
        )
    };
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed());
        }
        return Ok(token.trim());
    }
    if let Some(value) = headers.get("api-key") {
        return value.to_str().map(str::trim).map_err(|_| malformed());
    }
    Err(missing())
}

fn malformed() -> ApiError {
    ApiError::unauthorized("malformed_key", "Incorrect API key provided.")
}

async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = presented(headers)?;
    let key = PresentedKey::parse(token).ok_or_else(malformed)?;
    let hash = state.hasher.hash(key);
    let lookup = tokio::time::timeout(STORE_TIMEOUT, state.keys.find(&state.store, &hash)).await;
    let record = match lookup {
        Ok(Ok(Some(record))) => record,
        Ok(Ok(None)) => {
            return Err(ApiError::unauthorized("unknown_key", "Incorrect API key provided."));
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "key store lookup failed");
            return Err(ApiError::unavailable("key_store_unavailable", "authentication is temporarily unavailable"));
        }
        Err(_) => {
            tracing::error!(timeout_s = STORE_TIMEOUT.as_secs(), "key store lookup timed out");
            return Err(ApiError::unavailable("key_store_timeout", "authentication is temporarily unavailable"));
        }
    };
    match record.status(unix_now()) {
        KeyStatus::Active => Ok(Principal { key: record }),
        KeyStatus::Revoked => Err(ApiError::unauthorized("revoked_key", "This API key has been revoked.")),
        KeyStatus::Expired => Err(ApiError::unauthorized("expired_key", "This API key has expired.")),
    }
}
