//! The in-memory backend: one process's buckets, checked and reserved lock-free.
//!
//! Each named bucket is a `Bucket` of atomics (two GCRA cells, an in-flight gauge,
//! two budget cells), looked up by name in a `Registry` under a `std::sync::RwLock`
//! read lock (one uncontended acquisition per reservation, about 20 ns, for all its
//! subjects; the write lock is taken only to add a bucket). The checks themselves are
//! compare-and-swap loops on one `u64` (or `u32`) per bucket dimension.
//!
//! Memory is bounded: the registry holds at most [`MemoryConfig::max_buckets`]
//! buckets. Adding one at the cap first drops every idle bucket (full rate buckets,
//! nothing in flight, no spend in the current day or month, no reservation holding
//! it): dropping those changes no decision. If that frees too little, the least
//! recently used buckets that no reservation holds are dropped too, down to 7/8 of
//! the cap, so sweeps stay rare; their state is lost (those subjects start afresh,
//! which can only be more permissive) and [`MemoryStats::forced_evictions`] counts
//! them. Buckets held by live reservations are never dropped, so the cap can be
//! exceeded by at most the number of reservations in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::clock::{Clock, NANOS_PER_SEC, SystemClock, Window};
use crate::gcra::{BudgetCell, Gauge, GcraCell, MAX_SPEND, Rate, window_tag};
use crate::types::{CONCURRENCY_RETRY_HINT, Demand, Dimension, Figure, Limits, RateHeaders, Refusal};

/// Settings of the in-memory backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// The most buckets kept (see the module docs for the eviction policy).
    pub max_buckets: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { max_buckets: 100_000 }
    }
}

/// Counters of the in-memory backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Buckets held now.
    pub buckets: usize,
    /// Idle buckets dropped so far (no decision changes).
    pub idle_evictions: u64,
    /// Non-idle buckets dropped at the cap so far (their state was lost).
    pub forced_evictions: u64,
}

/// One subject's counters.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    requests: GcraCell,
    tokens: GcraCell,
    in_flight: Gauge,
    daily: BudgetCell,
    monthly: BudgetCell,
    /// Seconds since the epoch of the last reservation, for least-recently-used eviction.
    touched: AtomicU64,
}

impl Bucket {
    fn is_idle(&self, now: u64) -> bool {
        let secs = now / NANOS_PER_SEC;
        self.requests.used(now) == 0
            && self.tokens.used(now) == 0
            && self.in_flight.in_flight() == 0
            && self.daily.spent(Window::Day.index(secs)) == 0
            && self.monthly.spent(Window::Month.index(secs)) == 0
    }
}

#[derive(Debug)]
struct Registry {
    buckets: RwLock<HashMap<Box<str>, Arc<Bucket>>>,
    max: usize,
    idle_evictions: AtomicU64,
    forced_evictions: AtomicU64,
}

impl Registry {
    fn new(max: usize) -> Self {
        Self {
            buckets: RwLock::new(HashMap::new()),
            max: max.max(1),
            idle_evictions: AtomicU64::new(0),
            forced_evictions: AtomicU64::new(0),
        }
    }

