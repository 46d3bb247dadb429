//! keyless's side endpoints (JSON, outside the AWS wire protocol):
//!
//! - `GET /_keyless/decisions/{request-id}`: the [`DecisionRecord`] of that request.
//! - `GET /_keyless/decisions?limit=N[&allowed=false]`: the newest decisions first.
//! - `GET /_keyless/events?limit=N`: the newest audit events first.
//! - `POST /_keyless/explain` `{"token", "role_arn", "role_session_name"?, "duration_seconds"?}`:
//!   runs every check of `AssumeRoleWithWebIdentity` without issuing or storing anything.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::record::DecisionRecord;
use crate::query::QueryParams;
use crate::server::AppState;

/// Entries listed when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: usize = 20;
/// Most entries one listing returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// `?limit=N&allowed=true|false`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// How many entries (default 20, at most 1000).
    pub limit: Option<usize>,
    /// Only allowed (`true`) or only denied (`false`) decisions.
    pub allowed: Option<bool>,
}

/// The body of `POST /_keyless/explain`.
#[derive(Debug, Deserialize)]
pub struct ExplainRequest {
    /// The web identity token (whitespace around it is trimmed, as for the AWS call).
    pub token: String,
    /// The role to evaluate against.
    pub role_arn: String,
    /// `RoleSessionName`; [`super::assume::EXPLAIN_SESSION_NAME`] by default.
    pub role_session_name: Option<String>,
    /// `DurationSeconds`, if it should be checked too.
    pub duration_seconds: Option<i64>,
}

fn json_error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn documents(documents: Vec<String>) -> Response {
    let values: Vec<Value> = documents
        .iter()
        .filter_map(|document| serde_json::from_str(document).ok())
        .collect();
    Json(values).into_response()
}

fn limit(query: &ListQuery) -> usize {
    query
        .limit
        .unwrap_or(DEFAULT_LIST_LIMIT)
        .clamp(1, MAX_LIST_LIMIT)
}

/// `GET /_keyless/decisions/{request-id}`.
pub async fn decision(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
) -> Response {
    match state.store.decision(&request_id).await {
        Ok(Some(document)) => match serde_json::from_str::<Value>(&document) {
            Ok(value) => Json(value).into_response(),
            Err(error) => json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt",
                error.to_string(),
            ),
        },
        Ok(None) => json_error(
            StatusCode::NOT_FOUND,
            "no_such_decision",
            format!("no decision is recorded for request id {request_id}"),
        ),
        Err(error) => store_error(&error),
    }
}

fn store_error(error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "store failure on a /_keyless endpoint");
    json_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store_failure",
        "the store failed; see the server log".to_owned(),
    )
}

/// `GET /_keyless/decisions`.
pub async fn decisions(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ListQuery>,
) -> Response {
    match state
        .store
        .latest_decisions(limit(&query), query.allowed)
        .await
    {
        Ok(list) => documents(list),
        Err(error) => store_error(&error),
    }
}

/// `GET /_keyless/events`.
pub async fn events(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ListQuery>,
) -> Response {
    match state.store.latest_events(limit(&query)).await {
        Ok(list) => documents(list),
        Err(error) => store_error(&error),
    }
}

/// `POST /_keyless/explain`.
pub async fn explain(
    State(state): State<Arc<AppState>>,
    Json(request): Json<ExplainRequest>,
) -> Response {
    let mut pairs = vec![
        ("RoleArn".to_owned(), request.role_arn),
        (
            "RoleSessionName".to_owned(),
            request
                .role_session_name
                .unwrap_or_else(|| super::assume::EXPLAIN_SESSION_NAME.to_owned()),
        ),
        ("WebIdentityToken".to_owned(), request.token),
    ];
    if let Some(duration) = request.duration_seconds {
        pairs.push(("DurationSeconds".to_owned(), duration.to_string()));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let params = QueryParams::parse(encoded.as_bytes());
    let request_id = uuid::Uuid::new_v4().to_string();
    let now = state.config.clock.now();
    let evaluation = super::assume::evaluate_request(&state, &params, &request_id, now, true).await;
    let record: DecisionRecord = evaluation.record;
    Json(record).into_response()
}
