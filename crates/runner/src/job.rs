//! Running one job: start it at the issuer, build its environment and temporary directory
//! (the `circleci` wrapper, scripts, the AWS token file), run its steps in order with
//! CircleCI's `when` rules, and finish it at the issuer whatever the outcome.

use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::watch;

use crate::config::{ConfigError, PipelineValues, ResolvedJob, RunStep, RunWhen, Step};
use crate::environment::{Environment, JobFacts, builtin_variables, is_withheld_from_steps};
use crate::issuer::{IssuerClient, IssuerError, StartJobRequest, StartedJob, Vcs};
use crate::report::{JobRecord, Reporter, Status, StepRecord, TokenRecord};
use crate::settings::{DEFAULT_WORKING_DIRECTORY, RunSettings, pipeline_values};
use crate::step::{StepContext, default_shell, run_step, step_directory};
use crate::{aws, shim, token};

/// The job to run and where it sits in its workflow.
pub struct JobPlan<'a> {
    /// The job's name.
    pub name: String,
    /// Contexts from the workflow entry.
    pub contexts: Vec<String>,
    /// The workflow's name.
    pub workflow_name: String,
    /// The workflow to join, after its first job.
    pub workflow_id: Option<String>,
    /// Expands the job once pipeline values are known.
    pub resolve: &'a dyn Fn(&PipelineValues) -> Result<ResolvedJob, ConfigError>,
}

/// Why a job could not run at all (nothing was started, or the start was refused).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The issuer refused or could not be reached.
    #[error("{0}")]
    Issuer(#[from] IssuerError),
    /// The configuration could not be expanded.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The job's temporary directory could not be prepared.
    #[error("cannot prepare the job's temporary directory: {0}")]
    TemporaryDirectory(std::io::Error),
}

/// Runs a job start to finish. `Err` only when the job never started; once started, the job
/// is always finished at the issuer and its record returned.
pub async fn run_job(
    settings: &RunSettings,
    plan: JobPlan<'_>,
    reporter: &Reporter,
    cancel: watch::Receiver<bool>,
) -> Result<(JobRecord, StartedJob), JobError> {
    let issuer = IssuerClient::new(&settings.issuer_url)?;
    let mut contexts = plan.contexts.clone();
    for extra in &settings.extra_contexts {
        if !contexts.contains(extra) {
            contexts.push(extra.clone());
        }
    }
    let vcs = settings.git_ref.full_ref().map(|reference| Vcs {
        origin: settings.origin.clone(),
        reference,
        sha: settings.sha.clone(),
    });
    let request = StartJobRequest {
        project: settings.project.clone(),
        user: settings.user.clone(),
        job_name: plan.name.clone(),
        workflow_name: plan.workflow_name.clone(),
        workflow_id: plan.workflow_id.clone(),
        contexts,
        vcs,
        fork: settings.fork,
        ssh_rerun: settings.ssh_rerun,
    };
    let started = issuer.start_job(&settings.runner_token, &request).await?;
    let masker = reporter.masker();
    masker.add(&started.job_secret);
    for token in [&started.oidc_token, &started.oidc_token_v2]
        .into_iter()
        .flatten()
    {
        masker.add(token);
    }
    for value in started.environment.values() {
        masker.add(value);
    }
    let started_at = Instant::now();
    let outcome = run_started_job(settings, &plan, &started, &issuer, reporter, cancel).await;
    let (status, mut record) = match outcome {
        Ok(record) => (record.status, record),
        Err(error) => {
            reporter.line(&format!("error: {error}"));
            let record = JobRecord {
                name: plan.name.clone(),
                job_id: Some(started.job_id.clone()),
                build_num: Some(started.build_num),
                workflow_id: Some(started.workflow_id.clone()),
                status: Status::Failed,
                duration_ms: 0,
                tokens: None,
                notices: vec![error.to_string()],
                steps: Vec::new(),
            };
            (Status::Failed, record)
        }
    };
    let finish_status = match status {
        Status::Success => "success",
        Status::Canceled => "canceled",
        _ => "failed",
    };
    if let Err(error) = issuer
        .finish(&started.job_id, &started.job_secret, finish_status)
        .await
    {
        reporter.notice(&format!("could not finish the job at the issuer: {error}"));
        record
            .notices
            .push(format!("finish at the issuer failed: {error}"));
    }
    record.duration_ms = started_at.elapsed().as_millis();
    Ok((record, started))
}

