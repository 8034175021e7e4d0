//! The JWKS cache: per issuer, the current key set, fetched through [`JwksFetcher`] on
//! first use, refreshed lazily once older than the maximum age, and refetched when a token
//! names an unknown `kid` (key rotation at the identity provider).
//!
//! Fetches for one issuer are single-flight (a `tokio::sync::Mutex`) and at most one
//! starts per [`MIN_REFETCH_INTERVAL`], whatever the reason, so a flood of tokens with
//! random `kid`s cannot hammer the identity provider. A failed or refused fetch keeps the
//! previous keys and logs a warning. Time is the caller's `now_unix`, the same clock the
//! claims are checked against; a clock that steps backwards allows one early fetch.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::{Claims, ConfigError, IssuerConfig, Jwks, JwtError, MAX_JWKS_BYTES, check_configs, parse, verify};

/// A boxed, sendable future, as returned by [`JwksFetcher::fetch`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Fetches a JWKS document. The gateway implements it with its HTTP client.
pub trait JwksFetcher: Send + Sync {
    /// GETs `url` and returns the body. Implementations should use TLS, time out (a few
    /// seconds), stop reading after [`MAX_JWKS_BYTES`] + 1 bytes, treat non-2xx statuses as
    /// errors, and keep secrets out of the error text (it is logged).
    fn fetch(&self, url: &str) -> BoxFuture<'_, Result<Vec<u8>, String>>;
}

/// Age after which the keys are refreshed on the next validation.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Least time between two fetches for one issuer.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Longest fetch error text logged.
const MAX_LOGGED_ERROR: usize = 200;

#[derive(Default)]
struct State {
    jwks: Option<Arc<Jwks>>,
    fetched_at: Option<i64>,
    last_attempt: Option<i64>,
    /// Bumped on every successful fetch.
    generation: u64,
}

struct Entry {
    config: IssuerConfig,
    state: RwLock<State>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl Entry {
    fn snapshot(&self) -> (Option<Arc<Jwks>>, Option<i64>, Option<i64>, u64) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.jwks.clone(), state.fetched_at, state.last_attempt, state.generation)
    }
}

/// Validates tokens against fetched, cached issuer keys. Share it behind an `Arc`.
pub struct JwksCache {
    fetcher: Arc<dyn JwksFetcher>,
    issuers: HashMap<String, Entry>,
    max_age: i64,
    min_interval: i64,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache").field("issuers", &self.issuers.keys().collect::<Vec<_>>()).finish()
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl JwksCache {
    /// A cache for `configs` (each needs a `jwks_url`), fetching through `fetcher`, with
    /// the [`DEFAULT_MAX_AGE`]. Nothing is fetched until the first validation (or
    /// [`JwksCache::refresh`]).
    pub fn new(configs: Vec<IssuerConfig>, fetcher: Arc<dyn JwksFetcher>) -> Result<Self, ConfigError> {
        check_configs(&configs, true)?;
        let issuers = configs
            .into_iter()
            .map(|config| {
                let entry =
                    Entry { config, state: RwLock::new(State::default()), fetch_lock: tokio::sync::Mutex::new(()) };
                (entry.config.issuer.clone(), entry)
            })
            .collect();
        Ok(Self { fetcher, issuers, max_age: secs(DEFAULT_MAX_AGE), min_interval: secs(MIN_REFETCH_INTERVAL) })
    }

    /// Sets the age after which keys are refreshed (at least [`MIN_REFETCH_INTERVAL`]).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = secs(max_age.max(MIN_REFETCH_INTERVAL));
        self
    }

    /// The configuration of `issuer`.
    pub fn config(&self, issuer: &str) -> Option<&IssuerConfig> {
        self.issuers.get(issuer).map(|entry| &entry.config)
    }

    /// The keys currently held for `issuer`, if any were fetched.
    pub fn jwks(&self, issuer: &str) -> Option<Arc<Jwks>> {
        self.issuers.get(issuer).and_then(|entry| entry.snapshot().0)
    }

    /// Fetches `issuer`'s keys now (still single-flight and rate limited), e.g. to warm
    /// the cache at startup. `true` when new keys were stored.
    pub async fn refresh(&self, issuer: &str, now_unix: i64) -> bool {
        let Some(entry) = self.issuers.get(issuer) else {
            return false;
        };
        let generation = entry.snapshot().3;
        self.refetch(entry, now_unix, generation, true).await
    }

