//! The HTTP side of keyless-sts: one axum router speaking the AWS Query protocol on `/`
//! (`POST` form body or `GET` query string), plus `/healthz`. Every request gets a RequestId,
//! is dispatched on `Action`/`Version` (spec §1), SigV4-verified when the operation is signed
//! (§6.2), and answered with AWS's XML envelope, `Content-Type: text/xml` and `x-amzn-RequestId`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, StatusCode, header};
use tokio::net::TcpListener;

use crate::bootstrap::{self, BootstrapError};
use crate::config::{AdminCredential, Config};
use crate::error::AwsError;
use crate::iam::{self, IamAction};
use crate::query::{QueryParams, Service};
use crate::sigv4::{self, CredentialSource, SignedRequest, SigningCredential};
use crate::store::{Store, StoreError};
use crate::xml;

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the server was started with.
    pub config: Config,
    /// All persistent state.
    pub store: Store,
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bootstrap file could not be applied.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}

/// An operation the endpoint serves, found by its `Action` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// An IAM action.
    Iam(IamAction),
}

impl Operation {
    /// The operation named `action`, in any service.
    pub fn find(action: &str) -> Option<Operation> {
        IamAction::from_name(action).map(Operation::Iam)
    }

    /// The service it belongs to.
    pub fn service(self) -> Service {
        match self {
            Operation::Iam(_) => Service::Iam,
        }
    }

    /// Its wire name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Iam(action) => action.name(),
        }
    }

    /// Whether callers must sign it with SigV4 (AssumeRoleWithWebIdentity will not, spec §2.2).
    pub fn is_signed(self) -> bool {
        match self {
            Operation::Iam(_) => true,
        }
    }
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin credential of [`Config::admin`].
    Admin,
}

/// The admin credential as a SigV4 [`CredentialSource`].
#[derive(Debug)]
pub struct AdminCredentialSource<'a>(pub &'a AdminCredential);

impl CredentialSource for AdminCredentialSource<'_> {
    type Identity = Caller;
    async fn find(
        &self,
        access_key_id: &str,
    ) -> Result<Option<SigningCredential<Caller>>, AwsError> {
        Ok(
            (access_key_id == self.0.access_key_id).then(|| SigningCredential {
                secret_access_key: self.0.secret_access_key.clone(),
                session_token: None,
                expiration: None,
                identity: Caller::Admin,
            }),
        )
    }
}

/// One Query request, as the dispatcher sees it.
#[derive(Debug)]
pub struct QueryRequest<'a> {
    /// The RequestId this request is answered with.
    pub request_id: &'a str,
    /// Decoded parameters (query string and body).
    pub params: &'a QueryParams,
    /// Who signed it (`None` for unsigned operations).
    pub caller: Option<Caller>,
}

/// The answer to one request: the service whose namespace frames it, and the outcome.
struct Answer {
    service: Service,
    operation: Option<Operation>,
    outcome: Result<Option<String>, AwsError>,
}

/// Opens the store, applies the bootstrap file, and builds the router.
pub async fn app(config: Config) -> Result<Router, RunError> {
    let store = Store::open(&config.storage)?;
    if let Some(path) = &config.bootstrap_file {
        bootstrap::apply_file(path, &store, &config).await?;
    }
    Ok(router(Arc::new(AppState { config, store })))
}

/// The router over prepared state.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/", get(handle_query).post(handle_query))
        .route("/healthz", get(|| async { "ok" }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let router = app(config).await?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "keyless-sts listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn handle_query(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let mut params = QueryParams::parse(raw_query.as_bytes());
    let answer = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Err(_) => Answer {
            service: service_for_version(&params),
            operation: None,
            outcome: Err(AwsError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!(
                    "Request body must be at most {} bytes",
                    state.config.max_body_bytes
                ),
            )),
        },
        Ok(body) => {
            if parts.method == Method::POST {
                let mut body_params = QueryParams::parse(&body);
                body_params.merge_missing(params);
                params = body_params;
            }
            let signed = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: &raw_query,
                headers: &parts.headers,
                body: &body,
            };
            answer(&state, &signed, &params, &request_id).await
        }
    };
    respond(answer, &request_id, started)
}

/// The namespace for errors raised before an operation is known: by `Version`, else IAM's.
fn service_for_version(params: &QueryParams) -> Service {
    params
        .get("Version")
        .and_then(Service::from_api_version)
        .unwrap_or(Service::Iam)
}

async fn answer(
    state: &AppState,
    signed: &SignedRequest<'_>,
    params: &QueryParams,
    request_id: &str,
) -> Answer {
    let version = params.get("Version").unwrap_or_default();
    let Some(action) = params.get("Action") else {
        return Answer {
            service: service_for_version(params),
            operation: None,
            outcome: Err(AwsError::new(
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "The request is missing an action or a required parameter.",
            )),
        };
    };
    let operation = Operation::find(action);
    let Some(operation) = operation.filter(|op| op.service().api_version() == version) else {
        return Answer {
            service: operation.map_or_else(|| service_for_version(params), Operation::service),
            operation: None,
            outcome: Err(AwsError::invalid_action(action, version)),
        };
    };
    let outcome = dispatch(state, operation, signed, params, request_id).await;
    Answer {
        service: operation.service(),
        operation: Some(operation),
        outcome,
    }
}

/// Verifies the signature if the operation needs one, then runs the operation. Returns the
/// inner XML of `…Result`, or `None` for operations without output.
pub async fn dispatch(
    state: &AppState,
    operation: Operation,
    signed: &SignedRequest<'_>,
    params: &QueryParams,
    request_id: &str,
) -> Result<Option<String>, AwsError> {
    let caller = if operation.is_signed() {
        let source = AdminCredentialSource(&state.config.admin);
        Some(
            sigv4::verify(
                signed,
                operation.service(),
                state.config.clock.now(),
                &source,
            )
            .await?,
        )
    } else {
        None
    };
    let request = QueryRequest {
        request_id,
        params,
        caller,
    };
    match operation {
        Operation::Iam(action) => iam::dispatch(state, action, request.params).await,
    }
}

fn respond(answer: Answer, request_id: &str, started: Instant) -> Response {
    let namespace = answer.service.xml_namespace();
    let action = answer.operation.map_or("-", Operation::name);
    let elapsed_ms = started.elapsed().as_millis();
    let (status, document) = match answer.outcome {
        Ok(result) => {
            tracing::info!(
                request_id,
                action,
                status = 200,
                elapsed_ms,
                "request served"
            );
            (
                StatusCode::OK,
                xml::success_document(namespace, action, result.as_deref(), request_id),
            )
        }
        Err(error) => {
            if error.status.is_server_error() {
                tracing::error!(request_id, action, status = error.status.as_u16(), code = %error.code, detail = error.detail.as_deref().unwrap_or(""), "request failed");
            } else {
                tracing::info!(request_id, action, status = error.status.as_u16(), code = %error.code, message = %error.message, detail = error.detail.as_deref().unwrap_or(""), "request refused");
            }
            (
                error.status,
                xml::error_document(namespace, &error, request_id),
            )
        }
    };
    let mut response = (status, Body::from(document)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}
