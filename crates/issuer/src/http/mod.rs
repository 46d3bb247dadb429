//! The issuer's HTTP surface: the router, shared state, and the extractors every handler uses
//! (a lenient JSON body and path parameters that answer `{"code","message"}` on any fault,
//! bearer credentials). A last layer turns any error answer that is not already JSON (one
//! produced by axum or tower itself) into the same `{"code","message"}` shape.
//!
//! - [`discovery`]: `/healthz`, discovery documents and JWKS (public).
//! - [`jobs`]: the job API (runner token, job secret).
//! - [`admin`]: the admin API (admin token), including CircleCI's `oidc-custom-claims` routes.

pub mod admin;
pub mod custom_claims;
pub mod discovery;
pub mod error;
pub mod jobs;

use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

use crate::config::{AdminToken, MAX_REQUEST_BODY_BYTES, REQUEST_TIMEOUT};
use crate::error::PlatformResult;
use crate::platform::Platform;
pub use error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The platform.
    pub platform: Arc<Platform>,
    /// The admin token; `None` disables the admin API.
    pub admin_token: Option<AdminToken>,
}

impl AppState {
    /// Runs a platform operation on a blocking thread: operations touch SQLite and may sign or
    /// generate keys, none of which may stall the async runtime.
    pub async fn blocking<T, Work>(&self, work: Work) -> Result<T, ApiError>
    where
        T: Send + 'static,
        Work: FnOnce(&Platform) -> PlatformResult<T> + Send + 'static,
    {
        let platform = Arc::clone(&self.platform);
        tokio::task::spawn_blocking(move || work(&platform))
            .await
            .map_err(|error| {
                ApiError::from(crate::error::PlatformError::internal(error.to_string()))
            })?
            .map_err(ApiError::from)
    }
}

/// The whole router with its limits: body size, request timeout, tracing, JSON 404 and 405,
/// and every error answer in the API's JSON shape.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(discovery::routes())
        .merge(jobs::routes())
        .merge(admin::routes(state.clone()))
        .fallback(|| async {
            ApiError::not_found("not_found", "No such endpoint; see docs/issuer.md.")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This endpoint does not accept that method.",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        format!(
                            "The request took longer than {} seconds.",
                            REQUEST_TIMEOUT.as_secs()
                        ),
                    )
                }))
                .layer(tower::timeout::TimeoutLayer::new(REQUEST_TIMEOUT)),
        )
        .layer(axum::middleware::map_response(json_error_shape))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Rewrites an error answer that is not JSON (a rejection produced by axum or tower rather
/// than by a handler) into the API's `{"code","message"}` shape, keeping its status.
async fn json_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        status if status.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let reason = status.canonical_reason().unwrap_or("refused");
    let mut answer =
        ApiError::new(status, code, format!("The request was refused: {reason}.")).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// Path parameters (`{org}`, `{job_id}`, …); a path that cannot be decoded (invalid UTF-8
/// after percent-decoding) answers 400 `invalid_path` in the API's shape.
pub struct PathParams<T>(pub T);

impl<State, T> FromRequestParts<State> for PathParams<T>
where
    State: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParams(value))
            .map_err(|rejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    format!("The request path is not valid: {}.", rejection.body_text()),
                )
            })
    }
}

/// A request body not yet parsed, so that credentials are checked before the body is judged.
/// An oversized body answers 413 `payload_too_large`.
pub struct RawBody(pub Bytes);

impl<State> FromRequest<State> for RawBody
where
    State: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &State) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("The request body exceeds {MAX_REQUEST_BODY_BYTES} bytes."),
                    )
                } else {
                    ApiError::invalid_json(format!(
                        "The request body could not be read: {rejection}"
                    ))
                }
            })
    }
}

impl RawBody {
    /// Parses the body as a JSON object. An empty body reads as `{}`; the Content-Type is not
    /// checked (`curl -d` sends `application/x-www-form-urlencoded`), but the body must be a
    /// JSON object: arrays and scalars are refused even where serde would read a struct from a
    /// sequence (`["success"]` as a finish request), and so are malformed JSON, invalid UTF-8,
    /// duplicate and unknown fields (400 `invalid_json`).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let first = self.0.iter().find(|byte| !byte.is_ascii_whitespace());
        let text: &[u8] = match first {
            None => b"{}",
            Some(b'{') => &self.0,
            Some(_) => {
                return Err(ApiError::invalid_json(
                    "The request body must be a JSON object.",
                ));
            }
        };
        serde_json::from_slice(text).map_err(|error| {
            ApiError::invalid_json(format!("The request body is not valid: {error}."))
        })
    }
}

/// A JSON request body, parsed as [`RawBody::json`] does; for routes whose credentials a
/// middleware has already checked.
pub struct JsonBody<T>(pub T);

impl<State, T> FromRequest<State> for JsonBody<T>
where
    State: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &State) -> Result<Self, ApiError> {
        let raw = RawBody::from_request(request, state).await?;
        raw.json().map(JsonBody)
    }
}

/// The bearer credential of a request: `Authorization: Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let unauthorized =
        |message: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("Missing Authorization: Bearer <token>."))?
        .to_str()
        .map_err(|_| unauthorized("The Authorization header is not valid text."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("The Authorization header must be Bearer <token>."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized(
            "The Authorization header must be Bearer <token>.",
        ));
    }
    Ok(token.trim())
}
