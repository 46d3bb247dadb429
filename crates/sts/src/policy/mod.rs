//! IAM trust policies for `sts:AssumeRoleWithWebIdentity` (`spec/aws-sts-iam.md` §4): the
//! grammar IAM enforces at CreateRole/UpdateAssumeRolePolicy, the request context STS builds from
//! a verified token, and a pure engine whose [`Decision`]s explain themselves.
//!
//! ```text
//! TrustPolicy::parse(text) ──► TrustPolicy ─┐
//!                                            ├─► evaluate ──► Decision { effect, decisive statement,
//! RequestContext::for_web_identity(…) ──────┘                 every check, hints } ──► render_text()
//! ```
//!
//! Files: `grammar.rs` (validation, with AWS's MalformedPolicyDocument messages in `error.rs`),
//! `document.rs` (the parsed shapes), `operators.rs`, `wildcard.rs`, `variables.rs`,
//! `context.rs`, `engine.rs`, `decision.rs`, `hints.rs`.

mod cache;
mod context;
mod decision;
mod document;
mod engine;
mod error;
mod grammar;
mod hints;
mod json;
mod operators;
mod variables;
mod wildcard;

#[cfg(test)]
mod conformance_circleci_tests;
#[cfg(test)]
mod conformance_set_tests;
#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod conformance_variable_tests;
#[cfg(test)]
mod cookbook_tests;
#[cfg(test)]
mod grammar_tests;
#[cfg(test)]
mod hint_tests;
#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod test_support;

pub use cache::{PARSED_POLICY_CAPACITY, ParsedPolicies};
pub use context::{
    CIRCLECI_PROJECT_ID_CLAIM, ContextEntry, GENERIC_PROVIDER_KEYS, RequestContext,
    WEB_IDENTITY_ACTION, is_circleci_provider, supported_claims,
};
pub use decision::{
    ActionEvaluation, ConditionEvaluation, Decision, Effect, PrincipalEvaluation,
    StatementEvaluation,
};
pub use document::{
    ActionElement, ConditionEntry, PolicyVersion, PrincipalElement, SessionPolicy, Statement,
    StatementEffect, TrustPolicy, policy_size_without_whitespace,
};
pub use engine::evaluate;
pub use error::{
    MESSAGE_ACTION_TWO_COLONS, MESSAGE_ACTION_WITHOUT_VENDOR, MESSAGE_DUPLICATE_SID,
    MESSAGE_FEDERATED_PRINCIPAL_UNKNOWN, MESSAGE_INVALID_JSON, MESSAGE_LEGACY_PARSING,
    MESSAGE_MISSING_ACTIONS, MESSAGE_MISSING_RESOURCES, MESSAGE_NO_PRINCIPALS,
    MESSAGE_PRINCIPAL_IN_PERMISSIONS_POLICY, MESSAGE_SID_NOT_ALPHANUMERIC, MESSAGE_SYNTAX_ERRORS,
    MESSAGE_TRUST_POLICY_ACTIONS, MalformedPolicyError,
};
pub use hints::{Hint, HintCode};
pub use operators::{BaseOperator, ConditionOperator, SetOperator};
pub use wildcard::wildcard_match;
