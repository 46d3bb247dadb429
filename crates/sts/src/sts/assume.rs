//! `AssumeRoleWithWebIdentity` (spec §2): parameter constraints, the check order of §2.4, the
//! response of §2.3, and the explained decision every request leaves behind.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use serde_json::json;
use time::OffsetDateTime;

use super::parameters::{INVALID_ARN_MESSAGE, parse_role_arn, read_input};
use super::record::{Check, DecisionRecord, RecordedError, recorded_claims};
use super::{RequestMeta, audit_identity, store_failure};
use crate::audit::AuditEvent;
use crate::error::AwsError;
use crate::identifiers::provider_arn;
use crate::policy::{
    RequestContext, SessionPolicy, WEB_IDENTITY_ACTION, evaluate, policy_size_without_whitespace,
};
use crate::query::QueryParams;
use crate::server::AppState;
use crate::sessions::generate_session_credentials;
use crate::store::Session;
use crate::verify::{TokenError, parse_token};
use crate::xml::{XmlWriter, timestamp};

/// The space session policies are packed into (100 % = this many non-whitespace characters).
pub const PACKED_POLICY_CAPACITY: usize = 2048;
/// AWS's message for a duration beyond the role's maximum.
pub const DURATION_EXCEEDS_MESSAGE: &str =
    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
/// AWS's message for a request the trust policy does not allow (or a role that does not exist).
pub const ACCESS_DENIED_MESSAGE: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";
/// AWS's message for an audience that is not a client id of the provider.
pub const INCORRECT_AUDIENCE_MESSAGE: &str = "Incorrect token audience";
/// The prefix of AWS's message for a token whose issuer has no provider.
pub const NO_PROVIDER_MESSAGE_PREFIX: &str = "No OpenIDConnect provider found in your account for ";
/// How many access key ids are drawn before a collision with live sessions is a failure.
const ACCESS_KEY_ATTEMPTS: u32 = 4;
/// The session name `/_keyless/explain` uses when none is given.
pub const EXPLAIN_SESSION_NAME: &str = "keyless-explain";

/// What an allowed request is granted: everything the response and the session need.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The role's account.
    pub account_id: String,
    /// The role ARN with its path.
    pub role_arn: String,
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: String,
    /// `RoleId:SESSION`.
    pub assumed_role_id: String,
    /// The provider ARN (`Provider` in the response).
    pub provider_arn: String,
    /// The provider URL without scheme.
    pub provider_url: String,
    /// The audience (`Audience`).
    pub audience: String,
    /// The token's `sub`.
    pub subject: String,
    /// `DurationSeconds` in effect.
    pub duration_seconds: i64,
    /// The session policy, if given.
    pub session_policy: Option<String>,
    /// `PackedPolicySize`, only with a session policy or policy ARNs.
    pub packed_policy_size: Option<usize>,
}

/// The outcome of running every check: the decision record (always) and the grant or error.
#[derive(Debug)]
pub struct Evaluation {
    /// The explained decision.
    pub record: DecisionRecord,
    /// Granted, or the error the client gets.
    pub outcome: Result<Grant, AwsError>,
}

fn token_error(error: &TokenError) -> AwsError {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    AwsError::new(status, error.aws_code(), error.aws_message()).with_detail(error.detail())
}

