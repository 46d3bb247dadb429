//! The job API (`docs/issuer.md`): start a job with a runner token; mint
//! tokens and finish with the job secret.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use keyless_claims::JobId;

use super::{ApiError, AppState, PathParams, RawBody, bearer_token};
use crate::platform::job_types::{
    FinishRequest, FinishedJob, MintRequest, Minted, StartJobRequest, StartedJob,
};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", post(start_job))
        .route("/api/v1/jobs/{job_id}/tokens", post(mint))
        .route("/api/v1/jobs/{job_id}/finish", post(finish))
}

fn job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found("job_not_found", format!("No job {text:?}.")))
}

async fn start_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<(StatusCode, Json<StartedJob>), ApiError> {
    let runner_token = bearer_token(&headers)?.to_owned();
    let org = state
        .blocking(move |platform| platform.authenticate_runner(&runner_token))
        .await?;
    let request: StartJobRequest = body.json()?;
    let started = state
        .blocking(move |platform| platform.start_job(&org, request))
        .await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn mint(
    State(state): State<AppState>,
    PathParams(job): PathParams<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Json<Minted>, ApiError> {
    let job_secret = bearer_token(&headers)?.to_owned();
    let job_id = job_id(&job)?;
    let request: Result<MintRequest, ApiError> = body.json();
    // One trip to a blocking thread and one read of the job: the secret is still checked
    // before the body's error.
    let minted = state
        .blocking(move |platform| platform.mint_parsed(&job_id, &job_secret, request))
        .await??;
    Ok(Json(minted))
}

async fn finish(
    State(state): State<AppState>,
    PathParams(job): PathParams<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Json<FinishedJob>, ApiError> {
    let job_secret = bearer_token(&headers)?.to_owned();
    let job_id = job_id(&job)?;
    let secret = job_secret.clone();
    state
        .blocking(move |platform| platform.check_job_secret(&job_id, &secret))
        .await?;
    let request: FinishRequest = body.json()?;
    let finished = state
        .blocking(move |platform| platform.finish(&job_id, &job_secret, request))
        .await?;
    Ok(Json(finished))
}
