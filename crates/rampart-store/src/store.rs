//! The [`Store`]: a pooled connection to SQLite or PostgreSQL, the virtual key
//! queries (creation, scope changes, rotation with grace, revocation, lookup), and the
//! change announcements every access-withdrawing change makes (see [`crate::watch`]).
//! Teams, admin principals and provider credentials have their own submodules.
//!
//! Every query is parameterized (`$1`, never string formatting), so no key, name or id
//! can change a statement's meaning; identifiers of the wrong shape are refused before
//! any query (see [`crate::validate`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::keys::{KeyHash, KeyHasher, ModelScope, NewKey, PresentedKey, random_id};
use crate::limits::KeyLimits;
use crate::scope::{ClientNetworks, EndpointScope};
use crate::validate;

pub mod admin;
pub mod credentials;
pub mod teams;

/// Free-form JSON metadata attached to keys and teams (at most
/// [`validate::MAX_METADATA_BYTES`] serialized).
pub type Metadata = serde_json::Map<String, serde_json::Value>;

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
    /// The input was refused before reaching the database (a client error: the
    /// message says which field and why, without echoing secrets).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The change conflicts with the stored state: a duplicate name, rotating a
    /// revoked key, deleting a team still in use.
    #[error("conflict: {0}")]
    Conflict(String),
}

/// A key's lifecycle state at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Past its expiry, or a rotated key past its grace period.
    Expired,
    /// Revoked.
    Revoked,
    /// Suspended (by an administrator or an anomaly policy) until resumed.
    Suspended,
}

impl KeyStatus {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
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
    /// Suspension time, unix seconds; cleared by [`Store::resume_key`].
    pub suspended_at: Option<i64>,
    /// Why it is suspended (e.g. `anomaly: attack_burst`); never request content.
    pub suspended_reason: Option<String>,
    /// Inspection policy profile; `None` means the `default` profile.
    pub policy: Option<String>,
    /// Who the key is for (free text, e.g. an email address).
    pub owner: Option<String>,
    /// The name of the team it belongs to (see [`Store::create_team`]).
    pub team: Option<String>,
    /// A role label for the key's holder (free text, reported to policies and logs).
    pub role: Option<String>,
    /// Request paths it may call. Keys created before endpoint scopes existed have `*`.
    pub endpoints: EndpointScope,
    /// Client networks it may be used from (empty: any address).
    pub cidrs: ClientNetworks,
    /// Free-form metadata.
    pub metadata: Option<Metadata>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<String>,
    /// The key that replaced this one by rotation.
    pub superseded_by: Option<String>,
    /// For a rotated key: it is refused from this instant (unix seconds) on.
    pub grace_until: Option<i64>,
    /// Rate limits, budgets, `max_tokens` cap and priority class.
    pub limits: KeyLimits,
    hash: KeyHash,
}

impl KeyRecord {
    /// Status at `now` (unix seconds): revoked, else suspended, else expired, else
    /// active. A rotated key whose grace period has ended
    /// (`grace_until <= now`) is [`KeyStatus::Expired`], like a key past its expiry.
    pub fn status(&self, now: i64) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.suspended_at.is_some() {
            KeyStatus::Suspended
        } else if self.expires_at.is_some_and(|at| at <= now) || self.grace_until.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// What a new key may do, and who it is for. `Default` is a key for every model,
/// every endpoint and any address, without expiry (the name must still be set).
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// Human name, 1 to 128 characters without control characters.
    pub name: String,
    /// Models it may use (empty: none).
    pub models: ModelScope,
    /// Request paths it may call (empty: none).
    pub endpoints: EndpointScope,
    /// Client networks it may be used from (empty: any).
    pub cidrs: ClientNetworks,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Inspection policy profile (`None`: `default`). The caller checks that it exists.
    pub policy: Option<String>,
    /// Who the key is for.
    pub owner: Option<String>,
    /// The name of an existing team.
    pub team: Option<String>,
    /// A role label.
    pub role: Option<String>,
    /// Free-form metadata, at most 8 KiB as JSON.
    pub metadata: Option<Metadata>,
    /// Rate limits, budgets, `max_tokens` cap and priority class.
    pub limits: KeyLimits,
}

impl Default for KeySpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            models: ModelScope::all(),
            endpoints: EndpointScope::all(),
            cidrs: ClientNetworks::any(),
            expires_at: None,
            policy: None,
            owner: None,
            team: None,
            role: None,
            metadata: None,
            limits: KeyLimits::default(),
        }
    }
}

