//! Authenticated pass-through for `/v1/files*`, `/v1/batches*`, `/v1/images/*`,
//! `/v1/audio/*` and stored `/v1/responses/{id}*`.
//!
//! Which check applies is decided by the route, never by the body: the JSON endpoints
//! that run a model named in their body ([`MODEL_ROUTED`]: image generation, speech)
//! are checked and routed like inference. Everything else (multipart uploads, file,
//! batch and stored-response management) cannot be tied to one model before it is
//! streamed (a batch file names its own models), so it needs a key allowed every model
//! and goes to the default provider. Uploads stream through with a byte limit and are
//! never buffered whole. The path below `/v1` is validated segment by segment against
//! a strict character set, so it cannot be bent into another provider endpoint.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;

use super::inference::forward_model_routed;
use super::{Outbound, default_provider, forward, require_unrestricted};
use crate::auth::Principal;
use crate::body::{is_json, limited_stream};
use crate::error::ApiError;
use crate::inspect::{Blocked, VERDICT_HEADER, Verdicts, verdict};
use crate::observe::RequestId;
use crate::state::AppState;
use rampart_config::Action;

/// Pass-through endpoints (below `/v1`) whose JSON body names the model they run.
const MODEL_ROUTED: &[&str] = &["/images/generations", "/audio/speech"];

/// Validates a path tail below `/v1/` (still percent-encoded) and returns it. Each
/// segment must be non-empty, not `.` or `..`, and made only of `A-Z a-z 0-9 . _ : @ + -`:
/// no percent-encoding at all, no `;` parameters, no backslashes.
pub(crate) fn checked_suffix(raw: &str) -> Result<&str, ApiError> {
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:@+-".contains(&b))
    };
    if raw.split('/').all(valid_segment) {
        Ok(raw)
    } else {
        Err(ApiError::bad_request("invalid_path", "invalid path segment"))
    }
}

pub(crate) async fn passthrough(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<Principal>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let suffix = format!("/{}", checked_suffix(path.strip_prefix("/v1/").unwrap_or_default())?);

    if MODEL_ROUTED.contains(&suffix.as_str()) {
        if !is_json(&parts.headers) {
            return Err(ApiError::bad_request("not_json", "this endpoint expects an application/json body"));
        }
        return forward_model_routed(&state, &principal, &parts, &suffix, body, None).await;
    }

    require_unrestricted(&principal, path)?;
    let provider = default_provider(&state)?;
    let query = parts.uri.query();
    // Requests and in-flight slots count here too; tokens and cost cannot be.
    let asked = crate::admission::Asked { cap: None, choices: 1, stored_context: false };
    let (ticket, _) =
        state.admission.admit(&principal, None, "", crate::admission::Endpoint::Other, asked, &[]).await?;
    if !matches!(parts.method, Method::POST) {
        // A stored response holds what the model wrote, as the provider kept it
        // (before rampart's response inspection): it is inspected again on the way out.
        let plan = (parts.method == Method::GET && suffix.starts_with("/responses/"))
            .then(|| state.policy(principal.policy()))
            .transpose()?
            .map(|(profile, canary)| crate::inspect::ResponsePlan::stored(profile, &canary));
        // GET and DELETE carry no body: send none rather than an empty chunked one.
        let outbound = Outbound { suffix: &suffix, query, body: Body::empty(), model: None, plan };
        return forward(&state, provider, &parts, outbound).await.map(|response| ticket.attach(response, false));
    }
    // Uploads (files, batch inputs, image edits, audio) carry content rampart does not
    // read: the profile decides whether they may pass (a batch file holds requests of
    // its own, which would otherwise run uninspected).
    let has_body = crate::body::content_length(&parts.headers).is_some_and(|n| n > 0)
        || parts.headers.contains_key(http::header::TRANSFER_ENCODING);
    let mut verdicts = Verdicts::default();
    if has_body {
        let (profile, _) = state.policy(principal.policy())?;
        if profile.opaque_input != Action::Allow {
            let action = profile.effective(profile.opaque_input);
            verdicts.push(verdict("request", "opaque_input", "opaque_input.upload", 1.0, action, "body"));
            if action == Action::Block {
                let message = format!(
                    "rampart cannot inspect uploads to {}: use a policy with opaque_input = \"allow\" for this key (policy `{}`, request id {}).",
                    parts.uri.path().chars().take(100).collect::<String>(),
                    profile.name,
                    RequestId::text_of(&parts),
                );
                let error = ApiError::content_policy("opaque_input", message);
                ticket.release();
                return Ok(Blocked { error, verdicts }.into_response());
            }
        }
    }
    let limit = state.config.server.max_upload_bytes;
    let (body, exceeded) = limited_stream(&parts.headers, body, limit)?;
    let forwarded =
        forward(&state, provider, &parts, Outbound { suffix: &suffix, query, body, model: None, plan: None });
    match forwarded.await {
        Err(_) if exceeded.load(Ordering::Relaxed) => Err(ApiError::payload_too_large(limit)),
        // A monitored upload: its verdict reaches the log with the response.
        Ok(mut response) if !verdicts.list.is_empty() => {
            response.headers_mut().insert(VERDICT_HEADER, verdicts.summary.header());
            response.extensions_mut().insert(verdicts);
            Ok(ticket.attach(response, false))
        }
        Ok(response) => Ok(ticket.attach(response, false)),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::checked_suffix;

    #[test]
    fn refuses_traversal_encoding_and_parameters() {
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
            "models/gpt-4o/..;/..;/files",
            "files/x;y",
            "files/%252e",
            "files/a%00",
            "files/a b",
        ] {
            assert!(checked_suffix(bad).is_err(), "{bad}");
        }
        for good in [
            "files",
            "files/file-abc/content",
            "audio/transcriptions",
            "batches/batch_1/cancel",
            "models/meta-llama/Llama-3.1-8B",
            "models/ft:gpt-4o-mini:org:custom:abc123",
        ] {
            assert_eq!(checked_suffix(good).unwrap(), good);
        }
    }
}
