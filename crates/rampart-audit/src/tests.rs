//! Store tests against real SQLite files and, when `RAMPART_TEST_DATABASE_URL` is set,
//! a fresh PostgreSQL database per test (`rampart_test_audit_<random>`, dropped after).
//! Each scenario is an `async fn(Backend)`; [`on_both_backends!`] makes a SQLite and
//! a PostgreSQL test of it.

use sqlx::any::{AnyPoolOptions, install_default_drivers};

use crate::*;

mod writer;

/// Records each scenario's trail holds.
const TRAIL: u64 = 2500;
const CHECKPOINT_EVERY: u64 = 1000;

/// A database for one test: a SQLite file or a fresh PostgreSQL database.
pub(crate) enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, name: String },
}

impl Backend {
    fn url(&self) -> String {
        match self {
            Backend::Sqlite(dir) => format!("sqlite://{}", dir.path().join("audit.db").display()),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }

    async fn store(&self) -> AuditStore {
        AuditStore::connect(&self.url()).await.unwrap().with_signer(signer(), CHECKPOINT_EVERY)
    }

    async fn finish(self) {
        if let Backend::Postgres { name, .. } = self {
            let base = std::env::var("RAMPART_TEST_DATABASE_URL").unwrap();
            let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
        }
    }
}

pub(crate) fn sqlite() -> Backend {
    Backend::Sqlite(tempfile::tempdir().unwrap())
}

pub(crate) async fn postgres() -> Option<Backend> {
    let Ok(base) = std::env::var("RAMPART_TEST_DATABASE_URL") else {
        eprintln!("RAMPART_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test");
        return None;
    };
    install_default_drivers();
    let name = format!("rampart_test_audit_{:016x}", rand::random::<u64>());
    let admin = AnyPoolOptions::new().max_connections(1).connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(Backend::Postgres { url: format!("{prefix}/{name}"), name })
}

fn signer() -> AuditSigner {
    AuditSigner::from_seed(&[42u8; 32]).unwrap()
}

fn key() -> AuditPublicKey {
    signer().public_key()
}

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        time: 1_000_000 + i64::try_from(i).unwrap(),
        request_id: format!("req_{i}"),
        kind: if i % 10 == 0 { RecordKind::Admin } else { RecordKind::Request },
        principal: Some(format!("key_{}", i % 7)),
        principal_kind: Some("virtual_key".into()),
        team: Some("team_a".into()),
        client_addr: Some("10.1.2.3:4000".into()),
        endpoint: Some("/v1/chat/completions".into()),
        method: Some("POST".into()),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        status: Some(200),
        error: None,
        prompt_tokens: Some(i % 500),
        completion_tokens: Some(20),
        cost_micros: Some(1234),
        latency_us: Some(150_000),
        overhead_us: Some(900),
        verdicts: vec![Verdict {
            detector: "pii".into(),
            rule: "email".into(),
            score: Some(0.5),
            action: "redact".into(),
            location: "request.messages[0].content".into(),
        }],
        body: None,
    }
}

/// Appends records 1..=n in batches of varying size.
async fn fill(store: &AuditStore, n: u64) {
    let mut next = 1;
    let sizes = [1u64, 99, 250, 400, 1000];
    let mut i = 0;
    while next <= n {
        let size = sizes[i % sizes.len()].min(n - next + 1);
        let batch: Vec<_> = (next..next + size).map(record).collect();
        let outcome = store.append_batch(&batch).await.unwrap();
        assert_eq!((outcome.first_seq, outcome.last_seq), (next, next + size - 1));
        next += size;
        i += 1;
    }
}

async fn exec(store: &AuditStore, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

async fn stored_hash(store: &AuditStore, seq: i64) -> String {
    sqlx::query_scalar("SELECT hash FROM audit_records WHERE seq = $1").bind(seq).fetch_one(store.pool()).await.unwrap()
}

async fn trail(backend: &Backend) -> AuditStore {
    let store = backend.store().await;
    fill(&store, TRAIL).await;
    store
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let backend = crate::tests::sqlite();
                super::$name(&backend).await;
                backend.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(backend) = crate::tests::postgres().await else { return };
                super::$name(&backend).await;
                backend.finish().await;
            }
        }
    )*};
}

