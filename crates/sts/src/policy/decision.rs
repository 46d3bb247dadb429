//! The value an evaluation returns: what was decided, which statement decided it, every
//! principal, action and condition check with expected and actual values, and hints with stable
//! codes (STYLE.md rule 5). Serialisable both ways: the STS stores it as JSON and serves it at
//! `/_keyless/decisions/{request-id}`; [`Decision::render_text`] is the readable explanation.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::document::StatementEffect;
use super::hints::{Hint, HintCode};
use super::operators::{BaseOperator, SetOperator};

/// The outcome of evaluating a trust policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// An `Allow` statement applied and no `Deny` did.
    Allow,
    /// No statement applied (the default deny).
    ImplicitDeny,
    /// A `Deny` statement applied; it wins over any `Allow` (§4.2).
    ExplicitDeny,
}

impl Effect {
    /// `Allow`, `ImplicitDeny` or `ExplicitDeny`: the stable serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::ImplicitDeny => "ImplicitDeny",
            Effect::ExplicitDeny => "ExplicitDeny",
        }
    }
}

/// How a statement's `Principal` compared with the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalEvaluation {
    /// Whether the statement names the requester (or everyone).
    pub matched: bool,
    /// What the statement lists, as `Type value` (`Federated arn:…`) or `*`.
    pub listed: Vec<String>,
}

/// How a statement's `Action`/`NotAction` compared with the requested action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEvaluation {
    /// Whether the statement covers the action.
    pub matched: bool,
    /// `Action` or `NotAction`.
    pub element: String,
    /// The patterns as written.
    pub patterns: Vec<String>,
}

/// One condition checked against the request context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionEvaluation {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// The operator proper.
    pub base_operator: BaseOperator,
    /// The `ForAnyValue:`/`ForAllValues:` prefix.
    pub set_operator: Option<SetOperator>,
    /// The `IfExists` suffix.
    pub if_exists: bool,
    /// The key as written.
    pub key: String,
    /// The values as written in the policy.
    pub expected: Vec<String>,
    /// The values after policy-variable substitution, when a variable was substituted.
    pub expected_resolved: Option<Vec<String>>,
    /// The request's value(s) for the key; `None` when the key is absent from the context.
    pub actual: Option<Vec<String>>,
    /// A policy variable naming an absent key (which makes the condition false), if any.
    pub missing_variable: Option<String>,
    /// Whether the condition held.
    pub result: bool,
    /// JSON path of the condition in the document.
    pub path: String,
}

/// One statement's evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEvaluation {
    /// Position in the document.
    pub index: usize,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: StatementEffect,
    /// The principal check.
    pub principal: PrincipalEvaluation,
    /// The action check.
    pub action: ActionEvaluation,
    /// Every condition, in document order (all are evaluated, none skipped).
    pub conditions: Vec<ConditionEvaluation>,
    /// Whether principal, action and every condition matched.
    pub applies: bool,
}

impl StatementEvaluation {
    /// Index of the first condition that failed.
    pub fn first_failed_condition(&self) -> Option<usize> {
        self.conditions
            .iter()
            .position(|condition| !condition.result)
    }
}

