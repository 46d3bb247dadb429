//! One test per hint code: the denial names the failing condition, its expected and actual
//! values, and the hint (issue 5 "Done when"), and the readable explanation shows them.

use serde_json::json;

use super::test_support::{
    ORG, OTHER_PROJECT, PROJECT, Token, allow_one, document, key, parse, provider_arn,
    provider_url, statement, sub_v1, sub_v2,
};
use super::{ConditionEvaluation, Decision, Effect, HintCode, RequestContext, evaluate};

/// Evaluates and checks the decision is a denial.
fn denied(policy: &str, context: &RequestContext) -> Decision {
    let decision = evaluate(&parse(policy), context);
    assert_eq!(
        decision.effect,
        Effect::ImplicitDeny,
        "{}",
        decision.render_text()
    );
    decision
}

/// The blocking condition of a denial.
fn blocking(decision: &Decision) -> &ConditionEvaluation {
    let (statement, condition) = decision
        .blocking_condition()
        .expect("a condition blocked the Allow statement");
    &decision.statements[statement].conditions[condition]
}

/// Asserts the hint exists for the blocking condition with these values, and the text shows it.
fn assert_hint(decision: &Decision, code: HintCode, expected: &[String], actual: &[String]) {
    let hint = decision
        .hint(code)
        .unwrap_or_else(|| panic!("no {code:?} hint in\n{}", decision.render_text()));
    assert_eq!(hint.expected, expected, "hint expected values");
    assert_eq!(hint.actual, actual, "hint actual values");
    let text = decision.render_text();
    assert!(text.contains(code.as_str()), "{text}");
    for value in expected.iter().chain(actual) {
        assert!(
            text.contains(value.as_str()),
            "{value} missing from\n{text}"
        );
    }
}

#[test]
fn v1_subject_where_the_policy_expects_v2() {
    let pattern = format!(
        "org/{ORG}/project/{PROJECT}/user/*/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main"
    );
    let decision = denied(
        &allow_one("StringLike", key("sub"), json!(pattern)),
        &Token::v1().context(),
    );
    let condition = blocking(&decision);
    assert_eq!(condition.expected, std::slice::from_ref(&pattern));
    assert_eq!(condition.actual, Some(vec![sub_v1(PROJECT)]));
    assert_hint(
        &decision,
        HintCode::SubV1WhereV2Expected,
        &[pattern],
        &[sub_v1(PROJECT)],
    );
}

#[test]
fn v2_subject_where_the_policy_expects_v1() {
    let expected = sub_v1(PROJECT);
    let actual = sub_v2(PROJECT, "github.com/acme/widgets", "refs/heads/main");
    let decision = denied(
        &allow_one("StringEquals", key("sub"), json!(expected)),
        &Token::v2("refs/heads/main").context(),
    );
    let condition = blocking(&decision);
    assert_eq!(condition.actual, Some(vec![actual.clone()]));
    assert_hint(
        &decision,
        HintCode::SubV2WhereV1Expected,
        &[expected],
        &[actual],
    );
    assert!(decision.hint(HintCode::SubV1WhereV2Expected).is_none());
}

#[test]
fn string_equals_with_a_wildcard() {
    let pattern = format!("org/{ORG}/project/{PROJECT}/user/*");
    let decision = denied(
        &allow_one("StringEquals", key("sub"), json!(pattern)),
        &Token::v1().context(),
    );
    assert_eq!(blocking(&decision).operator, "StringEquals");
    assert_hint(
        &decision,
        HintCode::StringEqualsWithWildcard,
        &[pattern],
        &[sub_v1(PROJECT)],
    );
    let hint = decision
        .hint(HintCode::StringEqualsWithWildcard)
        .expect("present");
    assert!(
        hint.message.contains("StringLike would match"),
        "{}",
        hint.message
    );
}

