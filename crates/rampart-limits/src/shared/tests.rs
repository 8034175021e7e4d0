//! Against a real Redis: `RAMPART_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`);
//! each test skips when it is unset and uses its own random key prefix. Time is frozen
//! through the scripts' test clock wherever a result depends on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::clock::days_from_civil;
use crate::{Limiter, Reservation};

/// 2025-06-15T12:00:00Z, in µs.
const NOON_US: u64 = 1_749_988_800 * MICROS_PER_SEC;

fn redis_url() -> Option<String> {
    match std::env::var("RAMPART_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("RAMPART_TEST_REDIS_URL unset: skipping");
            None
        }
    }
}

fn prefix() -> String {
    format!("rampart:test:{:016x}:", random_u64())
}

fn config(url: &str, prefix: &str) -> RedisConfig {
    RedisConfig {
        key_prefix: prefix.to_owned(),
        // Generous: the machine running the tests may be busy; a timeout here would
        // fall back and make the counts local.
        timeout: Duration::from_secs(5),
        settle_timeout: Duration::from_secs(5),
        ..RedisConfig::new(url)
    }
}

fn limiter(config: RedisConfig) -> Limiter {
    Limiter::redis(config).expect("valid URL")
}

fn freeze(limiter: &Limiter, now_us: u64) {
    limiter.shared().expect("a Redis limiter").now_override.store(now_us, Ordering::SeqCst);
}

fn granted(result: Result<Reservation, ReserveError>) -> Reservation {
    match result {
        Ok(reservation) => {
            assert!(!reservation.is_fallback(), "served by the fallback");
            reservation
        }
        Err(error) => panic!("expected a grant, got {error}"),
    }
}

fn refused(result: Result<Reservation, ReserveError>) -> Refusal {
    match result {
        Err(ReserveError::Refused(refusal)) => refusal,
        Err(error) => panic!("expected a refusal, got {error}"),
        Ok(reservation) => panic!("expected a refusal, got {reservation:?}"),
    }
}

fn us_of(year: u64, month: u32, day: u32, second_of_day: u64) -> u64 {
    (days_from_civil(year, month, day) * 86_400 + second_of_day) * MICROS_PER_SEC
}

