//! The arithmetic of the per-minute buckets (GCRA: the generic cell rate algorithm,
//! a token bucket kept as one number, the theoretical arrival time) and of the
//! fixed-window budgets, shared by both backends, plus the in-memory atomic cells
//! that apply them with compare-and-swap loops.
//!
//! A bucket of capacity `L` per minute refills continuously at `L / 60 s`. It is kept
//! as `tat`, the time at which it will be full again: `used = max(tat - now, 0)` is
//! the time-equivalent of what is consumed. Taking `n` units costs
//! `ceil(n * W / L)` time units, where `W` is one minute in those units, and is
//! allowed while `used + cost <= W`. Rounding the cost up means the bucket can only
//! err towards refusing: by at most one time unit (1 ns in memory, 1 µs in Redis)
//! per grant, and not at all when `n * W` divides by `L`; it never grants more than
//! an exact bucket would.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// One bucket dimension's rate: `limit` units per `window` time units (a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) limit: u64,
    pub(crate) window: u64,
}

impl Rate {
    /// One minute in nanoseconds (the in-memory backend's time unit).
    pub(crate) const MINUTE_NANOS: u64 = 60_000_000_000;
    /// One minute in microseconds (the Redis backend's time unit: Lua numbers are
    /// doubles, exact only below 2^53).
    pub(crate) const MINUTE_MICROS: u64 = 60_000_000;

    pub(crate) fn new(limit: u64, window: u64) -> Self {
        Self { limit, window }
    }

    /// True when `units` can ever be granted (a full bucket holds them).
    pub(crate) fn can_ever_take(self, units: u64) -> bool {
        units <= self.limit
    }

    /// The time cost of `units`, rounded up; saturates (a debt that large simply
    /// blocks until it is paid off).
    pub(crate) fn cost(self, units: u64) -> u64 {
        if self.limit == 0 {
            return u64::MAX;
        }
        let numerator = u128::from(units) * u128::from(self.window);
        let cost = numerator.div_ceil(u128::from(self.limit));
        u64::try_from(cost).unwrap_or(u64::MAX)
    }

    /// The most `used` may reach: one window.
    pub(crate) fn tolerance(self) -> u64 {
        self.window
    }

    /// Units left when `used` time units are consumed, rounded down.
    pub(crate) fn remaining(self, used: u64) -> u64 {
        let tolerance = self.tolerance();
        if used >= tolerance {
            return 0;
        }
        let left = u128::from(tolerance - used) * u128::from(self.limit) / u128::from(self.window);
        u64::try_from(left).unwrap_or(u64::MAX).min(self.limit)
    }

    /// How long (time units) until `cost` fits when `used` is consumed now.
    pub(crate) fn wait(self, used: u64, cost: u64) -> u64 {
        used.saturating_add(cost).saturating_sub(self.tolerance())
    }
}

/// A GCRA cell: the theoretical arrival time, in nanoseconds since the Unix epoch.
#[derive(Debug, Default)]
pub(crate) struct GcraCell {
    tat: AtomicU64,
}

impl GcraCell {
    /// Takes `cost` if it fits under `tolerance`: `Ok(used after)`, or
    /// `Err(used before)`. A CAS loop: concurrent takers never over-grant.
    pub(crate) fn take(&self, now: u64, cost: u64, tolerance: u64) -> Result<u64, u64> {
        let mut current = self.tat.load(Ordering::Acquire);
        loop {
            let base = current.max(now);
            let used = base - now;
            let next = base.saturating_add(cost);
            if next - now > tolerance {
                return Err(used);
            }
            match self.tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(next - now),
                Err(actual) => current = actual,
            }
        }
    }

    /// Charges `cost` unconditionally (settling more than was reserved: may go into
    /// debt, which later requests wait out).
    pub(crate) fn charge(&self, now: u64, cost: u64) {
        let _ =
            self.tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| Some(tat.max(now).saturating_add(cost)));
    }

    /// Gives back `cost` (a rollback or a refund), never below a full bucket.
    pub(crate) fn refund(&self, now: u64, cost: u64) {
        let _ = self.tat.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
            (tat > now).then(|| tat.saturating_sub(cost).max(now))
        });
    }

    /// Consumed time now (0 when full).
    pub(crate) fn used(&self, now: u64) -> u64 {
        self.tat.load(Ordering::Acquire).saturating_sub(now)
    }
}

/// Spend is kept in the low 48 bits of a budget cell: 2^48 - 1 micro-USD is about
/// 281 million USD per window; larger limits are treated as that.
pub(crate) const MAX_SPEND: u64 = (1 << 48) - 1;
const WINDOW_SHIFT: u32 = 48;

/// The 16-bit tag a window index is stored under (it wraps after 179 years of days;
/// only equality with the current window matters).
pub(crate) fn window_tag(index: u64) -> u64 {
    index & 0xFFFF
}

/// The admission rule of a budget: not exhausted, and the cost fits.
pub(crate) fn budget_admits(spent: u64, cost: u64, limit: u64) -> bool {
    spent < limit && spent.saturating_add(cost) <= limit
}

