//! The job API's operations (`docs/issuer.md`, "Job API"): a runner starts a job with its
//! runner token; the job mints tokens and finishes with its job secret.
//!
//! Starting a job validates everything first, signs the tokens, then writes the pipeline,
//! workflow, job and audit records in one transaction: a refused request writes nothing.

use std::collections::BTreeMap;

use keyless_claims::{Audience, JobId, OrgId, PipelineId, SubjectFormat, WorkflowId};

use super::job_types::{
    FinishRequest, FinishedJob, MintRequest, Minted, OrgSummary, ProjectSummary, StartJobRequest,
    StartedJob, TokenGrant, UserSummary,
};
use super::job_validation::{check_vcs, resolve_project, resolve_user};
use super::tokens::{
    EffectiveTokenSettings, KIND_CUSTOM, SignedToken, effective_settings, job_claims, refusal_for,
};
use super::{Platform, check_name, random_secret, secret_digest, secret_matches};
use crate::error::{PlatformError, PlatformResult};
use crate::model::{Environment, Job, JobStatus, Org, Project, User};
use crate::store::Tx;

/// Longest custom `aud` accepted.
const MAX_AUDIENCE_LENGTH: usize = 256;

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
                job.pipeline_number =
                    tx.insert_pipeline(&job.pipeline_id, &job.project_id, job.started_at)?;
                tx.insert_workflow(
                    &job.workflow_id,
                    &job.pipeline_id,
                    &job.workflow_name,
                    job.started_at,
                )?;
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
            org: OrgSummary {
                id: plan.org.id,
                name: plan.org.name,
            },
            project: ProjectSummary {
                id: plan.project.id,
                name: plan.project.name,
                slug: plan.project.slug,
                vcs_origin: plan.project.vcs_origin,
            },
            user: UserSummary {
                id: plan.user.id,
                login: plan.user.login,
            },
            pipeline_id: job.pipeline_id,
            pipeline_number: job.pipeline_number,
            pipeline_definition_id: job.pipeline_definition_id,
            workflow_id: job.workflow_id,
            workflow_name: job.workflow_name,
            context_ids: job.context_ids,
            environment: plan.environment,
            tokens: TokenGrant {
                granted: job.refusal.is_none(),
                refusal: job.refusal,
            },
            oidc_token,
            oidc_token_v2,
        })
    }

    fn plan_job(
        &self,
        tx: &Tx<'_>,
        org_id: &OrgId,
        request: &StartJobRequest,
    ) -> PlatformResult<JobPlan> {
        let org = tx.org_by_id(org_id)?.ok_or_else(|| {
            PlatformError::not_found("org_not_found", "The runner token's org no longer exists.")
        })?;
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
        let vcs = request
            .vcs
            .as_ref()
            .map(|vcs| check_vcs(&project, vcs, request.fork))
            .transpose()?;
        let (pipeline_id, workflow_id, workflow_name, new_pipeline) = match request.workflow_id {
            Some(workflow_id) => {
                let workflow = tx.workflow(&workflow_id)?.ok_or_else(|| {
                    PlatformError::not_found(
                        "workflow_not_found",
                        format!("No workflow {workflow_id}."),
                    )
                })?;
                if workflow.project_id != project.id {
                    return Err(PlatformError::invalid(
                        "workflow_of_another_project",
                        format!(
                            "Workflow {workflow_id} belongs to another project than {}.",
                            project.slug
                        ),
                    ));
                }
                (workflow.pipeline_id, workflow.id, workflow.name, false)
            }
            None => {
                let name = request
                    .workflow_name
                    .clone()
                    .unwrap_or_else(|| "workflow".to_owned());
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
        Ok(JobPlan {
            job,
            org,
            project,
            user,
            environment,
            new_pipeline,
            settings,
        })
    }

    /// Checks the job secret before the request body is looked at.
    pub fn check_job_secret(&self, job_id: &JobId, job_secret: &str) -> PlatformResult<()> {
        self.store
            .read(|tx| self.authenticate_job(tx, job_id, job_secret))
            .map(|_| ())
    }

    /// The job, if `job_secret` is its secret.
    fn authenticate_job(
        &self,
        tx: &Tx<'_>,
        job_id: &JobId,
        job_secret: &str,
    ) -> PlatformResult<Job> {
        let (job, digest) = tx.job(job_id)?.ok_or_else(|| {
            PlatformError::not_found("job_not_found", format!("No job {job_id}."))
        })?;
        if !secret_matches(job_secret, &digest) {
            return Err(PlatformError::forbidden(
                "forbidden",
                "The job secret is not valid for this job.",
            ));
        }
        Ok(job)
    }

    /// Mints the job's tokens: the default pair, or one token with a custom `aud` and/or the
    /// root issuer.
    pub fn mint(
        &self,
        job_id: &JobId,
        job_secret: &str,
        request: MintRequest,
    ) -> PlatformResult<Minted> {
        check_audience(&request)?;
        let (job, settings) = self.job_to_mint_for(job_id, job_secret)?;
        self.mint_for(&job, &settings, &request)
    }

    /// [`Self::mint`] for a request body that may not have parsed, in one read of the job: the
    /// job secret is checked first (a caller without it learns nothing, not even that its body
    /// is bad), then the body's error is returned as it is (`Ok(Err(_))`), then the request is
    /// minted.
    pub fn mint_parsed<BodyError>(
        &self,
        job_id: &JobId,
        job_secret: &str,
        request: Result<MintRequest, BodyError>,
    ) -> PlatformResult<Result<Minted, BodyError>> {
        let (job, settings) = self.job_to_mint_for(job_id, job_secret)?;
        let request = match request {
            Ok(request) => request,
            Err(error) => return Ok(Err(error)),
        };
        check_audience(&request)?;
        self.mint_for(&job, &settings, &request).map(Ok)
    }

    /// The authenticated job and its token settings, in one read transaction.
    fn job_to_mint_for(
        &self,
        job_id: &JobId,
        job_secret: &str,
    ) -> PlatformResult<(Job, EffectiveTokenSettings)> {
        self.store.read(|tx| {
            let job = self.authenticate_job(tx, job_id, job_secret)?;
            let settings = effective_settings(tx, &job.org_id, &job.project_id)?;
            Ok((job, settings))
        })
    }

    /// Signs and records the tokens of an authenticated job.
    fn mint_for(
        &self,
        job: &Job,
        settings: &EffectiveTokenSettings,
        request: &MintRequest,
    ) -> PlatformResult<Minted> {
        let job_id = &job.id;
        check_can_mint(job)?;
        let custom = request.aud.is_some() || request.root_issuer.is_some();
        let signed: Vec<SignedToken> = if custom {
            let issuer = if request.root_issuer == Some(true) {
                self.public_url().to_owned()
            } else {
                self.org_issuer(&job.org_id)
            };
            let audience = request
                .aud
                .clone()
                .map_or(settings.audience.clone(), Audience::One);
            // [INFER] a custom token carries the V2 subject: see docs/decisions.md.
            let claims = job_claims(job, issuer, audience, self.now(), settings.ttl)
                .for_format(SubjectFormat::V2);
            vec![self.sign(KIND_CUSTOM, &claims)?]
        } else {
            self.sign_default_tokens(job, settings)?.into()
        };
        // The job may have finished while the tokens were being signed: re-checked as the audit
        // rows are committed (in a group commit with concurrent mints).
        let audits = signed.iter().map(|token| token.audit.clone()).collect();
        self.commit_mint(job_id, audits)?;
        let expires_at = signed.first().map_or(0, |token| token.audit.exp.seconds());
        let mut tokens = signed.into_iter().map(|token| token.token);
        let first = tokens.next().unwrap_or_default();
        Ok(match tokens.next() {
            Some(v2) => Minted::Default {
                oidc_token: first,
                oidc_token_v2: v2,
                expires_at,
            },
            None => Minted::Custom {
                token: first,
                expires_at,
            },
        })
    }

    /// Finishes a running job; minting fails afterwards.
    pub fn finish(
        &self,
        job_id: &JobId,
        job_secret: &str,
        request: FinishRequest,
    ) -> PlatformResult<FinishedJob> {
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
                return Err(job_finished(&job.id, job.status));
            }
            Ok(())
        })?;
        tracing::info!(job = %job_id, status = request.status.as_str(), "job finished");
        Ok(FinishedJob {
            job_id: *job_id,
            status: request.status,
        })
    }
}

