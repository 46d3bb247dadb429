//! Hints: the likely causes of a denial, each with a stable code that tests and tools match on
//! (never on prose). Computed from the evaluated statements and the request context.
//!
//! | code | when |
//! |---|---|
//! | `sub_v1_where_v2_expected` | a `sub` condition expects a V2 subject (`/vcs-origin/`), the token's is V1 |
//! | `sub_v2_where_v1_expected` | a `sub` condition matches the token's subject cut to its V1 form, but the token's is V2 |
//! | `string_equals_with_wildcard` | a `StringEquals` value holds `*` or `?`, which it compares literally |
//! | `case_mismatch` | a case-sensitive comparison (or the Federated principal) differs only in case |
//! | `unsupported_condition_key` | the key names a claim AWS does not expose for this provider |
//! | `condition_key_other_provider` | the key is prefixed by another provider's URL |
//! | `principal_other_provider` | `Principal.Federated` names other providers, not the requester |
//! | `audience_not_in_provider` | the token's audience, or the audience a condition expects, is not a client id of the provider |
//! | `policy_variable_absent` | a `${…}` variable names a key the request lacks |
//! | `action_not_covered` | the statement trusts the requester but its actions do not cover the request |

use serde::{Deserialize, Serialize};

use super::context::{RequestContext, supported_claims};
use super::decision::{ConditionEvaluation, Decision, Effect, StatementEvaluation};
use super::document::StatementEffect;
use super::operators::BaseOperator;
use super::wildcard::{has_wildcard, wildcard_match};

/// The stable hint codes (serialised in snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HintCode {
    /// The policy expects a V2 `sub`; the token has a V1 one.
    SubV1WhereV2Expected,
    /// The policy expects a V1 `sub`; the token has a V2 one.
    SubV2WhereV1Expected,
    /// `StringEquals` with `*` or `?` (use `StringLike`).
    StringEqualsWithWildcard,
    /// Values differ only in letter case.
    CaseMismatch,
    /// A condition key AWS does not provide for this provider.
    UnsupportedConditionKey,
    /// A condition key of a different provider.
    ConditionKeyOtherProvider,
    /// The Principal names a different provider.
    PrincipalOtherProvider,
    /// An audience the provider does not list as a client id.
    AudienceNotInProvider,
    /// A policy variable names an absent key.
    PolicyVariableAbsent,
    /// The statement names the requester but not the requested action.
    ActionNotCovered,
}

impl HintCode {
    /// The stable code, e.g. `case_mismatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            HintCode::SubV1WhereV2Expected => "sub_v1_where_v2_expected",
            HintCode::SubV2WhereV1Expected => "sub_v2_where_v1_expected",
            HintCode::StringEqualsWithWildcard => "string_equals_with_wildcard",
            HintCode::CaseMismatch => "case_mismatch",
            HintCode::UnsupportedConditionKey => "unsupported_condition_key",
            HintCode::ConditionKeyOtherProvider => "condition_key_other_provider",
            HintCode::PrincipalOtherProvider => "principal_other_provider",
            HintCode::AudienceNotInProvider => "audience_not_in_provider",
            HintCode::PolicyVariableAbsent => "policy_variable_absent",
            HintCode::ActionNotCovered => "action_not_covered",
        }
    }
}

/// One likely cause of a denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// The stable code.
    pub code: HintCode,
    /// The statement concerned, if any.
    pub statement: Option<usize>,
    /// The condition concerned (index within the statement), if any.
    pub condition: Option<usize>,
    /// The condition key concerned, if any.
    pub key: Option<String>,
    /// What the policy expects.
    pub expected: Vec<String>,
    /// What the request has.
    pub actual: Vec<String>,
    /// A readable explanation with the fix.
    pub message: String,
}

/// The marker of a V2 subject (circleci-oidc §1.6).
const V2_MARKER: &str = "/vcs-origin/";

/// Every hint for `decision`: the context-level audience check always, the rest for denials.
pub(crate) fn hints_for(decision: &Decision, context: &RequestContext) -> Vec<Hint> {
    let mut hints = Vec::new();
    audience_of_token(context, &mut hints);
    if decision.effect != Effect::Allow {
        for statement in &decision.statements {
            if statement.effect != StatementEffect::Allow || statement.applies {
                continue;
            }
            principal_hints(statement, context, &mut hints);
            action_hint(statement, context, &mut hints);
            for (index, condition) in statement.conditions.iter().enumerate() {
                if !condition.result {
                    condition_hints(statement.index, index, condition, context, &mut hints);
                }
            }
        }
    }
    hints
}

