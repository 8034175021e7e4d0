//! The front door: [`Limiter`] (in memory or shared through Redis, one async
//! `reserve` for both) and the [`Reservation`] it grants, which carries the header
//! figures, holds the concurrency slots until it is settled or dropped, and settles
//! with the actual usage.

use std::sync::Arc;

use crate::Clock;
use crate::memory::{MemoryConfig, MemoryHold, MemoryLimiter, MemoryStats};
use crate::shared::{RedisConfig, SharedHold, SharedLimiter};
use crate::types::{BackendError, Demand, Limits, RateHeaders, ReserveError};

/// Admission accounting for the gateway: check-and-reserve before forwarding, settle
/// after the response. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Limiter {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(MemoryLimiter),
    Shared(Arc<SharedLimiter>),
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimiterStats {
    /// The in-memory limiter's (the Redis backend's fallback's, for a shared limiter).
    pub memory: MemoryStats,
    /// Redis calls on the reserve path that failed or timed out.
    pub redis_errors: u64,
    /// Reservations served by the in-memory fallback (fail-open).
    pub fallback_reserves: u64,
    /// Settlements (or lease releases) that could not reach Redis.
    pub settle_failures: u64,
}

impl From<MemoryLimiter> for Limiter {
    fn from(limiter: MemoryLimiter) -> Self {
        Self { backend: Backend::Memory(limiter) }
    }
}

impl Limiter {
    /// An in-memory limiter (one instance's counts) on the system clock.
    pub fn memory(config: MemoryConfig) -> Self {
        MemoryLimiter::new(config).into()
    }

    /// An in-memory limiter on the given clock.
    pub fn memory_with_clock(config: MemoryConfig, clock: Arc<dyn Clock>) -> Self {
        MemoryLimiter::with_clock(config, clock).into()
    }

    /// A limiter shared through Redis. Connects lazily (on the first reservation), so
    /// a Redis that is down at start-up is handled by the failure policy; fails only
    /// on an invalid URL.
    pub fn redis(config: RedisConfig) -> Result<Self, BackendError> {
        Ok(Self { backend: Backend::Shared(Arc::new(SharedLimiter::new(config)?)) })
    }

    /// Checks `demand` (plus one request) against every subject's limits and reserves
    /// it in all of them, or in none. `buckets` pairs bucket names (`key:abc`,
    /// `team:ml`, `model:gpt-4o`, `global`) with their limits; a name given twice is
    /// counted twice. The refusal names the first (subject, dimension) that refused,
    /// in the order given and the order of [`crate::Dimension`]; a demand no wait could
    /// admit is refused before anything is counted.
    pub async fn reserve<N: AsRef<str> + Sync>(
        &self,
        buckets: &[(N, Limits)],
        demand: Demand,
    ) -> Result<Reservation, ReserveError> {
        match &self.backend {
            Backend::Memory(limiter) => limiter.reserve(buckets, demand).map_err(ReserveError::Refused),
            Backend::Shared(limiter) => limiter.reserve(buckets, demand).await,
        }
    }

    /// Counters for metrics.
    pub fn stats(&self) -> LimiterStats {
        match &self.backend {
            Backend::Memory(limiter) => LimiterStats { memory: limiter.stats(), ..LimiterStats::default() },
            Backend::Shared(limiter) => limiter.stats(),
        }
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> Option<&Arc<SharedLimiter>> {
        match &self.backend {
            Backend::Shared(limiter) => Some(limiter),
            Backend::Memory(_) => None,
        }
    }
}

/// A granted reservation. Settle it with the actual usage once the response is done;
/// dropped unsettled (the client went away, the upstream failed), it keeps the full
/// reserved charge and releases its concurrency slots.
#[derive(Debug)]
#[must_use = "dropping a reservation at once keeps its full charge; settle it after the response"]
pub struct Reservation {
    headers: RateHeaders,
    hold: Hold,
    fallback: bool,
}

#[derive(Debug)]
enum Hold {
    Nothing,
    Memory(MemoryHold),
    Shared(SharedHold),
}

impl Reservation {
    pub(crate) fn memory(hold: MemoryHold, headers: RateHeaders, fallback: bool) -> Self {
        Self { headers, hold: Hold::Memory(hold), fallback }
    }

    pub(crate) fn shared(hold: SharedHold, headers: RateHeaders) -> Self {
        Self { headers, hold: Hold::Shared(hold), fallback: false }
    }

    /// A reservation against no limit at all.
    pub(crate) fn unlimited() -> Self {
        Self { headers: RateHeaders::default(), hold: Hold::Nothing, fallback: false }
    }

    /// The `x-ratelimit-*` figures as of just after this reservation.
    pub fn headers(&self) -> &RateHeaders {
        &self.headers
    }

    /// True when the shared backend was unavailable and this reservation was counted
    /// by the local fallback (fail-open).
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// Replaces the reserved tokens and cost with `actual` (giving back the
    /// difference, or charging the excess, which may put a bucket into debt) and
    /// releases the concurrency slots. Synchronous: in memory it is done on return;
    /// for Redis it is spawned on the current tokio runtime (outside one it cannot be
    /// sent: the reserved amounts stay charged and the leases expire with their TTL).
    pub fn settle(self, actual: Demand) {
        match self.hold {
            Hold::Nothing => {}
            Hold::Memory(hold) => hold.settle(actual),
            Hold::Shared(hold) => hold.settle_detached(actual),
        }
    }

    /// [`Reservation::settle`], waiting for Redis to confirm.
    pub async fn settle_async(self, actual: Demand) -> Result<(), BackendError> {
        match self.hold {
            Hold::Nothing => Ok(()),
            Hold::Memory(hold) => {
                hold.settle(actual);
                Ok(())
            }
            Hold::Shared(hold) => hold.settle(actual).await,
        }
    }
}
