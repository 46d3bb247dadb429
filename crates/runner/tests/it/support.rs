//! A fake keyless issuer on wiremock that follows the job API in `docs/issuer.md`, JWT-shaped tokens whose
//! claims match its answers, and a helper that runs the real `keyless-runner` binary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The runner token the fake issuer accepts.
pub const RUNNER_TOKEN: &str = "runner-token-acme-0123456789";
/// Fixed ids of the fake org, project and user.
pub const ORG_ID: &str = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e";
pub const PROJECT_ID: &str = "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c";
pub const USER_ID: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
pub const PIPELINE_ID: &str = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f";
pub const PIPELINE_DEFINITION_ID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const WORKFLOW_ID: &str = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
pub const CONTEXT_ID: &str = "7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";
/// The public issuer URL the fake tokens carry.
pub const PUBLIC_ISSUER: &str = "https://oidc.circleci.com";

/// The job id of the `n`-th job started (1-based).
pub fn job_id(number: u64) -> String {
    format!("1f2e3d4c-5b6a-4978-8695-{number:012}")
}

/// The job secret of the `n`-th job.
pub fn job_secret(number: u64) -> String {
    format!("job-secret-{number}-a1b2c3d4e5f6")
}

/// A JWT-shaped token (not signed: the runner never verifies) with `claims`.
pub fn jwt(claims: &Value) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"RS256","kid":"test-kid","typ":"JWT"}"#);
    let payload = engine.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

/// The payload of a JWT-shaped token.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// How the fake issuer behaves.
#[derive(Clone)]
pub struct IssuerBehaviour {
    /// `None` grants tokens; `Some(code)` refuses them with that code.
    pub refusal: Option<&'static str>,
    /// The contexts' variables.
    pub context_environment: Value,
    /// Lifetime of the tokens minted at job start.
    pub start_token_lifetime: i64,
}

impl Default for IssuerBehaviour {
    fn default() -> Self {
        Self {
            refusal: None,
            context_environment: json!({}),
            start_token_lifetime: 3600,
        }
    }
}

/// The claims of job `number`'s tokens, as the issuer would put them (spec §1.5–1.7).
pub fn job_claims(
    number: u64,
    request: &Value,
    aud: &str,
    iss: &str,
    lifetime: i64,
    v2: bool,
) -> Value {
    let vcs = request.get("vcs").filter(|vcs| !vcs.is_null());
    let origin = vcs
        .and_then(|vcs| vcs.get("origin"))
        .and_then(Value::as_str)
        .unwrap_or("github.com/acme/widgets");
    let reference = vcs.and_then(|vcs| vcs.get("ref")).and_then(Value::as_str);
    let mut sub = format!("org/{ORG_ID}/project/{PROJECT_ID}/user/{USER_ID}");
    if v2 && let Some(reference) = reference {
        sub.push_str(&format!("/vcs-origin/{origin}/vcs-ref/{reference}"));
    }
    let contexts = request
        .get("contexts")
        .and_then(Value::as_array)
        .filter(|contexts| !contexts.is_empty())
        .map(|_| vec![CONTEXT_ID])
        .unwrap_or_default();
    let iat = now();
    let mut claims = json!({
        "iss": iss,
        "sub": sub,
        "aud": aud,
        "iat": iat,
        "exp": iat + lifetime,
        "oidc.circleci.com/project-id": PROJECT_ID,
        "oidc.circleci.com/context-ids": contexts,
        "oidc.circleci.com/ssh-rerun": request.get("ssh_rerun").cloned().unwrap_or(json!(false)),
        "oidc.circleci.com/org-id": ORG_ID,
        "oidc.circleci.com/pipeline-id": PIPELINE_ID,
        "oidc.circleci.com/pipeline-definition-id": PIPELINE_DEFINITION_ID,
        "oidc.circleci.com/workflow-id": WORKFLOW_ID,
        "oidc.circleci.com/job-id": job_id(number),
    });
    if let Some(reference) = reference {
        claims["oidc.circleci.com/vcs-origin"] = json!(origin);
        claims["oidc.circleci.com/vcs-ref"] = json!(reference);
    }
    claims
}

/// The fake issuer.
pub struct FakeIssuer {
    pub server: MockServer,
}

