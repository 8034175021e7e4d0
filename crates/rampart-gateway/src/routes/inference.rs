//! The JSON inference endpoints: `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/moderations`, `/v1/responses`. The body is read once within
//! the size limit, its `model` checked against the key and routed, and the original
//! bytes forwarded (only `model` is rewritten when the model table renames it).
//! Every request is inspected under the key's policy profile before it leaves
//! ([`crate::inspect`]); the response is inspected on its way back, streams included.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

use axum::response::IntoResponse;

use super::{Outbound, RouteInfo, authorize_model, check_scope, forward};
use crate::auth::Principal;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::inspect::response::ResponseVerdicts;
use crate::inspect::{VERDICT_HEADER, inspect_request};
use crate::json::{parse_head, replace_model};
use crate::observe::RequestId;
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
    let model = model.to_owned();
    let upstream_model = upstream_model.to_owned();
    let has_model = head.model.is_some();
    drop(head);

    // Inspection, before anything leaves: a blocked request never reaches the provider.
    let profile = state.policy(principal.policy())?;
    let request_id = RequestId::text_of(parts);
    let outcome = match inspect_request(state.scanner, profile, suffix, bytes.clone(), request_id).await {
        Ok(outcome) => outcome,
        Err(blocked) => {
            let mut response = blocked.into_response();
            response
                .extensions_mut()
                .insert(RouteInfo { model: Some(model), provider: state.provider_names[provider].clone() });
            return Ok(response);
        }
    };
    let inspected = outcome.body.map_or(bytes, bytes::Bytes::from);
    let body = if has_model && upstream_model != model {
        Body::from(replace_model(&inspected, &upstream_model)?)
    } else {
        Body::from(inspected)
    };
    let mut verdicts = outcome.verdicts;
    let outbound = Outbound { suffix, query: None, body, model: Some(model.clone()), plan: outcome.plan };
    let mut response = match forward(state, provider, parts, outbound).await {
        Ok(response) => response,
        // The request-side verdicts still reach the log when the provider fails.
        Err(error) => {
            let mut response = error.into_response();
            response
                .extensions_mut()
                .insert(RouteInfo { model: Some(model), provider: state.provider_names[provider].clone() });
            response
        }
    };
    if let Some(ResponseVerdicts(found)) = response.extensions_mut().remove::<ResponseVerdicts>() {
        for verdict in found.list {
            verdicts.push(verdict);
        }
    }
    response.headers_mut().insert(VERDICT_HEADER, verdicts.summary.header());
    response.extensions_mut().insert(verdicts);
    Ok(response)
}
