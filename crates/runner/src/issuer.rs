//! The client side of the keyless issuer's job API (`docs/issuer.md`): start a job with the
//! runner token, mint tokens and finish the job with the job secret.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long one request to the issuer may take.
pub const ISSUER_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed call to the issuer.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// No HTTP answer (connection refused, timeout, …).
    #[error("cannot reach the issuer at {url}: {message}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The issuer answered with an error body.
    #[error("the issuer refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The stable error code (`context_required`, `job_finished`, …).
        code: String,
        /// The issuer's sentence.
        message: String,
    },
    /// The issuer answered 2xx with a body that does not follow the contract.
    #[error("the issuer's answer to {url} does not follow the job API: {message}")]
    BadResponse {
        /// The URL called.
        url: String,
        /// What was wrong.
        message: String,
    },
}

/// The VCS part of a job start (`null` for a custom-webhook pipeline).
#[derive(Debug, Clone, Serialize)]
pub struct Vcs {
    /// Repository without scheme, e.g. `github.com/acme/widgets`; omitted to use the
    /// project's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Full ref, e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Commit SHA when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

/// `POST /api/v1/jobs` body.
#[derive(Debug, Clone, Serialize)]
pub struct StartJobRequest {
    /// Project id or slug.
    pub project: String,
    /// User id or login; `None` lets the issuer choose the org's first user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The job's name.
    pub job_name: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// Join this workflow (later jobs of one workflow run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    /// Context names or ids.
    pub contexts: Vec<String>,
    /// VCS facts, or `None` for a custom webhook.
    pub vcs: Option<Vcs>,
    /// Whether the build comes from a fork.
    pub fork: bool,
    /// Whether this is a rerun with SSH.
    pub ssh_rerun: bool,
}

/// An `{id, name}` pair.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrgInfo {
    /// The org id.
    pub id: String,
    /// The org name.
    pub name: String,
}

/// The project a job runs in.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProjectInfo {
    /// The project id.
    pub id: String,
    /// The project name.
    pub name: String,
    /// The slug, e.g. `gh/acme/widgets`.
    pub slug: String,
    /// Repository without scheme.
    #[serde(default)]
    pub vcs_origin: Option<String>,
}

/// The user the job runs for.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserInfo {
    /// The user id.
    pub id: String,
    /// The login.
    pub login: String,
}

/// Why the issuer refused tokens to a job.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Refusal {
    /// `context_required` or `fork_secrets_disabled`.
    pub code: String,
    /// The issuer's sentence.
    pub message: String,
}

/// Whether the job gets tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TokenGrant {
    /// Tokens are granted.
    pub granted: bool,
    /// The refusal when not.
    #[serde(default)]
    pub refusal: Option<Refusal>,
}

/// `POST /api/v1/jobs` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct StartedJob {
    /// The job id (also the `job-id` claim).
    pub job_id: String,
    /// The job secret, shown once.
    pub job_secret: String,
    /// `CIRCLE_BUILD_NUM`.
    pub build_num: u64,
    /// The org.
    pub org: OrgInfo,
    /// The project.
    pub project: ProjectInfo,
    /// The user.
    pub user: UserInfo,
    /// The pipeline id.
    pub pipeline_id: String,
    /// The pipeline number.
    pub pipeline_number: u64,
    /// The workflow id.
    pub workflow_id: String,
    /// The workflow name.
    pub workflow_name: String,
    /// The contexts' ids.
    #[serde(default)]
    pub context_ids: Vec<String>,
    /// The contexts' variables merged.
    #[serde(default)]
    pub environment: std::collections::BTreeMap<String, String>,
    /// The token grant.
    pub tokens: TokenGrant,
    /// `CIRCLE_OIDC_TOKEN` when granted.
    #[serde(default)]
    pub oidc_token: Option<String>,
    /// `CIRCLE_OIDC_TOKEN_V2` when granted.
    #[serde(default)]
    pub oidc_token_v2: Option<String>,
}

/// `POST /api/v1/jobs/{id}/tokens` answer: the pair (default body) or one custom token.
#[derive(Debug, Clone, Deserialize)]
pub struct MintedTokens {
    /// V1 token (default request).
    #[serde(default)]
    pub oidc_token: Option<String>,
    /// V2 token (default request).
    #[serde(default)]
    pub oidc_token_v2: Option<String>,
    /// The custom token (`aud`/`root_issuer` request).
    #[serde(default)]
    pub token: Option<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

/// `POST /api/v1/jobs/{id}/tokens` body for a custom token. `root_issuer` is always sent, so
/// the issuer answers with one token; without `aud` it uses the org's or project's configured
/// default audience.
#[derive(Debug, Clone, Serialize)]
pub struct CustomTokenRequest {
    /// The audience, when `--claims` sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Whether `iss` is the root issuer.
    pub root_issuer: bool,
}

/// The issuer's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// A client bound to one issuer.
#[derive(Debug, Clone)]
pub struct IssuerClient {
    http: reqwest::Client,
    base_url: String,
}

impl IssuerClient {
    /// A client for the issuer at `base_url` (e.g. `http://127.0.0.1:41233`).
    pub fn new(base_url: &str) -> Result<Self, IssuerError> {
        let http = reqwest::Client::builder()
            .timeout(ISSUER_REQUEST_TIMEOUT)
            .build()
            .map_err(|error| IssuerError::Unreachable {
                url: base_url.to_string(),
                message: error.to_string(),
            })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    /// Starts a job.
    pub async fn start_job(
        &self,
        runner_token: &str,
        request: &StartJobRequest,
    ) -> Result<StartedJob, IssuerError> {
        self.post("/api/v1/jobs", runner_token, request).await
    }

    /// Mints the default token pair.
    pub async fn mint_default(
        &self,
        job_id: &str,
        job_secret: &str,
    ) -> Result<MintedTokens, IssuerError> {
        self.post(
            &format!("/api/v1/jobs/{job_id}/tokens"),
            job_secret,
            &serde_json::json!({}),
        )
        .await
    }

    /// Mints one token with a custom audience and/or the root issuer.
    pub async fn mint_custom(
        &self,
        job_id: &str,
        job_secret: &str,
        request: &CustomTokenRequest,
    ) -> Result<MintedTokens, IssuerError> {
        self.post(
            &format!("/api/v1/jobs/{job_id}/tokens"),
            job_secret,
            request,
        )
        .await
    }

    /// Finishes a job with `status` (`success`, `failed` or `canceled`).
    pub async fn finish(
        &self,
        job_id: &str,
        job_secret: &str,
        status: &str,
    ) -> Result<(), IssuerError> {
        let _: serde_json::Value = self
            .post(
                &format!("/api/v1/jobs/{job_id}/finish"),
                job_secret,
                &serde_json::json!({ "status": status }),
            )
            .await?;
        Ok(())
    }

    /// POSTs JSON with a bearer credential and decodes a 2xx JSON answer.
    async fn post<Body: Serialize, Answer: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        bearer: &str,
        body: &Body,
    ) -> Result<Answer, IssuerError> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .http
            .post(&url)
            .bearer_auth(bearer)
            .json(body)
            .send()
            .await
            .map_err(|error| IssuerError::Unreachable {
                url: url.clone(),
                message: error.without_url().to_string(),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| IssuerError::Unreachable {
                url: url.clone(),
                message: error.without_url().to_string(),
            })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => (body.code, body.message),
                Err(_) => (
                    "unknown".to_string(),
                    String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                ),
            };
            return Err(IssuerError::Refused {
                status: status.as_u16(),
                code,
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|error| IssuerError::BadResponse {
            url,
            message: error.to_string(),
        })
    }
}