fn system_time(at: OffsetDateTime) -> SystemTime {
    let seconds = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Runs the checks of §2.4 in order, recording what each found. Issues nothing.
pub async fn evaluate_request(
    state: &AppState,
    params: &QueryParams,
    request_id: &str,
    now: OffsetDateTime,
    dry_run: bool,
) -> Evaluation {
    let mut record = DecisionRecord {
        request_id: request_id.to_owned(),
        recorded_at: timestamp(now),
        action: WEB_IDENTITY_ACTION.to_owned(),
        allowed: false,
        dry_run,
        failed_check: None,
        error: None,
        detail: None,
        role_arn: params.get("RoleArn").map(str::to_owned),
        role_session_name: params.get("RoleSessionName").map(str::to_owned),
        duration_seconds: None,
        issuer: None,
        provider_arn: None,
        provider_client_ids: Vec::new(),
        claims: serde_json::Map::new(),
        decision: None,
        access_key_id: None,
    };
    let outcome = run_checks(state, params, now, &mut record).await;
    match &outcome {
        Ok(_) => record.allowed = true,
        Err((check, error)) => {
            record.failed_check = Some(*check);
            record.error = Some(RecordedError::from(error));
            if record.detail.is_none() {
                record.detail.clone_from(&error.detail);
            }
        }
    }
    Evaluation {
        record,
        outcome: outcome.map_err(|(_, error)| error),
    }
}

async fn run_checks(
    state: &AppState,
    params: &QueryParams,
    now: OffsetDateTime,
    record: &mut DecisionRecord,
) -> Result<Grant, (Check, AwsError)> {
    let input = read_input(params).map_err(|error| (Check::Parameters, error))?;
    record.duration_seconds = Some(input.duration_seconds);
    let arn = parse_role_arn(input.role_arn)
        .ok_or_else(|| (Check::RoleArn, AwsError::validation(INVALID_ARN_MESSAGE)))?;
    let token = parse_token(input.token)
        .map_err(|error| (Check::for_token_error(&error), token_error(&error)))?;
    record.claims = recorded_claims(&token.claims);
    record.issuer = Some(token.issuer.clone());
    let no_provider = || {
        (
            Check::Provider,
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidIdentityToken",
                format!("{NO_PROVIDER_MESSAGE_PREFIX}{}", token.issuer),
            ),
        )
    };
    let provider_url = token
        .issuer
        .strip_prefix("https://")
        .or_else(|| token.issuer.strip_prefix("http://"))
        .ok_or_else(no_provider)?;
    let account = state.config.account_id.as_str();
    if arn.account != account {
        record.detail = Some(format!(
            "the role is in account {}, which has no OIDC providers here (only {account} does)",
            arn.account
        ));
        return Err(no_provider());
    }
    let (provider, role) = state
        .store
        .provider_and_role(provider_url, arn.name)
        .await
        .map_err(|error| (Check::Provider, AwsError::from(error)))?;
    let provider = provider.ok_or_else(no_provider)?;
    let provider_arn = provider_arn(&state.config.account_id, &provider.url);
    record.provider_arn = Some(provider_arn.clone());
    record.provider_client_ids.clone_from(&provider.client_ids);
    if !provider.client_ids.contains(&token.audience) {
        record.detail = Some(format!(
            "the token's audience {:?} is not one of the provider's client ids {:?}",
            token.audience, provider.client_ids
        ));
        return Err((
            Check::Audience,
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidIdentityToken",
                INCORRECT_AUDIENCE_MESSAGE,
            ),
        ));
    }
    state
        .verifier
        .verify(&token, system_time(now))
        .await
        .map_err(|error| (Check::for_token_error(&error), token_error(&error)))?;
    let denied = || {
        (
            Check::TrustPolicy,
            AwsError::new(StatusCode::FORBIDDEN, "AccessDenied", ACCESS_DENIED_MESSAGE),
        )
    };
    let Some(role) = role.filter(|role| role.path == arn.path && role.name == arn.name) else {
        record.detail = Some(format!(
            "no role {} with path {} exists in account {account}",
            arn.name, arn.path
        ));
        return Err(denied());
    };
    let policy = state
        .policies
        .trust_policy(&role.trust_policy)
        .map_err(|error| {
            let (check, denial) = denied();
            (
                check,
                denial.with_detail(format!(
                    "the stored trust policy does not parse: {}",
                    error.message()
                )),
            )
        })?;
    let context = RequestContext::for_web_identity(
        &provider.url,
        &provider_arn,
        &token.claims,
        input.session_name,
        &provider.client_ids,
    );
    let decision = evaluate(&policy, &context);
    let allowed = decision.allowed();
    record.decision = Some(decision);
    if !allowed {
        return Err(denied());
    }
    if input.duration_seconds > role.max_session_duration {
        record.detail = Some(format!(
            "DurationSeconds {} > MaxSessionDuration {} of role {}",
            input.duration_seconds, role.max_session_duration, role.name
        ));
        return Err((
            Check::MaxSessionDuration,
            AwsError::validation(DURATION_EXCEEDS_MESSAGE),
        ));
    }
    let packed_policy_size = packed_policy_size(input.policy, &input.policy_arns)?;
    Ok(Grant {
        account_id: account.to_owned(),
        role_arn: format!(
            "arn:{}:iam::{account}:role{}{}",
            arn.partition, role.path, role.name
        ),
        assumed_role_arn: format!(
            "arn:{}:sts::{account}:assumed-role/{}/{}",
            arn.partition, role.name, input.session_name
        ),
        assumed_role_id: format!("{}:{}", role.role_id, input.session_name),
        provider_arn,
        provider_url: provider.url,
        audience: token.audience.clone(),
        subject: token.subject.clone(),
        duration_seconds: input.duration_seconds,
        session_policy: input.policy.map(str::to_owned),
        packed_policy_size,
    })
}

