//! The configuration subset through the library API: the announcement's job, interpolation,
//! commands and executors, conditions, workflow order and filters, errors that point at the
//! problem, and features reported as not simulated.

use std::path::Path;

use keyless_runner::config::{
    Config, ConfigError, ExecutorKind, GitRef, PipelineValues, RunWhen, Step,
};

fn parse(text: &str) -> Config {
    Config::parse(Path::new("config.yml"), text).unwrap()
}

fn pipeline() -> PipelineValues {
    PipelineValues {
        id: "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f".into(),
        number: 7,
        project_git_url: "https://github.com/acme/widgets".into(),
        project_type: "github".into(),
        git_branch: "main".into(),
        git_revision: "0123456789abcdef0123456789abcdef01234567".into(),
        trigger_source: "webhook".into(),
        ..PipelineValues::default()
    }
}

fn run_steps(steps: &[Step]) -> Vec<&keyless_runner::config::RunStep> {
    steps
        .iter()
        .filter_map(|step| match step {
            Step::Run(run) => Some(run),
            _ => None,
        })
        .collect()
}

#[test]
fn the_announcement_job_expands_to_one_run_step_in_a_docker_executor() {
    let config = parse(include_str!("../../../../examples/circleci/config.yml"));
    let job = config.resolve_job("oidc-job", &pipeline()).unwrap();
    assert_eq!(job.executor.kind, ExecutorKind::Docker);
    assert_eq!(job.executor.image.as_deref(), Some("amazon/aws-cli"));
    assert!(
        job.executor
            .describe()
            .contains("not started: steps run in the local shell")
    );
    assert_eq!(
        job.environment,
        vec![("AWS_DEFAULT_REGION".to_string(), "us-east-1".to_string())]
    );
    let runs = run_steps(&job.steps);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].name, "authenticate-and-interact");
    assert!(
        runs[0]
            .command
            .contains("--web-identity-token $CIRCLE_OIDC_TOKEN")
    );
    assert_eq!(runs[0].when, RunWhen::OnSuccess);
    let plan = config
        .plan_workflow("main", &GitRef::Branch("main".into()), &pipeline())
        .unwrap();
    assert_eq!(plan.jobs.len(), 1);
    assert_eq!(plan.jobs[0].contexts, vec!["aws-deploy".to_string()]);
}

#[test]
fn yaml_errors_point_at_the_line() {
    let text = "version: 2.1\njobs:\n  build:\n    steps:\n   - run: echo\n      bad: [\n";
    let error = Config::parse(Path::new("ci.yml"), text).unwrap_err();
    let ConfigError::Yaml { line, .. } = &error else {
        panic!("expected a YAML error, got {error}");
    };
    assert!(*line >= 4 && *line <= 6, "line {line}: {error}");
    assert!(
        error.to_string().starts_with(&format!("ci.yml:{line}:")),
        "{error}"
    );
}

#[test]
fn structural_errors_name_the_yaml_path() {
    let config = parse(
        "version: 2.1\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - frobnicate\n",
    );
    let error = config
        .resolve_job("build", &pipeline())
        .unwrap_err()
        .to_string();
    assert!(error.contains("jobs.build.steps[0]"), "{error}");
    assert!(
        error.contains("unknown step or command `frobnicate`"),
        "{error}"
    );
    let error = Config::parse(Path::new("c.yml"), "version: 3\njobs: {}\n").unwrap_err();
    assert!(error.to_string().contains("unsupported version 3"));
}

const PARAMETERISED: &str = r#"
version: 2.1
parameters:
  deploy-env:
    type: enum
    enum: [staging, production]
    default: staging
executors:
  node:
    parameters:
      tag: {type: string, default: "20.1"}
    docker:
      - image: cimg/node:<< parameters.tag >>
        environment:
          FROM_IMAGE: "yes"
    working_directory: ~/app
    environment:
      FROM_EXECUTOR: "1"
commands:
  greet:
    parameters:
      to: {type: string}
      loud: {type: boolean, default: false}
    steps:
      - run:
          name: greet << parameters.to >>
          command: echo "hello << parameters.to >> loud=<< parameters.loud >>"
  wrap:
    parameters:
      inner: {type: steps}
    steps:
      - run: echo before
      - << parameters.inner >>
      - run: echo after
jobs:
  build:
    executor:
      name: node
      tag: "22.3"
    parameters:
      who: {type: string, default: world}
      retries: {type: integer, default: 3}
    environment:
      WHO: << parameters.who >>
    steps:
      - checkout
      - greet:
          to: << parameters.who >>
      - wrap:
          inner:
            - run: echo inside << pipeline.git.branch >> << pipeline.number >>
      - run:
          name: literal
          command: |
            cat <<EOF
            retries=<< parameters.retries >> env=<< pipeline.parameters.deploy-env >>
            escaped=\<< parameters.who >>
            EOF
          environment:
            STEP_LEVEL: "x"
          when: always
          no_output_timeout: 1m30s
          shell: /bin/sh -e
          working_directory: sub
          background: false
"#;

