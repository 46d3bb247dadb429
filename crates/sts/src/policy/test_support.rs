//! Shared fixtures for the policy tests: a CircleCI org with two projects, V1/V2 subjects,
//! token claims, trust-policy builders, and the table-driven case runner.

use serde_json::{Map, Value, json};

use super::{Decision, Effect, RequestContext, TrustPolicy, evaluate};

/// The organisation of every fixture.
pub(crate) const ORG: &str = "c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c";
/// The project the policies trust ("widgets").
pub(crate) const PROJECT: &str = "3a2f5b1c-1111-4222-8333-444455556666";
/// Another project of the same org ("gadgets").
pub(crate) const OTHER_PROJECT: &str = "77d0e1aa-aaaa-4bbb-8ccc-dddddddddddd";
/// The user who ran the job.
pub(crate) const USER: &str = "5e6f7a8b-0000-4000-8000-000000000042";
/// The AWS account.
pub(crate) const ACCOUNT: &str = "123456789012";

/// `oidc.circleci.com/org/<ORG>`.
pub(crate) fn provider_url() -> String {
    format!("oidc.circleci.com/org/{ORG}")
}

/// The provider's ARN.
pub(crate) fn provider_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{}", provider_url())
}

/// `<provider>:<claim>`.
pub(crate) fn key(claim: &str) -> String {
    format!("{}:{claim}", provider_url())
}

/// A V1 subject for `project`.
pub(crate) fn sub_v1(project: &str) -> String {
    format!("org/{ORG}/project/{project}/user/{USER}")
}

/// A V2 subject for `project` built from `origin` and `reference`.
pub(crate) fn sub_v2(project: &str, origin: &str, reference: &str) -> String {
    format!(
        "{}/vcs-origin/{origin}/vcs-ref/{reference}",
        sub_v1(project)
    )
}

/// A token's claims, built up for one test.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    claims: Map<String, Value>,
}

impl Token {
    /// A V1 token of `PROJECT` (CIRCLE_OIDC_TOKEN).
    pub(crate) fn v1() -> Token {
        Token::for_subject(PROJECT, sub_v1(PROJECT))
    }

    /// A V2 token of `PROJECT` from github.com/acme/widgets on `reference`.
    pub(crate) fn v2(reference: &str) -> Token {
        Token::for_subject(
            PROJECT,
            sub_v2(PROJECT, "github.com/acme/widgets", reference),
        )
    }

