//! Running single jobs with the real binary: the announcement's job end to end (with a fake
//! `aws`), the environment against the token's claims, refusals, failures and exit statuses,
//! masking, and the AWS wiring.

use serde_json::Value;

use crate::support::*;

/// A fake `aws` CLI: logs its arguments, answers assume-role with fake credentials and
/// get-caller-identity with the key it was given.
const FAKE_AWS: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$PWD/aws-args-$2.log"
case "$2" in
  assume-role-with-web-identity) echo "ASIAFAKEKEY fakesecret fakesession" ;;
  get-caller-identity) echo "{\"UserId\": \"AROA:$AWS_ACCESS_KEY_ID\", \"Region\": \"$AWS_DEFAULT_REGION\"}" ;;
esac
"#;

fn install_fake_aws(project: &Project) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = project.file("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("aws"), FAKE_AWS).unwrap();
    std::fs::set_permissions(bin.join("aws"), std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

#[tokio::test]
async fn the_announcement_job_exchanges_its_token_and_uses_the_credentials() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        context_environment: serde_json::json!({"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/deploy-widgets"}),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(include_str!("../../../../examples/circleci/config.yml"));
    let path = install_fake_aws(&project);
    let mut command = runner_command(&project, &issuer, &["--workflow", "main"]);
    command.env("PATH", path);
    let output = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .contains("executor docker (amazon/aws-cli) not started: steps run in the local shell"),
        "{stdout}"
    );
    assert!(
        stdout.contains("── step: authenticate-and-interact"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"UserId\": \"AROA:ASIAFAKEKEY\", \"Region\": \"us-east-1\""),
        "{stdout}"
    );
    assert!(stdout.contains("✓ succeeded"), "{stdout}");
    assert!(
        !stdout.contains("disagrees"),
        "the fake's tokens match its answers: {stdout}"
    );

    let arguments: Vec<String> = project
        .read("aws-args-assume-role-with-web-identity.log")
        .lines()
        .map(str::to_string)
        .collect();
    let value_of = |flag: &str| {
        arguments[arguments
            .iter()
            .position(|argument| argument == flag)
            .unwrap()
            + 1]
        .clone()
    };
    assert_eq!(
        value_of("--role-arn"),
        "arn:aws:iam::123456789012:role/deploy-widgets"
    );
    assert_eq!(
        value_of("--role-session-name"),
        format!("CircleCI-{WORKFLOW_ID}-oidc-job")
    );
    let claims = claims_of(&value_of("--web-identity-token"));
    assert_eq!(
        claims["sub"],
        format!("org/{ORG_ID}/project/{PROJECT_ID}/user/{USER_ID}")
    );
    assert_eq!(claims["aud"], ORG_ID);

    let starts = issuer.start_requests().await;
    assert_eq!(starts[0]["contexts"], serde_json::json!(["aws-deploy"]));
    assert_eq!(starts[0]["job_name"], "oidc-job");
    assert_eq!(starts[0]["workflow_name"], "main");
    assert_eq!(starts[0]["vcs"]["origin"], "github.com/acme/widgets");
    assert_eq!(starts[0]["vcs"]["ref"], "refs/heads/main");
    assert_eq!(
        issuer.bodies("/finish").await,
        vec![serde_json::json!({"status": "success"})]
    );
}

const ENVIRONMENT_JOB: &str = r#"
version: 2.1
jobs:
  deploy:
    docker: [{image: cimg/base:stable}]
    environment:
      JOB_LEVEL: job
    steps:
      - checkout
      - run: echo 'export FROM_BASH_ENV=carried' >> "$BASH_ENV"
      - run:
          name: dump environment
          command: env > "$CIRCLE_WORKING_DIRECTORY/env.txt"
          environment:
            STEP_LEVEL: step
"#;

