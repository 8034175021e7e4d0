//! Schema migrations, applied in order at connect time. Each statement is portable
//! between SQLite and PostgreSQL, idempotent (`IF NOT EXISTS`), and recorded in
//! `rampart_migrations`; concurrent starts are serialized (see [`run`]).

use sqlx::AnyPool;

/// `(version, statements)`, append only: never edit a released migration.
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &["CREATE TABLE IF NOT EXISTS virtual_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            key_prefix TEXT NOT NULL,
            models TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT
        )"],
    ),
    // The inspection policy profile a key uses (NULL: `default`).
    (2, &["ALTER TABLE virtual_keys ADD COLUMN policy TEXT"]),
];

/// Advisory lock key serializing migrations across PostgreSQL instances ("rampart").
const MIGRATION_LOCK: i64 = 0x0072_616d_7061_7274;

/// Applies pending migrations. On PostgreSQL the whole run holds a transaction-scoped
/// advisory lock, so instances starting together take turns instead of racing on
/// `CREATE TABLE` (which can fail with a catalog unique violation even with
/// `IF NOT EXISTS`). SQLite serializes writers itself.
pub(crate) async fn run(pool: &AnyPool, postgres: bool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(&mut *tx).await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rampart_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for (version, statements) in MIGRATIONS {
        let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM rampart_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if applied.is_some() {
            continue;
        }
        for statement in *statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO rampart_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(crate::store::unix_now())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
