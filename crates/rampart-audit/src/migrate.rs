//! The audit schema's migrations, in their own `rampart_audit_migrations` table so they
//! never collide with rampart-store's. Portable SQL: TEXT and BIGINT columns only.

use sqlx::AnyPool;

/// `(version, statements)`, append only.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS audit_records (
            seq BIGINT PRIMARY KEY,
            time BIGINT NOT NULL,
            kind TEXT NOT NULL,
            principal TEXT,
            record TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )",
            "CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time)",
            "CREATE INDEX IF NOT EXISTS audit_records_principal ON audit_records (principal, seq)",
            "CREATE TABLE IF NOT EXISTS audit_checkpoints (
            seq BIGINT PRIMARY KEY,
            hash TEXT NOT NULL,
            time BIGINT NOT NULL,
            signature TEXT NOT NULL
        )",
            // One row every appender updates first: it serializes appenders on both
            // backends (a row lock on PostgreSQL, the write lock on SQLite).
            "CREATE TABLE IF NOT EXISTS audit_chain_lock (id BIGINT PRIMARY KEY, appends BIGINT NOT NULL)",
            "INSERT INTO audit_chain_lock (id, appends) VALUES (1, 0)",
        ],
    ),
    (
        2,
        &[
            // The write-ahead journal's committed position, updated in the same
            // transaction as the batch it covers (see `crate::writer`).
            "CREATE TABLE IF NOT EXISTS audit_journal_offsets (
            journal TEXT PRIMARY KEY,
            generation BIGINT NOT NULL,
            pos BIGINT NOT NULL
        )",
        ],
    ),
];

/// Advisory lock key serializing audit migrations across PostgreSQL instances.
const MIGRATION_LOCK: i64 = 0x0061_7564_6974_6d67;

pub(crate) async fn run(pool: &AnyPool, postgres: bool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rampart_audit_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for (version, statements) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM rampart_audit_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if applied.is_some() {
            continue;
        }
        for statement in *statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO rampart_audit_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::store::unix_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
