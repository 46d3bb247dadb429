//! The HTTP side of keyless-sts: one axum router speaking the AWS Query protocol on `/`
//! (`POST` form body or `GET` query string), plus `/healthz`. Every request gets a RequestId,
//! is dispatched on `Action`/`Version` (spec §1), SigV4-verified when the operation is signed
//! (§6.2), and answered with AWS's XML envelope, `Content-Type: text/xml` and `x-amzn-RequestId`.
//! Unknown paths, other methods and timeouts are refused in the same envelope
//! ([`crate::refusals`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use tokio::net::TcpListener;

use crate::bootstrap::{self, BootstrapError};
use crate::config::{AdminCredential, Config};
use crate::error::AwsError;
use crate::iam::{self, IamAction};
use crate::policy::ParsedPolicies;
use crate::query::{QueryParams, Service};
use crate::refusals;
use crate::sigv4::{self, CredentialSource, SignedRequest, SigningCredential};
use crate::store::{Session, Store, StoreError};
use crate::sts::{self, RequestMeta, StsAction};
use crate::verify::TokenVerifier;
use crate::xml;

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the server was started with.
    pub config: Config,
    /// All persistent state.
    pub store: Store,
    /// The one web identity token verifier (its key cache is shared by every request).
    pub verifier: TokenVerifier,
    /// Roles' trust policies, each parsed once.
    pub policies: ParsedPolicies,
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
    /// The audit file could not be opened.
    #[error("cannot open the audit file {path}: {source}")]
    AuditFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

/// An operation the endpoint serves, found by its `Action` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// An IAM action.
    Iam(IamAction),
    /// An STS action.
    Sts(StsAction),
}

impl Operation {
    /// The operation named `action`, in any service.
    pub fn find(action: &str) -> Option<Operation> {
        IamAction::from_name(action)
            .map(Operation::Iam)
            .or_else(|| StsAction::from_name(action).map(Operation::Sts))
    }

    /// The service it belongs to.
    pub fn service(self) -> Service {
        match self {
            Operation::Iam(_) => Service::Iam,
            Operation::Sts(_) => Service::Sts,
        }
    }

    /// Its wire name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Iam(action) => action.name(),
            Operation::Sts(action) => action.name(),
        }
    }

    /// Whether callers must sign it with SigV4 (AssumeRoleWithWebIdentity will not, spec §2.2).
    pub fn is_signed(self) -> bool {
        match self {
            Operation::Iam(_) => true,
            Operation::Sts(action) => action.is_signed(),
        }
    }
}

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin credential of [`Config::admin`].
    Admin,
    /// Temporary credentials issued by AssumeRoleWithWebIdentity.
    Session(Box<Session>),
}

/// The admin credential, then the sessions in the store, as a SigV4 [`CredentialSource`]. A
/// session purged after expiry is unknown (`InvalidClientTokenId`); one expired but not yet
/// purged is found, so the verifier answers `ExpiredToken`.
#[derive(Debug)]
pub struct CallerCredentialSource<'a> {
    /// The admin credential.
    pub admin: &'a AdminCredential,
    /// Where sessions live.
    pub store: &'a Store,
    /// Sessions that expired before this are treated as purged.
    pub purged_before: time::OffsetDateTime,
}

impl CredentialSource for CallerCredentialSource<'_> {
    type Identity = Caller;
    async fn find(
        &self,
        access_key_id: &str,
    ) -> Result<Option<SigningCredential<Caller>>, AwsError> {
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            access_key_id.as_bytes(),
            self.admin.access_key_id.as_bytes(),
        )) {
            return Ok(Some(SigningCredential {
                secret_access_key: self.admin.secret_access_key.clone(),
                session_token: None,
                expiration: None,
                identity: Caller::Admin,
            }));
        }
        if !access_key_id.starts_with(crate::sessions::credentials::TEMPORARY_ACCESS_KEY_PREFIX) {
            return Ok(None);
        }
        let session = self.store.session(access_key_id).await?;
        Ok(session
            .filter(|session| session.expires_at >= self.purged_before)
            .map(|session| SigningCredential {
                secret_access_key: session.secret_access_key.clone(),
                session_token: Some(session.session_token.clone()),
                expiration: Some(session.expires_at),
                identity: Caller::Session(Box::new(session)),
            }))
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
    /// Facts for the audit log.
    pub meta: RequestMeta,
}

