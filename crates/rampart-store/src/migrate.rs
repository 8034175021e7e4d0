//! Schema migrations, applied in order at connect time. Each statement is portable
//! between SQLite and PostgreSQL, idempotent (`IF NOT EXISTS`), and recorded in
//! `rampart_migrations`, so two instances starting together converge.

use sqlx::AnyPool;

/// `(version, statements)`, append only: never edit a released migration.
const MIGRATIONS: &[(i64, &[&str])] = &[(
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
)];

pub(crate) async fn run(pool: &AnyPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS rampart_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for (version, statements) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM rampart_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(pool)
                .await?;
        if applied.is_some() {
            continue;
        }
        let mut tx = pool.begin().await?;
        for statement in *statements {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO rampart_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING")
            .bind(version)
            .bind(crate::store::unix_now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
