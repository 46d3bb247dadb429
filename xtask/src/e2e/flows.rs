//! The end-to-end scenarios of issue 7, each a function over the booted [`Suite`].

use std::fs;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use super::support::{Suite, job_config, jwt_header};
use crate::stack::{self, ACCOUNT_ID, ROLE_NAME};

/// The announcement's job file.
const EXAMPLE_CONFIG: &str = "examples/circleci/config.yml";
/// AWS's message for a trust-policy refusal.
const ACCESS_DENIED: &str = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

/// The announcement's job, unchanged, with the real AWS CLI: allowed in `widgets`, denied in
/// `gadgets`.
pub fn announcement_flow(suite: &mut Suite) -> Result<()> {
    let config = fs::read_to_string(suite.root.join(EXAMPLE_CONFIG))?;
    let widgets = suite.stack.platform.project_slug.clone();
    let allowed = suite.run_workflow(&config, &widgets, &[])?;
    allowed.expect_success_with(&format!(
        "arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/CircleCI-"
    ))?;
    let gadgets = suite.stack.platform.other_project_slug.clone();
    let denied = suite.run_workflow(&config, &gadgets, &[])?;
    denied.expect_failure_with("(AccessDenied)")?;
    denied.expect_failure_with(ACCESS_DENIED)
}

/// The `gadgets` denial is explained: the `sub` condition, expected and actual values.
pub fn denial_is_explained(suite: &mut Suite) -> Result<()> {
    let decision = suite.latest_denial()?;
    let text = decision.to_string();
    ensure!(
        text.contains("ImplicitDeny"),
        "the latest decision is not a denial: {text}"
    );
    ensure!(
        text.contains(&suite.stack.platform.other_project_id) && text.contains(&suite.key("sub")),
        "the decision does not name the sub condition and the actual project: {text}"
    );
    let request_id = stack::string_field(&decision, "request_id")?;
    let explained = std::process::Command::new(&suite.stack.binaries.sts)
        .args(["explain", &request_id, "--url", &suite.stack.sts.url])
        .output()?;
    let explanation = String::from_utf8_lossy(&explained.stdout);
    ensure!(
        explained.status.success()
            && explanation.contains("StringLike")
            && explanation.contains(&suite.stack.platform.other_project_id),
        "keyless-sts explain did not explain the denial: {explanation}{}",
        String::from_utf8_lossy(&explained.stderr)
    );
    Ok(())
}

/// boto3: AssumeRoleWithWebIdentity with a job's token, then GetCallerIdentity with the
/// temporary credentials.
pub fn boto3_flow(suite: &mut Suite) -> Result<()> {
    let job = suite.start_job(&suite.stack.platform.project_id, &[stack::CONTEXT_NAME])?;
    let token = stack::string_field(&job, "oidc_token_v2")?;
    let home = suite.fresh_home("boto3")?;
    let script = r#"
import json, os, boto3
sts = boto3.client("sts")
assumed = sts.assume_role_with_web_identity(
    RoleArn=os.environ["ROLE_ARN"], RoleSessionName="boto3-e2e",
    WebIdentityToken=os.environ["TOKEN"])
credentials = assumed["Credentials"]
session = boto3.client("sts",
    aws_access_key_id=credentials["AccessKeyId"],
    aws_secret_access_key=credentials["SecretAccessKey"],
    aws_session_token=credentials["SessionToken"])
identity = session.get_caller_identity()
print(json.dumps({"assumed": assumed["AssumedRoleUser"], "provider": assumed["Provider"],
    "audience": assumed["Audience"], "identity": {k: identity[k] for k in ("Arn", "UserId", "Account")}}))
"#;
    let outcome = suite.python_script(
        &home,
        script,
        &[("ROLE_ARN", &suite.stack.role_arn), ("TOKEN", &token)],
    )?;
    ensure!(outcome.success, "boto3 failed: {}", outcome.text);
    let result: Value = serde_json::from_str(outcome.text.trim())
        .with_context(|| format!("boto3 printed {}", outcome.text))?;
    let expected_arn = format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/boto3-e2e");
    ensure!(result["identity"]["Arn"] == json!(expected_arn), "{result}");
    ensure!(result["assumed"]["Arn"] == json!(expected_arn), "{result}");
    ensure!(
        result["identity"]["UserId"] == result["assumed"]["AssumedRoleId"],
        "{result}"
    );
    ensure!(
        result["identity"]["Account"] == json!(ACCOUNT_ID),
        "{result}"
    );
    ensure!(
        result["provider"] == json!(suite.stack.provider_arn),
        "{result}"
    );
    ensure!(
        result["audience"] == json!(suite.stack.platform.org_id),
        "{result}"
    );
    Ok(())
}

