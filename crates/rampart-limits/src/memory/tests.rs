//! The in-memory backend on a manual clock: bucket arithmetic as seen through
//! `reserve`, all-or-nothing rollback, settlement, windows, eviction, and races.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use crate::clock::{ManualClock, days_from_civil};
use crate::types::Dimension;

/// 2025-06-15T12:00:00Z.
const NOON: u64 = 1_749_988_800;

fn limiter_at(secs: u64) -> (MemoryLimiter, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at_secs(secs));
    let limiter = MemoryLimiter::with_clock(MemoryConfig::default(), clock.clone());
    (limiter, clock)
}

fn tpm(limit: u64) -> Limits {
    Limits { tpm: Some(limit), ..Limits::default() }
}

fn refusal(result: Result<crate::Reservation, Refusal>) -> Refusal {
    match result {
        Err(refusal) => refusal,
        Ok(reservation) => panic!("expected a refusal, got {reservation:?}"),
    }
}

fn granted(result: Result<crate::Reservation, Refusal>) -> crate::Reservation {
    match result {
        Ok(reservation) => reservation,
        Err(refusal) => panic!("expected a grant, got {refusal}"),
    }
}

fn secs_of(year: u64, month: u32, day: u32, second_of_day: u64) -> u64 {
    days_from_civil(year, month, day) * 86_400 + second_of_day
}

#[test]
fn grants_until_the_bucket_is_empty_then_refills() {
    let (limiter, clock) = limiter_at(NOON);
    let buckets = [("key:a", Limits { rpm: Some(3), ..Limits::default() })];
    for left in [2, 1, 0] {
        let r = granted(limiter.reserve(&buckets, Demand::default()));
        let figure = r.headers().requests.unwrap_or_else(|| panic!("no figure"));
        assert_eq!(figure.limit, 3);
        assert_eq!(figure.remaining, left);
        assert_eq!(figure.reset, Duration::from_secs(20 * (3 - left)));
        assert!(r.headers().tokens.is_none());
    }
    let refused = refusal(limiter.reserve(&buckets, Demand::default()));
    assert_eq!(refused.dimension, Dimension::Requests);
    assert_eq!(refused.bucket, "key:a");
    assert_eq!(refused.limit, 3);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(20)));
    clock.advance(Duration::from_secs(20) - Duration::from_nanos(1));
    assert!(limiter.reserve(&buckets, Demand::default()).is_err());
    clock.advance(Duration::from_nanos(1));
    let r = granted(limiter.reserve(&buckets, Demand::default()));
    assert_eq!(r.headers().requests.map(|f| f.remaining), Some(0));
}

#[test]
fn reserve_is_all_or_nothing_across_buckets_and_dimensions() {
    let (limiter, clock) = limiter_at(NOON);
    let key = Limits {
        rpm: Some(100),
        tpm: Some(1000),
        max_concurrency: Some(5),
        daily_budget_micros: Some(1_000_000),
        ..Limits::default()
    };
    let team = Limits { tpm: Some(10_000), monthly_budget_micros: Some(500), ..Limits::default() };
    let buckets = [("key:a", key), ("team:t", team)];
    let first = granted(limiter.reserve(&buckets, Demand::new(400, 300)));
    // The team's monthly budget refuses after every dimension of the key was taken.
    let refused = refusal(limiter.reserve(&buckets, Demand::new(400, 300)));
    assert_eq!(refused.bucket, "team:t");
    assert_eq!(refused.index, 1);
    assert_eq!(refused.dimension, Dimension::MonthlyBudget);
    assert_eq!(refused.limit, 500);
    // June has 30 days: from the 15th at noon, 15.5 days to go.
    assert_eq!(refused.retry_after, Some(Duration::from_secs(15 * 86_400 + 43_200)));
    // Nothing of the refused reservation stayed charged anywhere.
    let key_only = granted(limiter.reserve(&buckets[..1], Demand::new(400, 300)));
    let headers = key_only.headers();
    assert_eq!(headers.requests.map(|f| f.remaining), Some(98));
    assert_eq!(headers.tokens.map(|f| f.remaining), Some(200));
    let bucket = |name: &str| {
        let map = limiter.inner.registry.buckets.read().unwrap_or_else(PoisonError::into_inner);
        map.get(name).cloned().unwrap_or_else(|| panic!("no bucket {name}"))
    };
    let now = clock.now_nanos();
    let day = Window::Day.index(NOON);
    let month = Window::Month.index(NOON);
    assert_eq!(bucket("key:a").in_flight.in_flight(), 2);
    assert_eq!(bucket("key:a").daily.spent(day), 600);
    assert_eq!(bucket("team:t").monthly.spent(month), 300);
    let team_rate = Rate::new(10_000, Rate::MINUTE_NANOS);
    assert_eq!(team_rate.remaining(bucket("team:t").tokens.used(now)), 9_600);
    drop(first);
    drop(key_only);
    assert_eq!(bucket("key:a").in_flight.in_flight(), 0);
}

