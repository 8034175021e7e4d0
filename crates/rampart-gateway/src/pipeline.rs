//! The request pipeline, outer to inner. This is the one place that orders the
//! layers; each sits where it does for the reason written beside it.
//!
//! | # | layer | adds / reads | rejects with |
//! |---|-------|--------------|--------------|
//! | 1 | [`observe`](crate::observe): request id, panic → 500, access log (once) and audit record, both completed at the body's end, after its last bytes are written ([`monitor`](crate::monitor)) | adds `RequestId`, `Tally`; reads `Principal`, `RouteInfo`, `ErrorOutcome`, `Verdicts` from the response | 500, 503 `audit_unavailable` (trail unwritable, `fail_closed`) |
//! | 2 | public allow-list: `/healthz`, `/readyz` (no credentials, no data) | | |
//! | 3 | [`authenticate`](crate::auth): virtual key or JWT (`[[auth.oidc]]`) → `Principal` (key cache under the store's change watch); then the client network and endpoint scopes; every other path, unknown ones included | adds `Arc<Principal>` to the request and its response | 401, 403 (`client_address_not_allowed`, `endpoint_not_allowed`), 503 (store down: fail closed) |
//! | 4 | route: OpenAI path and method → handler; unknown path 404, undefined method 405 | | 404, 405 |
//! | 5 | handler: bounded body read, JSON head parse, model scope (incl. tool models), route to provider | reads `Principal`; adds `RouteInfo` | 408, 413, 415, 400, 403, 404 |
//! | 5a | [`admission`](crate::admission): priority shedding, one atomic reservation against the key's, team's, model's and global limits; settled from the response's `usage` by [`meter`](crate::meter) | reads `Principal`; adds `x-ratelimit-*` | 429 `rate_limit_exceeded` / `insufficient_quota`, 503 (shed, limits backend down), 400 (over the key's `max_tokens` cap), 403 `model_not_priced`, `endpoint_not_metered` |
//! | 5b | [`inspect`](crate::inspect) (request): the key's policy profile over every model-readable string | reads `Principal`; adds `Verdicts`, `x-rampart-verdict` | 400 `content_policy_violation`, 503 (profile not configured) |
//! | 6 | upstream: credential swap, header allow-list, timeouts, relay (SSE event-aligned) | | 502, 504 (`x-should-retry: false` when the provider may have it); mid-stream: error event |
//! | 6a | [`inspect`](crate::inspect) (response): output guard per model-written text, pseudonyms restored, JSON whole or SSE per event | response-side verdicts | 502 (inspected body broken or too large); stopped output ends with `content_filter` |
//!
//! Phases, as in logs and docs: `request` (1–5) → `upstream` (6, until headers) →
//! `response_head` → `response_chunk` (relay) → `log` (1, on the response head).
//!
//! The admin API is not in this pipeline: it has its own router on its own listener
//! (`crate::admin`).

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::routes::{health, inference, models, passthrough};
use crate::state::AppState;

pub(crate) fn build(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(inference::inference))
        .route("/v1/completions", post(inference::inference))
        .route("/v1/embeddings", post(inference::inference))
        .route("/v1/moderations", post(inference::inference))
        .route("/v1/responses", post(inference::inference))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*model}", get(models::retrieve))
        // Pass-through routes accept only the methods OpenAI defines for them: no
        // TRACE/OPTIONS/PUT reaches a provider carrying rampart's credential.
        .route("/v1/files", get(passthrough::passthrough).post(passthrough::passthrough))
        .route("/v1/files/{*rest}", get(passthrough::passthrough).delete(passthrough::passthrough))
        .route("/v1/batches", get(passthrough::passthrough).post(passthrough::passthrough))
        .route("/v1/batches/{*rest}", get(passthrough::passthrough).post(passthrough::passthrough))
        .route("/v1/images/{*rest}", post(passthrough::passthrough))
        .route("/v1/audio/{*rest}", post(passthrough::passthrough))
        .route(
            "/v1/responses/{*rest}",
            get(passthrough::passthrough).post(passthrough::passthrough).delete(passthrough::passthrough),
        )
        .fallback(|request: axum::extract::Request| async move {
            ApiError::unknown_url(request.method(), request.uri().path()).into_response()
        })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        // Authentication wraps every route above and the fallback: an unknown path
        // with no key gets 401, not a map of what exists.
        .layer(from_fn_with_state(state.clone(), crate::auth::authenticate));

    Router::new()
        // Public allow-list: the only routes without authentication.
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api)
        .with_state(state.clone())
        // Outermost: every response, including rejections and panics, gets a request
        // id, exactly one access-log line and (the probes aside) one audit record.
        .layer(from_fn_with_state(state, crate::observe::observe))
}
