//! Unlabeled building blocks: [`Counter`], [`Gauge`] and [`Histogram`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A monotonically increasing `u64` counter (one relaxed atomic add per increment).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    /// Adds `n` (wrapping on `u64` overflow).
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A gauge holding an `i64` that can go up and down or be set.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// A gauge at zero.
    pub const fn new() -> Self {
        Self(AtomicI64::new(0))
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }

    /// Adds `n` (which may be negative).
    #[inline]
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// Subtracts `n`.
    #[inline]
    pub fn sub(&self, n: i64) {
        self.0.fetch_sub(n, Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

/// Converts a non-negative value to units of 1e-9, saturating; negative and NaN give 0.
#[inline]
fn to_nanos(v: f64) -> u64 {
    // `as` saturates: NaN and negatives become 0, huge values u64::MAX.
    (v * 1e9).round() as u64
}

/// A histogram with fixed bucket upper bounds.
///
/// Values are non-negative (seconds, typically) and kept with a resolution of 1e-9
/// (nanoseconds): each observation is one relaxed add on its bucket's count and one on
/// the integer sum. Negative and NaN values count as 0. The `+Inf` bucket is implicit.
/// The count is derived from the bucket counts, so `_count` always equals the `+Inf`
/// bucket in a rendering.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    bounds_nanos: Arc<[u64]>,
    /// Non-cumulative counts, one per bound plus the `+Inf` overflow slot.
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// A histogram with these bucket upper bounds. Non-finite and negative bounds are
    /// dropped; the rest are sorted and deduplicated (bounds equal at 1e-9 resolution
    /// are merged).
    pub fn new(bounds: &[f64]) -> Self {
        let mut b: Vec<f64> = bounds.iter().copied().filter(|x| x.is_finite() && *x >= 0.0).collect();
        b.sort_by(f64::total_cmp);
        b.dedup_by(|a, b| to_nanos(*a) == to_nanos(*b));
        let nanos: Vec<u64> = b.iter().map(|x| to_nanos(*x)).collect();
        Self::from_parts(b.into(), nanos.into())
    }

    fn from_parts(bounds: Arc<[f64]>, bounds_nanos: Arc<[u64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self { bounds, bounds_nanos, counts, sum_nanos: AtomicU64::new(0) }
    }

    /// A fresh, empty histogram sharing this one's bounds.
    pub(crate) fn fresh(&self) -> Self {
        Self::from_parts(self.bounds.clone(), self.bounds_nanos.clone())
    }

    /// Records a value (seconds, or any unit of the bounds).
    #[inline]
    pub fn observe(&self, v: f64) {
        self.observe_nanos(to_nanos(v));
    }

    /// Records a duration in seconds.
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    #[inline]
    fn observe_nanos(&self, n: u64) {
        let i = self.bounds_nanos.partition_point(|&b| b < n);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Relaxed);
        }
        self.sum_nanos.fetch_add(n, Relaxed);
    }

    /// The bucket upper bounds (without `+Inf`).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Total observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum_nanos.load(Relaxed) as f64 / 1e9
    }

    /// Cumulative counts: one per bound, then the `+Inf` bucket (= the count).
    pub fn cumulative(&self) -> Vec<u64> {
        let mut acc = 0u64;
        self.counts
            .iter()
            .map(|c| {
                acc = acc.wrapping_add(c.load(Relaxed));
                acc
            })
            .collect()
    }
}