#[test]
fn the_first_failing_subject_and_dimension_is_named() {
    let (limiter, _clock) = limiter_at(NOON);
    let full = Limits { rpm: Some(1), tpm: Some(10), ..Limits::default() };
    let buckets = [("key:a", Limits::default()), ("team:t", full), ("global", full)];
    let _held = granted(limiter.reserve(&buckets, Demand::new(10, 0)));
    let refused = refusal(limiter.reserve(&buckets, Demand::new(10, 0)));
    assert_eq!((refused.index, refused.dimension), (1, Dimension::Requests));
    assert_eq!(refused.bucket, "team:t");
    // Unlimited subjects cost nothing and hold no bucket.
    assert_eq!(limiter.stats().buckets, 2);
}

#[test]
fn demands_that_can_never_fit_are_refused_without_a_retry_hint() {
    let (limiter, _clock) = limiter_at(NOON);
    let cases = [
        (Limits { tpm: Some(100), ..Limits::default() }, Demand::new(101, 0), Dimension::Tokens),
        (Limits { rpm: Some(0), ..Limits::default() }, Demand::new(1, 0), Dimension::Requests),
        (Limits { max_concurrency: Some(0), ..Limits::default() }, Demand::default(), Dimension::Concurrency),
        (Limits { daily_budget_micros: Some(10), ..Limits::default() }, Demand::new(0, 11), Dimension::DailyBudget),
        (Limits { monthly_budget_micros: Some(0), ..Limits::default() }, Demand::new(0, 0), Dimension::MonthlyBudget),
    ];
    for (limits, demand, dimension) in cases {
        // A later subject's impossibility wins over an earlier retryable refusal,
        // and nothing is counted.
        let buckets = [("key:a", Limits { rpm: Some(5), ..Limits::default() }), ("team:t", limits)];
        let refused = refusal(limiter.reserve(&buckets, demand));
        assert_eq!(refused.dimension, dimension);
        assert_eq!(refused.retry_after, None);
        assert!(!refused.is_retryable());
    }
    let fits = [("key:a", Limits { rpm: Some(5), ..Limits::default() })];
    let r = granted(limiter.reserve(&fits, Demand::default()));
    assert_eq!(r.headers().requests.map(|f| f.remaining), Some(4));
}

#[test]
fn token_refusal_says_when_enough_has_refilled() {
    let (limiter, clock) = limiter_at(NOON);
    let buckets = [("key:a", tpm(6000))]; // 100 tokens per second
    granted(limiter.reserve(&buckets, Demand::new(5500, 0))).settle(Demand::new(5500, 0));
    let refused = refusal(limiter.reserve(&buckets, Demand::new(1000, 0)));
    assert_eq!(refused.dimension, Dimension::Tokens);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(5)));
    clock.advance(Duration::from_secs(5));
    let r = granted(limiter.reserve(&buckets, Demand::new(1000, 0)));
    let figure = r.headers().tokens.unwrap_or_else(|| panic!("no figure"));
    assert_eq!(figure.remaining, 0);
    assert_eq!(figure.reset, Duration::from_secs(60));
}

