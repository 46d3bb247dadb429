//! The `keyless-sts` binary's `lint` subcommand: findings printed, exit status 1 on an ERROR or
//! SECURITY_WARNING, 0 otherwise.

use std::process::Command;

use crate::support::trust_policy;

const ORG: &str = "11111111-2222-3333-4444-555555555555";

fn lint(policy: &str, format: &str) -> std::process::Output {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("trust.json");
    std::fs::write(&path, policy).unwrap();
    Command::new(env!("CARGO_BIN_EXE_keyless-sts"))
        .args(["lint", "--format", format])
        .arg(&path)
        .env_remove("KEYLESS_STS_LINT_FORMAT")
        .output()
        .unwrap()
}

fn provider_arn() -> String {
    format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{ORG}")
}

#[test]
fn a_project_scoped_policy_passes() {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.circleci.com/org/{ORG}:aud":"{ORG}"}},"StringLike":{{"oidc.circleci.com/org/{ORG}:sub":"org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/*"}}}}}}]}}"#,
        provider_arn()
    );
    let output = lint(&policy, "text");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "no findings\n");
}

#[test]
fn an_org_wide_policy_fails_with_its_issue_code() {
    let output = lint(&trust_policy(&provider_arn()), "json");
    assert_eq!(output.status.code(), Some(1));
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["issue_code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"WILDCARD_PROJECT_IN_SUB"), "{codes:?}");
}

#[test]
fn a_malformed_policy_is_an_error_finding() {
    let output = lint("{\"Statement\": [", "text");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("ERROR MALFORMED_POLICY_DOCUMENT $: ")
    );
}
