//! keyless's side endpoints (JSON, outside the AWS wire protocol):
//!
//! - `GET /_keyless/decisions/{request-id}`: the [`DecisionRecord`] of that request.
//! - `GET /_keyless/decisions?limit=N[&allowed=false]`: the newest decisions first.
//! - `GET /_keyless/events?limit=N`: the newest audit events first.
//! - `POST /_keyless/explain` `{"token", "role_arn", "role_session_name"?, "duration_seconds"?}`:
//!   runs every check of `AssumeRoleWithWebIdentity` without issuing or storing anything.
//!
//! Every refusal is JSON `{"error": {"code", "message"}}`: a malformed `limit`/`allowed` or path
//! (400), an explain body that is not JSON (415), not JSON syntax (400), not the expected shape
//! (422) or over the body limit (413).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::record::DecisionRecord;
use crate::query::QueryParams;
use crate::refusals::keyless_error;
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
    keyless_error(status, code, message)
}

/// A malformed `?limit=…&allowed=…`: axum's status and text under our code.
fn bad_query(rejection: &QueryRejection) -> Response {
    json_error(rejection.status(), "invalid_query", rejection.body_text())
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
    request_id: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(request_id) = match request_id {
        Ok(path) => path,
        Err(rejection) => {
            return json_error(rejection.status(), "invalid_path", rejection.body_text());
        }
    };
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
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return bad_query(&rejection),
    };
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
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => return bad_query(&rejection),
    };
    match state.store.latest_events(limit(&query)).await {
        Ok(list) => documents(list),
        Err(error) => store_error(&error),
    }
}

/// `POST /_keyless/explain`.
pub async fn explain(
    State(state): State<Arc<AppState>>,
    request: Result<Json<ExplainRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => {
            return json_error(rejection.status(), "invalid_body", rejection.body_text());
        }
    };
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
    let request_id = crate::identifiers::new_request_id();
    let now = state.config.clock.now();
    let evaluation = super::assume::evaluate_request(&state, &params, &request_id, now, true).await;
    let record: DecisionRecord = evaluation.record;
    Json(record).into_response()
}
