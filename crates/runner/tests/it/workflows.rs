//! Whole workflows with the real binary: jobs in `requires` order in one workflow at the
//! issuer, filters, a failure blocking what depends on it, and the JSON report.

use serde_json::{Value, json};

use crate::support::*;

const PIPELINE: &str = r#"
version: 2.1
jobs:
  build:
    docker: [{image: x}]
    steps: [{run: 'echo "$CIRCLE_JOB" >> order.txt'}]
  test:
    docker: [{image: x}]
    parameters: {fail: {type: boolean, default: false}}
    steps:
      - run: echo "$CIRCLE_JOB" >> order.txt
      - when:
          condition: << parameters.fail >>
          steps: [{run: exit 7}]
  deploy:
    docker: [{image: x}]
    steps: [{run: 'echo "$CIRCLE_JOB $AWS_ROLE_ARN" >> order.txt'}]
workflows:
  ship:
    jobs:
      - deploy:
          requires: [test]
          context: aws-deploy
          filters: {branches: {only: main}}
      - test:
          requires: [build]
          fail: << pipeline.parameters.break-tests >>
      - build
parameters:
  break-tests: {type: boolean, default: false}
"#;

#[tokio::test]
async fn a_workflow_runs_its_jobs_in_requires_order_in_one_workflow() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        context_environment: json!({"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/r"}),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(PIPELINE);
    let output = run_runner(&project, &issuer, &["--workflow", "ship"]).await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    assert_eq!(
        project.read("order.txt"),
        "build\ntest\ndeploy arn:aws:iam::123456789012:role/r\n"
    );
    let starts = issuer.start_requests().await;
    let names: Vec<&str> = starts
        .iter()
        .map(|start| start["job_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["build", "test", "deploy"]);
    assert!(starts[0].get("workflow_id").is_none());
    assert_eq!(starts[1]["workflow_id"], WORKFLOW_ID);
    assert_eq!(starts[2]["workflow_id"], WORKFLOW_ID);
    assert_eq!(starts[2]["contexts"], json!(["aws-deploy"]));
    assert_eq!(issuer.bodies("/finish").await.len(), 3);
    assert!(
        output
            .stdout
            .contains("Workflow \"ship\" succeeded: 3 job(s) succeeded"),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn filters_leave_jobs_out_for_other_branches() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(PIPELINE);
    let output = run_runner(
        &project,
        &issuer,
        &[
            "--workflow",
            "ship",
            "--branch",
            "feature/x",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(output.code, 0, "{}", output.stdout);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["filtered"][0]["name"], "deploy");
    assert_eq!(report["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(project.read("order.txt"), "build\ntest\n");
}

#[tokio::test]
async fn a_failed_job_blocks_what_requires_it() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(PIPELINE);
    let output = run_runner(
        &project,
        &issuer,
        &[
            "--workflow",
            "ship",
            "--pipeline-parameter",
            "break-tests=true",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(output.code, 1, "{}", output.stdout);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap(),
                job["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("build", "success"),
            ("test", "failed"),
            ("deploy", "skipped")
        ]
    );
    assert_eq!(report["status"], "failed");
    assert_eq!(report["jobs"][1]["steps"][1]["exit_code"], 7);
    assert_eq!(
        issuer.bodies("/finish").await,
        vec![json!({"status": "success"}), json!({"status": "failed"})]
    );
}
