//! Explained decisions and the audit log through the HTTP endpoints and the CLI: every denial
//! kept by RequestId with the failing check, one test per hint code naming the failing
//! condition with its actual and expected values, `explain --token` without assuming, and audit
//! events that never hold a secret.

use std::process::Command;

use keyless_sts::policy::HintCode;
use keyless_sts::sts::{Check, DecisionRecord};
use serde_json::{Value, json};

use crate::issuer::{
    Fixture, ORG, PROJECT, PROVIDER_ARN, PROVIDER_URL, USER, assume, create_role, get_json, subject,
};
use crate::support::iam_call;

async fn decision(fixture: &Fixture, request_id: &str) -> DecisionRecord {
    let (status, value) = get_json(
        &fixture.server,
        &format!("/_keyless/decisions/{request_id}"),
    )
    .await;
    assert_eq!(status, 200, "{value}");
    serde_json::from_value(value).unwrap()
}

fn key(claim: &str) -> String {
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

#[tokio::test]
async fn every_outcome_is_kept_and_the_latest_denial_is_found() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let allowed = assume(server, &fixture.issuer.token(), &[]).await;
    let wrong_audience = fixture.issuer.token_with(|claims| {
        claims.insert("aud".into(), json!("sts.amazonaws.com"));
    });
    let refused = assume(server, &wrong_audience, &[]).await;
    let record = decision(&fixture, &refused.request_id()).await;
    assert_eq!(record.failed_check, Some(Check::Audience));
    assert_eq!(
        record.error.as_ref().unwrap().message,
        "Incorrect token audience"
    );
    assert!(
        record
            .detail
            .as_deref()
            .unwrap()
            .contains("sts.amazonaws.com")
    );
    assert_eq!(record.claims["sub"], json!(subject()));
    let allowed_again = assume(server, &fixture.issuer.token(), &[]).await;
    let (_, latest) = get_json(server, "/_keyless/decisions?limit=2").await;
    let ids: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [allowed_again.request_id(), refused.request_id()]);
    let (_, denials) = get_json(server, "/_keyless/decisions?limit=1&allowed=false").await;
    assert_eq!(denials[0]["request_id"], json!(refused.request_id()));
    let (_, allowed_record) = get_json(
        server,
        &format!("/_keyless/decisions/{}", allowed.request_id()),
    )
    .await;
    assert_eq!(allowed_record["allowed"], true);
    assert_eq!(
        allowed_record["access_key_id"].as_str(),
        allowed.element("AccessKeyId")
    );
    for document in [&allowed_record, &latest, &denials] {
        let text = document.to_string();
        assert!(
            !text.contains(allowed.element("SecretAccessKey").unwrap())
                && !text.contains(allowed.element("SessionToken").unwrap())
                && !text.contains(&fixture.issuer.token()[..60]),
            "{text}"
        );
    }
    let (status, missing) = get_json(
        server,
        "/_keyless/decisions/00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(status, 404, "{missing}");
}

