//! The one HTTP error type of keyless-sts: an AWS Query-protocol error with its HTTP status,
//! stable `Code`, the message the client sees, and a detail that only goes to the log.
//!
//! Rendering (the `<ErrorResponse>` envelope of spec `aws-sts-iam.md` §1) lives in
//! [`crate::xml`]; the server adds the request id and the namespace of the service that answered.
//! Domain errors (the store's, the policy parser's, the SigV4 verifier's) convert into this type
//! and never leak internals: a `ServiceFailure` says only what AWS says.

use std::borrow::Cow;

use http::StatusCode;

use crate::store::StoreError;

/// The message AWS's modeled `ServiceFailureException` carries (IAM model documentation).
pub const SERVICE_FAILURE_MESSAGE: &str =
    "The request processing has failed because of an unknown error, exception or failure.";

/// An error answer in AWS's shape: status, code, message, plus a log-only detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status (spec §2.5, §5.2, §6.3 tables).
    pub status: StatusCode,
    /// The stable `<Code>` clients map to exceptions (e.g. `NoSuchEntity`).
    pub code: Cow<'static, str>,
    /// The `<Message>` the client sees, byte-exact where the spec quotes AWS.
    pub message: String,
    /// What went wrong internally; logged, never sent.
    pub detail: Option<String>,
}

impl AwsError {
    /// An error with the given status, code and client message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            detail: None,
        }
    }

    /// Attaches a log-only detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `Sender` for 4xx, `Receiver` for 5xx (spec §1).
    pub fn fault_type(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// `ServiceFailure` 500: something broke on our side; `detail` is logged only.
    pub fn service_failure(detail: impl Into<String>) -> Self {
        AwsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceFailure",
            SERVICE_FAILURE_MESSAGE,
        )
        .with_detail(detail)
    }

    /// `ValidationError` 400 with a literal message (e.g. "Request ARN is invalid").
    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// `InvalidInput` 400 (IAM's modeled error for semantically bad input).
    pub fn invalid_input(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    /// `NoSuchEntity` 404.
    pub fn no_such_entity(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
    }

    /// `EntityAlreadyExists` 409.
    pub fn entity_already_exists(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::CONFLICT, "EntityAlreadyExists", message)
    }

    /// `LimitExceeded` 409.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::CONFLICT, "LimitExceeded", message)
    }

    /// `MalformedPolicyDocument` 400.
    pub fn malformed_policy_document(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", message)
    }

    /// `InvalidAction` 400: the Action is not an operation of the requested API version.
    /// Message as AWS sends it ("Could not find operation GetSendQuota for version 2009-10-16",
    /// aws/aws-cli#37, django-ses#158); see docs/decisions.md.
    pub fn invalid_action(action: &str, version: &str) -> Self {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        )
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} ({}): {}",
            self.code, self.status, self.message
        )
    }
}

impl std::error::Error for AwsError {}

impl From<StoreError> for AwsError {
    fn from(error: StoreError) -> Self {
        AwsError::service_failure(error.to_string())
    }
}

/// Collects Coral-style constraint violations (spec §1) and renders them as one
/// `ValidationError`: `N validation error(s) detected: Value 'v' at 'member' failed to satisfy
/// constraint: Member must …; …`.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<String>,
}

impl Violations {
    /// An empty collector.
    pub fn new() -> Self {
        Violations::default()
    }

    /// Records that `value` at `member` (lowerCamelCase) broke `constraint`.
    pub fn push(&mut self, value: Option<&str>, member: &str, constraint: &str) {
        let value = match value {
            Some(value) => format!("Value '{value}'"),
            None => "Value null".to_owned(),
        };
        self.items.push(format!(
            "{value} at '{member}' failed to satisfy constraint: Member must {constraint}"
        ));
    }

    /// Records that the sensitive member `member` broke `constraint`, without its value (a
    /// token never goes back on the wire).
    pub fn push_sensitive(&mut self, member: &str, constraint: &str) {
        self.items.push(format!(
            "Value at '{member}' failed to satisfy constraint: Member must {constraint}"
        ));
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `Ok(())` when empty, else the combined `ValidationError`.
    pub fn into_result(self) -> Result<(), AwsError> {
        match self.items.len() {
            0 => Ok(()),
            1 => Err(AwsError::validation(format!(
                "1 validation error detected: {}",
                self.items[0]
            ))),
            count => Err(AwsError::validation(format!(
                "{count} validation errors detected: {}",
                self.items.join("; ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_reads_like_coral() {
        let mut violations = Violations::new();
        violations.push(
            Some("dependabot[bot]"),
            "roleSessionName",
            "satisfy regular expression pattern: [\\w+=,.@-]*",
        );
        let error = violations.into_result().unwrap_err();
        assert_eq!(error.code, "ValidationError");
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            error.message,
            "1 validation error detected: Value 'dependabot[bot]' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let mut violations = Violations::new();
        violations.push(
            Some(""),
            "roleArn",
            "have length greater than or equal to 20",
        );
        violations.push(None, "roleSessionName", "not be null");
        assert_eq!(
            violations.into_result().unwrap_err().message,
            "2 validation errors detected: Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn fault_type_follows_status_class() {
        assert_eq!(AwsError::validation("x").fault_type(), "Sender");
        assert_eq!(AwsError::service_failure("disk").fault_type(), "Receiver");
        assert_eq!(
            AwsError::service_failure("disk").message,
            SERVICE_FAILURE_MESSAGE
        );
    }
}
