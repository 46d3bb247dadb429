//! The job API's operations (`docs/issuer.md`, "Job API"): a runner starts a job with its
//! runner token; the job mints tokens and finishes with its job secret.
//!
//! Starting a job validates everything first, signs the tokens, then writes the pipeline,
//! workflow, job and audit records in one transaction: a refused request writes nothing.

use std::collections::BTreeMap;

use keyless_claims::{
    Audience, ContextId, JobId, OrgId, PipelineId, ProjectId, SubjectFormat, UserId, WorkflowId,
};
use serde::{Deserialize, Serialize};

use super::tokens::{
    EffectiveTokenSettings, KIND_CUSTOM, SignedToken, effective_settings, job_claims, refusal_for,
};
use super::{Platform, check_name, random_secret, secret_digest, secret_matches};
use crate::error::{PlatformError, PlatformResult};
use crate::model::{Environment, Job, JobStatus, Org, Project, Refusal, User, Vcs};
use crate::store::Tx;

/// Longest custom `aud` accepted.
const MAX_AUDIENCE_LENGTH: usize = 256;

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

/// The 201 answer to `POST /api/v1/jobs` (`notes/JOB_API.md`).
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
    pub pipeline_definition_id: keyless_claims::PipelineDefinitionId,
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

/// Everything validated for a job about to start, before anything is written.
struct JobPlan {
    job: Job,
    org: Org,
    project: Project,
    user: User,
    environment: Environment,
    new_pipeline: bool,
    settings: EffectiveTokenSettings,
}

impl Platform {
    /// The org a runner token belongs to.
    pub fn authenticate_runner(&self, token: &str) -> PlatformResult<OrgId> {
        let digest = secret_digest(token);
        let found = self.store.read(|tx| tx.runner_token(&digest))?;
        match found {
            Some((org, stored)) if secret_matches(token, &stored) => Ok(org),
            _ => Err(PlatformError::forbidden(
                "forbidden",
                "The runner token is not valid.",
            )),
        }
    }

    /// Starts a job for the runner token's org.
    pub fn start_job(&self, org: &OrgId, request: StartJobRequest) -> PlatformResult<StartedJob> {
        check_name("job name", "invalid_job_name", &request.job_name)?;
        let plan = self.store.read(|tx| self.plan_job(tx, org, &request))?;
        let signed = match plan.job.refusal {
            None => Some(self.sign_default_tokens(&plan.job, &plan.settings)?),
            Some(_) => None,
        };
        let job_secret = random_secret();
        let mut job = plan.job;
        self.store.write(|tx| {
            if plan.new_pipeline {
                job.pipeline_number = tx.insert_pipeline(&job.pipeline_id, &job.project_id, job.started_at)?;
                tx.insert_workflow(&job.workflow_id, &job.pipeline_id, &job.workflow_name, job.started_at)?;
            } else {
                job.pipeline_number = tx.pipeline_number(&job.pipeline_id)?;
            }
            job.build_num = tx.next_build_num(&job.project_id)?;
            tx.insert_job(&job, &secret_digest(&job_secret))?;
            for token in signed.iter().flatten() {
                tx.insert_audit(&token.audit)?;
            }
            Ok(())
        })?;
        tracing::info!(job = %job.id, project = %job.project_id, granted = job.refusal.is_none(), "job started");
        let [oidc_token, oidc_token_v2] = match signed {
            Some([v1, v2]) => [Some(v1.token), Some(v2.token)],
            None => [None, None],
        };
        Ok(StartedJob {
            job_id: job.id,
            job_secret,
            build_num: job.build_num,
            org: OrgSummary { id: plan.org.id, name: plan.org.name },
            project: ProjectSummary {
                id: plan.project.id,
                name: plan.project.name,
                slug: plan.project.slug,
                vcs_origin: plan.project.vcs_origin,
            },
            user: UserSummary { id: plan.user.id, login: plan.user.login },
            pipeline_id: job.pipeline_id,
            pipeline_number: job.pipeline_number,
            pipeline_definition_id: job.pipeline_definition_id,
            workflow_id: job.workflow_id,
            workflow_name: job.workflow_name,
            context_ids: job.context_ids,
            environment: plan.environment,
            tokens: TokenGrant { granted: job.refusal.is_none(), refusal: job.refusal },
            oidc_token,
            oidc_token_v2,
        })
    }

