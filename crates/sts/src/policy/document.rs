//! The parsed policy document: [`TrustPolicy`] (a role's trust policy) and [`SessionPolicy`]
//! (the `Policy` parameter of AssumeRoleWithWebIdentity), with the elements the engine reads.
//!
//! Parsing and validation live in [`super::grammar`]; this file holds the shapes and the public
//! entry points.

use serde::{Deserialize, Serialize};

use super::error::MalformedPolicyError;
use super::grammar::{PolicyKind, parse_document};
use super::operators::ConditionOperator;

/// The policy language version (`spec/aws-sts-iam.md` §4.1, §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyVersion {
    /// `"2012-10-17"`: policy variables are substituted.
    V2012_10_17,
    /// `"2008-10-17"`: `${…}` is literal text.
    V2008_10_17,
    /// No `Version` element: treated as 2008-10-17, as AWS documents.
    Unspecified,
}

impl PolicyVersion {
    /// Whether `${…}` in condition values is a policy variable (only in 2012-10-17, §4.4).
    pub fn substitutes_variables(self) -> bool {
        self == PolicyVersion::V2012_10_17
    }
}

/// A statement's `Effect` (case-sensitive in the grammar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementEffect {
    /// `"Allow"`.
    Allow,
    /// `"Deny"`.
    Deny,
}

impl StatementEffect {
    /// `Allow` or `Deny`, as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementEffect::Allow => "Allow",
            StatementEffect::Deny => "Deny",
        }
    }
}

/// A statement's `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalElement {
    /// `"Principal": "*"`: everyone.
    Everyone,
    /// `"Principal": {"Federated": …, "AWS": …}`: type → values (a string is a one-item list).
    Typed(Vec<(String, Vec<String>)>),
}

impl PrincipalElement {
    /// The values listed under `principal_type` (e.g. `Federated`).
    pub fn values_of(&self, principal_type: &str) -> Vec<&str> {
        match self {
            PrincipalElement::Everyone => Vec::new(),
            PrincipalElement::Typed(entries) => entries
                .iter()
                .filter(|(name, _)| name == principal_type)
                .flat_map(|(_, values)| values.iter().map(String::as_str))
                .collect(),
        }
    }

    /// Whether the element admits every principal: `"*"` or `{"AWS": "*"}`.
    pub fn is_everyone(&self) -> bool {
        match self {
            PrincipalElement::Everyone => true,
            PrincipalElement::Typed(_) => self.values_of("AWS").contains(&"*"),
        }
    }
}

/// A statement's `Action` or `NotAction` element (patterns as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionElement {
    /// `Action`: the statement covers actions matching one of the patterns.
    Action(Vec<String>),
    /// `NotAction`: the statement covers actions matching none of the patterns.
    NotAction(Vec<String>),
}

impl ActionElement {
    /// `Action` or `NotAction`.
    pub fn element_name(&self) -> &'static str {
        match self {
            ActionElement::Action(_) => "Action",
            ActionElement::NotAction(_) => "NotAction",
        }
    }

    /// The patterns as written.
    pub fn patterns(&self) -> &[String] {
        match self {
            ActionElement::Action(patterns) | ActionElement::NotAction(patterns) => patterns,
        }
    }
}

/// One `operator → key → values` triple of a `Condition` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEntry {
    /// The parsed operator.
    pub operator: ConditionOperator,
    /// The condition key as written (matched case-insensitively).
    pub key: String,
    /// The values as written; numbers and booleans in their JSON spelling.
    pub values: Vec<String>,
    /// JSON path of this key in the document, e.g. `$.Statement[0].Condition.StringLike["…:sub"]`.
    pub path: String,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Position in the `Statement` array (0 for a lone statement object).
    pub index: usize,
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: StatementEffect,
    /// `Principal` (always present in a valid trust policy).
    pub principal: Option<PrincipalElement>,
    /// `Action` or `NotAction` (always present in a valid policy).
    pub actions: ActionElement,
    /// `Resource` patterns (session policies only; empty in trust policies).
    pub resources: Vec<String>,
    /// Every condition, in document order.
    pub conditions: Vec<ConditionEntry>,
    /// JSON path of the statement: `$.Statement[i]`, or `$.Statement` for a lone object.
    pub path: String,
}

/// A validated role trust policy (`spec/aws-sts-iam.md` §4.1), keeping the text as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    text: String,
    version: PolicyVersion,
    statements: Vec<Statement>,
}

impl TrustPolicy {
    /// Checks `text` against the trust-policy grammar of spec §4.1; the error carries AWS's
    /// `MalformedPolicyDocument` message ("Syntax errors in policy.", "Has prohibited field
    /// Resource", …).
    pub fn parse(text: &str) -> Result<TrustPolicy, MalformedPolicyError> {
        let document = parse_document(text, PolicyKind::Trust)?;
        Ok(TrustPolicy {
            text: text.to_owned(),
            version: document.version,
            statements: document.statements,
        })
    }

    /// Every `Principal.Federated` value, in document order without repeats, so IAM can check
    /// that each names an existing provider.
    pub fn federated_principals(&self) -> Vec<String> {
        let mut principals: Vec<String> = Vec::new();
        for statement in &self.statements {
            if let Some(principal) = &statement.principal {
                for value in principal.values_of("Federated") {
                    if !principals.iter().any(|known| known == value) {
                        principals.push(value.to_owned());
                    }
                }
            }
        }
        principals
    }

    /// The document exactly as submitted (IAM returns it URL-encoded, as given).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `Version` element.
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

/// A validated session policy: a permissions policy, so `Resource` is required and `Principal`
/// refused. Kept with the session; keyless does not evaluate resource access (out of scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    text: String,
    statements: Vec<Statement>,
}

impl SessionPolicy {
    /// Checks `text` against the permissions-policy grammar (MalformedPolicyDocument on error).
    pub fn parse(text: &str) -> Result<SessionPolicy, MalformedPolicyError> {
        let document = parse_document(text, PolicyKind::Permissions)?;
        Ok(SessionPolicy {
            text: text.to_owned(),
            statements: document.statements,
        })
    }

    /// The document exactly as submitted.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

/// A policy's length as AWS counts it against the `ACLSizePerRole` quota (2048 by default,
/// spec §4.1): characters, with white space not counted.
pub fn policy_size_without_whitespace(text: &str) -> usize {
    text.chars()
        .filter(|character| !character.is_whitespace())
        .count()
}
