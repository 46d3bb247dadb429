//! Fuzzes keyless-runner's `config.yml` reader, `keyless_runner::config`: YAML parsing with
//! merge keys, the top-level checks, then everything `keyless-runner run` does with a loaded
//! file: pipeline parameters, every job expanded (parameters, `<< … >>` interpolation,
//! commands, executors, conditions), every workflow planned for a branch and a tag, and every
//! planned job expanded.
//!
//! The property: no panic and no hang; a refusal is a `ConfigError` that says where.

#![no_main]

use std::path::Path;

use keyless_runner::config::{Config, ConfigError, GitRef, PipelineValues};
use libfuzzer_sys::fuzz_target;
use serde_norway::Mapping;

/// Bounds the work per input: a file may declare many jobs and workflows.
const MAX_NAMES: usize = 16;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(Path::new("config.yml"), text) {
        Ok(config) => config,
        Err(error) => return check_error(&error),
    };
    let mut pipeline = PipelineValues {
        id: "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f".into(),
        number: 7,
        project_git_url: "https://github.com/acme/widgets".into(),
        project_type: "github".into(),
        git_branch: "main".into(),
        git_revision: "0123456789abcdef0123456789abcdef01234567".into(),
        trigger_source: "webhook".into(),
        ..PipelineValues::default()
    };
    match config.pipeline_parameters(&Mapping::new()) {
        Ok(parameters) => pipeline.parameters = parameters,
        Err(error) => check_error(&error),
    }
    for job in config.job_names().into_iter().take(MAX_NAMES) {
        if let Err(error) = config.resolve_job(&job, &pipeline) {
            check_error(&error);
        }
    }
    for workflow in config.workflow_names().into_iter().take(MAX_NAMES) {
        let _ = config.workflow_contexts_of(&workflow);
        for reference in ["refs/heads/main", "refs/tags/v1.0.0"] {
            match config.plan_workflow(&workflow, &GitRef::from_ref(reference), &pipeline) {
                Ok(plan) => {
                    for job in plan.jobs.iter().filter(|job| !job.approval).take(MAX_NAMES) {
                        if let Err(error) = config.resolve_workflow_job(job, &pipeline) {
                            check_error(&error);
                        }
                    }
                }
                Err(error) => check_error(&error),
            }
        }
    }
});

/// A refusal names the file and says what is wrong.
fn check_error(error: &ConfigError) {
    let message = error.to_string();
    assert!(message.starts_with("config.yml"), "no location: {message}");
}