on_both_backends!(
    clean_chain_verifies,
    edited_record_is_detected,
    deleted_record_is_detected,
    inserted_record_is_detected,
    shifted_insertion_is_detected,
    reordered_records_are_detected,
    forged_checkpoint_signature_is_detected,
    rewritten_chain_fails_checkpoint,
    truncated_tail_is_detected,
    purge_then_verify_is_clean,
    purge_then_tamper_is_detected,
    query_and_export,
    concurrent_appenders_make_one_chain,
);

async fn clean_chain_verifies(backend: &Backend) {
    let store = trail(backend).await;
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, TRAIL);
    assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(TRAIL)));
    assert_eq!((report.checkpoints, report.valid_checkpoints), (2, 2));
    assert_eq!(report.warnings, vec![Warning::UnsignedTail { from: 2001, to: TRAIL }]);
    // A checkpoint on demand signs the tail.
    let cp = store.checkpoint_now().await.unwrap().unwrap();
    assert_eq!(cp.seq, TRAIL);
    assert_eq!(cp.hash, stored_hash(&store, 2500).await);
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok && report.warnings.is_empty(), "{report:?}");
    // A different key rejects every checkpoint.
    let other = AuditSigner::from_pkcs8(&generate_signing_key().unwrap()).unwrap().public_key();
    let report = store.verify(&other).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 3);
    // A reopened store continues the chain.
    let reopened = backend.store().await;
    let outcome = reopened.append_batch(&[record(1), record(2)]).await.unwrap();
    assert_eq!((outcome.first_seq, outcome.last_seq), (TRAIL + 1, TRAIL + 2));
    assert!(reopened.verify(&key()).await.unwrap().ok);
    store.close().await;
    reopened.close().await;
}

async fn edited_record_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    let json: String =
        sqlx::query_scalar("SELECT record FROM audit_records WHERE seq = 1234").fetch_one(store.pool()).await.unwrap();
    let edited = json.replace("\"status\":200", "\"status\":201");
    assert_ne!(edited, json);
    sqlx::query("UPDATE audit_records SET record = $1 WHERE seq = 1234")
        .bind(edited)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(&key()).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problems, vec![Problem::Edited { seq: 1234 }]);
    store.close().await;
}

async fn deleted_record_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    exec(&store, "DELETE FROM audit_records WHERE seq = 777").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::Deleted { from: 777, to: 777 }]);
    // Deleting the checkpointed record too.
    exec(&store, "DELETE FROM audit_records WHERE seq = 1000").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(
        report.problems,
        vec![Problem::Deleted { from: 777, to: 777 }, Problem::Deleted { from: 1000, to: 1000 }]
    );
    // Deleting the first record: nothing anchors the second.
    exec(&store, "DELETE FROM audit_records WHERE seq = 1").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems[0], Problem::Deleted { from: 1, to: 1 });
    store.close().await;
}

async fn inserted_record_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    // A forged record after the last, with a valid hash of its own but chained to an
    // earlier record.
    let prev = chain::parse_hash(&stored_hash(&store, 100).await).unwrap();
    let json = serde_json::to_string(&record(9999)).unwrap();
    let seq = TRAIL + 1;
    let hash = chain::record_hash(&prev, seq, json.as_bytes());
    sqlx::query(
        "INSERT INTO audit_records (seq, time, kind, principal, record, prev_hash, hash) VALUES ($1, 0, 'request', NULL, $2, $3, $4)",
    )
    .bind(i64::try_from(seq).unwrap())
    .bind(json)
    .bind(hex::encode(prev))
    .bind(hex::encode(hash))
    .execute(store.pool())
    .await
    .unwrap();
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::Inserted { seq }]);
    store.close().await;
}

