//! `keyless-runner run`: loads the configuration, checks every job it will run before
//! anything starts, runs one job or a workflow's jobs in order, handles ctrl-c and SIGTERM
//! (the current step is stopped and the job finished at the issuer as canceled), prints the
//! summary and returns the exit status.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};
use tokio::sync::watch;

use crate::cli::{DEFAULT_BRANCH, RunArgs};
use crate::config::{Config, GitRef, WorkflowPlan};
use crate::job::{JobPlan, run_job};
use crate::mask::Masker;
use crate::report::{FilteredRecord, JobRecord, OutputFormat, Reporter, RunRecord, Status};
use crate::settings::{RunSettings, provisional_pipeline};

/// Exit status when every job succeeded.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit status when a job failed.
pub const EXIT_JOB_FAILED: i32 = 1;
/// Exit status when the runner could not run the job (configuration, issuer, usage).
pub const EXIT_RUNNER_ERROR: i32 = 2;
/// Exit status when interrupted (128 + SIGINT, as shells report it).
pub const EXIT_CANCELED: i32 = 130;

/// The workflow name sent to the issuer for `--job` runs (the job API's default).
pub const SINGLE_JOB_WORKFLOW_NAME: &str = "workflow";

/// Runs what `arguments` ask and returns the process exit status.
pub async fn run(arguments: RunArgs) -> i32 {
    let masker = Masker::default();
    masker.add(&arguments.runner_token);
    let reporter = Reporter::new(arguments.output, masker);
    match run_checked(arguments, &reporter).await {
        Ok(code) => code,
        Err(message) => {
            let message = reporter.masker().mask(&message);
            eprintln!("keyless-runner: {message}");
            if reporter.format() == OutputFormat::Json {
                println!(
                    "{}",
                    serde_json::json!({ "status": "error", "error": message })
                );
            }
            EXIT_RUNNER_ERROR
        }
    }
}

/// The git ref from `--branch`, `--ref` and `--custom-webhook`.
fn git_ref(arguments: &RunArgs) -> GitRef {
    if arguments.custom_webhook {
        GitRef::None
    } else if let Some(reference) = &arguments.reference {
        GitRef::from_ref(reference)
    } else {
        GitRef::Branch(
            arguments
                .branch
                .clone()
                .unwrap_or_else(|| DEFAULT_BRANCH.to_string()),
        )
    }
}

/// `github.com/acme/widgets` for a `gh/acme/widgets` or `github/acme/widgets` slug.
fn origin_from_slug(project: &str) -> Option<String> {
    let parts: Vec<&str> = project.split('/').collect();
    let [vcs, owner, repository] = parts.as_slice() else {
        return None;
    };
    let host = match *vcs {
        "gh" | "github" => "github.com",
        "bb" | "bitbucket" => "bitbucket.org",
        _ => return None,
    };
    Some(format!("{host}/{owner}/{repository}"))
}

/// `git rev-parse HEAD` in `directory`, when it works.
fn git_head(directory: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(directory)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sha = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && sha.len() == 40).then_some(sha)
}

/// Parses `NAME=VALUE` pipeline parameters (values read as YAML scalars).
fn parse_pipeline_parameters(pairs: &[String]) -> Result<Mapping, String> {
    let mut mapping = Mapping::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--pipeline-parameter {pair:?} must be NAME=VALUE"))?;
        let value =
            serde_norway::from_str::<Value>(value).unwrap_or(Value::String(value.to_string()));
        mapping.insert(Value::String(name.to_string()), value);
    }
    Ok(mapping)
}

/// Stops the run on ctrl-c or SIGTERM.
fn watch_for_interruption(reporter: Reporter) -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        reporter
            .notice("interrupted: stopping the current step and finishing the job at the issuer");
        let _ = sender.send(true);
    });
    receiver
}

