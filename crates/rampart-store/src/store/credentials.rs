//! Provider credentials at rest: one sealed (encrypted) upstream API key per
//! provider, with the id of the key-encryption key that sealed it and a version that
//! goes up on every change.
//!
//! The store never sees plaintext: the caller seals with AES-256-GCM under its KEK
//! (the `rampart-identity` vault, binding the provider name as associated data) and
//! hands over the sealed text, which is opaque here. Listings return
//! [`ProviderCredentialInfo`], a separate type without the sealed text, so no listing
//! path can leak even the ciphertext; only [`Store::get_sealed_credential`], for the
//! gateway's own use, returns it.

use sqlx::Row;

use super::{Store, StoreError, unix_now};
use crate::validate;

/// What is known about a stored credential, without the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCredentialInfo {
    /// Provider name, as in the configuration.
    pub provider: String,
    /// Id of the key-encryption key that sealed it.
    pub kek_id: String,
    /// 1 when first set, then one more on every change.
    pub version: i64,
    /// Last change, unix seconds.
    pub updated_at: i64,
    /// Who made the last change (free text, typically a username).
    pub updated_by: Option<String>,
}

/// A stored credential with its sealed text. `Debug` hides the sealed text.
#[derive(Clone)]
pub struct SealedCredential {
    /// Metadata.
    pub info: ProviderCredentialInfo,
    /// The sealed text the caller stored (open it with the KEK named by `kek_id`).
    pub sealed: String,
}

impl std::fmt::Debug for SealedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedCredential").field("info", &self.info).field("sealed", &"<redacted>").finish()
    }
}

const INFO_COLUMNS: &str = "provider, kek_id, version, updated_at, updated_by";

impl Store {
    /// Stores the sealed credential of `provider`, replacing any previous one (the
    /// version goes up by one), and announces the change. `sealed` is ciphertext the
    /// caller made; the store checks only its size and characters.
    pub async fn set_provider_credential(
        &self,
        provider: &str,
        sealed: &str,
        kek_id: &str,
        updated_by: Option<&str>,
    ) -> Result<ProviderCredentialInfo, StoreError> {
        validate::label("provider", provider)?;
        validate::sealed("sealed credential", sealed)?;
        validate::label("kek_id", kek_id)?;
        validate::optional_label("updated_by", updated_by)?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO provider_credentials (provider, sealed, kek_id, version, updated_at, updated_by)
             VALUES ($1, $2, $3, 1, $4, $5)
             ON CONFLICT (provider) DO UPDATE SET sealed = excluded.sealed, kek_id = excluded.kek_id,
                 version = provider_credentials.version + 1, updated_at = excluded.updated_at,
                 updated_by = excluded.updated_by
             RETURNING {INFO_COLUMNS}"
        ))
        .bind(provider)
        .bind(sealed)
        .bind(kek_id)
        .bind(unix_now())
        .bind(updated_by)
        .fetch_one(&mut *tx)
        .await?;
        let info = decode_info(&row)?;
        self.announce(&mut tx, &format!("provider:{provider}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(info)
    }

    /// The sealed credential of `provider`, for the gateway's own use (to open and
    /// send upstream). Never return it from an API.
    pub async fn get_sealed_credential(&self, provider: &str) -> Result<Option<SealedCredential>, StoreError> {
        if validate::label("provider", provider).is_err() {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {INFO_COLUMNS}, sealed FROM provider_credentials WHERE provider = $1"))
            .bind(provider)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SealedCredential { info: decode_info(&row)?, sealed: row.try_get("sealed")? }))
    }

    /// Every stored credential's metadata, by provider; the sealed text is not even
    /// read.
    pub async fn list_provider_credentials(&self) -> Result<Vec<ProviderCredentialInfo>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {INFO_COLUMNS} FROM provider_credentials ORDER BY provider"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_info).collect()
    }

    /// Deletes the credential of `provider` and announces it. False when there was
    /// none.
    pub async fn delete_provider_credential(&self, provider: &str) -> Result<bool, StoreError> {
        if validate::label("provider", provider).is_err() {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("DELETE FROM provider_credentials WHERE provider = $1")
            .bind(provider)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, &format!("provider:{provider}")).await?;
        tx.commit().await?;
        self.committed()?;
        Ok(true)
    }
}

fn decode_info(row: &sqlx::any::AnyRow) -> Result<ProviderCredentialInfo, StoreError> {
    Ok(ProviderCredentialInfo {
        provider: row.try_get("provider")?,
        kek_id: row.try_get("kek_id")?,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}
