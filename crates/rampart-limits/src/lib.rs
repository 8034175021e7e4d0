//! rampart admission accounting: rate limits, token limits, concurrency and spend
//! budgets, reserved atomically before a request is forwarded and settled after the
//! response; and priority load shedding.
//!
//! Owns the counting and the decisions. Does not own HTTP, configuration parsing or
//! tokenization: the caller passes names, limits and numbers, and turns refusals and
//! [`RateHeaders`] into responses and headers.
//!
//! # Semantics
//!
//! **Subjects.** A request is checked against a few subjects at once, typically its
//! key, its team, its model and the gateway as a whole. The caller gives a list of
//! `(bucket name, Limits)` pairs, e.g. `("key:abc", ..)`, `("team:ml", ..)`,
//! `("model:gpt-4o", ..)`, `("global", ..)`. Every [`Limits`] field is optional:
//!
//! - `rpm`, `tpm`: requests and tokens per minute, each a bucket (GCRA) whose capacity
//!   is the per-minute limit, refilling continuously at `limit / 60 s`. Compare-and-
//!   swap on one word per bucket dimension: concurrent reservations never take more
//!   than the bucket holds (rounding can only refuse, by at most 1 ns of refill per
//!   grant in memory and 1 µs in Redis). [`RateHeaders`] gives, per dimension, the
//!   tightest bucket's limit, remaining (rounded down) and reset (time until full).
//! - `max_concurrency`: requests in flight, a gauge. The [`Reservation`] holds the
//!   slot until it is settled or dropped, so a client that disconnects cannot leak it.
//! - `daily_budget_micros`, `monthly_budget_micros`: spend in micro-USD per calendar
//!   day and month in UTC (fixed windows). A request reserves its maximum cost.
//!
//! **Demand.** A request is one request, `tokens` tokens (prompt estimate plus the
//! maximum completion) and `cost_micros` (its maximum cost): a [`Demand`].
//!
//! **Reserve** is all or nothing across every bucket and every dimension: either all
//! of them are charged, or none is, and the [`Refusal`] names the first failing
//! (subject, dimension), in the order the subjects were given and the order of
//! [`Dimension`] (requests, tokens, concurrency, daily, monthly budget), with its limit
//! and `retry_after`: how long until the same demand fits (rate buckets: until enough
//! has refilled; budgets: until the window ends; concurrency: a 1 s hint). A demand
//! that could never fit (more tokens than the bucket holds, a cost above the whole
//! budget, a limit of 0) is refused up front with `retry_after: None`: the gateway
//! answers 429 without a retry hint. A budget admits a request while it is not
//! exhausted and the cost fits: `spent < limit && spent + cost <= limit`.
//!
//! **Settle** with the actual [`Demand`] once the response is done: when less was used
//! than reserved the difference is given back; when more, the excess is charged, which
//! may put a bucket into debt (later requests wait it out: usage is never lost). A
//! budget adjustment lands in the window the reservation was made in while that window
//! is current; after it closed, refunds are dropped and excess is charged to the
//! current window. A reservation dropped without settling keeps its full reserved
//! charge (conservative) and releases its concurrency slots.
//!
//! # Backends
//!
//! - [`MemoryLimiter`] (the default; [`Limiter::memory`]): one process's counts,
//!   lock-free atomics behind a bounded registry of buckets (see [`memory`] for the
//!   eviction policy). Time comes from a [`Clock`], injectable for tests.
//! - Redis ([`Limiter::redis`]): counts shared by every instance, one round trip per
//!   reservation (one Lua script using the Redis clock), with a fail-open fallback to
//!   a local limiter or fail-closed refusal, and a circuit breaker (see [`shared`]).
//!
//! # Shedding
//!
//! [`Shedder`] caps requests in flight gateway-wide by [`Priority`]: batch is admitted
//! below 70 % of the capacity, standard below 90 %, critical up to 100 %.

pub mod clock;
mod gcra;
pub mod limiter;
pub mod memory;
pub mod shared;
pub mod shed;
pub mod types;

pub use clock::{Clock, ManualClock, SystemClock};
pub use limiter::{Limiter, LimiterStats, Reservation};
pub use memory::{MemoryConfig, MemoryLimiter, MemoryStats};
pub use shared::{FailPolicy, RedisConfig};
pub use shed::{Priority, Shed, ShedConfig, ShedGuard, Shedder, UnknownPriority};
pub use types::{
    BackendError, CONCURRENCY_RETRY_HINT, Demand, Dimension, Figure, Limits, RateHeaders, Refusal, ReserveError,
};