impl KeySpec {
    /// A spec with this name and model scope, otherwise [`KeySpec::default`].
    pub fn new(name: impl Into<String>, models: ModelScope) -> Self {
        Self { name: name.into(), models, ..Self::default() }
    }

    /// Checks every field and returns the stored forms of the JSON ones.
    fn validate(&self) -> Result<SpecText, StoreError> {
        validate::label("name", &self.name)?;
        validate::patterns("models", self.models.patterns(), false)?;
        validate::patterns("endpoints", self.endpoints.patterns(), true)?;
        if self.cidrs.networks().len() > validate::MAX_PATTERNS {
            return Err(StoreError::Invalid(format!("cidrs: at most {} networks", validate::MAX_PATTERNS)));
        }
        validate::optional_label("policy", self.policy.as_deref())?;
        validate::optional_label("owner", self.owner.as_deref())?;
        validate::optional_label("team", self.team.as_deref())?;
        validate::optional_label("role", self.role.as_deref())?;
        validate::metadata("metadata", self.metadata.as_ref())?;
        self.limits.validate()?;
        self.texts()
    }

    /// The stored forms of the JSON fields, without checks (for copying a stored
    /// key, whose fields may predate today's limits).
    fn texts(&self) -> Result<SpecText, StoreError> {
        let json = |value: &[String]| {
            serde_json::to_string(value).map_err(|error| StoreError::Invalid(format!("patterns: {error}")))
        };
        Ok(SpecText {
            models: json(self.models.patterns())?,
            endpoints: json(self.endpoints.patterns())?,
            cidrs: if self.cidrs.is_any() { None } else { Some(json(&self.cidrs.to_strings())?) },
            metadata: self
                .metadata
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|error| StoreError::Invalid(format!("metadata: {error}")))?,
            limits: self.limits.to_column()?,
        })
    }
}

/// The JSON columns of a validated [`KeySpec`].
struct SpecText {
    models: String,
    endpoints: String,
    cidrs: Option<String>,
    metadata: Option<String>,
    limits: Option<String>,
}

/// Rows revoked by [`Store::revoke_row`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Revocable {
    /// A virtual key.
    Key,
    /// An admin API token.
    AdminToken,
}

