//! The [`Store`]: a pooled connection to SQLite or PostgreSQL and the key queries.
//!
//! Every query is parameterized (`$1`, never string formatting), so no key, name or id
//! can change a statement's meaning.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

use crate::keys::{KeyHash, KeyHasher, ModelScope, NewKey, PresentedKey, random_id};

/// Storage failures. Messages never include keys or connection passwords.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a query failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The OS random number generator failed.
    #[error("random number generator: {0}")]
    Random(#[from] rand::rand_core::OsError),
    /// The change was committed, but running gateways could not be told to drop their
    /// cached copy of the key; they see it when their cache entry expires.
    #[error(
        "committed, but the key-change epoch could not be written (gateways see the change within auth.cache_ttl): {0}"
    )]
    Epoch(std::io::Error),
    /// A stored row could not be decoded.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A key's lifecycle state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

impl KeyStatus {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A stored virtual key (never the key itself).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Public identifier, `key_...`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// First characters of the key, for recognizing it in listings.
    pub prefix: String,
    /// Models it may use.
    pub models: ModelScope,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Revocation time, unix seconds.
    pub revoked_at: Option<i64>,
    /// Inspection policy profile; `None` means the `default` profile.
    pub policy: Option<String>,
    hash: KeyHash,
}

impl KeyRecord {
    /// Status at `now` (unix seconds).
    pub fn status(&self, now: i64) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// The key store. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the key-change epoch file beside the database.
    epoch_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

const KEY_COLUMNS: &str = "id, name, key_prefix, models, created_at, expires_at, revoked_at, key_hash, policy";

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`), creating a SQLite file
    /// if needed, and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false);
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers proceed while the CLI writes; busy_timeout makes
                    // writers wait for each other instead of failing.
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        crate::migrate::run(&pool, backend == Backend::Postgres).await?;
        let epoch_file = sqlite_file(&url).map(|db| crate::epoch::epoch_path(&db));
        Ok(Self { pool, backend, epoch_file })
    }

    /// A reader of the key-change epoch, when this store has one (SQLite files).
    /// Gateways cache keys only while it is available.
    pub fn epoch_reader(&self) -> Option<crate::epoch::EpochReader> {
        let path = self.epoch_file.as_ref()?;
        match crate::epoch::open(path) {
            Ok(reader) => Some(reader),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "key-change epoch unavailable: keys will not be cached");
                None
            }
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Closes the pool; later queries fail (used at shutdown, and by tests of the
    /// fail-closed path).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Creates a key and returns its record with the key itself, which is not stored
    /// and cannot be shown again.
    pub async fn create_key(
        &self,
        hasher: &KeyHasher,
        name: &str,
        models: &ModelScope,
        expires_at: Option<i64>,
    ) -> Result<(KeyRecord, NewKey), StoreError> {
        self.create_key_with_policy(hasher, name, models, expires_at, None).await
    }

    /// [`Store::create_key`] with an inspection policy profile (`None`: `default`).
    /// The caller checks that the profile exists in its configuration.
    pub async fn create_key_with_policy(
        &self,
        hasher: &KeyHasher,
        name: &str,
        models: &ModelScope,
        expires_at: Option<i64>,
        policy: Option<&str>,
    ) -> Result<(KeyRecord, NewKey), StoreError> {
        let new_key = hasher.generate()?;
        let record = KeyRecord {
            id: random_id("key_", 16)?,
            name: name.to_owned(),
            prefix: new_key.key[..crate::keys::KEY_PREFIX.len() + 4].to_owned(),
            models: models.clone(),
            created_at: unix_now(),
            expires_at,
            revoked_at: None,
            policy: policy.map(str::to_owned),
            hash: new_key.hash,
        };
        let models_json = serde_json::to_string(record.models.patterns())
            .map_err(|error| StoreError::Corrupt { table: "virtual_keys", reason: error.to_string() })?;
        sqlx::query(
            "INSERT INTO virtual_keys (id, name, key_hash, key_prefix, models, created_at, expires_at, revoked_at, policy)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(&record.id)
        .bind(&record.name)
        .bind(record.hash.to_hex())
        .bind(&record.prefix)
        .bind(models_json)
        .bind(record.created_at)
        .bind(record.expires_at)
        .bind(record.policy.as_deref())
        .execute(&self.pool)
        .await?;
        Ok((record, new_key))
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys ORDER BY created_at DESC, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_key).collect()
    }

    /// Revokes a key. Returns false when no such key exists; revoking twice keeps the
    /// first revocation time.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE virtual_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(unix_now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        // After the commit, never before: see the epoch module for why the order matters.
        if let Some(path) = &self.epoch_file {
            crate::epoch::bump(path).map_err(StoreError::Epoch)?;
        }
        Ok(result.rows_affected() > 0)
    }

    /// Finds the key a client presented, whatever its status (the caller decides, and
    /// can tell revoked from unknown in its logs). The stored hash is compared with the
    /// computed one in constant time.
    pub async fn find_key(&self, hasher: &KeyHasher, key: PresentedKey<'_>) -> Result<Option<KeyRecord>, StoreError> {
        self.find_by_hash(&hasher.hash(key)).await
    }

    /// Finds a key by its keyed hash (see [`Store::find_key`]).
    pub async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys WHERE key_hash = $1"))
            .bind(hash.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let record = decode_key(&row)?;
        Ok(record.hash.ct_eq(hash).then_some(record))
    }
}

/// The database file of a `sqlite://PATH[?...]` URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::PathBuf::from(path))
}

fn decode_key(row: &sqlx::any::AnyRow) -> Result<KeyRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table: "virtual_keys", reason };
    let models: String = row.try_get("models")?;
    let patterns: Vec<String> = serde_json::from_str(&models).map_err(|e| corrupt(format!("models: {e}")))?;
    let hash_hex: String = row.try_get("key_hash")?;
    Ok(KeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("key_prefix")?,
        models: ModelScope::new(patterns),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        policy: row.try_get("policy")?,
        hash: KeyHash::from_hex(&hash_hex).ok_or_else(|| corrupt("key_hash is not 64 hex digits".into()))?,
    })
}

#[cfg(test)]
mod tests;
