//! CircleCI's own token-settings routes, `GET|PATCH|DELETE /api/v2/org/{org}/oidc-custom-claims`
//! and the project-level variant (`spec/circleci-oidc.md` §1.4), behind the admin token.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use keyless_claims::{OrgId, ProjectId};
use serde::Deserialize;

use super::{ApiError, AppState, JsonBody, PathParams};
use crate::error::PlatformError;
use crate::model::TokenSettings;
use crate::platform::admin::{self as model_admin, ClaimsPatch};

/// The routes (the caller adds the admin check).
pub fn routes() -> Router<AppState> {
    let claims = get(get_claims).patch(patch_claims).delete(delete_claims);
    Router::new()
        .route("/api/v2/org/{org_id}/oidc-custom-claims", claims.clone())
        .route(
            "/api/v2/org/{org_id}/project/{project_id}/oidc-custom-claims",
            claims,
        )
}

/// The org and optional project of an `oidc-custom-claims` route.
#[derive(Debug, Deserialize)]
struct ClaimsPath {
    org_id: String,
    #[serde(default)]
    project_id: Option<String>,
}

/// Checks that the org exists and the project belongs to it.
fn claims_target(
    tx: &crate::store::Tx<'_>,
    path: &ClaimsPath,
) -> Result<(OrgId, Option<ProjectId>), PlatformError> {
    let org = path
        .org_id
        .parse::<OrgId>()
        .ok()
        .and_then(|org| tx.org_by_id(&org).transpose())
        .transpose()?
        .ok_or_else(|| {
            PlatformError::not_found("org_not_found", format!("No org {:?}.", path.org_id))
        })?;
    let Some(project) = &path.project_id else {
        return Ok((org.id, None));
    };
    let project = project
        .parse::<ProjectId>()
        .ok()
        .and_then(|project| tx.project_by_id(&project).transpose())
        .transpose()?
        .filter(|project| project.org_id == org.id)
        .ok_or_else(|| {
            PlatformError::not_found(
                "project_not_found",
                format!("No project {project:?} in org {}.", org.name),
            )
        })?;
    Ok((org.id, Some(project.id)))
}

async fn get_claims(
    State(state): State<AppState>,
    PathParams(path): PathParams<ClaimsPath>,
) -> Result<Json<TokenSettings>, ApiError> {
    let settings = state
        .blocking(move |platform| {
            platform.store.read(|tx| {
                let (org, project) = claims_target(tx, &path)?;
                tx.token_settings(&org, project.as_ref())
            })
        })
        .await?;
    Ok(Json(settings))
}

async fn patch_claims(
    State(state): State<AppState>,
    PathParams(path): PathParams<ClaimsPath>,
    JsonBody(patch): JsonBody<ClaimsPatch>,
) -> Result<Json<TokenSettings>, ApiError> {
    let settings = state
        .blocking(move |platform| {
            let now = platform.now_rfc3339();
            platform.store.write(|tx| {
                let (org, project) = claims_target(tx, &path)?;
                model_admin::patch_token_settings(tx, &org, project.as_ref(), &patch, &now)
            })
        })
        .await?;
    Ok(Json(settings))
}

/// `DELETE …/oidc-custom-claims?claims=audience,ttl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteClaimsQuery {
    claims: String,
}

async fn delete_claims(
    State(state): State<AppState>,
    PathParams(path): PathParams<ClaimsPath>,
    query: Result<Query<DeleteClaimsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TokenSettings>, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_claims",
            "Give ?claims=audience,ttl (one or both).",
        )
    })?;
    let settings = state
        .blocking(move |platform| {
            let (org, project) = platform.store.read(|tx| claims_target(tx, &path))?;
            platform.delete_token_settings(&org, project.as_ref(), &query.claims)
        })
        .await?;
    Ok(Json(settings))
}