/// The part of a job after the issuer started it.
async fn run_started_job(
    settings: &RunSettings,
    plan: &JobPlan<'_>,
    started: &StartedJob,
    issuer: &IssuerClient,
    reporter: &Reporter,
    cancel: watch::Receiver<bool>,
) -> Result<JobRecord, JobError> {
    let job = (plan.resolve)(&pipeline_values(
        settings,
        &started.pipeline_id,
        started.pipeline_number,
        started.project.vcs_origin.as_deref(),
    ))?;
    reporter.line(&format!(
        "Job \"{}\" in project \"{}\" (build {}, job {}, workflow \"{}\" {})",
        job.name,
        started.project.slug,
        started.build_num,
        started.job_id,
        started.workflow_name,
        started.workflow_id
    ));
    reporter.line(&format!("      {}", job.executor.describe()));
    for notice in &job.notices {
        reporter.notice(notice);
    }
    let tokens = TokenRecord::from_job(started);
    let now = aws::now_seconds();
    match (&started.oidc_token, &started.oidc_token_v2) {
        (Some(v1), Some(v2)) if started.tokens.granted => {
            reporter.line(&format!(
                "      CIRCLE_OIDC_TOKEN issued: {}",
                token::describe(v1, now)
            ));
            reporter.line(&format!(
                "      CIRCLE_OIDC_TOKEN_V2 issued: {}",
                token::describe(v2, now)
            ));
            for disagreement in token::disagreements(v2, started) {
                reporter.notice(&format!(
                    "the issuer's token disagrees with its job: {disagreement}"
                ));
            }
        }
        _ => {
            let reason = started
                .tokens
                .refusal
                .as_ref()
                .map(|refusal| format!("{} ({})", refusal.message, refusal.code))
                .unwrap_or_else(|| "the issuer granted none".to_string());
            reporter.notice(&format!(
                "no CIRCLE_OIDC_TOKEN or CIRCLE_OIDC_TOKEN_V2 in this job: {reason}"
            ));
        }
    }

    // Owner-only whatever the umask: it holds the token file, BASH_ENV and the scripts
    // (tempfile's default is 0777 less the umask).
    let temporary = tempfile::Builder::new()
        .prefix("keyless-runner-job-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(JobError::TemporaryDirectory)?;
    let bin_directory = temporary.path().join("bin");
    shim::install_wrapper(&bin_directory, &settings.runner_executable)
        .map_err(JobError::TemporaryDirectory)?;

    let facts = JobFacts {
        job: started,
        job_name: &job.name,
        git_ref: &settings.git_ref,
        sha: settings.sha.as_deref(),
        origin: settings
            .origin
            .as_deref()
            .or(started.project.vcs_origin.as_deref()),
        working_directory: &settings.working_tree,
    };
    let mut environment = Environment::default();
    for (name, value) in std::env::vars() {
        if !is_withheld_from_steps(&name) {
            environment.set(&name, &value);
        }
    }
    for (name, value) in &started.environment {
        environment.set(name, value);
    }
    environment.extend(&builtin_variables(&facts));
    if started.tokens.granted {
        if let Some(v1) = &started.oidc_token {
            environment.set("CIRCLE_OIDC_TOKEN", v1);
        }
        if let Some(v2) = &started.oidc_token_v2 {
            environment.set("CIRCLE_OIDC_TOKEN_V2", v2);
        }
    }
    environment.set(shim::SHIM_ISSUER_VARIABLE, &settings.issuer_url);
    environment.set(shim::SHIM_JOB_ID_VARIABLE, &started.job_id);
    environment.set(shim::SHIM_JOB_SECRET_VARIABLE, &started.job_secret);
    // CircleCI's BASH_ENV: bash sources it before every step, so
    // `echo 'export X=1' >> "$BASH_ENV"` carries variables to later steps.
    let bash_environment = temporary.path().join("bash_env");
    crate::private_file::write_private(&bash_environment, b"")
        .map_err(JobError::TemporaryDirectory)?;
    environment.set("BASH_ENV", &bash_environment.display().to_string());
    environment.extend(&job.environment);

    let mut _token_file = None;
    if let Some(role_arn) = &settings.aws_role_arn {
        let token = started
            .oidc_token_v2
            .as_ref()
            .filter(|_| started.tokens.granted);
        match token {
            Some(token) => {
                let file = aws::start(
                    temporary.path(),
                    token,
                    issuer.clone(),
                    started.job_id.clone(),
                    started.job_secret.clone(),
                    reporter.clone(),
                )
                .map_err(JobError::TemporaryDirectory)?;
                environment.set("AWS_ROLE_ARN", role_arn);
                environment.set(
                    "AWS_WEB_IDENTITY_TOKEN_FILE",
                    &file.path.display().to_string(),
                );
                environment.set("AWS_ROLE_SESSION_NAME", &aws::session_name(&job.name));
                reporter.line(&format!(
                    "      AWS wiring: AWS_ROLE_ARN={role_arn}, AWS_WEB_IDENTITY_TOKEN_FILE={} (kept fresh), AWS_ROLE_SESSION_NAME={}",
                    file.path.display(),
                    aws::session_name(&job.name)
                ));
                _token_file = Some(file);
            }
            None => reporter.notice("AWS wiring skipped: the job has no OIDC token"),
        }
    }

    let job_directory_literal = job
        .working_directory
        .clone()
        .unwrap_or_else(|| DEFAULT_WORKING_DIRECTORY.to_string());
    let job_shell = job.shell.clone().unwrap_or_else(default_shell);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (stop_background, background_cancel) = watch::channel(false);
    let mut background = Vec::new();
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut failed = false;
    let mut canceled = false;
    for (index, step) in job.steps.iter().enumerate() {
        if *cancel.borrow() {
            canceled = true;
        }
        let record = match step {
            Step::Checkout { path } => {
                let name = "Checkout code".to_string();
                if failed || canceled {
                    skipped(
                        &name,
                        "checkout",
                        reporter,
                        if canceled {
                            "the job was interrupted"
                        } else {
                            "an earlier step failed"
                        },
                    )
                } else {
                    reporter.step_header(&name);
                    let mut text = format!(
                        "the local working tree {} stands in for the checkout; nothing is cloned",
                        settings.working_tree.display()
                    );
                    if let Some(path) = path {
                        text.push_str(&format!(" (`path: {path}` not simulated)"));
                    }
                    reporter.step_output("", &text);
                    let record = simple_record(&name, "checkout", Status::Success, None);
                    reporter.step_footer(&record);
                    record
                }
            }
            Step::NotSimulated { name, reason } => {
                reporter.step_header(name);
                let record = simple_record(name, name, Status::NotSimulated, Some(reason.clone()));
                reporter.step_footer(&record);
                record
            }
            Step::Run(run) => {
                let should_run = !canceled
                    && match run.when {
                        RunWhen::OnSuccess => !failed,
                        RunWhen::OnFail => failed,
                        RunWhen::Always => true,
                    };
                if !should_run {
                    let reason = if canceled {
                        "the job was interrupted"
                    } else if run.when == RunWhen::OnFail {
                        "no step failed (when: on_fail)"
                    } else {
                        "an earlier step failed"
                    };
                    skipped(&run.name, "run", reporter, reason)
                } else {
                    let context = step_context(
                        run,
                        index,
                        &environment,
                        &bin_directory,
                        &job_directory_literal,
                        &job_shell,
                        settings,
                        home.as_deref(),
                        temporary.path(),
                        reporter,
                    );
                    if run.background {
                        reporter.step_header(&format!("{} (background)", run.name));
                        let context = StepContext {
                            cancel: background_cancel.clone(),
                            output_prefix: format!("[{}] ", run.name),
                            ..context
                        };
                        let step = run.clone();
                        background.push((
                            index,
                            tokio::spawn(async move { run_step(&step, context).await }),
                        ));
                        simple_record(&run.name, "run", Status::Background, None)
                    } else {
                        reporter.step_header(&run.name);
                        let context = StepContext {
                            cancel: cancel.clone(),
                            ..context
                        };
                        let record = run_step(run, context).await;
                        reporter.step_footer(&record);
                        match record.status {
                            Status::Failed => failed = true,
                            Status::Canceled => canceled = true,
                            _ => {}
                        }
                        record
                    }
                }
            }
        };
        steps.push(record);
    }
    // Background steps stop when the job ends (the send fails only if all have finished).
    let _ = stop_background.send(true);
    for (index, handle) in background {
        if let Ok(mut record) = handle.await {
            if record.status == Status::Canceled {
                record.status = Status::Background;
                record.reason = Some("still running when the job ended: stopped".into());
            } else if record.status == Status::Failed {
                failed = true;
            }
            reporter.line(&format!(
                "── background step \"{}\" {}",
                record.name,
                record.status.word()
            ));
            steps[index] = record;
        }
    }
    let status = if canceled {
        Status::Canceled
    } else if failed {
        Status::Failed
    } else {
        Status::Success
    };
    let mark = if status == Status::Success {
        "✓"
    } else {
        "✗"
    };
    reporter.line(&format!(
        "Job \"{}\" {mark} {} ({} steps)",
        job.name,
        status.word(),
        steps.len()
    ));
    Ok(JobRecord {
        name: job.name.clone(),
        job_id: Some(started.job_id.clone()),
        build_num: Some(started.build_num),
        workflow_id: Some(started.workflow_id.clone()),
        status,
        duration_ms: 0,
        tokens: Some(tokens),
        notices: job.notices.clone(),
        steps,
    })
}

/// Builds the context for one `run` step.
#[allow(clippy::too_many_arguments)] // Each argument is a distinct part of the job's state.
fn step_context(
    run: &RunStep,
    index: usize,
    environment: &Environment,
    bin_directory: &std::path::Path,
    job_directory_literal: &str,
    job_shell: &str,
    settings: &RunSettings,
    home: Option<&std::path::Path>,
    temporary: &std::path::Path,
    reporter: &Reporter,
) -> StepContext {
    let mut step_environment = environment.clone();
    step_environment.extend(&run.environment);
    let path = step_environment
        .get("PATH")
        .unwrap_or("/usr/bin:/bin")
        .to_string();
    step_environment.set("PATH", &format!("{}:{path}", bin_directory.display()));
    StepContext {
        environment: step_environment.pairs().to_vec(),
        working_directory: step_directory(
            run.working_directory.as_deref(),
            job_directory_literal,
            &settings.working_tree,
            home,
        ),
        shell: run.shell.clone().unwrap_or_else(|| job_shell.to_string()),
        script_path: temporary.join(format!("step-{index}.sh")),
        reporter: reporter.clone(),
        cancel: watch::channel(false).1,
        output_prefix: String::new(),
    }
}

/// A record for a step that ran no process.
fn simple_record(name: &str, kind: &str, status: Status, reason: Option<String>) -> StepRecord {
    StepRecord {
        name: name.to_string(),
        kind: kind.to_string(),
        status,
        exit_code: None,
        duration_ms: 0,
        reason,
        output: Vec::new(),
    }
}

/// Reports and records a skipped step.
fn skipped(name: &str, kind: &str, reporter: &Reporter, reason: &str) -> StepRecord {
    reporter.line(&format!("── step: {name} — skipped: {reason}"));
    simple_record(name, kind, Status::Skipped, Some(reason.to_string()))
}
