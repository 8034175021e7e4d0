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
//! Found keys are cached by keyed hash ([`KeyCache`]) while the store's change watch
//! (`rampart_store::ChangeWatch`) reports the generation they were read under, and for
//! at most `auth.cache_ttl`: a store lookup costs tens of microseconds (SQLite) or a
//! network round trip (PostgreSQL), the watch check an atomic load (PostgreSQL
//! LISTEN/NOTIFY, trusted only while its heartbeat is under 1 s old) or one `pread`
//! (the SQLite epoch file). A revocation, rotation or re-scope committed by any
//! instance therefore takes effect within a second everywhere, and on the next request
//! on SQLite. Unknown keys are never cached, so a key created a moment ago works at once.
//!
//! After authentication come the scope checks that need no body: the client address
//! against the key's networks (the TCP peer; `X-Forwarded-For` is not trusted), then
//! the request path against its endpoints, each refused with a 403 naming what was not
//! allowed. Model scopes are checked by the handlers, which parse the body. Bearer
//! tokens that are not virtual keys are validated as JWTs when `[[auth.oidc]]` issuers
//! are configured ([`crate::oidc`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use rampart_store::{
    ChangeWatch, EndpointScope, KeyHash, KeyRecord, KeyStatus, ModelScope, PresentedKey, Store, StoreError, unix_now,
};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest wait for the key store; past it the request fails closed with 503.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Who is calling: attached to the request (and its response, for the access log) by
/// [`authenticate`]. A virtual key, or a JWT from a configured issuer.
#[derive(Debug, Clone)]
pub struct Principal {
    who: Who,
}

#[derive(Debug, Clone)]
enum Who {
    Key(Arc<KeyRecord>),
    Token(Arc<crate::oidc::TokenIdentity>),
}

impl Principal {
    /// Key id (`key_...`), or for a JWT its subject; safe to log.
    pub fn key_id(&self) -> &str {
        match &self.who {
            Who::Key(key) => &key.id,
            Who::Token(token) => &token.subject,
        }
    }

    /// `key` or `jwt`.
    pub fn kind(&self) -> &'static str {
        match &self.who {
            Who::Key(_) => "key",
            Who::Token(_) => "jwt",
        }
    }

    /// Models this caller may use.
    pub fn models(&self) -> &ModelScope {
        match &self.who {
            Who::Key(key) => &key.models,
            Who::Token(token) => &token.models,
        }
    }

    /// Endpoints (request paths) this caller may call.
    pub fn endpoints(&self) -> &EndpointScope {
        match &self.who {
            Who::Key(key) => &key.endpoints,
            Who::Token(token) => &token.endpoints,
        }
    }

    /// The caller's role label, if any.
    pub fn role(&self) -> Option<&str> {
        match &self.who {
            Who::Key(key) => key.role.as_deref(),
            Who::Token(token) => token.role.as_deref(),
        }
    }

    /// For a JWT, its issuer.
    pub fn issuer(&self) -> Option<&str> {
        match &self.who {
            Who::Key(_) => None,
            Who::Token(token) => Some(&token.issuer),
        }
    }

    /// The caller's team, if any.
    pub fn team(&self) -> Option<&str> {
        match &self.who {
            Who::Key(key) => key.team.as_deref(),
            Who::Token(token) => token.team.as_deref(),
        }
    }

    /// The key's own resource limits (JWT callers have none of their own: their
    /// team's, the model's and the global limits apply).
    pub fn limits(&self) -> Option<&rampart_store::KeyLimits> {
        match &self.who {
            Who::Key(key) => Some(&key.limits),
            Who::Token(_) => None,
        }
    }

    /// The virtual key's id (`None` for a JWT caller).
    pub fn key_record_id(&self) -> Option<&str> {
        match &self.who {
            Who::Key(key) => Some(&key.id),
            Who::Token(_) => None,
        }
    }

    /// The inspection policy profile this caller uses (`default` when none).
    pub fn policy(&self) -> &str {
        let named = match &self.who {
            Who::Key(key) => key.policy.as_deref(),
            Who::Token(token) => token.policy.as_deref(),
        };
        named.unwrap_or(rampart_config::DEFAULT_POLICY)
    }

    /// Whether a request from `client` may use this credential (key scopes only: a
    /// JWT's network is the identity provider's business).
    fn allows_client(&self, client: Option<std::net::IpAddr>) -> bool {
        match &self.who {
            Who::Key(key) if key.cidrs.is_any() => true,
            Who::Key(key) => client.is_some_and(|ip| key.cidrs.allows(ip)),
            Who::Token(_) => true,
        }
    }
}

/// Most keys held in the cache; past it the cache starts over.
const CACHE_CAPACITY: usize = 100_000;