#[tokio::test]
async fn audit_events_cover_both_actions_and_hold_no_secret() {
    let directory = tempfile::tempdir().unwrap();
    let audit_file = directory.path().join("audit.jsonl");
    let issuer = crate::issuer::Issuer::start().await;
    let mut config = crate::issuer::config_for(&issuer);
    config.audit_file = Some(audit_file.clone());
    let fixture = Fixture::with_config(issuer, config).await;
    let token = fixture.issuer.token();
    let assumed = assume(&fixture.server, &token, &[]).await;
    let credentials = crate::caller::Credentials::from_answer(&assumed);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        crate::caller::get_caller_identity(
            &fixture.server,
            &credentials.access_key_id,
            &credentials.secret,
            Some(&credentials.token),
            now
        )
        .await
        .status,
        200
    );
    assert_eq!(
        crate::caller::get_caller_identity(
            &fixture.server,
            &credentials.access_key_id,
            &credentials.secret,
            None,
            now
        )
        .await
        .status,
        403
    );
    let other_project = fixture.issuer.token_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!("org/{ORG}/project/p/user/{USER}")),
        );
    });
    let denied = assume(&fixture.server, &other_project, &[]).await;
    let (_, events) = get_json(&fixture.server, "/_keyless/events?limit=10").await;
    let events = events.as_array().unwrap().clone();
    assert_eq!(events.len(), 4);
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "AssumeRoleWithWebIdentity",
            "GetCallerIdentity",
            "GetCallerIdentity",
            "AssumeRoleWithWebIdentity"
        ]
    );
    let success = &events[3];
    assert_eq!(success["requestID"], json!(assumed.request_id()));
    assert_eq!(success["userIdentity"]["type"], "WebIdentityUser");
    assert_eq!(success["userIdentity"]["principalId"], json!(subject()));
    assert_eq!(
        success["userIdentity"]["identityProvider"],
        json!(PROVIDER_URL)
    );
    assert_eq!(
        success["responseElements"]["credentials"]["accessKeyId"].as_str(),
        Some(credentials.access_key_id.as_str())
    );
    assert_eq!(
        success["requestParameters"]["roleArn"],
        json!(crate::issuer::ROLE_ARN)
    );
    assert_eq!(success["eventSource"], "sts.amazonaws.com");
    let refusal = &events[0];
    assert_eq!(refusal["requestID"], json!(denied.request_id()));
    assert_eq!(refusal["errorCode"], "AccessDenied");
    assert_eq!(
        refusal["errorMessage"],
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
    assert_eq!(events[1]["errorCode"], "InvalidClientTokenId");
    assert_eq!(events[2]["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        events[2]["userIdentity"]["arn"].as_str(),
        assumed.element("Arn")
    );
    let file = std::fs::read_to_string(&audit_file).unwrap();
    assert_eq!(file.lines().count(), 4);
    let everything = format!("{file}{}", Value::Array(events));
    for secret in [
        credentials.secret.as_str(),
        credentials.token.as_str(),
        token.as_str(),
        other_project.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret reached the audit log"
        );
    }
    let signature = token.rsplit('.').next().unwrap();
    assert!(!everything.contains(signature));
}

fn explain_command(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keyless-sts"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_cli_explains_a_request_id_and_a_token_without_assuming() {
    let fixture = Fixture::start().await;
    let other_project = fixture.issuer.token_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!("org/{ORG}/project/p/user/{USER}")),
        );
    });
    let denied = assume(&fixture.server, &other_project, &[]).await;
    let url = fixture.server.url();
    let request_id = denied.request_id();
    let output = tokio::task::spawn_blocking({
        let url = url.clone();
        move || explain_command(&[&request_id, "--url", &url])
    })
    .await
    .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("denied at check trust_policy: AccessDenied (HTTP 403) Not authorized to perform sts:AssumeRoleWithWebIdentity"), "{text}");
    assert!(
        text.contains(&format!("✗ StringLike {}", key("sub"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("org/{ORG}/project/p/user/{USER}")),
        "{text}"
    );

    let directory = tempfile::tempdir().unwrap();
    let token_file = directory.path().join("token");
    std::fs::write(&token_file, format!("{}\n", fixture.issuer.token())).unwrap();
    let (_, before) = get_json(&fixture.server, "/_keyless/decisions?limit=100").await;
    let token_path = token_file.to_str().unwrap().to_owned();
    let allowed = tokio::task::spawn_blocking({
        let (url, token_path) = (url.clone(), token_path.clone());
        move || {
            explain_command(&[
                "--token",
                &token_path,
                "--role",
                crate::issuer::ROLE_ARN,
                "--url",
                &url,
            ])
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8(allowed.stdout).unwrap();
    assert!(allowed.status.success(), "{text}");
    assert!(
        text.contains("outcome: allowed") && text.contains("explain only, nothing issued"),
        "{text}"
    );
    std::fs::write(&token_file, &other_project).unwrap();
    let refused = tokio::task::spawn_blocking(move || {
        explain_command(&[
            "--token",
            &token_path,
            "--role",
            crate::issuer::ROLE_ARN,
            "--url",
            &url,
            "--json",
        ])
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let record: DecisionRecord = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(record.failed_check, Some(Check::TrustPolicy));
    assert!(record.dry_run);
    let (_, after) = get_json(&fixture.server, "/_keyless/decisions?limit=100").await;
    assert_eq!(before, after, "explain --token stores nothing");
}