    /// The bucket of every name, in order, created as needed.
    fn resolve<'n>(&self, names: impl Iterator<Item = &'n str> + Clone, now: u64, out: &mut Vec<Arc<Bucket>>) {
        {
            let map = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
            for name in names.clone() {
                match map.get(name) {
                    Some(bucket) => out.push(Arc::clone(bucket)),
                    None => break,
                }
            }
        }
        let found = out.len();
        let mut rest = names.skip(found).peekable();
        if rest.peek().is_none() {
            return;
        }
        let mut map = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
        for name in rest {
            if let Some(bucket) = map.get(name) {
                out.push(Arc::clone(bucket));
                continue;
            }
            if map.len() >= self.max {
                self.evict(&mut map, now);
            }
            let bucket = Arc::new(Bucket::default());
            map.insert(name.into(), Arc::clone(&bucket));
            out.push(bucket);
        }
    }

    fn evict(&self, map: &mut HashMap<Box<str>, Arc<Bucket>>, now: u64) {
        let before = map.len();
        map.retain(|_, bucket| Arc::strong_count(bucket) > 1 || !bucket.is_idle(now));
        let idle = before - map.len();
        self.idle_evictions.fetch_add(idle as u64, Ordering::Relaxed);
        // Room for this insert and the next max/8 without sweeping again.
        let goal = (self.max - self.max / 8).saturating_sub(1);
        if map.len() <= goal {
            return;
        }
        let mut candidates: Vec<(u64, Box<str>)> = map
            .iter()
            .filter(|(_, bucket)| Arc::strong_count(bucket) == 1)
            .map(|(name, bucket)| (bucket.touched.load(Ordering::Relaxed), name.clone()))
            .collect();
        candidates.sort_unstable();
        let excess = map.len() - goal;
        let mut forced = 0u64;
        for (_, name) in candidates.into_iter().take(excess) {
            map.remove(&name);
            forced += 1;
        }
        self.forced_evictions.fetch_add(forced, Ordering::Relaxed);
    }

    fn sweep(&self, now: u64) -> usize {
        let mut map = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
        let before = map.len();
        map.retain(|_, bucket| Arc::strong_count(bucket) > 1 || !bucket.is_idle(now));
        let removed = before - map.len();
        self.idle_evictions.fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    fn len(&self) -> usize {
        self.buckets.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    clock: Arc<dyn Clock>,
}

/// The in-memory limiter: cheap to clone (one `Arc`), shared by every task.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    inner: Arc<Inner>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new(MemoryConfig::default())
    }
}

/// A budget reserved in one window.
#[derive(Debug, Clone, Copy)]
struct BudgetHold {
    window_index: u64,
    cost: u64,
}

/// What a reservation holds in one bucket; dropping it releases the concurrency slot
/// (the charges stay).
#[derive(Debug)]
struct Held {
    bucket: Arc<Bucket>,
    /// The requests cost charged (ns), for a rollback.
    requests: Option<u64>,
    /// The tokens rate and the cost charged (ns).
    tokens: Option<(Rate, u64)>,
    lease: bool,
    daily: Option<BudgetHold>,
    monthly: Option<BudgetHold>,
}

impl Held {
    fn new(bucket: Arc<Bucket>) -> Self {
        Self { bucket, requests: None, tokens: None, lease: false, daily: None, monthly: None }
    }

    /// Undoes every charge (the lease is released by the drop).
    fn roll_back(&self, now: u64) {
        if let Some(cost) = self.requests {
            self.bucket.requests.refund(now, cost);
        }
        if let Some((_, cost)) = self.tokens {
            self.bucket.tokens.refund(now, cost);
        }
        let secs = now / NANOS_PER_SEC;
        if let Some(hold) = self.daily {
            let delta = -i128::from(hold.cost);
            self.bucket.daily.adjust(hold.window_index, Window::Day.index(secs), delta);
        }
        if let Some(hold) = self.monthly {
            let delta = -i128::from(hold.cost);
            self.bucket.monthly.adjust(hold.window_index, Window::Month.index(secs), delta);
        }
    }