/// Keys recently found in the store, by keyed hash, valid while the store's change
/// watch ([`ChangeWatch`]) reports the generation they were read under.
#[derive(Debug)]
pub(crate) struct KeyCache {
    /// Set once the watch is open (PostgreSQL needs a connection first); until then,
    /// and whenever it cannot vouch for freshness, nothing is served from the cache.
    watch: OnceLock<ChangeWatch>,
    ttl: Duration,
    entries: RwLock<HashMap<[u8; 32], Cached>>,
}

#[derive(Debug)]
struct Cached {
    key: Arc<KeyRecord>,
    generation: u64,
    fetched: Instant,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { watch: OnceLock::new(), ttl, entries: RwLock::new(HashMap::new()) }
    }

    /// Opens the store's change watch in the background (a no-op when the cache is
    /// disabled). Until it is open, keys are read from the store on every request.
    pub(crate) fn start_watch(state: &Arc<AppState>) {
        if state.keys.ttl.is_zero() {
            return;
        }
        let weak = Arc::downgrade(state);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                let Some(state) = weak.upgrade() else { return };
                match state.store.watch_changes().await {
                    Ok(watch) => {
                        let _ = state.keys.watch.set(watch);
                        return;
                    }
                    Err(error) => {
                        drop(state);
                        tracing::warn!(%error, "key change watch unavailable: keys are not cached");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    /// The key with this hash, from the cache when it is still valid, else from the
    /// store (and then cached).
    async fn find(&self, store: &Store, hash: &KeyHash) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        // Read the generation before querying: a change committed after this read
        // changes it too, so the entry below is dropped on the next request.
        let generation = self.watch.get().and_then(ChangeWatch::generation);
        if let Some(generation) = generation {
            if let Ok(entries) = self.entries.read() {
                if let Some(hit) = entries.get(&hash.0) {
                    if hit.generation == generation && hit.fetched.elapsed() < self.ttl {
                        return Ok(Some(hit.key.clone()));
                    }
                }
            }
        }
        let Some(key) = store.find_by_hash(hash).await?.map(Arc::new) else { return Ok(None) };
        if let (Some(generation), Ok(mut entries)) = (generation, self.entries.write()) {
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(hash.0, Cached { key: key.clone(), generation, fetched: Instant::now() });
        }
        Ok(Some(key))
    }
}

/// Axum middleware: authenticate or reject.
pub(crate) async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let client = request.extensions().get::<crate::server::ClientAddr>().map(|addr| addr.0.ip());
    let checked = match principal(&state, request.headers()).await {
        Ok(principal) => match authorize(&principal, client, request.uri().path()) {
            Ok(()) => Ok(principal),
            Err(error) => {
                // refused by scope: the log still says whose credential it was
                let mut response = error.into_response();
                response.extensions_mut().insert(Arc::new(principal));
                return response;
            }
        },
        Err(error) => Err(error),
    };
    match checked {
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

/// The scope checks that do not depend on the body: client network, then endpoint.
/// Each refusal is a 403 naming what was not allowed.
fn authorize(principal: &Principal, client: Option<std::net::IpAddr>, path: &str) -> Result<(), ApiError> {
    if !principal.allows_client(client) {
        return Err(ApiError::forbidden(
            "client_address_not_allowed",
            "This API key is not allowed from this client address.",
        ));
    }
    if !principal.endpoints().allows(path) {
        let shown: String = path.chars().take(100).collect();
        return Err(ApiError::forbidden(
            "endpoint_not_allowed",
            format!("This API key is not allowed to call `{shown}`."),
        ));
    }
    Ok(())
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
    let Some(key) = PresentedKey::parse(token) else {
        // Not a virtual key: a JWT, when issuers are configured.
        return match &state.federation {
            Some(federation) if token.len() <= 16 * 1024 && token.split('.').count() == 3 => {
                let identity = federation.authenticate(token, unix_now()).await?;
                Ok(Principal { who: Who::Token(Arc::new(identity)) })
            }
            _ => Err(malformed()),
        };
    };
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
    let now = unix_now();
    let too_old =
        state.config.auth.max_key_age.is_some_and(|age| {
            record.created_at.saturating_add(i64::try_from(age.as_secs()).unwrap_or(i64::MAX)) <= now
        });
    match record.status(now) {
        KeyStatus::Active if too_old => {
            Err(ApiError::unauthorized("expired_key", "This API key is older than the maximum key age."))
        }
        KeyStatus::Active => Ok(Principal { who: Who::Key(record) }),
        KeyStatus::Revoked => Err(ApiError::unauthorized("revoked_key", "This API key has been revoked.")),
        KeyStatus::Expired => Err(ApiError::unauthorized("expired_key", "This API key has expired.")),
        KeyStatus::Suspended => {
            Err(ApiError::unauthorized("suspended_key", "This API key is suspended; an administrator can resume it."))
        }
    }
}
