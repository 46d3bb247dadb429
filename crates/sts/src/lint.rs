//! `keyless-sts lint POLICY.json`: static findings about a trust policy, in IAM Access
//! Analyzer's model (finding type, stable issue code, location as a JSON path, message).
//!
//! AWS accepts every policy these findings describe (so CreateRole only logs them); they are the
//! mistakes that make a CI trust policy either useless (it can never match) or dangerous (any
//! project, or anyone, can assume the role). The CLI exits non-zero when
//! [`has_blocking_findings`] is true (an ERROR or SECURITY_WARNING). Issue codes are listed in
//! `docs/trust-policy-engine.md`.

use serde::{Deserialize, Serialize};

use crate::policy::{
    ActionElement, BaseOperator, ConditionEntry, MalformedPolicyError, PrincipalElement,
    SetOperator, Statement, StatementEffect, TrustPolicy, WEB_IDENTITY_ACTION, supported_claims,
    wildcard_match,
};

mod restrictions;
#[cfg(test)]
mod tests;

/// Access Analyzer's finding types, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingType {
    /// The policy cannot work as intended (or is invalid).
    Error,
    /// The policy grants more access than intended.
    SecurityWarning,
    /// The policy probably does not do what its author meant.
    Warning,
    /// A clearer or tighter way to write it.
    Suggestion,
}

impl FindingType {
    /// `ERROR`, `SECURITY_WARNING`, `WARNING` or `SUGGESTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::Error => "ERROR",
            FindingType::SecurityWarning => "SECURITY_WARNING",
            FindingType::Warning => "WARNING",
            FindingType::Suggestion => "SUGGESTION",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious it is.
    pub finding_type: FindingType,
    /// The stable issue code, e.g. `NO_PROJECT_RESTRICTION`.
    pub issue_code: String,
    /// JSON path into the document, e.g. `$.Statement[0].Condition.StringLike["…:sub"]`.
    pub location: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The statement trusts every project (identity) of the provider.
pub const NO_PROJECT_RESTRICTION: &str = "NO_PROJECT_RESTRICTION";
/// The only conditions are on the audience, which CircleCI lets users customise.
pub const AUDIENCE_ONLY_TRUST: &str = "AUDIENCE_ONLY_TRUST";
/// No condition on the audience.
pub const MISSING_AUDIENCE_CONDITION: &str = "MISSING_AUDIENCE_CONDITION";
/// A `sub` pattern with a wildcard in the org segment.
pub const WILDCARD_ORG_IN_SUB: &str = "WILDCARD_ORG_IN_SUB";
/// A `sub` pattern with a wildcard in the project segment (and no project-id condition).
pub const WILDCARD_PROJECT_IN_SUB: &str = "WILDCARD_PROJECT_IN_SUB";
/// `StringEquals` (or a relative) with `*` or `?`, which it compares literally.
pub const STRING_EQUALS_WITH_WILDCARD: &str = "STRING_EQUALS_WITH_WILDCARD";
/// `StringLike` without any wildcard.
pub const STRING_LIKE_WITHOUT_WILDCARD: &str = "STRING_LIKE_WITHOUT_WILDCARD";
/// A key AWS does not provide for this provider.
pub const UNSUPPORTED_CONDITION_KEY: &str = "UNSUPPORTED_CONDITION_KEY";
/// A key prefixed by a provider the statement does not trust.
pub const CONDITION_KEY_OTHER_PROVIDER: &str = "CONDITION_KEY_OTHER_PROVIDER";
/// A Federated principal that is not an OIDC provider ARN.
pub const FEDERATED_PRINCIPAL_NOT_OIDC_PROVIDER: &str = "FEDERATED_PRINCIPAL_NOT_OIDC_PROVIDER";
/// A Federated principal for SAML or a built-in web identity provider.
pub const FEDERATED_PRINCIPAL_OTHER_FEDERATION: &str = "FEDERATED_PRINCIPAL_OTHER_FEDERATION";
/// An OIDC statement whose actions do not include `sts:AssumeRoleWithWebIdentity`.
pub const ACTION_NOT_WEB_IDENTITY: &str = "ACTION_NOT_WEB_IDENTITY";
/// An OIDC statement allowing more than web-identity actions.
pub const ACTION_BROADER_THAN_WEB_IDENTITY: &str = "ACTION_BROADER_THAN_WEB_IDENTITY";
/// `Allow` with `NotAction`.
pub const ALLOW_WITH_NOT_ACTION: &str = "ALLOW_WITH_NOT_ACTION";
/// `Allow` with `Principal: "*"` or `{"AWS": "*"}`.
pub const PRINCIPAL_WILDCARD: &str = "PRINCIPAL_WILDCARD";
/// `ForAllValues:` in an `Allow` statement: true when the key is absent.
pub const FOR_ALL_VALUES_WITH_ALLOW: &str = "FOR_ALL_VALUES_WITH_ALLOW";
/// A CircleCI audience condition that does not name the org id (CircleCI's default `aud`).
pub const CIRCLECI_AUDIENCE_NOT_ORG_ID: &str = "CIRCLECI_AUDIENCE_NOT_ORG_ID";
/// `${…}` in a condition value of a policy without `"Version": "2012-10-17"` (literal text).
pub const POLICY_VARIABLE_WITHOUT_VERSION: &str = "POLICY_VARIABLE_WITHOUT_VERSION";
/// A CircleCI `sub` compared exactly with a V1 subject: one user, and never a V2 token.
pub const SUBJECT_PINNED_TO_USER: &str = "SUBJECT_PINNED_TO_USER";
/// The document is not a valid trust policy (from [`lint_report`]).
pub const MALFORMED_POLICY_DOCUMENT: &str = "MALFORMED_POLICY_DOCUMENT";

/// Lints a trust policy; the error is the MalformedPolicyDocument IAM would return.
pub fn lint(text: &str) -> Result<Vec<Finding>, MalformedPolicyError> {
    let policy = TrustPolicy::parse(text)?;
    let mut findings = Vec::new();
    for statement in policy.statements() {
        lint_statement(statement, &mut findings);
        if !policy.version().substitutes_variables() {
            lint_literal_variables(statement, &mut findings);
        }
    }
    Ok(findings)
}

/// Like [`lint`], with a malformed document reported as an ERROR finding at `$`.
pub fn lint_report(text: &str) -> Vec<Finding> {
    lint(text).unwrap_or_else(|error| {
        vec![Finding {
            finding_type: FindingType::Error,
            issue_code: MALFORMED_POLICY_DOCUMENT.to_owned(),
            location: "$".to_owned(),
            message: format!(
                "IAM refuses this document with MalformedPolicyDocument: {} ({})",
                error.message(),
                error.detail()
            ),
        }]
    })
}

/// Whether any finding is an ERROR or SECURITY_WARNING (the CLI then exits non-zero).
pub fn has_blocking_findings(findings: &[Finding]) -> bool {
    findings.iter().any(|finding| {
        matches!(
            finding.finding_type,
            FindingType::Error | FindingType::SecurityWarning
        )
    })
}

/// One line per finding: `TYPE CODE location: message`.
pub fn render_findings(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|finding| {
            format!(
                "{} {} {}: {}\n",
                finding.finding_type.as_str(),
                finding.issue_code,
                finding.location,
                finding.message
            )
        })
        .collect()
}

