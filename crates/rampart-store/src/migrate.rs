//! Schema migrations, applied in order at connect time. Each statement is portable
//! between SQLite and PostgreSQL (TEXT and BIGINT columns only), and each migration is
//! applied once, in the same transaction as its record in `rampart_migrations`
//! (`CREATE ... IF NOT EXISTS` where the syntax allows); concurrent starts are
//! serialized (see [`run`]).

use sqlx::AnyPool;

/// `(version, statements)`, append only: never edit a released migration.
pub(crate) const MIGRATIONS: &[(i64, &[&str])] = &[
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
    // Identity and access: key scopes beyond models, rotation with grace, teams, admin
    // principals (users, tokens, sessions), and sealed provider credentials. JSON is
    // stored as TEXT; times are unix seconds. Existing keys keep every endpoint.
    (
        3,
        &[
            "ALTER TABLE virtual_keys ADD COLUMN owner TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN team TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN role TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN endpoints TEXT NOT NULL DEFAULT '[\"*\"]'",
            "ALTER TABLE virtual_keys ADD COLUMN cidrs TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN metadata TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN rotated_from TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN superseded_by TEXT",
            "ALTER TABLE virtual_keys ADD COLUMN grace_until BIGINT",
            "CREATE INDEX IF NOT EXISTS virtual_keys_team ON virtual_keys (team)",
            "CREATE TABLE IF NOT EXISTS teams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                policy TEXT,
                metadata TEXT,
                created_at BIGINT NOT NULL
            )",
            "CREATE TABLE IF NOT EXISTS admin_users (
                id TEXT PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                totp_secret TEXT,
                totp_last_step BIGINT,
                failed_attempts BIGINT NOT NULL DEFAULT 0,
                locked_until BIGINT,
                created_at BIGINT NOT NULL,
                disabled_at BIGINT
            )",
            "CREATE TABLE IF NOT EXISTS admin_tokens (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                token_prefix TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                revoked_at BIGINT,
                created_by TEXT
            )",
            "CREATE TABLE IF NOT EXISTS admin_sessions (
                id_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                csrf_hash TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                revoked_at BIGINT
            )",
            "CREATE INDEX IF NOT EXISTS admin_sessions_user ON admin_sessions (user_id)",
            "CREATE TABLE IF NOT EXISTS provider_credentials (
                provider TEXT PRIMARY KEY,
                sealed TEXT NOT NULL,
                kek_id TEXT NOT NULL,
                version BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                updated_by TEXT
            )",
        ],
    ),
    // Resource limits per key (rate, tokens, concurrency, budgets, max_tokens cap,
    // priority) as one JSON text; NULL: none.
    (4, &["ALTER TABLE virtual_keys ADD COLUMN limits TEXT"]),
    // Reversible suspension (by an administrator or an anomaly policy) and its reason.
    (
        5,
        &[
            "ALTER TABLE virtual_keys ADD COLUMN suspended_at BIGINT",
            "ALTER TABLE virtual_keys ADD COLUMN suspended_reason TEXT",
        ],
    ),
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