    fn plan_job(&self, tx: &Tx<'_>, org_id: &OrgId, request: &StartJobRequest) -> PlatformResult<JobPlan> {
        let org = tx
            .org_by_id(org_id)?
            .ok_or_else(|| PlatformError::not_found("org_not_found", "The runner token's org no longer exists."))?;
        let project = resolve_project(tx, &org, &request.project)?;
        let user = resolve_user(tx, &org, request.user.as_deref())?;
        let mut context_ids = Vec::new();
        let mut environment = BTreeMap::new();
        for reference in &request.contexts {
            let context = super::admin::resolve_context(tx, &org, reference)?;
            if !context_ids.contains(&context.id) {
                context_ids.push(context.id);
                environment.extend(tx.context_variables(&context.id)?);
            }
        }
        let vcs = request.vcs.as_ref().map(|vcs| check_vcs(&project, vcs, request.fork)).transpose()?;
        let (pipeline_id, workflow_id, workflow_name, new_pipeline) = match request.workflow_id {
            Some(workflow_id) => {
                let workflow = tx.workflow(&workflow_id)?.ok_or_else(|| {
                    PlatformError::not_found("workflow_not_found", format!("No workflow {workflow_id}."))
                })?;
                if workflow.project_id != project.id {
                    return Err(PlatformError::invalid(
                        "workflow_of_another_project",
                        format!("Workflow {workflow_id} belongs to another project than {}.", project.slug),
                    ));
                }
                (workflow.pipeline_id, workflow.id, workflow.name, false)
            }
            None => {
                let name = request.workflow_name.clone().unwrap_or_else(|| "workflow".to_owned());
                check_name("workflow name", "invalid_workflow_name", &name)?;
                (PipelineId::random(), WorkflowId::random(), name, true)
            }
        };
        let refusal = refusal_for(&org.settings, !context_ids.is_empty(), request.fork);
        if request.fork && !org.settings.pass_secrets_to_forks {
            // Fork builds get no secrets at all: neither tokens nor context variables.
            environment.clear();
        }
        let settings = effective_settings(tx, &org.id, &project.id)?;
        let job = Job {
            id: JobId::random(),
            org_id: org.id,
            project_id: project.id,
            user_id: user.id,
            pipeline_id,
            pipeline_number: 0,
            pipeline_definition_id: project.pipeline_definition_id,
            workflow_id,
            workflow_name,
            name: request.job_name.clone(),
            build_num: 0,
            context_ids,
            vcs,
            fork: request.fork,
            ssh_rerun: request.ssh_rerun,
            refusal,
            status: JobStatus::Running,
            started_at: self.now(),
            finished_at: None,
        };
        Ok(JobPlan { job, org, project, user, environment, new_pipeline, settings })
    }

    /// Checks the job secret before the request body is looked at.
    pub fn check_job_secret(&self, job_id: &JobId, job_secret: &str) -> PlatformResult<()> {
        self.store
            .read(|tx| self.authenticate_job(tx, job_id, job_secret))
            .map(|_| ())
    }

    /// The job, if `job_secret` is its secret.
    fn authenticate_job(&self, tx: &Tx<'_>, job_id: &JobId, job_secret: &str) -> PlatformResult<Job> {
        let (job, digest) = tx
            .job(job_id)?
            .ok_or_else(|| PlatformError::not_found("job_not_found", format!("No job {job_id}.")))?;
        if !secret_matches(job_secret, &digest) {
            return Err(PlatformError::forbidden("forbidden", "The job secret is not valid for this job."));
        }
        Ok(job)
    }

    /// Mints the job's tokens: the default pair, or one token with a custom `aud` and/or the
    /// root issuer.
    pub fn mint(&self, job_id: &JobId, job_secret: &str, request: MintRequest) -> PlatformResult<Minted> {
        if let Some(audience) = &request.aud {
            if audience.is_empty() || audience.len() > MAX_AUDIENCE_LENGTH {
                return Err(PlatformError::invalid(
                    "invalid_audience",
                    format!("aud must be a non-empty string of at most {MAX_AUDIENCE_LENGTH} bytes."),
                ));
            }
        }
        let (job, settings) = self.store.read(|tx| {
            let job = self.authenticate_job(tx, job_id, job_secret)?;
            let settings = effective_settings(tx, &job.org_id, &job.project_id)?;
            Ok((job, settings))
        })?;
        check_can_mint(&job)?;
        let custom = request.aud.is_some() || request.root_issuer.is_some();
        let signed: Vec<SignedToken> = if custom {
            let issuer = if request.root_issuer == Some(true) {
                self.public_url().to_owned()
            } else {
                self.org_issuer(&job.org_id)
            };
            let audience = request.aud.clone().map_or(settings.audience.clone(), Audience::One);
            // [INFER] a custom token carries the V2 subject: see docs/decisions.md.
            let claims = job_claims(&job, issuer, audience, self.now(), settings.ttl)
                .for_format(SubjectFormat::V2);
            vec![self.sign(KIND_CUSTOM, &claims)?]
        } else {
            self.sign_default_tokens(&job, &settings)?.into()
        };
        self.store.write(|tx| {
            // The job may have finished while the tokens were being signed.
            let (current, _) = tx
                .job(job_id)?
                .ok_or_else(|| PlatformError::not_found("job_not_found", format!("No job {job_id}.")))?;
            check_can_mint(&current)?;
            for token in &signed {
                tx.insert_audit(&token.audit)?;
            }
            Ok(())
        })?;
        let expires_at = signed.first().map_or(0, |token| token.audit.exp.seconds());
        let mut tokens = signed.into_iter().map(|token| token.token);
        let first = tokens.next().unwrap_or_default();
        Ok(match tokens.next() {
            Some(v2) => Minted::Default { oidc_token: first, oidc_token_v2: v2, expires_at },
            None => Minted::Custom { token: first, expires_at },
        })
    }

