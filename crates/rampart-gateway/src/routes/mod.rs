//! The OpenAI API surface: which paths exist and what each does with a request once
//! it is authenticated. Routing a model to a provider and relaying the answer is
//! shared by all of them ([`forward`]).

pub(crate) mod health;
pub(crate) mod inference;
pub(crate) mod models;
pub(crate) mod passthrough;

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// What the access log records about the route a request took.
#[derive(Debug, Clone)]
pub(crate) struct RouteInfo {
    pub(crate) model: Option<String>,
    pub(crate) provider: Arc<str>,
}

/// Checks the key's model scope and picks the provider: 403 for a model outside the
/// scope (named, so the caller knows what was refused), 404 for a model no provider
/// serves.
pub(crate) fn authorize_model<'a>(
    state: &'a AppState,
    principal: &Principal,
    model: &'a str,
) -> Result<(usize, &'a str), ApiError> {
    check_scope(principal, model)?;
    state.config.route(model).ok_or_else(|| ApiError::model_not_found(model))
}

/// 403 unless the key's scope covers `model`.
pub(crate) fn check_scope(principal: &Principal, model: &str) -> Result<(), ApiError> {
    if principal.models().allows(model) {
        return Ok(());
    }
    let shown: String = model.chars().take(200).collect();
    Err(ApiError::forbidden("model_not_allowed", format!("This API key is not allowed to use the model `{shown}`."))
        .with_param("model"))
}

/// Refuses requests whose model cannot be checked (multipart uploads, files, batches)
/// unless the key may use every model: otherwise a restricted key could reach any
/// model through them.
pub(crate) fn require_unrestricted(principal: &Principal, path: &str) -> Result<(), ApiError> {
    if principal.models().is_unrestricted() {
        return Ok(());
    }
    let path: String = path.chars().take(100).collect();
    Err(ApiError::forbidden(
        "endpoint_not_allowed",
        format!("{path} can reach any model, and this API key is restricted to specific models."),
    ))
}

/// The provider for requests that name no model.
pub(crate) fn default_provider(state: &AppState) -> Result<usize, ApiError> {
    state.config.default_provider.ok_or_else(|| {
        ApiError::bad_request(
            "no_default_provider",
            "this endpoint needs a default provider, and none is configured (routing.default_provider)",
        )
    })
}

/// Where a request goes and what comes with it, besides the client's method and
/// headers.
pub(crate) struct Outbound<'a> {
    /// The path below `/v1`.
    pub(crate) suffix: &'a str,
    /// Only pass-through routes forward a query: OpenAI defines none on inference
    /// routes, and unknown parameters would let clients steer the provider around
    /// rampart's checks.
    pub(crate) query: Option<&'a str>,
    pub(crate) body: Body,
    /// The model, for the access log.
    pub(crate) model: Option<String>,
    /// Response inspection, when the response carries model text.
    pub(crate) plan: Option<Arc<crate::inspect::ResponsePlan>>,
}

/// Sends the request described by `parts` (method, headers) and `outbound` to
/// provider `provider`, and relays the response (inspected under `outbound.plan`).
pub(crate) async fn forward(
    state: &AppState,
    provider: usize,
    parts: &http::request::Parts,
    outbound: Outbound<'_>,
) -> Result<Response, ApiError> {
    let Outbound { suffix, query, body, model, plan } = outbound;
    let client = &state.providers[provider];
    let name = state.provider_names[provider].clone();
    let uri = client.url(suffix, query)?;
    let tally = parts.extensions.get::<Arc<crate::monitor::Tally>>().cloned();
    let sent = std::time::Instant::now();
    let upstream = client.send(parts.method.clone(), uri, &parts.headers, body).await;
    if let Some(tally) = &tally {
        tally.with(|t| t.upstream = Some(sent.elapsed()));
    }
    let upstream = upstream.map_err(|e| e.into_api_error(&name))?;
    let request_id = parts.extensions.get::<crate::observe::RequestId>().map(|id| id.0.clone());
    let relay = crate::upstream::Relay {
        idle_timeout: client.settings.idle_timeout,
        provider: name.clone(),
        request_id,
        tally,
    };
    let mut response = match plan {
        None => relay.relay(upstream),
        Some(plan) => crate::inspect::response::inspect(relay, upstream, plan, state.scanner).await?,
    };
    response.extensions_mut().insert(RouteInfo { model, provider: name });
    Ok(response)
}
