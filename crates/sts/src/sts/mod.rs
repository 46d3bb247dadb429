//! The STS actions keyless-sts serves: `AssumeRoleWithWebIdentity` (unsigned, spec §2–§3) and
//! `GetCallerIdentity` (SigV4-signed by a session or the admin credential, §6), plus what they
//! leave behind: explained decisions (`/_keyless/decisions`, `/_keyless/explain`) and
//! CloudTrail-shaped audit events (`/_keyless/events`, optionally a JSON-lines file).

pub mod assume;
pub mod caller;
pub mod endpoints;
pub mod parameters;
pub mod record;

use crate::audit::{AuditEvent, UserIdentity};
use crate::error::AwsError;
use crate::query::QueryParams;
use crate::server::{AppState, Caller};
use crate::store::{Session, StoreError};

pub use record::{Check, DecisionRecord};

/// The STS operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsAction {
    /// `AssumeRoleWithWebIdentity`.
    AssumeRoleWithWebIdentity,
    /// `GetCallerIdentity`.
    GetCallerIdentity,
}

impl StsAction {
    /// Every STS action served.
    pub const ALL: [StsAction; 2] = [
        StsAction::AssumeRoleWithWebIdentity,
        StsAction::GetCallerIdentity,
    ];

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            StsAction::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            StsAction::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    /// The action named `name` (exact, as AWS matches `Action`).
    pub fn from_name(name: &str) -> Option<StsAction> {
        StsAction::ALL
            .into_iter()
            .find(|action| action.name() == name)
    }

    /// Whether the call must be SigV4-signed (AssumeRoleWithWebIdentity is not, §2.2).
    pub fn is_signed(self) -> bool {
        self == StsAction::GetCallerIdentity
    }
}

/// Facts about the HTTP request that go into audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The RequestId the response carries.
    pub request_id: String,
    /// The caller's IP address.
    pub source_ip: String,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
    /// The region of the SigV4 credential scope, if signed.
    pub region: Option<String>,
    /// The access key id the request was signed with, if any.
    pub access_key_id: Option<String>,
}

/// Runs an STS action for an already authenticated `caller` (`None` for unsigned calls).
pub async fn dispatch(
    state: &AppState,
    action: StsAction,
    params: &QueryParams,
    caller: Option<&Caller>,
    meta: &RequestMeta,
) -> Result<Option<String>, AwsError> {
    match action {
        StsAction::AssumeRoleWithWebIdentity => {
            assume::assume_role_with_web_identity(state, params, meta).await
        }
        StsAction::GetCallerIdentity => caller::get_caller_identity(state, caller, meta).await,
    }
}

/// A fresh event with the request's region, address and user agent filled in.
pub(crate) fn audit_identity(
    state: &AppState,
    meta: &RequestMeta,
    event_name: &str,
    identity: UserIdentity,
    event_time: String,
) -> AuditEvent {
    let mut event = AuditEvent::new(
        event_name,
        identity,
        event_time,
        meta.request_id.clone(),
        state.config.account_id.to_string(),
    );
    if let Some(region) = &meta.region {
        event.aws_region.clone_from(region);
    }
    event.source_ip_address.clone_from(&meta.source_ip);
    event.user_agent.clone_from(&meta.user_agent);
    event
}

/// A store failure as the client sees it.
pub(crate) fn store_failure(error: StoreError) -> AwsError {
    AwsError::from(error)
}

/// Commits the decision (if any), the session (if any) and the event together; the store's
/// writer then appends the event to the audit file. The event is serialized once, for both.
pub(crate) async fn persist(
    state: &AppState,
    record: Option<&DecisionRecord>,
    session: Option<Session>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let recorded_at = state.config.clock.now().unix_timestamp();
    let call = crate::store::CallRecord {
        request_id: event.request_id.clone(),
        recorded_at,
        allowed: record.map(|record| record.allowed),
        decision: record.and_then(|record| serde_json::to_string(record).ok()),
        event: serde_json::to_string(event).ok(),
    };
    match session {
        Some(session) => state.store.record_session(session, call).await,
        None => state.store.record_call(call).await,
    }
}

/// The audit event of a GetCallerIdentity refused before the caller was known.
pub async fn audit_refused_call(
    state: &AppState,
    action: StsAction,
    meta: &RequestMeta,
    error: &AwsError,
) {
    let identity = UserIdentity {
        identity_type: "Unknown".to_owned(),
        principal_id: String::new(),
        user_name: None,
        identity_provider: None,
        arn: None,
        access_key_id: meta.access_key_id.clone(),
        account_id: None,
    };
    let now = crate::xml::timestamp(state.config.clock.now());
    let mut event = audit_identity(state, meta, action.name(), identity, now);
    event.error_code = Some(error.code.to_string());
    event.error_message = Some(error.message.clone());
    if let Err(error) = persist(state, None, None, &event).await {
        tracing::error!(%error, "cannot record the audit event");
    }
}