/// The token's audience is not a client id of the provider (STS refuses such tokens with
/// "Incorrect token audience" before the policy; `explain --token` still shows why).
fn audience_of_token(context: &RequestContext, hints: &mut Vec<Hint>) {
    let key = format!("{}:oaud", context.provider_url);
    let Some(audiences) = context.get(&key) else {
        return;
    };
    if context.provider_client_ids.is_empty()
        || audiences
            .values
            .iter()
            .any(|audience| context.provider_client_ids.contains(audience))
    {
        return;
    }
    hints.push(Hint {
        code: HintCode::AudienceNotInProvider,
        statement: None,
        condition: None,
        key: Some(format!("{}:aud", context.provider_url)),
        expected: context.provider_client_ids.clone(),
        actual: audiences.values.clone(),
        message: "the token's audience is not a client id of the provider; STS rejects it with \
                  \"Incorrect token audience\". Add it with add-client-id-to-open-id-connect-provider \
                  or mint the token with the provider's audience"
            .to_owned(),
    });
}

/// `principal_other_provider` or a case-only principal mismatch.
fn principal_hints(
    statement: &StatementEvaluation,
    context: &RequestContext,
    hints: &mut Vec<Hint>,
) {
    if statement.principal.matched {
        return;
    }
    let federated: Vec<String> = statement
        .principal
        .listed
        .iter()
        .filter_map(|listed| listed.strip_prefix("Federated "))
        .map(str::to_owned)
        .collect();
    if federated.is_empty() {
        return;
    }
    let requester = &context.provider_arn;
    let case_only = federated
        .iter()
        .any(|listed| listed.eq_ignore_ascii_case(requester));
    let (code, message) = if case_only {
        (
            HintCode::CaseMismatch,
            "the Federated principal differs from the provider ARN only in letter case; \
             principal ARNs compare case-sensitively",
        )
    } else {
        (
            HintCode::PrincipalOtherProvider,
            "the statement trusts a different identity provider than the one that issued the \
             token; name this provider's ARN in Principal.Federated",
        )
    };
    hints.push(Hint {
        code,
        statement: Some(statement.index),
        condition: None,
        key: None,
        expected: federated,
        actual: vec![requester.clone()],
        message: message.to_owned(),
    });
}

/// `action_not_covered`: the usual cause is `sts:AssumeRole` written for an OIDC principal.
fn action_hint(statement: &StatementEvaluation, context: &RequestContext, hints: &mut Vec<Hint>) {
    if !statement.principal.matched || statement.action.matched {
        return;
    }
    hints.push(Hint {
        code: HintCode::ActionNotCovered,
        statement: Some(statement.index),
        condition: None,
        key: None,
        expected: statement.action.patterns.clone(),
        actual: vec![context.action.clone()],
        message: format!(
            "the statement trusts this provider but its {} does not cover {}; web identity \
             federation needs \"Action\": \"sts:AssumeRoleWithWebIdentity\"",
            statement.action.element, context.action
        ),
    });
}

/// The hints for one failed condition.
fn condition_hints(
    statement: usize,
    index: usize,
    condition: &ConditionEvaluation,
    context: &RequestContext,
    hints: &mut Vec<Hint>,
) {
    let expected = condition
        .expected_resolved
        .clone()
        .unwrap_or_else(|| condition.expected.clone());
    let actual = condition.actual.clone().unwrap_or_default();
    let mut push = |code: HintCode, message: String, actual: Vec<String>| {
        hints.push(Hint {
            code,
            statement: Some(statement),
            condition: Some(index),
            key: Some(condition.key.clone()),
            expected: expected.clone(),
            actual,
            message,
        });
    };
    if let Some(variable) = &condition.missing_variable {
        push(
            HintCode::PolicyVariableAbsent,
            format!(
                "the policy variable ${{{variable}}} names a key this request does not have, which makes the condition false; add a default: ${{{variable}, 'value'}}"
            ),
            actual.clone(),
        );
    }
    let base = condition.base_operator;
    if condition.actual.is_none() {
        absent_key_hints(condition, context, &mut push);
        return;
    }
    if matches!(
        base,
        BaseOperator::StringEquals | BaseOperator::StringEqualsIgnoreCase
    ) && expected.iter().any(|value| has_wildcard(value))
    {
        let like_would_match = expected
            .iter()
            .any(|pattern| actual.iter().any(|value| wildcard_match(pattern, value)));
        push(
            HintCode::StringEqualsWithWildcard,
            format!(
                "{} compares * and ? literally; use StringLike for wildcards{}",
                condition.operator,
                if like_would_match {
                    " (StringLike would match this request)"
                } else {
                    ""
                }
            ),
            actual.clone(),
        );
    }
    if matches!(base, BaseOperator::StringEquals | BaseOperator::StringLike) {
        let case_only = expected.iter().any(|pattern| {
            actual.iter().any(|value| {
                let (pattern, value) = (pattern.to_lowercase(), value.to_lowercase());
                if base == BaseOperator::StringLike {
                    wildcard_match(&pattern, &value)
                } else {
                    pattern == value
                }
            })
        });
        if case_only {
            push(
                HintCode::CaseMismatch,
                format!(
                    "the values differ only in letter case; {} is case-sensitive (use \
                     StringEqualsIgnoreCase, or fix the case)",
                    condition.operator
                ),
                actual.clone(),
            );
        }
    }
    let claim = context.claim_name_of_key(&condition.key);
    if claim.is_some_and(|claim| claim.eq_ignore_ascii_case("sub")) {
        subject_shape_hints(condition, &expected, &actual, &mut push);
    }
    if claim.is_some_and(|claim| claim.eq_ignore_ascii_case("aud"))
        && !context.provider_client_ids.is_empty()
        && !expected
            .iter()
            .any(|value| context.provider_client_ids.contains(value))
    {
        push(
            HintCode::AudienceNotInProvider,
            "the policy expects an audience the provider does not list as a client id, so no \
             token this provider accepts can satisfy it (CircleCI's default audience is the org id)"
                .to_owned(),
            actual.clone(),
        );
    }
}