    /// A token whose `sub` and project claim are given.
    pub(crate) fn for_subject(project: &str, subject: String) -> Token {
        let claims = json!({
            "iss": format!("https://{}", provider_url()),
            "sub": subject,
            "aud": ORG,
            "iat": 1_764_115_000,
            "exp": 1_764_118_600,
            "oidc.circleci.com/org-id": ORG,
            "oidc.circleci.com/project-id": project,
            "oidc.circleci.com/context-ids": ["a74579f1-2e7d-451e-b009-5c082ad2729e"],
            "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
            "oidc.circleci.com/vcs-ref": "refs/heads/main",
        });
        match claims {
            Value::Object(claims) => Token { claims },
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    /// Sets a claim.
    pub(crate) fn with(mut self, claim: &str, value: Value) -> Token {
        self.claims.insert(claim.to_owned(), value);
        self
    }

    /// The request context for this token, session name `deploy`, provider client id `ORG`.
    pub(crate) fn context(&self) -> RequestContext {
        RequestContext::for_web_identity(
            &provider_url(),
            &provider_arn(),
            &self.claims,
            "deploy",
            &[ORG.to_owned()],
        )
    }
}

/// A context with an extra key (for operators no web-identity key exercises, e.g. `Bool`).
pub(crate) fn with_entry(
    mut context: RequestContext,
    key: &str,
    values: &[&str],
    multi_valued: bool,
) -> RequestContext {
    context.entries.push(super::ContextEntry {
        key: key.to_owned(),
        values: values.iter().map(|value| (*value).to_owned()).collect(),
        multi_valued,
    });
    context
}

/// A trust-policy statement trusting the fixture provider for web identity.
pub(crate) fn statement(effect: &str, condition: Value) -> Value {
    let mut statement = json!({
        "Effect": effect,
        "Principal": {"Federated": provider_arn()},
        "Action": "sts:AssumeRoleWithWebIdentity",
    });
    if condition != Value::Null {
        statement["Condition"] = condition;
    }
    statement
}

/// `{operator: {key: values}}` for one or more triples.
pub(crate) fn condition(entries: &[(&str, String, Value)]) -> Value {
    let mut block = Map::new();
    for (operator, key, values) in entries {
        let operator_block = block
            .entry((*operator).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(keys) = operator_block {
            keys.insert(key.clone(), values.clone());
        }
    }
    Value::Object(block)
}

/// A 2012-10-17 policy document with `statements`.
pub(crate) fn document(statements: Vec<Value>) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A policy with one Allow statement holding one condition.
pub(crate) fn allow_one(operator: &str, key: String, values: Value) -> String {
    document(vec![statement(
        "Allow",
        condition(&[(operator, key, values)]),
    )])
}

/// Parses a policy the test knows to be valid.
pub(crate) fn parse(text: &str) -> TrustPolicy {
    match TrustPolicy::parse(text) {
        Ok(policy) => policy,
        Err(error) => panic!("fixture policy is malformed: {error}\n{text}"),
    }
}

/// What a conformance case expects: the effect and what decided it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// Allowed by `statement`; when given, condition `.0` (operator `.1`) held.
    Allow(usize, Option<(usize, &'static str)>),
    /// Explicitly denied by `statement`; when given, condition `.0` (operator `.1`) held.
    ExplicitDeny(usize, Option<(usize, &'static str)>),
    /// Implicitly denied; the closest Allow statement `.0` failed at condition `.1`, operator `.2`.
    BlockedBy(usize, usize, &'static str),
    /// Implicitly denied because statement `.0`'s principal did not match.
    PrincipalMismatch(usize),
    /// Implicitly denied because statement `.0`'s action did not match.
    ActionMismatch(usize),
}

/// One row of a conformance table.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) policy: String,
    pub(crate) context: RequestContext,
    pub(crate) expect: Expect,
}

/// Builds a case.
pub(crate) fn case(
    name: &'static str,
    policy: String,
    context: RequestContext,
    expect: Expect,
) -> Case {
    Case {
        name,
        policy,
        context,
        expect,
    }
}

/// Checks one case; `Err` describes the mismatch.
fn check_case(case: &Case) -> Result<(), String> {
    let decision = evaluate(&parse(&case.policy), &case.context);
    let fail = |why: String| Err(format!("{}: {why}\n{}", case.name, decision.render_text()));
    let condition_held = |decision: &Decision, statement: usize, expected: (usize, &str)| {
        let condition = &decision.statements[statement].conditions[expected.0];
        condition.result && condition.operator == expected.1
    };
    match case.expect {
        Expect::Allow(statement, condition) | Expect::ExplicitDeny(statement, condition) => {
            let effect = if matches!(case.expect, Expect::Allow(..)) {
                Effect::Allow
            } else {
                Effect::ExplicitDeny
            };
            if decision.effect != effect || decision.decisive_statement != Some(statement) {
                return fail(format!(
                    "expected {effect:?} by statement {statement}, got {:?} by {:?}",
                    decision.effect, decision.decisive_statement
                ));
            }
            if let Some(expected) = condition
                && !condition_held(&decision, statement, expected)
            {
                return fail(format!("expected condition {expected:?} to hold"));
            }
        }
        Expect::BlockedBy(statement, condition, operator) => {
            if decision.effect != Effect::ImplicitDeny
                || decision.blocking_condition() != Some((statement, condition))
            {
                return fail(format!(
                    "expected ImplicitDeny blocked by ({statement}, {condition}), got {:?} {:?}",
                    decision.effect,
                    decision.blocking_condition()
                ));
            }
            let evaluated = &decision.statements[statement].conditions[condition];
            if evaluated.operator != operator || evaluated.result {
                return fail(format!("expected failed {operator}, got {evaluated:?}"));
            }
        }
        Expect::PrincipalMismatch(statement) | Expect::ActionMismatch(statement) => {
            let evaluation = &decision.statements[statement];
            let mismatched = match case.expect {
                Expect::PrincipalMismatch(_) => !evaluation.principal.matched,
                _ => evaluation.principal.matched && !evaluation.action.matched,
            };
            if decision.effect != Effect::ImplicitDeny || !mismatched {
                return fail(format!(
                    "expected {:?}, got {:?}",
                    case.expect, decision.effect
                ));
            }
        }
    }
    Ok(())
}

/// Runs a table and reports every failing row at once.
pub(crate) fn run_table(cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check_case(case).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_expectation_is_reported() {
        let policy = allow_one("StringEquals", key("aud"), json!(ORG));
        let wrong = [
            Expect::BlockedBy(0, 0, "StringEquals"),
            Expect::Allow(0, Some((0, "StringLike"))),
            Expect::ExplicitDeny(0, None),
            Expect::PrincipalMismatch(0),
            Expect::ActionMismatch(0),
        ];
        for expect in wrong {
            let row = case(
                "wrong on purpose",
                policy.clone(),
                Token::v1().context(),
                expect,
            );
            assert!(check_case(&row).is_err(), "{expect:?} was accepted");
        }
        let right = case(
            "right",
            policy,
            Token::v1().context(),
            Expect::Allow(0, Some((0, "StringEquals"))),
        );
        assert_eq!(check_case(&right), Ok(()));
    }
}
