//! The claim set of a CircleCI job token, with the exact JSON names CircleCI uses
//! (`spec/circleci-oidc.md` §1.5–1.7).
//!
//! Field order follows the documented example payload (§1.7), so a serialised claim set reads
//! like CircleCI's. Decisions on what the spec leaves open (§7), recorded in
//! `docs/decisions.md`:
//!
//! - no `jti` and no `nbf` are emitted (CircleCI documents neither);
//! - `oidc.circleci.com/context-ids` is always present, `[]` for a job without contexts;
//! - `aud` is a JSON string when there is one audience and an array only when there are several.

use serde::{Deserialize, Serialize};

use crate::ids::{
    ContextId, JobId, OrgId, PipelineDefinitionId, PipelineId, ProjectId, WorkflowId,
};
use crate::subject::{Subject, SubjectFormat};
use crate::time::NumericDate;

/// The `aud` claim: one audience (a JSON string, CircleCI's default is the bare org id) or
/// several (a JSON array, RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience, serialised as a string.
    One(String),
    /// Several audiences, serialised as an array.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `candidate` is one of the audiences.
    pub fn contains(&self, candidate: &str) -> bool {
        match self {
            Self::One(audience) => audience == candidate,
            Self::Many(audiences) => audiences.iter().any(|audience| audience == candidate),
        }
    }

    /// The audiences as a list.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(audience) => std::slice::from_ref(audience),
            Self::Many(audiences) => audiences,
        }
    }
}

impl From<String> for Audience {
    fn from(audience: String) -> Self {
        Self::One(audience)
    }
}

/// Every claim of a CircleCI job token (§1.5), in CircleCI's order and spelling.
///
/// V1 and V2 tokens carry identical claims except `sub` (§1.5: the 2025 claims are "available in
/// both V1 and V2 token formats").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircleCiClaims {
    /// Issuer: `https://oidc.circleci.com/org/<org>`, or the root issuer for
    /// `circleci run oidc get --root-issuer` (§1.1). No trailing slash.
    pub iss: String,
    /// Subject, V1 or V2 shaped (§1.6).
    pub sub: Subject,
    /// Audience: the org id by default, customisable (§1.5, §1.9).
    pub aud: Audience,
    /// Issued at: shortly before the job starts (§1.4).
    pub iat: NumericDate,
    /// Expiry: `iat` + the TTL, one hour by default (§1.4).
    pub exp: NumericDate,
    /// The project the job belongs to; AWS exposes it as a condition key (§1.10).
    #[serde(rename = "oidc.circleci.com/project-id")]
    pub project_id: ProjectId,
    /// The contexts the job uses, `[]` when none.
    #[serde(rename = "oidc.circleci.com/context-ids")]
    pub context_ids: Vec<ContextId>,
    /// The repository without scheme; absent for custom-webhook pipelines.
    #[serde(
        rename = "oidc.circleci.com/vcs-origin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vcs_origin: Option<String>,
    /// The Git ref, e.g. `refs/heads/main`; absent for custom-webhook pipelines.
    #[serde(
        rename = "oidc.circleci.com/vcs-ref",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vcs_ref: Option<String>,
    /// Whether the job was started with "Rerun job with SSH" (a JSON boolean; the key is
    /// `ssh-rerun`, not the `ssh_rerun` some docs pages show).
    #[serde(rename = "oidc.circleci.com/ssh-rerun")]
    pub ssh_rerun: bool,
    /// The organisation, present because `aud` can be customised (added 2025-11).
    #[serde(rename = "oidc.circleci.com/org-id")]
    pub org_id: OrgId,
    /// The pipeline (added 2025-11).
    #[serde(rename = "oidc.circleci.com/pipeline-id")]
    pub pipeline_id: PipelineId,
    /// The pipeline definition (added 2025-11).
    #[serde(rename = "oidc.circleci.com/pipeline-definition-id")]
    pub pipeline_definition_id: PipelineDefinitionId,
    /// The workflow (added 2025-12).
    #[serde(rename = "oidc.circleci.com/workflow-id")]
    pub workflow_id: WorkflowId,
    /// The job, equal to `$CIRCLE_WORKFLOW_JOB_ID` (added 2025-12).
    #[serde(rename = "oidc.circleci.com/job-id")]
    pub job_id: JobId,
}

impl CircleCiClaims {
    /// The same claims with `sub` shaped for the given token: V1 for `$CIRCLE_OIDC_TOKEN`, V2 for
    /// `$CIRCLE_OIDC_TOKEN_V2`. Every other claim is unchanged.
    pub fn for_format(&self, format: SubjectFormat) -> Self {
        Self {
            sub: self.sub.for_format(format),
            ..self.clone()
        }
    }
}

/// Every claim name keyless emits, for the discovery document's `claims_supported` (§1.2).
pub const CLAIM_NAMES: [&str; 15] = [
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "oidc.circleci.com/project-id",
    "oidc.circleci.com/context-ids",
    "oidc.circleci.com/vcs-origin",
    "oidc.circleci.com/vcs-ref",
    "oidc.circleci.com/ssh-rerun",
    "oidc.circleci.com/org-id",
    "oidc.circleci.com/pipeline-id",
    "oidc.circleci.com/pipeline-definition-id",
    "oidc.circleci.com/workflow-id",
    "oidc.circleci.com/job-id",
];
