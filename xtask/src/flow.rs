//! One full CircleCI → AWS flow over plain HTTP, as `cargo xtask soak` and `crash` drive it: a
//! runner starts a job at the issuer (which hands it a token), the job mints a fresh token,
//! assumes the role at the STS with it, calls GetCallerIdentity signed with the session's
//! credentials, and finishes. Each step is its own method so `crash` can drive one step alone;
//! a failure names its step and its kind (`assume: status 500`) so runs count errors by kind.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::bench_setup::{SessionCredentials, signed_caller_identity, xml_text};
use crate::e2e::secrets::{Kind, KnownSecrets};
use crate::sigv4::FORM_CONTENT_TYPE;
use crate::stack::{CONTEXT_NAME, ORG_NAME, PROJECT_NAME, ROLE_NAME, Stack};

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The role session name every flow uses.
pub const SESSION_NAME: &str = "keyless-soak";

/// The steps of a flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `POST /api/v1/jobs` with the runner token.
    StartJob,
    /// `POST /api/v1/jobs/{id}/tokens` with the job secret.
    Mint,
    /// `AssumeRoleWithWebIdentity` with the minted token.
    Assume,
    /// `GetCallerIdentity` signed with the session's credentials.
    CallerIdentity,
    /// `POST /api/v1/jobs/{id}/finish`.
    Finish,
}

impl Step {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Step::StartJob => "start job",
            Step::Mint => "mint",
            Step::Assume => "assume",
            Step::CallerIdentity => "caller identity",
            Step::Finish => "finish",
        }
    }
}

/// A failed step.
#[derive(Debug, Clone)]
pub struct StepError {
    /// Which step.
    pub step: Step,
    /// `status 500`, `transport` or `bad answer`: what errors are counted by.
    pub kind: String,
    /// The details, for the first error of each kind (answers carry no secrets).
    pub detail: String,
}

impl StepError {
    /// `step: kind`, the key errors are counted under.
    pub fn label(&self) -> String {
        format!("{}: {}", self.step.name(), self.kind)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.label(), self.detail)
    }
}

fn bad_answer(step: Step, detail: String) -> StepError {
    StepError {
        step,
        kind: "bad answer".to_owned(),
        detail,
    }
}

/// Where the flow goes and what it authenticates with.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT` of the issuer.
    pub issuer_url: String,
    /// `http://127.0.0.1:PORT` of the STS.
    pub sts_url: String,
    /// The runner token jobs are started with.
    pub runner_token: String,
    /// The role the jobs assume.
    pub role_arn: String,
}

impl Endpoints {
    /// The endpoints of a booted stack.
    pub fn of(stack: &Stack) -> Self {
        Self {
            issuer_url: stack.issuer.url.clone(),
            sts_url: stack.sts.url.clone(),
            runner_token: stack.platform.runner_token.clone(),
            role_arn: stack.role_arn.clone(),
        }
    }
}

/// A job started at the issuer.
#[derive(Debug, Clone)]
pub struct StartedJob {
    /// Its id.
    pub job_id: String,
    /// The secret that authorises minting and finishing.
    pub job_secret: String,
    /// The V1 token it was started with.
    pub token: String,
}

/// An HTTP client (one keep-alive agent) running flows against one stack.
pub struct FlowClient {
    agent: ureq::Agent,
    /// Where it sends requests.
    pub endpoints: Endpoints,
}

