//! The admin API (`docs/issuer.md`, "Admin API"), behind the admin bearer token compared in
//! constant time: the platform model, org settings, keys, jobs, the audit, the negative-token
//! factory, and CircleCI's own `oidc-custom-claims` routes (`spec/circleci-oidc.md` §1.4).

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use keyless_claims::JobId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, AppState, JsonBody, PathParams, bearer_token};
use crate::error::PlatformError;
use crate::model::{Context, Org, Project, TokenSettings, User};
use crate::platform::admin::{
    self as model_admin, ContextSpec, Existing, OrgSettingsPatch, OrgSpec, ProjectSpec,
    RunnerTokenSpec, UserSpec, check_variable_name, resolve_context, resolve_org,
};
use crate::platform::negative::NegativeRequest;

/// Most rows a list returns.
const MAX_LIST_LIMIT: u32 = 1000;

/// The routes, all behind [`require_admin`].
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/orgs", get(list_orgs).post(create_org))
        .route("/api/v1/admin/orgs/{org}", get(get_org))
        .route(
            "/api/v1/admin/orgs/{org}/settings",
            axum::routing::patch(patch_settings),
        )
        .route(
            "/api/v1/admin/orgs/{org}/projects",
            get(list_projects).post(create_project),
        )
        .route(
            "/api/v1/admin/orgs/{org}/users",
            get(list_users).post(create_user),
        )
        .route(
            "/api/v1/admin/orgs/{org}/contexts",
            get(list_contexts).post(create_context),
        )
        .route(
            "/api/v1/admin/orgs/{org}/contexts/{context}/variables/{name}",
            put(put_variable).delete(delete_variable),
        )
        .route(
            "/api/v1/admin/orgs/{org}/runner-tokens",
            get(list_runner_tokens).post(create_runner_token),
        )
        .route("/api/v1/admin/keys", get(list_keys))
        .route("/api/v1/admin/keys/rotate", post(rotate_keys))
        .route("/api/v1/admin/jobs", get(list_jobs))
        .route("/api/v1/admin/jobs/{job_id}", get(get_job))
        .route(
            "/api/v1/admin/jobs/{job_id}/negative-tokens",
            post(negative_token),
        )
        .route("/api/v1/admin/audit", get(list_audit))
        .merge(super::custom_claims::routes())
        .route_layer(from_fn_with_state(state, require_admin))
}

/// Lets a request through only with the admin token, as `Authorization: Bearer` or as
/// CircleCI's `Circle-Token` header.
async fn require_admin(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let Some(admin_token) = &state.admin_token else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_api_disabled",
            "The admin API is disabled; start the issuer with --admin-token.",
        )
        .into_response();
    };
    let presented = match headers
        .get("circle-token")
        .and_then(|value| value.to_str().ok())
    {
        Some(token) if headers.get(axum::http::header::AUTHORIZATION).is_none() => Ok(token),
        _ => bearer_token(&headers),
    };
    match presented {
        Err(error) => error.into_response(),
        Ok(token) if admin_token.matches(token) => next.run(request).await,
        Ok(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The admin token is not valid.",
        )
        .into_response(),
    }
}

fn created<T: Serialize>(value: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(value))
}

async fn list_orgs(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let orgs = state
        .blocking(|platform| platform.store.read(|tx| tx.orgs()))
        .await?;
    Ok(Json(json!({ "orgs": orgs })))
}

async fn create_org(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<OrgSpec>,
) -> Result<(StatusCode, Json<Org>), ApiError> {
    let org = state
        .blocking(move |platform| {
            let now = platform.now().seconds();
            platform
                .store
                .write(|tx| model_admin::save_org(tx, &spec, Existing::Refuse, now))
        })
        .await?;
    Ok(created(org))
}

