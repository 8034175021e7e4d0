//! [`AuditLog`] tests: ordering, store outage, crash recovery, torn lines, fail-closed/open.

use std::time::Duration;

use super::{Backend, key, record};
use crate::*;

/// Every record in the store, asserting it holds exactly records `1..=n` in order and
/// verifies clean.
async fn assert_trail(store: &AuditStore, n: u64) {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(&QueryFilter::default(), after, 1000).await.unwrap();
        ids.extend(page.records.iter().map(|r| r.record.request_id.clone()));
        match page.next_after_seq {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=n).map(|i| record(i).request_id).collect();
    assert_eq!(ids.len(), expected.len(), "record count");
    assert_eq!(ids, expected, "records in order, each exactly once");
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, n);
}

fn fast() -> AuditLogOptions {
    AuditLogOptions {
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..Default::default()
    }
}

async fn records_arrive_in_order(backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let store = backend.store().await;
    let log = AuditLog::open(store.clone(), &dir.path().join("audit.journal"), fast()).await.unwrap();
    for i in 1..=3000 {
        log.record(&record(i)).unwrap();
    }
    assert!(log.shutdown(Duration::from_secs(60)).await);
    let stats = log.stats();
    assert_eq!((stats.journaled, stats.stored, stats.dropped, stats.lag_bytes), (3000, 3000, 0, 0));
    assert_trail(&store, 3000).await;
    store.close().await;
}

mod records_arrive_in_order {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        let backend = crate::tests::sqlite();
        super::records_arrive_in_order(&backend).await;
        backend.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        let Some(backend) = crate::tests::postgres().await else { return };
        super::records_arrive_in_order(&backend).await;
        backend.finish().await;
    }
}

