//! The whole keyless stack, booted from the real binaries and set up the way the announcement
//! describes: a CircleCI org with two projects and a context on the issuer, and on the STS an
//! OIDC provider for the org plus a role whose trust policy admits one project only.
//!
//! Shared by `cargo xtask demo`, `up` and `e2e`. Every step is a separate method so the demo
//! can narrate what actually happened between them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use rand::Rng;
use serde_json::{Value, json};

use crate::python::PythonEnvironment;
use crate::service::Service;

/// The AWS account the STS simulates.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region the AWS clients are pointed at.
pub const REGION: &str = "us-east-1";
/// The STS's default admin credential (AWS's documented example key; see docs/sts.md).
pub const ADMIN_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// The secret of [`ADMIN_ACCESS_KEY_ID`].
pub const ADMIN_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// The role the demo job assumes.
pub const ROLE_NAME: &str = "deploy-widgets";
/// The org, projects and context the stack creates.
pub const ORG_NAME: &str = "acme";
/// The project the trust policy admits.
pub const PROJECT_NAME: &str = "widgets";
/// The project the trust policy refuses.
pub const OTHER_PROJECT_NAME: &str = "gadgets";
/// The context the job uses (the announcement's rule: tokens only for jobs with a context).
pub const CONTEXT_NAME: &str = "aws-deploy";

/// Paths of the built binaries.
pub struct Binaries {
    /// `keyless-issuer`.
    pub issuer: PathBuf,
    /// `keyless-sts`.
    pub sts: PathBuf,
    /// `keyless-runner`.
    pub runner: PathBuf,
}

impl Binaries {
    /// Builds the three service binaries (debug profile, shared with the tests' build) and
    /// returns where they are.
    pub fn build(root: &Path) -> Result<Self> {
        Self::build_profile(root, false)
    }

    /// Builds them with the release profile, for `cargo xtask bench`.
    pub fn build_release(root: &Path) -> Result<Self> {
        Self::build_profile(root, true)
    }

    fn build_profile(root: &Path, release: bool) -> Result<Self> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let profile: &[&str] = if release { &["--release"] } else { &[] };
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                // The service binaries, never xtask's own: building xtask here (as
                // `--workspace` alone does) overwrote the running `cargo xtask` binary with a
                // different feature set, so every next `cargo xtask …` rebuilt it and this
                // rebuilt it back (four minutes per demo).
                "--workspace",
                "--exclude",
                "xtask",
                "--bins",
            ])
            .args(profile)
            .current_dir(root)
            .status()
            .context("starting cargo build")?;
        if !status.success() {
            bail!("building the keyless binaries failed ({status})");
        }
        let target = target_dir(root).join(if release { "release" } else { "debug" });
        Ok(Self {
            issuer: target.join("keyless-issuer"),
            sts: target.join("keyless-sts"),
            runner: target.join("keyless-runner"),
        })
    }
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, or `target/` in the workspace.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// What the CircleCI side looks like once created.
#[derive(Debug, Clone)]
pub struct Platform {
    /// The org's id (also the default `aud`).
    pub org_id: String,
    /// `{issuer}/org/{org_id}`.
    pub org_issuer: String,
    /// The admitted project.
    pub project_id: String,
    /// Its slug, e.g. `gh/acme/widgets`.
    pub project_slug: String,
    /// The refused project.
    pub other_project_id: String,
    /// Its slug.
    pub other_project_slug: String,
    /// The runner token the runner authenticates with.
    pub runner_token: String,
    /// The issuer's current signing key id.
    pub signing_kid: String,
    /// How many keys the JWKS publishes.
    pub published_keys: usize,
}