/// A forged record spliced into the middle (later records shifted up by one): the
/// forgery itself chains correctly, but every shifted record sits one place after
/// where its hash says it belongs, and the checkpoint no longer matches.
async fn shifted_insertion_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    exec(&store, "UPDATE audit_records SET seq = -(seq + 1) WHERE seq > 1200").await;
    exec(&store, "UPDATE audit_records SET seq = -seq WHERE seq < 0").await;
    let prev = chain::parse_hash(&stored_hash(&store, 1200).await).unwrap();
    let json = serde_json::to_string(&record(9999)).unwrap();
    let hash = chain::record_hash(&prev, 1201, json.as_bytes());
    sqlx::query(
        "INSERT INTO audit_records (seq, time, kind, principal, record, prev_hash, hash) VALUES (1201, 0, 'request', NULL, $1, $2, $3)",
    )
    .bind(json)
    .bind(hex::encode(prev))
    .bind(hex::encode(hash))
    .execute(store.pool())
    .await
    .unwrap();
    let report = store.verify(&key()).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problems[0], Problem::Reordered { seq: 1202, original_seq: 1201 });
    assert!(report.problems.contains(&Problem::CheckpointMismatch { seq: 2000 }), "{:?}", report.problems);
    assert!(
        !report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Reordered { seq, .. } | Problem::Edited { seq } if *seq <= 1201))
    );
    store.close().await;
}

async fn reordered_records_are_detected(backend: &Backend) {
    let store = trail(backend).await;
    exec(&store, "UPDATE audit_records SET seq = -1 WHERE seq = 1500").await;
    exec(&store, "UPDATE audit_records SET seq = 1500 WHERE seq = 1501").await;
    exec(&store, "UPDATE audit_records SET seq = 1501 WHERE seq = -1").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(
        report.problems,
        vec![
            Problem::Reordered { seq: 1500, original_seq: 1501 },
            Problem::Reordered { seq: 1501, original_seq: 1500 }
        ]
    );
    store.close().await;
}

async fn forged_checkpoint_signature_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    let sig: String = sqlx::query_scalar("SELECT signature FROM audit_checkpoints WHERE seq = 1000")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &sig).unwrap();
    bytes[10] ^= 1;
    let forged = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    sqlx::query("UPDATE audit_checkpoints SET signature = $1 WHERE seq = 1000")
        .bind(forged)
        .execute(store.pool())
        .await
        .unwrap();
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::CheckpointSignatureInvalid { seq: 1000 }]);
    assert_eq!(report.valid_checkpoints, 1);
    store.close().await;
}

/// An attacker who knows the hash format rewrites record 1500 and re-hashes every
/// record after it: the chain is self-consistent, only the signed checkpoint at 2000
/// catches it.
async fn rewritten_chain_fails_checkpoint(backend: &Backend) {
    let store = trail(backend).await;
    let mut prev = chain::parse_hash(&stored_hash(&store, 1499).await).unwrap();
    for seq in 1500..=TRAIL {
        let mut rec = record(seq);
        if seq == 1500 {
            rec.principal = Some("someone_else".into());
        }
        let json = serde_json::to_string(&rec).unwrap();
        let hash = chain::record_hash(&prev, seq, json.as_bytes());
        sqlx::query("UPDATE audit_records SET record = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(json)
            .bind(hex::encode(prev))
            .bind(hex::encode(hash))
            .bind(i64::try_from(seq).unwrap())
            .execute(store.pool())
            .await
            .unwrap();
        prev = hash;
    }
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::CheckpointMismatch { seq: 2000 }]);
    store.close().await;
}

async fn truncated_tail_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    // Past the last checkpoint: only a warning is possible.
    exec(&store, "DELETE FROM audit_records WHERE seq > 2400").await;
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.warnings, vec![Warning::UnsignedTail { from: 2001, to: 2400 }]);
    // Through a checkpoint: detected.
    exec(&store, "DELETE FROM audit_records WHERE seq > 1900").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::Deleted { from: 1901, to: 2000 }]);
    store.close().await;
}

async fn purge_then_verify_is_clean(backend: &Backend) {
    let store = trail(backend).await;
    // Records have time 1_000_000 + seq: purge seqs 1..=1233.
    let deleted = store.purge_before(1_000_000 + 1234).await.unwrap();
    assert_eq!(deleted, 1233);
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.first_seq, report.records), (Some(1234), TRAIL - 1233));
    let seqs: Vec<u64> = store.checkpoints().await.unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![1233, 2000]);
    // The chain continues after a purge, and a purge of everything keeps the head.
    store.append_batch(&[record(1)]).await.unwrap();
    assert_eq!(store.purge_before(i64::MAX).await.unwrap(), TRAIL + 1 - 1233);
    let outcome = store.append_batch(&[record(2)]).await.unwrap();
    assert_eq!(outcome.first_seq, TRAIL + 2);
    let report = store.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 1);
    store.close().await;
}