/// The refusal to mint for a job that has finished.
pub(super) fn job_finished(job_id: &JobId, status: JobStatus) -> PlatformError {
    PlatformError::conflict(
        "job_finished",
        format!(
            "Job {job_id} already finished with status {}.",
            status.as_str()
        ),
    )
}

/// Refuses a custom `aud` that is empty or too long.
fn check_audience(request: &MintRequest) -> PlatformResult<()> {
    let bad_audience =
        |audience: &String| audience.is_empty() || audience.len() > MAX_AUDIENCE_LENGTH;
    if request.aud.as_ref().is_some_and(bad_audience) {
        return Err(PlatformError::invalid(
            "invalid_audience",
            format!("aud must be a non-empty string of at most {MAX_AUDIENCE_LENGTH} bytes."),
        ));
    }
    Ok(())
}

/// Refuses minting for a finished job or one the org's rules deny tokens.
pub(super) fn check_can_mint(job: &Job) -> PlatformResult<()> {
    if job.status != JobStatus::Running {
        return Err(job_finished(&job.id, job.status));
    }
    if let Some(refusal) = &job.refusal {
        // The stored refusal carries its code as text; answer with the matching stable code.
        let code = if refusal.code == super::tokens::FORK_SECRETS_DISABLED {
            super::tokens::FORK_SECRETS_DISABLED
        } else {
            super::tokens::CONTEXT_REQUIRED
        };
        return Err(PlatformError::forbidden(code, refusal.message.clone()));
    }
    Ok(())
}
