//! The `runner_config` fuzz target of `fuzz/` as property tests, so `cargo test` runs a bounded
//! version of it: `config.yml` parsing never panics and refuses with a located `ConfigError`;
//! generated configurations expand, and a job parameter's value comes back out of
//! `<< parameters.x >>` unchanged (the interpolation round trip). Inputs the fuzzer found are
//! replayed at the end.

use std::path::Path;

use keyless_runner::config::{Config, ConfigError, GitRef, PipelineValues, Step};
use proptest::prelude::*;
use serde_json::json;

/// Cases per property: enough to exercise the shapes, few enough to take seconds.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// Parses `text` as `config.yml`.
fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("config.yml"), text)
}

/// Expands every job and plans every workflow of `text`, as `keyless-runner run` would; every
/// refusal must name the file.
fn exercise(text: &str) -> Result<(), TestCaseError> {
    let located = |error: ConfigError| {
        let message = error.to_string();
        prop_assert!(message.starts_with("config.yml"), "no location: {message}");
        Ok(())
    };
    let config = match parse(text) {
        Ok(config) => config,
        Err(error) => return located(error),
    };
    let pipeline = PipelineValues::default();
    for job in config.job_names() {
        if let Err(error) = config.resolve_job(&job, &pipeline) {
            located(error)?;
        }
    }
    for workflow in config.workflow_names() {
        match config.plan_workflow(&workflow, &GitRef::from_ref("main"), &pipeline) {
            Ok(plan) => {
                for job in plan.jobs.iter().filter(|job| !job.approval) {
                    if let Err(error) = config.resolve_workflow_job(job, &pipeline) {
                        located(error)?;
                    }
                }
            }
            Err(error) => located(error)?,
        }
    }
    Ok(())
}

/// YAML fragments that configurations are assembled from, valid and not.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "version: 2.1\n",
        "version: 3\n",
        "jobs:\n",
        "  build:\n",
        "    docker: [{image: cimg/base:current}]\n",
        "    machine: true\n",
        "    parameters: {to: {type: string, default: x}}\n",
        "    steps:\n",
        "      - checkout\n",
        "      - run: echo << parameters.to >>\n",
        "      - run: {command: echo << pipeline.number >>, when: always}\n",
        "      - greet: {to: y}\n",
        "      - << parameters.inner >>\n",
        "commands:\n",
        "  greet:\n",
        "    parameters: {to: {type: string}}\n",
        "    steps: [greet]\n",
        "workflows:\n",
        "  main:\n",
        "    jobs: [build, {build: {name: again, requires: [build]}}]\n",
        "orbs: {aws: circleci/aws-cli@4}\n",
        "anchor: &a {x: 1}\n",
        "merged: {<<: *a}\n",
        "  - [\n",
        "\t",
        ": : :\n",
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_parsed_or_refused_with_a_location(text in any::<String>()) {
        exercise(&text)?;
    }

    #[test]
    fn assembled_configurations_expand_or_refuse_with_a_location(
        fragments in prop::collection::vec(fragment(), 0..16),
    ) {
        exercise(&fragments.concat())?;
    }

    #[test]
    fn a_parameter_value_round_trips_through_interpolation(
        value in "[A-Za-z0-9 ./_=-]{0,32}",
        prefix in "[a-z]{0,8}",
    ) {
        // JSON is YAML: serde_json quotes the generated strings correctly.
        let document = json!({
            "version": 2.1,
            "jobs": {"build": {
                "docker": [{"image": "cimg/base:current"}],
                "parameters": {"who": {"type": "string", "default": value}},
                "steps": [{"run": {
                    "name": "say",
                    "command": format!("{prefix}<< parameters.who >>"),
                }}],
            }},
        });
        let config = parse(&document.to_string()).unwrap();
        let job = config.resolve_job("build", &PipelineValues::default()).unwrap();
        let Some(Step::Run(run)) = job.steps.first() else {
            return Err(TestCaseError::fail(format!("no run step: {:?}", job.steps)));
        };
        prop_assert_eq!(&run.command, &format!("{prefix}{value}"));
    }
}
