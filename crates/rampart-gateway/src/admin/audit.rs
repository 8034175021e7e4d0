//! `GET /admin/v1/audit`: the audit trail, filtered and paged (roles `admin` and
//! `auditor`, see [`super::ROUTES`]).
//!
//! Filters: `principal` (key id, JWT subject, admin user or token id), `kind`
//! (`request`, `admin`, `anomaly`), `since` and `until` (unix milliseconds), `after`
//! (the cursor the previous page
//! returned as `next_after`) and `limit` (1 to 1000, default 100). Records are in chain
//! order, each with its `seq` and hashes, so a SIEM can check continuity.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use rampart_audit::{QueryFilter, RecordKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest page.
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    principal: Option<String>,
    kind: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    after: Option<u64>,
    limit: Option<u32>,
}

pub(crate) async fn query(
    State(state): State<Arc<AppState>>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request("invalid_query", format!("invalid audit query: {}", rejection.body_text()))
    })?;
    let Some(store) = state.monitor.store() else {
        return Err(ApiError::unavailable(
            "audit_disabled",
            "auditing is disabled on this gateway (`[audit] enabled`)",
        ));
    };
    let kind = match query.kind.as_deref() {
        None => None,
        Some("request") => Some(RecordKind::Request),
        Some("admin") => Some(RecordKind::Admin),
        Some("anomaly") => Some(RecordKind::Anomaly),
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid_query", "`kind` must be request, admin or anomaly").with_param("kind")
            );
        }
    };
    if query.principal.as_ref().is_some_and(|p| p.is_empty() || p.len() > 256) {
        return Err(
            ApiError::bad_request("invalid_query", "`principal` must be 1 to 256 characters").with_param("principal")
        );
    }
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(
            ApiError::bad_request("invalid_query", format!("`limit` must be 1 to {MAX_LIMIT}")).with_param("limit")
        );
    }
    let filter = QueryFilter { from: query.since, to: query.until, principal: query.principal, kind };
    let page = store.query(&filter, query.after, limit).await.map_err(|error| {
        tracing::error!(%error, "audit query failed");
        ApiError::unavailable("audit_store_unavailable", "the audit store is temporarily unavailable")
    })?;
    let records = serde_json::to_value(&page.records).map_err(|_| ApiError::internal("json_encode"))?;
    Ok(Json(json!({ "object": "list", "data": records, "next_after": page.next_after_seq })))
}
