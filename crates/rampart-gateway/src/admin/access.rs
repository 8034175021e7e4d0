//! Who is calling the admin API, and whether their role may: the authentication
//! middleware (admin token or session cookie, CSRF for cookie-authenticated writes)
//! and the role check against [`super::ROUTES`].
//!
//! Credentials are accepted as `Authorization: Bearer ra-...` (an admin API token,
//! looked up by keyed hash; revoked or expired ones are refused) or the
//! `rampart_session=rs-...` cookie set by login (expired, revoked or belonging to a
//! disabled user: refused). When both are present the `Authorization` header decides.
//! A cookie is an ambient credential a browser attaches to cross-site requests, so a
//! cookie-authenticated `POST`/`PUT`/`PATCH`/`DELETE` must also carry the session's
//! CSRF token in `x-csrf-token` (compared by keyed hash in constant time); a bearer
//! token is never ambient and needs none. Everything else is 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, Method};
use rampart_store::{AdminRole, KeyStatus, unix_now};

use super::input::store_error;
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "rampart_session";
/// The CSRF header's name.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How an admin caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A logged-in user (session cookie).
    User,
    /// An admin API token.
    Token,
}

impl Kind {
    /// `user` or `token`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
        }
    }
}

/// An authenticated admin caller, attached to the request by [`authenticate`].
#[derive(Debug, Clone)]
pub(crate) struct AdminPrincipal {
    /// `adm_...` or `tok_...`.
    pub(crate) id: String,
    /// Username, or the token's name.
    pub(crate) name: String,
    /// User or token.
    pub(crate) kind: Kind,
    /// What it may do.
    pub(crate) role: AdminRole,
}

impl AdminPrincipal {
    /// Who made a change, for `created_by`/`updated_by` columns.
    pub(crate) fn actor(&self) -> String {
        match self.kind {
            Kind::User => self.name.clone(),
            Kind::Token => format!("token:{}", self.id),
        }
    }
}

/// 401 for every credential problem, with a closed label for the log.
fn unauthorized(label: &'static str) -> ApiError {
    ApiError::unauthorized(
        label,
        "Admin authentication required: send `Authorization: Bearer ra-...` or log in for a session cookie.",
    )
}

/// Axum middleware: authenticate the admin caller or reject with 401 (403 for a
/// cookie-authenticated write without the CSRF token).
pub(crate) async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    match principal(&state, request.method(), request.headers()).await {
        Ok(principal) => {
            let actor = crate::monitor::Actor { id: principal.id.clone(), kind: principal.kind.as_str() };
            request.extensions_mut().insert(Arc::new(principal));
            let mut response = next.run(request).await;
            // For the audit record of this admin action.
            response.extensions_mut().insert(actor);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Whether `method` changes state (and so needs the CSRF token under a cookie).
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn principal(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<AdminPrincipal, ApiError> {
    let now = unix_now();
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| unauthorized("malformed_admin_token"))?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(|| unauthorized("malformed_admin_token"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized("malformed_admin_token"));
        }
        let record = state.store.find_admin_token(&state.hasher, token.trim()).await.map_err(store_error)?;
        let Some(record) = record else { return Err(unauthorized("unknown_admin_token")) };
        return match record.status(now) {
            KeyStatus::Active => {
                Ok(AdminPrincipal { id: record.id, name: record.name, kind: Kind::Token, role: record.role })
            }
            KeyStatus::Revoked => Err(unauthorized("revoked_admin_token")),
            KeyStatus::Expired => Err(unauthorized("expired_admin_token")),
            // Admin tokens are never suspended; the arm keeps the match exhaustive.
            KeyStatus::Suspended => Err(unauthorized("suspended_admin_token")),
        };
    }
    let Some(token) = session_cookie(headers)? else { return Err(unauthorized("missing_admin_credential")) };
    let session = state.store.find_session(&state.hasher, token, now).await.map_err(store_error)?;
    let Some(session) = session else { return Err(unauthorized("invalid_session")) };
    if is_write(method) {
        let csrf = headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default();
        if !session.verify_csrf(&state.hasher, csrf) {
            return Err(ApiError::forbidden(
                "csrf_failed",
                "A session-authenticated change needs the session's CSRF token in `x-csrf-token`.",
            ));
        }
    }
    let user = state.store.get_admin_user_by_id(&session.user_id).await.map_err(store_error)?;
    match user {
        Some(user) if !user.is_disabled() => {
            Ok(AdminPrincipal { id: user.id, name: user.username, kind: Kind::User, role: user.role })
        }
        _ => Err(unauthorized("invalid_session")),
    }
}

/// The `rampart_session` cookie, if sent. Unreadable `Cookie` headers and a
/// repeated session cookie (cookie tossing: which one would the browser mean?) are
/// refused rather than guessed at.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut found = None;
    for value in headers.get_all(http::header::COOKIE) {
        let value = value.to_str().map_err(|_| unauthorized("malformed_cookie"))?;
        for pair in value.split(';') {
            let Some((name, cookie)) = pair.trim().split_once('=') else { continue };
            if name.trim() == SESSION_COOKIE {
                if found.is_some() {
                    return Err(unauthorized("duplicate_session_cookie"));
                }
                found = Some(cookie.trim());
            }
        }
    }
    Ok(found)
}

/// One entry of [`super::ROUTES`].
pub(crate) type RouteEntry = &'static (Method, &'static str, &'static [AdminRole]);

/// Axum middleware wrapped around each route's handler with its own entry of
/// [`super::ROUTES`]: the caller's role must be one the entry lists, else 403
/// `insufficient_role` naming the roles that may.
pub(crate) async fn require_role(State(entry): State<RouteEntry>, request: Request, next: Next) -> Response {
    let Some(principal) = request.extensions().get::<Arc<AdminPrincipal>>().cloned() else {
        return unauthorized("missing_admin_credential").into_response();
    };
    let (method, _, roles) = entry;
    if request.method() != method {
        return ApiError::method_not_allowed().into_response();
    }
    if !roles.contains(&principal.role) {
        let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        return ApiError::forbidden(
            "insufficient_role",
            format!(
                "Your role `{}` may not do this: it requires the role {}.",
                principal.role.as_str(),
                names.join(" or ")
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// `GET /admin/v1/whoami`: the caller's id, kind and role.
pub(crate) async fn whoami(Extension(principal): Extension<Arc<AdminPrincipal>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "id": principal.id,
        "name": principal.name,
        "kind": principal.kind.as_str(),
        "role": principal.role.as_str(),
    }))
}