impl FlowClient {
    /// A client with its own connection pool.
    pub fn new(endpoints: Endpoints) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Self { agent, endpoints }
    }

    /// Sends `POST url` and returns the body of a 2xx answer.
    fn post(
        &self,
        step: Step,
        url: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<String, StepError> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let transport = |error: ureq::Error| StepError {
            step,
            kind: "transport".to_owned(),
            detail: error.to_string(),
        };
        let mut response = request.send(body).map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(transport)?;
        if !(200..300).contains(&status) {
            // Error answers carry no secrets, but keep reports short whatever comes back.
            let detail: String = text.chars().take(300).collect();
            return Err(StepError {
                step,
                kind: format!("status {status}"),
                detail,
            });
        }
        Ok(text)
    }

    fn post_json(
        &self,
        step: Step,
        path: &str,
        bearer: &str,
        body: &Value,
    ) -> Result<Value, StepError> {
        let headers = [
            ("authorization".to_owned(), format!("Bearer {bearer}")),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let url = format!("{}{path}", self.endpoints.issuer_url);
        let text = self.post(step, &url, &headers, &body.to_string())?;
        serde_json::from_str(&text).map_err(|error| bad_answer(step, error.to_string()))
    }

    /// Starts a job in the admitted project with the context, as `keyless-runner` would.
    pub fn start_job(&self) -> Result<StartedJob, StepError> {
        let body = json!({
            "project": PROJECT_NAME,
            "job_name": "soak",
            "contexts": [CONTEXT_NAME],
            "vcs": {"origin": format!("github.com/{ORG_NAME}/{PROJECT_NAME}"), "ref": "refs/heads/main"},
        });
        let answer = self.post_json(
            Step::StartJob,
            "/api/v1/jobs",
            &self.endpoints.runner_token,
            &body,
        )?;
        let field = |name: &str| {
            answer[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad_answer(Step::StartJob, format!("no {name} in the answer")))
        };
        Ok(StartedJob {
            job_id: field("job_id")?,
            job_secret: field("job_secret")?,
            token: field("oidc_token")?,
        })
    }

    /// Mints the job's tokens again and returns the V2 one.
    pub fn mint(&self, job: &StartedJob) -> Result<String, StepError> {
        let path = format!("/api/v1/jobs/{}/tokens", job.job_id);
        let answer = self.post_json(Step::Mint, &path, &job.job_secret, &json!({}))?;
        answer["oidc_token_v2"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| bad_answer(Step::Mint, "no oidc_token_v2 in the answer".to_owned()))
    }

    /// Assumes the role with `token` and returns the session's credentials.
    pub fn assume(&self, token: &str) -> Result<SessionCredentials, StepError> {
        let body = form(&[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleArn", &self.endpoints.role_arn),
            ("RoleSessionName", SESSION_NAME),
            ("WebIdentityToken", token),
        ]);
        let headers = [("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned())];
        let url = format!("{}/", self.endpoints.sts_url);
        let answer = self.post(Step::Assume, &url, &headers, &body)?;
        let field = |tag: &str| {
            xml_text(&answer, tag)
                .ok_or_else(|| bad_answer(Step::Assume, format!("no <{tag}> in the answer")))
        };
        Ok(SessionCredentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: field("SecretAccessKey")?,
            session_token: field("SessionToken")?,
        })
    }

    /// Calls GetCallerIdentity signed with `session` and checks the assumed-role ARN.
    pub fn caller_identity(&self, session: &SessionCredentials) -> Result<(), StepError> {
        let host = self
            .endpoints
            .sts_url
            .trim_start_matches("http://")
            .to_owned();
        let (body, headers) = signed_caller_identity(&host, session);
        let url = format!("{}/", self.endpoints.sts_url);
        let answer = self.post(Step::CallerIdentity, &url, &headers, &body)?;
        let expected = format!(":assumed-role/{ROLE_NAME}/{SESSION_NAME}</Arn>");
        if !answer.contains(&expected) {
            return Err(bad_answer(
                Step::CallerIdentity,
                format!("no {expected:?} in {answer}"),
            ));
        }
        Ok(())
    }

    /// Finishes the job with status `success`.
    pub fn finish(&self, job: &StartedJob) -> Result<(), StepError> {
        let path = format!("/api/v1/jobs/{}/finish", job.job_id);
        self.post_json(
            Step::Finish,
            &path,
            &job.job_secret,
            &json!({"status": "success"}),
        )?;
        Ok(())
    }

    /// Runs the whole flow once, adding the secrets it was handed to `handed`.
    pub fn run(&self, handed: &mut KnownSecrets) -> Result<(), StepError> {
        let job = self.start_job()?;
        handed.add(Kind::JobSecret, &job.job_secret);
        let token = self.mint(&job)?;
        let session = self.assume(&token)?;
        handed.add(Kind::SecretAccessKey, &session.secret_access_key);
        handed.add(Kind::SessionToken, &session.session_token);
        self.caller_identity(&session)?;
        self.finish(&job)
    }
}

/// An STS Query form body with `Version` appended.
fn form(parameters: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(parameters.iter().copied());
    serializer.append_pair("Version", "2011-06-15");
    serializer.finish()
}
