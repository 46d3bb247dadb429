//! What the end-to-end scenarios share: the booted stack, and small helpers to run the AWS CLI,
//! boto3 and `keyless-runner`, to call the issuer's job and admin APIs, and to read keyless-sts's
//! decisions. Helpers return outputs; scenarios make the assertions.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::python::{self, PythonEnvironment};
use crate::stack::{self, AwsCli, Binaries, Stack};

/// The booted stack and everything scenarios need to drive it.
pub struct Suite {
    /// The workspace root (the runner runs there).
    pub root: PathBuf,
    /// The services and both sides' setup.
    pub stack: Stack,
    /// The AWS CLI and boto3.
    pub python: PythonEnvironment,
    homes: usize,
}

/// What a process printed and how it ended.
pub struct Outcome {
    /// Whether it exited 0.
    pub success: bool,
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// Standard output and standard error, in that order.
    pub text: String,
}

impl From<Output> for Outcome {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            code: output.status.code(),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

impl Outcome {
    /// Fails unless the process succeeded and printed `needle`.
    pub fn expect_success_with(&self, needle: &str) -> Result<()> {
        if !self.success || !self.text.contains(needle) {
            bail!(
                "expected success printing {needle:?}, got exit {:?}:\n{}",
                self.code,
                self.text
            );
        }
        Ok(())
    }

    /// Fails unless the process failed and printed `needle`.
    pub fn expect_failure_with(&self, needle: &str) -> Result<()> {
        if self.success || !self.text.contains(needle) {
            bail!(
                "expected failure printing {needle:?}, got exit {:?}:\n{}",
                self.code,
                self.text
            );
        }
        Ok(())
    }
}

impl Suite {
    /// Builds the binaries and boots the stack as the demo does.
    pub fn start(root: &Path) -> Result<Self> {
        let python = python::ensure(root)?;
        let binaries = Binaries::build(root)?;
        Ok(Self {
            root: root.to_path_buf(),
            stack: Stack::boot(root, "e2e", binaries, Some(python.clone()))?,
            python,
            homes: 0,
        })
    }

    /// A new empty HOME for one client run, so no credential cache is shared.
    pub fn fresh_home(&mut self, purpose: &str) -> Result<PathBuf> {
        self.homes += 1;
        let home = self
            .stack
            .work_dir
            .join(format!("home-{}-{purpose}", self.homes));
        fs::create_dir_all(&home)?;
        Ok(home)
    }

    /// The AWS CLI with the admin credential.
    pub fn admin_aws(&self) -> AwsCli {
        AwsCli {
            program: self.python.aws_cli.clone(),
            endpoint: self.stack.sts.url.clone(),
            home: self.stack.work_dir.join("admin-home"),
        }
    }

    /// The environment every client gets: endpoint, region, HOME, PATH with the venv first.
    fn client_environment(&self, home: &Path) -> Vec<(String, String)> {
        let venv_bin = self
            .python
            .aws_cli
            .parent()
            .map(|bin| bin.display().to_string())
            .unwrap_or_default();
        vec![
            (
                "PATH".into(),
                format!("{venv_bin}:{}", std::env::var("PATH").unwrap_or_default()),
            ),
            ("HOME".into(), home.display().to_string()),
            ("AWS_ENDPOINT_URL".into(), self.stack.sts.url.clone()),
            ("AWS_REGION".into(), stack::REGION.into()),
            ("AWS_DEFAULT_REGION".into(), stack::REGION.into()),
        ]
    }

    /// Runs the AWS CLI with no credentials but `extra` environment.
    pub fn aws(&self, home: &Path, arguments: &[&str], extra: &[(&str, &str)]) -> Result<Outcome> {
        let output = Command::new(&self.python.aws_cli)
            .args(arguments)
            .env_clear()
            .envs(self.client_environment(home))
            .envs(extra.iter().copied())
            .output()
            .context("starting the AWS CLI")?;
        Ok(output.into())
    }

    /// Runs a Python script with boto3 available.
    pub fn python_script(
        &self,
        home: &Path,
        script: &str,
        extra: &[(&str, &str)],
    ) -> Result<Outcome> {
        let output = Command::new(&self.python.python)
            .arg("-c")
            .arg(script)
            .env_clear()
            .envs(self.client_environment(home))
            .envs(extra.iter().copied())
            .output()
            .context("starting python")?;
        Ok(output.into())
    }

    /// Writes `config` to a file and runs its workflow `w` with `keyless-runner` for `project`.
    pub fn run_workflow(
        &mut self,
        config: &str,
        project: &str,
        extra_arguments: &[&str],
    ) -> Result<Outcome> {
        let home = self.fresh_home("job")?;
        let config_path = home.join("config.yml");
        fs::write(&config_path, config)?;
        let output = Command::new(&self.stack.binaries.runner)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .args(["--issuer", &self.stack.issuer.url, "--project", project])
            .args(["--runner-token", &self.stack.platform.runner_token])
            .args(extra_arguments)
            .current_dir(&self.root)
            .env_clear()
            .envs(self.client_environment(&home))
            .output()
            .context("starting keyless-runner")?;
        Ok(output.into())
    }