/// A random URL-safe secret of `length` characters.
pub fn random_secret(length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = rand::thread_rng();
    (0..length)
        .map(|_| char::from(ALPHABET[random.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The audit file (`--audit-file`) keyless-sts appends to, beside its log.
pub const STS_AUDIT_FILE: &str = "sts-audit.jsonl";

/// Starts `keyless-issuer` with its data in `data_dir`.
pub fn start_issuer(binaries: &Binaries, data_dir: &Path, admin_token: &str) -> Result<Service> {
    start_issuer_at(binaries, data_dir, admin_token, "127.0.0.1:0")
}

/// Starts `keyless-issuer` with its data in `data_dir`, listening on `listen` (`IP:PORT`; a
/// restart on the old port keeps the `iss` its tokens carry).
pub fn start_issuer_at(
    binaries: &Binaries,
    data_dir: &Path,
    admin_token: &str,
    listen: &str,
) -> Result<Service> {
    fs::create_dir_all(data_dir)?;
    Service::start(
        &binaries.issuer,
        &[
            "serve".into(),
            "--listen".into(),
            listen.into(),
            "--data-dir".into(),
            data_dir.join("issuer").display().to_string(),
            "--admin-token".into(),
            admin_token.into(),
        ],
        &data_dir.join("issuer.log"),
    )
}

/// Starts `keyless-sts` with its data in `data_dir`.
pub fn start_sts(binaries: &Binaries, data_dir: &Path) -> Result<Service> {
    fs::create_dir_all(data_dir)?;
    Service::start(
        &binaries.sts,
        &[
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.join("sts").display().to_string(),
            "--account-id".into(),
            ACCOUNT_ID.into(),
            "--audit-file".into(),
            data_dir.join(STS_AUDIT_FILE).display().to_string(),
        ],
        &data_dir.join("sts.log"),
    )
}

/// Calls the issuer's admin API.
fn admin(
    issuer: &Service,
    admin_token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value> {
    let url = format!("{}{path}", issuer.url);
    let authorization = format!("Bearer {admin_token}");
    let response = match method {
        "GET" => ureq::get(&url)
            .header("Authorization", &authorization)
            .call(),
        _ => ureq::post(&url)
            .header("Authorization", &authorization)
            .send_json(&body),
    };
    let mut response = response.with_context(|| format!("{method} {path} on the issuer"))?;
    response
        .body_mut()
        .read_json()
        .with_context(|| format!("reading the answer to {method} {path}"))
}

/// Creates the org, its user, two projects and the context through the issuer's admin API.
pub fn create_platform(issuer: &Service, admin_token: &str) -> Result<Platform> {
    let org = admin(
        issuer,
        admin_token,
        "POST",
        "/api/v1/admin/orgs",
        json!({"name": ORG_NAME}),
    )?;
    let org_id = string_field(&org, "id")?;
    let base = format!("/api/v1/admin/orgs/{org_id}");
    admin(
        issuer,
        admin_token,
        "POST",
        &format!("{base}/users"),
        json!({"login": "alice"}),
    )?;
    let mut projects = Vec::new();
    for name in [PROJECT_NAME, OTHER_PROJECT_NAME] {
        let project = admin(
            issuer,
            admin_token,
            "POST",
            &format!("{base}/projects"),
            json!({"name": name, "vcs_origin": format!("github.com/{ORG_NAME}/{name}")}),
        )?;
        projects.push((
            string_field(&project, "id")?,
            string_field(&project, "slug")?,
        ));
    }
    let role_arn = format!("arn:aws:iam::{ACCOUNT_ID}:role/{ROLE_NAME}");
    admin(
        issuer,
        admin_token,
        "POST",
        &format!("{base}/contexts"),
        json!({"name": CONTEXT_NAME, "environment": {"AWS_ROLE_ARN": role_arn}}),
    )?;
    let runner = admin(
        issuer,
        admin_token,
        "POST",
        &format!("{base}/runner-tokens"),
        json!({"name": "local-runner", "token": random_secret(40)}),
    )?;
    let keys = admin(
        issuer,
        admin_token,
        "GET",
        "/api/v1/admin/keys",
        Value::Null,
    )?;
    let jwks: Value = ureq::get(&format!(
        "{}/org/{org_id}/.well-known/jwks-pub.json",
        issuer.url
    ))
    .call()?
    .body_mut()
    .read_json()?;
    let [
        (project_id, project_slug),
        (other_project_id, other_project_slug),
    ] = <[(String, String); 2]>::try_from(projects)
        .map_err(|_| anyhow::anyhow!("expected two projects"))?;
    Ok(Platform {
        org_issuer: format!("{}/org/{org_id}", issuer.url),
        org_id,
        project_id,
        project_slug,
        other_project_id,
        other_project_slug,
        runner_token: string_field(&runner, "token")?,
        signing_kid: active_kid(&keys)?,
        published_keys: jwks["keys"].as_array().map_or(0, Vec::len),
    })
}

/// The kid of the active key in `GET /api/v1/admin/keys`'s `{"keys":[{"kid","state"}…]}`.
fn active_kid(keys: &Value) -> Result<String> {
    keys["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|key| key["state"] == "active"))
        .map(|key| string_field(key, "kid"))
        .with_context(|| format!("no active key in {keys}"))?
}

/// A string member of a JSON object, or an error naming it.
pub fn string_field(value: &Value, name: &str) -> Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no string {name:?} in {value}"))
}

/// The trust policy of the announcement's "Advanced usage": the org's provider, the org id as
/// audience, and only jobs of one project (`StringLike` on `sub`).
pub fn trust_policy(platform: &Platform, provider_url: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{provider_url}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{provider_url}:aud"): platform.org_id},
                "StringLike": {
                    format!("{provider_url}:sub"):
                        format!("org/{}/project/{}/user/*", platform.org_id, platform.project_id)
                }
            }
        }]
    })
}