/// Hints for a condition whose key the request lacks.
fn absent_key_hints(
    condition: &ConditionEvaluation,
    context: &RequestContext,
    push: &mut dyn FnMut(HintCode, String, Vec<String>),
) {
    if let Some(claim) = context.claim_name_of_key(&condition.key) {
        let supported = supported_claims(&context.provider_url);
        if !supported
            .iter()
            .any(|known| known.eq_ignore_ascii_case(claim))
        {
            let token_values = context
                .unexposed_claim_for_key(&condition.key)
                .map(|entry| entry.values.clone())
                .unwrap_or_default();
            push(
                HintCode::UnsupportedConditionKey,
                format!(
                    "AWS does not expose the claim {claim:?} as a condition key for this provider \
                     (supported: {}), so the key is always absent{}",
                    supported.join(", "),
                    if token_values.is_empty() {
                        String::new()
                    } else {
                        " even though the token carries it".to_owned()
                    }
                ),
                token_values,
            );
        }
        return;
    }
    if let Some((prefix, _claim)) = condition.key.rsplit_once(':') {
        let looks_like_provider = prefix.contains('.') || prefix.contains('/');
        if looks_like_provider && !prefix.eq_ignore_ascii_case(&context.provider_url) {
            let without_scheme = prefix
                .strip_prefix("https://")
                .or_else(|| prefix.strip_prefix("http://"));
            let message = if without_scheme
                .is_some_and(|rest| rest.eq_ignore_ascii_case(&context.provider_url))
            {
                format!(
                    "the key's provider part {prefix:?} has a URL scheme; condition keys use the \
                     provider URL without it: {}:…",
                    context.provider_url
                )
            } else {
                format!(
                    "the key is prefixed by {prefix:?}, but this request's provider is {:?}; \
                     condition keys start with the provider URL",
                    context.provider_url
                )
            };
            push(HintCode::ConditionKeyOtherProvider, message, Vec::new());
        }
    }
}

/// `sub_v1_where_v2_expected` / `sub_v2_where_v1_expected`.
fn subject_shape_hints(
    condition: &ConditionEvaluation,
    expected: &[String],
    actual: &[String],
    push: &mut dyn FnMut(HintCode, String, Vec<String>),
) {
    let Some(subject) = actual.first() else {
        return;
    };
    let wildcards = condition.base_operator.uses_wildcards();
    let policy_expects_v2 = expected.iter().any(|value| value.contains(V2_MARKER));
    if let Some(v2_start) = subject.find(V2_MARKER) {
        let v1_form = &subject[..v2_start];
        let v1_matches = expected.iter().any(|pattern| {
            if wildcards {
                wildcard_match(pattern, v1_form)
            } else {
                pattern == v1_form
            }
        });
        if !policy_expects_v2 && v1_matches {
            push(
                HintCode::SubV2WhereV1Expected,
                "the token has a V2 subject (…/vcs-origin/…/vcs-ref/…, from CIRCLE_OIDC_TOKEN_V2) \
                 but the policy expects the V1 form; append /* with StringLike, or use \
                 CIRCLE_OIDC_TOKEN"
                    .to_owned(),
                actual.to_vec(),
            );
        }
    } else if policy_expects_v2 {
        push(
            HintCode::SubV1WhereV2Expected,
            "the token has a V1 subject (org/…/project/…/user/…, from CIRCLE_OIDC_TOKEN) but the \
             policy expects a V2 subject with vcs-origin and vcs-ref; use CIRCLE_OIDC_TOKEN_V2"
                .to_owned(),
            actual.to_vec(),
        );
    }
}
