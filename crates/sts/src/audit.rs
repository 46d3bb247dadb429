//! An audit log shaped like AWS CloudTrail's management events, for the two STS calls a job
//! makes: `AssumeRoleWithWebIdentity` and `GetCallerIdentity`.
//!
//! Field names follow CloudTrail's record contents (`eventVersion`, `userIdentity`,
//! `eventTime`, `eventSource`, `eventName`, `requestParameters`, `responseElements`,
//! `errorCode`, `errorMessage`, `requestID`, `eventID`, …) so tools that read CloudTrail read
//! these. An event never holds a secret: no web identity token, no secret access key, no session
//! token; only the access key id identifies credentials.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The CloudTrail record version these events imitate.
pub const EVENT_VERSION: &str = "1.08";

/// Who made the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `WebIdentityUser` for AssumeRoleWithWebIdentity, `AssumedRole` or `IAMUser` for signed
    /// calls.
    #[serde(rename = "type")]
    pub identity_type: String,
    /// For web identities, the token's `sub`; for signed calls, `RoleId:session` or the user id.
    pub principal_id: String,
    /// For web identities, the token's `sub` as well (CloudTrail's `userName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// For web identities, the provider URL without scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// For signed calls, the caller's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// For signed calls, the access key id used (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The account the identity belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Always [`EVENT_VERSION`].
    pub event_version: String,
    /// Who called.
    pub user_identity: UserIdentity,
    /// When, ISO-8601 UTC with seconds (`2026-11-26T01:10:22Z`).
    pub event_time: String,
    /// `sts.amazonaws.com`.
    pub event_source: String,
    /// The action, e.g. `AssumeRoleWithWebIdentity`.
    pub event_name: String,
    /// The region from the request's credential scope, or the service's default.
    pub aws_region: String,
    /// The caller's address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The caller's `User-Agent`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The AWS error code when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The AWS error message when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The parameters, without the token (CloudTrail omits it too).
    pub request_parameters: Value,
    /// What was returned, without secrets; `null` on failure.
    pub response_elements: Value,
    /// The response's `RequestId`.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// A unique id for this record.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Both audited calls only read.
    pub read_only: bool,
    /// `AwsApiCall`.
    pub event_type: String,
    /// The account whose resources were used.
    pub recipient_account_id: String,
}

impl AuditEvent {
    /// A record with CloudTrail's constant fields filled in.
    pub fn new(
        event_name: &str,
        user_identity: UserIdentity,
        event_time: String,
        request_id: String,
        recipient_account_id: String,
    ) -> Self {
        Self {
            event_version: EVENT_VERSION.to_owned(),
            user_identity,
            event_time,
            event_source: "sts.amazonaws.com".to_owned(),
            event_name: event_name.to_owned(),
            aws_region: "us-east-1".to_owned(),
            source_ip_address: String::new(),
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            request_id,
            event_id: crate::identifiers::random_uuid().to_string(),
            read_only: true,
            event_type: "AwsApiCall".to_owned(),
            recipient_account_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialise_with_cloudtrail_field_names() {
        let identity = UserIdentity {
            identity_type: "WebIdentityUser".into(),
            principal_id: "org/o/project/p/user/u".into(),
            user_name: Some("org/o/project/p/user/u".into()),
            identity_provider: Some("oidc.circleci.com/org/o".into()),
            arn: None,
            access_key_id: None,
            account_id: None,
        };
        let mut event = AuditEvent::new(
            "AssumeRoleWithWebIdentity",
            identity,
            "2026-11-26T01:10:22Z".into(),
            "req-1".into(),
            "123456789012".into(),
        );
        event.error_code = Some("AccessDenied".into());
        let json = serde_json::to_value(&event).unwrap();
        for field in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "errorCode",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "eventType",
            "recipientAccountId",
        ] {
            assert!(json.get(field).is_some(), "missing {field}: {json}");
        }
        assert_eq!(json["userIdentity"]["type"], json!("WebIdentityUser"));
        assert_eq!(
            json["userIdentity"]["identityProvider"],
            json!("oidc.circleci.com/org/o")
        );
        assert!(json.get("errorMessage").is_none());
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