/// `--aws-role-arn`: the runner writes the token file and the AWS CLI assumes the role itself.
pub fn web_identity_provider(suite: &mut Suite) -> Result<()> {
    let config = job_config(
        "aws sts get-caller-identity --query Arn --output text",
        true,
    );
    let role_arn = suite.stack.role_arn.clone();
    let widgets = suite.stack.platform.project_slug.clone();
    let outcome = suite.run_workflow(&config, &widgets, &["--aws-role-arn", &role_arn])?;
    outcome.expect_success_with(&format!(
        "arn:aws:sts::{ACCOUNT_ID}:assumed-role/{ROLE_NAME}/"
    ))
}

/// A token for a custom audience from `circleci run oidc get` assumes a role that trusts that
/// audience; the default token (aud = org id) does not.
pub fn custom_audience(suite: &mut Suite) -> Result<()> {
    const AUDIENCE: &str = "keyless-e2e-audience";
    suite.admin_aws().run_ok(&[
        "iam",
        "add-client-id-to-open-id-connect-provider",
        "--open-id-connect-provider-arn",
        &suite.stack.provider_arn,
        "--client-id",
        AUDIENCE,
    ])?;
    let policy = suite.trust_policy(json!({
        "StringEquals": {suite.key("aud"): AUDIENCE},
        "StringLike": {suite.key("sub"): format!("org/{}/project/{}/user/*", suite.stack.platform.org_id, suite.stack.platform.project_id)}
    }));
    let role_arn = suite.create_role("custom-audience", &policy)?;
    let command = format!(
        r#"token=$(circleci run oidc get --claims '{{"aud":"{AUDIENCE}"}}')
aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name custom-aud --web-identity-token "$token" --query AssumedRoleUser.Arn --output text
if aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name default-aud --web-identity-token "$CIRCLE_OIDC_TOKEN"; then
  echo "the default audience was accepted"; exit 1
fi"#
    );
    let widgets = suite.stack.platform.project_slug.clone();
    let outcome = suite.run_workflow(&job_config(&command, true), &widgets, &[])?;
    outcome.expect_success_with("assumed-role/custom-audience/custom-aud")?;
    outcome.expect_success_with(ACCESS_DENIED)
}

/// CircleCI's branch restriction needs the V2 `sub`: V2 on main is allowed, V2 on another
/// branch and V1 on main are denied, and the V1 denial carries the V1/V2 hint.
pub fn v1_v2_and_branch(suite: &mut Suite) -> Result<()> {
    let policy = suite.trust_policy(json!({
        "StringEquals": {suite.key("aud"): suite.stack.platform.org_id},
        "StringLike": {suite.key("sub"): format!(
            "org/{}/project/*/user/*/vcs-origin/github.com/{}/*/vcs-ref/refs/heads/main",
            suite.stack.platform.org_id, stack::ORG_NAME)}
    }));
    let role_arn = suite.create_role("deploy-from-main", &policy)?;
    let assume = |token: &str, session: &str| {
        format!(
            "aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name {session} --web-identity-token \"${token}\" --query AssumedRoleUser.Arn --output text"
        )
    };
    let main_command = format!(
        "{}\nif {}; then echo 'V1 was accepted'; exit 1; fi",
        assume("CIRCLE_OIDC_TOKEN_V2", "v2-main"),
        assume("CIRCLE_OIDC_TOKEN", "v1-main")
    );
    let widgets = suite.stack.platform.project_slug.clone();
    let on_main = suite.run_workflow(
        &job_config(&main_command, true),
        &widgets,
        &["--branch", "main"],
    )?;
    on_main.expect_success_with("assumed-role/deploy-from-main/v2-main")?;
    let decision = suite.latest_denial()?.to_string();
    ensure!(
        decision.contains("sub_v1_where_v2_expected"),
        "the V1 denial has no V1/V2 hint: {decision}"
    );
    let feature = suite.run_workflow(
        &job_config(&assume("CIRCLE_OIDC_TOKEN_V2", "v2-feature"), true),
        &widgets,
        &["--branch", "feature/x"],
    )?;
    feature.expect_failure_with(ACCESS_DENIED)
}

