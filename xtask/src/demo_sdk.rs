//! The demo's job steps without Python: the same AWS calls the announcement's job makes with the
//! AWS CLI (AssumeRoleWithWebIdentity with `$CIRCLE_OIDC_TOKEN`, then GetCallerIdentity with the
//! temporary credentials), made through the AWS SDK for Rust against keyless-sts, with the token
//! of a job started through the issuer's job API.

use anyhow::{Context, Result};
use aws_config::BehaviorVersion;
use aws_sdk_sts::config::{Credentials, Region};
use aws_sdk_sts::error::ProvideErrorMetadata;
use serde_json::json;

use crate::stack::{self, Stack};

/// An STS client for `endpoint`, anonymous or with `credentials`.
pub fn client(endpoint: &str, credentials: Option<Credentials>) -> aws_sdk_sts::Client {
    let mut builder = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(stack::REGION))
        .endpoint_url(endpoint);
    if let Some(credentials) = credentials {
        builder = builder.credentials_provider(credentials);
    }
    aws_sdk_sts::Client::from_conf(builder.build())
}

/// Starts a job in `project_id` with the demo's context and makes the job's two AWS calls with
/// the SDK, printing what happened; returns whether the role was assumed.
pub fn run_job(stack: &Stack, project_id: &str) -> Result<bool> {
    let mut response = ureq::post(&format!("{}/api/v1/jobs", stack.issuer.url))
        .header(
            "Authorization",
            &format!("Bearer {}", stack.platform.runner_token),
        )
        .send_json(json!({
            "project": project_id,
            "job_name": "oidc-job",
            "contexts": [stack::CONTEXT_NAME],
            "vcs": {"ref": "refs/heads/main"},
        }))
        .context("starting the job at the issuer")?;
    let job: serde_json::Value = response.body_mut().read_json()?;
    let token = stack::string_field(&job, "oidc_token")?;
    let session_name = format!(
        "CircleCI-{}-oidc-job",
        stack::string_field(&job, "workflow_id")?
    );
    println!(
        "      job {} started; CIRCLE_OIDC_TOKEN issued (aud {})",
        stack::string_field(&job, "job_id")?,
        stack.platform.org_id
    );
    println!("      ── AWS SDK for Rust: AssumeRoleWithWebIdentity, then GetCallerIdentity");
    let endpoint = stack.sts.url.clone();
    let role_arn = stack.role_arn.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let assumed = client(&endpoint, None)
            .assume_role_with_web_identity()
            .role_arn(&role_arn)
            .role_session_name(&session_name)
            .web_identity_token(token)
            .send()
            .await;
        let answer = match assumed {
            Ok(answer) => answer,
            Err(error) => {
                println!(
                    "      | An error occurred ({}) when calling the AssumeRoleWithWebIdentity operation: {}",
                    error.code().unwrap_or("unknown"),
                    error.message().unwrap_or("")
                );
                return Ok(false);
            }
        };
        let credentials = answer.credentials().context("no Credentials")?;
        let signed = client(
            &endpoint,
            Some(Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_owned()),
                None,
                "keyless-demo",
            )),
        );
        let identity = signed
            .get_caller_identity()
            .send()
            .await
            .context("GetCallerIdentity")?;
        println!("      | UserId  {}", identity.user_id().unwrap_or(""));
        println!("      | Account {}", identity.account().unwrap_or(""));
        println!("      | Arn     {}", identity.arn().unwrap_or(""));
        Ok(true)
    })
}