/// A fixed-window budget cell: window tag (16 bits) and spend (48 bits) in one word,
/// so a rollover and a spend are one atomic step.
#[derive(Debug, Default)]
pub(crate) struct BudgetCell {
    packed: AtomicU64,
}

fn unpack(packed: u64) -> (u64, u64) {
    (packed >> WINDOW_SHIFT, packed & MAX_SPEND)
}

fn pack(tag: u64, spent: u64) -> u64 {
    (window_tag(tag) << WINDOW_SHIFT) | spent.min(MAX_SPEND)
}

impl BudgetCell {
    /// Spends `cost` in window `tag` if the budget admits it: `Ok(spent after)` or
    /// `Err(spent before)`. A window other than `tag` counts as nothing spent.
    pub(crate) fn take(&self, tag: u64, cost: u64, limit: u64) -> Result<u64, u64> {
        let limit = limit.min(MAX_SPEND);
        let mut current = self.packed.load(Ordering::Acquire);
        loop {
            let spent = self.spent_in(current, tag);
            if !budget_admits(spent, cost, limit) {
                return Err(spent);
            }
            let next = pack(tag, spent + cost);
            match self.packed.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(spent + cost),
                Err(actual) => current = actual,
            }
        }
    }

    /// Adjusts a reservation made in window `reserved_tag` by `delta` (positive: an
    /// excess to charge; negative: a refund), the current window being `now_tag`.
    /// While the reservation's window is current the adjustment lands there; once it
    /// has closed, a refund is dropped and an excess is charged to the current window.
    pub(crate) fn adjust(&self, reserved_tag: u64, now_tag: u64, delta: i128) {
        let same_window = window_tag(reserved_tag) == window_tag(now_tag);
        if delta == 0 || (delta < 0 && !same_window) {
            return;
        }
        let magnitude = u64::try_from(delta.unsigned_abs()).unwrap_or(u64::MAX);
        let _ = self.packed.fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
            let spent = self.spent_in(current, now_tag);
            let spent = if delta < 0 { spent.saturating_sub(magnitude) } else { spent.saturating_add(magnitude) };
            Some(pack(now_tag, spent))
        });
    }

    /// Spend in window `tag`.
    pub(crate) fn spent(&self, tag: u64) -> u64 {
        self.spent_in(self.packed.load(Ordering::Acquire), tag)
    }

    fn spent_in(&self, packed: u64, tag: u64) -> u64 {
        let (stored, spent) = unpack(packed);
        if stored == window_tag(tag) { spent } else { 0 }
    }
}

/// An in-flight gauge with a ceiling.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    in_flight: AtomicU32,
}