/// Step 11: the session policy parses, and it and the policy ARNs fit the packed space.
/// `PackedPolicySize` is the percentage used (whitespace not counted; each policy ARN counts
/// its length), `None` without a session policy or policy ARNs.
fn packed_policy_size(
    policy: Option<&str>,
    policy_arns: &[String],
) -> Result<Option<usize>, (Check, AwsError)> {
    if let Some(text) = policy {
        SessionPolicy::parse(text).map_err(|error| {
            (
                Check::SessionPolicy,
                AwsError::malformed_policy_document(error.message()),
            )
        })?;
    }
    if policy.is_none() && policy_arns.is_empty() {
        return Ok(None);
    }
    let used = policy.map_or(0, policy_size_without_whitespace)
        + policy_arns.iter().map(String::len).sum::<usize>();
    let percent = (used * 100).div_ceil(PACKED_POLICY_CAPACITY);
    if percent > 100 {
        return Err((
            Check::SessionPolicy,
            AwsError::new(
                StatusCode::BAD_REQUEST,
                "PackedPolicyTooLarge",
                format!(
                    "Packed policy consumes {percent}% of allotted space, please use smaller policy."
                ),
            ),
        ));
    }
    Ok(Some(percent))
}

/// The `AssumeRoleWithWebIdentityResult` inner XML.
fn result_xml(grant: &Grant, session: &Session) -> String {
    let mut xml = XmlWriter::at_depth(2);
    xml.leaf("Audience", &grant.audience)
        .open("AssumedRoleUser")
        .leaf("AssumedRoleId", &grant.assumed_role_id)
        .leaf("Arn", &grant.assumed_role_arn)
        .close("AssumedRoleUser")
        .leaf("Provider", &grant.provider_arn)
        .open("Credentials")
        .leaf("AccessKeyId", &session.access_key_id)
        .leaf("SecretAccessKey", &session.secret_access_key)
        .leaf("SessionToken", &session.session_token)
        .leaf("Expiration", &timestamp(session.expires_at))
        .close("Credentials")
        .leaf("SubjectFromWebIdentityToken", &grant.subject);
    if let Some(size) = grant.packed_policy_size {
        xml.leaf("PackedPolicySize", &size.to_string());
    }
    xml.finish()
}

