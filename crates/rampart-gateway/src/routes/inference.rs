//! The JSON inference endpoints: `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/moderations`, `/v1/responses`. The body is read once within
//! the size limit, its `model` checked against the key and routed, and the original
//! bytes forwarded (only `model` is rewritten when the model table renames it).
//! Streaming (`stream: true`) needs nothing special here: the relay passes SSE through
//! as it arrives.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

use super::{authorize_model, check_scope, forward};
use crate::auth::Principal;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::json::{parse_head, replace_model};
use crate::state::AppState;

/// The model moderation requests default to when they name none, as OpenAI does.
const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";

pub(crate) async fn inference(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<Principal>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let suffix = path.strip_prefix("/v1").unwrap_or(path);
    let default_model = (suffix == "/moderations").then_some(DEFAULT_MODERATION_MODEL);
    forward_model_routed(&state, &principal, &parts, suffix, body, default_model).await
}

/// The shared path of every endpoint that runs the model its JSON body names: read
/// the body within the limit, parse its head, hold the model (and any tool's model) to
/// the key's scope, route it, rewrite an aliased model, forward. `default_model`
/// stands in when the body names none (moderations); otherwise a model is required.
pub(crate) async fn forward_model_routed(
    state: &AppState,
    principal: &Principal,
    parts: &http::request::Parts,
    suffix: &str,
    body: Body,
    default_model: Option<&'static str>,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&parts.headers, body, state.config.server.max_body_bytes).await?;
    let head = parse_head(&bytes)?;
    let Some(model) = head.model.as_deref().or(default_model) else {
        return Err(ApiError::bad_request("missing_model", "you must provide a model parameter").with_param("model"));
    };
    let (provider, upstream_model) = authorize_model(state, principal, model)?;
    for tool_model in head.tool_models() {
        check_scope(principal, tool_model)?;
    }
    let body = if head.model.is_some() && upstream_model != model {
        Body::from(replace_model(&bytes, upstream_model)?)
    } else {
        Body::from(bytes.clone())
    };
    let model = model.to_owned();
    forward(state, provider, parts, suffix, None, body, Some(model)).await
}
