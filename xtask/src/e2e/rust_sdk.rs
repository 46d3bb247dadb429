//! The AWS SDK for Rust against the real `keyless-sts` binary: AssumeRoleWithWebIdentity with a
//! job's token, then GetCallerIdentity signed with the temporary credentials, each through the
//! SDK's own request signing and response parsing.

use anyhow::{Context, Result, ensure};
use aws_sdk_sts::config::Credentials;

use super::support::Suite;
use crate::demo_sdk::client;
use crate::stack::{self, ACCOUNT_ID, ROLE_NAME};

/// Assumes the demo role with a fresh job token and checks the caller identity.
pub fn rust_sdk_flow(suite: &mut Suite) -> Result<()> {
    let job = suite.start_job(&suite.stack.platform.project_id, &[stack::CONTEXT_NAME])?;
    let token = stack::string_field(&job, "oidc_token_v2")?;
    let endpoint = suite.stack.sts.url.clone();
    let role_arn = suite.stack.role_arn.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let answer = client(&endpoint, None)
            .assume_role_with_web_identity()
            .role_arn(&role_arn)
            .role_session_name("rust-sdk-e2e")
            .web_identity_token(token)
            .send()
            .await
            .context("AssumeRoleWithWebIdentity through the AWS SDK for Rust")?;
        let assumed = answer.assumed_role_user().context("no AssumedRoleUser")?;
        let expected = format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/rust-sdk-e2e");
        ensure!(assumed.arn() == expected, "assumed {}", assumed.arn());
        let credentials = answer.credentials().context("no Credentials")?;
        let signed = client(
            &endpoint,
            Some(Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_owned()),
                None,
                "keyless-e2e",
            )),
        );
        let identity = signed
            .get_caller_identity()
            .send()
            .await
            .context("GetCallerIdentity through the AWS SDK for Rust")?;
        ensure!(
            identity.arn() == Some(expected.as_str()),
            "identity {:?}",
            identity.arn()
        );
        ensure!(
            identity.user_id() == Some(assumed.assumed_role_id()),
            "UserId {:?} is not AssumedRoleId {}",
            identity.user_id(),
            assumed.assumed_role_id()
        );
        ensure!(
            identity.account() == Some(ACCOUNT_ID),
            "account {:?}",
            identity.account()
        );
        Ok(())
    })
}
