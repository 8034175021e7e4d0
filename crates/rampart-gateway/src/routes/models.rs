//! `GET /v1/models` and `GET /v1/models/{model}`: only what this key may use.
//!
//! The list is the model table plus, when a default provider serves unlisted names,
//! the provider's own list; both filtered by the key's scope. Provider entries are
//! relayed as the provider wrote them.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Outbound, RouteInfo, authorize_model, forward};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest provider model list accepted.
const MAX_MODEL_LIST: usize = 8 << 20;

#[derive(Deserialize)]
struct ModelList<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct ModelId<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<Principal>>,
    request: Request,
) -> Result<Response, ApiError> {
    let mut entries: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for route in &state.config.models {
        if principal.models().allows(&route.name) && !seen.contains(&route.name) {
            entries.push(model_object(&route.name, &state.config.providers[route.provider].name));
            seen.push(route.name.clone());
        }
    }
    if let Some(provider) = state.config.default_provider {
        let name = state.provider_names[provider].clone();
        let client = &state.providers[provider];
        let uri = client.url("/models", None)?;
        let upstream = client
            .send(Method::GET, uri, request.headers(), Body::empty())
            .await
            .map_err(|e| e.into_api_error(&name))?;
        if !upstream.status().is_success() {
            return Err(ApiError::bad_gateway(
                "upstream_models",
                format!("upstream {name}: model list failed with status {}", upstream.status().as_u16()),
            ));
        }
        let body = http_body_util::Limited::new(upstream.into_body(), MAX_MODEL_LIST)
            .collect()
            .await
            .map_err(|_| {
                ApiError::bad_gateway("upstream_models", format!("upstream {name}: model list could not be read"))
            })?
            .to_bytes();
        let list: ModelList<'_> = serde_json::from_slice(&body).map_err(|_| {
            ApiError::bad_gateway("upstream_models", format!("upstream {name}: model list is not valid JSON"))
        })?;
        for entry in list.data {
            let Ok(ModelId { id }) = serde_json::from_str::<ModelId<'_>>(entry.get()) else {
                continue;
            };
            // Only names that would route to this provider: a name in the table goes
            // wherever the table says, and is listed from the table above.
            if principal.models().allows(&id) && !seen.iter().any(|s| s == id.as_ref()) {
                seen.push(id.into_owned());
                entries.push(entry.get().to_owned());
            }
        }
    }
    let body = format!("{{\"object\":\"list\",\"data\":[{}]}}", entries.join(","));
    let mut response = ([(http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(provider) = state.config.default_provider {
        response.extensions_mut().insert(RouteInfo { model: None, provider: state.provider_names[provider].clone() });
    }
    Ok(response)
}

fn model_object(id: &str, owner: &str) -> String {
    serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": owner}).to_string()
}

pub(crate) async fn retrieve(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Arc<Principal>>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let path = parts.uri.path();
    let raw = path.strip_prefix("/v1/models/").unwrap_or_default();
    let model = super::passthrough::checked_suffix(raw)?.to_owned();
    // Out of scope is indistinguishable from absent here, as with OpenAI.
    if !principal.models().allows(&model) {
        return Err(ApiError::model_not_found(&model));
    }
    if let Some(route) = state.config.models.iter().find(|m| m.name == model) {
        let owner = &state.config.providers[route.provider].name;
        return Ok(
            ([(http::header::CONTENT_TYPE, "application/json")], model_object(&route.name, owner)).into_response()
        );
    }
    let (provider, upstream_model) = authorize_model(&state, &principal, &model)?;
    let suffix = format!("/models/{upstream_model}");
    forward(
        &state,
        provider,
        &parts,
        Outbound { suffix: &suffix, query: None, body: Body::empty(), model: Some(model.clone()), plan: None },
    )
    .await
}
