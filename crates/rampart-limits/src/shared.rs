//! The Redis backend: limits shared by every gateway instance.
//!
//! Each reservation is one round trip: one Lua script (`src/shared/reserve.lua`, sent with
//! `EVALSHA`, falling back to `EVAL` when the server does not know it yet) receives
//! every key of the request with its parameters, reads the clock with Redis `TIME`
//! (one clock for all instances), checks every dimension and commits all of them or
//! none. Settlement is a second script (`src/shared/settle.lua`), off the latency path: the
//! gateway spawns it. Rate buckets are kept in microseconds (Lua numbers are doubles).
//!
//! Keys, under a configurable prefix (default `rampart:lim:`): `{prefix}{bucket}:rq`
//! and `:tk` (rate buckets, expiring once full again), `:cc` (a sorted set of
//! concurrency leases scored by expiry; expired leases are pruned by the script, so a
//! crashed instance cannot hold slots beyond the lease TTL), `:bd` and `:bm` (hashes
//! of window index and spend, expiring 2 and 32 days after their last write). The
//! keys of one request span several buckets, so this needs a single Redis (or a
//! primary with replicas), not Redis Cluster.
//!
//! Failure: every call is bounded by [`RedisConfig::timeout`]. A failure opens a
//! circuit breaker for [`RedisConfig::breaker`], during which Redis is not tried;
//! then the next reservation tries again, and shared counting resumes by itself.
//! Meanwhile [`FailPolicy::Open`] serves reservations from an in-memory limiter with
//! the same limits (local to this instance: the effective limit is multiplied by the
//! number of instances), counted in [`crate::LimiterStats::fallback_reserves`] and
//! warned about at most once per [`RedisConfig::warn_interval`];
//! [`FailPolicy::Closed`] returns [`ReserveError::Unavailable`]. Reservations made in
//! fallback settle locally. When a reserve call times out, the script may still run
//! later: its leases are then released in the background (best effort; otherwise
//! they expire with the lease TTL), and its charges stay (conservative).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};

use crate::clock::{Window, duration_nanos};
use crate::gcra::{MAX_SPEND, Rate};
use crate::memory::{MemoryConfig, MemoryLimiter, impossible};
use crate::types::{
    BackendError, CONCURRENCY_RETRY_HINT, Demand, Dimension, Figure, Limits, RateHeaders, Refusal, ReserveError,
};
use crate::{LimiterStats, Reservation};

const RESERVE_LUA: &str = include_str!("shared/reserve.lua");
const SETTLE_LUA: &str = include_str!("shared/settle.lua");
const MICROS_PER_SEC: u64 = 1_000_000;

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailPolicy {
    /// Count locally with the same limits (per instance) until Redis is back.
    #[default]
    Open,
    /// Refuse with [`ReserveError::Unavailable`] (the gateway answers 503).
    Closed,
}

/// Settings of the Redis backend. `Debug` hides the URL's password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key (default `rampart:lim:`).
    pub key_prefix: String,
    /// What to do when Redis fails.
    pub fail_policy: FailPolicy,
    /// The most a reservation waits for Redis, connecting included (default 50 ms:
    /// a healthy Redis answers in well under a millisecond nearby).
    pub timeout: Duration,
    /// The most a settlement waits for Redis (default 1 s; it is off the latency path).
    pub settle_timeout: Duration,
    /// How long Redis is skipped after a failure (default 1 s).
    pub breaker: Duration,
    /// How long a concurrency lease lives if never released (default 15 min; it should
    /// exceed the longest request).
    pub lease_ttl: Duration,
    /// The fewest seconds between two warnings about the fallback (default 10 s).
    pub warn_interval: Duration,
    /// The in-memory fallback's settings.
    pub fallback: MemoryConfig,
}

impl RedisConfig {
    /// The defaults, for a Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "rampart:lim:".to_owned(),
            fail_policy: FailPolicy::Open,
            timeout: Duration::from_millis(50),
            settle_timeout: Duration::from_secs(1),
            breaker: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(15 * 60),
            warn_interval: Duration::from_secs(10),
            fallback: MemoryConfig::default(),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redacted(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("fail_policy", &self.fail_policy)
            .field("timeout", &self.timeout)
            .field("settle_timeout", &self.settle_timeout)
            .field("breaker", &self.breaker)
            .field("lease_ttl", &self.lease_ttl)
            .field("warn_interval", &self.warn_interval)
            .field("fallback", &self.fallback)
            .finish()
    }
}