/// The provider URL of an OIDC provider ARN (`arn:<partition>:iam::<12 digits>:oidc-provider/<url>`).
pub fn oidc_provider_url(arn: &str) -> Option<&str> {
    let rest = ["arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"]
        .iter()
        .find_map(|prefix| arn.strip_prefix(prefix))?;
    let (account, resource) = rest.split_once(':')?;
    let account_valid = account.len() == 12 && account.chars().all(|digit| digit.is_ascii_digit());
    let url = resource.strip_prefix("oidc-provider/")?;
    (account_valid && !url.is_empty()).then_some(url)
}

/// Built-in web identity providers named by domain (spec §4.1).
const BUILT_IN_PROVIDERS: [&str; 4] = [
    "cognito-identity.amazonaws.com",
    "www.amazon.com",
    "graph.facebook.com",
    "accounts.google.com",
];

/// Collects findings as a statement is walked.
struct StatementLinter<'statement> {
    statement: &'statement Statement,
    findings: &'statement mut Vec<Finding>,
}

impl StatementLinter<'_> {
    /// Records a finding.
    fn report(&mut self, finding_type: FindingType, code: &str, location: &str, message: String) {
        self.findings.push(Finding {
            finding_type,
            issue_code: code.to_owned(),
            location: location.to_owned(),
            message,
        });
    }

    /// `<statement path>.<element>`.
    fn element_path(&self, element: &str) -> String {
        format!("{}.{element}", self.statement.path)
    }
}

