//! The `keyless-sts` binary: `serve` announces its bound address on stdout; `lint` prints
//! findings, exit status 1 on an ERROR or SECURITY_WARNING, 0 otherwise.

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

/// `serve` announces its bound address on stdout exactly as tools parse it, takes the part 2
/// settings from the environment, and logs plain text (no colour codes) to a file.
#[test]
fn serve_prints_its_address_once_bound() {
    use std::io::BufRead as _;
    let directory = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyless-sts"))
        .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
        .env(
            "KEYLESS_STS_ISSUER_MAP",
            "https://oidc.circleci.com=http://127.0.0.1:9",
        )
        .env(
            "KEYLESS_STS_AUDIT_FILE",
            directory.path().join("audit.jsonl"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(directory.path().join("sts.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim_end()
        .strip_prefix("keyless-sts listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let health = std::net::TcpStream::connect(&address).map(|mut stream| {
        use std::io::{Read as _, Write as _};
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let health = health.unwrap();
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    assert!(directory.path().join("audit.jsonl").exists());
    // The log line is written before the address is printed.
    let log = std::fs::read_to_string(directory.path().join("sts.log")).unwrap();
    assert!(log.contains("keyless-sts listening"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log written to a file: {log:?}"
    );
}
