//! Test harness: boots an issuer on a loopback port with a manual clock, an admin token and a
//! bootstrap, and verifies tokens the way a relying party does, from discovery alone.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyless_issuer::{AdminToken, ClockHandle, Config, ManualClock};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token every test server uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The runner token of org acme.
pub const ACME_RUNNER_TOKEN: &str = "acme-runner-token-0123456789";
/// The runner token of org globex.
pub const GLOBEX_RUNNER_TOKEN: &str = "globex-runner-token-0123456789";
/// Fixed ids from the bootstrap.
pub const ACME_ORG_ID: &str = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e";
pub const WIDGETS_PROJECT_ID: &str = "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c";
pub const ALICE_USER_ID: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
pub const DEPLOY_CONTEXT_ID: &str = "7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d";
pub const GLOBEX_CONTEXT_ID: &str = "8c7b6a5d-4e3f-4b2c-9d0e-1f2a3b4c5d6e";

/// Two orgs: acme (rule on, two users, two projects, two contexts) and globex (rule off).
pub const BOOTSTRAP: &str = r#"
orgs:
  - name: acme
    id: c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e
    users:
      - login: alice
        id: 5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9
      - login: bob
    projects:
      - name: widgets
        id: 3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c
        vcs_origin: github.com/acme/widgets
      - name: gadgets
        vcs_origin: github.com/acme/gadgets
      - name: hooks
    contexts:
      - name: aws-deploy
        id: 7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d
        environment:
          AWS_ROLE_ARN: arn:aws:iam::123456789012:role/deploy
          REGION: us-east-1
      - name: overrides
        environment:
          REGION: eu-west-1
    runner_tokens:
      - name: acme-runner
        token: acme-runner-token-0123456789
  - name: globex
    settings:
      oidc_requires_context: false
    users:
      - login: carol
    projects:
      - name: rockets
        vcs_origin: github.com/globex/rockets
    contexts:
      - name: globex-secrets
        id: 8c7b6a5d-4e3f-4b2c-9d0e-1f2a3b4c5d6e
    runner_tokens:
      - name: globex-runner
        token: globex-runner-token-0123456789
"#;

/// A running issuer.
pub struct TestServer {
    pub base: String,
    pub clock: ManualClock,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _bootstrap_dir: tempfile::TempDir,
}

/// How to start a test server.
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
    pub clock: ManualClock,
    pub admin_token: Option<&'static str>,
    pub rotation_interval: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            data_dir: None,
            public_url: None,
            clock: ManualClock::frozen_now(),
            admin_token: Some(ADMIN_TOKEN),
            rotation_interval: None,
        }
    }
}

impl TestServer {
    /// An in-memory issuer with the standard bootstrap.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let bootstrap_dir = tempfile::tempdir().unwrap();
        let bootstrap_path = bootstrap_dir.path().join("bootstrap.yaml");
        std::fs::write(&bootstrap_path, BOOTSTRAP).unwrap();
        let mut config = Config::for_tests();
        config.bootstrap_file = Some(bootstrap_path);
        config.public_url = options.public_url;
        config.admin_token = options
            .admin_token
            .map(|token| token.parse::<AdminToken>().unwrap());
        config.clock = ClockHandle::new(options.clock.clone());
        config.rotation_interval = options
            .rotation_interval
            .map(|interval| interval.parse().unwrap());
        if let Some(data_dir) = options.data_dir {
            config.in_memory = false;
            config.data_dir = data_dir;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (sender, receiver) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            keyless_issuer::run(listener, config, async {
                receiver.await.ok();
            })
            .await
            .unwrap();
        });
        let server = Self {
            base,
            clock: options.clock,
            client: reqwest::Client::new(),
            shutdown: Some(sender),
            task: Some(task),
            _bootstrap_dir: bootstrap_dir,
        };
        server.wait_healthy().await;
        server
    }

    /// The listener is bound before `run` starts, so this request waits in the accept queue
    /// until the server serves (after generating its keys); no polling, no sleeping.
    async fn wait_healthy(&self) {
        let response = self.client.get(self.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"status": "ok"}));
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(sender) = self.shutdown.take() {
            sender.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The issuer of acme.
    pub fn acme_issuer(&self) -> String {
        format!("{}/org/{ACME_ORG_ID}", self.base)
    }

    /// A request with a JSON body and optional bearer token; returns status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(ADMIN_TOKEN), body).await
    }

    /// Starts a job in acme's widgets project with context aws-deploy; returns the response.
    pub async fn start_acme_job(&self, overrides: Value) -> Value {
        let mut body = json!({
            "project": "gh/acme/widgets",
            "job_name": "deploy",
            "workflow_name": "build-and-deploy",
            "contexts": ["aws-deploy"],
            "vcs": {"origin": "github.com/acme/widgets", "ref": "refs/heads/main"},
        });
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, response) = self
            .call("POST", "/api/v1/jobs", Some(ACME_RUNNER_TOKEN), Some(body))
            .await;
        assert_eq!(status, 201, "{response}");
        response
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(sender) = self.shutdown.take() {
            sender.send(()).ok();
        }
    }
}

/// The claims of a token without verifying it.
pub fn peek_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The header of a token without verifying it.
pub fn peek_header(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

/// Why verification failed.
#[derive(Debug)]
pub enum VerifyError {
    Discovery(String),
    UnknownKid(String),
    Jwt(jsonwebtoken::errors::ErrorKind),
}

/// Verifies a token as a relying party does: read the unverified `iss`, fetch
/// `{iss}/.well-known/openid-configuration`, require its `issuer` to equal `iss`, fetch
/// `jwks_uri`, select the key by `kid`, then check the RS256 signature, `iss`, `aud` and `exp`.
pub async fn verify_from_discovery(
    client: &reqwest::Client,
    token: &str,
    audience: &str,
) -> Result<Value, VerifyError> {
    let issuer = peek_claims(token)["iss"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let discovery: Value = client
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .map_err(|error| VerifyError::Discovery(error.to_string()))?
        .error_for_status()
        .map_err(|error| VerifyError::Discovery(error.to_string()))?
        .json()
        .await
        .map_err(|error| VerifyError::Discovery(error.to_string()))?;
    if discovery["issuer"] != issuer.as_str() {
        return Err(VerifyError::Discovery(format!(
            "issuer {} != iss {issuer}",
            discovery["issuer"]
        )));
    }
    let jwks: JwkSet = client
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .map_err(|error| VerifyError::Discovery(error.to_string()))?
        .json()
        .await
        .map_err(|error| VerifyError::Discovery(error.to_string()))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|error| VerifyError::Jwt(error.into_kind()))?;
    let kid = header.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| VerifyError::UnknownKid(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| VerifyError::Jwt(error.into_kind()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer.as_str()]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| VerifyError::Jwt(error.into_kind()))
}

/// The kids the JWKS publishes now.
pub async fn published_kids(server: &TestServer) -> Vec<String> {
    let (status, jwks) = server
        .call("GET", "/.well-known/jwks-pub.json", None, None)
        .await;
    assert_eq!(status, 200);
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls the JWKS (bounded: 10 s) until `done` holds; for changes made by the background
/// key maintenance, which runs every 2 s.
pub async fn wait_for_kids(server: &TestServer, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..200 {
        let kids = published_kids(server).await;
        if done(&kids) {
            return kids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the JWKS did not reach the expected state within 10 s");
}

/// A fresh temporary directory that outlives the servers using it.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Whether a path's permissions are owner-only.
#[cfg(unix)]
pub fn owner_only(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o077 == 0
}