    /// Finishes a running job; minting fails afterwards.
    pub fn finish(&self, job_id: &JobId, job_secret: &str, request: FinishRequest) -> PlatformResult<FinishedJob> {
        if request.status == JobStatus::Running {
            return Err(PlatformError::invalid(
                "invalid_status",
                "status must be success, failed or canceled.",
            ));
        }
        let now = self.now();
        self.store.write(|tx| {
            let job = self.authenticate_job(tx, job_id, job_secret)?;
            if !tx.finish_job(job_id, request.status, now)? {
                return Err(job_finished(&job));
            }
            Ok(())
        })?;
        tracing::info!(job = %job_id, status = request.status.as_str(), "job finished");
        Ok(FinishedJob { job_id: *job_id, status: request.status })
    }
}

fn job_finished(job: &Job) -> PlatformError {
    PlatformError::conflict(
        "job_finished",
        format!("Job {} already finished with status {}.", job.id, job.status.as_str()),
    )
}

/// Refuses minting for a finished job or one the org's rules deny tokens.
fn check_can_mint(job: &Job) -> PlatformResult<()> {
    if job.status != JobStatus::Running {
        return Err(job_finished(job));
    }
    if let Some(refusal) = &job.refusal {
        let code = if refusal.code == super::tokens::FORK_SECRETS_DISABLED {
            super::tokens::FORK_SECRETS_DISABLED
        } else {
            super::tokens::CONTEXT_REQUIRED
        };
        return Err(PlatformError::forbidden(code, refusal.message.clone()));
    }
    Ok(())
}

fn resolve_project(tx: &Tx<'_>, org: &Org, reference: &str) -> PlatformResult<Project> {
    let found = match reference.parse::<ProjectId>() {
        Ok(id) => tx.project_by_id(&id)?,
        Err(_) => match tx.project_by_slug(reference)? {
            Some(project) => Some(project),
            None => tx.project_by_name(&org.id, reference)?,
        },
    };
    let project = found.ok_or_else(|| {
        PlatformError::not_found("project_not_found", format!("No project {reference:?} in org {}.", org.name))
    })?;
    if project.org_id != org.id {
        return Err(PlatformError::invalid(
            "project_of_another_org",
            format!("Project {reference:?} belongs to another org than {}.", org.name),
        ));
    }
    Ok(project)
}

fn resolve_user(tx: &Tx<'_>, org: &Org, reference: Option<&str>) -> PlatformResult<User> {
    let members = tx.members(&org.id)?;
    let Some(reference) = reference else {
        return members.into_iter().next().ok_or_else(|| {
            PlatformError::invalid("org_has_no_users", format!("Org {} has no users; name one or add one.", org.name))
        });
    };
    let found = match reference.parse::<UserId>() {
        Ok(id) => tx.user_by_id(&id)?,
        Err(_) => tx.user_by_login(reference)?,
    };
    let user = found
        .ok_or_else(|| PlatformError::not_found("user_not_found", format!("No user {reference:?}.")))?;
    if !members.contains(&user) {
        return Err(PlatformError::invalid(
            "user_not_in_org",
            format!("User {reference:?} is not a member of org {}.", org.name),
        ));
    }
    Ok(user)
}

fn check_vcs(project: &Project, request: &VcsRequest, fork: bool) -> PlatformResult<Vcs> {
    let origin = match (&request.origin, &project.vcs_origin) {
        (Some(origin), _) => origin.clone(),
        (None, Some(origin)) => origin.clone(),
        (None, None) => {
            return Err(PlatformError::invalid(
                "vcs_origin_required",
                format!("Project {} has no VCS origin; give vcs.origin or vcs: null.", project.slug),
            ));
        }
    };
    super::admin::check_vcs_origin(&origin)?;
    if !fork && project.vcs_origin.as_ref().is_some_and(|own| *own != origin) {
        return Err(PlatformError::invalid(
            "vcs_origin_mismatch",
            format!(
                "vcs.origin {origin:?} is not project {}'s repository; only fork builds come from another repository.",
                project.slug
            ),
        ));
    }
    let valid_ref = request.git_ref.starts_with("refs/")
        && request.git_ref.len() > "refs/".len()
        && request.git_ref.len() <= 255
        && !request.git_ref.chars().any(|character| character.is_whitespace() || character.is_control());
    if !valid_ref {
        return Err(PlatformError::invalid(
            "invalid_vcs_ref",
            format!("vcs.ref {:?} must be a Git ref like refs/heads/main.", request.git_ref),
        ));
    }
    if let Some(sha) = &request.sha {
        if sha.len() != 40 || !sha.chars().all(|character| matches!(character, '0'..='9' | 'a'..='f')) {
            return Err(PlatformError::invalid("invalid_vcs_sha", "vcs.sha must be 40 lowercase hex digits."));
        }
    }
    Ok(Vcs { origin, git_ref: request.git_ref.clone(), sha: request.sha.clone() })
}