async fn purge_then_tamper_is_detected(backend: &Backend) {
    let store = trail(backend).await;
    store.purge_before(1_000_000 + 1234).await.unwrap();
    exec(&store, "UPDATE audit_records SET record = REPLACE(record, 'req_1300', 'req_X') WHERE seq = 1300").await;
    // Deleting more of the head (the anchor no longer matches the first record).
    exec(&store, "DELETE FROM audit_records WHERE seq < 1240").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems, vec![Problem::Deleted { from: 1, to: 1239 }, Problem::Edited { seq: 1300 }]);
    // Forging the anchor checkpoint.
    exec(&store, "UPDATE audit_checkpoints SET seq = 1239 WHERE seq = 1233").await;
    let report = store.verify(&key()).await.unwrap();
    assert_eq!(report.problems[0], Problem::CheckpointSignatureInvalid { seq: 1239 });
    assert!(report.problems.contains(&Problem::Edited { seq: 1300 }));
    store.close().await;
}

async fn query_and_export(backend: &Backend) {
    let store = backend.store().await;
    fill(&store, 300).await;
    let filter = QueryFilter { principal: Some("key_3".into()), ..Default::default() };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.query(&filter, after, 7).await.unwrap();
        seen.extend(page.records.iter().map(|r| r.seq));
        assert!(page.records.iter().all(|r| r.record.principal.as_deref() == Some("key_3")));
        match page.next_after_seq {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=300).filter(|i| i % 7 == 3).collect();
    assert_eq!(seen, expected);
    let filter = QueryFilter {
        from: Some(1_000_000 + 100),
        to: Some(1_000_000 + 200),
        kind: Some(RecordKind::Admin),
        principal: None,
    };
    let page = store.query(&filter, None, 1000).await.unwrap();
    assert_eq!(page.records.iter().map(|r| r.seq).collect::<Vec<_>>(), (100..200).step_by(10).collect::<Vec<u64>>());
    assert_eq!(page.next_after_seq, None);
    assert_eq!(page.records[0].record, record(100));
    // The latest records of a filter, oldest first, in one query.
    let key_3 = QueryFilter { principal: Some("key_3".into()), ..QueryFilter::default() };
    let latest: Vec<u64> = store.latest(&key_3, 3).await.unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(latest, expected[expected.len() - 3..].to_vec());
    assert_eq!(store.latest(&QueryFilter::default(), 1).await.unwrap()[0].seq, 300);

    let mut out = Vec::new();
    let n = store.export_jsonl(&QueryFilter::default(), ExportFormat::Native, &mut out).await.unwrap();
    assert_eq!(n, 300);
    let lines: Vec<StoredRecord> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 300);
    assert_eq!(lines[41].record, record(42));
    let mut out = Vec::new();
    store.export_jsonl(&filter, ExportFormat::Ocsf, &mut out).await.unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["class_uid"], 6003);
    assert_eq!(first["metadata"]["sequence"], 100);
    store.close().await;
}

async fn concurrent_appenders_make_one_chain(backend: &Backend) {
    let a = backend.store().await;
    let b = backend.store().await;
    let mut tasks = Vec::new();
    for (t, store) in [a.clone(), b.clone(), a.clone(), b.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for round in 0..10u64 {
                let batch: Vec<_> = (0..50).map(|i| record(t as u64 * 1000 + round * 50 + i)).collect();
                store.append_batch(&batch).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let report = a.verify(&key()).await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.records, report.last_seq), (2000, Some(2000)));
    let distinct: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT record) FROM audit_records").fetch_one(a.pool()).await.unwrap();
    assert_eq!(distinct, 2000);
    assert_eq!(report.valid_checkpoints, 2);
    a.close().await;
    b.close().await;
}
