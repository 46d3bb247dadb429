//! The CI platform model that token claims come from: organisations, projects, users, contexts,
//! token settings, and the pipelines, workflows and jobs the runner starts.
//!
//! These are plain values; [`crate::store`] persists them and [`crate::platform`] applies the
//! rules. They serialise as the admin API shows them (never with secrets).

use std::collections::BTreeMap;

use keyless_claims::{
    ContextId, JobId, JsonDuration, NumericDate, OrgId, PipelineDefinitionId, PipelineId,
    ProjectId, UserId, WorkflowId,
};
use serde::{Deserialize, Serialize};

/// The longest token lifetime a setting may ask for: CircleCI Server's
/// `oidc_service.token_max_ttl` default, `5h` (`spec/circleci-oidc.md` §1.4).
pub const TOKEN_TTL_CAP_SECONDS: u64 = 5 * 3600;

/// The lifetime of a token when no setting says otherwise: `exp = iat + 3600` (§1.4).
pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 3600;

/// An organisation's token rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Only jobs using at least one context get tokens: the rule of the 2022 announcement,
    /// which CircleCI dropped in May 2023 (§1.8). On by default; turn off for today's behaviour.
    pub oidc_requires_context: bool,
    /// Builds of forked pull requests get tokens (and context variables) only when this is on,
    /// as CircleCI's "Pass secrets to builds from forked pull requests" (§1.8). Off by default.
    pub pass_secrets_to_forks: bool,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            oidc_requires_context: true,
            pass_secrets_to_forks: false,
        }
    }
}

/// A CircleCI organisation; its id is the issuer path, the default `aud` and the `org-id` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// The org id.
    pub id: OrgId,
    /// A unique name, e.g. `acme`.
    pub name: String,
    /// Token rules.
    pub settings: OrgSettings,
}

/// A project of an org, with the repository its pipelines build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// The project id (`oidc.circleci.com/project-id`).
    pub id: ProjectId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Its name, unique within the org, e.g. `widgets`.
    pub name: String,
    /// Its slug, unique overall, e.g. `gh/acme/widgets`.
    pub slug: String,
    /// The repository without scheme, e.g. `github.com/acme/widgets` (`vcs-origin`); `None`
    /// for a project fed only by custom webhooks.
    pub vcs_origin: Option<String>,
    /// The pipeline definition every pipeline of this project uses.
    pub pipeline_definition_id: PipelineDefinitionId,
}

/// A user who can cause jobs to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The user id (the `user/…` part of `sub`).
    pub id: UserId,
    /// A unique login, e.g. `alice`.
    pub login: String,
}

/// A context: a named set of environment variables jobs opt into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// The context id (`oidc.circleci.com/context-ids`).
    pub id: ContextId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Its name, unique within the org, e.g. `aws-deploy`.
    pub name: String,
    /// The names of its variables (values are secrets and are only given to jobs).
    pub variable_names: Vec<String>,
}

/// Token settings at org or project level, shaped like CircleCI's `oidc-custom-claims` API
/// response `ClaimResponse` (§1.4). Absent fields are inherited (project → org → default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSettings {
    /// The org.
    pub org_id: OrgId,
    /// The project, for project-level settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<ProjectId>,
    /// Default audiences of the job tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Vec<String>>,
    /// When `audience` was last set (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience_updated_at: Option<String>,
    /// Token lifetime, e.g. `1h30m`, at most 5h.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<JsonDuration>,
    /// When `ttl` was last set (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_updated_at: Option<String>,
}

/// The repository a pipeline was triggered from; `None` on a job means a custom webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vcs {
    /// Repository without scheme (`vcs-origin`); the fork's for fork builds.
    pub origin: String,
    /// The Git ref, e.g. `refs/heads/main` (`vcs-ref`).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit, 40 hex digits, if known (not a claim: CircleCI documents no `vcs-sha`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
}

/// Why a job gets no tokens: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `context_required` or `fork_secrets_disabled`.
    pub code: String,
    /// One sentence saying why and what to change.
    pub message: String,
}

/// How a job ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Started and not finished: tokens can be minted.
    Running,
    /// Finished successfully.
    Success,
    /// Finished with a failure.
    Failed,
    /// Canceled.
    Canceled,
}

impl JobStatus {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Running, Self::Success, Self::Failed, Self::Canceled]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// A job with everything its claims need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// The job id (`oidc.circleci.com/job-id`).
    pub id: JobId,
    /// The org.
    pub org_id: OrgId,
    /// The project.
    pub project_id: ProjectId,
    /// The user who caused it to run.
    pub user_id: UserId,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The pipeline's number within its project.
    pub pipeline_number: i64,
    /// The project's pipeline definition.
    pub pipeline_definition_id: PipelineDefinitionId,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The workflow's name.
    pub workflow_name: String,
    /// The job's name, e.g. `deploy`.
    pub name: String,
    /// The project-wide build number.
    pub build_num: i64,
    /// The contexts it uses, in request order.
    pub context_ids: Vec<ContextId>,
    /// The trigger's repository, `None` for a custom webhook.
    pub vcs: Option<Vcs>,
    /// Whether it builds a forked pull request.
    pub fork: bool,
    /// Whether it was started with "Rerun job with SSH".
    pub ssh_rerun: bool,
    /// Why it gets no tokens, if it does not.
    pub refusal: Option<Refusal>,
    /// Running or how it finished.
    pub status: JobStatus,
    /// When it started.
    pub started_at: NumericDate,
    /// When it finished.
    pub finished_at: Option<NumericDate>,
}

/// Environment variables merged from a job's contexts.
pub type Environment = BTreeMap<String, String>;

/// One minted token as the audit log records it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Position in the log.
    pub seq: i64,
    /// When it was minted.
    pub minted_at: NumericDate,
    /// The job it was minted for.
    pub job_id: JobId,
    /// `oidc_token`, `oidc_token_v2`, `custom`, or `negative:<kind>`.
    pub kind: String,
    /// The `iss` claim.
    pub iss: String,
    /// The `sub` claim.
    pub sub: String,
    /// The `aud` claim, as a list.
    pub aud: Vec<String>,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The `iat` claim.
    pub iat: NumericDate,
    /// The `exp` claim.
    pub exp: NumericDate,
}
