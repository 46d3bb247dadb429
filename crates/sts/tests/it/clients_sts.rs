//! Real clients against AssumeRoleWithWebIdentity and GetCallerIdentity with only an endpoint
//! variable and a region: the AWS CLI as CircleCI's announcement runs it and through its
//! web-identity credential provider, boto3 (tests/it/sts_boto3.py), and the AWS SDK for Rust
//! (explicit calls and its web-identity provider).

use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

use crate::issuer::{Fixture, ROLE_ARN, create_role};

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("KEYLESS_PYTHON").expect(
        "KEYLESS_PYTHON must name a Python interpreter with boto3 and the AWS CLI installed",
    ))
}

fn aws_cli() -> PathBuf {
    std::env::var_os("KEYLESS_AWS_CLI")
        .map_or_else(|| python().with_file_name("aws"), PathBuf::from)
}

/// No credentials, no user config: only the STS endpoint and a region (both variables, since
/// botocore ignores AWS_REGION).
fn bare_command(program: &Path, home: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ENDPOINT_URL_STS", endpoint)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1");
    command
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fixture plus a denying role and the token in a file with a trailing newline (as
/// `echo $CIRCLE_OIDC_TOKEN > file` writes it).
async fn setup() -> (Fixture, tempfile::TempDir, PathBuf) {
    let fixture = Fixture::start().await;
    let mut statement: serde_json::Value =
        serde_json::from_str(&crate::issuer::deploy_policy()).unwrap();
    statement["Statement"][0]["Condition"]["StringLike"] = serde_json::json!({
        format!("{}:sub", crate::issuer::PROVIDER_URL): "org/nobody/*"
    });
    create_role(&fixture.server, "denied", "/", &statement.to_string()).await;
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{}\n", fixture.issuer.token())).unwrap();
    (fixture, home, token_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_runs_the_announcement_and_the_web_identity_provider() {
    let (fixture, home, token_file) = setup().await;
    let url = fixture.server.url();
    let token = std::fs::read_to_string(&token_file).unwrap();
    let assumed = bare_command(&aws_cli(), home.path(), &url)
        .args([
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            ROLE_ARN,
        ])
        .args([
            "--role-session-name",
            "CircleCI-2b3c-deploy",
            "--web-identity-token",
            token.trim(),
        ])
        .args(["--duration-seconds", "3600"])
        .args([
            "--query",
            "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]",
            "--output",
            "text",
        ])
        .output()
        .await
        .unwrap();
    assert_success(&assumed, "aws sts assume-role-with-web-identity");
    let text = String::from_utf8(assumed.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{text}");
    let identity = bare_command(&aws_cli(), home.path(), &url)
        .env("AWS_ACCESS_KEY_ID", fields[0])
        .env("AWS_SECRET_ACCESS_KEY", fields[1])
        .env("AWS_SESSION_TOKEN", fields[2])
        .args(["sts", "get-caller-identity"])
        .output()
        .await
        .unwrap();
    assert_success(&identity, "aws sts get-caller-identity");
    let identity: serde_json::Value = serde_json::from_slice(&identity.stdout).unwrap();
    assert_eq!(
        identity["Arn"],
        "arn:aws:sts::123456789012:assumed-role/circleci-deploy/CircleCI-2b3c-deploy"
    );
    assert_eq!(identity["Account"], "123456789012");

    let denied = bare_command(&aws_cli(), home.path(), &url)
        .args([
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            "arn:aws:iam::123456789012:role/denied",
        ])
        .args([
            "--role-session-name",
            "CircleCI-2b3c-deploy",
            "--web-identity-token",
            token.trim(),
        ])
        .output()
        .await
        .unwrap();
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(stderr.contains("An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity"), "{stderr}");

    let provider = bare_command(&aws_cli(), home.path(), &url)
        .env("AWS_ROLE_ARN", ROLE_ARN)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ROLE_SESSION_NAME", "cli-provider")
        .args(["sts", "get-caller-identity"])
        .output()
        .await
        .unwrap();
    assert_success(
        &provider,
        "aws sts get-caller-identity via AWS_WEB_IDENTITY_TOKEN_FILE",
    );
    let provider: serde_json::Value = serde_json::from_slice(&provider.stdout).unwrap();
    assert_eq!(
        provider["Arn"],
        "arn:aws:sts::123456789012:assumed-role/circleci-deploy/cli-provider"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_assumes_identifies_and_uses_the_web_identity_provider() {
    let (fixture, home, token_file) = setup().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/sts_boto3.py");
    let output = bare_command(&python(), home.path(), &fixture.server.url())
        .env("KEYLESS_TOKEN_FILE", &token_file)
        .env("KEYLESS_ROLE_ARN", ROLE_ARN)
        .env(
            "KEYLESS_DENIED_ROLE_ARN",
            "arn:aws:iam::123456789012:role/denied",
        )
        .arg(script)
        .output()
        .await
        .unwrap();
    assert_success(&output, "tests/it/sts_boto3.py");
    assert!(String::from_utf8_lossy(&output.stdout).contains("boto3 STS: ok"));
    fixture.server.stop().await;
}