/// The URL without its credentials.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}<redacted>{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// What a script entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rate,
    Lease,
    Day,
    Month,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Self::Rate => "g",
            Self::Lease => "c",
            Self::Day => "d",
            Self::Month => "m",
        }
    }
}

/// One (bucket, dimension) of a reservation, as sent to the reserve script.
#[derive(Debug)]
struct Entry {
    key: String,
    kind: Kind,
    a: u64,
    b: u64,
    bucket: usize,
    dimension: Dimension,
    limit: u64,
    rate: Option<Rate>,
}

fn plan<N: AsRef<str>>(prefix: &str, buckets: &[(N, Limits)], demand: Demand) -> Vec<Entry> {
    let mut entries = Vec::with_capacity(buckets.len() * 3);
    let cost = demand.cost_micros.min(MAX_SPEND);
    for (bucket, (name, limits)) in buckets.iter().enumerate() {
        let name = name.as_ref();
        let key = |suffix: &str| {
            let mut key = String::with_capacity(prefix.len() + name.len() + 3);
            key.push_str(prefix);
            key.push_str(name);
            key.push_str(suffix);
            key
        };
        if let Some(rpm) = limits.rpm {
            let rate = Rate::new(rpm, Rate::MINUTE_MICROS);
            entries.push(Entry {
                key: key(":rq"),
                kind: Kind::Rate,
                a: rate.cost(1),
                b: rate.tolerance(),
                bucket,
                dimension: Dimension::Requests,
                limit: rpm,
                rate: Some(rate),
            });
        }
        if let Some(tpm) = limits.tpm {
            let rate = Rate::new(tpm, Rate::MINUTE_MICROS);
            entries.push(Entry {
                key: key(":tk"),
                kind: Kind::Rate,
                a: rate.cost(demand.tokens),
                b: rate.tolerance(),
                bucket,
                dimension: Dimension::Tokens,
                limit: tpm,
                rate: Some(rate),
            });
        }
        if let Some(max) = limits.max_concurrency {
            entries.push(Entry {
                key: key(":cc"),
                kind: Kind::Lease,
                a: u64::from(max),
                b: 0,
                bucket,
                dimension: Dimension::Concurrency,
                limit: u64::from(max),
                rate: None,
            });
        }
        for (limit, kind, dimension, suffix) in [
            (limits.daily_budget_micros, Kind::Day, Dimension::DailyBudget, ":bd"),
            (limits.monthly_budget_micros, Kind::Month, Dimension::MonthlyBudget, ":bm"),
        ] {
            if let Some(limit) = limit {
                entries.push(Entry {
                    key: key(suffix),
                    kind,
                    a: cost,
                    b: limit.min(MAX_SPEND),
                    bucket,
                    dimension,
                    limit,
                    rate: None,
                });
            }
        }
    }
    entries
}

/// What a granted shared reservation must remember to settle.
#[derive(Debug)]
struct HoldEntry {
    key: String,
    kind: Kind,
    /// Tokens: the rate; the position of a lease among the script's entries.
    rate: Option<Rate>,
    number: usize,
    /// Tokens: the µs charged; budgets: the micro-USD charged.
    reserved: u64,
    /// Budgets: the window index reserved in.
    window: u64,
}

/// A granted shared reservation (see [`crate::Reservation`]). Dropped unsettled, it
/// releases its leases in the background (if a tokio runtime is running; otherwise
/// they expire with their TTL).
#[derive(Debug)]
pub(crate) struct SharedHold {
    limiter: Arc<SharedLimiter>,
    lease_id: String,
    entries: Vec<HoldEntry>,
    done: bool,
}

