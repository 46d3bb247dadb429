//! `MalformedPolicyDocument`: why IAM refuses a policy document, in AWS's own words.
//!
//! Each message is a named constant so it can be corrected in one place when a better sample of
//! real AWS output turns up. Where a message comes from (observed AWS output, or our choice
//! where AWS's is unknown) is recorded next to it and in `docs/decisions.md`.

use std::fmt;

/// Not JSON at all. (observed) IAM CreateRole with a non-JSON document
/// (aws-samples/aws-microservices-deploy-options#118).
pub const MESSAGE_INVALID_JSON: &str = "This policy contains invalid Json";
/// JSON whose structure breaks the grammar (wrong types, unknown elements, duplicate keys,
/// unknown condition operators, bad Version). (observed) cfn-lint#3751, boto3#180; spec §4.1.
pub const MESSAGE_SYNTAX_ERRORS: &str = "Syntax errors in policy.";
/// `Effect` spelt with the wrong case (`allow`). (observed) hashicorp/terraform#10057.
pub const MESSAGE_LEGACY_PARSING: &str = "The policy failed legacy parsing";
/// Two statements share a `Sid`. moto/LocalStack copy of IAM's validator (third-party copy).
pub const MESSAGE_DUPLICATE_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
/// A `Sid` with characters other than `[0-9A-Za-z]` (IAM's documented rule). wording inferred.
pub const MESSAGE_SID_NOT_ALPHANUMERIC: &str = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
/// A statement with neither `Action` nor `NotAction`. moto/LocalStack (third-party copy).
pub const MESSAGE_MISSING_ACTIONS: &str = "Policy statement must contain actions.";
/// An action without a `vendor:` prefix. moto/LocalStack (third-party copy).
pub const MESSAGE_ACTION_WITHOUT_VENDOR: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
/// An action with two colons. (observed) garnaat/kappa#111.
pub const MESSAGE_ACTION_TWO_COLONS: &str = "Actions/Condition can contain only one colon.";
/// A trust-policy action outside STS's assume-role family. (observed)
/// hashicorp/terraform-provider-aws#32872 (`sts:TagSessions` refused at CreateRole).
pub const MESSAGE_TRUST_POLICY_ACTIONS: &str =
    "AssumeRole policy may only specify STS AssumeRole actions.";
/// A trust-policy statement without `Principal`. (observed) terraform-aws-modules/terraform-aws-iam#47.
pub const MESSAGE_NO_PRINCIPALS: &str = "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!";
/// A Federated principal that names no existing provider (checked by IAM against its store,
/// not by the grammar). (observed) terraform-aws-iam#202, pulumi-eks#871.
pub const MESSAGE_FEDERATED_PRINCIPAL_UNKNOWN: &str =
    "Federated principals must be valid domain names or SAML metadata ARNs";
/// A session (permissions) policy with a `Principal`. (observed) hashicorp/terraform#13449.
pub const MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY: &str =
    "Policy document should not specify a principal.";
/// A permissions-policy statement without `Resource`. moto/LocalStack (third-party copy).
pub const MESSAGE_MISSING_RESOURCES: &str = "Policy statement must contain resources.";

/// A policy document IAM would refuse with `MalformedPolicyDocument` (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MalformedPolicyError {
    message: String,
    detail: String,
}

impl MalformedPolicyError {
    /// An error with AWS's `message` and our own `detail` (which element, why) for logs and
    /// `lint`; the detail never goes on the wire.
    pub(crate) fn new(message: &str, detail: impl Into<String>) -> Self {
        Self {
            message: message.to_owned(),
            detail: detail.into(),
        }
    }

    /// The trust policy names a Federated principal that is not a provider in the account:
    /// for IAM's CreateRole/UpdateAssumeRolePolicy after checking
    /// [`super::TrustPolicy::federated_principals`] against its store.
    pub fn federated_principal_not_found(principal: &str) -> Self {
        Self::new(
            MESSAGE_FEDERATED_PRINCIPAL_UNKNOWN,
            format!("no identity provider {principal} exists in the account"),
        )
    }

    /// AWS's `MalformedPolicyDocument` message, exactly as the wire carries it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What exactly is wrong, for logs and the CLI (never sent to AWS clients).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for MalformedPolicyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.message, self.detail)
    }
}
