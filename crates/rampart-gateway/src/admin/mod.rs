//! The admin API, served only on its own listener (`[admin] listen`), under
//! `/admin/v1`, JSON in and out, errors in OpenAI's shape.
//!
//! Owns: authenticating admin callers ([`access`]: `ra-...` bearer tokens or the
//! `rampart_session` cookie with its CSRF header), the role table [`ROUTES`] (the one
//! place that says which role may call what: the router is built from it and the role
//! check reads it, so a route missing from it is unreachable), login with a second
//! factor ([`login`]), and the handlers for keys, teams, admin users, admin tokens and
//! provider credentials. Does not own storage, password hashing, TOTP or sealing (the
//! store and identity crates).
//!
//! Layers, outer to inner: [`observe`](crate::observe) (request id, panic → 500,
//! access log); the public login route; [`access::authenticate`] over every other path,
//! unknown ones included (so an unauthenticated probe gets 401 everywhere);
//! [`access::require_role`] around each handler, with its table entry; the handler. Secrets (keys,
//! tokens, passwords, TOTP secrets, provider credentials) are returned at most once,
//! at creation, and never logged; every response carries `cache-control: no-store`.

mod access;
mod audit;
mod input;
mod keys;
mod login;
mod principals;
mod providers;
mod teams;

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on, post};
use http::{HeaderValue, Method};
use rampart_store::AdminRole;

use crate::error::ApiError;
use crate::state::AppState;

/// Every admin route with the roles that may call it (default deny: a method and
/// path missing here is never routed).
pub(crate) const ROUTES: &[(Method, &str, &[AdminRole])] = &[
    (Method::GET, "/admin/v1/whoami", ALL),
    (Method::POST, "/admin/v1/logout", ALL),
    (Method::GET, "/admin/v1/keys", ALL),
    (Method::POST, "/admin/v1/keys", KEY_WRITERS),
    (Method::GET, "/admin/v1/keys/{id}", ALL),
    (Method::POST, "/admin/v1/keys/{id}/rotate", KEY_WRITERS),
    (Method::POST, "/admin/v1/keys/{id}/revoke", KEY_WRITERS),
    (Method::POST, "/admin/v1/keys/{id}/suspend", KEY_WRITERS),
    (Method::POST, "/admin/v1/keys/{id}/resume", KEY_WRITERS),
    (Method::GET, "/admin/v1/teams", ALL),
    (Method::POST, "/admin/v1/teams", ADMIN),
    (Method::GET, "/admin/v1/teams/{id}", ALL),
    (Method::DELETE, "/admin/v1/teams/{id}", ADMIN),
    (Method::GET, "/admin/v1/users", READERS),
    (Method::POST, "/admin/v1/users", ADMIN),
    (Method::POST, "/admin/v1/users/{id}/disable", ADMIN),
    (Method::GET, "/admin/v1/tokens", READERS),
    (Method::POST, "/admin/v1/tokens", ADMIN),
    (Method::POST, "/admin/v1/tokens/{id}/revoke", ADMIN),
    (Method::GET, "/admin/v1/providers", READERS),
    (Method::PUT, "/admin/v1/providers/{name}/credential", ADMIN),
    (Method::GET, "/admin/v1/audit", READERS),
    (Method::GET, "/metrics", ALL),
];

/// The one unauthenticated admin route.
pub(crate) const LOGIN: &str = "/admin/v1/login";

/// Every role.
const ALL: &[AdminRole] = &[AdminRole::Admin, AdminRole::KeyManager, AdminRole::Auditor, AdminRole::Viewer];
/// Roles that may create, rotate and revoke keys.
const KEY_WRITERS: &[AdminRole] = &[AdminRole::Admin, AdminRole::KeyManager];
/// Roles that may read everything (users, tokens, providers included).
const READERS: &[AdminRole] = &[AdminRole::Admin, AdminRole::Auditor];
/// Only `admin`.
const ADMIN: &[AdminRole] = &[AdminRole::Admin];