impl SharedHold {
    /// The script arguments that settle with `actual` (`None`: nothing to send).
    fn settlement(&self, actual: Option<Demand>) -> Vec<(&str, Kind, i64, u64)> {
        let mut out = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            match (entry.kind, actual) {
                (Kind::Lease, _) => {
                    out.push((entry.key.as_str(), Kind::Lease, to_i64(entry.number as u64), 0));
                }
                (Kind::Rate, Some(actual)) => {
                    if let Some(rate) = entry.rate {
                        let delta = signed_delta(rate.cost(actual.tokens), entry.reserved);
                        if delta != 0 {
                            out.push((entry.key.as_str(), Kind::Rate, delta, 0));
                        }
                    }
                }
                (Kind::Day | Kind::Month, Some(actual)) => {
                    let delta = signed_delta(actual.cost_micros.min(MAX_SPEND), entry.reserved);
                    if delta != 0 {
                        out.push((entry.key.as_str(), entry.kind, delta, entry.window));
                    }
                }
                _ => {}
            }
        }
        out
    }

    async fn send(&mut self, actual: Option<Demand>) -> Result<(), BackendError> {
        self.done = true;
        let args = self.settlement(actual);
        if args.is_empty() {
            return Ok(());
        }
        let limiter = Arc::clone(&self.limiter);
        let result = limiter.run_settle(&self.lease_id, &args).await;
        if let Err(error) = &result {
            limiter.settle_failures.fetch_add(1, Ordering::Relaxed);
            limiter.warn("settlement failed", error);
        }
        result
    }

    pub(crate) async fn settle(mut self, actual: Demand) -> Result<(), BackendError> {
        self.send(Some(actual)).await
    }

    /// Settles in the background on the current tokio runtime, if any.
    pub(crate) fn settle_detached(mut self, actual: Demand) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = self.send(Some(actual)).await;
                });
            }
            Err(_) => {
                self.done = true;
                self.limiter.settle_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "rampart-limits: settle called outside a tokio runtime; the reserved \
                     amounts stay charged and leases expire with their TTL"
                );
            }
        }
    }
}

impl Drop for SharedHold {
    fn drop(&mut self) {
        if self.done || !self.entries.iter().any(|e| e.kind == Kind::Lease) {
            return;
        }
        self.done = true;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Marked done already: if the task is cancelled (runtime shutting down) its
        // drop must not spawn another; the leases then expire with their TTL.
        let mut release = SharedHold {
            limiter: Arc::clone(&self.limiter),
            lease_id: std::mem::take(&mut self.lease_id),
            entries: std::mem::take(&mut self.entries),
            done: true,
        };
        runtime.spawn(async move {
            let _ = release.send(None).await;
        });
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn signed_delta(actual: u64, reserved: u64) -> i64 {
    if actual >= reserved { to_i64(actual - reserved) } else { -to_i64(reserved - actual) }
}

/// The shared limiter behind [`crate::Limiter::redis`].
pub(crate) struct SharedLimiter {
    client: Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    reserve_script: Script,
    settle_script: Script,
    config: RedisConfig,
    fallback: MemoryLimiter,
    started: Instant,
    /// Nanoseconds since `started` until which Redis is skipped.
    breaker_until: AtomicU64,
    /// Nanoseconds since `started` of the last warning (`u64::MAX`: none yet).
    last_warn: AtomicU64,
    instance: u64,
    lease_seq: AtomicU64,
    redis_errors: AtomicU64,
    fallback_reserves: AtomicU64,
    settle_failures: AtomicU64,
    /// Tests: the time the scripts use instead of Redis `TIME` (µs; 0: none).
    #[cfg(test)]
    pub(crate) now_override: AtomicU64,
}

impl fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("key_prefix", &self.config.key_prefix)
            .field("fail_policy", &self.config.fail_policy)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A random 64-bit number from the standard library's per-process random keys.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

impl SharedLimiter {
    pub(crate) fn new(config: RedisConfig) -> Result<Self, BackendError> {
        let client = Client::open(config.url.as_str())
            .map_err(|error| BackendError::new(format!("invalid Redis URL: {error}")))?;
        Ok(Self {
            client,
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            reserve_script: Script::new(RESERVE_LUA),
            settle_script: Script::new(SETTLE_LUA),
            fallback: MemoryLimiter::new(config.fallback),
            config,
            started: Instant::now(),
            breaker_until: AtomicU64::new(0),
            last_warn: AtomicU64::new(u64::MAX),
            instance: random_u64(),
            lease_seq: AtomicU64::new(0),
            redis_errors: AtomicU64::new(0),
            fallback_reserves: AtomicU64::new(0),
            settle_failures: AtomicU64::new(0),
            #[cfg(test)]
            now_override: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> LimiterStats {
        LimiterStats {
            memory: self.fallback.stats(),
            redis_errors: self.redis_errors.load(Ordering::Relaxed),
            fallback_reserves: self.fallback_reserves.load(Ordering::Relaxed),
            settle_failures: self.settle_failures.load(Ordering::Relaxed),
        }
    }

    fn elapsed(&self) -> u64 {
        duration_nanos(self.started.elapsed())
    }

    fn breaker_open(&self) -> bool {
        self.elapsed() < self.breaker_until.load(Ordering::Acquire)
    }

    fn now_arg(&self) -> u64 {
        #[cfg(test)]
        {
            self.now_override.load(Ordering::Acquire)
        }
        #[cfg(not(test))]
        {
            0
        }
    }

    /// Records a failure: opens the breaker and drops the connection.
    fn trip(&self, error: &BackendError) {
        self.redis_errors.fetch_add(1, Ordering::Relaxed);
        let until = self.elapsed().saturating_add(duration_nanos(self.config.breaker));
        self.breaker_until.store(until, Ordering::Release);
        *self.connection.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.warn("Redis failed", error);
    }

    /// Warns at most once per `warn_interval`.
    fn warn(&self, what: &str, error: &BackendError) {
        let now = self.elapsed();
        let interval = duration_nanos(self.config.warn_interval);
        let last = self.last_warn.load(Ordering::Acquire);
        let due = last == u64::MAX || now.saturating_sub(last) >= interval;
        if due && self.last_warn.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            tracing::warn!(
                error = %error,
                policy = ?self.config.fail_policy,
                fallback_reserves = self.fallback_reserves.load(Ordering::Relaxed),
                redis_errors = self.redis_errors.load(Ordering::Relaxed),
                "rampart-limits: {what}"
            );
        }
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.connection.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    async fn connection(&self) -> Result<MultiplexedConnection, BackendError> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.config.timeout.max(self.config.settle_timeout)))
            .set_response_timeout(Some(self.config.timeout.max(self.config.settle_timeout)));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| BackendError::new(format!("Redis connect: {error}")))?;
        *self.connection.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    async fn bounded<T>(
        &self,
        limit: Duration,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::timeout(format!("Redis timed out after {} ms", limit.as_millis()))),
        }
    }