#[tokio::test]
async fn every_builtin_variable_agrees_with_the_token_claims() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        context_environment: serde_json::json!({"DEPLOY_KEY": "context-secret-value", "JOB_LEVEL": "context"}),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(ENVIRONMENT_JOB);
    let output = run_runner(
        &project,
        &issuer,
        &[
            "--job",
            "deploy",
            "--context",
            "aws-deploy",
            "--branch",
            "release/2",
        ],
    )
    .await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let environment = project.read_environment("env.txt");
    let v1 = claims_of(&environment["CIRCLE_OIDC_TOKEN"]);
    let v2 = claims_of(&environment["CIRCLE_OIDC_TOKEN_V2"]);
    for claims in [&v1, &v2] {
        assert_eq!(
            environment["CIRCLE_ORGANIZATION_ID"],
            claims["oidc.circleci.com/org-id"]
        );
        assert_eq!(environment["CIRCLE_ORGANIZATION_ID"], claims["aud"]);
        assert_eq!(
            environment["CIRCLE_PROJECT_ID"],
            claims["oidc.circleci.com/project-id"]
        );
        assert_eq!(
            environment["CIRCLE_PIPELINE_ID"],
            claims["oidc.circleci.com/pipeline-id"]
        );
        assert_eq!(
            environment["CIRCLE_WORKFLOW_ID"],
            claims["oidc.circleci.com/workflow-id"]
        );
        assert_eq!(
            environment["CIRCLE_WORKFLOW_JOB_ID"],
            claims["oidc.circleci.com/job-id"]
        );
        assert_eq!(
            format!("refs/heads/{}", environment["CIRCLE_BRANCH"]),
            claims["oidc.circleci.com/vcs-ref"]
        );
        assert_eq!(
            environment["CIRCLE_REPOSITORY_URL"],
            "git@github.com:acme/widgets.git"
        );
        assert_eq!(
            format!(
                "github.com/{}/{}",
                environment["CIRCLE_PROJECT_USERNAME"], environment["CIRCLE_PROJECT_REPONAME"]
            ),
            claims["oidc.circleci.com/vcs-origin"]
        );
    }
    assert!(
        v2["sub"]
            .as_str()
            .unwrap()
            .ends_with("/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/release/2")
    );
    assert_eq!(environment["CI"], "true");
    assert_eq!(environment["CIRCLECI"], "true");
    assert_eq!(environment["CIRCLE_JOB"], "deploy");
    assert_eq!(environment["CIRCLE_BUILD_NUM"], "42");
    assert_eq!(environment["CIRCLE_BRANCH"], "release/2");
    assert_eq!(
        environment["CIRCLE_SHA1"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(environment["CIRCLE_USERNAME"], "alice");
    assert_eq!(environment["CIRCLE_NODE_TOTAL"], "1");
    assert_eq!(
        environment["CIRCLE_WORKING_DIRECTORY"],
        project.path().canonicalize().unwrap().display().to_string()
    );
    assert_eq!(environment["DEPLOY_KEY"], "context-secret-value");
    assert_eq!(
        environment["JOB_LEVEL"], "job",
        "job environment overrides contexts"
    );
    assert_eq!(environment["STEP_LEVEL"], "step");
    assert_eq!(
        environment["FROM_BASH_ENV"], "carried",
        "BASH_ENV carries exports between steps"
    );
    assert_eq!(
        environment["CIRCLE_BUILD_URL"],
        "https://circleci.com/gh/acme/widgets/42"
    );
    assert!(!environment.contains_key("KEYLESS_RUNNER_RUNNER_TOKEN"));
    assert!(
        environment["PATH"]
            .split(':')
            .next()
            .unwrap()
            .ends_with("/bin")
    );
}

#[tokio::test]
async fn a_refused_job_runs_without_tokens_and_says_why_once() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        refusal: Some("context_required"),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(ENVIRONMENT_JOB);
    let output = run_runner(&project, &issuer, &["--job", "deploy"]).await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let environment = project.read_environment("env.txt");
    assert!(!environment.contains_key("CIRCLE_OIDC_TOKEN"));
    assert!(!environment.contains_key("CIRCLE_OIDC_TOKEN_V2"));
    assert!(environment.contains_key("CIRCLE_WORKFLOW_JOB_ID"));
    assert_eq!(
        output.stdout.matches("no CIRCLE_OIDC_TOKEN").count(),
        1,
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("refused because context_required (context_required)"),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn a_fork_without_secrets_is_refused_and_the_request_says_fork() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        refusal: Some("fork_secrets_disabled"),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(ENVIRONMENT_JOB);
    let output = run_runner(
        &project,
        &issuer,
        &[
            "--job",
            "deploy",
            "--fork",
            "--ssh-rerun",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["jobs"][0]["tokens"]["granted"], false);
    assert_eq!(
        report["jobs"][0]["tokens"]["refusal_code"],
        "fork_secrets_disabled"
    );
    let start = &issuer.start_requests().await[0];
    assert_eq!(start["fork"], true);
    assert_eq!(start["ssh_rerun"], true);
}

const FAILING_JOB: &str = r#"
version: 2.1
jobs:
  build:
    docker: [{image: x}]
    steps:
      - run: {name: first, command: echo one}
      - run: {name: breaks, command: "echo about to fail; exit 3"}
      - run: {name: never, command: touch never.txt}
      - run: {name: cleanup, command: touch cleanup.txt, when: always}
      - run: {name: report failure, command: touch on-fail.txt, when: on_fail}
"#;

#[tokio::test]
async fn a_failing_step_fails_the_job_and_the_exit_status() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(FAILING_JOB);
    let output = run_runner(&project, &issuer, &["--job", "build"]).await;
    assert_eq!(output.code, 1, "{}", output.stdout);
    assert!(
        output
            .stdout
            .contains("── step: breaks\n| about to fail\n── ✗ failed (exit 3) in "),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("Exited with code exit status 3"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("── step: never — skipped: an earlier step failed"),
        "{}",
        output.stdout
    );
    assert!(!project.file("never.txt").exists());
    assert!(project.file("cleanup.txt").exists());
    assert!(project.file("on-fail.txt").exists());
    assert_eq!(
        issuer.bodies("/finish").await,
        vec![serde_json::json!({"status": "failed"})]
    );
}

#[tokio::test]
async fn a_silent_step_hits_its_no_output_timeout() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        "version: 2.1\njobs:\n  slow:\n    docker: [{image: x}]\n    steps:\n      - run: {name: hang, command: sleep 30, no_output_timeout: 1s}\n      - run: {name: closed, command: 'exec >/dev/null 2>&1; sleep 30', no_output_timeout: 1s, when: always}\n",
    );
    let output = run_runner(&project, &issuer, &["--job", "slow", "--output", "json"]).await;
    assert_eq!(output.code, 1, "{}", output.stdout);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    let step = &report["jobs"][0]["steps"][0];
    assert_eq!(step["status"], "failed");
    assert_eq!(
        step["reason"],
        "Too long with no output (exceeded 1s): context deadline exceeded"
    );
    assert!(step["duration_ms"].as_u64().unwrap() < 15_000);
    let closed = &report["jobs"][0]["steps"][1];
    assert_eq!(
        closed["status"], "failed",
        "closing stdout does not escape the timeout"
    );
    assert!(closed["duration_ms"].as_u64().unwrap() < 15_000);
}