impl Gauge {
    /// Takes a slot if fewer than `max` are taken: `Ok(taken after)` or `Err(taken)`.
    pub(crate) fn acquire(&self, max: u32) -> Result<u32, u32> {
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            if current >= max {
                return Err(current);
            }
            match self.in_flight.compare_exchange_weak(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(current + 1),
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives a slot back.
    pub(crate) fn release(&self) {
        let _ = self.in_flight.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    pub(crate) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = Rate::MINUTE_NANOS;

    fn drain(rate: Rate, cell: &GcraCell, now: u64, units: u64) -> u64 {
        let mut granted = 0;
        while cell.take(now, rate.cost(units), rate.tolerance()).is_ok() {
            granted += units;
            assert!(granted <= rate.limit + units, "runaway");
        }
        granted
    }

    #[test]
    fn cost_rounds_up() {
        let rate = Rate::new(7, W);
        assert_eq!(rate.cost(1), 8_571_428_572);
        assert_eq!(rate.cost(7), W);
        assert_eq!(Rate::new(1000, W).cost(10), 600_000_000);
        assert_eq!(Rate::new(0, W).cost(1), u64::MAX);
        assert_eq!(Rate::new(0, W).tolerance(), W);
    }

    #[test]
    fn a_full_bucket_grants_its_capacity_with_a_frozen_clock() {
        let now = 1_000 * W;
        for (limit, units) in [(7, 1), (1000, 10), (1000, 7), (3, 2), (700_000, 100), (150_000_000, 4096)] {
            let rate = Rate::new(limit, W);
            let cell = GcraCell::default();
            let granted = drain(rate, &cell, now, units);
            assert!(granted <= limit, "{limit}/{units}: over-granted {granted}");
            assert!(granted + units > limit.saturating_sub(units), "{limit}/{units}: {granted}");
            if (u128::from(units) * u128::from(W)) % u128::from(limit) == 0 {
                assert_eq!(granted, limit / units * units, "{limit}/{units}: lost capacity");
            }
            // A nanosecond per grant of rounding is all that can be lost.
            let later = now + granted / units + 1;
            let _ = drain(rate, &cell, later, units);
            assert!(rate.remaining(cell.used(later)) < units);
        }
        // A million single requests per minute: exact arithmetic.
        let rate = Rate::new(1_000_000, W);
        assert_eq!(rate.cost(1) * 1_000_000, rate.tolerance());
    }

    #[test]
    fn the_bucket_refills_continuously() {
        let rate = Rate::new(60, W); // one per second
        let cell = GcraCell::default();
        let now = 50 * W;
        assert_eq!(drain(rate, &cell, now, 1), 60);
        let used = cell.used(now);
        assert_eq!(rate.remaining(used), 0);
        // One unit's wait is one second.
        assert_eq!(rate.wait(used, rate.cost(1)), 1_000_000_000);
        assert!(cell.take(now + 999_999_999, rate.cost(1), rate.tolerance()).is_err());
        assert!(cell.take(now + 1_000_000_000, rate.cost(1), rate.tolerance()).is_ok());
        // After a full minute it is full again.
        let later = now + 61 * 1_000_000_000;
        assert_eq!(cell.used(later), 0);
        assert_eq!(rate.remaining(0), 60);
    }

    #[test]
    fn remaining_and_reset_figures() {
        let rate = Rate::new(1000, W);
        let cell = GcraCell::default();
        let now = 10 * W;
        let used = cell.take(now, rate.cost(250), rate.tolerance()).unwrap_or(0);
        assert_eq!(used, 15_000_000_000); // a quarter of a minute until full
        assert_eq!(rate.remaining(used), 750);
        // Half the consumed time later, half of it is back.
        assert_eq!(rate.remaining(cell.used(now + 7_500_000_000)), 875);
    }

    #[test]
    fn refusal_reports_used_and_wait() {
        let rate = Rate::new(100, W);
        let cell = GcraCell::default();
        let now = 10 * W;
        assert!(cell.take(now, rate.cost(90), rate.tolerance()).is_ok());
        let used = match cell.take(now, rate.cost(20), rate.tolerance()) {
            Err(used) => used,
            Ok(_) => panic!("over-granted"),
        };
        assert_eq!(used, rate.cost(90));
        // 10 units are missing: 6 seconds at 100/min.
        assert_eq!(rate.wait(used, rate.cost(20)), 6_000_000_000);
        assert!(!rate.can_ever_take(101));
        assert!(rate.can_ever_take(100));
    }

    #[test]
    fn charge_goes_into_debt_and_refund_stops_at_full() {
        let rate = Rate::new(100, W);
        let cell = GcraCell::default();
        let now = 10 * W;
        cell.charge(now, rate.cost(150));
        assert_eq!(rate.remaining(cell.used(now)), 0);
        assert!(cell.take(now, rate.cost(1), rate.tolerance()).is_err());
        // Paying off 50 units of debt takes 30 s; then one unit more takes 0.6 s.
        assert!(cell.take(now + 30_000_000_000, rate.cost(1), rate.tolerance()).is_err());
        assert!(cell.take(now + 30_600_000_000, rate.cost(1), rate.tolerance()).is_ok());
        cell.refund(now, u64::MAX);
        assert_eq!(cell.used(now), 0);
        // A refund on a full bucket stays full (does not bank credit).
        cell.refund(now + W, rate.cost(50));
        assert_eq!(cell.used(now + W), 0);
        assert_eq!(drain(rate, &cell, now + W, 10), 100);
    }

    #[test]
    fn budget_cell_rolls_over_and_adjusts() {
        let cell = BudgetCell::default();
        assert_eq!(cell.take(5, 400, 1000), Ok(400));
        assert_eq!(cell.take(5, 600, 1000), Ok(1000));
        assert_eq!(cell.take(5, 0, 1000), Err(1000), "an exhausted budget refuses");
        // The next window starts at nothing.
        assert_eq!(cell.take(6, 1000, 1000), Ok(1000));
        assert_eq!(cell.spent(5), 0);
        // A refund inside the window.
        cell.adjust(6, 6, -300);
        assert_eq!(cell.spent(6), 700);
        // A debt inside the window.
        cell.adjust(6, 6, 500);
        assert_eq!(cell.spent(6), 1200);
        assert_eq!(cell.take(6, 1, 1000), Err(1200));
        // After the window closed: refunds are dropped, excess lands in the new one.
        cell.adjust(6, 7, -1200);
        assert_eq!(cell.spent(7), 0);
        cell.adjust(6, 7, 250);
        assert_eq!(cell.spent(7), 250);
        // Limits beyond the 48-bit range saturate.
        let big = BudgetCell::default();
        assert_eq!(big.take(1, MAX_SPEND, u64::MAX), Ok(MAX_SPEND));
        assert!(big.take(1, 1, u64::MAX).is_err());
    }

    #[test]
    fn gauge_caps_and_releases() {
        let gauge = Gauge::default();
        assert_eq!(gauge.acquire(2), Ok(1));
        assert_eq!(gauge.acquire(2), Ok(2));
        assert_eq!(gauge.acquire(2), Err(2));
        gauge.release();
        assert_eq!(gauge.in_flight(), 1);
        gauge.release();
        gauge.release();
        assert_eq!(gauge.in_flight(), 0, "never below zero");
        assert_eq!(gauge.acquire(0), Err(0));
    }
}