/// The `oidc.circleci.com/project-id` condition key admits `widgets` and refuses `gadgets`.
pub fn project_id_condition_key(suite: &mut Suite) -> Result<()> {
    let policy = suite.trust_policy(json!({
        "StringEquals": {
            suite.key("aud"): suite.stack.platform.org_id,
            suite.key("oidc.circleci.com/project-id"): suite.stack.platform.project_id,
        }
    }));
    let role_arn = suite.create_role("by-project-id", &policy)?;
    let command = format!(
        "aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name by-id --web-identity-token \"$CIRCLE_OIDC_TOKEN\" --query AssumedRoleUser.Arn --output text"
    );
    let config = job_config(&command, true);
    let widgets = suite.stack.platform.project_slug.clone();
    suite
        .run_workflow(&config, &widgets, &[])?
        .expect_success_with("assumed-role/by-project-id/by-id")?;
    let gadgets = suite.stack.platform.other_project_slug.clone();
    suite
        .run_workflow(&config, &gadgets, &[])?
        .expect_failure_with(ACCESS_DENIED)
}

/// Under the announcement's rule a job without a context gets no token; with the rule off it
/// does, and can assume the role.
pub fn context_rule(suite: &mut Suite) -> Result<()> {
    let org_settings = format!(
        "/api/v1/admin/orgs/{}/settings",
        suite.stack.platform.org_id
    );
    let widgets = suite.stack.platform.project_slug.clone();
    let check_absent = job_config(
        "test -z \"${CIRCLE_OIDC_TOKEN:-}\" && test -z \"${CIRCLE_OIDC_TOKEN_V2:-}\" && echo no-token",
        false,
    );
    suite
        .run_workflow(&check_absent, &widgets, &[])?
        .expect_success_with("no-token")?;
    suite.admin(
        "PATCH",
        &org_settings,
        json!({"oidc_requires_context": false}),
    )?;
    let role_arn = suite.stack.role_arn.clone();
    let assume = job_config(
        &format!(
            "aws sts assume-role-with-web-identity --role-arn {role_arn} --role-session-name no-context --web-identity-token \"$CIRCLE_OIDC_TOKEN\" --query AssumedRoleUser.Arn --output text"
        ),
        false,
    );
    let outcome = suite.run_workflow(&assume, &widgets, &[]);
    suite.admin(
        "PATCH",
        &org_settings,
        json!({"oidc_requires_context": true}),
    )?;
    outcome?.expect_success_with(&format!("assumed-role/{ROLE_NAME}/no-context"))
}

