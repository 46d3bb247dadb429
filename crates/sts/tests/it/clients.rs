//! Real AWS clients against a real keyless-sts on port 0: boto3 drives every IAM action and
//! error (tests/it/iam_boto3.py), and the AWS CLI works with only `AWS_ENDPOINT_URL_IAM`, a
//! region and the documented default admin credential. The interpreter comes from
//! `KEYLESS_PYTHON` and the CLI from `KEYLESS_AWS_CLI` (both set by `cargo xtask test`; the CLI
//! defaults to the `aws` beside the interpreter).

use std::path::{Path, PathBuf};
use std::process::Output;

use keyless_sts::config::{DEFAULT_ADMIN_ACCESS_KEY_ID, DEFAULT_ADMIN_SECRET_ACCESS_KEY};
use tokio::process::Command;

use crate::support::{TestServer, trust_policy};

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("KEYLESS_PYTHON").expect(
        "KEYLESS_PYTHON must name a Python interpreter with boto3 and the AWS CLI installed \
         (cargo xtask test sets it; e.g. KEYLESS_PYTHON=/work/venv/bin/python)",
    ))
}

/// An isolated client environment: no user config, credentials or CLI cache.
fn client_command(program: &Path, home: &Path, endpoint: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ENDPOINT_URL_IAM", endpoint)
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", DEFAULT_ADMIN_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_ADMIN_SECRET_ACCESS_KEY)
        .env("KEYLESS_STS_ENDPOINT", endpoint);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_exercises_every_iam_action_and_error() {
    let server = TestServer::in_memory().await;
    let home = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/iam_boto3.py");
    let output = client_command(&python(), home.path(), &server.url())
        .arg(script)
        .output()
        .await
        .unwrap();
    assert_success(&output, "tests/it/iam_boto3.py");
    assert!(String::from_utf8_lossy(&output.stdout).contains("boto3 IAM lifecycle: ok"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_works_out_of_the_box() {
    let server = TestServer::in_memory().await;
    let home = tempfile::tempdir().unwrap();
    let aws = std::env::var_os("KEYLESS_AWS_CLI")
        .map_or_else(|| python().with_file_name("aws"), PathBuf::from);
    let org = "11111111-2222-3333-4444-555555555555";
    let run = |arguments: Vec<String>| {
        let mut command = client_command(&aws, home.path(), &server.url());
        command.args(arguments).arg("--output").arg("json");
        async move { command.output().await.unwrap() }
    };
    let created = run(vec![
        "iam".into(),
        "create-open-id-connect-provider".into(),
        "--url".into(),
        format!("https://oidc.circleci.com/org/{org}"),
        "--client-id-list".into(),
        org.into(),
    ])
    .await;
    assert_success(&created, "aws iam create-open-id-connect-provider");
    let provider_arn =
        format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{org}");
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(created["OpenIDConnectProviderArn"], provider_arn.as_str());

    let policy_file = home.path().join("trust.json");
    std::fs::write(&policy_file, trust_policy(&provider_arn)).unwrap();
    let role = run(vec![
        "iam".into(),
        "create-role".into(),
        "--role-name".into(),
        "circleci-deploy".into(),
        "--assume-role-policy-document".into(),
        format!("file://{}", policy_file.display()),
    ])
    .await;
    assert_success(&role, "aws iam create-role");
    let fetched = run(vec![
        "iam".into(),
        "get-role".into(),
        "--role-name".into(),
        "circleci-deploy".into(),
    ])
    .await;
    assert_success(&fetched, "aws iam get-role");
    let fetched: serde_json::Value = serde_json::from_slice(&fetched.stdout).unwrap();
    let expected_policy: serde_json::Value =
        serde_json::from_str(&trust_policy(&provider_arn)).unwrap();
    assert_eq!(fetched["Role"]["AssumeRolePolicyDocument"], expected_policy);
    assert_eq!(
        fetched["Role"]["Arn"],
        "arn:aws:iam::123456789012:role/circleci-deploy"
    );

    let missing = run(vec![
        "iam".into(),
        "get-role".into(),
        "--role-name".into(),
        "nope".into(),
    ])
    .await;
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(
            "An error occurred (NoSuchEntity) when calling the GetRole operation: The role with name nope cannot be found."
        ),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    server.stop().await;
}