/// Runs the AWS CLI against the STS with the admin credential and an isolated HOME.
pub struct AwsCli {
    /// The `aws` executable.
    pub program: PathBuf,
    /// The STS URL.
    pub endpoint: String,
    /// An empty HOME so no user config or credential cache interferes.
    pub home: PathBuf,
}

impl AwsCli {
    /// Runs `aws ARGS…`, returning its output whatever the exit status.
    pub fn run(&self, arguments: &[&str]) -> Result<Output> {
        fs::create_dir_all(&self.home)?;
        Command::new(&self.program)
            .args(arguments)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", ADMIN_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET_ACCESS_KEY)
            .output()
            .with_context(|| format!("starting {}", self.program.display()))
    }

    /// Runs `aws ARGS…` and fails with its stderr if it fails; returns stdout.
    pub fn run_ok(&self, arguments: &[&str]) -> Result<String> {
        let output = self.run(arguments)?;
        if !output.status.success() {
            bail!(
                "aws {} failed ({}): {}",
                arguments.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Registers the org's issuer as an OIDC provider and creates the role, with the AWS CLI exactly
/// as an admin would; returns the provider URL (without scheme) and the role ARN.
pub fn register_aws(
    aws: &AwsCli,
    platform: &Platform,
    work_dir: &Path,
) -> Result<(String, String)> {
    aws.run_ok(&[
        "iam",
        "create-open-id-connect-provider",
        "--url",
        &platform.org_issuer,
        "--client-id-list",
        &platform.org_id,
    ])?;
    let provider_url = platform
        .org_issuer
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    let trust_path = work_dir.join("trust.json");
    fs::write(
        &trust_path,
        serde_json::to_string_pretty(&trust_policy(platform, &provider_url))?,
    )?;
    let created = aws.run_ok(&[
        "iam",
        "create-role",
        "--role-name",
        ROLE_NAME,
        "--assume-role-policy-document",
        &format!("file://{}", trust_path.display()),
        "--output",
        "json",
    ])?;
    let role: Value = serde_json::from_str(&created)?;
    let role_arn = role["Role"]["Arn"]
        .as_str()
        .context("create-role returned no Role.Arn")?
        .to_owned();
    Ok((provider_url, role_arn))
}

/// The stack booted and set up on both sides: what `demo`, `up` and `e2e` share.
pub struct Stack {
    /// Logs, data and scratch files (`target/<name>`, emptied at boot).
    pub work_dir: PathBuf,
    /// The built binaries.
    pub binaries: Binaries,
    /// The AWS CLI and boto3, when Python 3 is available.
    pub python: Option<PythonEnvironment>,
    /// `keyless-issuer`.
    pub issuer: Service,
    /// `keyless-sts`.
    pub sts: Service,
    /// The issuer's admin token (random per boot).
    pub admin_token: String,
    /// Org, projects, runner token.
    pub platform: Platform,
    /// The provider URL without scheme (also the condition-key prefix).
    pub provider_url: String,
    /// The provider's ARN.
    pub provider_arn: String,
    /// The role admitting project `widgets` by `sub`.
    pub role_arn: String,
}

impl Stack {
    /// Starts both services with fresh data in `target/<name>`, creates the CircleCI side and
    /// registers it with the AWS CLI.
    pub fn boot(
        root: &Path,
        name: &str,
        binaries: Binaries,
        python: Option<PythonEnvironment>,
    ) -> Result<Self> {
        let work_dir = root.join("target").join(name);
        if work_dir.exists() {
            fs::remove_dir_all(&work_dir)?;
        }
        fs::create_dir_all(&work_dir)?;
        let admin_token = random_secret(32);
        let issuer = start_issuer(&binaries, &work_dir, &admin_token)?;
        let sts = start_sts(&binaries, &work_dir)?;
        let platform = create_platform(&issuer, &admin_token)?;
        let (provider_url, role_arn) = match &python {
            Some(python) => {
                let aws = AwsCli {
                    program: python.aws_cli.clone(),
                    endpoint: sts.url.clone(),
                    home: work_dir.join("admin-home"),
                };
                register_aws(&aws, &platform, &work_dir)?
            }
            None => {
                let role_arn = crate::bench_setup::register_signed(&sts, &platform)?;
                let provider_url = platform
                    .org_issuer
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .to_owned();
                (provider_url, role_arn)
            }
        };
        Ok(Self {
            provider_arn: format!("arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{provider_url}"),
            work_dir,
            binaries,
            python,
            issuer,
            sts,
            admin_token,
            platform,
            provider_url,
            role_arn,
        })
    }
}