#[test]
fn case_only_mismatch_in_a_condition() {
    let expected = sub_v1(PROJECT).replace("org/", "Org/");
    let decision = denied(
        &allow_one("StringLike", key("sub"), json!(expected)),
        &Token::v1().context(),
    );
    assert_eq!(
        blocking(&decision).expected,
        std::slice::from_ref(&expected)
    );
    assert_hint(
        &decision,
        HintCode::CaseMismatch,
        &[expected],
        &[sub_v1(PROJECT)],
    );
}

#[test]
fn case_only_mismatch_in_the_principal() {
    let listed = provider_arn().replace("oidc.circleci.com", "OIDC.CircleCI.com");
    let mut allow = statement("Allow", serde_json::Value::Null);
    allow["Principal"] = json!({"Federated": listed});
    let decision = denied(&document(vec![allow]), &Token::v1().context());
    assert!(!decision.statements[0].principal.matched);
    assert_hint(
        &decision,
        HintCode::CaseMismatch,
        &[listed],
        &[provider_arn()],
    );
}

#[test]
fn unsupported_condition_key() {
    let vcs_origin = key("oidc.circleci.com/vcs-origin");
    let decision = denied(
        &allow_one(
            "StringEquals",
            vcs_origin.clone(),
            json!("github.com/acme/widgets"),
        ),
        &Token::v2("refs/heads/main").context(),
    );
    let condition = blocking(&decision);
    assert_eq!(condition.key, vcs_origin);
    assert_eq!(condition.actual, None, "AWS does not expose vcs-origin");
    assert!(decision.render_text().contains("(absent"));
    // The hint shows what the token carried even though AWS does not expose it.
    assert_hint(
        &decision,
        HintCode::UnsupportedConditionKey,
        &["github.com/acme/widgets".to_owned()],
        &["github.com/acme/widgets".to_owned()],
    );
}

#[test]
fn principal_naming_another_provider() {
    let other =
        format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{OTHER_PROJECT}");
    let mut allow = statement("Allow", serde_json::Value::Null);
    allow["Principal"] = json!({"Federated": other});
    let decision = denied(&document(vec![allow]), &Token::v1().context());
    assert_eq!(
        decision.statements[0].principal.listed,
        [format!("Federated {other}")]
    );
    assert_hint(
        &decision,
        HintCode::PrincipalOtherProvider,
        &[other],
        &[provider_arn()],
    );
}

#[test]
fn policy_expects_an_audience_the_provider_does_not_list() {
    let decision = denied(
        &allow_one("StringEquals", key("aud"), json!("sts.amazonaws.com")),
        &Token::v1().context(),
    );
    let condition = blocking(&decision);
    assert_eq!(condition.expected, ["sts.amazonaws.com"]);
    assert_eq!(condition.actual, Some(vec![ORG.to_owned()]));
    assert_hint(
        &decision,
        HintCode::AudienceNotInProvider,
        &["sts.amazonaws.com".to_owned()],
        &[ORG.to_owned()],
    );
}

#[test]
fn token_audience_the_provider_does_not_list() {
    let context = Token::v1().with("aud", json!("custom-audience")).context();
    let decision = evaluate(
        &parse(&allow_one("StringLike", key("sub"), json!("*"))),
        &context,
    );
    // The policy alone allows it; STS refuses the token earlier ("Incorrect token audience").
    assert_eq!(decision.effect, Effect::Allow);
    let hint = decision
        .hint(HintCode::AudienceNotInProvider)
        .expect("hint");
    assert_eq!(hint.expected, [ORG]);
    assert_eq!(hint.actual, ["custom-audience"]);
}