impl FakeIssuer {
    /// Starts a fake issuer with `behaviour`.
    pub async fn start(behaviour: IssuerBehaviour) -> Self {
        let server = MockServer::start().await;
        let counter = Arc::new(AtomicU64::new(0));
        let start_behaviour = behaviour.clone();
        Mock::given(method("POST"))
            .and(path("/api/v1/jobs"))
            .and(header("authorization", format!("Bearer {RUNNER_TOKEN}").as_str()))
            .respond_with(move |request: &Request| {
                let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let granted = start_behaviour.refusal.is_none();
                let org_issuer = format!("{PUBLIC_ISSUER}/org/{ORG_ID}");
                let lifetime = start_behaviour.start_token_lifetime;
                let (v1, v2) = if granted {
                    (
                        json!(jwt(&job_claims(number, &body, ORG_ID, &org_issuer, lifetime, false))),
                        json!(jwt(&job_claims(number, &body, ORG_ID, &org_issuer, lifetime, true))),
                    )
                } else {
                    (Value::Null, Value::Null)
                };
                let refusal = start_behaviour.refusal.map(|code| {
                    json!({"code": code, "message": format!("refused because {code}")})
                });
                ResponseTemplate::new(201).set_body_json(json!({
                    "job_id": job_id(number),
                    "job_secret": job_secret(number),
                    "build_num": 41 + number,
                    "org": {"id": ORG_ID, "name": "acme"},
                    "project": {"id": PROJECT_ID, "name": "widgets", "slug": "gh/acme/widgets", "vcs_origin": "github.com/acme/widgets"},
                    "user": {"id": USER_ID, "login": "alice"},
                    "pipeline_id": PIPELINE_ID,
                    "pipeline_number": 7,
                    "pipeline_definition_id": PIPELINE_DEFINITION_ID,
                    "workflow_id": WORKFLOW_ID,
                    "workflow_name": body.get("workflow_name").cloned().unwrap_or(json!("workflow")),
                    "context_ids": if body["contexts"].as_array().is_some_and(|c| !c.is_empty()) { json!([CONTEXT_ID]) } else { json!([]) },
                    "environment": start_behaviour.context_environment,
                    "tokens": {"granted": granted, "refusal": refusal},
                    "oidc_token": v1,
                    "oidc_token_v2": v2,
                }))
            })
            .mount(&server)
            .await;
        let mint_counter = Arc::new(AtomicU64::new(0));
        Mock::given(method("POST"))
            .and(path_regex(r"^/api/v1/jobs/[^/]+/tokens$"))
            .respond_with(move |request: &Request| {
                let minted = mint_counter.fetch_add(1, Ordering::SeqCst) + 1;
                let number: u64 = request.url.path().split('/').nth(4).unwrap()[24..].parse().unwrap();
                let authorization = request.headers.get("authorization").unwrap().to_str().unwrap();
                if authorization != format!("Bearer {}", job_secret(number)) {
                    return ResponseTemplate::new(401)
                        .set_body_json(json!({"code": "unauthorized", "message": "bad job secret"}));
                }
                if let Some(code) = behaviour.refusal {
                    return ResponseTemplate::new(403)
                        .set_body_json(json!({"code": code, "message": format!("refused because {code}")}));
                }
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let start = json!({"vcs": {"origin": "github.com/acme/widgets", "ref": "refs/heads/main"}, "contexts": ["ctx"]});
                let org_issuer = format!("{PUBLIC_ISSUER}/org/{ORG_ID}");
                let expires_at = now() + 3600 + minted as i64;
                if body.get("aud").is_some() || body.get("root_issuer").is_some() {
                    let aud = body.get("aud").and_then(Value::as_str).unwrap_or(ORG_ID);
                    let root = body.get("root_issuer").and_then(Value::as_bool).unwrap_or(false);
                    let iss = if root { PUBLIC_ISSUER.to_string() } else { org_issuer };
                    let mut claims = job_claims(number, &start, aud, &iss, 3600, true);
                    claims["exp"] = json!(expires_at);
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"token": jwt(&claims), "expires_at": expires_at}));
                }
                let mut v1 = job_claims(number, &start, ORG_ID, &org_issuer, 3600, false);
                let mut v2 = job_claims(number, &start, ORG_ID, &org_issuer, 3600, true);
                v1["exp"] = json!(expires_at);
                v2["exp"] = json!(expires_at);
                ResponseTemplate::new(200).set_body_json(json!({
                    "oidc_token": jwt(&v1), "oidc_token_v2": jwt(&v2), "expires_at": expires_at
                }))
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/api/v1/jobs/[^/]+/finish$"))
            .respond_with(|request: &Request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"job_id": "x", "status": body["status"]}))
            })
            .mount(&server)
            .await;
        Self { server }
    }

    /// The issuer's base URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The JSON bodies of requests to paths ending in `suffix`, in order.
    pub async fn bodies(&self, suffix: &str) -> Vec<Value> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path().ends_with(suffix))
            .map(|request| serde_json::from_slice(&request.body).unwrap())
            .collect()
    }

    /// The start-job answers are not recorded by wiremock, so tests re-derive tokens from the
    /// environment the steps saw; this returns the start requests.
    pub async fn start_requests(&self) -> Vec<Value> {
        self.bodies("/api/v1/jobs").await
    }
}

/// A temporary project directory with `.circleci/config.yml`.
pub struct Project {
    pub directory: tempfile::TempDir,
}

impl Project {
    /// Writes `config` as the project's configuration.
    pub fn with_config(config: &str) -> Self {
        let directory = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(directory.path().join(".circleci")).unwrap();
        std::fs::write(directory.path().join(".circleci/config.yml"), config).unwrap();
        Self { directory }
    }

    /// The project's path.
    pub fn path(&self) -> &Path {
        self.directory.path()
    }

    /// A file in the project.
    pub fn file(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    /// Reads a file the steps wrote.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    /// Reads an `env`-style file into (name, value) pairs.
    pub fn read_environment(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        self.read(name)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }
}

/// What a runner process did.
pub struct RunnerOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The runner command for `project` against `issuer`, with the usual flags and `extra`.
pub fn runner_command(
    project: &Project,
    issuer: &FakeIssuer,
    extra: &[&str],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyless-runner"));
    command
        .arg("run")
        .args(["--issuer", &issuer.url()])
        .args([
            "--project",
            "gh/acme/widgets",
            "--sha",
            "0123456789abcdef0123456789abcdef01234567",
        ])
        .args(extra)
        .current_dir(project.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", project.path())
        .env("KEYLESS_RUNNER_RUNNER_TOKEN", RUNNER_TOKEN)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs the runner to completion.
pub async fn run_runner(project: &Project, issuer: &FakeIssuer, extra: &[&str]) -> RunnerOutput {
    let output = runner_command(project, issuer, extra)
        .output()
        .await
        .unwrap();
    RunnerOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
