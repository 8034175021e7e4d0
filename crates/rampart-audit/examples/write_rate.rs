//! Audit write rate: appends records in batches of 100 and 1000 to SQLite (a temp
//! file) and, when `RAMPART_TEST_DATABASE_URL` is set, to a fresh PostgreSQL database,
//! and prints records/s; then the gateway's path, [`AuditLog`]: 8 tasks journal records
//! as fast as they can while the writer commits them, timed until every one is stored
//! (the sustained rate), with the median cost of one `record` call. Run with `cargo run --release -p rampart-audit --example write_rate`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use rampart_audit::{AuditLog, AuditLogOptions, AuditRecord, AuditSigner, AuditStore, Verdict};
use sqlx::any::{AnyPoolOptions, install_default_drivers};

const RECORDS: u64 = 20_000;

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time: 1_700_000_000_000 + i64::try_from(i).unwrap(),
        request_id: format!("req_{i:012}"),
        principal: Some(format!("key_{}", i % 50)),
        principal_kind: Some("virtual_key".into()),
        team: Some("team_a".into()),
        client_addr: Some("10.0.0.1".into()),
        endpoint: Some("/v1/chat/completions".into()),
        method: Some("POST".into()),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        status: Some(200),
        prompt_tokens: Some(812),
        completion_tokens: Some(96),
        cost_micros: Some(1450),
        latency_us: Some(420_000),
        overhead_us: Some(850),
        verdicts: vec![Verdict {
            detector: "pii".into(),
            rule: "email".into(),
            score: Some(0.9),
            action: "redact".into(),
            location: "request.messages[1].content".into(),
        }],
        ..Default::default()
    }
}

async fn measure(label: &str, url: &str) {
    for batch in [100u64, 1000] {
        let store =
            AuditStore::connect(url).await.unwrap().with_signer(AuditSigner::from_seed(&[1u8; 32]).unwrap(), 1000);
        let records: Vec<_> = (0..RECORDS).map(record).collect();
        let start = Instant::now();
        for chunk in records.chunks(usize::try_from(batch).unwrap()) {
            store.append_batch(chunk).await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label:<10} batch {batch:>5}: {RECORDS} records in {secs:.3}s = {:.0} records/s",
            RECORDS as f64 / secs
        );
        let started = Instant::now();
        let report = store.verify(&AuditSigner::from_seed(&[1u8; 32]).unwrap().public_key()).await.unwrap();
        println!(
            "{label:<10}   verify {} records: ok={} in {:.3}s",
            report.records,
            report.ok,
            started.elapsed().as_secs_f64()
        );
        store.close().await;
    }
}

/// Records journaled by 8 tasks and committed by the writer, until all are stored.
async fn sustained(label: &str, url: &str) {
    const N: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let store = AuditStore::connect(url).await.unwrap().with_signer(AuditSigner::from_seed(&[1u8; 32]).unwrap(), 1000);
    let log = std::sync::Arc::new(
        AuditLog::open(store.clone(), &dir.path().join("audit.journal"), AuditLogOptions::default()).await.unwrap(),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut costs = Vec::with_capacity(usize::try_from(N / 8).unwrap());
            for i in (t..N).step_by(8) {
                let r = record(i);
                let one = Instant::now();
                log.record(&r).unwrap();
                costs.push(one.elapsed());
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            costs
        }));
    }
    let mut costs = Vec::new();
    for task in tasks {
        costs.extend(task.await.unwrap());
    }
    let journaled = start.elapsed().as_secs_f64();
    while log.stats().stored < N {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    costs.sort_unstable();
    println!(
        "{label:<10} AuditLog: {N} records journaled in {journaled:.3}s, all stored after {secs:.3}s = {:.0} records/s sustained; record() median {:.1} µs, p99 {:.1} µs",
        N as f64 / secs,
        costs[costs.len() / 2].as_secs_f64() * 1e6,
        costs[costs.len() * 99 / 100].as_secs_f64() * 1e6,
    );
    log.shutdown(std::time::Duration::from_secs(10)).await;
    store.close().await;
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    measure("sqlite", &url).await;
    let url2 = format!("sqlite://{}", dir.path().join("audit2.db").display());
    sustained("sqlite", &url2).await;
    if let Ok(base) = std::env::var("RAMPART_TEST_DATABASE_URL") {
        install_default_drivers();
        let name = format!("rampart_test_audit_{:016x}", rand::random::<u64>());
        let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        measure("postgres", &format!("{prefix}/{name}")).await;
        let name2 = format!("{name}_log");
        sqlx::query(&format!("CREATE DATABASE {name2}")).execute(&admin).await.unwrap();
        sustained("postgres", &format!("{prefix}/{name2}")).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name2} WITH (FORCE)")).execute(&admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
    } else {
        println!("RAMPART_TEST_DATABASE_URL is not set: PostgreSQL skipped");
    }
}
