//! Admin principals: users (password hash, sealed TOTP secret, lockout counters),
//! API tokens (`ra-...`, stored as keyed hashes like virtual keys) and login sessions
//! (`rs-...` with a paired `rc-...` CSRF token, both stored only as keyed hashes).
//!
//! The store does no cryptography beyond the keyed hashes: the caller computes the
//! argon2 PHC string and seals the TOTP secret, and the store keeps both as opaque
//! text it never prints. What the store does own is the atomicity the login rules
//! need: the failure counter and lock are updated in one statement, and a TOTP step is
//! consumed with a conditional update, so of two concurrent logins with the same code
//! exactly one wins.

use std::time::Duration;

use sqlx::Row;

use super::{Store, StoreError, is_unique_violation, later, unix_now};
use crate::keys::{KeyHash, KeyHasher, NewKey, PresentedToken, TokenKind, random_id};
use crate::store::KeyStatus;
use crate::validate;

/// What an admin principal may do. Stored as text; no order of privilege is implied
/// (each admin route decides which roles it accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRole {
    /// Everything, including managing admin users and provider credentials.
    Admin,
    /// Creating, rotating and revoking virtual keys.
    KeyManager,
    /// Reading the audit trail.
    Auditor,
    /// Read-only access.
    Viewer,
}

impl AdminRole {
    /// Every role.
    pub const ALL: [AdminRole; 4] = [Self::Admin, Self::KeyManager, Self::Auditor, Self::Viewer];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::KeyManager => "key_manager",
            Self::Auditor => "auditor",
            Self::Viewer => "viewer",
        }
    }

    /// The role with this stored name (exactly, lowercase).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// A stored admin user. `Debug` hides the password hash and the sealed TOTP secret.
#[derive(Clone)]
pub struct AdminUser {
    /// Public identifier, `adm_...`.
    pub id: String,
    /// Login name, stored lowercase.
    pub username: String,
    /// Role.
    pub role: AdminRole,
    /// The argon2 PHC string the caller computed.
    pub password_hash: String,
    /// The TOTP secret, sealed by the caller (opaque here); `None`: no second factor.
    pub totp_secret: Option<String>,
    /// The last TOTP step accepted (replay guard, see [`Store::consume_totp_step`]).
    pub totp_last_step: Option<i64>,
    /// Failed logins since the last success.
    pub failed_attempts: u32,
    /// Logins are refused until this instant (unix seconds).
    pub locked_until: Option<i64>,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// When the account was disabled (unix seconds); disabled accounts cannot log in.
    pub disabled_at: Option<i64>,
}

impl AdminUser {
    /// Whether logins are refused at `now` because of failed attempts.
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Whether the account is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

impl std::fmt::Debug for AdminUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| "<redacted>"))
            .field("totp_last_step", &self.totp_last_step)
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

/// A stored admin API token (never the token itself).
#[derive(Debug, Clone)]
pub struct AdminTokenRecord {
    /// Public identifier, `tok_...`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Role it acts with.
    pub role: AdminRole,
    /// First characters of the token, for recognizing it in listings.
    pub prefix: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: Option<i64>,
    /// Revocation time, unix seconds.
    pub revoked_at: Option<i64>,
    /// Who created it (free text, typically a username).
    pub created_by: Option<String>,
    hash: KeyHash,
}

impl AdminTokenRecord {
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

/// A valid admin session (what [`Store::find_session`] returns).
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The user it belongs to.
    pub user_id: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Expiry, unix seconds.
    pub expires_at: i64,
    /// Last use, unix seconds (updated at most once a minute).
    pub last_seen_at: i64,
    id_hash: KeyHash,
    csrf_hash: KeyHash,
}

impl SessionRecord {
    /// Whether `presented` is this session's CSRF token: shape checked first, then
    /// the keyed hashes compared in constant time.
    pub fn verify_csrf(&self, hasher: &KeyHasher, presented: &str) -> bool {
        PresentedToken::parse(TokenKind::Csrf, presented)
            .is_some_and(|token| hasher.hash_token(token).ct_eq(&self.csrf_hash))
    }
}