/// An org with everything in it, as `GET /api/v1/admin/orgs/{org}` shows it.
#[derive(Debug, Serialize)]
struct OrgDetail {
    #[serde(flatten)]
    org: Org,
    issuer: String,
    users: Vec<User>,
    projects: Vec<Project>,
    contexts: Vec<Context>,
    runner_tokens: Vec<String>,
    oidc_custom_claims: TokenSettings,
}

async fn get_org(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
) -> Result<Json<OrgDetail>, ApiError> {
    let detail = state
        .blocking(move |platform| {
            platform.store.read(|tx| {
                let org = resolve_org(tx, &reference)?;
                Ok(OrgDetail {
                    issuer: platform.org_issuer(&org.id),
                    users: tx.members(&org.id)?,
                    projects: tx.projects(&org.id)?,
                    contexts: tx.contexts(&org.id)?,
                    runner_tokens: tx.runner_token_names(&org.id)?,
                    oidc_custom_claims: tx.token_settings(&org.id, None)?,
                    org,
                })
            })
        })
        .await?;
    Ok(Json(detail))
}

async fn patch_settings(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
    JsonBody(patch): JsonBody<OrgSettingsPatch>,
) -> Result<Json<Org>, ApiError> {
    let org = state
        .blocking(move |platform| platform.patch_org_settings(&reference, &patch))
        .await?;
    Ok(Json(org))
}

async fn list_projects(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let projects = state
        .blocking(move |platform| {
            platform
                .store
                .read(|tx| tx.projects(&resolve_org(tx, &reference)?.id))
        })
        .await?;
    Ok(Json(json!({ "projects": projects })))
}

async fn create_project(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
    JsonBody(spec): JsonBody<ProjectSpec>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let project = state
        .blocking(move |platform| {
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                model_admin::save_project(tx, &org, &spec, Existing::Refuse)
            })
        })
        .await?;
    Ok(created(project))
}

async fn list_users(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let users = state
        .blocking(move |platform| {
            platform
                .store
                .read(|tx| tx.members(&resolve_org(tx, &reference)?.id))
        })
        .await?;
    Ok(Json(json!({ "users": users })))
}

async fn create_user(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
    JsonBody(spec): JsonBody<UserSpec>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state
        .blocking(move |platform| {
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                model_admin::save_user(tx, &org, &spec, Existing::Refuse)
            })
        })
        .await?;
    Ok(created(user))
}

async fn list_contexts(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let contexts = state
        .blocking(move |platform| {
            platform
                .store
                .read(|tx| tx.contexts(&resolve_org(tx, &reference)?.id))
        })
        .await?;
    Ok(Json(json!({ "contexts": contexts })))
}

async fn create_context(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
    JsonBody(spec): JsonBody<ContextSpec>,
) -> Result<(StatusCode, Json<Context>), ApiError> {
    let context = state
        .blocking(move |platform| {
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                model_admin::save_context(tx, &org, &spec, Existing::Refuse)
            })
        })
        .await?;
    Ok(created(context))
}

/// `PUT …/variables/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariableValue {
    value: String,
}

async fn put_variable(
    State(state): State<AppState>,
    PathParams((reference, context, name)): PathParams<(String, String, String)>,
    JsonBody(body): JsonBody<VariableValue>,
) -> Result<Json<Context>, ApiError> {
    let context = state
        .blocking(move |platform| {
            check_variable_name(&name)?;
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                let context = resolve_context(tx, &org, &context)?;
                tx.set_context_variable(&context.id, &name, &body.value)?;
                tx.context_by_id(&context.id)?
                    .ok_or_else(|| PlatformError::internal("a context just written is missing"))
            })
        })
        .await?;
    Ok(Json(context))
}