/// The audit event of one AssumeRoleWithWebIdentity call (no token, secret or session token).
fn audit_event(
    state: &AppState,
    meta: &RequestMeta,
    record: &DecisionRecord,
    grant: Option<(&Grant, &Session)>,
) -> AuditEvent {
    let subject = record
        .claims
        .get("sub")
        .and_then(|sub| sub.as_str())
        .unwrap_or_default()
        .to_owned();
    let identity = crate::audit::UserIdentity {
        identity_type: "WebIdentityUser".to_owned(),
        principal_id: subject.clone(),
        user_name: (!subject.is_empty()).then_some(subject),
        identity_provider: record.issuer.as_ref().map(|issuer| {
            issuer
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .to_owned()
        }),
        arn: None,
        access_key_id: None,
        account_id: None,
    };
    let mut event = audit_identity(
        state,
        meta,
        "AssumeRoleWithWebIdentity",
        identity,
        record.recorded_at.clone(),
    );
    let mut parameters = json!({
        "roleArn": record.role_arn,
        "roleSessionName": record.role_session_name,
    });
    if let Some(duration) = record.duration_seconds {
        parameters["durationSeconds"] = json!(duration);
    }
    event.request_parameters = parameters;
    if let Some(error) = &record.error {
        event.error_code = Some(error.code.clone());
        event.error_message = Some(error.message.clone());
    }
    if let Some((grant, session)) = grant {
        let mut elements = json!({
            "credentials": {
                "accessKeyId": session.access_key_id,
                "expiration": timestamp(session.expires_at),
            },
            "subjectFromWebIdentityToken": grant.subject,
            "assumedRoleUser": {"assumedRoleId": grant.assumed_role_id, "arn": grant.assumed_role_arn},
            "provider": grant.provider_arn,
            "audience": grant.audience,
        });
        if let Some(size) = grant.packed_policy_size {
            elements["packedPolicySize"] = json!(size);
        }
        event.response_elements = elements;
    }
    event
}

/// The handler: evaluate, then on success mint credentials; the session, decision and audit
/// event are committed together before the response is sent.
pub async fn assume_role_with_web_identity(
    state: &AppState,
    params: &QueryParams,
    meta: &RequestMeta,
) -> Result<Option<String>, AwsError> {
    let now = state.config.clock.now();
    let Evaluation {
        mut record,
        outcome,
    } = evaluate_request(state, params, &meta.request_id, now, false).await;
    let grant = match outcome {
        Ok(grant) => grant,
        Err(error) => {
            let event = audit_event(state, meta, &record, None);
            super::persist(state, Some(&record), None, &event)
                .await
                .map_err(store_failure)?;
            return Err(error);
        }
    };
    let account_number = grant.account_id.parse::<u64>().unwrap_or(0);
    let expires_at = now + time::Duration::seconds(grant.duration_seconds);
    let mut attempt = 1;
    loop {
        let credentials = generate_session_credentials(
            account_number,
            system_time(expires_at),
            &mut rand::thread_rng(),
        );
        let session = Session {
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
            session_token: credentials.session_token,
            account_id: grant.account_id.clone(),
            role_arn: grant.role_arn.clone(),
            assumed_role_arn: grant.assumed_role_arn.clone(),
            assumed_role_id: grant.assumed_role_id.clone(),
            session_policy: grant.session_policy.clone(),
            subject: grant.subject.clone(),
            provider_arn: grant.provider_arn.clone(),
            request_id: meta.request_id.clone(),
            created_at: now,
            expires_at: expires_at.replace_nanosecond(0).unwrap_or(expires_at),
        };
        record.access_key_id = Some(session.access_key_id.clone());
        let event = audit_event(state, meta, &record, Some((&grant, &session)));
        let xml = result_xml(&grant, &session);
        match super::persist(state, Some(&record), Some(session), &event).await {
            Ok(()) => return Ok(Some(xml)),
            // A new access key id collided with a live session's: draw another.
            Err(error) if error.is_duplicate_key() && attempt < ACCESS_KEY_ATTEMPTS => {
                tracing::warn!(
                    attempt,
                    "generated access key id already in use; drawing another"
                );
                attempt += 1;
            }
            Err(error) => return Err(store_failure(error)),
        }
    }
}
