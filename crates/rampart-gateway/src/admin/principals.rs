//! Admin users and admin API tokens through the admin API.
//!
//! A new user gets an argon2id password hash (after the password policy check) and a
//! fresh TOTP secret, sealed under the gateway's KEK with `totp:{user_id}` as
//! associated data; the response shows the secret and its `otpauth://` URI once, for
//! enrolment. A new token (`ra-...`) is likewise shown once. Listings show neither
//! hashes nor secrets.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use http::StatusCode;
use rampart_identity::{password, totp, vault};
use rampart_store::{AdminRole, AdminTokenRecord, AdminUser, unix_now};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::AdminPrincipal;
use super::input::{JsonBody, PathParam, duration_field, instant_after, not_found, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// The issuer shown in authenticator apps.
const TOTP_ISSUER: &str = "rampart";

/// The associated data a user's TOTP secret is sealed with.
pub(crate) fn totp_aad(user_id: &str) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

/// A user as listed: never the password hash or the TOTP secret.
fn user_view(user: &AdminUser, now: i64) -> Value {
    json!({
        "id": user.id,
        "object": "admin_user",
        "username": user.username,
        "role": user.role.as_str(),
        "totp_enrolled": user.totp_secret.is_some(),
        "failed_attempts": user.failed_attempts,
        "locked": user.is_locked(now),
        "locked_until": user.locked_until,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
    })
}

/// A token as listed: never the token.
fn token_view(token: &AdminTokenRecord, now: i64) -> Value {
    json!({
        "id": token.id,
        "object": "admin_token",
        "name": token.name,
        "role": token.role.as_str(),
        "prefix": token.prefix,
        "status": token.status(now).as_str(),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "created_by": token.created_by,
    })
}

/// A role named in a body, or a 400.
fn role_field(text: &str) -> Result<AdminRole, ApiError> {
    AdminRole::parse(text).ok_or_else(|| {
        ApiError::bad_request("invalid_role", "`role` must be one of admin, key_manager, auditor, viewer")
            .with_param("role")
    })
}

/// `GET /admin/v1/users`.
pub(crate) async fn list_users(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let now = unix_now();
    let users = state.store.list_admin_users().await.map_err(store_error)?;
    Ok(Json(json!({"object": "list", "data": users.iter().map(|user| user_view(user, now)).collect::<Vec<_>>()})))
}

/// The body of `POST /admin/v1/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    username: String,
    password: String,
    role: String,
}

impl std::fmt::Debug for NewUserBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserBody").field("username", &self.username).field("role", &self.role).finish()
    }
}

/// `POST /admin/v1/users`: creates a user with a fresh TOTP secret, shown once.
pub(crate) async fn create_user(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = role_field(&body.role)?;
    password::validate_new_password(&body.password)
        .map_err(|error| ApiError::bad_request("weak_password", error.to_string()).with_param("password"))?;
    let secret_password = body.password;
    let hashed = tokio::task::spawn_blocking(move || password::hash_password(&secret_password))
        .await
        .map_err(|_| ApiError::internal("password_hash_failed"))?
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            ApiError::internal("password_hash_failed")
        })?;
    let secret = totp::TotpSecret::generate().map_err(|_| ApiError::internal("totp_secret_failed"))?;
    let user = state.store.create_admin_user(&body.username, role, &hashed, None).await.map_err(store_error)?;
    // The id is the associated data, so the secret is sealed once the id exists.
    let enrolled = match vault::seal(&state.kek, secret.as_bytes(), &totp_aad(&user.id)) {
        Ok(sealed) => state.store.set_admin_totp_secret(&user.id, Some(&sealed.to_string())).await.map_err(store_error),
        Err(error) => {
            tracing::error!(%error, "sealing a TOTP secret failed");
            Err(ApiError::internal("seal_failed"))
        }
    };
    if !matches!(enrolled, Ok(true)) {
        // Never leave a half-made account usable.
        let _ = state.store.disable_admin_user(&user.id, unix_now()).await;
        return Err(enrolled.err().unwrap_or_else(|| ApiError::internal("totp_enrolment_failed")));
    }
    tracing::info!(user_id = user.id, role = role.as_str(), "admin: user created");
    let mut shown = user_view(&user, unix_now());
    shown["totp_enrolled"] = Value::Bool(true);
    shown["totp"] = json!({
        "secret": secret.to_base32().as_str(),
        "uri": secret.otpauth_uri(TOTP_ISSUER, &user.username).as_str(),
    });
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `POST /admin/v1/users/{id}/disable`: the user can no longer log in, and their
/// sessions end.
pub(crate) async fn disable_user(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    if !state.store.disable_admin_user(&id, unix_now()).await.map_err(store_error)? {
        return Err(not_found("user"));
    }
    let user = state.store.get_admin_user_by_id(&id).await.map_err(store_error)?.ok_or_else(|| not_found("user"))?;
    // Tokens the user minted (and tokens minted with those) would outlive the account:
    // revoke them too.
    let mut actors = vec![user.username.clone()];
    let mut revoked = 0;
    loop {
        let tokens = state.store.list_admin_tokens().await.map_err(store_error)?;
        let next: Vec<_> = tokens
            .iter()
            .filter(|t| t.revoked_at.is_none() && !actors.contains(&format!("token:{}", t.id)))
            .filter(|t| t.created_by.as_ref().is_some_and(|by| actors.contains(by)))
            .collect();
        if next.is_empty() {
            break;
        }
        for token in next {
            state.store.revoke_admin_token(&token.id).await.map_err(store_error)?;
            actors.push(format!("token:{}", token.id));
            revoked += 1;
        }
    }
    tracing::info!(user_id = id, tokens_revoked = revoked, "admin: user disabled");
    Ok(Json(user_view(&user, unix_now())))
}

/// `GET /admin/v1/tokens`.
pub(crate) async fn list_tokens(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let now = unix_now();
    let tokens = state.store.list_admin_tokens().await.map_err(store_error)?;
    Ok(Json(json!({"object": "list", "data": tokens.iter().map(|token| token_view(token, now)).collect::<Vec<_>>()})))
}

/// The body of `POST /admin/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenBody {
    name: String,
    role: String,
    /// A duration from now, e.g. `30d`.
    #[serde(default)]
    expires: Option<String>,
}

/// `POST /admin/v1/tokens`: creates a token, shown once.
pub(crate) async fn create_token(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<AdminPrincipal>>,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = role_field(&body.role)?;
    let now = unix_now();
    let expires_at = match &body.expires {
        Some(text) => Some(instant_after("expires", now, duration_field("expires", text)?)?),
        None => None,
    };
    let (record, token) = state
        .store
        .create_admin_token(&state.hasher, &body.name, role, expires_at, Some(&principal.actor()))
        .await
        .map_err(store_error)?;
    tracing::info!(token_id = record.id, role = role.as_str(), "admin: token created");
    let mut shown = token_view(&record, now);
    shown["token"] = Value::String(token.key);
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `POST /admin/v1/tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    if !state.store.revoke_admin_token(&id).await.map_err(store_error)? {
        return Err(not_found("token"));
    }
    tracing::info!(token_id = id, "admin: token revoked");
    Ok(Json(json!({"id": id, "object": "admin_token", "revoked": true})))
}
