//! `cargo xtask demo`: the whole federation flow, narrated, from a fresh clone.
//!
//! Boots `keyless-issuer` and `keyless-sts` (real binaries, throwaway data), creates a CircleCI
//! org with two projects and a context, registers the org's issuer and a role with the real AWS
//! CLI exactly as the announcement's "Setting up AWS" does, runs the announcement's job from
//! `examples/circleci/config.yml` with `keyless-runner` in the admitted project (the job assumes
//! the role and prints its caller identity) and then in the other project (AccessDenied), and
//! prints keyless-sts's explanation of the denial. Every line printed comes from what happened.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::stack::{
    self, Binaries, CONTEXT_NAME, ORG_NAME, OTHER_PROJECT_NAME, PROJECT_NAME, REGION, Stack,
};
use crate::{demo_sdk, python};

/// The job file the demo runs.
const EXAMPLE_CONFIG: &str = "examples/circleci/config.yml";
/// The workflow in it.
const EXAMPLE_WORKFLOW: &str = "main";

/// Shortens a UUID for narration: `c9035eb6-…`.
fn short(id: &str) -> String {
    format!("{}…", id.get(..8).unwrap_or(id))
}

/// Runs the demo.
pub fn run(root: &Path, use_sdk: bool) -> Result<()> {
    let python = if use_sdk {
        None
    } else {
        python::ensure_if_available(root)
            .context("the demo drives the real AWS CLI, installed into target/venv from Python 3")?
    };
    let binaries = Binaries::build(root)?;
    let started = Instant::now();
    println!("keyless demo — a CircleCI job gets AWS credentials with no stored keys\n");
    if python.is_none() {
        println!(
            "(no AWS CLI: {} — the job's AWS calls go through the AWS SDK for Rust instead)\n",
            if use_sdk {
                "--sdk given"
            } else {
                "Python 3 was not found"
            }
        );
    }
    let stack = Stack::boot(root, "demo", binaries, python)?;
    let platform = &stack.platform;
    println!(
        "[1/6] Starting the CI platform's OIDC issuer ...... {}   (JWKS: {} RSA-2048 keys, signing kid {}…)",
        stack.issuer.url,
        platform.published_keys,
        platform
            .signing_kid
            .get(..6)
            .unwrap_or(&platform.signing_kid)
    );
    println!(
        "[2/6] Starting the mock AWS STS + IAM ............. {}   (account {})",
        stack.sts.url,
        stack::ACCOUNT_ID
    );
    println!(
        "[3/6] CircleCI side: org {ORG_NAME:?} ({}), projects {PROJECT_NAME:?} ({}) and {OTHER_PROJECT_NAME:?} ({}), context {CONTEXT_NAME:?}",
        short(&platform.org_id),
        short(&platform.project_id),
        short(&platform.other_project_id)
    );
    if stack.python.is_some() {
        println!("[4/6] AWS side, as an admin would with the AWS CLI:");
        println!(
            "      aws iam create-open-id-connect-provider --url {} --client-id-list {}",
            platform.org_issuer, platform.org_id
        );
        println!(
            "      aws iam create-role --role-name {} --assume-role-policy-document file://trust.json",
            stack::ROLE_NAME
        );
    } else {
        println!("[4/6] AWS side, with SigV4-signed IAM calls (what the AWS CLI would send):");
        println!(
            "      CreateOpenIDConnectProvider Url={} ClientIDList={}",
            platform.org_issuer, platform.org_id
        );
        println!(
            "      CreateRole RoleName={} AssumeRolePolicyDocument=<trust policy>",
            stack::ROLE_NAME
        );
    }
    println!(
        "        trust: Federated  = …:oidc-provider/{}\n               StringEquals …:aud = {}\n               StringLike   …:sub = org/{}/project/{}/user/*   (only project {PROJECT_NAME:?})",
        stack.provider_url,
        platform.org_id,
        short(&platform.org_id),
        short(&platform.project_id)
    );
    let role_arn = &stack.role_arn;
    let work_dir = &stack.work_dir;

    println!(
        "\n[5/6] The announcement's job in project {PROJECT_NAME:?} (context {CONTEXT_NAME:?})"
    );
    let allowed = match stack.python {
        Some(_) => run_job(
            root,
            &stack,
            &platform.project_slug,
            &work_dir.join("job-widgets"),
        )?,
        None => demo_sdk::run_job(&stack, &platform.project_id)?,
    };
    if !allowed {
        bail!("the job in {PROJECT_NAME:?} should have assumed {role_arn}; see the output above");
    }

    println!(
        "\n[6/6] The same job in project {OTHER_PROJECT_NAME:?} — the trust policy should refuse it"
    );
    let denied_ran = match stack.python {
        Some(_) => run_job(
            root,
            &stack,
            &platform.other_project_slug,
            &work_dir.join("job-gadgets"),
        )?,
        None => demo_sdk::run_job(&stack, &platform.other_project_id)?,
    };
    if denied_ran {
        bail!(
            "the job in {OTHER_PROJECT_NAME:?} was allowed to assume {role_arn}; the trust policy is not enforced"
        );
    }
    explain_last_denial(&stack)?;

    println!(
        "\nDone in {:.1}s. Try it yourself: cargo xtask up, then point the AWS CLI at it (see README).",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the example workflow for `project` with `keyless-runner`, streaming its output indented;
/// returns whether the job succeeded.
fn run_job(root: &Path, stack: &Stack, project: &str, job_home: &Path) -> Result<bool> {
    let Stack {
        binaries,
        python,
        issuer,
        sts,
        platform,
        ..
    } = stack;
    fs::create_dir_all(job_home)?;
    let venv_bin = python
        .as_ref()
        .context("running the job with the AWS CLI needs Python")?
        .aws_cli
        .parent()
        .context("the AWS CLI has no parent directory")?;
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(&binaries.runner)
        .args([
            "run",
            "--config",
            EXAMPLE_CONFIG,
            "--workflow",
            EXAMPLE_WORKFLOW,
        ])
        .args(["--issuer", &issuer.url, "--project", project])
        .arg("--runner-token")
        .arg(&platform.runner_token)
        .current_dir(root)
        .env_clear()
        .env("PATH", path)
        .env("HOME", job_home)
        .env("AWS_ENDPOINT_URL", &sts.url)
        .env("AWS_DEFAULT_REGION", REGION)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting keyless-runner")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let stderr_lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let stdout = child.stdout.take().context("no stdout pipe")?;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("      {line}");
    }
    for line in stderr_lines.join().unwrap_or_default() {
        println!("      {line}");
    }
    Ok(child.wait()?.success())
}

/// Finds the STS's latest denial and prints its explanation with `keyless-sts explain`.
fn explain_last_denial(stack: &Stack) -> Result<()> {
    let Stack { binaries, sts, .. } = stack;
    let latest: Value = ureq::get(&format!(
        "{}/_keyless/decisions?limit=1&allowed=false",
        sts.url
    ))
    .call()
    .context("asking keyless-sts for its latest decision")?
    .body_mut()
    .read_json()?;
    let request_id = latest[0]["request_id"]
        .as_str()
        .with_context(|| format!("no decision in {latest}"))?
        .to_owned();
    let output = Command::new(&binaries.sts)
        .args(["explain", &request_id, "--url", &sts.url])
        .output()
        .context("running keyless-sts explain")?;
    println!("      Why (keyless-sts explain {request_id}):");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("        {line}");
    }
    if !output.status.success() {
        bail!(
            "keyless-sts explain failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
