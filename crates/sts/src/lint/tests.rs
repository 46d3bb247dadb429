//! Lint tests: one per issue code (type, code and location), the documented CircleCI policies
//! come out clean of blocking findings, and the blocking helper.

use serde_json::{Value, json};

use super::*;

const ORG: &str = "c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c";
const PROJECT: &str = "3a2f5b1c-1111-4222-8333-444455556666";

fn provider() -> String {
    format!("oidc.circleci.com/org/{ORG}")
}

fn key(claim: &str) -> String {
    format!("{}:{claim}", provider())
}

fn arn() -> String {
    format!("arn:aws:iam::123456789012:oidc-provider/{}", provider())
}

/// A one-statement policy; `change` edits the statement.
fn policy(condition: Value, change: impl FnOnce(&mut Value)) -> String {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"Federated": arn()},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    });
    change(&mut statement);
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// The documented project restriction: aud + sub pattern.
fn good_condition() -> Value {
    let mut condition = json!({"StringEquals": {}, "StringLike": {}});
    condition["StringEquals"][key("aud")] = json!(ORG);
    condition["StringLike"][key("sub")] = json!(format!("org/{ORG}/project/{PROJECT}/user/*"));
    condition
}

fn findings(text: &str) -> Vec<Finding> {
    lint(text).unwrap_or_else(|error| panic!("lint refused the policy: {error}"))
}

/// Asserts exactly one finding with `code`, of `finding_type`, at `location`.
fn assert_finding(text: &str, code: &str, finding_type: FindingType, location: &str) {
    let all = findings(text);
    let matching: Vec<&Finding> = all
        .iter()
        .filter(|finding| finding.issue_code == code)
        .collect();
    assert_eq!(matching.len(), 1, "{code} in {}", render_findings(&all));
    assert_eq!(matching[0].finding_type, finding_type, "{code}");
    assert_eq!(matching[0].location, location, "{code}");
    assert!(!matching[0].message.is_empty());
}

fn codes(text: &str) -> Vec<String> {
    findings(text)
        .into_iter()
        .map(|finding| finding.issue_code)
        .collect()
}

#[test]
fn documented_circleci_policies_have_no_blocking_findings() {
    let option_2 = policy(good_condition(), |_| {});
    assert!(
        findings(&option_2).is_empty(),
        "{}",
        render_findings(&findings(&option_2))
    );
    let mut option_1 = json!({"StringEquals": {}});
    option_1["StringEquals"][key("aud")] = json!(ORG);
    option_1["StringEquals"][key("oidc.circleci.com/project-id")] = json!(PROJECT);
    let option_1 = policy(option_1, |_| {});
    assert!(!has_blocking_findings(&findings(&option_1)));
}

#[test]
fn no_subject_or_project_condition() {
    let text = policy(Value::Null, |statement| {
        statement
            .as_object_mut()
            .map(|object| object.remove("Condition"));
    });
    assert_finding(
        &text,
        NO_PROJECT_RESTRICTION,
        FindingType::SecurityWarning,
        "$.Statement[0]",
    );
    assert!(has_blocking_findings(&findings(&text)));
}

#[test]
fn trust_resting_on_the_audience_alone() {
    let mut condition = json!({"StringEquals": {}});
    condition["StringEquals"][key("aud")] = json!(ORG);
    let text = policy(condition, |_| {});
    assert_finding(
        &text,
        AUDIENCE_ONLY_TRUST,
        FindingType::SecurityWarning,
        "$.Statement[0]",
    );
    assert!(codes(&text).contains(&NO_PROJECT_RESTRICTION.to_owned()));
}

#[test]
fn missing_audience_condition_is_a_suggestion() {
    let mut condition = json!({"StringLike": {}});
    condition["StringLike"][key("sub")] = json!(format!("org/{ORG}/project/{PROJECT}/user/*"));
    let text = policy(condition, |_| {});
    assert_finding(
        &text,
        MISSING_AUDIENCE_CONDITION,
        FindingType::Suggestion,
        "$.Statement[0]",
    );
    assert!(!has_blocking_findings(&findings(&text)));
}