/// The answer to one request: the service whose namespace frames it, and the outcome.
struct Answer {
    service: Service,
    operation: Option<Operation>,
    outcome: Result<Option<String>, AwsError>,
}

/// Opens the store, applies the bootstrap file, and builds the router.
pub async fn app(config: Config) -> Result<Router, RunError> {
    let audit_file = match &config.audit_file {
        None => None,
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| RunError::AuditFile {
                    path: path.clone(),
                    source,
                })?,
        ),
    };
    let store = Store::open_with(&config.storage, config.durability, audit_file)?;
    if let Some(path) = &config.bootstrap_file {
        bootstrap::apply_file(path, &store, &config).await?;
    }
    let verifier = TokenVerifier::new(config.verifier.clone());
    let state = Arc::new(AppState {
        config,
        store,
        verifier,
        policies: ParsedPolicies::default(),
    });
    tokio::spawn(purge_periodically(Arc::downgrade(&state)));
    Ok(router(state))
}

/// Purges expired sessions and surplus decisions/events every `purge_interval` until the
/// state is gone.
async fn purge_periodically(state: Weak<AppState>) {
    let Some(interval) = state.upgrade().map(|state| state.config.purge_interval) else {
        return;
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(state) = state.upgrade() else {
            return;
        };
        match purge(&state).await {
            Ok(counts) if counts.sessions + counts.decisions + counts.events > 0 => {
                tracing::info!(
                    sessions = counts.sessions,
                    decisions = counts.decisions,
                    events = counts.events,
                    "purged"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "purge failed"),
        }
    }
}

/// One purge: sessions expired longer than the retention ago, decisions and events beyond
/// `max_records`.
pub async fn purge(state: &AppState) -> Result<crate::store::PurgeCounts, StoreError> {
    state
        .store
        .purge(purged_before(state), state.config.max_records)
        .await
}

/// Sessions that expired before this instant are (or will be) purged.
fn purged_before(state: &AppState) -> time::OffsetDateTime {
    let retention = time::Duration::try_from(state.config.expired_session_retention)
        .unwrap_or(time::Duration::MAX);
    state.config.clock.now().saturating_sub(retention)
}

/// The router over prepared state.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    let max_body_bytes = state.config.max_body_bytes;
    Router::new()
        .route("/", get(handle_query).post(handle_query))
        .route("/healthz", get(|| async { "ok" }))
        .route("/_keyless/decisions", get(sts::endpoints::decisions))
        .route(
            "/_keyless/decisions/{request_id}",
            get(sts::endpoints::decision),
        )
        .route("/_keyless/events", get(sts::endpoints::events))
        .route("/_keyless/explain", post(sts::endpoints::explain))
        .fallback(refusals::not_found)
        .method_not_allowed_fallback(refusals::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            refusals::time_limit,
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
    serve(listener, router, shutdown).await
}

/// Serves a prepared router on `listener` until `shutdown` completes (callers that announce
/// readiness build the router with [`app`] first, so startup errors come before the
/// announcement).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "keyless-sts listening");
    }
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

async fn handle_query(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = crate::identifiers::new_request_id();
    let (parts, body) = request.into_parts();
    let meta = RequestMeta {
        request_id: request_id.clone(),
        source_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip().to_string())
            .unwrap_or_default(),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(truncate_user_agent),
        region: None,
        access_key_id: None,
    };
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let refused = |service, error| Answer {
        service,
        operation: None,
        outcome: Err(error),
    };
    let answer = match refusals::read_params(&state, &parts, body, &raw_query).await {
        Err((service, error)) => refused(service, error),
        Ok((params, body)) => {
            let signed = SignedRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: &raw_query,
                headers: &parts.headers,
                body: &body,
            };
            answer(&state, &signed, &params, meta).await
        }
    };
    respond(answer, &request_id, started)
}

/// The longest `User-Agent` kept for logs and audit events, in bytes (longer ones are cut at a
/// character boundary, so a huge header cannot bloat every stored event).
pub const MAX_USER_AGENT_BYTES: usize = 1024;

