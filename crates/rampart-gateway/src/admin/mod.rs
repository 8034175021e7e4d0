//! The admin API, served only on its own listener (`[admin] listen`).

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;

use crate::error::ApiError;
use crate::state::AppState;

/// The admin router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(|request: axum::extract::Request| async move {
            ApiError::unknown_url(request.method(), request.uri().path()).into_response()
        })
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::observe::observe))
}