/// A new session: its secret token and CSRF token, shown once (set them as cookies
/// or headers; they are never stored). `Debug` hides both.
pub struct NewSession {
    /// The session token (`rs-...`).
    pub token: String,
    /// The CSRF token (`rc-...`).
    pub csrf: String,
    /// The stored session.
    pub record: SessionRecord,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("token", &"<redacted>").field("csrf", &"<redacted>").finish()
    }
}

const USER_COLUMNS: &str = "id, username, role, password_hash, totp_secret, totp_last_step, failed_attempts, \
     locked_until, created_at, disabled_at";
const TOKEN_COLUMNS: &str = "id, name, role, token_prefix, token_hash, created_at, expires_at, revoked_at, created_by";
/// How stale `last_seen_at` may get before a lookup rewrites it, in seconds.
const SEEN_GRANULARITY: i64 = 60;
/// Longest username, in characters.
const MAX_USERNAME_CHARS: usize = 64;

/// Usernames: 1 to 64 of `a-z A-Z 0-9 . _ @ + -`, compared case-insensitively
/// (stored lowercase). `None` for anything else.
fn username_key(text: &str) -> Option<String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_USERNAME_CHARS
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'));
    valid.then(|| text.to_ascii_lowercase())
}

/// A PHC string: `$`-prefixed printable ASCII without spaces, at most 1 KiB.
fn password_hash(text: &str) -> Result<(), StoreError> {
    if text.starts_with('$') && text.len() <= 1024 && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(StoreError::Invalid("password_hash must be a PHC string ($argon2id$...)".into()))
    }
}