#[test]
fn condition_key_of_another_provider() {
    let foreign = format!("oidc.circleci.com/org/{OTHER_PROJECT}:sub");
    let decision = denied(
        &allow_one("StringLike", foreign.clone(), json!("*")),
        &Token::v1().context(),
    );
    let hint = decision
        .hint(HintCode::ConditionKeyOtherProvider)
        .expect("hint");
    assert_eq!(hint.key.as_deref(), Some(foreign.as_str()));
    assert!(hint.message.contains(&provider_url()));
    let with_scheme = format!("https://{}", key("sub"));
    let decision = denied(
        &allow_one("StringLike", with_scheme, json!("*")),
        &Token::v1().context(),
    );
    let hint = decision
        .hint(HintCode::ConditionKeyOtherProvider)
        .expect("hint");
    assert!(hint.message.contains("URL scheme"), "{}", hint.message);
}

#[test]
fn policy_variable_naming_an_absent_key() {
    let variable = key("oidc.circleci.com/vcs-ref");
    let decision = denied(
        &allow_one(
            "StringLike",
            key("sub"),
            json!(format!("*/vcs-ref/${{{variable}}}")),
        ),
        &Token::v2("refs/heads/main").context(),
    );
    assert_eq!(
        blocking(&decision).missing_variable.as_deref(),
        Some(variable.as_str())
    );
    let hint = decision.hint(HintCode::PolicyVariableAbsent).expect("hint");
    assert!(hint.message.contains(&variable));
}

#[test]
fn an_allowed_request_has_no_denial_hints_and_a_short_explanation() {
    let decision = evaluate(
        &parse(&allow_one(
            "StringLike",
            key("sub"),
            json!(format!("org/{ORG}/project/{PROJECT}/user/*")),
        )),
        &Token::v1().context(),
    );
    assert!(decision.allowed());
    assert_eq!(decision.access_denied_message(), None);
    assert!(decision.hints.is_empty());
    let text = decision.render_text();
    assert!(text.contains("applied and decided"), "{text}");
    assert!(text.contains("✓ StringLike"), "{text}");
}

#[test]
fn the_demo_denial_reads_like_the_demo() {
    let pattern = format!("org/{ORG}/project/{PROJECT}/user/*");
    let context = Token::for_subject(OTHER_PROJECT, sub_v1(OTHER_PROJECT)).context();
    let decision = denied(
        &allow_one("StringLike", key("sub"), json!(pattern)),
        &context,
    );
    let text = decision.render_text();
    for line in [
        "statement 0 (Allow) did not apply:".to_owned(),
        format!("✓ Principal  Federated {}", provider_arn()),
        format!("✗ StringLike {}", key("sub")),
        format!("expected  {pattern}"),
        format!("actual    {}", sub_v1(OTHER_PROJECT)),
        "no statement allowed → AccessDenied".to_owned(),
    ] {
        assert!(text.contains(&line), "{line:?} missing from\n{text}");
    }
}

#[test]
fn decisions_round_trip_through_json_with_stable_names() {
    let decision = denied(
        &allow_one("StringEquals", key("sub"), json!(format!("org/{ORG}/*"))),
        &Token::v1().context(),
    );
    let value = serde_json::to_value(&decision).expect("serialisable");
    assert_eq!(value["effect"], "ImplicitDeny");
    assert_eq!(value["hints"][0]["code"], "string_equals_with_wildcard");
    assert_eq!(
        value["statements"][0]["conditions"][0]["operator"],
        "StringEquals"
    );
    let back: Decision = serde_json::from_value(value).expect("deserialisable");
    assert_eq!(back, decision);
    assert_eq!(
        decision.access_denied_message().as_deref(),
        Some("Not authorized to perform sts:AssumeRoleWithWebIdentity")
    );
}

#[test]
fn action_that_does_not_cover_web_identity() {
    let mut allow = statement("Allow", serde_json::Value::Null);
    allow["Action"] = json!("sts:AssumeRole");
    let decision = denied(&document(vec![allow]), &Token::v1().context());
    assert!(decision.statements[0].principal.matched);
    assert!(!decision.statements[0].action.matched);
    assert_hint(
        &decision,
        HintCode::ActionNotCovered,
        &["sts:AssumeRole".to_owned()],
        &["sts:AssumeRoleWithWebIdentity".to_owned()],
    );
}
