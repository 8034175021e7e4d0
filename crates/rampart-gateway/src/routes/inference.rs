//! The JSON inference endpoints: `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/moderations`, `/v1/responses`. The body is read once within
//! the size limit, its `model` checked against the key and routed, its limits
//! reserved ([`crate::admission`]), and the original bytes forwarded (only the
//! members rampart sets are spliced in: see [`crate::json`]). Every request is
//! inspected under the key's policy profile before it leaves ([`crate::inspect`]);
//! the response is inspected on its way back, streams included, and its usage settles
//! the reservation ([`crate::meter`]).

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

use axum::response::IntoResponse;

use super::{Outbound, RouteInfo, authorize_model, check_scope, forward};
use crate::admission::{Asked, Endpoint};
use crate::auth::Principal;
use crate::body::read_limited;
use crate::error::ApiError;
use crate::inspect::response::ResponseVerdicts;
use crate::inspect::{VERDICT_HEADER, inspect_request};
use crate::json::{parse_head, set_members};
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
    let streams = head.stream == Some(true);
    let client_wants_usage = head.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true);
    let asked = Asked { cap: head.completion_cap(), choices: head.choices(), stored_context: head.stored_context() };
    drop(head);

    // The profile first: a request refused for want of one must not be charged.
    let profile = state.policy(principal.policy())?;
    let tally = parts.extensions.get::<std::sync::Arc<crate::monitor::Tally>>().cloned();
    if let Some(tally) = tally.as_ref().filter(|_| profile.0.audit_bodies) {
        // The body as the client sent it: what the policy asks to keep (sealed).
        tally.with(|t| {
            t.keep_bodies = true;
            t.request_body = Some(bytes.clone());
        });
    }
    // Limits, before inspection: a flood is refused before it costs detection work.
    let endpoint = Endpoint::of(suffix).unwrap_or(Endpoint::Other);
    let (ticket, edits) =
        state.admission.admit(principal, Some(&model), &upstream_model, endpoint, asked, &bytes).await?;

    // Inspection, before anything leaves: a blocked request never reaches the provider.
    let request_id = RequestId::text_of(parts);
    let outcome = match inspect_request(state.scanner, profile, suffix, bytes.clone(), request_id).await {
        Ok(outcome) => outcome,
        Err(blocked) => {
            let mut response = blocked.into_response();
            ticket.write_headers(response.headers_mut());
            ticket.release();
            response
                .extensions_mut()
                .insert(RouteInfo { model: Some(model), provider: state.provider_names[provider].clone() });
            return Ok(response);
        }
    };
    let inspected = outcome.body.map_or(bytes, bytes::Bytes::from);

    // The members rampart sets: the upstream model name, the key's completion cap,
    // and a usage report on streams it meters.
    // An audited request asks for usage too: its record carries the tokens.
    let metering_stream = streams && endpoint.usage_on_request() && (ticket.wants_usage() || tally.is_some());
    let rename = (has_model && upstream_model != model).then_some(upstream_model.as_str());
    let ask_usage = metering_stream && !client_wants_usage;
    let body = match outbound_body(inspected, rename, edits.cap, ask_usage) {
        Ok(body) => body,
        Err(error) => {
            // Never sent: only the request counts.
            ticket.release();
            return Err(error);
        }
    };
    let mut verdicts = outcome.verdicts;
    let outbound = Outbound { suffix, query: None, body, model: Some(model.clone()), plan: outcome.plan };
    let response = match forward(state, provider, parts, outbound).await {
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
    let mut response = ticket.attach_tallied(response, metering_stream && !client_wants_usage, tally);
    if let Some(ResponseVerdicts(found)) = response.extensions_mut().remove::<ResponseVerdicts>() {
        for verdict in found.list {
            verdicts.push(verdict);
        }
    }
    response.headers_mut().insert(VERDICT_HEADER, verdicts.summary.header());
    response.extensions_mut().insert(verdicts);
    Ok(response)
}

/// The body as it leaves: the members rampart sets spliced in (the upstream model name,
/// a completion cap, `stream_options.include_usage`), everything else as written.
fn outbound_body(
    inspected: bytes::Bytes,
    rename: Option<&str>,
    cap: Option<(&'static str, u64)>,
    ask_usage: bool,
) -> Result<Body, ApiError> {
    let model_json;
    let cap_json;
    let options_json;
    let mut set: Vec<(&str, &str)> = Vec::new();
    if let Some(upstream_model) = rename {
        model_json = serde_json::to_string(upstream_model).map_err(|_| ApiError::internal("json_encode"))?;
        set.push(("model", &model_json));
    }
    if let Some((member, cap)) = cap {
        cap_json = cap.to_string();
        set.push((member, &cap_json));
    }
    if ask_usage {
        options_json = stream_options_with_usage(&inspected)?;
        set.push(("stream_options", &options_json));
    }
    if set.is_empty() { Ok(Body::from(inspected)) } else { Ok(Body::from(set_members(&inspected, &set)?)) }
}

/// The request's `stream_options` with `include_usage: true`, other options kept.
fn stream_options_with_usage(body: &[u8]) -> Result<String, ApiError> {
    #[derive(serde::Deserialize)]
    struct Options {
        #[serde(default)]
        stream_options: Option<serde_json::Map<String, serde_json::Value>>,
    }
    let options: Options = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request("invalid_json", "`stream_options` must be an object").with_param("stream_options")
    })?;
    let mut options = options.stream_options.unwrap_or_default();
    options.insert("include_usage".to_owned(), serde_json::Value::Bool(true));
    serde_json::to_string(&options).map_err(|_| ApiError::internal("json_encode"))
}
