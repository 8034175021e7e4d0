//! Authenticated pass-through for `/v1/files*`, `/v1/batches*`, `/v1/images/*`,
//! `/v1/audio/*` and stored `/v1/responses/{id}*`.
//!
//! JSON bodies that name a `model` (image generation, speech) are checked and routed
//! like inference. Everything else (multipart uploads, file and batch management)
//! cannot be tied to one model before it is streamed, so it needs a key allowed every
//! model and goes to the default provider. Uploads stream through with a byte limit and
//! are never buffered whole. The path below `/v1` is validated segment by segment: no
//! `.`/`..`, no encoded slashes or dots, so a pass-through path cannot be bent into
//! another provider endpoint.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;

use super::{authorize_model, default_provider, forward, require_unrestricted};
use crate::auth::Principal;
use crate::body::{limited_stream, read_limited};
use crate::error::ApiError;
use crate::json::{parse_head, replace_model};
use crate::state::AppState;

/// Validates a raw path tail (still percent-encoded) and returns it unchanged.
pub(crate) fn checked_suffix(raw: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("invalid_path", "invalid path segment");
    if raw.is_empty() || raw.contains('\\') {
        return Err(bad());
    }
    for segment in raw.split('/') {
        let lower = segment.to_ascii_lowercase();
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || lower.contains("%2e")
            || lower.contains("%2f")
            || lower.contains("%5c")
        {
            return Err(bad());
        }
    }
    Ok(raw.to_owned())
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

pub(crate) async fn passthrough(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<Principal>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let tail = path.strip_prefix("/v1/").unwrap_or_default();
    let suffix = format!("/{}", checked_suffix(tail)?);
    let has_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);

    if has_body && is_json(&parts.headers) {
        let bytes = read_limited(&parts.headers, body, state.config.server.max_body_bytes).await?;
        let head = parse_head(&bytes)?;
        if let Some(model) = head.model.as_deref() {
            let (provider, upstream_model) = authorize_model(&state, &principal, model)?;
            let body = if upstream_model != model {
                Body::from(replace_model(&bytes, upstream_model)?)
            } else {
                Body::from(bytes.clone())
            };
            let model = model.to_owned();
            return forward(&state, provider, &parts, &suffix, body, Some(model)).await;
        }
        require_unrestricted(&principal, path)?;
        let provider = default_provider(&state)?;
        return forward(&state, provider, &parts, &suffix, Body::from(bytes), None).await;
    }

    require_unrestricted(&principal, path)?;
    let provider = default_provider(&state)?;
    let limit = state.config.server.max_upload_bytes;
    let (body, exceeded) = limited_stream(&parts.headers, body, limit)?;
    match forward(&state, provider, &parts, &suffix, body, None).await {
        Err(_) if exceeded.load(Ordering::Relaxed) => Err(ApiError::payload_too_large(limit)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::checked_suffix;

    #[test]
    fn refuses_traversal_and_encoded_separators() {
        for bad in [
            "",
            "files/../chat/completions",
            "files/./x",
            "files/%2e%2e/chat",
            "files/a%2Fb",
            "files//x",
            "files/a\\b",
            "..",
            "files/%2E",
        ] {
            assert!(checked_suffix(bad).is_err(), "{bad}");
        }
        for good in [
            "files",
            "files/file-abc/content",
            "audio/transcriptions",
            "batches/batch_1/cancel",
            "models/meta-llama/Llama-3",
        ] {
            assert_eq!(checked_suffix(good).unwrap(), good);
        }
    }
}