/// Every check on one statement.
fn lint_statement(statement: &Statement, findings: &mut Vec<Finding>) {
    let mut linter = StatementLinter {
        statement,
        findings,
    };
    let providers = lint_principal(&mut linter);
    let allow = statement.effect == StatementEffect::Allow;
    if allow && !providers.is_empty() {
        lint_actions(&mut linter);
    }
    if allow && matches!(statement.actions, ActionElement::NotAction(_)) {
        let location = linter.element_path("NotAction");
        linter.report(
            FindingType::SecurityWarning,
            ALLOW_WITH_NOT_ACTION,
            &location,
            "Allow with NotAction allows every action not listed; list \
             sts:AssumeRoleWithWebIdentity in Action instead"
                .to_owned(),
        );
    }
    for entry in &statement.conditions {
        lint_condition_operator(&mut linter, entry, allow);
        lint_condition_key(&mut linter, entry, &providers);
    }
    if allow {
        for provider in &providers {
            restrictions::lint_restrictions(&mut linter, provider);
        }
    }
}

/// Principal checks; returns the OIDC provider URLs the statement trusts.
fn lint_principal(linter: &mut StatementLinter<'_>) -> Vec<String> {
    let statement = linter.statement;
    let Some(principal) = &statement.principal else {
        return Vec::new();
    };
    if statement.effect == StatementEffect::Allow && principal.is_everyone() {
        let location = linter.element_path("Principal");
        linter.report(
            FindingType::SecurityWarning,
            PRINCIPAL_WILDCARD,
            &location,
            "the statement trusts every principal; name the OIDC provider in Principal.Federated"
                .to_owned(),
        );
    }
    let mut providers = Vec::new();
    let location = format!("{}.Principal.Federated", statement.path);
    if let PrincipalElement::Typed(_) = principal {
        for value in principal.values_of("Federated") {
            if let Some(url) = oidc_provider_url(value) {
                providers.push(url.to_owned());
            } else if BUILT_IN_PROVIDERS.contains(&value) || value.contains(":saml-provider/") {
                linter.report(FindingType::Warning, FEDERATED_PRINCIPAL_OTHER_FEDERATION, &location,
                    format!("{value:?} is a SAML or built-in web identity provider, not an IAM OIDC provider; CI tokens are not accepted through it"));
            } else {
                linter.report(FindingType::Error, FEDERATED_PRINCIPAL_NOT_OIDC_PROVIDER, &location,
                    format!("{value:?} is not an OIDC provider ARN; write arn:aws:iam::<account>:oidc-provider/<issuer without https://>"));
            }
        }
    }
    providers
}

/// Action checks for Allow statements that trust an OIDC provider.
fn lint_actions(linter: &mut StatementLinter<'_>) {
    let statement = linter.statement;
    let location = linter.element_path(statement.actions.element_name());
    let lowered: Vec<String> = statement
        .actions
        .patterns()
        .iter()
        .map(|pattern| pattern.to_ascii_lowercase())
        .collect();
    let covers = |action: &str| {
        let any = lowered
            .iter()
            .any(|pattern| wildcard_match(pattern, action));
        match statement.actions {
            ActionElement::Action(_) => any,
            ActionElement::NotAction(_) => !any,
        }
    };
    if !covers(&WEB_IDENTITY_ACTION.to_ascii_lowercase()) {
        linter.report(FindingType::Error, ACTION_NOT_WEB_IDENTITY, &location,
            "the statement trusts an OIDC provider but does not cover sts:AssumeRoleWithWebIdentity, so CI tokens can never use it".to_owned());
        return;
    }
    let beyond: Vec<&str> = ["sts:assumerole", "sts:assumerolewithsaml", "sts:setcontext"]
        .into_iter()
        .filter(|action| covers(action))
        .collect();
    if !beyond.is_empty() {
        linter.report(FindingType::Warning, ACTION_BROADER_THAN_WEB_IDENTITY, &location,
            format!("for an OIDC principal the action should be sts:AssumeRoleWithWebIdentity (plus sts:TagSession/sts:SetSourceIdentity if needed); this also covers {}", beyond.join(", ")));
    }
}

/// Value text with the `${*}`/`${?}` escapes removed (they are literal characters).
fn without_escapes(value: &str) -> String {
    value.replace("${*}", "").replace("${?}", "")
}