    /// Validates `token` at `now_unix` like [`super::Validator::validate`], fetching keys
    /// on first use, refreshing stale keys, and refetching once (rate limited) when the
    /// token's `kid` is unknown. Nothing is fetched for a token that is malformed, names
    /// an unknown issuer or uses an algorithm the issuer does not allow.
    pub async fn validate(&self, token: &str, now_unix: i64) -> Result<Claims, JwtError> {
        let parsed = parse(token)?;
        let entry = self.issuers.get(&parsed.iss).ok_or(JwtError::UnknownIssuer)?;
        if !entry.config.algorithms.contains(&parsed.alg) {
            return Err(JwtError::AlgNotAllowed);
        }
        let (jwks, fetched_at, _, generation) = entry.snapshot();
        match (&jwks, fetched_at) {
            (None, _) => {
                self.refetch(entry, now_unix, generation, true).await;
            }
            (Some(_), Some(at)) if now_unix.saturating_sub(at) >= self.max_age || now_unix < at => {
                // Stale: refresh unless another task already is; the old keys still serve.
                self.refetch(entry, now_unix, generation, false).await;
            }
            _ => {}
        }
        let (jwks, _, _, generation) = entry.snapshot();
        let Some(jwks) = jwks else {
            return Err(JwtError::NoKeys);
        };
        match verify(&parsed, &entry.config, &jwks, now_unix) {
            Err(JwtError::UnknownKid | JwtError::NoKeys) => {
                if !self.refetch(entry, now_unix, generation, true).await {
                    return Err(if jwks.is_empty() { JwtError::NoKeys } else { JwtError::UnknownKid });
                }
                let Some(jwks) = entry.snapshot().0 else {
                    return Err(JwtError::NoKeys);
                };
                verify(&parsed, &entry.config, &jwks, now_unix)
            }
            other => other,
        }
    }

    fn rate_limited(&self, last_attempt: Option<i64>, now_unix: i64) -> bool {
        last_attempt.is_some_and(|last| now_unix >= last && now_unix - last < self.min_interval)
    }

    /// Fetches `entry`'s keys unless keys newer than `seen_generation` already arrived
    /// (then `true`) or a fetch started less than the minimum interval ago (then `false`).
    /// With `wait`, first waits for a fetch in flight; without, gives up when one is. `true`
    /// when keys newer than `seen_generation` are stored.
    async fn refetch(&self, entry: &Entry, now_unix: i64, seen_generation: u64, wait: bool) -> bool {
        let (_, _, last_attempt, generation) = entry.snapshot();
        if generation != seen_generation {
            return true;
        }
        let _flight = if wait {
            // Waiting also covers a fetch already in flight: its keys may be the ones
            // needed. The lock is only held long while a fetch runs.
            entry.fetch_lock.lock().await
        } else {
            if self.rate_limited(last_attempt, now_unix) {
                return false;
            }
            match entry.fetch_lock.try_lock() {
                Ok(guard) => guard,
                Err(_) => return false,
            }
        };
        // Re-check under the lock: the fetch we waited for may have been the one we need.
        {
            let mut state = entry.state.write().unwrap_or_else(PoisonError::into_inner);
            if state.generation != seen_generation {
                return true;
            }
            if self.rate_limited(state.last_attempt, now_unix) {
                return false;
            }
            state.last_attempt = Some(now_unix);
        }
        let issuer = entry.config.issuer.as_str();
        let fetched = self.fetcher.fetch(&entry.config.jwks_url).await;
        let parsed = fetched.and_then(|body| {
            if body.len() > MAX_JWKS_BYTES {
                return Err(format!("JWKS document exceeds {MAX_JWKS_BYTES} bytes"));
            }
            Jwks::from_json(&body).map_err(|e| e.to_string())
        });
        match parsed {
            Ok(jwks) => {
                let keys = jwks.len();
                let mut state = entry.state.write().unwrap_or_else(PoisonError::into_inner);
                state.jwks = Some(Arc::new(jwks));
                state.fetched_at = Some(now_unix);
                state.generation += 1;
                tracing::debug!(issuer, keys, "JWKS fetched");
                true
            }
            Err(error) => {
                let error: String = error.chars().take(MAX_LOGGED_ERROR).collect();
                tracing::warn!(issuer, error = %error, "JWKS fetch failed; keeping the previous keys");
                false
            }
        }
    }
}
