//! The explained decision of one `AssumeRoleWithWebIdentity` (or `/_keyless/explain`) request,
//! as stored under its RequestId and served by `GET /_keyless/decisions/{request-id}`. It holds
//! the claims that mattered, never the raw token.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::AwsError;
use crate::policy::Decision;
use crate::verify::TokenError;

/// Claims copied from a token into its decision (everything else, including the signature, is
/// left out).
pub const RECORDED_CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "amr",
    "exp",
    "iat",
    "nbf",
    "oidc.circleci.com/project-id",
    "oidc.circleci.com/vcs-origin",
    "oidc.circleci.com/vcs-ref",
    "oidc.circleci.com/context-ids",
];

/// The check of spec §2.4 that refused a request (in check order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Step 1: parameter constraints (`ValidationError`).
    Parameters,
    /// Step 2: the role ARN's syntax.
    RoleArn,
    /// Step 3: the token's structure, header and algorithm.
    TokenFormat,
    /// Step 4: required claims.
    RequiredClaims,
    /// Step 5: an IAM OIDC provider for the token's `iss` in the role's account.
    Provider,
    /// Step 6: the audience is one of the provider's client ids.
    Audience,
    /// Step 7: the issuer's keys and the signature.
    Signature,
    /// Step 8: `exp`, `nbf`, `iat`.
    TokenTime,
    /// Step 9: the role exists and its trust policy allows the request.
    TrustPolicy,
    /// Step 10: `DurationSeconds` ≤ the role's `MaxSessionDuration`.
    MaxSessionDuration,
    /// Step 11: the session policy.
    SessionPolicy,
}

impl Check {
    /// The stable name (`trust_policy`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Parameters => "parameters",
            Check::RoleArn => "role_arn",
            Check::TokenFormat => "token_format",
            Check::RequiredClaims => "required_claims",
            Check::Provider => "provider",
            Check::Audience => "audience",
            Check::Signature => "signature",
            Check::TokenTime => "token_time",
            Check::TrustPolicy => "trust_policy",
            Check::MaxSessionDuration => "max_session_duration",
            Check::SessionPolicy => "session_policy",
        }
    }

    /// The check a token error belongs to.
    pub fn for_token_error(error: &TokenError) -> Check {
        match error {
            TokenError::Malformed { .. } => Check::TokenFormat,
            TokenError::MissingClaim { .. } | TokenError::MultipleAudiences { .. } => {
                Check::RequiredClaims
            }
            TokenError::KeyRetrieval { .. } | TokenError::BadSignature { .. } => Check::Signature,
            TokenError::Expired { .. }
            | TokenError::TooOld { .. }
            | TokenError::NotYetValid { .. }
            | TokenError::IssuedInFuture { .. } => Check::TokenTime,
        }
    }
}

/// The error a refused request was answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    /// `<Code>`.
    pub code: String,
    /// HTTP status.
    pub status: u16,
    /// `<Message>`.
    pub message: String,
}

impl From<&AwsError> for RecordedError {
    fn from(error: &AwsError) -> Self {
        RecordedError {
            code: error.code.to_string(),
            status: error.status.as_u16(),
            message: error.message.clone(),
        }
    }
}

/// Everything about one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// The RequestId of the response (or of the explain call).
    pub request_id: String,
    /// When it was decided (ISO-8601 UTC).
    pub recorded_at: String,
    /// `sts:AssumeRoleWithWebIdentity`.
    pub action: String,
    /// Whether credentials were (or would be) issued.
    pub allowed: bool,
    /// `true` for `/_keyless/explain` evaluations, which issue nothing.
    pub dry_run: bool,
    /// The check that refused the request; `None` when allowed.
    pub failed_check: Option<Check>,
    /// The error the client got; `None` when allowed.
    pub error: Option<RecordedError>,
    /// What exactly failed, beyond AWS's message (never a secret).
    pub detail: Option<String>,
    /// `RoleArn` as sent.
    pub role_arn: Option<String>,
    /// `RoleSessionName` as sent.
    pub role_session_name: Option<String>,
    /// `DurationSeconds` in effect.
    pub duration_seconds: Option<i64>,
    /// The token's `iss`.
    pub issuer: Option<String>,
    /// The provider the token was matched to.
    pub provider_arn: Option<String>,
    /// That provider's client ids.
    pub provider_client_ids: Vec<String>,
    /// The claims that mattered ([`RECORDED_CLAIMS`]), never the token itself.
    pub claims: Map<String, Value>,
    /// The trust-policy evaluation, when it was reached.
    pub decision: Option<Decision>,
    /// The access key id issued, when allowed (never the secret or session token).
    pub access_key_id: Option<String>,
}

impl DecisionRecord {
    /// A readable explanation: the request, which check decided, the token's claims, then the
    /// trust policy's statement-by-statement evaluation with its hints.
    pub fn render_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "request {} at {}{}",
            self.request_id,
            self.recorded_at,
            if self.dry_run {
                " (explain only, nothing issued)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            text,
            "{} on {} as session {}",
            self.action,
            self.role_arn.as_deref().unwrap_or("(no RoleArn)"),
            self.role_session_name
                .as_deref()
                .unwrap_or("(no RoleSessionName)")
        );
        match (&self.failed_check, &self.error) {
            (None, _) => {
                let _ = writeln!(text, "outcome: allowed");
            }
            (Some(check), Some(error)) => {
                let _ = writeln!(
                    text,
                    "outcome: denied at check {}: {} (HTTP {}) {}",
                    check.as_str(),
                    error.code,
                    error.status,
                    error.message
                );
            }
            (Some(check), None) => {
                let _ = writeln!(text, "outcome: denied at check {}", check.as_str());
            }
        }
        if let Some(detail) = &self.detail {
            let _ = writeln!(text, "detail: {detail}");
        }
        if let Some(provider) = &self.provider_arn {
            let _ = writeln!(
                text,
                "provider: {provider} (client ids: {})",
                self.provider_client_ids.join(", ")
            );
        }
        if !self.claims.is_empty() {
            let _ = writeln!(text, "token claims:");
            for (name, value) in &self.claims {
                let shown = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let _ = writeln!(text, "  {name} = {shown}");
            }
        }
        if let Some(decision) = &self.decision {
            let _ = writeln!(text, "trust policy:");
            text.push_str(&decision.render_text());
        }
        text
    }
}

/// The [`RECORDED_CLAIMS`] present in `claims`.
pub fn recorded_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    RECORDED_CLAIMS
        .iter()
        .filter_map(|name| {
            claims
                .get(*name)
                .map(|value| ((*name).to_owned(), value.clone()))
        })
        .collect()
}
