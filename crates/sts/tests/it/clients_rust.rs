//! The AWS SDK for Rust against keyless-sts: explicit AssumeRoleWithWebIdentity and
//! GetCallerIdentity calls with `endpoint_url`, errors as the SDK parses them, and the SDK's own
//! web-identity credential provider, both from `~/.aws/config` (`web_identity_token_file` with a
//! `services` section for the endpoint) and from `AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE` +
//! `AWS_ENDPOINT_URL_STS` in the environment. Environment variables cannot be set safely in this
//! multi-threaded process, so the environment path runs this same test in a child process.

use aws_config::BehaviorVersion;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_sts::config::{Credentials, Region};

use crate::issuer::{Fixture, ROLE_ARN};

/// The variable that makes the environment-path test act as the child.
const CHILD_MARKER: &str = "KEYLESS_RUST_SDK_CHILD";

fn sts_client(endpoint: &str, credentials: Option<Credentials>) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint);
    if let Some(credentials) = credentials {
        builder = builder.credentials_provider(credentials);
    }
    aws_sdk_sts::Client::from_conf(builder.build())
}

#[tokio::test]
async fn the_rust_sdk_assumes_and_identifies() {
    let fixture = Fixture::start().await;
    let url = fixture.server.url();
    let anonymous = sts_client(&url, None);
    let answer = anonymous
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name("rust-sdk")
        .web_identity_token(fixture.issuer.token())
        .send()
        .await
        .unwrap();
    let assumed = answer.assumed_role_user().unwrap();
    assert_eq!(
        assumed.arn(),
        "arn:aws:sts::123456789012:assumed-role/circleci-deploy/rust-sdk"
    );
    assert_eq!(answer.provider(), Some(crate::issuer::PROVIDER_ARN));
    let credentials = answer.credentials().unwrap();
    let signed = sts_client(
        &url,
        Some(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            None,
            "keyless-test",
        )),
    );
    let identity = signed.get_caller_identity().send().await.unwrap();
    assert_eq!(identity.arn(), Some(assumed.arn()));
    assert_eq!(identity.user_id(), Some(assumed.assumed_role_id()));
    assert_eq!(identity.account(), Some("123456789012"));

    let error = anonymous
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::123456789012:role/ci/nope")
        .role_session_name("rust-sdk")
        .web_identity_token(fixture.issuer.token())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&error),
        Some("AccessDenied")
    );
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::message(&error),
        Some("Not authorized to perform sts:AssumeRoleWithWebIdentity")
    );
    let error = anonymous
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name("rust-sdk")
        .web_identity_token("not-a.jwt.token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_invalid_identity_token_exception(), "{error:?}");
}

#[tokio::test]
async fn the_rust_sdk_web_identity_provider_from_a_profile() {
    let fixture = Fixture::start().await;
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{}\n", fixture.issuer.token())).unwrap();
    let config_file = home.path().join("config");
    std::fs::write(
        &config_file,
        format!(
            "[profile keyless]\nregion = eu-west-1\nrole_arn = {ROLE_ARN}\nweb_identity_token_file = {}\nrole_session_name = rust-profile\nservices = keyless-local\n\n[services keyless-local]\nsts =\n  endpoint_url = {}\n",
            token_file.display(),
            fixture.server.url()
        ),
    )
    .unwrap();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .profile_files(
            EnvConfigFiles::builder()
                .with_file(EnvConfigFileKind::Config, &config_file)
                .build(),
        )
        .profile_name("keyless")
        .load()
        .await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        identity.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/circleci-deploy/rust-profile")
    );
}

/// As the parent: starts keyless-sts and reruns this test in a child whose environment holds
/// only the web-identity variables, the STS endpoint and a region. As the child: loads the
/// default configuration (the SDK assumes the role itself) and calls GetCallerIdentity.
#[tokio::test]
async fn the_rust_sdk_web_identity_provider_from_the_environment() {
    if std::env::var_os(CHILD_MARKER).is_some() {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(
            identity.arn(),
            Some("arn:aws:sts::123456789012:assumed-role/circleci-deploy/rust-environment")
        );
        println!("rust sdk web identity: ok");
        return;
    }
    let fixture = Fixture::start().await;
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, format!("{}\n", fixture.issuer.token())).unwrap();
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "clients_rust::the_rust_sdk_web_identity_provider_from_the_environment",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env(CHILD_MARKER, "1")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ROLE_ARN", ROLE_ARN)
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ROLE_SESSION_NAME", "rust-environment")
        .env("AWS_ENDPOINT_URL_STS", fixture.server.url())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("rust sdk web identity: ok"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