    async fn run_reserve(&self, entries: &[Entry], lease_id: &str) -> Result<Vec<i64>, BackendError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.reserve_script.prepare_invoke();
        invocation
            .arg(self.now_arg())
            .arg(lease_id)
            .arg(u64::try_from(self.config.lease_ttl.as_micros()).unwrap_or(u64::MAX / 2));
        for entry in entries {
            invocation.key(entry.key.as_str()).arg(entry.kind.code()).arg(entry.a).arg(entry.b);
        }
        invocation
            .invoke_async(&mut connection)
            .await
            .map_err(|error| BackendError::new(format!("Redis reserve: {error}")))
    }

    async fn run_settle(&self, lease_id: &str, args: &[(&str, Kind, i64, u64)]) -> Result<(), BackendError> {
        let call = async {
            let mut connection = self.connection().await?;
            let mut invocation = self.settle_script.prepare_invoke();
            invocation.arg(self.now_arg()).arg(lease_id);
            for (key, kind, a, b) in args {
                invocation.key(*key).arg(kind.code()).arg(*a).arg(*b);
            }
            invocation
                .invoke_async::<i64>(&mut connection)
                .await
                .map(|_| ())
                .map_err(|error| BackendError::new(format!("Redis settle: {error}")))
        };
        let result = self.bounded(self.config.settle_timeout, call).await;
        if result.is_err() {
            // A broken connection is replaced on the next call; the breaker is for
            // the reserve path only.
            *self.connection.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        result
    }

    pub(crate) async fn reserve<N: AsRef<str>>(
        self: &Arc<Self>,
        buckets: &[(N, Limits)],
        demand: Demand,
    ) -> Result<Reservation, ReserveError> {
        if let Some(refusal) = impossible(buckets, demand) {
            return Err(ReserveError::Refused(refusal));
        }
        let entries = plan(&self.config.key_prefix, buckets, demand);
        if entries.is_empty() {
            return Ok(Reservation::unlimited());
        }
        if self.breaker_open() {
            return self.degrade(buckets, demand, BackendError::new("Redis skipped: circuit open"));
        }
        let sequence = self.lease_seq.fetch_add(1, Ordering::Relaxed);
        let lease_id = format!("{:016x}-{sequence:x}", self.instance);
        let result = self.bounded(self.config.timeout, self.run_reserve(&entries, &lease_id)).await;
        let values = match result {
            Ok(values) => values,
            Err(error) => {
                self.trip(&error);
                if error.timed_out() {
                    // The script may still run after the timeout: release its leases.
                    self.release_orphan(&entries, lease_id);
                }
                return self.degrade(buckets, demand, error);
            }
        };
        match self.interpret(buckets, entries, lease_id, &values) {
            Ok(outcome) => outcome,
            Err(error) => {
                self.trip(&error);
                self.degrade(buckets, demand, error)
            }
        }
    }

    fn interpret<N: AsRef<str>>(
        self: &Arc<Self>,
        buckets: &[(N, Limits)],
        entries: Vec<Entry>,
        lease_id: String,
        values: &[i64],
    ) -> Result<Result<Reservation, ReserveError>, BackendError> {
        let bad = || BackendError::new(format!("Redis reserve: unexpected reply {values:?}"));
        let value = |i: usize| -> Result<u64, BackendError> {
            values.get(i).and_then(|v| u64::try_from(*v).ok()).ok_or_else(bad)
        };
        let granted = value(0)?;
        let now_us = value(1)?;
        if granted == 0 {
            let number = usize::try_from(value(2)?).map_err(|_| bad())?;
            let entry = number.checked_sub(1).and_then(|i| entries.get(i)).ok_or_else(bad)?;
            let before = value(3)?;
            let now_nanos = now_us.saturating_mul(1000);
            let retry_after = match entry.kind {
                Kind::Rate => entry.rate.map(|rate| Duration::from_micros(rate.wait(before, entry.a))),
                Kind::Lease => Some(CONCURRENCY_RETRY_HINT),
                Kind::Day => Some(Window::Day.remaining(now_nanos)),
                Kind::Month => Some(Window::Month.remaining(now_nanos)),
            };
            let name = buckets.get(entry.bucket).map(|(name, _)| name.as_ref()).unwrap_or_default();
            return Ok(Err(ReserveError::Refused(Refusal {
                bucket: name.to_owned(),
                index: entry.bucket,
                dimension: entry.dimension,
                limit: entry.limit,
                retry_after,
            })));
        }
        if values.len() != entries.len() + 2 {
            return Err(bad());
        }
        let secs = now_us / MICROS_PER_SEC;
        let mut headers = RateHeaders::default();
        let mut held = Vec::with_capacity(entries.len());
        for (number, entry) in entries.into_iter().enumerate() {
            let after = value(number + 2)?;
            match (entry.kind, entry.rate) {
                (Kind::Rate, Some(rate)) => {
                    let figure = Figure {
                        limit: rate.limit,
                        remaining: rate.remaining(after),
                        reset: Duration::from_micros(after),
                    };
                    if entry.dimension == Dimension::Requests {
                        RateHeaders::offer(&mut headers.requests, figure);
                    } else {
                        RateHeaders::offer(&mut headers.tokens, figure);
                        held.push(HoldEntry {
                            key: entry.key,
                            kind: Kind::Rate,
                            rate: Some(rate),
                            number: number + 1,
                            reserved: entry.a,
                            window: 0,
                        });
                    }
                }
                (Kind::Rate, None) => {}
                (Kind::Lease, _) => held.push(HoldEntry {
                    key: entry.key,
                    kind: Kind::Lease,
                    rate: None,
                    number: number + 1,
                    reserved: 0,
                    window: 0,
                }),
                (kind @ (Kind::Day | Kind::Month), _) => {
                    let window = if kind == Kind::Day { Window::Day.index(secs) } else { Window::Month.index(secs) };
                    held.push(HoldEntry {
                        key: entry.key,
                        kind,
                        rate: None,
                        number: number + 1,
                        reserved: entry.a,
                        window,
                    });
                }
            }
        }
        let hold = SharedHold { limiter: Arc::clone(self), lease_id, entries: held, done: false };
        Ok(Ok(Reservation::shared(hold, headers)))
    }

    /// After a failed reserve call whose script may yet run: removes its leases.
    fn release_orphan(self: &Arc<Self>, entries: &[Entry], lease_id: String) {
        let leases: Vec<HoldEntry> = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.kind == Kind::Lease)
            .map(|(number, entry)| HoldEntry {
                key: entry.key.clone(),
                kind: Kind::Lease,
                rate: None,
                number: number + 1,
                reserved: 0,
                window: 0,
            })
            .collect();
        if leases.is_empty() {
            return;
        }
        // Dropping an unsettled hold with leases releases them in the background.
        drop(SharedHold { limiter: Arc::clone(self), lease_id, entries: leases, done: false });
    }

    fn degrade<N: AsRef<str>>(
        &self,
        buckets: &[(N, Limits)],
        demand: Demand,
        error: BackendError,
    ) -> Result<Reservation, ReserveError> {
        match self.config.fail_policy {
            FailPolicy::Closed => Err(ReserveError::Unavailable(error)),
            FailPolicy::Open => {
                self.fallback_reserves.fetch_add(1, Ordering::Relaxed);
                self.warn("Redis unavailable, counting locally (fail-open)", &error);
                let (hold, headers) = self.fallback.reserve_hold(buckets, demand).map_err(ReserveError::Refused)?;
                Ok(Reservation::memory(hold, headers, true))
            }
        }
    }
}

#[cfg(test)]
mod tests;