/// Two gateways (two limiters, two connections) racing for one limit: exactly the
/// limit is granted between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_limit_exactly() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let instances = [limiter(config(&url, &prefix)), limiter(config(&url, &prefix))];
    for instance in &instances {
        freeze(instance, NOON_US);
    }
    let limits = [
        // 100 grants of 10 tokens.
        Limits { tpm: Some(1_000), max_concurrency: Some(1_000), ..Limits::default() },
        // 100 grants of 500 micro-USD.
        Limits { daily_budget_micros: Some(50_000), ..Limits::default() },
    ];
    for (case, limits) in limits.into_iter().enumerate() {
        let name = format!("team:{case}");
        let total = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for task in 0..16 {
            let instance = instances[task % 2].clone();
            let total = Arc::clone(&total);
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                let buckets = [(name.as_str(), limits)];
                let demand = Demand::new(10, 500);
                for _ in 0..20 {
                    match instance.reserve(&buckets, demand).await {
                        Ok(reservation) => {
                            assert!(!reservation.is_fallback());
                            total.fetch_add(1, Ordering::Relaxed);
                            reservation.settle_async(demand).await.expect("settled");
                        }
                        Err(ReserveError::Refused(_)) => {}
                        Err(error) => panic!("{error}"),
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(total.load(Ordering::Relaxed), 100, "case {case}");
    }
    for instance in &instances {
        assert_eq!(instance.stats().fallback_reserves, 0);
        assert_eq!(instance.stats().redis_errors, 0);
    }
}

#[tokio::test]
async fn rate_refusals_and_headers() {
    let Some(url) = redis_url() else { return };
    let limiter = limiter(config(&url, &prefix()));
    freeze(&limiter, NOON_US);
    let buckets = [("key:a", Limits { rpm: Some(3), tpm: Some(6_000), ..Limits::default() })];
    for left in [2, 1, 0] {
        let r = granted(limiter.reserve(&buckets, Demand::new(100, 0)).await);
        let requests = r.headers().requests.expect("requests figure");
        assert_eq!((requests.limit, requests.remaining), (3, left));
        assert_eq!(requests.reset, Duration::from_secs(20 * (3 - left)));
        let tokens = r.headers().tokens.expect("tokens figure");
        assert_eq!(tokens.remaining, 6_000 - 100 * (3 - left));
        r.settle_async(Demand::new(100, 0)).await.expect("settled");
    }
    let refusal = refused(limiter.reserve(&buckets, Demand::new(100, 0)).await);
    assert_eq!(refusal.dimension, Dimension::Requests);
    assert_eq!(refusal.limit, 3);
    assert_eq!(refusal.retry_after, Some(Duration::from_secs(20)));
    freeze(&limiter, NOON_US + 19_999_999);
    refused(limiter.reserve(&buckets, Demand::new(100, 0)).await);
    freeze(&limiter, NOON_US + 20_000_000);
    let _ = granted(limiter.reserve(&buckets, Demand::new(100, 0)).await);
    // Never: more tokens than the bucket holds, refused before any round trip.
    let refusal = refused(limiter.reserve(&buckets, Demand::new(6_001, 0)).await);
    assert_eq!((refusal.dimension, refusal.retry_after), (Dimension::Tokens, None));
}

#[tokio::test]
async fn reserve_is_all_or_nothing() {
    let Some(url) = redis_url() else { return };
    let limiter = limiter(config(&url, &prefix()));
    freeze(&limiter, NOON_US);
    let key = Limits {
        rpm: Some(100),
        tpm: Some(1_000),
        max_concurrency: Some(2),
        daily_budget_micros: Some(1_000_000),
        ..Limits::default()
    };
    let team = Limits { monthly_budget_micros: Some(500), ..Limits::default() };
    let buckets = [("key:a", key), ("team:t", team)];
    let first = granted(limiter.reserve(&buckets, Demand::new(400, 300)).await);
    let refusal = refused(limiter.reserve(&buckets, Demand::new(400, 300)).await);
    assert_eq!((refusal.index, refusal.dimension), (1, Dimension::MonthlyBudget));
    assert_eq!(refusal.bucket, "team:t");
    assert_eq!(refusal.retry_after, Some(Duration::from_secs(15 * 86_400 + 43_200)));
    // The key kept nothing of the refused attempt: one more request and one more
    // slot fit, with 98 requests and 200 tokens left after it.
    let second = granted(limiter.reserve(&buckets[..1], Demand::new(400, 0)).await);
    assert_eq!(second.headers().requests.map(|f| f.remaining), Some(98));
    assert_eq!(second.headers().tokens.map(|f| f.remaining), Some(200));
    let refusal = refused(limiter.reserve(&buckets[..1], Demand::new(0, 0)).await);
    assert_eq!(refusal.dimension, Dimension::Concurrency);
    first.settle_async(Demand::new(400, 300)).await.expect("settled");
    second.settle_async(Demand::new(400, 0)).await.expect("settled");
    let _ = granted(limiter.reserve(&buckets[..1], Demand::new(0, 0)).await);
}

#[tokio::test]
async fn settlement_is_seen_by_other_instances() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let a = limiter(config(&url, &prefix));
    let b = limiter(config(&url, &prefix));
    freeze(&a, NOON_US);
    freeze(&b, NOON_US);
    let buckets = [("key:a", Limits { tpm: Some(1_000), daily_budget_micros: Some(10_000), ..Limits::default() })];
    let r = granted(a.reserve(&buckets, Demand::new(800, 8_000)).await);
    refused(b.reserve(&buckets, Demand::new(300, 0)).await);
    r.settle_async(Demand::new(100, 1_000)).await.expect("settled");
    // 900 tokens and 9000 micro-USD came back, for everyone.
    let r = granted(b.reserve(&buckets, Demand::new(900, 9_000)).await);
    assert_eq!(r.headers().tokens.map(|f| f.remaining), Some(0));
    // B's response used far more than it reserved: the debt blocks A.
    r.settle_async(Demand::new(1_500, 12_000)).await.expect("settled");
    let refusal = refused(a.reserve(&buckets, Demand::new(10, 0)).await);
    assert_eq!(refusal.dimension, Dimension::Tokens);
    // 1600 tokens consumed of 1000: 36 s of debt, then 0.6 s for 10 tokens.
    assert_eq!(refusal.retry_after, Some(Duration::from_millis(36_600)));
    freeze(&a, NOON_US + 36_600_000);
    let refusal = refused(a.reserve(&buckets, Demand::new(10, 0)).await);
    assert_eq!(refusal.dimension, Dimension::DailyBudget, "13000 of 10000 spent");
    assert_eq!(refusal.retry_after, Some(Duration::from_millis(43_200_000 - 36_600)));
}

#[tokio::test]
async fn budgets_follow_the_utc_calendar_in_lua() {
    let Some(url) = redis_url() else { return };
    let limiter = limiter(config(&url, &prefix()));
    // The last second of a leap-year February, then of a year.
    for (last_second, days_to_next_month_end) in [(us_of(2024, 2, 29, 86_399), 31), (us_of(2025, 12, 31, 86_399), 31)] {
        freeze(&limiter, last_second);
        let name = format!("key:{last_second}");
        let day = [(name.as_str(), Limits { daily_budget_micros: Some(100), ..Limits::default() })];
        let month = [(name.as_str(), Limits { monthly_budget_micros: Some(100), ..Limits::default() })];
        let _ = granted(limiter.reserve(&day, Demand::new(0, 100)).await);
        let _ = granted(limiter.reserve(&month, Demand::new(0, 100)).await);
        for buckets in [&day, &month] {
            let refusal = refused(limiter.reserve(buckets, Demand::new(0, 1)).await);
            assert_eq!(refusal.retry_after, Some(Duration::from_secs(1)));
        }
        freeze(&limiter, last_second + MICROS_PER_SEC);
        let _ = granted(limiter.reserve(&day, Demand::new(0, 100)).await);
        let _ = granted(limiter.reserve(&month, Demand::new(0, 100)).await);
        freeze(&limiter, last_second + MICROS_PER_SEC + 86_400 * MICROS_PER_SEC);
        let _ = granted(limiter.reserve(&day, Demand::new(0, 100)).await);
        let refusal = refused(limiter.reserve(&month, Demand::new(0, 1)).await);
        assert_eq!(refusal.retry_after, Some(Duration::from_secs((days_to_next_month_end - 1) * 86_400)));
    }
}

#[tokio::test]
async fn settling_after_the_window_closed() {
    let Some(url) = redis_url() else { return };
    let limiter = limiter(config(&url, &prefix()));
    let evening = us_of(2025, 3, 10, 86_000);
    freeze(&limiter, evening);
    let buckets = [("key:a", Limits { daily_budget_micros: Some(1_000), ..Limits::default() })];
    let small = granted(limiter.reserve(&buckets, Demand::new(0, 500)).await);
    let large = granted(limiter.reserve(&buckets, Demand::new(0, 500)).await);
    freeze(&limiter, evening + 1_000 * MICROS_PER_SEC);
    small.settle_async(Demand::new(0, 100)).await.expect("settled");
    large.settle_async(Demand::new(0, 800)).await.expect("settled");
    let _ = granted(limiter.reserve(&buckets, Demand::new(0, 700)).await);
    refused(limiter.reserve(&buckets, Demand::new(0, 1)).await);
}

/// A lease whose holder vanished (crashed instance: no release ever sent) stops
/// counting once its TTL has passed.
#[tokio::test]
async fn leases_of_a_crashed_instance_expire() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let crashed = limiter(RedisConfig { lease_ttl: Duration::from_secs(10), ..config(&url, &prefix) });
    let survivor = limiter(config(&url, &prefix));
    freeze(&crashed, NOON_US);
    freeze(&survivor, NOON_US);
    let buckets = [("key:a", Limits { max_concurrency: Some(1), ..Limits::default() })];
    let lost = granted(crashed.reserve(&buckets, Demand::default()).await);
    std::mem::forget(lost);
    let refusal = refused(survivor.reserve(&buckets, Demand::default()).await);
    assert_eq!(refusal.dimension, Dimension::Concurrency);
    assert_eq!(refusal.retry_after, Some(crate::CONCURRENCY_RETRY_HINT));
    freeze(&survivor, NOON_US + 9_999_999);
    refused(survivor.reserve(&buckets, Demand::default()).await);
    freeze(&survivor, NOON_US + 10_000_000);
    let r = granted(survivor.reserve(&buckets, Demand::default()).await);
    // Released by settling ...
    r.settle_async(Demand::default()).await.expect("settled");
    let r = granted(survivor.reserve(&buckets, Demand::default()).await);
    // ... or, in the background, by dropping.
    drop(r);
    let mut freed = false;
    for _ in 0..200 {
        match survivor.reserve(&buckets, Demand::default()).await {
            Ok(r) => {
                r.settle_async(Demand::default()).await.expect("settled");
                freed = true;
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    assert!(freed, "the dropped reservation's lease was not released");
}

#[tokio::test]
async fn fail_open_counts_locally_and_backs_off() {
    let closed_port = "redis://127.0.0.1:1";
    let limiter = limiter(RedisConfig { breaker: Duration::from_secs(3600), ..RedisConfig::new(closed_port) });
    let buckets = [("key:a", Limits { rpm: Some(2), ..Limits::default() })];
    let first = limiter.reserve(&buckets, Demand::default()).await.expect("fallback grant");
    assert!(first.is_fallback());
    assert_eq!(first.headers().requests.map(|f| f.remaining), Some(1));
    let stats = limiter.stats();
    assert_eq!((stats.redis_errors, stats.fallback_reserves), (1, 1));
    let second = limiter.reserve(&buckets, Demand::default()).await.expect("fallback grant");
    assert!(second.is_fallback());
    // The local fallback enforces the same limits.
    match limiter.reserve(&buckets, Demand::default()).await {
        Err(ReserveError::Refused(refusal)) => assert_eq!(refusal.dimension, Dimension::Requests),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    // The breaker kept Redis from being tried again.
    let stats = limiter.stats();
    assert_eq!((stats.redis_errors, stats.fallback_reserves), (1, 3));
    // Fallback reservations settle locally.
    first.settle_async(Demand::default()).await.expect("local settle");
    second.settle(Demand::default());
    assert_eq!(limiter.stats().settle_failures, 0);
}

#[tokio::test]
async fn fail_closed_is_unavailable() {
    let limiter = limiter(RedisConfig { fail_policy: FailPolicy::Closed, ..RedisConfig::new("redis://127.0.0.1:1") });
    let buckets = [("key:a", Limits { rpm: Some(2), ..Limits::default() })];
    for _ in 0..2 {
        match limiter.reserve(&buckets, Demand::default()).await {
            Err(ReserveError::Unavailable(error)) => assert!(!error.to_string().is_empty()),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    let stats = limiter.stats();
    assert_eq!((stats.redis_errors, stats.fallback_reserves), (1, 0), "breaker open");
    // Unlimited requests and impossible demands need no Redis at all.
    let free = [("key:a", Limits::default())];
    assert!(limiter.reserve(&free, Demand::default()).await.is_ok());
    let never = [("key:a", Limits { rpm: Some(0), ..Limits::default() })];
    assert!(matches!(limiter.reserve(&never, Demand::default()).await, Err(ReserveError::Refused(_))));
}

#[tokio::test]
async fn a_timeout_falls_back() {
    // A listener that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let limiter =
        limiter(RedisConfig { timeout: Duration::from_millis(100), ..RedisConfig::new(format!("redis://{address}")) });
    let buckets = [("key:a", Limits { rpm: Some(2), ..Limits::default() })];
    let started = std::time::Instant::now();
    let r = limiter.reserve(&buckets, Demand::default()).await.expect("fallback grant");
    assert!(r.is_fallback());
    assert!(started.elapsed() < Duration::from_secs(3), "bounded by the timeout");
    hold.abort();
}

#[test]
fn reserve_and_settle_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let limiter = limiter(RedisConfig::new("redis://127.0.0.1:1"));
    let buckets = [("key:a".to_owned(), Limits::default())];
    let reserve = limiter.reserve(&buckets, Demand::default());
    assert_send(&reserve);
    drop(reserve);
    let reservation = Reservation::unlimited();
    let settle = reservation.settle_async(Demand::default());
    assert_send(&settle);
    drop(settle);
}

#[test]
fn debug_hides_the_password() {
    let config = RedisConfig::new("redis://user:s3cret@10.0.0.1:6379/2");
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("redis://<redacted>@10.0.0.1:6379/2"), "{shown}");
    assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
}

/// A TCP proxy to Redis that can cut every connection and refuse new ones, then
/// forward again.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let accept = {
            let up = Arc::clone(&up);
            let cut = cut.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cut = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            })
        };
        Self { address, up, cut, accept }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
        self.accept.abort();
    }
}

