//! Authentication: turns the presented virtual key into a [`Principal`] request
//! extension, or rejects with 401 in OpenAI's shape.
//!
//! Sits after the request id (so rejections are traceable) and before any route logic:
//! every route except the public `/healthz` and `/readyz` passes through it, unknown
//! paths included (default deny). Keys are accepted as `Authorization: Bearer rk-...`
//! or `api-key: rk-...`; a malformed credential is refused before hashing or touching
//! the store; the store lookup goes by keyed hash with a constant-time final compare.
//! If the store cannot answer, the request fails closed with 503.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use rampart_store::{KeyStatus, ModelScope, PresentedKey, unix_now};

use crate::error::ApiError;
use crate::state::AppState;

/// Longest wait for the key store; past it the request fails closed with 503.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Who is calling: attached to the request by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    /// Key id (`key_...`), safe to log.
    pub key_id: String,
    /// Models this key may use.
    pub models: ModelScope,
}

/// Axum middleware: authenticate or reject.
pub(crate) async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    match principal(&state, request.headers()).await {
        Ok(principal) => {
            let key_id = principal.key_id.clone();
            request.extensions_mut().insert(Arc::new(principal));
            let mut response = next.run(request).await;
            response.extensions_mut().insert(KeyId(key_id));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// The authenticated key id, attached to responses for the access log.
#[derive(Debug, Clone)]
pub(crate) struct KeyId(pub(crate) String);

fn presented(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "missing_key",
            "You didn't provide an API key. Provide your rampart key as `Authorization: Bearer rk-...` or `api-key: rk-...`.",
        )
    };
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed());
        }
        return Ok(token.trim());
    }
    if let Some(value) = headers.get("api-key") {
        return value.to_str().map(str::trim).map_err(|_| malformed());
    }
    Err(missing())
}

fn malformed() -> ApiError {
    ApiError::unauthorized("malformed_key", "Incorrect API key provided.")
}

async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = presented(headers)?;
    let key = PresentedKey::parse(token).ok_or_else(malformed)?;
    let lookup =
        tokio::time::timeout(STORE_TIMEOUT, state.store.find_key(&state.hasher, key)).await;
    let record = match lookup {
        Ok(Ok(Some(record))) => record,
        Ok(Ok(None)) => {
            return Err(ApiError::unauthorized(
                "unknown_key",
                "Incorrect API key provided.",
            ));
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "key store lookup failed");
            return Err(ApiError::unavailable(
                "key_store_unavailable",
                "authentication is temporarily unavailable",
            ));
        }
        Err(_) => {
            tracing::error!(
                timeout_s = STORE_TIMEOUT.as_secs(),
                "key store lookup timed out"
            );
            return Err(ApiError::unavailable(
                "key_store_timeout",
                "authentication is temporarily unavailable",
            ));
        }
    };
    match record.status(unix_now()) {
        KeyStatus::Active => Ok(Principal {
            key_id: record.id,
            models: record.models,
        }),
        KeyStatus::Revoked => Err(ApiError::unauthorized(
            "revoked_key",
            "This API key has been revoked.",
        )),
        KeyStatus::Expired => Err(ApiError::unauthorized(
            "expired_key",
            "This API key has expired.",
        )),
    }
}
