//! Public endpoints: `/healthz`, and for the root issuer and each org's issuer the OpenID
//! discovery document and the JWKS (`spec/circleci-oidc.md` §1.2). One key set signs for every
//! issuer, so every JWKS serves the same keys. Responses carry `Cache-Control` so verifiers
//! cache them ([`JWKS_MAX_AGE`]).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyless_claims::OrgId;
use keyless_claims::discovery::{DISCOVERY_PATH, JWKS_PATH};
use serde::Serialize;

use super::{ApiError, AppState, PathParams};
use crate::config::JWKS_MAX_AGE;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route(DISCOVERY_PATH, get(root_discovery))
        .route(JWKS_PATH, get(jwks))
        .route(
            &format!("/org/{{org_id}}{DISCOVERY_PATH}"),
            get(org_discovery),
        )
        .route(&format!("/org/{{org_id}}{JWKS_PATH}"), get(org_jwks))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// JSON with `Cache-Control: public, max-age=…`.
fn cacheable<T: Serialize>(value: T) -> Response {
    let mut response = Json(value).into_response();
    let cache_control = format!("public, max-age={}", JWKS_MAX_AGE.as_secs());
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

fn unknown_org(org: &str) -> ApiError {
    ApiError::not_found(
        "org_not_found",
        format!("No org {org:?} has an issuer here."),
    )
}

/// The org named in the path, if it has an issuer here. An org already known is answered from
/// memory; only the first ask (or an unknown org) reads the database, on a blocking thread.
async fn known_org(state: &AppState, org: &str) -> Result<OrgId, ApiError> {
    let org_id: OrgId = org.parse().map_err(|_| unknown_org(org))?;
    if state.platform.org_known(&org_id) {
        return Ok(org_id);
    }
    if state
        .blocking(move |platform| platform.org_exists(&org_id))
        .await?
    {
        Ok(org_id)
    } else {
        Err(unknown_org(org))
    }
}

async fn root_discovery(State(state): State<AppState>) -> Response {
    cacheable(state.platform.root_discovery())
}

async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(state.platform.jwks())
}

async fn org_discovery(
    State(state): State<AppState>,
    PathParams(org): PathParams<String>,
) -> Result<Response, ApiError> {
    let org_id = known_org(&state, &org).await?;
    Ok(cacheable(state.platform.org_discovery(&org_id)))
}

async fn org_jwks(
    State(state): State<AppState>,
    PathParams(org): PathParams<String>,
) -> Result<Response, ApiError> {
    known_org(&state, &org).await?;
    Ok(cacheable(state.platform.jwks()))
}