#[test]
fn settlement_gives_back_the_unused_part() {
    let (limiter, _clock) = limiter_at(NOON);
    let limits = Limits {
        tpm: Some(1000),
        daily_budget_micros: Some(10_000),
        monthly_budget_micros: Some(10_000),
        ..Limits::default()
    };
    let buckets = [("key:a", limits)];
    let r = granted(limiter.reserve(&buckets, Demand::new(800, 8_000)));
    assert_eq!(r.headers().tokens.map(|f| f.remaining), Some(200));
    assert!(limiter.reserve(&buckets, Demand::new(300, 0)).is_err());
    assert!(limiter.reserve(&buckets, Demand::new(0, 3_000)).is_err());
    r.settle(Demand::new(100, 1_000));
    // 900 tokens and 9000 micro-USD are free again.
    let again = granted(limiter.reserve(&buckets, Demand::new(900, 9_000)));
    assert_eq!(again.headers().tokens.map(|f| f.remaining), Some(0));
    again.settle(Demand::new(900, 9_000));
    assert!(limiter.reserve(&buckets, Demand::new(1, 0)).is_err());
    assert!(limiter.reserve(&buckets, Demand::new(0, 1)).is_err());
}

#[test]
fn settlement_charges_the_excess_into_debt() {
    let (limiter, clock) = limiter_at(NOON);
    let limits = Limits {
        tpm: Some(600), // 10 per second
        daily_budget_micros: Some(1_000),
        ..Limits::default()
    };
    let buckets = [("key:a", limits)];
    let r = granted(limiter.reserve(&buckets, Demand::new(100, 100)));
    r.settle(Demand::new(900, 1_500));
    // 300 tokens of debt: 30 s to pay off, then 10 tokens take another second.
    let refused = refusal(limiter.reserve(&buckets, Demand::new(10, 0)));
    assert_eq!(refused.dimension, Dimension::Tokens);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(31)));
    clock.advance(Duration::from_secs(31));
    // Tokens fit again, but the day's budget is overspent until midnight.
    let refused = refusal(limiter.reserve(&buckets, Demand::new(10, 0)));
    assert_eq!(refused.dimension, Dimension::DailyBudget);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(43_200 - 31)));
    clock.advance(Duration::from_secs(43_200 - 31));
    let r = granted(limiter.reserve(&buckets, Demand::new(10, 1_000)));
    drop(r);
}

#[test]
fn a_dropped_reservation_keeps_its_charge_but_frees_its_slot() {
    let (limiter, _clock) = limiter_at(NOON);
    let limits =
        Limits { tpm: Some(1000), max_concurrency: Some(1), daily_budget_micros: Some(100), ..Limits::default() };
    let buckets = [("key:a", limits)];
    let r = granted(limiter.reserve(&buckets, Demand::new(600, 60)));
    let refused = refusal(limiter.reserve(&buckets, Demand::new(1, 1)));
    assert_eq!(refused.dimension, Dimension::Concurrency);
    assert_eq!(refused.retry_after, Some(crate::CONCURRENCY_RETRY_HINT));
    drop(r);
    // The slot is free; the 600 tokens and 60 micro-USD are still counted.
    let refused = refusal(limiter.reserve(&buckets, Demand::new(500, 1)));
    assert_eq!(refused.dimension, Dimension::Tokens);
    let refused = refusal(limiter.reserve(&buckets, Demand::new(1, 50)));
    assert_eq!(refused.dimension, Dimension::DailyBudget);
    let r = granted(limiter.reserve(&buckets, Demand::new(400, 40)));
    // Settling also frees the slot.
    r.settle(Demand::new(400, 40));
    let slot_only = [("key:a", Limits { max_concurrency: Some(1), ..Limits::default() })];
    assert!(limiter.reserve(&slot_only, Demand::default()).is_ok());
    // The budget is exhausted: even a free request is refused.
    assert!(limiter.reserve(&buckets, Demand::new(0, 0)).is_err());
}

#[test]
fn budgets_reset_at_utc_midnight_and_on_the_first_of_the_month() {
    // 2024-02-29T23:59:59Z: the last second of a leap-year February.
    let (limiter, clock) = limiter_at(secs_of(2024, 2, 29, 86_399));
    let day = [("key:a", Limits { daily_budget_micros: Some(100), ..Limits::default() })];
    let month = [("key:a", Limits { monthly_budget_micros: Some(100), ..Limits::default() })];
    granted(limiter.reserve(&day, Demand::new(0, 100))).settle(Demand::new(0, 100));
    granted(limiter.reserve(&month, Demand::new(0, 100))).settle(Demand::new(0, 100));
    for buckets in [&day, &month] {
        let refused = refusal(limiter.reserve(buckets, Demand::new(0, 1)));
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
    }
    clock.advance(Duration::from_secs(1));
    granted(limiter.reserve(&day, Demand::new(0, 100))).settle(Demand::new(0, 100));
    granted(limiter.reserve(&month, Demand::new(0, 100))).settle(Demand::new(0, 100));
    // The next day of March: the day resets, the month does not.
    clock.advance(Duration::from_secs(86_400));
    assert!(limiter.reserve(&day, Demand::new(0, 100)).is_ok());
    let refused = refusal(limiter.reserve(&month, Demand::new(0, 1)));
    assert_eq!(refused.dimension, Dimension::MonthlyBudget);
    assert_eq!(refused.retry_after, Some(Duration::from_secs(30 * 86_400)));
}