#[tokio::test]
async fn tokens_and_context_secrets_are_masked_in_text_and_json() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        context_environment: serde_json::json!({
            "DEPLOY_KEY": "context-secret-value",
            "SHORT": "abc",
            "PEM": "-----BEGIN KEY-----\nsecretline1234\n-----END KEY-----",
        }),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(
        "version: 2.1\njobs:\n  leak:\n    docker: [{image: x}]\n    steps:\n      - run: |\n          echo \"v1=$CIRCLE_OIDC_TOKEN\"\n          echo \"v2=$CIRCLE_OIDC_TOKEN_V2\" >&2\n          echo \"key=$DEPLOY_KEY short=$SHORT\"\n          echo \"$PEM\"\n          echo \"$CIRCLE_OIDC_TOKEN\" > token.txt\n",
    );
    for format in ["text", "json"] {
        let output = run_runner(&project, &issuer, &["--job", "leak", "--output", format]).await;
        assert_eq!(output.code, 0, "{}", output.stdout);
        let token = project.read("token.txt").trim().to_string();
        assert!(token.len() > 100);
        assert!(!output.stdout.contains(&token), "{}", output.stdout);
        assert!(
            !output.stdout.contains("context-secret-value"),
            "{}",
            output.stdout
        );
        assert!(!output.stdout.contains(RUNNER_TOKEN));
        assert!(
            !output.stdout.contains("secretline1234"),
            "{}",
            output.stdout
        );
        assert!(
            output.stdout.contains("v1=********************"),
            "{}",
            output.stdout
        );
        assert!(
            output.stdout.contains("v2=********************"),
            "{}",
            output.stdout
        );
        assert!(
            output.stdout.contains("key=******************** short=abc"),
            "{}",
            output.stdout
        );
    }
}