    /// Replaces the reserved tokens and cost with the actual ones.
    fn settle(&self, now: u64, actual: Demand) {
        if let Some((rate, reserved)) = self.tokens {
            let cost = rate.cost(actual.tokens);
            if cost > reserved {
                self.bucket.tokens.charge(now, cost - reserved);
            } else if cost < reserved {
                self.bucket.tokens.refund(now, reserved - cost);
            }
        }
        let secs = now / NANOS_PER_SEC;
        let actual_cost = actual.cost_micros.min(MAX_SPEND);
        if let Some(hold) = self.daily {
            let delta = i128::from(actual_cost) - i128::from(hold.cost);
            self.bucket.daily.adjust(hold.window_index, Window::Day.index(secs), delta);
        }
        if let Some(hold) = self.monthly {
            let delta = i128::from(actual_cost) - i128::from(hold.cost);
            self.bucket.monthly.adjust(hold.window_index, Window::Month.index(secs), delta);
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.lease {
            self.lease = false;
            self.bucket.in_flight.release();
        }
    }
}

/// A granted in-memory reservation (see [`crate::Reservation`]).
#[derive(Debug)]
pub(crate) struct MemoryHold {
    held: Vec<Held>,
    clock: Arc<dyn Clock>,
}

impl MemoryHold {
    /// Settles with the actual demand; the concurrency slots are released on return.
    pub(crate) fn settle(self, actual: Demand) {
        let now = self.clock.now_nanos();
        for held in &self.held {
            held.settle(now, actual);
        }
    }
}

/// A refusal that no waiting can lift, found before touching any counter.
pub(crate) fn impossible<N: AsRef<str>>(buckets: &[(N, Limits)], demand: Demand) -> Option<Refusal> {
    for (index, (name, limits)) in buckets.iter().enumerate() {
        let never = |dimension, limit| {
            Some(Refusal { bucket: name.as_ref().to_owned(), index, dimension, limit, retry_after: None })
        };
        if let Some(rpm) = limits.rpm {
            if rpm == 0 {
                return never(Dimension::Requests, rpm);
            }
        }
        if let Some(tpm) = limits.tpm {
            if !Rate::new(tpm, Rate::MINUTE_NANOS).can_ever_take(demand.tokens) {
                return never(Dimension::Tokens, tpm);
            }
        }
        if limits.max_concurrency == Some(0) {
            return never(Dimension::Concurrency, 0);
        }
        if let Some(limit) = limits.daily_budget_micros {
            if limit == 0 || demand.cost_micros > limit.min(MAX_SPEND) {
                return never(Dimension::DailyBudget, limit);
            }
        }
        if let Some(limit) = limits.monthly_budget_micros {
            if limit == 0 || demand.cost_micros > limit.min(MAX_SPEND) {
                return never(Dimension::MonthlyBudget, limit);
            }
        }
    }
    None
}

impl MemoryLimiter {
    /// A limiter on the system clock.
    pub fn new(config: MemoryConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// A limiter on the given clock (tests use a [`crate::ManualClock`]).
    pub fn with_clock(config: MemoryConfig, clock: Arc<dyn Clock>) -> Self {
        Self { inner: Arc::new(Inner { registry: Registry::new(config.max_buckets), clock }) }
    }

    /// Checks `demand` against every bucket and dimension and reserves it in all of
    /// them, or in none (the refusal names the first that could not take it).
    /// Synchronous and lock-free apart from the registry's read lock.
    pub fn reserve<N: AsRef<str>>(
        &self,
        buckets: &[(N, Limits)],
        demand: Demand,
    ) -> Result<crate::Reservation, Refusal> {
        let (hold, headers) = self.reserve_hold(buckets, demand)?;
        Ok(crate::Reservation::memory(hold, headers, false))
    }

    pub(crate) fn reserve_hold<N: AsRef<str>>(
        &self,
        buckets: &[(N, Limits)],
        demand: Demand,
    ) -> Result<(MemoryHold, RateHeaders), Refusal> {
        if let Some(refusal) = impossible(buckets, demand) {
            return Err(refusal);
        }
        let now = self.inner.clock.now_nanos();
        let secs = now / NANOS_PER_SEC;
        let active = || buckets.iter().filter(|(_, limits)| !limits.is_unlimited()).map(|(name, _)| name.as_ref());
        let mut resolved = Vec::with_capacity(buckets.len());
        self.inner.registry.resolve(active(), now, &mut resolved);
        let mut resolved = resolved.into_iter();

        let mut headers = RateHeaders::default();
        let mut held: Vec<Held> = Vec::with_capacity(buckets.len());
        let mut day = None;
        let mut month = None;
        for (index, (name, limits)) in buckets.iter().enumerate() {
            if limits.is_unlimited() {
                continue;
            }
            let Some(bucket) = resolved.next() else {
                break;
            };
            if bucket.touched.load(Ordering::Relaxed) != secs {
                bucket.touched.store(secs, Ordering::Relaxed);
            }
            let mut hold = Held::new(bucket);
            let refused = |dimension, limit, retry_after| Refusal {
                bucket: name.as_ref().to_owned(),
                index,
                dimension,
                limit,
                retry_after,
            };
            let outcome = reserve_one(&mut hold, limits, demand, now, &mut day, &mut month, &mut headers);
            if let Err((dimension, limit, retry_after)) = outcome {
                hold.roll_back(now);
                for earlier in &held {
                    earlier.roll_back(now);
                }
                return Err(refused(dimension, limit, retry_after));
            }
            held.push(hold);
        }
        Ok((MemoryHold { held, clock: Arc::clone(&self.inner.clock) }, headers))
    }

    /// Drops every idle bucket now (the gateway may call this periodically; adding a
    /// bucket at the cap does it too). Returns how many were dropped.
    pub fn sweep(&self) -> usize {
        self.inner.registry.sweep(self.inner.clock.now_nanos())
    }

    /// The backend's counters.
    pub fn stats(&self) -> MemoryStats {
        MemoryStats {
            buckets: self.inner.registry.len(),
            idle_evictions: self.inner.registry.idle_evictions.load(Ordering::Relaxed),
            forced_evictions: self.inner.registry.forced_evictions.load(Ordering::Relaxed),
        }
    }
}

type Refused = (Dimension, u64, Option<Duration>);

/// Reserves every limited dimension of one bucket, recording each in `hold` as it
/// succeeds so a refusal part-way can be rolled back.
fn reserve_one(
    hold: &mut Held,
    limits: &Limits,
    demand: Demand,
    now: u64,
    day: &mut Option<u64>,
    month: &mut Option<u64>,
    headers: &mut RateHeaders,
) -> Result<(), Refused> {
    let secs = now / NANOS_PER_SEC;
    if let Some(rpm) = limits.rpm {
        let rate = Rate::new(rpm, Rate::MINUTE_NANOS);
        let cost = rate.cost(1);
        match hold.bucket.requests.take(now, cost, rate.tolerance()) {
            Ok(used) => {
                hold.requests = Some(cost);
                RateHeaders::offer(&mut headers.requests, figure(rate, used));
            }
            Err(used) => {
                let wait = Duration::from_nanos(rate.wait(used, cost));
                return Err((Dimension::Requests, rpm, Some(wait)));
            }
        }
    }
    if let Some(tpm) = limits.tpm {
        let rate = Rate::new(tpm, Rate::MINUTE_NANOS);
        let cost = rate.cost(demand.tokens);
        match hold.bucket.tokens.take(now, cost, rate.tolerance()) {
            Ok(used) => {
                hold.tokens = Some((rate, cost));
                RateHeaders::offer(&mut headers.tokens, figure(rate, used));
            }
            Err(used) => {
                let wait = Duration::from_nanos(rate.wait(used, cost));
                return Err((Dimension::Tokens, tpm, Some(wait)));
            }
        }
    }
    if let Some(max) = limits.max_concurrency {
        if hold.bucket.in_flight.acquire(max).is_err() {
            return Err((Dimension::Concurrency, u64::from(max), Some(CONCURRENCY_RETRY_HINT)));
        }
        hold.lease = true;
    }
    let cost = demand.cost_micros;
    if let Some(limit) = limits.daily_budget_micros {
        let index = *day.get_or_insert_with(|| Window::Day.index(secs));
        if hold.bucket.daily.take(window_tag(index), cost, limit).is_err() {
            let wait = Window::Day.remaining(now);
            return Err((Dimension::DailyBudget, limit, Some(wait)));
        }
        hold.daily = Some(BudgetHold { window_index: index, cost });
    }
    if let Some(limit) = limits.monthly_budget_micros {
        let index = *month.get_or_insert_with(|| Window::Month.index(secs));
        if hold.bucket.monthly.take(window_tag(index), cost, limit).is_err() {
            let wait = Window::Month.remaining(now);
            return Err((Dimension::MonthlyBudget, limit, Some(wait)));
        }
        hold.monthly = Some(BudgetHold { window_index: index, cost });
    }
    Ok(())
}

/// The header figure of a bucket with `used` nanoseconds consumed.
fn figure(rate: Rate, used: u64) -> Figure {
    Figure { limit: rate.limit, remaining: rate.remaining(used), reset: Duration::from_nanos(used) }
}

#[cfg(test)]
mod tests;