#[test]
fn settling_after_the_window_closed_drops_refunds_and_charges_excess_to_the_new_one() {
    let (limiter, clock) = limiter_at(secs_of(2025, 3, 10, 86_000));
    let buckets = [("key:a", Limits { daily_budget_micros: Some(1_000), ..Limits::default() })];
    let small = granted(limiter.reserve(&buckets, Demand::new(0, 500)));
    let large = granted(limiter.reserve(&buckets, Demand::new(0, 500)));
    clock.advance(Duration::from_secs(1_000)); // past midnight
    small.settle(Demand::new(0, 100)); // refund dropped: that day is over
    large.settle(Demand::new(0, 800)); // 300 over: charged to today
    assert!(limiter.reserve(&buckets, Demand::new(0, 700)).is_ok());
    assert!(limiter.reserve(&buckets, Demand::new(0, 1)).is_err());
}

#[test]
fn headers_report_the_tightest_bucket() {
    let (limiter, _clock) = limiter_at(NOON);
    let buckets = [
        ("key:a", Limits { rpm: Some(10), tpm: Some(100_000), ..Limits::default() }),
        ("team:t", Limits { rpm: Some(1000), tpm: Some(1_000), ..Limits::default() }),
    ];
    let r = granted(limiter.reserve(&buckets, Demand::new(500, 0)));
    let headers = r.headers();
    assert_eq!(headers.requests.map(|f| (f.limit, f.remaining)), Some((10, 9)));
    assert_eq!(headers.tokens.map(|f| (f.limit, f.remaining)), Some((1_000, 500)));
    assert_eq!(headers.tokens.map(|f| f.reset), Some(Duration::from_secs(30)));
}

#[test]
fn idle_buckets_are_evicted_at_the_cap() {
    let clock = Arc::new(ManualClock::at_secs(NOON));
    let limiter = MemoryLimiter::with_clock(MemoryConfig { max_buckets: 8 }, clock.clone());
    let rpm = Limits { rpm: Some(6), ..Limits::default() };
    for i in 0..8 {
        let name = format!("key:{i}");
        drop(granted(limiter.reserve(&[(name.as_str(), rpm)], Demand::default())));
    }
    assert_eq!(limiter.stats().buckets, 8);
    // Not idle yet (each bucket refills for ten seconds): a new name at the cap must
    // drop the least recently used ones.
    clock.advance(Duration::from_secs(2));
    drop(granted(limiter.reserve(&[("key:0", rpm)], Demand::default())));
    drop(granted(limiter.reserve(&[("key:new", rpm)], Demand::default())));
    let stats = limiter.stats();
    assert!(stats.buckets <= 8, "{stats:?}");
    assert_eq!(stats.idle_evictions, 0);
    assert_eq!(stats.forced_evictions, 2, "down to 6 before the insert");
    {
        let map = limiter.inner.registry.buckets.read().unwrap_or_else(PoisonError::into_inner);
        assert!(map.contains_key("key:0"), "recently used survives");
        assert!(map.contains_key("key:new"));
    }
    // Once every bucket is full again they are idle: a sweep drops them all, except
    // one a live reservation holds.
    let held = granted(
        limiter.reserve(&[("key:held", Limits { max_concurrency: Some(1), ..Limits::default() })], Demand::default()),
    );
    clock.advance(Duration::from_secs(20));
    let before = limiter.stats().buckets;
    assert_eq!(limiter.sweep(), before - 1);
    assert_eq!(limiter.stats().buckets, 1);
    drop(held);
    assert_eq!(limiter.sweep(), 1);
    assert_eq!(limiter.stats().buckets, 0);
}

