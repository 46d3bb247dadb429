//! The CircleCI `config.yml` subset keyless-runner understands (version 2.1, see
//! `docs/runner.md`): loading with line-accurate YAML errors, `<< parameters.x >>` and
//! `<< pipeline.* >>` interpolation, reusable `commands` and `executors`, and workflows.
//!
//! The configuration is kept as a YAML value tree and expanded job by job: a job only becomes
//! a [`ResolvedJob`] (plain steps, environment, shell) once the pipeline values it may
//! interpolate are known. Everything outside the subset is reported as a notice ("not
//! simulated"), never skipped silently.

mod expand;
mod interpolate;
mod load;
mod model;
mod parameters;
mod steps;
mod workflow;

pub use load::{Config, ConfigError};
pub use model::{
    ExecutorKind, ExecutorSummary, PipelineValues, ResolvedJob, RunStep, RunWhen, Step,
};
pub use workflow::{FilteredJob, GitRef, WorkflowJob, WorkflowPlan};

/// CircleCI's default `no_output_timeout` for a `run` step: ten minutes (CircleCI
/// configuration reference, `run` step).
pub const DEFAULT_NO_OUTPUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Interpolates a workflow-level `when`/`unless` condition with the pipeline values and
/// evaluates it.
fn evaluate_workflow_condition(
    config: &Config,
    condition: &serde_norway::Value,
    pipeline: &PipelineValues,
    at: &str,
) -> Result<bool, ConfigError> {
    let budget = interpolate::InterpolationBudget::default();
    let scope = interpolate::Scope {
        parameters: None,
        pipeline,
        budget: &budget,
    };
    let condition =
        interpolate::interpolate(condition, &scope).map_err(|error| config.invalid(at, error.0))?;
    steps::evaluate_condition(&condition).map_err(|message| config.invalid(at, message))
}
