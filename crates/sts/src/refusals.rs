//! Answers for requests refused before any operation runs, each in the format of the surface it
//! hit: the AWS `<ErrorResponse>` envelope for the Query API (everything outside `/_keyless`),
//! `{"error": {"code", "message"}}` for the `/_keyless` side endpoints. Covers unknown paths,
//! methods a route does not serve, and requests that outlive the per-request time limit, which
//! axum and tower-http would otherwise answer with an empty or plain-text body; and the checks
//! that refuse a Query request before dispatch (its `Content-Type`, body size, repeated names).

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::json;

use crate::error::AwsError;
use crate::query::{QueryParams, RepeatedParameter, Service};
use crate::server::AppState;
use crate::xml;

/// The prefix of keyless's own JSON endpoints.
pub const KEYLESS_PREFIX: &str = "/_keyless";

/// Which part of the server a path belongs to, and so which error format it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The AWS Query API (`/`), and every path that is not keyless's own.
    Query,
    /// keyless's JSON side endpoints under `/_keyless`.
    Keyless,
}

impl Surface {
    /// The surface `path` belongs to.
    pub fn of(path: &str) -> Surface {
        let keyless = path
            .strip_prefix(KEYLESS_PREFIX)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if keyless {
            Surface::Keyless
        } else {
            Surface::Query
        }
    }
}

/// The namespace for an error raised before an operation is known: the `Version` in `query`
/// (a raw query string), else IAM's.
pub fn service_for_query(query: &str) -> Service {
    QueryParams::parse(query.as_bytes())
        .get("Version")
        .and_then(Service::from_api_version)
        .unwrap_or(Service::Iam)
}

/// An AWS error as the Query API sends it: the envelope in `service`'s namespace,
/// `Content-Type: text/xml` and `x-amzn-RequestId`.
pub fn query_error(service: Service, error: &AwsError, request_id: &str) -> Response {
    let document = xml::error_document(service.xml_namespace(), error, request_id);
    let mut response = (error.status, Body::from(document)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

/// A `/_keyless` error: `{"error": {"code": …, "message": …}}` with `status`.
pub fn keyless_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// Refuses `request` with `status` in its surface's format: `aws` is the Query API's error,
/// `code` the `/_keyless` one; both carry `message`.
fn refuse(
    request: &Request,
    status: StatusCode,
    aws: &str,
    code: &str,
    message: String,
) -> Response {
    match Surface::of(request.uri().path()) {
        Surface::Keyless => keyless_error(status, code, message),
        Surface::Query => {
            let request_id = crate::identifiers::new_request_id();
            tracing::info!(
                request_id,
                status = status.as_u16(),
                code = aws,
                path = request.uri().path(),
                "request refused"
            );
            let error = AwsError::new(status, aws.to_owned(), message);
            query_error(
                service_for_query(request.uri().query().unwrap_or_default()),
                &error,
                &request_id,
            )
        }
    }
}

/// The router's fallback: a path nothing is served at (404).
pub async fn not_found(request: Request) -> Response {
    let message = format!("Nothing is served at {}", request.uri().path());
    let message = match Surface::of(request.uri().path()) {
        Surface::Query => format!("{message}; AWS Query requests go to /"),
        Surface::Keyless => message,
    };
    refuse(
        &request,
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "not_found",
        message,
    )
}

/// A method the path does not serve (405; axum adds the `Allow` header).
pub async fn method_not_allowed(request: Request) -> Response {
    let message = format!(
        "The method {} is not allowed for {}",
        request.method(),
        request.uri().path()
    );
    refuse(
        &request,
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "method_not_allowed",
        message,
    )
}

/// Middleware: answers 408 `RequestTimeout` (in the surface's format) when the request has not
/// been answered within `limit`, whether the client is slow to send or the server slow to serve.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let surface = Surface::of(request.uri().path());
    let query = request.uri().query().unwrap_or_default().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!("The request was not completed within {limit:?}");
            match surface {
                Surface::Keyless => {
                    keyless_error(StatusCode::REQUEST_TIMEOUT, "request_timeout", message)
                }
                Surface::Query => {
                    let request_id = crate::identifiers::new_request_id();
                    tracing::warn!(request_id, ?limit, "request timed out");
                    let error =
                        AwsError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeout", message);
                    query_error(service_for_query(&query), &error, &request_id)
                }
            }
        }
    }
}

/// Reads the request's parameters (query string, plus a `POST`'s form body) and its body bytes,
/// or the protocol error that refuses it before any operation: a non-form `Content-Type` (415),
/// a body over the limit (413), a parameter given twice (400).
pub async fn read_params(
    state: &AppState,
    parts: &http::request::Parts,
    body: Body,
    raw_query: &str,
) -> Result<(QueryParams, bytes::Bytes), (Service, AwsError)> {
    let query_params = QueryParams::parse_unique(raw_query.as_bytes())
        .map_err(|repeated| (service_for_query(raw_query), repeated_parameter(&repeated)))?;
    let service = crate::server::service_for_version(&query_params);
    if parts.method == Method::POST
        && let Some(content_type) = parts.headers.get(header::CONTENT_TYPE)
        && !is_form_content_type(content_type)
    {
        return Err((service, unsupported_media_type(content_type)));
    }
    let body = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            let error = AwsError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!(
                    "Request body must be at most {} bytes",
                    state.config.max_body_bytes
                ),
            );
            (service, error)
        })?;
    if parts.method != Method::POST {
        return Ok((query_params, body));
    }
    let mut params = QueryParams::parse_unique(&body)
        .map_err(|repeated| (service, repeated_parameter(&repeated)))?;
    params
        .merge_disjoint(query_params)
        .map_err(|repeated| (service, repeated_parameter(&repeated)))?;
    Ok((params, body))
}

/// `application/x-www-form-urlencoded`, with any parameters (`; charset=utf-8`), in any case.
fn is_form_content_type(value: &HeaderValue) -> bool {
    value.to_str().is_ok_and(|text| {
        text.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// 415 for a `POST` whose body is declared as anything but a form.
fn unsupported_media_type(content_type: &HeaderValue) -> AwsError {
    AwsError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!(
            "Content-Type {} is not supported; AWS Query requests are application/x-www-form-urlencoded",
            String::from_utf8_lossy(content_type.as_bytes())
        ),
    )
}

/// 400 for a parameter given twice (two readings of one request must never be possible).
fn repeated_parameter(repeated: &RepeatedParameter) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "InvalidQueryParameter",
        format!("The parameter {:?} is given more than once", repeated.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_split_on_the_keyless_prefix() {
        assert_eq!(Surface::of("/_keyless"), Surface::Keyless);
        assert_eq!(Surface::of("/_keyless/events"), Surface::Keyless);
        assert_eq!(Surface::of("/_keyless/nope/deeper"), Surface::Keyless);
        assert_eq!(Surface::of("/_keylessx"), Surface::Query);
        assert_eq!(Surface::of("/"), Surface::Query);
        assert_eq!(Surface::of("/foo"), Surface::Query);
    }

    #[test]
    fn the_version_in_the_query_string_picks_the_namespace() {
        assert_eq!(service_for_query("Version=2011-06-15"), Service::Sts);
        assert_eq!(service_for_query("Version=2010-05-08"), Service::Iam);
        assert_eq!(service_for_query("Version=1999-01-01"), Service::Iam);
        assert_eq!(service_for_query(""), Service::Iam);
    }
}