    /// Creates a role named `name` with `trust_policy`; returns its ARN.
    pub fn create_role(&self, name: &str, trust_policy: &Value) -> Result<String> {
        let path = self.stack.work_dir.join(format!("trust-{name}.json"));
        fs::write(&path, serde_json::to_string_pretty(trust_policy)?)?;
        let created = self.admin_aws().run_ok(&[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            &format!("file://{}", path.display()),
            "--output",
            "json",
        ])?;
        let role: Value = serde_json::from_str(&created)?;
        stack::string_field(&role["Role"], "Arn")
    }

    /// A trust policy for the org's provider with the given condition block.
    pub fn trust_policy(&self, condition: Value) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": self.stack.provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition
            }]
        })
    }

    /// A condition key of the org's provider, e.g. `key("sub")`.
    pub fn key(&self, claim: &str) -> String {
        format!("{}:{claim}", self.stack.provider_url)
    }

    /// Starts a job through the job API (as the runner would) with the given contexts.
    pub fn start_job(&self, project_id: &str, contexts: &[&str]) -> Result<Value> {
        let mut response = ureq::post(&format!("{}/api/v1/jobs", self.stack.issuer.url))
            .header(
                "Authorization",
                &format!("Bearer {}", self.stack.platform.runner_token),
            )
            .send_json(json!({
                "project": project_id,
                "job_name": "e2e",
                "contexts": contexts,
                "vcs": {"origin": format!("github.com/{}/{}", stack::ORG_NAME, stack::PROJECT_NAME), "ref": "refs/heads/main"},
                "fork": false,
                "ssh_rerun": false,
            }))
            .context("starting a job")?;
        Ok(response.body_mut().read_json()?)
    }

    /// Mints the job's default V1 and V2 tokens again.
    pub fn mint(&self, job: &Value) -> Result<Value> {
        let job_id = stack::string_field(job, "job_id")?;
        let secret = stack::string_field(job, "job_secret")?;
        let mut response = ureq::post(&format!(
            "{}/api/v1/jobs/{job_id}/tokens",
            self.stack.issuer.url
        ))
        .header("Authorization", &format!("Bearer {secret}"))
        .send_json(json!({}))
        .context("minting tokens")?;
        Ok(response.body_mut().read_json()?)
    }

    /// Calls the issuer's admin API.
    pub fn admin(&self, method: &str, path: &str, body: Value) -> Result<Value> {
        let url = format!("{}{path}", self.stack.issuer.url);
        let authorization = format!("Bearer {}", self.stack.admin_token);
        let response = match method {
            "PATCH" => ureq::patch(&url)
                .header("Authorization", &authorization)
                .send_json(body),
            _ => ureq::post(&url)
                .header("Authorization", &authorization)
                .send_json(body),
        };
        Ok(response
            .with_context(|| format!("{method} {path}"))?
            .body_mut()
            .read_json()?)
    }

    /// keyless-sts's most recent denial (JSON).
    pub fn latest_denial(&self) -> Result<Value> {
        let listing: Value = ureq::get(&format!(
            "{}/_keyless/decisions?limit=1&allowed=false",
            self.stack.sts.url
        ))
        .call()?
        .body_mut()
        .read_json()?;
        Ok(listing[0].clone())
    }

    /// Stops keyless-sts and starts it again on the same data directory.
    pub fn restart_sts(&mut self) -> Result<()> {
        self.stack.sts.stop();
        self.stack.sts = stack::start_sts(&self.stack.binaries, &self.stack.work_dir)?;
        Ok(())
    }
}

/// The header of a JWT, decoded.
pub fn jwt_header(token: &str) -> Result<Value> {
    use base64::Engine as _;
    let header = token.split('.').next().context("empty token")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// A one-job workflow `w` whose single step runs `command` (with the `aws-deploy` context when
/// `with_context`).
pub fn job_config(command: &str, with_context: bool) -> String {
    let indented: String = command
        .lines()
        .map(|line| format!("            {line}\n"))
        .collect();
    let workflow_job = if with_context {
        format!("      - job:\n          context: {}\n", stack::CONTEXT_NAME)
    } else {
        "      - job\n".to_owned()
    };
    format!(
        "version: 2.1\njobs:\n  job:\n    docker:\n      - image: cimg/base:current\n    steps:\n      - run:\n          name: step\n          command: |\n{indented}workflows:\n  w:\n    jobs:\n{workflow_job}"
    )
}