/// The explained outcome of one trust-policy evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Allow, ImplicitDeny or ExplicitDeny.
    pub effect: Effect,
    /// The statement that decided: the first applying `Deny` for ExplicitDeny, the first
    /// applying `Allow` for Allow; `None` for ImplicitDeny.
    pub decisive_statement: Option<usize>,
    /// The decisive statement's `Sid`, if it has one.
    pub decisive_sid: Option<String>,
    /// The requesting principal (the provider ARN).
    pub principal: String,
    /// The requested action.
    pub action: String,
    /// Every statement's evaluation.
    pub statements: Vec<StatementEvaluation>,
    /// Likely causes of a denial, with stable codes.
    pub hints: Vec<Hint>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    /// For a denial, the condition that kept the closest `Allow` statement from applying:
    /// `(statement, condition)` of the first failed condition of the first `Allow` statement
    /// whose principal and action matched.
    pub fn blocking_condition(&self) -> Option<(usize, usize)> {
        if self.effect != Effect::ImplicitDeny {
            return None;
        }
        self.statements
            .iter()
            .filter(|statement| statement.effect == StatementEffect::Allow)
            .filter(|statement| statement.principal.matched && statement.action.matched)
            .find_map(|statement| {
                statement
                    .first_failed_condition()
                    .map(|condition| (statement.index, condition))
            })
    }

    /// The message of the `AccessDenied` error STS returns for a denial (spec §2.5), rendered
    /// from the decision; `None` when allowed. The explanation never goes on the wire.
    pub fn access_denied_message(&self) -> Option<String> {
        (!self.allowed()).then(|| format!("Not authorized to perform {}", self.action))
    }

    /// The first hint with `code`, if any.
    pub fn hint(&self, code: HintCode) -> Option<&Hint> {
        self.hints.iter().find(|hint| hint.code == code)
    }

    /// A readable explanation: the outcome, each statement with ✓/✗ for principal, action and
    /// every condition (expected and actual values), then the hints.
    pub fn render_text(&self) -> String {
        let mut text = String::new();
        let outcome = match self.effect {
            Effect::Allow => "allowed",
            Effect::ImplicitDeny => "denied: no statement allowed it (implicit deny)",
            Effect::ExplicitDeny => "denied: a Deny statement applied (explicit deny)",
        };
        let _ = writeln!(text, "{} by {}: {outcome}", self.action, self.principal);
        for statement in &self.statements {
            render_statement(&mut text, statement, self.decisive_statement);
        }
        match self.effect {
            Effect::Allow => {}
            Effect::ImplicitDeny => {
                let _ = writeln!(text, "no statement allowed → AccessDenied");
            }
            Effect::ExplicitDeny => {
                let _ = writeln!(text, "explicit Deny wins → AccessDenied");
            }
        }
        if !self.hints.is_empty() {
            let _ = writeln!(text, "hints:");
            for hint in &self.hints {
                let _ = writeln!(text, "  [{}] {}", hint.code.as_str(), hint.message);
                if !hint.expected.is_empty() {
                    let _ = writeln!(text, "      expected  {}", hint.expected.join(" | "));
                }
                if !hint.actual.is_empty() {
                    let _ = writeln!(text, "      actual    {}", hint.actual.join(" | "));
                }
            }
        }
        text
    }
}

/// ✓ or ✗.
fn mark(passed: bool) -> &'static str {
    if passed { "✓" } else { "✗" }
}

/// One statement's block of the explanation.
fn render_statement(text: &mut String, statement: &StatementEvaluation, decisive: Option<usize>) {
    let sid = statement
        .sid
        .as_deref()
        .map(|sid| format!(", Sid {sid}"))
        .unwrap_or_default();
    let verdict = match (statement.applies, decisive == Some(statement.index)) {
        (true, true) => "applied and decided",
        (true, false) => "applied",
        (false, _) => "did not apply",
    };
    let _ = writeln!(
        text,
        "statement {} ({}{sid}) {verdict}:",
        statement.index,
        statement.effect.as_str()
    );
    let _ = writeln!(
        text,
        "  {} Principal  {}",
        mark(statement.principal.matched),
        statement.principal.listed.join(", ")
    );
    let _ = writeln!(
        text,
        "  {} {:<10} {}",
        mark(statement.action.matched),
        statement.action.element,
        statement.action.patterns.join(", ")
    );
    for condition in &statement.conditions {
        let _ = writeln!(
            text,
            "  {} {} {}",
            mark(condition.result),
            condition.operator,
            condition.key
        );
        let expected = condition
            .expected_resolved
            .as_ref()
            .unwrap_or(&condition.expected);
        let _ = writeln!(text, "      expected  {}", expected.join(" | "));
        let actual = match &condition.actual {
            Some(values) if values.is_empty() => "(empty)".to_owned(),
            Some(values) => values.join(" | "),
            None => "(absent: the request has no such key)".to_owned(),
        };
        let _ = writeln!(text, "      actual    {actual}");
        if let Some(key) = &condition.missing_variable {
            let _ = writeln!(
                text,
                "      note      policy variable ${{{key}}} names a key the request lacks"
            );
        }
    }
}
