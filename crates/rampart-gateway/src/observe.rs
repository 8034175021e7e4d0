//! The outermost layer: request id, panic containment and the access log.
//!
//! Every response, rejections and panics included, carries `x-request-id`. A panic in
//! a handler becomes a 500 in OpenAI's shape instead of a dropped connection. Each
//! request is logged exactly once, here, after the response head is ready: ids, route,
//! status, latency, the error label and inspection verdicts (detector, rule, score,
//! action, location), never bodies, matched text, keys or query strings. The level
//! follows who caused a failure: client errors at info, upstream at warn, internal at
//! error.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::HeaderValue;
use rand::RngCore;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorOutcome, Side};
use crate::routes::RouteInfo;

/// The request id, as a request extension for handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id of the request `parts` belong to, as text (empty outside the pipeline).
    pub(crate) fn text_of(parts: &http::request::Parts) -> &str {
        parts.extensions.get::<Self>().and_then(|id| id.0.to_str().ok()).unwrap_or_default()
    }
}

fn new_request_id() -> HeaderValue {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    let mut text = String::with_capacity(4 + 24);
    text.push_str("req_");
    for b in bytes {
        text.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        text.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

pub(crate) async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = new_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();

    let mut response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => ApiError::internal("panic").into_response(),
    };
    response.headers_mut().insert("x-request-id", id.clone());

    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let status = response.status().as_u16();
    let key_id = response.extensions().get::<Arc<Principal>>().map(|p| p.key_id());
    let route = response.extensions().get::<RouteInfo>();
    let model = route.and_then(|r| r.model.as_deref());
    let provider = route.map(|r| &*r.provider);
    let request_id = id.to_str().unwrap_or_default();
    // Inspection verdicts: detector, rule, score, action and location, never text.
    let inspection = response.extensions().get::<crate::inspect::Verdicts>();
    let verdict = inspection.map(|v| v.summary.as_str());
    let verdicts = inspection.filter(|v| !v.list.is_empty()).map(|v| v.log_field());
    let verdicts = verdicts.as_deref();
    match response.extensions().get::<ErrorOutcome>() {
        None => {
            tracing::info!(request_id, %method, path, status, latency_ms, key_id, model, provider, verdict, verdicts, "request")
        }
        Some(ErrorOutcome { side: Side::Client, label }) => {
            tracing::info!(request_id, %method, path, status, latency_ms, key_id, model, provider, verdict, verdicts, error = label, side = "client", "request rejected")
        }
        Some(ErrorOutcome { side: Side::Upstream, label }) => {
            tracing::warn!(request_id, %method, path, status, latency_ms, key_id, model, provider, error = label, side = "upstream", "request failed upstream")
        }
        Some(ErrorOutcome { side: Side::Internal, label }) => {
            tracing::error!(request_id, %method, path, status, latency_ms, key_id, model, provider, error = label, side = "internal", "request failed")
        }
    }
    response
}