#[test]
fn parameters_commands_and_executors_are_interpolated() {
    let config = parse(PARAMETERISED);
    let mut values = pipeline();
    values.parameters = config.pipeline_parameters(&Default::default()).unwrap();
    let job = config.resolve_job("build", &values).unwrap();
    assert_eq!(job.executor.image.as_deref(), Some("cimg/node:22.3"));
    assert_eq!(job.working_directory.as_deref(), Some("~/app"));
    let environment: Vec<(&str, &str)> = job
        .environment
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        environment,
        vec![
            ("FROM_EXECUTOR", "1"),
            ("FROM_IMAGE", "yes"),
            ("WHO", "world")
        ]
    );
    assert!(matches!(job.steps[0], Step::Checkout { path: None }));
    let runs = run_steps(&job.steps);
    let commands: Vec<&str> = runs.iter().map(|run| run.command.trim_end()).collect();
    assert_eq!(runs[0].name, "greet world");
    assert_eq!(commands[0], "echo \"hello world loud=false\"");
    assert_eq!(commands[1], "echo before");
    assert_eq!(commands[2], "echo inside main 7");
    assert_eq!(commands[3], "echo after");
    assert_eq!(
        commands[4],
        "cat <<EOF\nretries=3 env=staging\nescaped=<< parameters.who >>\nEOF"
    );
    let literal = runs[4];
    assert_eq!(literal.when, RunWhen::Always);
    assert_eq!(literal.no_output_timeout.as_secs(), 90);
    assert_eq!(literal.shell.as_deref(), Some("/bin/sh -e"));
    assert_eq!(literal.working_directory.as_deref(), Some("sub"));
    assert_eq!(
        literal.environment,
        vec![("STEP_LEVEL".to_string(), "x".to_string())]
    );
}

#[test]
fn parameter_errors_read_like_circleci() {
    let config = parse(PARAMETERISED);
    let overrides = serde_norway::from_str("deploy-env: qa").unwrap();
    let error = config
        .pipeline_parameters(&overrides)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("must be one of [staging, production]"),
        "{error}"
    );
    let broken = parse(
        "version: 2.1\ncommands:\n  c:\n    parameters:\n      x: {type: string}\n    steps: [{run: echo << parameters.y >>}]\njobs:\n  a:\n    docker: [{image: x}]\n    steps: [c]\n  b:\n    docker: [{image: x}]\n    steps: [{c: {x: 1, z: 2}}]\n  d:\n    docker: [{image: x}]\n    steps: [{c: {x: 1}}]\n",
    );
    let missing = broken
        .resolve_job("a", &pipeline())
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("Missing required argument(s): x"),
        "{missing}"
    );
    let unexpected = broken
        .resolve_job("b", &pipeline())
        .unwrap_err()
        .to_string();
    assert!(
        unexpected.contains("Unexpected argument(s): z"),
        "{unexpected}"
    );
    let undeclared = broken
        .resolve_job("d", &pipeline())
        .unwrap_err()
        .to_string();
    assert!(
        undeclared.contains("Arguments referenced without declared parameters: y"),
        "{undeclared}"
    );
}

#[test]
fn when_and_unless_steps_follow_their_conditions() {
    let config = parse(
        r#"
version: 2.1
jobs:
  build:
    parameters:
      publish: {type: boolean, default: false}
    machine: {image: ubuntu-2204:current}
    steps:
      - when:
          condition: << parameters.publish >>
          steps: [{run: echo publish}]
      - unless:
          condition: << parameters.publish >>
          steps: [{run: echo dry-run}]
      - when:
          condition:
            and:
              - equal: [main, << pipeline.git.branch >>]
              - not: << parameters.publish >>
          steps: [{run: echo main-only}]
"#,
    );
    let job = config.resolve_job("build", &pipeline()).unwrap();
    assert_eq!(job.executor.kind, ExecutorKind::Machine);
    let names: Vec<&str> = run_steps(&job.steps)
        .iter()
        .map(|run| run.name.as_str())
        .collect();
    assert_eq!(names, vec!["echo dry-run", "echo main-only"]);
}

const WORKFLOW: &str = r#"
version: 2.1
jobs:
  build: {docker: [{image: x}], steps: [{run: echo build}]}
  test: {docker: [{image: x}], parameters: {suite: {type: string}}, steps: [{run: echo << parameters.suite >>}]}
  deploy: {docker: [{image: x}], steps: [{run: echo deploy}]}
workflows:
  ship:
    jobs:
      - deploy:
          requires: [test-unit, test-e2e]
          context: [aws-deploy, slack]
          filters:
            branches:
              only: [main, /release\/.*/]
      - test:
          name: test-e2e
          suite: e2e
          requires: [build]
      - build:
          filters:
            branches:
              ignore: /wip-.*/
            tags:
              only: /^v.*/
      - test:
          name: test-unit
          suite: unit
          requires: [build]
"#;