impl Store {
    /// Creates an admin user. `password_hash` is the argon2 PHC string the caller
    /// computed; `totp_secret`, when given, is already sealed by the caller. A taken
    /// username (case-insensitively) is a [`StoreError::Conflict`].
    pub async fn create_admin_user(
        &self,
        username: &str,
        role: AdminRole,
        password_hash_text: &str,
        totp_secret: Option<&str>,
    ) -> Result<AdminUser, StoreError> {
        let Some(username) = username_key(username) else {
            return Err(StoreError::Invalid(format!(
                "username must have 1 to {MAX_USERNAME_CHARS} of the characters a-z A-Z 0-9 . _ @ + -"
            )));
        };
        password_hash(password_hash_text)?;
        if let Some(secret) = totp_secret {
            validate::sealed("totp_secret", secret)?;
        }
        let user = AdminUser {
            id: random_id("adm_", validate::ID_CHARS)?,
            username,
            role,
            password_hash: password_hash_text.to_owned(),
            totp_secret: totp_secret.map(str::to_owned),
            totp_last_step: None,
            failed_attempts: 0,
            locked_until: None,
            created_at: unix_now(),
            disabled_at: None,
        };
        let inserted = sqlx::query(
            "INSERT INTO admin_users (id, username, role, password_hash, totp_secret, totp_last_step,
                 failed_attempts, locked_until, created_at, disabled_at)
             VALUES ($1, $2, $3, $4, $5, NULL, 0, NULL, $6, NULL)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(user.totp_secret.as_deref())
        .bind(user.created_at)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(user),
            Err(error) if is_unique_violation(&error) => Err(StoreError::Conflict("the username is taken".into())),
            Err(error) => Err(error.into()),
        }
    }

    /// The user with this username (case-insensitive), disabled or not. A username
    /// that could not have been created is `None` without a query.
    pub async fn get_admin_user(&self, username: &str) -> Result<Option<AdminUser>, StoreError> {
        let Some(username) = username_key(username) else { return Ok(None) };
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM admin_users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_user).transpose()
    }

    /// The user with this id (`adm_...`), disabled or not.
    pub async fn get_admin_user_by_id(&self, id: &str) -> Result<Option<AdminUser>, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM admin_users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_user).transpose()
    }

    /// Every admin user, by username.
    pub async fn list_admin_users(&self) -> Result<Vec<AdminUser>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM admin_users ORDER BY username"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_user).collect()
    }

    /// Changes a user's role and announces it. False when there is no such user.
    pub async fn set_admin_role(&self, id: &str, role: AdminRole) -> Result<bool, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE admin_users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, &format!("user:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
    }

    /// Replaces a user's password hash (a PHC string the caller computed). False
    /// when there is no such user. Other sessions are left alone: revoke them with
    /// [`Store::revoke_sessions_of`] if the change is a reset.
    pub async fn set_admin_password_hash(&self, id: &str, password_hash_text: &str) -> Result<bool, StoreError> {
        password_hash(password_hash_text)?;
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let result = sqlx::query("UPDATE admin_users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash_text)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Sets (enrolment) or clears a user's sealed TOTP secret. The last used step is
    /// kept, so codes already used stay used. False when there is no such user.
    pub async fn set_admin_totp_secret(&self, id: &str, sealed: Option<&str>) -> Result<bool, StoreError> {
        if let Some(sealed) = sealed {
            validate::sealed("totp_secret", sealed)?;
        }
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let result = sqlx::query("UPDATE admin_users SET totp_secret = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Disables a user (keeping the first disable time) and revokes all their
    /// sessions, in one transaction, and announces it. False when there is no such
    /// user.
    pub async fn disable_admin_user(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE admin_users SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE admin_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.announce(&mut tx, &format!("user:{id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
    }

    /// Counts a failed login, atomically in one statement: the counter goes up by
    /// one, and once it reaches `lock_after` (0: never lock) the account is locked
    /// until `now + lock_for` (never shortening a lock already longer). Only a
    /// success resets the counter, so after a lock ends the next failure locks again.
    /// Returns the new `(failed_attempts, locked_until)`, or `None` for no such user.
    pub async fn record_login_failure(
        &self,
        id: &str,
        now: i64,
        lock_after: u32,
        lock_for: Duration,
    ) -> Result<Option<(u32, Option<i64>)>, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(None);
        }
        let row = sqlx::query(
            "UPDATE admin_users SET
                 failed_attempts = failed_attempts + 1,
                 locked_until = CASE
                     WHEN $1 > 0 AND failed_attempts + 1 >= $1 THEN
                         CASE WHEN locked_until IS NOT NULL AND locked_until > $2 THEN locked_until ELSE $2 END
                     ELSE locked_until
                 END
             WHERE id = $3
             RETURNING failed_attempts, locked_until",
        )
        .bind(i64::from(lock_after))
        .bind(later(now, lock_for))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let attempts: i64 = row.try_get("failed_attempts")?;
        let locked_until: Option<i64> = row.try_get("locked_until")?;
        Ok(Some((u32::try_from(attempts).unwrap_or(u32::MAX), locked_until)))
    }

    /// Counts a login attempt *before* it is verified, atomically in one statement,
    /// so concurrent attempts each count and a burst gets no more verifications than
    /// the limit allows. Returns `None` when the account is locked now (nothing is
    /// counted) or there is no such user; else the attempt may be verified unless the
    /// returned `locked_until` is set (this attempt reached the limit: refuse it).
    /// A lock that has ended starts a fresh count. `lock_after` attempts without a
    /// success are allowed; the next one locks the account until `now + lock_for`.
    /// A success ([`Store::record_login_success`]) clears the count.
    pub async fn begin_login_attempt(
        &self,
        id: &str,
        now: i64,
        lock_after: u32,
        lock_for: Duration,
    ) -> Result<Option<(u32, Option<i64>)>, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(None);
        }
        let row = sqlx::query(
            "UPDATE admin_users SET
                 failed_attempts = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END,
                 locked_until = CASE
                     WHEN $2 > 0 AND (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END) > $2
                         THEN $3
                     ELSE NULL
                 END
             WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $1)
             RETURNING failed_attempts, locked_until",
        )
        .bind(now)
        .bind(i64::from(lock_after))
        .bind(later(now, lock_for))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let attempts: i64 = row.try_get("failed_attempts")?;
        let locked_until: Option<i64> = row.try_get("locked_until")?;
        Ok(Some((u32::try_from(attempts).unwrap_or(u32::MAX), locked_until)))
    }

    /// A successful login: the failure counter and lock are cleared. False when
    /// there is no such user.
    pub async fn record_login_success(&self, id: &str) -> Result<bool, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let result = sqlx::query("UPDATE admin_users SET failed_attempts = 0, locked_until = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The TOTP replay guard: records `step` as the user's last used step only if it
    /// is later than the one recorded, in one conditional update. True when this call
    /// consumed the step (accept the login); false when the step, or a later one, was
    /// already used (a replay, or the loser of two concurrent logins with the same
    /// code) or there is no such user.
    pub async fn consume_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        if !validate::is_id("adm_", id) {
            return Ok(false);
        }
        let result = sqlx::query(
            "UPDATE admin_users SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Creates an admin API token and returns its record with the token itself
    /// (`ra-...`), which is not stored and cannot be shown again.
    pub async fn create_admin_token(
        &self,
        hasher: &KeyHasher,
        name: &str,
        role: AdminRole,
        expires_at: Option<i64>,
        created_by: Option<&str>,
    ) -> Result<(AdminTokenRecord, NewKey), StoreError> {
        validate::label("name", name)?;
        validate::optional_label("created_by", created_by)?;
        let token = hasher.generate_token(TokenKind::AdminToken)?;
        let record = AdminTokenRecord {
            id: random_id("tok_", validate::ID_CHARS)?,
            name: name.to_owned(),
            role,
            prefix: token.key[..TokenKind::AdminToken.prefix().len() + 4].to_owned(),
            created_at: unix_now(),
            expires_at,
            revoked_at: None,
            created_by: created_by.map(str::to_owned),
            hash: token.hash,
        };
        sqlx::query(
            "INSERT INTO admin_tokens (id, name, role, token_prefix, token_hash, created_at, expires_at, revoked_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        )
        .bind(&record.id)
        .bind(&record.name)
        .bind(record.role.as_str())
        .bind(&record.prefix)
        .bind(record.hash.to_hex())
        .bind(record.created_at)
        .bind(record.expires_at)
        .bind(record.created_by.as_deref())
        .execute(&self.pool)
        .await?;
        Ok((record, token))
    }

    /// Finds the admin token a client presented, whatever its status (check
    /// [`AdminTokenRecord::status`]). Text not shaped like a token is `None` before
    /// any hashing; the stored hash is compared in constant time.
    pub async fn find_admin_token(
        &self,
        hasher: &KeyHasher,
        presented: &str,
    ) -> Result<Option<AdminTokenRecord>, StoreError> {
        let Some(token) = PresentedToken::parse(TokenKind::AdminToken, presented) else { return Ok(None) };
        let hash = hasher.hash_token(token);
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens WHERE token_hash = $1"))
            .bind(hash.to_hex())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let record = decode_token(&row)?;
        Ok(record.hash.ct_eq(&hash).then_some(record))
    }

    /// Every admin token, newest first.
    pub async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at DESC, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_token).collect()
    }

    /// Revokes an admin token (keeping the first revocation time) and announces it.
    /// False when there is no such token.
    pub async fn revoke_admin_token(&self, id: &str) -> Result<bool, StoreError> {
        self.revoke_row(crate::store::Revocable::AdminToken, id).await
    }

    /// Starts a session for an enabled user, lasting `ttl` from `now`. Returns the
    /// session and CSRF tokens once (only their keyed hashes are stored), or `None`
    /// when there is no such enabled user.
    pub async fn create_session(
        &self,
        hasher: &KeyHasher,
        user_id: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<Option<NewSession>, StoreError> {
        if !validate::is_id("adm_", user_id) {
            return Ok(None);
        }
        let session = hasher.generate_token(TokenKind::Session)?;
        let csrf = hasher.generate_token(TokenKind::Csrf)?;
        let record = SessionRecord {
            user_id: user_id.to_owned(),
            created_at: now,
            expires_at: later(now, ttl),
            last_seen_at: now,
            id_hash: session.hash,
            csrf_hash: csrf.hash,
        };
        let inserted = sqlx::query(
            "INSERT INTO admin_sessions (id_hash, user_id, csrf_hash, created_at, expires_at, last_seen_at, revoked_at)
             SELECT $1, $2, $3, $4, $5, $6, NULL
             WHERE EXISTS (SELECT 1 FROM admin_users WHERE id = $7 AND disabled_at IS NULL)",
        )
        .bind(record.id_hash.to_hex())
        .bind(&record.user_id)
        .bind(record.csrf_hash.to_hex())
        .bind(record.created_at)
        .bind(record.expires_at)
        .bind(record.last_seen_at)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(Some(NewSession { token: session.key, csrf: csrf.key, record }))
    }

    /// The session a client presented, when it is valid at `now`: not expired, not
    /// revoked, and its user not disabled. Anything else (malformed text included,
    /// rejected before hashing) is `None`. Refreshes `last_seen_at` at most once a
    /// minute.
    pub async fn find_session(
        &self,
        hasher: &KeyHasher,
        presented: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(token) = PresentedToken::parse(TokenKind::Session, presented) else { return Ok(None) };
        let hash = hasher.hash_token(token);
        let row = sqlx::query(
            "SELECT s.id_hash, s.user_id, s.csrf_hash, s.created_at, s.expires_at, s.last_seen_at
             FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(hash.to_hex())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut record = decode_session(&row)?;
        if !record.id_hash.ct_eq(&hash) {
            return Ok(None);
        }
        if now - record.last_seen_at >= SEEN_GRANULARITY {
            sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(hash.to_hex())
                .execute(&self.pool)
                .await?;
            record.last_seen_at = now;
        }
        Ok(Some(record))
    }

    /// Revokes the session a client presented (logout) and announces it. False when
    /// there is no such session or it was already revoked.
    pub async fn revoke_session(&self, hasher: &KeyHasher, presented: &str) -> Result<bool, StoreError> {
        let Some(token) = PresentedToken::parse(TokenKind::Session, presented) else { return Ok(false) };
        let hash = hasher.hash_token(token);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE admin_sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(unix_now())
        .bind(hash.to_hex())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        let user_id: String = row.try_get("user_id")?;
        self.announce(&mut tx, &format!("user:{user_id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
    }

    /// Revokes every live session of a user (e.g. after a password reset) and
    /// announces it. Returns how many were revoked.
    pub async fn revoke_sessions_of(&self, user_id: &str) -> Result<u64, StoreError> {
        if !validate::is_id("adm_", user_id) {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("UPDATE admin_sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(unix_now())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(0);
        }
        self.announce(&mut tx, &format!("user:{user_id}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(result.rows_affected())
    }

    /// Deletes sessions that expired before `now` (housekeeping; they are already
    /// refused). Returns how many were deleted.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let result =
            sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(result.rows_affected())
    }
}

fn role_column(row: &sqlx::any::AnyRow, table: &'static str) -> Result<AdminRole, StoreError> {
    let role: String = row.try_get("role")?;
    AdminRole::parse(&role).ok_or_else(|| StoreError::Corrupt { table, reason: "unknown role".into() })
}

fn hash_column(row: &sqlx::any::AnyRow, table: &'static str, column: &str) -> Result<KeyHash, StoreError> {
    let hex: String = row.try_get(column)?;
    KeyHash::from_hex(&hex)
        .ok_or_else(|| StoreError::Corrupt { table, reason: format!("{column} is not 64 hex digits") })
}

fn decode_user(row: &sqlx::any::AnyRow) -> Result<AdminUser, StoreError> {
    let attempts: i64 = row.try_get("failed_attempts")?;
    Ok(AdminUser {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: role_column(row, "admin_users")?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
        failed_attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        locked_until: row.try_get("locked_until")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

fn decode_token(row: &sqlx::any::AnyRow) -> Result<AdminTokenRecord, StoreError> {
    Ok(AdminTokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role_column(row, "admin_tokens")?,
        prefix: row.try_get("token_prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        created_by: row.try_get("created_by")?,
        hash: hash_column(row, "admin_tokens", "token_hash")?,
    })
}

fn decode_session(row: &sqlx::any::AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        id_hash: hash_column(row, "admin_sessions", "id_hash")?,
        csrf_hash: hash_column(row, "admin_sessions", "csrf_hash")?,
    })
}
