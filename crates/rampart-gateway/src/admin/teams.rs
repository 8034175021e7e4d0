//! Teams through the admin API: list, show (by id or name), create and delete (the
//! store refuses deleting a team that unrevoked keys still belong to: 409).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use rampart_store::{Metadata, Team};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{JsonBody, PathParam, not_found, store_error};
use super::keys::check_policy;
use crate::error::ApiError;
use crate::state::AppState;

/// A team as shown.
fn view(team: &Team) -> Value {
    json!({
        "id": team.id,
        "object": "team",
        "name": team.name,
        "policy": team.policy,
        "metadata": team.metadata,
        "created_at": team.created_at,
    })
}

/// `GET /admin/v1/teams`.
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let teams = state.store.list_teams().await.map_err(store_error)?;
    Ok(Json(json!({"object": "list", "data": teams.iter().map(view).collect::<Vec<_>>()})))
}

/// `GET /admin/v1/teams/{id}` (id or name).
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let team = state.store.get_team(&id).await.map_err(store_error)?.ok_or_else(|| not_found("team"))?;
    Ok(Json(view(&team)))
}

/// The body of `POST /admin/v1/teams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTeamBody {
    name: String,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// `POST /admin/v1/teams`.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<NewTeamBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_policy(&state, body.policy.as_deref())?;
    let team = state
        .store
        .create_team(&body.name, body.policy.as_deref(), body.metadata.as_ref())
        .await
        .map_err(store_error)?;
    tracing::info!(team_id = team.id, "admin: team created");
    Ok((StatusCode::CREATED, Json(view(&team))))
}

/// `DELETE /admin/v1/teams/{id}` (id or name).
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    PathParam(id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let team = state.store.get_team(&id).await.map_err(store_error)?.ok_or_else(|| not_found("team"))?;
    if !state.store.delete_team(&team.id).await.map_err(store_error)? {
        return Err(not_found("team"));
    }
    tracing::info!(team_id = team.id, "admin: team deleted");
    Ok(Json(json!({"id": team.id, "object": "team", "deleted": true})))
}