/// A job's tokens minted before and after a key rotation both assume the role.
pub fn key_rotation(suite: &mut Suite) -> Result<()> {
    let job = suite.start_job(&suite.stack.platform.project_id, &[stack::CONTEXT_NAME])?;
    let before = stack::string_field(&job, "oidc_token")?;
    suite.admin("POST", "/api/v1/admin/keys/rotate", json!({}))?;
    let after = stack::string_field(&suite.mint(&job)?, "oidc_token")?;
    let (kid_before, kid_after) = (
        jwt_header(&before)?["kid"].clone(),
        jwt_header(&after)?["kid"].clone(),
    );
    ensure!(
        kid_before != kid_after,
        "rotation did not change the signing key ({kid_before})"
    );
    for (label, token) in [("before", &before), ("after", &after)] {
        let home = suite.fresh_home(label)?;
        let session = format!("rotation-{label}");
        suite
            .aws(
                &home,
                &[
                    "sts",
                    "assume-role-with-web-identity",
                    "--role-arn",
                    &suite.stack.role_arn,
                    "--role-session-name",
                    &session,
                    "--web-identity-token",
                    token,
                    "--query",
                    "AssumedRoleUser.Arn",
                    "--output",
                    "text",
                ],
                &[],
            )?
            .expect_success_with(&session)?;
    }
    Ok(())
}

/// Credentials issued before an STS restart still work after it.
pub fn sts_restart_keeps_sessions(suite: &mut Suite) -> Result<()> {
    let job = suite.start_job(&suite.stack.platform.project_id, &[stack::CONTEXT_NAME])?;
    let token = stack::string_field(&job, "oidc_token")?;
    let home = suite.fresh_home("restart")?;
    let assumed = suite.aws(
        &home,
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &suite.stack.role_arn,
            "--role-session-name",
            "before-restart",
            "--web-identity-token",
            &token,
            "--query",
            "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]",
            "--output",
            "text",
        ],
        &[],
    )?;
    ensure!(assumed.success, "assume failed: {}", assumed.text);
    let parts: Vec<&str> = assumed.text.split_whitespace().collect();
    let [access_key_id, secret, session_token] = parts[..] else {
        bail!("unexpected credentials output {:?}", assumed.text);
    };
    suite.restart_sts()?;
    suite
        .aws(
            &home,
            &[
                "sts",
                "get-caller-identity",
                "--query",
                "Arn",
                "--output",
                "text",
            ],
            &[
                ("AWS_ACCESS_KEY_ID", access_key_id),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_SESSION_TOKEN", session_token),
            ],
        )?
        .expect_success_with(&format!("assumed-role/{ROLE_NAME}/before-restart"))
}

/// With the issuer down, an STS that has not cached its keys answers AWS's retrieval error, and
/// the AWS CLI does not retry it (only IDPCommunicationError is retried by botocore).
pub fn issuer_down(suite: &mut Suite) -> Result<()> {
    let job = suite.start_job(&suite.stack.platform.project_id, &[stack::CONTEXT_NAME])?;
    let token = stack::string_field(&job, "oidc_token")?;
    // A second STS with empty caches, set up like the first.
    let fresh_dir = suite.stack.work_dir.join("sts-fresh");
    let fresh = stack::start_sts(&suite.stack.binaries, &fresh_dir)?;
    let aws = stack::AwsCli {
        program: suite.python.aws_cli.clone(),
        endpoint: fresh.url.clone(),
        home: fresh_dir.join("admin-home"),
    };
    let (_, role_arn) = stack::register_aws(&aws, &suite.stack.platform, &fresh_dir)?;
    suite.stack.issuer.stop();
    let home = suite.fresh_home("issuer-down")?;
    let outcome = suite.aws(
        &home,
        &[
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "issuer-down",
            "--web-identity-token",
            &token,
        ],
        &[("AWS_ENDPOINT_URL", &fresh.url)],
    )?;
    outcome.expect_failure_with("(InvalidIdentityToken)")?;
    outcome.expect_failure_with(
        "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
    )?;
    let events: Value = ureq::get(&format!("{}/_keyless/events?limit=100", fresh.url))
        .call()?
        .body_mut()
        .read_json()?;
    let attempts = events
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|event| event["eventName"] == json!("AssumeRoleWithWebIdentity"))
                .count()
        })
        .unwrap_or(0);
    ensure!(
        attempts == 1,
        "expected exactly one attempt (no retry), saw {attempts}: {events}"
    );
    Ok(())
}