#[test]
fn wildcard_org_or_project_in_the_subject() {
    let location = format!(r#"$.Statement[0].Condition.StringLike["{}"]"#, key("sub"));
    let mut org = good_condition();
    org["StringLike"][key("sub")] = json!("org/*/project/*/user/*");
    assert_finding(
        &policy(org, |_| {}),
        WILDCARD_ORG_IN_SUB,
        FindingType::SecurityWarning,
        &location,
    );
    let mut project = good_condition();
    project["StringLike"][key("sub")] = json!(format!(
        "org/{ORG}/project/*/user/*/vcs-origin/github.com/acme/*/vcs-ref/refs/heads/main"
    ));
    let text = policy(project.clone(), |_| {});
    assert_finding(
        &text,
        WILDCARD_PROJECT_IN_SUB,
        FindingType::SecurityWarning,
        &location,
    );
    // A project-id condition makes the project wildcard harmless.
    project["StringEquals"][key("oidc.circleci.com/project-id")] = json!(PROJECT);
    assert!(!codes(&policy(project, |_| {})).contains(&WILDCARD_PROJECT_IN_SUB.to_owned()));
    let mut truncated = good_condition();
    truncated["StringLike"][key("sub")] = json!(format!("org/{ORG}/*"));
    assert!(codes(&policy(truncated, |_| {})).contains(&WILDCARD_PROJECT_IN_SUB.to_owned()));
}

#[test]
fn string_equals_with_wildcards_and_string_like_without() {
    let mut condition = good_condition();
    condition["StringEquals"][key("sub")] = json!(format!("org/{ORG}/project/{PROJECT}/user/*"));
    let location = format!(r#"$.Statement[0].Condition.StringEquals["{}"]"#, key("sub"));
    assert_finding(
        &policy(condition, |_| {}),
        STRING_EQUALS_WITH_WILDCARD,
        FindingType::Warning,
        &location,
    );
    let mut exact_like = good_condition();
    exact_like["StringLike"][key("sub")] = json!(format!("org/{ORG}/project/{PROJECT}/user/u"));
    let location = format!(r#"$.Statement[0].Condition.StringLike["{}"]"#, key("sub"));
    assert_finding(
        &policy(exact_like, |_| {}),
        STRING_LIKE_WITHOUT_WILDCARD,
        FindingType::Suggestion,
        &location,
    );
}

#[test]
fn unsupported_condition_keys() {
    let mut positive = good_condition();
    positive["StringEquals"][key("oidc.circleci.com/vcs-origin")] =
        json!("github.com/acme/widgets");
    let location = format!(
        r#"$.Statement[0].Condition.StringEquals["{}"]"#,
        key("oidc.circleci.com/vcs-origin")
    );
    assert_finding(
        &policy(positive, |_| {}),
        UNSUPPORTED_CONDITION_KEY,
        FindingType::Warning,
        &location,
    );
    let mut negated = good_condition();
    negated["StringNotEquals"] = json!({});
    negated["StringNotEquals"][key("oidc.circleci.com/vcs-ref")] = json!("refs/heads/dev");
    let location = format!(
        r#"$.Statement[0].Condition.StringNotEquals["{}"]"#,
        key("oidc.circleci.com/vcs-ref")
    );
    assert_finding(
        &policy(negated, |_| {}),
        UNSUPPORTED_CONDITION_KEY,
        FindingType::SecurityWarning,
        &location,
    );
}

#[test]
fn condition_key_of_another_provider() {
    let mut condition = good_condition();
    condition["StringEquals"]["token.actions.githubusercontent.com:aud"] =
        json!("sts.amazonaws.com");
    let location =
        r#"$.Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"]"#;
    assert_finding(
        &policy(condition, |_| {}),
        CONDITION_KEY_OTHER_PROVIDER,
        FindingType::Warning,
        location,
    );
}

#[test]
fn federated_principals_that_are_not_oidc_providers() {
    let location = "$.Statement[0].Principal.Federated";
    let bare_url = policy(good_condition(), |statement| {
        statement["Principal"] = json!({"Federated": provider()})
    });
    assert_finding(
        &bare_url,
        FEDERATED_PRINCIPAL_NOT_OIDC_PROVIDER,
        FindingType::Error,
        location,
    );
    assert!(has_blocking_findings(&findings(&bare_url)));
    let saml = policy(good_condition(), |statement| {
        statement["Principal"] =
            json!({"Federated": "arn:aws:iam::123456789012:saml-provider/okta"});
    });
    assert_finding(
        &saml,
        FEDERATED_PRINCIPAL_OTHER_FEDERATION,
        FindingType::Warning,
        location,
    );
    assert_eq!(oidc_provider_url(&arn()), Some(provider().as_str()));
    assert_eq!(
        oidc_provider_url("arn:aws:iam::12345:oidc-provider/x"),
        None
    );
}

#[test]
fn actions_for_an_oidc_principal() {
    let not_web_identity = policy(good_condition(), |statement| {
        statement["Action"] = json!("sts:AssumeRole")
    });
    assert_finding(
        &not_web_identity,
        ACTION_NOT_WEB_IDENTITY,
        FindingType::Error,
        "$.Statement[0].Action",
    );
    let broader = policy(good_condition(), |statement| {
        statement["Action"] = json!("sts:*")
    });
    assert_finding(
        &broader,
        ACTION_BROADER_THAN_WEB_IDENTITY,
        FindingType::Warning,
        "$.Statement[0].Action",
    );
    let with_tags = policy(good_condition(), |statement| {
        statement["Action"] = json!(["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]);
    });
    assert!(findings(&with_tags).is_empty());
    let not_action = policy(good_condition(), |statement| {
        statement
            .as_object_mut()
            .map(|object| object.remove("Action"));
        statement["NotAction"] = json!("sts:AssumeRoleWithSAML");
    });
    assert_finding(
        &not_action,
        ALLOW_WITH_NOT_ACTION,
        FindingType::SecurityWarning,
        "$.Statement[0].NotAction",
    );
}

#[test]
fn wildcard_principals_and_for_all_values() {
    let everyone = policy(good_condition(), |statement| {
        statement["Principal"] = json!({"AWS": "*"})
    });
    assert_finding(
        &everyone,
        PRINCIPAL_WILDCARD,
        FindingType::SecurityWarning,
        "$.Statement[0].Principal",
    );
    let mut condition = good_condition();
    condition["ForAllValues:StringEquals"] = json!({});
    condition["ForAllValues:StringEquals"][key("amr")] = json!(["mfa"]);
    let location = format!(
        r#"$.Statement[0].Condition["ForAllValues:StringEquals"]["{}"]"#,
        key("amr")
    );
    assert_finding(
        &policy(condition, |_| {}),
        FOR_ALL_VALUES_WITH_ALLOW,
        FindingType::SecurityWarning,
        &location,
    );
}

#[test]
fn circleci_audience_that_is_not_the_org_id() {
    let mut condition = good_condition();
    condition["StringEquals"][key("aud")] = json!("sts.amazonaws.com");
    let location = format!(r#"$.Statement[0].Condition.StringEquals["{}"]"#, key("aud"));
    assert_finding(
        &policy(condition, |_| {}),
        CIRCLECI_AUDIENCE_NOT_ORG_ID,
        FindingType::Warning,
        &location,
    );
}

#[test]
fn malformed_documents_are_errors() {
    let text = policy(good_condition(), |statement| {
        statement["Resource"] = json!("*")
    });
    assert_eq!(
        lint(&text).expect_err("Resource").message(),
        "Has prohibited field Resource"
    );
    let report = lint_report(&text);
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].issue_code, MALFORMED_POLICY_DOCUMENT);
    assert!(has_blocking_findings(&report));
}

#[test]
fn findings_serialise_in_access_analyzer_shape() {
    let text = policy(Value::Null, |statement| {
        statement
            .as_object_mut()
            .map(|object| object.remove("Condition"));
    });
    let value = serde_json::to_value(findings(&text)).expect("serialisable");
    assert_eq!(value[0]["finding_type"], "SECURITY_WARNING");
    assert_eq!(value[0]["issue_code"], NO_PROJECT_RESTRICTION);
    assert_eq!(value[0]["location"], "$.Statement[0]");
    let line = render_findings(&findings(&text));
    assert!(
        line.starts_with("SECURITY_WARNING NO_PROJECT_RESTRICTION $.Statement[0]: "),
        "{line}"
    );
}

#[test]
fn exact_v1_subject_pinned_to_one_user() {
    let mut condition = good_condition();
    condition["StringLike"] = json!({});
    condition["StringEquals"][key("sub")] = json!(format!(
        "org/{ORG}/project/{PROJECT}/user/5e6f7a8b-0000-4000-8000-000000000042"
    ));
    let location = format!(r#"$.Statement[0].Condition.StringEquals["{}"]"#, key("sub"));
    assert_finding(
        &policy(condition, |_| {}),
        SUBJECT_PINNED_TO_USER,
        FindingType::Warning,
        &location,
    );
    assert!(!codes(&policy(good_condition(), |_| {})).contains(&SUBJECT_PINNED_TO_USER.to_owned()));
}

#[test]
fn policy_variables_need_the_2012_version() {
    let mut condition = good_condition();
    condition["StringLike"][key("sub")] = json!(format!(
        "org/{ORG}/project/${{{}}}/user/*",
        key("oidc.circleci.com/project-id")
    ));
    let statement = json!({
        "Effect": "Allow",
        "Principal": {"Federated": arn()},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    });
    let old = json!({"Version": "2008-10-17", "Statement": statement}).to_string();
    let location = format!(r#"$.Statement.Condition.StringLike["{}"]"#, key("sub"));
    assert_finding(
        &old,
        POLICY_VARIABLE_WITHOUT_VERSION,
        FindingType::Warning,
        &location,
    );
    let current = json!({"Version": "2012-10-17", "Statement": statement}).to_string();
    assert!(!codes(&current).contains(&POLICY_VARIABLE_WITHOUT_VERSION.to_owned()));
}