/// Everything after argument parsing; `Err` is a runner error message.
async fn run_checked(arguments: RunArgs, reporter: &Reporter) -> Result<i32, String> {
    let config = Config::load(&arguments.config).map_err(|error| error.to_string())?;
    let working_tree =
        std::env::current_dir().map_err(|error| format!("no current directory: {error}"))?;
    let runner_executable: PathBuf = std::env::current_exe()
        .map_err(|error| format!("cannot find the keyless-runner executable: {error}"))?;
    let overrides = parse_pipeline_parameters(&arguments.pipeline_parameters)?;
    let settings = RunSettings {
        issuer_url: arguments.issuer.clone(),
        runner_token: arguments.runner_token.clone(),
        project: arguments.project.clone(),
        user: arguments.user.clone(),
        git_ref: git_ref(&arguments),
        origin: if arguments.custom_webhook {
            None
        } else {
            arguments
                .origin
                .clone()
                .or_else(|| origin_from_slug(&arguments.project))
        },
        sha: arguments.sha.clone().or_else(|| git_head(&working_tree)),
        fork: arguments.fork,
        ssh_rerun: arguments.ssh_rerun,
        extra_contexts: arguments.contexts.clone(),
        aws_role_arn: arguments.aws_role_arn.clone(),
        working_tree,
        runner_executable,
        pipeline_parameters: config
            .pipeline_parameters(&overrides)
            .map_err(|error| error.to_string())?,
    };
    let provisional = provisional_pipeline(&settings);
    let workflow = match (&arguments.job, &arguments.workflow) {
        (Some(_), _) => None,
        (None, Some(workflow)) => Some(workflow.clone()),
        (None, None) => match config.workflow_names().as_slice() {
            [only] => Some(only.clone()),
            names => {
                return Err(format!(
                    "say which job (--job, one of: {}) or workflow (--workflow, one of: {}) to run",
                    config.job_names().join(", "),
                    names.join(", ")
                ));
            }
        },
    };
    let cancel = watch_for_interruption(reporter.clone());
    for notice in &config.notices {
        reporter.notice(notice);
    }
    let mut record = RunRecord {
        workflow: workflow.clone(),
        status: Status::Success,
        notices: config.notices.clone(),
        jobs: Vec::new(),
        filtered: Vec::new(),
    };
    if let Some(job_name) = &arguments.job {
        config
            .resolve_job(job_name, &provisional)
            .map_err(|error| error.to_string())?;
        for (workflow_name, contexts) in config.workflow_contexts_of(job_name) {
            let missing: Vec<&String> = contexts
                .iter()
                .filter(|context| !settings.extra_contexts.contains(context))
                .collect();
            if !missing.is_empty() {
                let notice = format!(
                    "workflow `{workflow_name}` gives job `{job_name}` the context(s) {}; --job runs it with --context only (add --context, or use --workflow {workflow_name})",
                    missing
                        .iter()
                        .map(|context| context.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                reporter.notice(&notice);
                record.notices.push(notice);
            }
        }
        let resolve = |pipeline: &_| config.resolve_job(job_name, pipeline);
        let plan = JobPlan {
            name: job_name.clone(),
            contexts: Vec::new(),
            workflow_name: SINGLE_JOB_WORKFLOW_NAME.to_string(),
            workflow_id: None,
            resolve: &resolve,
        };
        let (job_record, _) = run_job(&settings, plan, reporter, cancel)
            .await
            .map_err(|error| format!("cannot start job {job_name}: {error}"))?;
        record.jobs.push(job_record);
    } else if let Some(workflow_name) = &workflow {
        let plan = config
            .plan_workflow(workflow_name, &settings.git_ref, &provisional)
            .map_err(|error| error.to_string())?;
        for job in plan.jobs.iter().filter(|job| !job.approval) {
            config
                .resolve_workflow_job(job, &provisional)
                .map_err(|error| error.to_string())?;
        }
        run_workflow(&config, &settings, &plan, reporter, cancel, &mut record).await?;
    }
    record.status = overall_status(&record.jobs);
    summarise(reporter, &record);
    reporter.finish(&record);
    Ok(match record.status {
        Status::Success => EXIT_SUCCESS,
        Status::Canceled => EXIT_CANCELED,
        _ => EXIT_JOB_FAILED,
    })
}

/// Runs a planned workflow's jobs in order; a job whose requirement did not succeed is
/// skipped.
async fn run_workflow(
    config: &Config,
    settings: &RunSettings,
    plan: &WorkflowPlan,
    reporter: &Reporter,
    cancel: watch::Receiver<bool>,
    record: &mut RunRecord,
) -> Result<(), String> {
    reporter.line(&format!(
        "Workflow \"{}\": {} job(s) to run",
        plan.name,
        plan.jobs.len()
    ));
    for notice in &plan.notices {
        reporter.notice(notice);
        record.notices.push(notice.clone());
    }
    for filtered in &plan.filtered {
        reporter.line(&format!(
            "── job \"{}\" does not run: {}",
            filtered.name, filtered.reason
        ));
        record.filtered.push(FilteredRecord {
            name: filtered.name.clone(),
            reason: filtered.reason.clone(),
        });
    }
    let mut workflow_id: Option<String> = None;
    for job in &plan.jobs {
        let blocker = job.requires.iter().find(|required| {
            record
                .jobs
                .iter()
                .any(|done| &done.name == *required && done.status != Status::Success)
        });
        let skip_reason = if *cancel.borrow() {
            Some("the workflow was interrupted".to_string())
        } else {
            blocker.map(|required| format!("requires `{required}`, which did not succeed"))
        };
        if let Some(reason) = skip_reason {
            reporter.line(&format!("── job \"{}\" skipped: {reason}", job.name));
            record.jobs.push(skipped_job(&job.name, reason));
            continue;
        }
        if job.approval {
            let message = format!(
                "approval job \"{}\" is approved automatically (approvals are not simulated)",
                job.name
            );
            reporter.notice(&message);
            let mut approved = skipped_job(&job.name, message);
            approved.status = Status::Success;
            record.jobs.push(approved);
            continue;
        }
        reporter.line("");
        let resolve = |pipeline: &_| config.resolve_workflow_job(job, pipeline);
        let job_plan = JobPlan {
            name: job.name.clone(),
            contexts: job.contexts.clone(),
            workflow_name: plan.name.clone(),
            workflow_id: workflow_id.clone(),
            resolve: &resolve,
        };
        let (job_record, started) = run_job(settings, job_plan, reporter, cancel.clone())
            .await
            .map_err(|error| format!("cannot start job {}: {error}", job.name))?;
        workflow_id.get_or_insert(started.workflow_id);
        record.jobs.push(job_record);
    }
    Ok(())
}

/// A job record for a job that never started.
fn skipped_job(name: &str, reason: String) -> JobRecord {
    JobRecord {
        name: name.to_string(),
        job_id: None,
        build_num: None,
        workflow_id: None,
        status: Status::Skipped,
        duration_ms: 0,
        tokens: None,
        notices: vec![reason],
        steps: Vec::new(),
    }
}

/// Canceled if any job was, else failed if any job failed or was skipped for a failure, else
/// success.
fn overall_status(jobs: &[JobRecord]) -> Status {
    if jobs.iter().any(|job| job.status == Status::Canceled) {
        Status::Canceled
    } else if jobs
        .iter()
        .any(|job| matches!(job.status, Status::Failed | Status::Skipped))
    {
        Status::Failed
    } else {
        Status::Success
    }
}

/// The closing lines in text mode.
fn summarise(reporter: &Reporter, record: &RunRecord) {
    reporter.line("");
    let what = match &record.workflow {
        Some(workflow) => format!("Workflow \"{workflow}\""),
        None => "Run".to_string(),
    };
    let count = |status: Status| {
        record
            .jobs
            .iter()
            .filter(|job| job.status == status)
            .count()
    };
    reporter.line(&format!(
        "{what} {}: {} job(s) succeeded, {} failed, {} skipped, {} canceled, {} filtered out",
        record.status.word(),
        count(Status::Success),
        count(Status::Failed),
        count(Status::Skipped),
        count(Status::Canceled),
        record.filtered.len()
    ));
}
