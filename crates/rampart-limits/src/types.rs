//! The vocabulary shared by every backend: a subject's [`Limits`], a request's
//! [`Demand`], the [`Dimension`]s it is counted in, the header figures
//! ([`RateHeaders`]) and the outcome of a refused or failed reservation
//! ([`Refusal`], [`ReserveError`]). Plain data, no behaviour beyond formatting.

use std::fmt;
use std::time::Duration;

/// One subject's limits; `None` leaves that dimension unlimited for the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Requests per minute (bucket capacity; refills continuously at `rpm / 60 s`).
    pub rpm: Option<u64>,
    /// Tokens per minute (bucket capacity; refills continuously at `tpm / 60 s`).
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    pub max_concurrency: Option<u32>,
    /// Spend per calendar day (UTC), in micro-USD.
    pub daily_budget_micros: Option<u64>,
    /// Spend per calendar month (UTC), in micro-USD.
    pub monthly_budget_micros: Option<u64>,
}

impl Limits {
    /// True when no dimension is limited: such a subject costs nothing to check.
    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none()
            && self.tpm.is_none()
            && self.max_concurrency.is_none()
            && self.daily_budget_micros.is_none()
            && self.monthly_budget_micros.is_none()
    }
}

/// What one request asks for (it always counts as one request).
///
/// At reserve time: the prompt estimate plus the maximum completion, and the maximum
/// cost. At settlement: what the response actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Demand {
    /// Tokens, prompt and completion together.
    pub tokens: u64,
    /// Cost in micro-USD.
    pub cost_micros: u64,
}

impl Demand {
    /// A demand of `tokens` tokens costing `cost_micros` micro-USD.
    pub fn new(tokens: u64, cost_micros: u64) -> Self {
        Self { tokens, cost_micros }
    }
}

/// A dimension a subject is counted in, in the order a reservation checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
    /// Requests in flight.
    Concurrency,
    /// Spend per UTC day.
    DailyBudget,
    /// Spend per UTC month.
    MonthlyBudget,
}

impl Dimension {
    /// A stable lowercase name (`requests`, `tokens`, `concurrency`, `daily_budget`,
    /// `monthly_budget`), for logs, metrics and error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
            Self::Concurrency => "concurrency",
            Self::DailyBudget => "daily_budget",
            Self::MonthlyBudget => "monthly_budget",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a reservation was refused: the first (subject, dimension) that could not take
/// the demand, in the order the subjects were given and the order of [`Dimension`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The subject's bucket name, as given (`key:abc`, `team:ml`, `global`, ...).
    pub bucket: String,
    /// The subject's position in the list given to `reserve`.
    pub index: usize,
    /// The dimension that refused.
    pub dimension: Dimension,
    /// That dimension's limit (per minute, in flight, or micro-USD per window).
    pub limit: u64,
    /// How long until the same demand can succeed. `None`: it never can under these
    /// limits (it exceeds the bucket's capacity or the whole budget, or the
    /// concurrency limit is 0); the gateway still answers 429, without a retry hint.
    /// For concurrency it is a hint ([`CONCURRENCY_RETRY_HINT`]): slots free up when
    /// other requests finish, which cannot be predicted.
    pub retry_after: Option<Duration>,
}

impl Refusal {
    /// True when retrying the same demand later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry_after.is_some()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limit exceeded: {} {} (limit {})", self.bucket, self.dimension, self.limit)?;
        match self.retry_after {
            Some(after) => write!(f, ", retry after {} ms", after.as_millis()),
            None => f.write_str(", the demand exceeds the limit itself"),
        }
    }
}

/// The retry hint given with a concurrency refusal.
pub const CONCURRENCY_RETRY_HINT: Duration = Duration::from_secs(1);

/// A backend failure (Redis unreachable, timed out, or answering nonsense).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    message: String,
    timed_out: bool,
}

impl BackendError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), timed_out: false }
    }

    pub(crate) fn timeout(message: impl Into<String>) -> Self {
        Self { message: message.into(), timed_out: true }
    }

    /// True when the backend did not answer in time (rather than failing outright).
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
}

/// Why a reservation was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// A limit refused the demand: the gateway answers 429.
    #[error("{0}")]
    Refused(Refusal),
    /// The shared backend failed and the policy is fail-closed: the gateway answers 503.
    #[error("limits backend unavailable: {0}")]
    Unavailable(BackendError),
}

/// One dimension's figures for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figure {
    /// The per-minute limit.
    pub limit: u64,
    /// What is left now, rounded down.
    pub remaining: u64,
    /// How long until the bucket is full again.
    pub reset: Duration,
}

/// The header figures of a granted reservation, as of just after it: per dimension,
/// the tightest bucket (least remaining; on a tie, the longest reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateHeaders {
    /// Requests per minute, when any subject limits them.
    pub requests: Option<Figure>,
    /// Tokens per minute, when any subject limits them.
    pub tokens: Option<Figure>,
}

impl RateHeaders {
    pub(crate) fn offer(slot: &mut Option<Figure>, figure: Figure) {
        let tighter = match slot {
            None => true,
            Some(current) => {
                figure.remaining < current.remaining
                    || (figure.remaining == current.remaining && figure.reset > current.reset)
            }
        };
        if tighter {
            *slot = Some(figure);
        }
    }
}
