//! Virtual keys through the admin API: list, show, create (least privilege: the model
//! list is required, endpoints default to `/v1/*`), rotate with a grace period and
//! revoke. A key's secret appears only in the create and rotate responses.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use rampart_store::limits::parse_usd;
use rampart_store::{
    ClientNetworks, EndpointScope, KeyLimits, KeyRecord, KeySpec, Metadata, ModelScope, Priority, unix_now,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{JsonBody, PathParam, conflict, duration_field, instant_after, not_found, store_error};
use crate::error::ApiError;
use crate::state::AppState;

/// A key as listed: its scopes and lifecycle, never its secret or hash.
pub(crate) fn view(key: &KeyRecord, now: i64) -> Value {
    json!({
        "id": key.id,
        "object": "key",
        "name": key.name,
        "prefix": key.prefix,
        "status": key.status(now).as_str(),
        "models": key.models.patterns(),
        "endpoints": key.endpoints.patterns(),
        "cidrs": key.cidrs.to_strings(),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "suspended_at": key.suspended_at,
        "suspended_reason": key.suspended_reason,
        "policy": key.policy,
        "owner": key.owner,
        "team": key.team,
        "role": key.role,
        "metadata": key.metadata,
        "rotated_from": key.rotated_from,
        "superseded_by": key.superseded_by,
        "grace_until": key.grace_until,
        "limits": key.limits.view(),
    })
}

/// The `limits` member of a key body. Budgets are dollars, as a JSON number or a
/// decimal string (`5`, `"0.25"`), converted exactly to micro-dollars.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsBody {
    #[serde(default)]
    rpm: Option<u64>,
    #[serde(default)]
    tpm: Option<u64>,
    #[serde(default)]
    max_concurrency: Option<u32>,
    #[serde(default)]
    daily_budget_usd: Option<Value>,
    #[serde(default)]
    monthly_budget_usd: Option<Value>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    priority: Option<String>,
}

impl LimitsBody {
    fn compile(self) -> Result<KeyLimits, ApiError> {
        let dollars = |param: &'static str, value: Option<Value>| -> Result<Option<u64>, ApiError> {
            let text = match value {
                None | Some(Value::Null) => return Ok(None),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s,
                Some(_) => String::new(),
            };
            parse_usd(&text).map(Some).map_err(|_| {
                ApiError::bad_request(
                    "invalid_limits",
                    format!("`limits.{param}` must be a positive amount in dollars"),
                )
                .with_param(param)
            })
        };
        let priority = match self.priority.as_deref() {
            None => None,
            Some(text) => Some(Priority::parse(text).ok_or_else(|| {
                ApiError::bad_request("invalid_limits", "`limits.priority` must be critical, standard or batch")
                    .with_param("priority")
            })?),
        };
        Ok(KeyLimits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_concurrency: self.max_concurrency,
            daily_budget_micros: dollars("daily_budget_usd", self.daily_budget_usd)?,
            monthly_budget_micros: dollars("monthly_budget_usd", self.monthly_budget_usd)?,
            max_tokens: self.max_tokens,
            priority,
        })
    }
}

/// `GET /admin/v1/keys`.
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let now = unix_now();
    let keys = state.store.list_keys().await.map_err(store_error)?;
    Ok(Json(json!({"object": "list", "data": keys.iter().map(|key| view(key, now)).collect::<Vec<_>>()})))
}

/// `GET /admin/v1/keys/{id}`.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let key = state.store.get_key(&id).await.map_err(store_error)?.ok_or_else(|| not_found("key"))?;
    Ok(Json(view(&key, unix_now())))
}

/// The body of `POST /admin/v1/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKeyBody {
    name: String,
    /// Required: no implicit "every model".
    models: Vec<String>,
    #[serde(default)]
    endpoints: Option<Vec<String>>,
    #[serde(default)]
    cidrs: Option<Vec<String>>,
    /// A duration from now, e.g. `90d`.
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    limits: Option<LimitsBody>,
}

