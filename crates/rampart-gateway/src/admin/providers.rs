//! Provider credentials through the admin API: which configured providers have a
//! stored credential (version, update time, KEK id, never the credential or even its
//! ciphertext), and replacing one. The new credential is sealed under the gateway's
//! KEK with the provider name as associated data (`provider:{name}`) before it
//! reaches the store, and no response ever echoes it.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use rampart_identity::vault;
use rampart_store::ProviderCredentialInfo;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::AdminPrincipal;
use super::input::{JsonBody, PathParam, not_found, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest provider credential accepted, in bytes.
const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// Stored-credential metadata as shown.
fn credential_view(info: &ProviderCredentialInfo) -> Value {
    json!({
        "version": info.version,
        "updated_at": info.updated_at,
        "updated_by": info.updated_by,
        "kek_id": info.kek_id,
    })
}

/// `GET /admin/v1/providers`: every configured provider, with its stored
/// credential's metadata (`null` when it uses the configured one).
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let stored = state.store.list_provider_credentials().await.map_err(store_error)?;
    let data: Vec<Value> = state
        .config
        .providers
        .iter()
        .map(|provider| {
            let credential = stored.iter().find(|info| info.provider == provider.name).map(credential_view);
            json!({"name": provider.name, "object": "provider", "stored_credential": credential})
        })
        .collect();
    Ok(Json(json!({"object": "list", "data": data})))
}

/// The body of `PUT /admin/v1/providers/{name}/credential`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialBody {
    api_key: String,
}

impl std::fmt::Debug for CredentialBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialBody(<redacted>)")
    }
}

/// `PUT /admin/v1/providers/{name}/credential`: seals and stores the credential.
pub(crate) async fn set_credential(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<AdminPrincipal>>,
    PathParam(name): PathParam,
    JsonBody(body): JsonBody<CredentialBody>,
) -> Result<Json<Value>, ApiError> {
    if !state.config.providers.iter().any(|provider| provider.name == name) {
        return Err(not_found("provider"));
    }
    let key = body.api_key.as_str();
    if key.is_empty() || key.len() > MAX_CREDENTIAL_BYTES || key.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_credential",
            format!("`api_key` must be 1 to {MAX_CREDENTIAL_BYTES} bytes without control characters"),
        )
        .with_param("api_key"));
    }
    let sealed = vault::seal(&state.kek, key.as_bytes(), &crate::credentials::aad(&name)).map_err(|error| {
        tracing::error!(%error, "sealing a provider credential failed");
        ApiError::internal("seal_failed")
    })?;
    let info = state
        .store
        .set_provider_credential(&name, &sealed.to_string(), state.kek.key_id(), Some(&principal.actor()))
        .await
        .map_err(store_error)?;
    tracing::info!(provider = name, version = info.version, "admin: provider credential replaced");
    Ok(Json(json!({"name": name, "object": "provider", "stored_credential": credential_view(&info)})))
}