fn truncate_user_agent(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_USER_AGENT_BYTES);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    user_agent[..end].to_owned()
}

/// The namespace for errors raised before an operation is known: by `Version`, else IAM's.
pub(crate) fn service_for_version(params: &QueryParams) -> Service {
    params
        .get("Version")
        .and_then(Service::from_api_version)
        .unwrap_or(Service::Iam)
}

/// What `InvalidAction`'s message names as the version when the request has none (AWS's
/// placeholder, docs/sts.md).
pub const NO_VERSION_SPECIFIED: &str = "NO_VERSION_SPECIFIED";

async fn answer(
    state: &AppState,
    signed: &SignedRequest<'_>,
    params: &QueryParams,
    meta: RequestMeta,
) -> Answer {
    let Some(action) = params.get("Action").filter(|action| !action.is_empty()) else {
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
    let version = params
        .get("Version")
        .filter(|version| !version.is_empty())
        .unwrap_or(NO_VERSION_SPECIFIED);
    let operation = Operation::find(action);
    let Some(operation) = operation.filter(|op| op.service().api_version() == version) else {
        return Answer {
            service: operation.map_or_else(|| service_for_version(params), Operation::service),
            operation: None,
            outcome: Err(AwsError::invalid_action(action, version)),
        };
    };
    let outcome = dispatch(state, operation, signed, params, meta).await;
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
    mut meta: RequestMeta,
) -> Result<Option<String>, AwsError> {
    let caller = if operation.is_signed() {
        if let Ok(parts) = sigv4::parse_signature(signed) {
            meta.region = Some(parts.region);
            meta.access_key_id = Some(parts.access_key_id);
        }
        let source = CallerCredentialSource {
            admin: &state.config.admin,
            store: &state.store,
            purged_before: purged_before(state),
        };
        match sigv4::verify(
            signed,
            operation.service(),
            state.config.clock.now(),
            &source,
        )
        .await
        {
            Ok(caller) => Some(caller),
            Err(error) => {
                if let Operation::Sts(action) = operation {
                    sts::audit_refused_call(state, action, &meta, &error).await;
                }
                return Err(error);
            }
        }
    } else {
        None
    };
    let request = QueryRequest {
        request_id: &meta.request_id,
        params,
        caller,
        meta: meta.clone(),
    };
    match operation {
        Operation::Iam(action) => match &request.caller {
            Some(Caller::Session(session)) => Err(session_not_authorized_for_iam(session, action)),
            _ => iam::dispatch(state, action, request.params).await,
        },
        Operation::Sts(action) => {
            sts::dispatch(
                state,
                action,
                request.params,
                request.caller.as_ref(),
                &request.meta,
            )
            .await
        }
    }
}

/// Sessions carry no IAM permissions here (keyless models trust, not permissions), so IAM
/// calls signed by one are refused the way AWS refuses an identity without an allowing policy.
fn session_not_authorized_for_iam(session: &Session, action: IamAction) -> AwsError {
    AwsError::new(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: iam:{} because no identity-based policy allows the iam:{} action",
            session.assumed_role_arn,
            action.name(),
            action.name()
        ),
    )
}

fn respond(answer: Answer, request_id: &str, started: Instant) -> Response {
    let namespace = answer.service.xml_namespace();
    let action = answer.operation.map_or("-", Operation::name);
    let elapsed_ms = started.elapsed().as_millis();
    let document = match answer.outcome {
        Ok(result) => {
            tracing::info!(
                request_id,
                action,
                status = 200,
                elapsed_ms,
                "request served"
            );
            xml::success_document(namespace, action, result.as_deref(), request_id)
        }
        Err(error) => {
            if error.status.is_server_error() {
                tracing::error!(request_id, action, status = error.status.as_u16(), code = %error.code, detail = error.detail.as_deref().unwrap_or(""), "request failed");
            } else {
                tracing::info!(request_id, action, status = error.status.as_u16(), code = %error.code, message = %error.message, detail = error.detail.as_deref().unwrap_or(""), "request refused");
            }
            return refusals::query_error(answer.service, &error, request_id);
        }
    };
    let mut response = (StatusCode::OK, Body::from(document)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}