#[test]
fn buckets_with_spend_this_window_are_not_idle() {
    let clock = Arc::new(ManualClock::at_secs(NOON));
    let limiter = MemoryLimiter::with_clock(MemoryConfig { max_buckets: 4 }, clock.clone());
    let budget = Limits { daily_budget_micros: Some(100), ..Limits::default() };
    granted(limiter.reserve(&[("key:spent", budget)], Demand::new(0, 100))).settle(Demand::new(0, 100));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(limiter.sweep(), 0);
    assert!(limiter.reserve(&[("key:spent", budget)], Demand::new(0, 1)).is_err());
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(limiter.sweep(), 1, "yesterday's spend no longer matters");
}

/// 16 threads race for one token bucket and one budget with a frozen clock: exactly
/// the capacity is granted, never more.
#[test]
fn concurrent_reservations_never_over_grant() {
    let clock = Arc::new(ManualClock::at_secs(NOON));
    let limiter = MemoryLimiter::with_clock(MemoryConfig::default(), clock);
    let tokens_limit = 100_000;
    let budget_limit = 2_000_000;
    let team = Limits { tpm: Some(tokens_limit), ..Limits::default() };
    let global = Limits { daily_budget_micros: Some(budget_limit), ..Limits::default() };
    let tokens_granted = Arc::new(AtomicU64::new(0));
    let cost_granted = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| {
        for thread in 0..16u64 {
            let limiter = limiter.clone();
            let tokens_granted = Arc::clone(&tokens_granted);
            let cost_granted = Arc::clone(&cost_granted);
            scope.spawn(move || {
                let key = format!("key:{thread}");
                let key_limits = Limits { rpm: Some(1_000_000), max_concurrency: Some(4), ..Limits::default() };
                let buckets = [(key.as_str(), key_limits), ("team:t", team), ("global", global)];
                for i in 0..2_000u64 {
                    // Alternate demands that both divide the limits evenly.
                    let demand = if i % 2 == 0 { Demand::new(10, 100) } else { Demand::new(20, 400) };
                    if let Ok(r) = limiter.reserve(&buckets, demand) {
                        tokens_granted.fetch_add(demand.tokens, Ordering::Relaxed);
                        cost_granted.fetch_add(demand.cost_micros, Ordering::Relaxed);
                        r.settle(demand);
                    }
                }
            });
        }
    });
    let tokens = tokens_granted.load(Ordering::Relaxed);
    let cost = cost_granted.load(Ordering::Relaxed);
    assert!(tokens <= tokens_limit, "tokens over-granted: {tokens}");
    assert!(cost <= budget_limit, "budget over-granted: {cost}");
    // Whichever ran out first, it ran out fully (up to one demand).
    assert!(tokens + 20 > tokens_limit || cost + 400 > budget_limit, "tokens {tokens}, cost {cost}");
    // Nothing is left in flight.
    let map = limiter.inner.registry.buckets.read().unwrap_or_else(PoisonError::into_inner);
    assert!(map.values().all(|b| b.in_flight.in_flight() == 0));
}

/// The same race on one dimension alone, with evenly dividing demands: exactly the
/// limit is granted.
#[test]
fn concurrent_reservations_grant_exactly_the_capacity() {
    let clock = Arc::new(ManualClock::at_secs(NOON));
    let limiter = MemoryLimiter::with_clock(MemoryConfig::default(), clock);
    let limit = 50_000;
    let granted_tokens = Arc::new(AtomicU64::new(0));
    let granted_cost = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| {
        for _ in 0..16 {
            let limiter = limiter.clone();
            let granted_tokens = Arc::clone(&granted_tokens);
            let granted_cost = Arc::clone(&granted_cost);
            scope.spawn(move || {
                let tokens = [("team:t", tpm(limit))];
                let budget = [("team:t", Limits { monthly_budget_micros: Some(limit), ..Limits::default() })];
                for _ in 0..500 {
                    if let Ok(r) = limiter.reserve(&tokens, Demand::new(10, 0)) {
                        granted_tokens.fetch_add(10, Ordering::Relaxed);
                        drop(r);
                    }
                    if let Ok(r) = limiter.reserve(&budget, Demand::new(0, 10)) {
                        granted_cost.fetch_add(10, Ordering::Relaxed);
                        drop(r);
                    }
                }
            });
        }
    });
    assert_eq!(granted_tokens.load(Ordering::Relaxed), limit);
    assert_eq!(granted_cost.load(Ordering::Relaxed), limit);
}
