//! TEMPORARY SHIM of the policy engineer's `crate::policy` (docs/STS_MODULES interface), only so
//! the core branch compiles and its IAM handlers are testable before the policy branch merges.
//! The merge replaces this whole directory with the real module. It checks JSON syntax for real
//! (AWS's "Syntax errors in policy."), requires a `Statement`, and extracts `Principal.Federated`
//! values; the full grammar of spec §4.1 lives in the real module.

use serde_json::Value;

/// A trust policy that passed the (shim's) checks; keeps the original text.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    text: String,
    document: Value,
}

/// A policy IAM refuses, with AWS's `MalformedPolicyDocument` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPolicyError {
    message: String,
}

impl MalformedPolicyError {
    /// AWS's message for the problem.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl TrustPolicy {
    /// Parses and checks a trust policy document.
    pub fn parse(text: &str) -> Result<TrustPolicy, MalformedPolicyError> {
        let syntax_error = || MalformedPolicyError {
            message: "Syntax errors in policy.".to_owned(),
        };
        let document: Value = serde_json::from_str(text).map_err(|_| syntax_error())?;
        if !document.is_object() || document.get("Statement").is_none() {
            return Err(syntax_error());
        }
        Ok(TrustPolicy {
            text: text.to_owned(),
            document,
        })
    }

    /// The original text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every `Principal.Federated` value of every statement.
    pub fn federated_principals(&self) -> Vec<String> {
        let statements = match self.document.get("Statement") {
            Some(Value::Array(statements)) => statements.clone(),
            Some(statement) => vec![statement.clone()],
            None => Vec::new(),
        };
        let mut principals = Vec::new();
        for statement in statements {
            match statement.pointer("/Principal/Federated") {
                Some(Value::String(principal)) => principals.push(principal.clone()),
                Some(Value::Array(values)) => {
                    principals.extend(values.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
        principals
    }
}

/// Length as AWS counts it for the ACLSizePerRole quota: whitespace not counted (spec §4.1).
pub fn policy_size_without_whitespace(text: &str) -> usize {
    text.chars()
        .filter(|character| !character.is_whitespace())
        .count()
}