/// The writer runs on its own thread, not on the caller's runtime: with the caller's
/// only runtime thread blocked (as a busy request path would hold it), records still
/// reach the store.
#[tokio::test(flavor = "current_thread")]
async fn writer_does_not_need_the_callers_runtime() {
    let backend = crate::tests::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let store = backend.store().await;
    let log = AuditLog::open(store.clone(), &dir.path().join("audit.journal"), fast()).await.unwrap();
    for i in 1..=50 {
        log.record(&record(i)).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while log.stats().stored < 50 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(log.stats().stored, 50, "stored while the caller's runtime was blocked");
    assert!(log.shutdown(Duration::from_secs(20)).await);
    assert_trail(&store, 50).await;
    store.close().await;
    backend.finish().await;
}

/// The SQLite write lock held by another connection: appends fail (busy), records
/// keep going to the journal, and all arrive in order once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_outage_then_recovery_loses_nothing() {
    let backend = crate::tests::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let store = backend.store().await;
    // A second store whose connection holds the write lock; busy_timeout 0 on the
    // first so its appends fail fast instead of waiting.
    let blocker = backend.store().await;
    let mut conn = blocker.pool().acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await.unwrap();
    sqlx::query("PRAGMA busy_timeout = 0").execute(store.pool()).await.unwrap();
    let store = {
        // Fresh pool connections get busy_timeout 10 s from after_connect; with 4
        // connections each append waits for that. Use a short overall outage.
        store
    };
    let log = AuditLog::open(store.clone(), &dir.path().join("audit.journal"), fast()).await.unwrap();
    for i in 1..=2000 {
        log.record(&record(i)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(log.stats().stored, 0, "nothing can be stored while the database is locked");
    assert!(log.stats().lag_bytes > 0);
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
    drop(conn);
    for i in 2001..=2500 {
        log.record(&record(i)).unwrap();
    }
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert_eq!(log.stats().stored, 2500);
    assert_trail(&store, 2500).await;
    store.close().await;
    blocker.close().await;
}

/// A log dropped with records still uncommitted (the writer aborted mid-way, and a
/// second one never started), then reopened: every record lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_recovery_replays_exactly_once() {
    let backend = crate::tests::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.journal");
    let store = backend.store().await;
    let log = AuditLog::open(store.clone(), &path, fast()).await.unwrap();
    for i in 1..=1000 {
        log.record(&record(i)).unwrap();
    }
    // Let the first thousand reach the store, so the crash falls between a commit and
    // the journal's end: what was committed must not come back twice.
    let waited = std::time::Instant::now();
    while log.stats().stored < 1000 {
        assert!(waited.elapsed() < Duration::from_secs(30), "writer stalled: {:?}", log.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(log); // aborts the writer: like kill -9
    let stored_before = store.query(&QueryFilter::default(), None, 10_000).await.unwrap().records.len();
    assert_eq!(stored_before, 1000, "the committed part before the crash");
    let dead = AuditLog::open(store.clone(), &path, AuditLogOptions { spawn_writer: false, ..fast() }).await.unwrap();
    for i in 1001..=2000 {
        dead.record(&record(i)).unwrap();
    }
    drop(dead);
    let log = AuditLog::open(store.clone(), &path, fast()).await.unwrap();
    assert_eq!(log.stats().replayed, 2000 - stored_before as u64);
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert_trail(&store, 2000).await;
    store.close().await;
}

/// A torn final line (the journal cut a few bytes short) is skipped and counted; the
/// rest is replayed, and new records continue cleanly after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn torn_last_line_is_skipped() {
    let backend = crate::tests::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.journal");
    let store = backend.store().await;
    let dead = AuditLog::open(store.clone(), &path, AuditLogOptions { spawn_writer: false, ..fast() }).await.unwrap();
    for i in 1..=11 {
        dead.record(&record(i)).unwrap();
    }
    drop(dead);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len - 5).unwrap();
    let log = AuditLog::open(store.clone(), &path, fast()).await.unwrap();
    assert_eq!((log.stats().replayed, log.stats().torn_lines), (10, 1));
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert_trail(&store, 10).await;
    // The journal continues after the last good line.
    let log = AuditLog::open(store.clone(), &path, fast()).await.unwrap();
    for i in 11..=20 {
        log.record(&record(i)).unwrap();
    }
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert_eq!(log.stats().torn_lines, 0);
    assert_trail(&store, 20).await;
    store.close().await;
}

/// Rotation keeps the journal small and loses nothing across a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journal_rotates_when_committed() {
    let backend = crate::tests::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.journal");
    let store = backend.store().await;
    let options = AuditLogOptions { rotate_bytes: 20_000, ..fast() };
    let log = AuditLog::open(store.clone(), &path, options.clone()).await.unwrap();
    for i in 1..=600 {
        log.record(&record(i)).unwrap();
        if i % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert!(log.stats().rotations > 0, "{:?}", log.stats());
    assert!(std::fs::metadata(&path).unwrap().len() < 200_000);
    let log = AuditLog::open(store.clone(), &path, options).await.unwrap();
    assert_eq!(log.stats().replayed, 0);
    for i in 601..=700 {
        log.record(&record(i)).unwrap();
    }
    assert!(log.shutdown(Duration::from_secs(60)).await);
    assert_trail(&store, 700).await;
    store.close().await;
}

/// The journal's write(2) failing (ENOSPC from /dev/full): fail-closed refuses,
/// fail-open counts a drop and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unwritable_journal_fails_closed_or_open() {
    let backend = crate::tests::sqlite();
    let store = backend.store().await;
    for fail_closed in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = AuditLogOptions { fail_closed, spawn_writer: false, ..fast() };
        let log = AuditLog::open(store.clone(), &dir.path().join("audit.journal"), options).await.unwrap();
        log.record(&record(1)).unwrap();
        log.swap_journal_file_for_test(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
        let result = log.record(&record(2));
        if fail_closed {
            assert!(result.is_err());
            assert_eq!(log.stats().dropped, 0);
        } else {
            assert!(result.is_ok());
            assert_eq!(log.stats().dropped, 1);
        }
        assert_eq!(log.stats().journaled, 1);
    }
    // Over max_lag_bytes (store down too long) counts as unwritable too.
    let dir = tempfile::tempdir().unwrap();
    let options = AuditLogOptions { max_lag_bytes: 1000, spawn_writer: false, ..fast() };
    let log = AuditLog::open(store.clone(), &dir.path().join("audit.journal"), options).await.unwrap();
    let mut refused = 0;
    for i in 1..=10 {
        refused += u32::from(log.record(&record(i)).is_err());
    }
    assert!(refused > 0 && refused < 10, "{refused}");
    store.close().await;
}
