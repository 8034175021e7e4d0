//! Check-and-reserve for a request against 4 subjects (key, team, model, global) with
//! every dimension limited, in memory; and, when `RAMPART_TEST_REDIS_URL` is set, the
//! same through Redis (one round trip). `cargo bench -p rampart-limits --bench reserve`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_limits::{Demand, Limiter, Limits, MemoryConfig, MemoryLimiter, RedisConfig};

/// Limits far above what a benchmark run can use, so every reservation is granted and
/// every dimension is checked and charged.
fn all_dimensions() -> Limits {
    Limits {
        rpm: Some(1 << 40),
        tpm: Some(1 << 50),
        max_concurrency: Some(1 << 20),
        daily_budget_micros: Some(1 << 47),
        monthly_budget_micros: Some(1 << 47),
    }
}

fn subjects() -> [(String, Limits); 4] {
    [
        ("key:3f9a2c71".to_owned(), all_dimensions()),
        ("team:ml-platform".to_owned(), all_dimensions()),
        ("model:gpt-4o".to_owned(), all_dimensions()),
        ("global".to_owned(), all_dimensions()),
    ]
}

fn memory(c: &mut Criterion) {
    let limiter = MemoryLimiter::new(MemoryConfig::default());
    let buckets = subjects();
    let demand = Demand::new(1_200, 900);
    let actual = Demand::new(700, 500);
    let mut group = c.benchmark_group("memory");
    group.bench_function("reserve_4_subjects_all_dimensions", |b| {
        b.iter(|| {
            let reservation = limiter.reserve(black_box(&buckets), black_box(demand));
            black_box(&reservation);
            drop(reservation);
        })
    });
    group.bench_function("reserve_and_settle_4_subjects", |b| {
        b.iter(|| {
            if let Ok(reservation) = limiter.reserve(black_box(&buckets), black_box(demand)) {
                reservation.settle(black_box(actual));
            }
        })
    });
    group.finish();
}

fn redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("RAMPART_TEST_REDIS_URL") else {
        eprintln!("RAMPART_TEST_REDIS_URL unset: skipping the Redis benchmark");
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return;
    };
    let prefix = format!("rampart:bench:{}:", std::process::id());
    let Ok(limiter) = Limiter::redis(RedisConfig {
        key_prefix: prefix,
        timeout: std::time::Duration::from_secs(2),
        ..RedisConfig::new(url)
    }) else {
        return;
    };
    let buckets = subjects();
    let demand = Demand::new(1_200, 900);
    c.bench_function("redis/reserve_and_settle_4_subjects", |b| {
        b.iter(|| {
            runtime.block_on(async {
                if let Ok(reservation) = limiter.reserve(&buckets, demand).await {
                    let _ = reservation.settle_async(demand).await;
                }
            })
        })
    });
}

criterion_group!(benches, memory, redis);
criterion_main!(benches);