/// The handler of one table entry; `None` for an entry without one (then the route
/// stays unrouted, which the start-up log reports).
fn handler(method: &Method, pattern: &str) -> Option<MethodRouter<Arc<AppState>>> {
    let filter = MethodFilter::try_from(method.clone()).ok()?;
    let route = match (method.as_str(), pattern) {
        ("GET", "/admin/v1/whoami") => on(filter, access::whoami),
        ("POST", "/admin/v1/logout") => on(filter, login::logout),
        ("GET", "/admin/v1/keys") => on(filter, keys::list),
        ("POST", "/admin/v1/keys") => on(filter, keys::create),
        ("GET", "/admin/v1/keys/{id}") => on(filter, keys::show),
        ("POST", "/admin/v1/keys/{id}/rotate") => on(filter, keys::rotate),
        ("POST", "/admin/v1/keys/{id}/revoke") => on(filter, keys::revoke),
        ("POST", "/admin/v1/keys/{id}/suspend") => on(filter, keys::suspend),
        ("POST", "/admin/v1/keys/{id}/resume") => on(filter, keys::resume),
        ("GET", "/admin/v1/teams") => on(filter, teams::list),
        ("POST", "/admin/v1/teams") => on(filter, teams::create),
        ("GET", "/admin/v1/teams/{id}") => on(filter, teams::show),
        ("DELETE", "/admin/v1/teams/{id}") => on(filter, teams::delete),
        ("GET", "/admin/v1/users") => on(filter, principals::list_users),
        ("POST", "/admin/v1/users") => on(filter, principals::create_user),
        ("POST", "/admin/v1/users/{id}/disable") => on(filter, principals::disable_user),
        ("GET", "/admin/v1/tokens") => on(filter, principals::list_tokens),
        ("POST", "/admin/v1/tokens") => on(filter, principals::create_token),
        ("POST", "/admin/v1/tokens/{id}/revoke") => on(filter, principals::revoke_token),
        ("GET", "/admin/v1/providers") => on(filter, providers::list),
        ("PUT", "/admin/v1/providers/{name}/credential") => on(filter, providers::set_credential),
        ("GET", "/admin/v1/audit") => on(filter, audit::query),
        ("GET", "/metrics") => on(filter, metrics),
        _ => return None,
    };
    Some(route)
}

/// The admin router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mut api = Router::new();
    for entry in ROUTES {
        let (method, pattern, _) = entry;
        match handler(method, pattern) {
            // Each handler is wrapped in the role check for its own table entry
            // (not the 405 fallback of its path).
            Some(route) => {
                api = api.route(pattern, route.route_layer(from_fn_with_state(entry, access::require_role)));
            }
            None => tracing::error!(%method, pattern, "admin route table entry without a handler: not served"),
        }
    }
    let api = api
        .fallback(|request: axum::extract::Request| async move {
            ApiError::unknown_url(request.method(), request.uri().path()).into_response()
        })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        // Every route above and the fallback: unknown paths answer 401 without a
        // credential, not a map of what exists.
        .layer(from_fn_with_state(state.clone(), access::authenticate));
    let state_for_observe = state.clone();
    Router::new()
        // Public: the only admin route without a credential.
        .route(LOGIN, post(login::login))
        .merge(api)
        .with_state(state)
        .layer(from_fn(no_store))
        .layer(from_fn_with_state(state_for_observe, crate::observe::observe_admin))
}

/// `GET /metrics`: Prometheus text format (0.0.4). Scrape it with an admin token of
/// any role (`authorization: Bearer ra-...`).
async fn metrics(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    let mut out = String::with_capacity(4096);
    state.monitor.render_metrics(&mut out);
    state.admission.render_metrics(&mut out);
    let mut response = out.into_response();
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Marks every admin response uncacheable: some carry secrets shown once.
async fn no_store(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
