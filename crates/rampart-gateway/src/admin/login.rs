//! Admin login with a second factor, and logout.
//!
//! `POST /admin/v1/login` takes a username, password and TOTP code. The rules, in
//! order: an unknown (or disabled) user costs the same argon2 work as a real one
//! ([`password::dummy_verify`]) and gets the same 401 `invalid_credentials` as a wrong
//! password, so neither timing nor answer tells usernames apart; a locked account is
//! refused with 429 `account_locked` before the password is even checked; a wrong
//! password, a wrong code, a replayed code (the step must be later than the last one
//! used, consumed atomically in the store so two concurrent logins cannot both win)
//! or a user without an enrolled second factor count as a failure, which locks the
//! account after `admin.lockout_after` of them, and every failure answer is delayed
//! by `min(250ms * 2^(failures-1), 4s)`. Success clears the counter and starts a
//! session: `Set-Cookie: rampart_session=...; HttpOnly; Secure; SameSite=Strict;
//! Path=/admin; Max-Age=...` plus the session's CSRF token in the JSON body, to be
//! sent back as `x-csrf-token` on every change.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::SET_COOKIE;
use rampart_identity::{password, totp, vault};
use rampart_store::{AdminUser, unix_now};
use serde::Deserialize;
use serde_json::json;

use super::access::{SESSION_COOKIE, session_cookie};
use super::input::{JsonBody, locked, store_error};
use super::principals::totp_aad;
use crate::error::ApiError;
use crate::state::AppState;

/// First failure delay; doubled per further failure.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest failure delay.
const MAX_DELAY: Duration = Duration::from_secs(4);
/// Defaults when `[admin]` is absent (the router only runs when it is present).
const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
const DEFAULT_LOCKOUT_AFTER: u32 = 5;
const DEFAULT_LOCKOUT_FOR: Duration = Duration::from_secs(15 * 60);

/// The body of `POST /admin/v1/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
    totp: String,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The same answer for every credential failure.
fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "Invalid username, password or one-time code.")
}

/// The delay before answering the `failures`-th consecutive failure.
fn failure_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

/// Password verifications running at once, process-wide: each holds 19 MiB and a
/// core for tens of milliseconds, so unauthenticated logins must not be able to
/// exhaust memory or starve the data plane. Past it, logins get 503 at once.
const MAX_VERIFICATIONS: usize = 4;

fn verifications() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(MAX_VERIFICATIONS))
}

/// Runs an argon2 verification off the async threads, within [`MAX_VERIFICATIONS`].
async fn verify_password(password_text: String, phc: Option<String>) -> Result<bool, ApiError> {
    let slot = tokio::time::timeout(Duration::from_secs(2), verifications().acquire()).await;
    let Ok(Ok(_slot)) = slot else {
        return Err(ApiError::unavailable("login_busy", "too many logins at once: retry shortly"));
    };
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => password::verify_password(&password_text, &phc),
        None => password::dummy_verify(&password_text),
    })
    .await
    .map_err(|_| ApiError::internal("password_verify_failed"))
}

/// Whether `code` is the user's current TOTP code, not used before; consumes its step.
async fn second_factor(state: &AppState, user: &AdminUser, code: &str, now: i64) -> Result<bool, ApiError> {
    let Some(sealed) = &user.totp_secret else { return Ok(false) };
    let opened = vault::open(&state.kek, sealed, &totp_aad(&user.id)).map_err(|error| {
        tracing::error!(%error, user_id = user.id, "a stored TOTP secret could not be opened");
        ApiError::internal("totp_secret_unreadable")
    })?;
    let bytes: [u8; totp::SECRET_BYTES] = opened.as_slice().try_into().map_err(|_| {
        tracing::error!(user_id = user.id, "a stored TOTP secret has the wrong length");
        ApiError::internal("totp_secret_unreadable")
    })?;
    let secret = totp::TotpSecret::from_bytes(bytes);
    let Some(step) = totp::verify(&secret, code, now, user.totp_last_step) else { return Ok(false) };
    state.store.consume_totp_step(&user.id, step).await.map_err(store_error)
}

/// `POST /admin/v1/login`.
pub(crate) async fn login(State(state): State<Arc<AppState>>, JsonBody(body): JsonBody<LoginBody>) -> Response {
    match attempt(&state, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn attempt(state: &AppState, body: LoginBody) -> Result<Response, ApiError> {
    let (session_ttl, lockout_after, lockout_for) = match &state.config.admin {
        Some(admin) => (admin.session_ttl, admin.lockout_after, admin.lockout_for),
        None => (DEFAULT_SESSION_TTL, DEFAULT_LOCKOUT_AFTER, DEFAULT_LOCKOUT_FOR),
    };
    let now = unix_now();
    let user = state.store.get_admin_user(&body.username).await.map_err(store_error)?;
    let user = match user {
        Some(user) if !user.is_disabled() => user,
        _ => {
            // No such (enabled) user: the same work and the same answer.
            verify_password(body.password, None).await?;
            tokio::time::sleep(BASE_DELAY).await;
            return Err(invalid_credentials());
        }
    };
    // Count the attempt before verifying it (atomically): concurrent attempts each
    // count, so a burst cannot buy more guesses than the lockout allows.
    let counted = state.store.begin_login_attempt(&user.id, now, lockout_after, lockout_for).await;
    let failures = match counted.map_err(store_error)? {
        Some((attempts, None)) => attempts,
        _ => return Err(locked()),
    };
    let password_ok = verify_password(body.password, Some(user.password_hash.clone())).await?;
    let factor_ok = password_ok && second_factor(state, &user, &body.totp, now).await?;
    if !factor_ok {
        if failures >= lockout_after {
            // The limit is reached: lock now rather than at the next attempt.
            state.store.record_login_failure(&user.id, now, lockout_after, lockout_for).await.map_err(store_error)?;
        }
        tracing::info!(user_id = user.id, failures, "admin login failed");
        tokio::time::sleep(failure_delay(failures)).await;
        return Err(invalid_credentials());
    }
    state.store.record_login_success(&user.id).await.map_err(store_error)?;
    let session = state.store.create_session(&state.hasher, &user.id, session_ttl, now).await.map_err(store_error)?;
    let Some(session) = session else { return Err(invalid_credentials()) };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/admin; Max-Age={}",
        session.token,
        session_ttl.as_secs()
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal("session_cookie"))?;
    tracing::info!(user_id = user.id, "admin login");
    let body = json!({
        "csrf_token": session.csrf,
        "expires_at": session.record.expires_at,
        "user": {"id": user.id, "username": user.username, "role": user.role.as_str()},
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

/// `POST /admin/v1/logout`: ends the presented session and clears its cookie. A
/// token caller has no session to end (400).
pub(crate) async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let token = match session_cookie(&headers) {
        Ok(Some(token)) if headers.get(http::header::AUTHORIZATION).is_none() => token,
        Ok(_) => {
            return ApiError::bad_request("no_session", "logout ends a session: this call was not made with one")
                .into_response();
        }
        Err(error) => return error.into_response(),
    };
    if let Err(error) = state.store.revoke_session(&state.hasher, token).await {
        return store_error(error).into_response();
    }
    let mut response = Json(json!({"logged_out": true})).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("rampart_session=; HttpOnly; Secure; SameSite=Strict; Path=/admin; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_delays_double_up_to_four_seconds() {
        let millis: Vec<u128> = (1..=7).map(|n| failure_delay(n).as_millis()).collect();
        assert_eq!(millis, [250, 500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(failure_delay(0).as_millis(), 250);
        assert_eq!(failure_delay(u32::MAX), MAX_DELAY);
    }
}