/// A policy name must be a configured profile.
pub(crate) fn check_policy(state: &AppState, policy: Option<&str>) -> Result<(), ApiError> {
    match policy {
        Some(name) if !state.policies.contains_key(name) => Err(ApiError::bad_request(
            "unknown_policy",
            "`policy` must name a policy profile configured on this gateway",
        )
        .with_param("policy")),
        _ => Ok(()),
    }
}

/// `POST /admin/v1/keys`: creates a key and returns it once, with its record.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<NewKeyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = unix_now();
    check_policy(&state, body.policy.as_deref())?;
    let cidrs = match &body.cidrs {
        Some(cidrs) => ClientNetworks::parse(cidrs)
            .map_err(|_| ApiError::bad_request("invalid_cidrs", "`cidrs` must be IP networks").with_param("cidrs"))?,
        None => ClientNetworks::any(),
    };
    let expires_at = match &body.expires {
        Some(text) => Some(instant_after("expires", now, duration_field("expires", text)?)?),
        None => None,
    };
    let limits = body.limits.unwrap_or_default().compile()?;
    let spec = KeySpec {
        name: body.name,
        models: ModelScope::new(body.models),
        endpoints: EndpointScope::new(body.endpoints.unwrap_or_else(|| vec!["/v1/*".to_owned()])),
        cidrs,
        expires_at,
        policy: body.policy,
        owner: body.owner,
        team: body.team,
        role: body.role,
        metadata: body.metadata,
        limits,
    };
    let (record, key) = state.store.create_scoped_key(&state.hasher, &spec).await.map_err(store_error)?;
    tracing::info!(key_id = record.id, "admin: key created");
    let mut shown = view(&record, now);
    shown["key"] = Value::String(key.key);
    Ok((StatusCode::CREATED, Json(shown)))
}

/// The body of `POST /admin/v1/keys/{id}/rotate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    /// How long the old key keeps working, e.g. `24h` (`0s`: not at all).
    grace: String,
}

/// `POST /admin/v1/keys/{id}/rotate`: the successor, with its secret, once.
pub(crate) async fn rotate(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<RotateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let grace = duration_field("grace", &body.grace)?;
    let now = unix_now();
    // bounded so that `now + grace` stays representable
    instant_after("grace", now, grace)?;
    let rotated = state.store.rotate_key(&state.hasher, &id, grace, now).await.map_err(store_error)?;
    let (record, key) = rotated.ok_or_else(|| not_found("key"))?;
    tracing::info!(key_id = record.id, rotated_from = id, "admin: key rotated");
    let mut shown = view(&record, now);
    shown["key"] = Value::String(key.key);
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `POST /admin/v1/keys/{id}/revoke`.
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let done = state.store.revoke_key(&id).await.map_err(store_error)?;
    changed(&state, &id, done, "revoked").await
}

/// The body of `POST /admin/v1/keys/{id}/suspend`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuspendBody {
    /// Why, for the key's listing and the audit trail (at most 200 characters kept).
    reason: String,
}

/// `POST /admin/v1/keys/{id}/suspend`: refused from the next request on, until resumed.
pub(crate) async fn suspend(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<SuspendBody>,
) -> Result<Json<Value>, ApiError> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request("invalid_body", "reason must not be empty"));
    }
    let reason = format!("admin: {}", body.reason.trim());
    let done = state.store.suspend_key(&id, &reason).await.map_err(store_error)?;
    changed(&state, &id, done, "suspended").await
}

/// `POST /admin/v1/keys/{id}/resume`: lifts a suspension (a revoked key stays revoked).
pub(crate) async fn resume(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let done = state.store.resume_key(&id).await.map_err(store_error)?;
    changed(&state, &id, done, "resumed").await
}

/// The answer to a lifecycle change of key `id`: the key as it now is, or (`done` false)
/// 404 for no such key and 409 for a revoked one (which nothing but revocation changes).
async fn changed(state: &AppState, id: &str, done: bool, what: &'static str) -> Result<Json<Value>, ApiError> {
    let key = state.store.get_key(id).await.map_err(store_error)?.ok_or_else(|| not_found("key"))?;
    if !done {
        return Err(conflict("the key is revoked".into()));
    }
    tracing::info!(key_id = id, change = what, "admin: key changed");
    Ok(Json(view(&key, unix_now())))
}
