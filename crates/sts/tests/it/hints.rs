//! One test per hint code through the HTTP endpoint: a denial's stored explanation names the
//! failing condition, its actual and expected values, and the hint.

use keyless_sts::policy::HintCode;
use keyless_sts::sts::{Check, DecisionRecord};
use serde_json::{Value, json};

use crate::issuer::{
    Fixture, ORG, PROJECT, PROVIDER_ARN, PROVIDER_URL, assume, create_role, get_json, subject,
};
use crate::support::iam_call;

pub async fn decision(fixture: &Fixture, request_id: &str) -> DecisionRecord {
    let (status, value) = get_json(
        &fixture.server,
        &format!("/_keyless/decisions/{request_id}"),
    )
    .await;
    assert_eq!(status, 200, "{value}");
    serde_json::from_value(value).unwrap()
}

pub fn key(claim: &str) -> String {
    format!("{PROVIDER_URL}:{claim}")
}

fn statement(condition: Value) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    })
}

fn policy(statement: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

fn v2_subject() -> String {
    format!(
        "{}/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main",
        subject()
    )
}

/// Creates role `name` with `statement`, assumes it with `token` (denied), and returns the
/// stored decision after checking the hint and the rendered explanation.
async fn denial_with_hint(
    fixture: &Fixture,
    name: &str,
    statement: Value,
    token: &str,
    code: HintCode,
    expected: &[&str],
    actual: &[&str],
) -> DecisionRecord {
    create_role(&fixture.server, name, "/", &policy(statement)).await;
    let role_arn = format!("arn:aws:iam::123456789012:role/{name}");
    let answer = assume(&fixture.server, token, &[("RoleArn", role_arn.as_str())]).await;
    answer.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    let record = decision(fixture, &answer.request_id()).await;
    assert_eq!(record.failed_check, Some(Check::TrustPolicy));
    let decision = record
        .decision
        .as_ref()
        .expect("the trust policy was evaluated");
    let hint = decision
        .hint(code)
        .unwrap_or_else(|| panic!("no {code:?} in\n{}", record.render_text()));
    assert_eq!(hint.expected, expected, "{}", record.render_text());
    assert_eq!(hint.actual, actual, "{}", record.render_text());
    let text = record.render_text();
    assert!(text.contains(code.as_str()), "{text}");
    assert!(
        text.contains("denied at check trust_policy: AccessDenied (HTTP 403)"),
        "{text}"
    );
    for value in expected.iter().chain(actual) {
        assert!(text.contains(value), "{value} missing from\n{text}");
    }
    record
}

/// Asserts the blocking condition's key, expected and actual values.
fn assert_blocking(
    record: &DecisionRecord,
    key: &str,
    expected: &[String],
    actual: Option<Vec<String>>,
) {
    let decision = record.decision.as_ref().unwrap();
    let (statement, condition) = decision.blocking_condition().expect("a condition blocked");
    let condition = &decision.statements[statement].conditions[condition];
    assert_eq!(condition.key, key);
    assert_eq!(condition.expected, expected);
    assert_eq!(condition.actual, actual);
    let text = record.render_text();
    assert!(
        text.contains(&format!("✗ {} {key}", condition.operator)),
        "{text}"
    );
}

#[tokio::test]
async fn subject_version_hints() {
    let fixture = Fixture::start().await;
    let pattern = format!(
        "org/{ORG}/project/{PROJECT}/user/*/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main"
    );
    let record = denial_with_hint(
        &fixture,
        "wants-v2",
        statement(json!({"StringLike": {key("sub"): pattern}})),
        &fixture.issuer.token(),
        HintCode::SubV1WhereV2Expected,
        &[&pattern],
        &[&subject()],
    )
    .await;
    assert_blocking(
        &record,
        &key("sub"),
        std::slice::from_ref(&pattern),
        Some(vec![subject()]),
    );
    let v2 = fixture.issuer.token_with(|claims| {
        claims.insert("sub".into(), json!(v2_subject()));
    });
    let record = denial_with_hint(
        &fixture,
        "wants-v1",
        statement(json!({"StringEquals": {key("sub"): subject()}})),
        &v2,
        HintCode::SubV2WhereV1Expected,
        &[&subject()],
        &[&v2_subject()],
    )
    .await;
    assert_blocking(&record, &key("sub"), &[subject()], Some(vec![v2_subject()]));
}

#[tokio::test]
async fn string_equals_with_wildcard_hint() {
    let fixture = Fixture::start().await;
    let pattern = format!("org/{ORG}/project/{PROJECT}/user/*");
    let record = denial_with_hint(
        &fixture,
        "literal-star",
        statement(json!({"StringEquals": {key("sub"): pattern}})),
        &fixture.issuer.token(),
        HintCode::StringEqualsWithWildcard,
        &[&pattern],
        &[&subject()],
    )
    .await;
    assert_blocking(
        &record,
        &key("sub"),
        std::slice::from_ref(&pattern),
        Some(vec![subject()]),
    );
}

#[tokio::test]
async fn case_mismatch_hint() {
    let fixture = Fixture::start().await;
    let expected = subject().replace("org/", "Org/");
    let record = denial_with_hint(
        &fixture,
        "wrong-case",
        statement(json!({"StringLike": {key("sub"): expected}})),
        &fixture.issuer.token(),
        HintCode::CaseMismatch,
        &[&expected],
        &[&subject()],
    )
    .await;
    assert_blocking(
        &record,
        &key("sub"),
        std::slice::from_ref(&expected),
        Some(vec![subject()]),
    );
}

#[tokio::test]
async fn unsupported_condition_key_hint() {
    let fixture = Fixture::start().await;
    let token = fixture.issuer.token_with(|claims| {
        claims.insert("sub".into(), json!(v2_subject()));
        claims.insert(
            "oidc.circleci.com/vcs-origin".into(),
            json!("github.com/acme/widgets"),
        );
    });
    let vcs_origin = key("oidc.circleci.com/vcs-origin");
    let record = denial_with_hint(
        &fixture,
        "vcs-origin",
        statement(json!({"StringEquals": {vcs_origin.clone(): "github.com/acme/widgets"}})),
        &token,
        HintCode::UnsupportedConditionKey,
        &["github.com/acme/widgets"],
        &["github.com/acme/widgets"],
    )
    .await;
    assert_blocking(
        &record,
        &vcs_origin,
        &["github.com/acme/widgets".to_owned()],
        None,
    );
    assert!(record.render_text().contains("(absent"));
}

#[tokio::test]
async fn condition_key_other_provider_hint() {
    let fixture = Fixture::start().await;
    let foreign = "oidc.circleci.com/org/99999999-0000-0000-0000-000000000000:sub".to_owned();
    create_role(
        &fixture.server,
        "foreign-key",
        "/",
        &policy(statement(json!({"StringLike": {foreign.clone(): "*"}}))),
    )
    .await;
    let answer = assume(
        &fixture.server,
        &fixture.issuer.token(),
        &[("RoleArn", "arn:aws:iam::123456789012:role/foreign-key")],
    )
    .await;
    assert_eq!(answer.status, 403);
    let record = decision(&fixture, &answer.request_id()).await;
    let hint = record
        .decision
        .as_ref()
        .unwrap()
        .hint(HintCode::ConditionKeyOtherProvider)
        .expect("hint");
    assert_eq!(hint.key.as_deref(), Some(foreign.as_str()));
    assert_blocking(&record, &foreign, &["*".to_owned()], None);
    let text = record.render_text();
    assert!(
        text.contains("condition_key_other_provider") && text.contains(PROVIDER_URL),
        "{text}"
    );
}

#[tokio::test]
async fn principal_other_provider_hint() {
    let fixture = Fixture::start().await;
    let other_url = "https://oidc.circleci.com/org/99999999-0000-0000-0000-000000000000";
    let (status, body) = iam_call(
        &fixture.server,
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", other_url),
            (
                "ClientIDList.member.1",
                "99999999-0000-0000-0000-000000000000",
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let other_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/99999999-0000-0000-0000-000000000000";
    let mut trusting_other = statement(json!({}));
    trusting_other["Principal"] = json!({"Federated": other_arn});
    trusting_other.as_object_mut().unwrap().remove("Condition");
    let record = denial_with_hint(
        &fixture,
        "other-provider",
        trusting_other,
        &fixture.issuer.token(),
        HintCode::PrincipalOtherProvider,
        &[other_arn],
        &[PROVIDER_ARN],
    )
    .await;
    assert!(!record.decision.unwrap().statements[0].principal.matched);
}

#[tokio::test]
async fn audience_not_in_provider_hint() {
    let fixture = Fixture::start().await;
    let record = denial_with_hint(
        &fixture,
        "sts-audience",
        statement(json!({"StringEquals": {key("aud"): "sts.amazonaws.com"}})),
        &fixture.issuer.token(),
        HintCode::AudienceNotInProvider,
        &["sts.amazonaws.com"],
        &[ORG],
    )
    .await;
    assert_blocking(
        &record,
        &key("aud"),
        &["sts.amazonaws.com".to_owned()],
        Some(vec![ORG.to_owned()]),
    );
}

#[tokio::test]
async fn policy_variable_absent_hint() {
    let fixture = Fixture::start().await;
    let variable = key("oidc.circleci.com/vcs-ref");
    create_role(
        &fixture.server,
        "variable",
        "/",
        &policy(statement(
            json!({"StringLike": {key("sub"): format!("*/vcs-ref/${{{variable}}}")}}),
        )),
    )
    .await;
    let answer = assume(
        &fixture.server,
        &fixture.issuer.token(),
        &[("RoleArn", "arn:aws:iam::123456789012:role/variable")],
    )
    .await;
    assert_eq!(answer.status, 403);
    let record = decision(&fixture, &answer.request_id()).await;
    let hint = record
        .decision
        .as_ref()
        .unwrap()
        .hint(HintCode::PolicyVariableAbsent)
        .expect("hint");
    assert!(hint.message.contains(&variable));
    let text = record.render_text();
    assert!(
        text.contains("policy_variable_absent")
            && text.contains(&variable)
            && text.contains(&subject()),
        "{text}"
    );
}

#[tokio::test]
async fn action_not_covered_hint() {
    let fixture = Fixture::start().await;
    let mut assume_role = statement(json!({}));
    assume_role["Action"] = json!("sts:AssumeRole");
    assume_role.as_object_mut().unwrap().remove("Condition");
    let record = denial_with_hint(
        &fixture,
        "assume-role-only",
        assume_role,
        &fixture.issuer.token(),
        HintCode::ActionNotCovered,
        &["sts:AssumeRole"],
        &["sts:AssumeRoleWithWebIdentity"],
    )
    .await;
    assert!(!record.decision.unwrap().statements[0].action.matched);
}
