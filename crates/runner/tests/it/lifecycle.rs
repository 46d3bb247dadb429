//! A job's lifecycle with the real binary: the AWS token file kept fresh while the job runs,
//! background steps stopped when it ends, and ctrl-c finishing it at the issuer as canceled.

use crate::support::*;

#[tokio::test]
async fn aws_wiring_writes_a_token_file_and_keeps_it_fresh() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        // Expires within the refresh margin, so the runner replaces it at once.
        start_token_lifetime: 200,
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(
        r#"
version: 2.1
jobs:
  deploy-app:
    docker: [{image: x}]
    steps:
      - run: |
          echo "$AWS_ROLE_ARN|$AWS_ROLE_SESSION_NAME|$AWS_WEB_IDENTITY_TOKEN_FILE" > aws.txt
          cp "$AWS_WEB_IDENTITY_TOKEN_FILE" first-token.txt
          echo "$CIRCLE_OIDC_TOKEN_V2" > env-token.txt
          for attempt in $(seq 1 100); do
            cmp -s "$AWS_WEB_IDENTITY_TOKEN_FILE" first-token.txt || break
            sleep 0.1
          done
          cp "$AWS_WEB_IDENTITY_TOKEN_FILE" second-token.txt
"#,
    );
    let role = "arn:aws:iam::123456789012:role/deploy-widgets";
    let output = run_runner(
        &project,
        &issuer,
        &["--job", "deploy-app", "--aws-role-arn", role],
    )
    .await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let wiring = project.read("aws.txt");
    let parts: Vec<&str> = wiring.trim().split('|').collect();
    assert_eq!(parts[0], role);
    assert_eq!(parts[1], "deploy-app");
    assert!(parts[2].ends_with("/aws-web-identity-token"), "{wiring}");
    assert!(
        !std::path::Path::new(parts[2]).exists(),
        "the job's temporary directory is removed"
    );
    let first = project.read("first-token.txt");
    assert_eq!(
        first.trim(),
        project.read("env-token.txt").trim(),
        "the file starts with the V2 token"
    );
    let second = project.read("second-token.txt");
    assert_ne!(first, second, "the token was re-minted before expiry");
    assert!(claims_of(&second)["exp"].as_i64().unwrap() > now() + 3000);
    assert!(
        issuer
            .bodies("/tokens")
            .await
            .iter()
            .all(|body| body == &serde_json::json!({}))
    );
    assert!(
        !output.stdout.contains(second.trim()),
        "re-minted tokens are masked too"
    );
}

/// The server step prints before it signals readiness (the file): the client step, and so the
/// job's end, can only come after `serving` is in the pipe, and the runner drains the pipe of
/// a stopped background step. With `touch` before `echo`, the job could end (and the step be
/// stopped) between the two under load, and `serving` was never printed: the flake this
/// order fixes.
#[tokio::test]
async fn background_steps_run_alongside_and_stop_when_the_job_ends() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        r#"
version: 2.1
jobs:
  serve:
    docker: [{image: x}]
    steps:
      - run:
          name: server
          background: true
          command: |
            echo serving
            touch server-started.txt
            sleep 60
            touch server-finished.txt
      - run:
          name: client
          command: |
            for attempt in $(seq 1 200); do
              test -f server-started.txt && break
              sleep 0.1
            done
            test -f server-started.txt
            echo client-saw-server
"#,
    );
    let started = std::time::Instant::now();
    let output = run_runner(&project, &issuer, &["--job", "serve", "--output", "json"]).await;
    assert_eq!(output.code, 0, "{}", output.stdout);
    assert!(
        started.elapsed().as_secs() < 30,
        "the job did not wait for the background step"
    );
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let steps = &report["jobs"][0]["steps"];
    assert_eq!(steps[0]["status"], "background");
    assert_eq!(
        steps[0]["reason"],
        "still running when the job ended: stopped"
    );
    assert_eq!(steps[0]["output"], serde_json::json!(["serving"]));
    assert_eq!(steps[1]["output"], serde_json::json!(["client-saw-server"]));
    assert!(!project.file("server-finished.txt").exists());
}

#[tokio::test]
async fn an_interrupted_job_is_finished_as_canceled() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        "version: 2.1\njobs:\n  long:\n    docker: [{image: x}]\n    steps:\n      - run: {name: wait, command: 'touch started.txt; sleep 30'}\n      - run: {name: after, command: touch after.txt}\n",
    );
    let child = runner_command(&project, &issuer, &["--job", "long"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = project.file("started.txt");
    for _ in 0..600 {
        if started.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(started.exists(), "the step never started");
    let process = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(process, rustix::process::Signal::INT).unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(!project.file("after.txt").exists());
    assert_eq!(
        issuer.bodies("/finish").await,
        vec![serde_json::json!({"status": "canceled"})]
    );
}