#[tokio::test]
async fn unsupported_features_are_reported_and_the_job_still_runs() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        "version: 2.1\norbs:\n  aws-cli: circleci/aws-cli@4.1\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - setup_remote_docker\n      - save_cache: {key: k, paths: [x]}\n      - aws-cli/setup\n      - run: touch ran.txt\n",
    );
    let output = run_runner(&project, &issuer, &["--job", "build"]).await;
    assert_eq!(output.code, 0, "{}", output.stdout);
    for expected in [
        "note: orbs are not simulated: aws-cli (circleci/aws-cli@4.1)",
        "── step: setup_remote_docker\n── - not simulated: remote Docker is not simulated",
        "── step: save_cache\n── - not simulated: caches are not simulated",
        "── step: aws-cli/setup\n── - not simulated: orb command from `aws-cli`",
    ] {
        assert!(
            output.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            output.stdout
        );
    }
    assert!(project.file("ran.txt").exists());
}

#[tokio::test]
async fn configuration_and_issuer_errors_exit_2_without_starting_a_job() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project =
        Project::with_config("version: 2.1\njobs:\n  build:\n    steps:\n   - run: x\n     bad\n");
    let output = run_runner(&project, &issuer, &["--job", "build"]).await;
    assert_eq!(output.code, 2);
    assert!(
        output.stderr.contains(".circleci/config.yml:"),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("invalid YAML"), "{}", output.stderr);
    let output = run_runner(&project, &issuer, &["--job", "build", "--output", "json"]).await;
    assert_eq!(output.code, 2);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(report["status"], "error");
    assert!(report["error"].as_str().unwrap().contains("invalid YAML"));
    let project = Project::with_config(ENVIRONMENT_JOB);
    let mut command = runner_command(&project, &issuer, &["--job", "deploy"]);
    command.args(["--runner-token", "wrong-token-xyz"]);
    let output = command.output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(issuer.start_requests().await.len() <= 1);
    assert!(issuer.bodies("/finish").await.is_empty());
}

#[tokio::test]
async fn a_single_job_run_says_which_workflow_contexts_it_lacks() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        refusal: Some("context_required"),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(include_str!("../../../../examples/circleci/config.yml"));
    let output = run_runner(
        &project,
        &issuer,
        &["--job", "oidc-job", "--output", "json"],
    )
    .await;
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    let notices = report["notices"].to_string();
    assert!(
        notices.contains("workflow `main` gives job `oidc-job` the context(s)"),
        "{notices}"
    );
    assert_eq!(
        issuer.start_requests().await[0]["contexts"],
        serde_json::json!([])
    );
    assert_eq!(
        report["jobs"][0]["tokens"]["refusal_code"],
        "context_required"
    );
}
