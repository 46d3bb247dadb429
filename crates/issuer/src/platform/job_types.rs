//! The job API's request and response bodies (the job API in `docs/issuer.md`): field names and shapes are
//! a contract with keyless-runner and the xtask; fields may be added, never renamed or removed.

use keyless_claims::{
    ContextId, JobId, OrgId, PipelineDefinitionId, PipelineId, ProjectId, UserId, WorkflowId,
};
use serde::{Deserialize, Serialize};

use crate::model::{Environment, JobStatus, Refusal};

/// `POST /api/v1/jobs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartJobRequest {
    /// Project id, slug (`gh/acme/widgets`) or name.
    pub project: String,
    /// User id or login; default the org's first member.
    #[serde(default)]
    pub user: Option<String>,
    /// The job's name.
    pub job_name: String,
    /// The workflow's name, default `workflow`.
    #[serde(default)]
    pub workflow_name: Option<String>,
    /// Join this existing workflow (and its pipeline) instead of starting a new pipeline.
    #[serde(default)]
    pub workflow_id: Option<WorkflowId>,
    /// Context names or ids.
    #[serde(default)]
    pub contexts: Vec<String>,
    /// The trigger's repository; `null` (or absent) for a custom webhook.
    #[serde(default)]
    pub vcs: Option<VcsRequest>,
    /// Whether the job builds a forked pull request.
    #[serde(default)]
    pub fork: bool,
    /// Whether the job was started with "Rerun job with SSH".
    #[serde(default)]
    pub ssh_rerun: bool,
}

/// The `vcs` member of [`StartJobRequest`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VcsRequest {
    /// Repository without scheme; default the project's. A fork build names the fork.
    #[serde(default)]
    pub origin: Option<String>,
    /// Git ref, starting with `refs/`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Commit, 40 hex digits.
    #[serde(default)]
    pub sha: Option<String>,
}

/// A summary naming an org.
#[derive(Debug, Clone, Serialize)]
pub struct OrgSummary {
    /// Id.
    pub id: OrgId,
    /// Name.
    pub name: String,
}

/// A summary naming a project.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectSummary {
    /// Id.
    pub id: ProjectId,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Repository.
    pub vcs_origin: Option<String>,
}

/// A summary naming a user.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    /// Id.
    pub id: UserId,
    /// Login.
    pub login: String,
}

/// Whether the job gets tokens.
#[derive(Debug, Clone, Serialize)]
pub struct TokenGrant {
    /// True when tokens are issued.
    pub granted: bool,
    /// Why not, when not.
    pub refusal: Option<Refusal>,
}

/// The 201 answer to `POST /api/v1/jobs` (the job API in `docs/issuer.md`).
#[derive(Debug, Clone, Serialize)]
pub struct StartedJob {
    /// The job id.
    pub job_id: JobId,
    /// The secret that authenticates the job; shown only here.
    pub job_secret: String,
    /// The project's build number.
    pub build_num: i64,
    /// The org.
    pub org: OrgSummary,
    /// The project.
    pub project: ProjectSummary,
    /// The user.
    pub user: UserSummary,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// Its number within the project.
    pub pipeline_number: i64,
    /// The project's pipeline definition.
    pub pipeline_definition_id: PipelineDefinitionId,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Its name.
    pub workflow_name: String,
    /// The contexts used.
    pub context_ids: Vec<ContextId>,
    /// The contexts' variables merged, later contexts winning.
    pub environment: Environment,
    /// Whether tokens are issued.
    pub tokens: TokenGrant,
    /// `$CIRCLE_OIDC_TOKEN` (V1 `sub`), when granted.
    pub oidc_token: Option<String>,
    /// `$CIRCLE_OIDC_TOKEN_V2` (V2 `sub`), when granted.
    pub oidc_token_v2: Option<String>,
}

/// `POST /api/v1/jobs/{job_id}/tokens`: empty for the default tokens, or a custom token.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// A custom audience; only `aud` is customisable, as with `circleci run oidc get`.
    #[serde(default)]
    pub aud: Option<String>,
    /// Sign as the root issuer (`--root-issuer`).
    #[serde(default)]
    pub root_issuer: Option<bool>,
}

/// The answer to a mint request.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Minted {
    /// The two environment tokens.
    Default {
        /// V1 `sub`.
        oidc_token: String,
        /// V2 `sub`.
        oidc_token_v2: String,
        /// Their `exp`.
        expires_at: i64,
    },
    /// One custom token.
    Custom {
        /// The token.
        token: String,
        /// Its `exp`.
        expires_at: i64,
    },
}

/// `POST /api/v1/jobs/{job_id}/finish`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    /// `success`, `failed` or `canceled`.
    pub status: JobStatus,
}

/// The answer to finishing a job.
#[derive(Debug, Clone, Serialize)]
pub struct FinishedJob {
    /// The job.
    pub job_id: JobId,
    /// How it ended.
    pub status: JobStatus,
}