/// Operator/value checks.
fn lint_condition_operator(linter: &mut StatementLinter<'_>, entry: &ConditionEntry, allow: bool) {
    let base = entry.operator.base;
    let has_wildcard = |value: &String| without_escapes(value).contains(['*', '?']);
    let exact = matches!(
        base,
        BaseOperator::StringEquals
            | BaseOperator::StringNotEquals
            | BaseOperator::StringEqualsIgnoreCase
            | BaseOperator::StringNotEqualsIgnoreCase
    );
    if exact && entry.values.iter().any(has_wildcard) {
        linter.report(FindingType::Warning, STRING_EQUALS_WITH_WILDCARD, &entry.path,
            format!("{} compares * and ? literally, so this value only matches text containing them; use StringLike for wildcards", entry.operator.name()));
    }
    let like = matches!(base, BaseOperator::StringLike | BaseOperator::StringNotLike);
    if like && !entry.values.is_empty() && !entry.values.iter().any(has_wildcard) {
        linter.report(
            FindingType::Suggestion,
            STRING_LIKE_WITHOUT_WILDCARD,
            &entry.path,
            format!(
                "{} without * or ? is an exact comparison; StringEquals says so more clearly",
                entry.operator.name()
            ),
        );
    }
    if allow && entry.operator.set_operator == Some(SetOperator::ForAllValues) {
        linter.report(FindingType::SecurityWarning, FOR_ALL_VALUES_WITH_ALLOW, &entry.path,
            "ForAllValues is true when the key is absent or empty, so this Allow condition can hold for requests without the key; use ForAnyValue or add a Null condition".to_owned());
    }
}

/// Whether a condition on an absent key is true (so it restricts nothing).
fn true_when_absent(entry: &ConditionEntry) -> bool {
    let operator = entry.operator;
    operator.base.is_negated()
        || operator.if_exists
        || operator.set_operator == Some(SetOperator::ForAllValues)
        || (operator.base == BaseOperator::Null
            && entry
                .values
                .iter()
                .any(|value| value.eq_ignore_ascii_case("true")))
}

/// `claim` of a key `<provider>:<claim>` (provider compared case-insensitively).
fn claim_of<'key>(key: &'key str, provider: &str) -> Option<&'key str> {
    let prefix = key.get(..provider.len())?;
    if !prefix.eq_ignore_ascii_case(provider) {
        return None;
    }
    key.get(provider.len()..)?.strip_prefix(':')
}

/// Key checks: supported for the provider, and of a provider the statement trusts.
fn lint_condition_key(
    linter: &mut StatementLinter<'_>,
    entry: &ConditionEntry,
    providers: &[String],
) {
    let own = providers
        .iter()
        .find_map(|provider| claim_of(&entry.key, provider).map(|claim| (provider, claim)));
    if let Some((provider, claim)) = own {
        let supported = supported_claims(provider);
        if supported
            .iter()
            .any(|known| known.eq_ignore_ascii_case(claim))
        {
            return;
        }
        let deny = linter.statement.effect == StatementEffect::Deny;
        let (finding_type, effect) = if true_when_absent(entry) && deny {
            (
                FindingType::Warning,
                "is always true, so this Deny applies to every request it covers",
            )
        } else if true_when_absent(entry) {
            (
                FindingType::SecurityWarning,
                "is always true, so it restricts nothing",
            )
        } else if deny {
            (
                FindingType::Warning,
                "never holds, so this Deny never applies",
            )
        } else {
            (
                FindingType::Warning,
                "never holds, so this statement never allows anything",
            )
        };
        linter.report(finding_type, UNSUPPORTED_CONDITION_KEY, &entry.path,
            format!("AWS does not provide {claim:?} as a condition key for this provider (it provides: {}); the key is always absent and this {} condition {effect}", supported.join(", "), entry.operator.name()));
        return;
    }
    if let Some((prefix, _)) = entry.key.rsplit_once(':') {
        let looks_like_provider = prefix.contains('.') || prefix.contains('/');
        if looks_like_provider && !providers.is_empty() {
            let without_scheme = prefix
                .strip_prefix("https://")
                .or_else(|| prefix.strip_prefix("http://"))
                .filter(|rest| {
                    providers
                        .iter()
                        .any(|provider| provider.eq_ignore_ascii_case(rest))
                });
            let message = match without_scheme {
                Some(provider) => format!(
                    "the key's provider part {prefix:?} has a URL scheme, so the key is always absent; write {provider}:<claim>"
                ),
                None => format!(
                    "the key is prefixed by {prefix:?}, which is not a provider this statement trusts ({}); the key is always absent",
                    providers.join(", ")
                ),
            };
            linter.report(
                FindingType::Warning,
                CONDITION_KEY_OTHER_PROVIDER,
                &entry.path,
                message,
            );
        }
    }
}

/// `${…}` in a policy whose Version makes it literal text.
fn lint_literal_variables(statement: &Statement, findings: &mut Vec<Finding>) {
    for entry in &statement.conditions {
        if entry.operator.base.allows_variables()
            && entry.values.iter().any(|value| value.contains("${"))
        {
            findings.push(Finding {
                finding_type: FindingType::Warning,
                issue_code: POLICY_VARIABLE_WITHOUT_VERSION.to_owned(),
                location: entry.path.clone(),
                message: "policy variables are substituted only with \"Version\": \"2012-10-17\"; here ${…} is compared as literal text".to_owned(),
            });
        }
    }
}
