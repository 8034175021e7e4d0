//! Time for the in-memory backend: the [`Clock`] trait (injectable, so tests are
//! deterministic), the production [`SystemClock`], the test [`ManualClock`], and the
//! UTC calendar windows (day, month) the budgets are counted in.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nanoseconds in one second.
pub(crate) const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Seconds in one day.
const SECS_PER_DAY: u64 = 86_400;

/// A source of time: nanoseconds since the Unix epoch, UTC.
///
/// It should not go backwards (the rate buckets then merely wait longer); the
/// calendar windows of the budgets are taken from it, so it must be wall time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in nanoseconds since 1970-01-01T00:00:00Z.
    fn now_nanos(&self) -> u64;
}

/// Wall time read once at construction, then advanced by the monotonic clock: never
/// goes backwards, even if the system clock is stepped (it may drift from it by what
/// NTP slews over the process's life, which is negligible for limits).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    base_nanos: u64,
    base: Instant,
}

impl SystemClock {
    /// Anchors the clock to the system time now.
    pub fn new() -> Self {
        let base_nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, duration_nanos);
        Self { base_nanos, base: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        self.base_nanos.saturating_add(duration_nanos(self.base.elapsed()))
    }
}

/// A clock that moves only when told to: for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `unix_nanos`.
    pub fn new(unix_nanos: u64) -> Self {
        Self { nanos: AtomicU64::new(unix_nanos) }
    }

    /// A clock standing at `unix_secs` seconds past the epoch.
    pub fn at_secs(unix_secs: u64) -> Self {
        Self::new(unix_secs.saturating_mul(NANOS_PER_SEC))
    }

    /// Moves the clock to `unix_nanos`.
    pub fn set(&self, unix_nanos: u64) {
        self.nanos.store(unix_nanos, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(duration_nanos(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// A budget's fixed calendar window, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    Day,
    Month,
}

impl Window {
    /// The window containing `unix_secs`: days since the epoch, or `year * 12 + month0`.
    pub(crate) fn index(self, unix_secs: u64) -> u64 {
        let days = unix_secs / SECS_PER_DAY;
        match self {
            Self::Day => days,
            Self::Month => {
                let (year, month, _) = civil_from_days(days);
                year * 12 + u64::from(month - 1)
            }
        }
    }

    /// Seconds since the epoch at which window `index` ends (the next one starts).
    pub(crate) fn end_secs(self, index: u64) -> u64 {
        match self {
            Self::Day => (index + 1) * SECS_PER_DAY,
            Self::Month => {
                let next = index + 1;
                // `next % 12` is below 12, so the month number fits in a u32.
                let month = u32::try_from(next % 12).unwrap_or(0) + 1;
                days_from_civil(next / 12, month, 1) * SECS_PER_DAY
            }
        }
    }

    /// Time from `unix_nanos` until the end of the window containing it.
    pub(crate) fn remaining(self, unix_nanos: u64) -> Duration {
        let secs = unix_nanos / NANOS_PER_SEC;
        let end = self.end_secs(self.index(secs)).saturating_mul(NANOS_PER_SEC);
        Duration::from_nanos(end.saturating_sub(unix_nanos))
    }
}

/// (year, month 1..=12, day 1..=31) of `days` since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, restricted to dates from 1970 on).
pub(crate) fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

/// Days since 1970-01-01 of a date from 1970 on (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: u64, month: u32, day: u32) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year % 400;
    let mp = u64::from(if month > 2 { month - 3 } else { month + 9 });
    let doy = (153 * mp + 2) / 5 + u64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(year: u64, month: u32, day: u32, hms: u64) -> u64 {
        days_from_civil(year, month, day) * SECS_PER_DAY + hms
    }

    #[test]
    fn civil_round_trips_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        for days in (0..80_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn day_window_rolls_over_at_utc_midnight() {
        let before = secs(2025, 12, 31, SECS_PER_DAY - 1);
        let after = before + 1;
        assert_eq!(Window::Day.index(after), Window::Day.index(before) + 1);
        assert_eq!(Window::Day.end_secs(Window::Day.index(before)), after);
        assert_eq!(Window::Day.remaining(before * NANOS_PER_SEC + 250_000_000), Duration::from_millis(750));
    }

    #[test]
    fn month_window_rolls_over_on_the_first_utc() {
        // February of a leap year ends on the 29th; December rolls into a new year.
        let feb_end = secs(2024, 2, 29, SECS_PER_DAY - 1);
        assert_eq!(Window::Month.index(feb_end), 2024 * 12 + 1);
        assert_eq!(Window::Month.index(feb_end + 1), 2024 * 12 + 2);
        assert_eq!(Window::Month.end_secs(2024 * 12 + 1), secs(2024, 3, 1, 0));
        assert_eq!(Window::Month.index(secs(2023, 2, 28, 86_399)), 2023 * 12 + 1);
        assert_eq!(Window::Month.index(secs(2023, 3, 1, 0)), 2023 * 12 + 2);
        assert_eq!(Window::Month.end_secs(Window::Month.index(secs(2025, 12, 15, 0))), secs(2026, 1, 1, 0));
        assert_eq!(Window::Month.remaining(secs(2025, 12, 31, 86_399) * NANOS_PER_SEC), Duration::from_secs(1));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_secs(10);
        assert_eq!(clock.now_nanos(), 10 * NANOS_PER_SEC);
        clock.advance(Duration::from_millis(5));
        assert_eq!(clock.now_nanos(), 10 * NANOS_PER_SEC + 5_000_000);
        clock.set(3);
        assert_eq!(clock.now_nanos(), 3);
    }

    #[test]
    fn system_clock_is_near_wall_time_and_monotonic() {
        let clock = SystemClock::new();
        let wall = duration_nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default());
        let a = clock.now_nanos();
        let b = clock.now_nanos();
        assert!(b >= a);
        assert!(a.abs_diff(wall) < 5 * NANOS_PER_SEC);
    }
}