#[test]
fn workflow_jobs_run_in_requires_order() {
    let config = parse(WORKFLOW);
    let plan = config
        .plan_workflow("ship", &GitRef::Branch("main".into()), &pipeline())
        .unwrap();
    let names: Vec<&str> = plan.jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, vec!["build", "test-e2e", "test-unit", "deploy"]);
    assert_eq!(
        plan.jobs[3].contexts,
        vec!["aws-deploy".to_string(), "slack".to_string()]
    );
    let e2e = config
        .resolve_workflow_job(&plan.jobs[1], &pipeline())
        .unwrap();
    assert_eq!(e2e.name, "test-e2e");
    assert_eq!(run_steps(&e2e.steps)[0].command, "echo e2e");
}

#[test]
fn branch_and_tag_filters_are_honoured() {
    let config = parse(WORKFLOW);
    let release = config
        .plan_workflow("ship", &GitRef::Branch("release/1.2".into()), &pipeline())
        .unwrap();
    assert_eq!(release.jobs.len(), 4);
    let feature = config
        .plan_workflow("ship", &GitRef::Branch("feature".into()), &pipeline())
        .unwrap();
    let names: Vec<&str> = feature.jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, vec!["build", "test-e2e", "test-unit"]);
    assert_eq!(feature.filtered[0].name, "deploy");
    assert!(
        feature.filtered[0]
            .reason
            .contains("not in `filters.branches.only`")
    );
    let wip = config
        .plan_workflow("ship", &GitRef::Branch("wip-x".into()), &pipeline())
        .unwrap();
    assert!(
        wip.jobs.is_empty(),
        "everything depends on build, which ignores wip-*"
    );
    assert!(
        wip.filtered
            .iter()
            .any(|job| job.name == "test-unit" && job.reason.contains("requires `build`"))
    );
    let tag = config
        .plan_workflow("ship", &GitRef::Tag("v1.0".into()), &pipeline())
        .unwrap();
    let names: Vec<&str> = tag.jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["build"],
        "only jobs with a tags filter run for tags"
    );
}

#[test]
fn workflow_errors_are_reported() {
    let cycle = parse(
        "version: 2.1\njobs:\n  a: {docker: [{image: x}], steps: [{run: echo}]}\nworkflows:\n  w:\n    jobs:\n      - a: {name: one, requires: [two]}\n      - a: {name: two, requires: [one]}\n",
    );
    let error = cycle
        .plan_workflow("w", &GitRef::Branch("main".into()), &pipeline())
        .unwrap_err();
    assert!(error.to_string().contains("cycle"), "{error}");
    let unknown = parse(
        "version: 2.1\njobs:\n  a: {docker: [{image: x}], steps: [{run: echo}]}\nworkflows:\n  w:\n    jobs:\n      - a: {requires: [ghost]}\n",
    );
    let error = unknown
        .plan_workflow("w", &GitRef::Branch("main".into()), &pipeline())
        .unwrap_err();
    assert!(error.to_string().contains("requires `ghost`"), "{error}");
}

#[test]
fn features_outside_the_subset_are_reported_not_dropped() {
    let config = parse(
        r#"
version: 2.1
orbs:
  aws-cli: circleci/aws-cli@4.1
jobs:
  build:
    docker: [{image: cimg/base:stable}]
    parallelism: 4
    retention: {caches: 1d}
    steps:
      - checkout
      - setup_remote_docker
      - restore_cache: {keys: [v1]}
      - aws-cli/setup: {role_arn: arn}
      - run: {command: echo hi, max_auto_reruns: 2}
      - save_cache: {key: v1, paths: [x]}
      - persist_to_workspace: {root: ., paths: [x]}
      - store_artifacts: {path: x}
workflows:
  w:
    jobs:
      - build
      - aws-cli/install
      - build: {name: matrixed, matrix: {parameters: {x: [1, 2]}}}
"#,
    );
    assert!(config.notices[0].contains("orbs are not simulated: aws-cli (circleci/aws-cli@4.1)"));
    let job = config.resolve_job("build", &pipeline()).unwrap();
    let not_simulated: Vec<&str> = job
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::NotSimulated { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        not_simulated,
        vec![
            "setup_remote_docker",
            "restore_cache",
            "aws-cli/setup",
            "save_cache",
            "persist_to_workspace",
            "store_artifacts"
        ]
    );
    let notices = job.notices.join("\n");
    assert!(
        notices.contains("`parallelism: 4` is not simulated"),
        "{notices}"
    );
    assert!(
        notices.contains("job key `retention` is not simulated"),
        "{notices}"
    );
    assert!(
        notices.contains("`max_auto_reruns` is not simulated"),
        "{notices}"
    );
    let plan = config
        .plan_workflow("w", &GitRef::Branch("main".into()), &pipeline())
        .unwrap();
    assert_eq!(plan.jobs.len(), 1);
    let reasons: Vec<&str> = plan
        .filtered
        .iter()
        .map(|job| job.reason.as_str())
        .collect();
    assert!(reasons[0].contains("orb job"), "{reasons:?}");
    assert!(
        reasons[1].contains("matrix jobs are not simulated"),
        "{reasons:?}"
    );
}