async fn redis_address(url: &str) -> SocketAddr {
    let rest = url.trim_start_matches("redis://");
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    tokio::net::lookup_host(host_port).await.expect("resolve").next().expect("an address")
}

/// Redis goes away and comes back: the limiter falls back, then resumes shared
/// counting by itself.
#[tokio::test]
async fn recovers_when_redis_comes_back() {
    let Some(url) = redis_url() else { return };
    let proxy = Proxy::start(redis_address(&url).await).await;
    let prefix = prefix();
    let through_proxy =
        limiter(RedisConfig { breaker: Duration::ZERO, ..config(&format!("redis://{}", proxy.address), &prefix) });
    let direct = limiter(config(&url, &prefix));
    freeze(&through_proxy, NOON_US);
    freeze(&direct, NOON_US);
    let buckets = [("key:a", Limits { rpm: Some(10), ..Limits::default() })];

    let _ = granted(through_proxy.reserve(&buckets, Demand::default()).await);
    proxy.down();
    let local = through_proxy.reserve(&buckets, Demand::default()).await.expect("fallback");
    assert!(local.is_fallback());
    assert_eq!(through_proxy.stats().fallback_reserves, 1);
    proxy.restore();
    let shared = granted(through_proxy.reserve(&buckets, Demand::default()).await);
    assert_eq!(shared.headers().requests.map(|f| f.remaining), Some(8));
    // Redis saw the two shared reservations, not the local one.
    let seen = granted(direct.reserve(&buckets, Demand::default()).await);
    assert_eq!(seen.headers().requests.map(|f| f.remaining), Some(7));
    let stats = through_proxy.stats();
    assert_eq!((stats.redis_errors, stats.fallback_reserves), (1, 1));
}

/// While the breaker is open Redis is not tried, even if it is back.
#[tokio::test]
async fn the_breaker_skips_redis_after_a_failure() {
    let Some(url) = redis_url() else { return };
    let proxy = Proxy::start(redis_address(&url).await).await;
    let through_proxy = limiter(RedisConfig {
        breaker: Duration::from_secs(3600),
        ..config(&format!("redis://{}", proxy.address), &prefix())
    });
    let buckets = [("key:a", Limits { rpm: Some(10), ..Limits::default() })];
    let _ = granted(through_proxy.reserve(&buckets, Demand::default()).await);
    proxy.down();
    assert!(through_proxy.reserve(&buckets, Demand::default()).await.expect("fallback").is_fallback());
    proxy.restore();
    for _ in 0..3 {
        assert!(through_proxy.reserve(&buckets, Demand::default()).await.expect("fallback").is_fallback());
    }
    let stats = through_proxy.stats();
    assert_eq!((stats.redis_errors, stats.fallback_reserves), (1, 4));
}