impl Revocable {
    /// `(table, id prefix, change topic)`.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Key => ("virtual_keys", "key_", "key"),
            Self::AdminToken => ("admin_tokens", "tok_", "token"),
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
    /// PostgreSQL only: the URL, for the change listener's own connection.
    listen_url: Option<crate::watch::ListenUrl>,
    /// Change watches opened through this store, told of its own commits at once.
    local_watches: std::sync::Arc<crate::watch::LocalWatches>,
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

/// `now + duration` in unix seconds, saturating.
pub(crate) fn later(now: i64, duration: Duration) -> i64 {
    now.saturating_add(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

const KEY_COLUMNS: &str = "id, name, key_prefix, models, created_at, expires_at, revoked_at, key_hash, policy, \
     owner, team, role, endpoints, cidrs, metadata, rotated_from, superseded_by, grace_until, limits, \
     suspended_at, suspended_reason";

/// The channel change announcements go to on PostgreSQL.
pub(crate) const CHANGE_CHANNEL: &str = "rampart_key_changes";

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
        let listen_url = (backend == Backend::Postgres).then(|| crate::watch::ListenUrl::new(url));
        Ok(Self { pool, backend, epoch_file, listen_url, local_watches: Default::default() })
    }

    /// A reader of the key-change epoch, when this store has one (SQLite files).
    /// Gateways cache keys only while it is available. [`Store::watch_changes`] wraps
    /// it, and works on PostgreSQL too.
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

    /// Watches for changes that withdraw or alter access, on either backend: see
    /// [`crate::watch::ChangeWatch`] for the protocol a cache follows. On PostgreSQL
    /// this opens a dedicated listening connection (kept, and reopened when lost, by
    /// a background task that ends when the last clone of the watch is dropped); it
    /// fails only if that first connection fails. On SQLite it reads the epoch file,
    /// and an in-memory database gives a watch that is never valid (nothing may be
    /// cached, as there is no way to hear of changes made elsewhere).
    pub async fn watch_changes(&self) -> Result<crate::watch::ChangeWatch, StoreError> {
        match (&self.listen_url, self.backend) {
            (Some(url), Backend::Postgres) => crate::watch::ChangeWatch::listen(url, &self.local_watches).await,
            _ => Ok(crate::watch::ChangeWatch::from_epoch(self.epoch_reader())),
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
    /// fail-closed path). A [`crate::watch::ChangeWatch`] has its own connection and
    /// ends when dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Inside a transaction: announce a change that withdraws or alters access. On
    /// PostgreSQL this is `pg_notify`, delivered to listeners only if and when the
    /// transaction commits. `what` is `kind:id` (`key:key_...`, `token:tok_...`,
    /// `user:adm_...`, `provider:NAME`), never a secret.
    pub(crate) async fn announce(&self, conn: &mut AnyConnection, what: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            // `pg_notify` returns void, which the Any driver cannot decode: select a
            // constant from it instead.
            sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
                .bind(CHANGE_CHANNEL)
                .bind(what)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// After the commit of an announced change, never before (see the epoch module for
    /// why the order matters): bump the SQLite epoch, and this store's own watches.
    pub(crate) fn committed(&self) -> Result<(), StoreError> {
        self.local_watches.bump();
        if let Some(path) = &self.epoch_file {
            crate::epoch::bump(path).map_err(StoreError::Epoch)?;
        }
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
        let spec = KeySpec {
            name: name.to_owned(),
            models: models.clone(),
            expires_at,
            policy: policy.map(str::to_owned),
            ..KeySpec::default()
        };
        self.create_scoped_key(hasher, &spec).await
    }

    /// Creates a key with every scope of `spec` and returns its record with the key
    /// itself, which is not stored and cannot be shown again. A `team` must name an
    /// existing team ([`StoreError::Invalid`] otherwise).
    pub async fn create_scoped_key(
        &self,
        hasher: &KeyHasher,
        spec: &KeySpec,
    ) -> Result<(KeyRecord, NewKey), StoreError> {
        let text = spec.validate()?;
        let new_key = hasher.generate()?;
        let record = KeyRecord {
            id: random_id("key_", validate::ID_CHARS)?,
            name: spec.name.clone(),
            prefix: new_key.key[..crate::keys::KEY_PREFIX.len() + 4].to_owned(),
            models: spec.models.clone(),
            created_at: unix_now(),
            expires_at: spec.expires_at,
            revoked_at: None,
            suspended_at: None,
            suspended_reason: None,
            policy: spec.policy.clone(),
            owner: spec.owner.clone(),
            team: spec.team.clone(),
            role: spec.role.clone(),
            endpoints: spec.endpoints.clone(),
            cidrs: spec.cidrs.clone(),
            metadata: spec.metadata.clone(),
            rotated_from: None,
            superseded_by: None,
            grace_until: None,
            limits: spec.limits,
            hash: new_key.hash,
        };
        let mut tx = self.pool.begin().await?;
        if let Some(team) = &record.team {
            teams::hold_team(&mut tx, team).await?;
        }
        insert_key(&mut tx, &record, &text).await?;
        tx.commit().await?;
        Ok((record, new_key))
    }

    /// The key with this id, whatever its status. An id not of the form
    /// `key_` + 16 base62 characters is `None` without a query.
    pub async fn get_key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        if !validate::is_id("key_", id) {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_key).transpose()
    }

    /// Replaces the name and every scope of a key (models, endpoints, networks,
    /// expiry, policy, owner, team, role, metadata) with those of `spec`, and tells
    /// running gateways. `None` when there is no such key; a revoked key is a
    /// [`StoreError::Conflict`].
    pub async fn update_key(&self, id: &str, spec: &KeySpec) -> Result<Option<KeyRecord>, StoreError> {
        let text = spec.validate()?;
        if !validate::is_id("key_", id) {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        if let Some(team) = &spec.team {
            teams::hold_team(&mut tx, team).await?;
        }
        let updated = sqlx::query(
            "UPDATE virtual_keys SET name = $1, models = $2, endpoints = $3, cidrs = $4, expires_at = $5,
                 policy = $6, owner = $7, team = $8, role = $9, metadata = $10, limits = $11
             WHERE id = $12 AND revoked_at IS NULL",
        )
        .bind(&spec.name)
        .bind(&text.models)
        .bind(&text.endpoints)
        .bind(text.cidrs.as_deref())
        .bind(spec.expires_at)
        .bind(spec.policy.as_deref())
        .bind(spec.owner.as_deref())
        .bind(spec.team.as_deref())
        .bind(spec.role.as_deref())
        .bind(text.metadata.as_deref())
        .bind(text.limits.as_deref())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(record) = row.as_ref().map(decode_key).transpose()? else { return Ok(None) };
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict("the key is revoked".into()));
        }
        self.announce(&mut tx, &format!("key:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(Some(record))
    }

    /// Rotates a key: in one transaction, creates a successor with every scope of the
    /// old key (`rotated_from` = old id, same expiry), and marks the old key
    /// `superseded_by` the new one with `grace_until = now + grace` (an earlier
    /// `grace_until` already set is kept). The old key keeps working until then; a
    /// zero grace refuses it at once. Returns the successor and its secret, or `None`
    /// when there is no such key. Rotating a revoked, expired or already superseded
    /// key is a [`StoreError::Conflict`] (so concurrent rotations create one successor).
    pub async fn rotate_key(
        &self,
        hasher: &KeyHasher,
        id: &str,
        grace: Duration,
        now: i64,
    ) -> Result<Option<(KeyRecord, NewKey)>, StoreError> {
        if !validate::is_id("key_", id) {
            return Ok(None);
        }
        let grace_until = later(now, grace);
        let new_key = hasher.generate()?;
        let new_id = random_id("key_", validate::ID_CHARS)?;
        let mut tx = self.pool.begin().await?;
        // The guarded write comes first: it takes the row lock (PostgreSQL) or the
        // write lock (SQLite), so of two concurrent rotations one wins and the other
        // finds the key superseded.
        let marked = sqlx::query(
            "UPDATE virtual_keys SET superseded_by = $1,
                 grace_until = CASE WHEN grace_until IS NOT NULL AND grace_until < $2 THEN grace_until ELSE $2 END
             WHERE id = $3 AND revoked_at IS NULL AND superseded_by IS NULL
                 AND (expires_at IS NULL OR expires_at > $4) AND (grace_until IS NULL OR grace_until > $4)",
        )
        .bind(&new_id)
        .bind(grace_until)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(old) = row.as_ref().map(decode_key).transpose()? else { return Ok(None) };
        if marked.rows_affected() == 0 {
            let why = if old.revoked_at.is_some() {
                "the key is revoked".to_owned()
            } else if let Some(successor) = &old.superseded_by {
                format!("the key was already rotated (its successor is {successor})")
            } else {
                "the key has expired".to_owned()
            };
            return Err(StoreError::Conflict(why));
        }
        if let Some(team) = &old.team {
            teams::hold_team(&mut tx, team).await?;
        }
        let record = KeyRecord {
            id: new_id,
            prefix: new_key.key[..crate::keys::KEY_PREFIX.len() + 4].to_owned(),
            created_at: now,
            revoked_at: None,
            suspended_at: None,
            suspended_reason: None,
            rotated_from: Some(old.id.clone()),
            superseded_by: None,
            grace_until: None,
            hash: new_key.hash,
            ..old.clone()
        };
        let spec = KeySpec {
            name: record.name.clone(),
            models: record.models.clone(),
            endpoints: record.endpoints.clone(),
            cidrs: record.cidrs.clone(),
            expires_at: record.expires_at,
            policy: record.policy.clone(),
            owner: record.owner.clone(),
            team: record.team.clone(),
            role: record.role.clone(),
            metadata: record.metadata.clone(),
            limits: record.limits,
        };
        // A copy of what is stored: not held to limits that may postdate the old key.
        let text = spec.texts()?;
        insert_key(&mut tx, &record, &text).await?;
        self.announce(&mut tx, &format!("key:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(Some((record, new_key)))
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM virtual_keys ORDER BY created_at DESC, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_key).collect()
    }

    /// Revokes a key and tells running gateways. Returns false when no such key
    /// exists (an id of the wrong shape included); revoking twice keeps the first
    /// revocation time.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        self.revoke_row(Revocable::Key, id).await
    }

    /// Suspends a key until [`Store::resume_key`], telling running gateways: it is
    /// refused from the next request on, and keeps its secret, scopes and limits.
    /// `reason` (at most 200 characters kept) says why, never with request content.
    /// Returns false when there is no such key or it is revoked; suspending twice keeps
    /// the first time and reason.
    pub async fn suspend_key(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let reason: String = reason.chars().filter(|c| !c.is_control()).take(200).collect();
        self.set_suspension(
            id,
            "UPDATE virtual_keys SET suspended_at = COALESCE(suspended_at, $1), \
             suspended_reason = COALESCE(suspended_reason, $2) WHERE id = $3 AND revoked_at IS NULL",
            Some(reason),
        )
        .await
    }

    /// Lifts a suspension, telling running gateways. Returns false when there is no
    /// such key or it is revoked (a revoked key stays revoked); resuming a key that is
    /// not suspended is a no-op that returns true.
    pub async fn resume_key(&self, id: &str) -> Result<bool, StoreError> {
        self.set_suspension(
            id,
            "UPDATE virtual_keys SET suspended_at = NULL, suspended_reason = NULL \
             WHERE id = $1 AND revoked_at IS NULL",
            None,
        )
        .await
    }

    /// Runs one of the suspension updates above on key `id`, announcing the change in
    /// the same transaction.
    async fn set_suspension(&self, id: &str, update: &str, reason: Option<String>) -> Result<bool, StoreError> {
        if !validate::is_id("key_", id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let query = match reason {
            Some(reason) => sqlx::query(update).bind(unix_now()).bind(reason).bind(id),
            None => sqlx::query(update).bind(id),
        };
        if query.execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, &format!("key:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
    }

    /// Sets `revoked_at` (keeping an earlier one) on the row with this id, announcing
    /// the change in the same transaction. False for an id of the wrong shape or no
    /// such row. Table and column names come from [`Revocable`], never from input.
    pub(crate) async fn revoke_row(&self, what: Revocable, id: &str) -> Result<bool, StoreError> {
        let (table, prefix, topic) = what.names();
        if !validate::is_id(prefix, id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(&format!("UPDATE {table} SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"))
            .bind(unix_now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, &format!("{topic}:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
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

async fn insert_key(conn: &mut AnyConnection, record: &KeyRecord, text: &SpecText) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO virtual_keys (id, name, key_hash, key_prefix, models, created_at, expires_at, revoked_at, policy,
             owner, team, role, endpoints, cidrs, metadata, rotated_from, superseded_by, grace_until, limits)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13, $14, $15, NULL, NULL, $16)",
    )
    .bind(&record.id)
    .bind(&record.name)
    .bind(record.hash.to_hex())
    .bind(&record.prefix)
    .bind(&text.models)
    .bind(record.created_at)
    .bind(record.expires_at)
    .bind(record.policy.as_deref())
    .bind(record.owner.as_deref())
    .bind(record.team.as_deref())
    .bind(record.role.as_deref())
    .bind(&text.endpoints)
    .bind(text.cidrs.as_deref())
    .bind(text.metadata.as_deref())
    .bind(record.rotated_from.as_deref())
    .bind(text.limits.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a failed statement broke a UNIQUE constraint (on either backend).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|e| e.is_unique_violation())
}

/// The database file of a `sqlite://PATH[?...]` URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// Decodes an optional JSON text column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    table: &'static str,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt { table, reason: format!("{column}: {e}") })
    })
    .transpose()
}

fn decode_key(row: &sqlx::any::AnyRow) -> Result<KeyRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table: "virtual_keys", reason };
    let patterns: Vec<String> =
        json_column(row, "virtual_keys", "models")?.ok_or_else(|| corrupt("models is NULL".into()))?;
    let endpoints: Vec<String> = json_column(row, "virtual_keys", "endpoints")?.unwrap_or_default();
    let cidrs: Vec<String> = json_column(row, "virtual_keys", "cidrs")?.unwrap_or_default();
    let cidrs = ClientNetworks::parse(&cidrs).map_err(|e| corrupt(format!("cidrs: {e}")))?;
    let hash_hex: String = row.try_get("key_hash")?;
    Ok(KeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("key_prefix")?,
        models: ModelScope::new(patterns),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        suspended_at: row.try_get("suspended_at")?,
        suspended_reason: row.try_get("suspended_reason")?,
        policy: row.try_get("policy")?,
        owner: row.try_get("owner")?,
        team: row.try_get("team")?,
        role: row.try_get("role")?,
        endpoints: EndpointScope::new(endpoints),
        cidrs,
        metadata: json_column(row, "virtual_keys", "metadata")?,
        rotated_from: row.try_get("rotated_from")?,
        superseded_by: row.try_get("superseded_by")?,
        grace_until: row.try_get("grace_until")?,
        limits: json_column(row, "virtual_keys", "limits")?.unwrap_or_default(),
        hash: KeyHash::from_hex(&hash_hex).ok_or_else(|| corrupt("key_hash is not 64 hex digits".into()))?,
    })
}

#[cfg(test)]
mod tests;