async fn delete_variable(
    State(state): State<AppState>,
    PathParams((reference, context, name)): PathParams<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .blocking(move |platform| {
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                let context = resolve_context(tx, &org, &context)?;
                if tx.delete_context_variable(&context.id, &name)? {
                    Ok(())
                } else {
                    Err(PlatformError::not_found(
                        "variable_not_found",
                        format!("Context {} has no variable {name:?}.", context.name),
                    ))
                }
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_runner_tokens(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let names = state
        .blocking(move |platform| {
            platform
                .store
                .read(|tx| tx.runner_token_names(&resolve_org(tx, &reference)?.id))
        })
        .await?;
    Ok(Json(json!({ "runner_tokens": names })))
}

async fn create_runner_token(
    State(state): State<AppState>,
    PathParams(reference): PathParams<String>,
    JsonBody(spec): JsonBody<RunnerTokenSpec>,
) -> Result<impl IntoResponse, ApiError> {
    let created_token = state
        .blocking(move |platform| {
            platform.store.write(|tx| {
                let org = resolve_org(tx, &reference)?;
                model_admin::save_runner_token(tx, &org, &spec, Existing::Refuse)
            })
        })
        .await?;
    Ok(created(created_token))
}

async fn list_keys(State(state): State<AppState>) -> Json<serde_json::Value> {
    let keys = state.platform.keys.summaries(state.platform.now());
    Json(json!({ "keys": keys }))
}

/// `POST /api/v1/admin/keys/rotate` takes no parameters: its body is empty or `{}`, so a
/// malformed body is refused (400) rather than rotating anyway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {}

async fn rotate_keys(
    State(state): State<AppState>,
    JsonBody(RotateRequest {}): JsonBody<RotateRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let active = state.blocking(|platform| platform.rotate_keys()).await?;
    let keys = state.platform.keys.summaries(state.platform.now());
    Ok(Json(json!({ "active_kid": active, "keys": keys })))
}

/// `?org=…&limit=…` / `?job_id=…&limit=…`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The query, or 400 `invalid_query` in the API's error shape.
fn list_query(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ListQuery, ApiError> {
    query.map(|Query(query)| query).map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("The query string is not valid: {}.", rejection.body_text()),
        )
    })
}

fn limit(query: &ListQuery) -> u32 {
    query.limit.unwrap_or(100).clamp(1, MAX_LIST_LIMIT)
}

fn parse_job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found("job_not_found", format!("No job {text:?}.")))
}

async fn list_jobs(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = list_query(query)?;
    let jobs = state
        .blocking(move |platform| {
            platform.store.read(|tx| {
                let org = query
                    .org
                    .as_deref()
                    .map(|org| resolve_org(tx, org))
                    .transpose()?;
                tx.jobs(org.as_ref().map(|org| &org.id), limit(&query))
            })
        })
        .await?;
    Ok(Json(json!({ "jobs": jobs })))
}

async fn get_job(
    State(state): State<AppState>,
    PathParams(job): PathParams<String>,
) -> Result<Json<crate::model::Job>, ApiError> {
    let job_id = parse_job_id(&job)?;
    let job = state
        .blocking(move |platform| {
            platform.store.read(|tx| {
                tx.job(&job_id)?.map(|(job, _)| job).ok_or_else(|| {
                    PlatformError::not_found("job_not_found", format!("No job {job_id}."))
                })
            })
        })
        .await?;
    Ok(Json(job))
}

async fn negative_token(
    State(state): State<AppState>,
    PathParams(job): PathParams<String>,
    JsonBody(request): JsonBody<NegativeRequest>,
) -> Result<Json<crate::platform::negative::NegativeToken>, ApiError> {
    let job_id = parse_job_id(&job)?;
    let token = state
        .blocking(move |platform| platform.negative_token(&job_id, request.kind))
        .await?;
    Ok(Json(token))
}

async fn list_audit(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = list_query(query)?;
    let job = query.job_id.as_deref().map(parse_job_id).transpose()?;
    let records = state
        .blocking(move |platform| {
            platform
                .store
                .read(|tx| tx.audit(job.as_ref(), limit(&query)))
        })
        .await?;
    Ok(Json(json!({ "tokens": records })))
}
