//! A malformed `config.yml` given to the real `keyless-runner` binary: YAML syntax errors,
//! wrong types, unknown jobs, workflows, commands and requirements, cycles, a huge file, deep
//! nesting, an alias bomb, invalid UTF-8, and configurations that multiply (commands calling
//! commands, text doubling through parameters, a workflow of thousands of jobs). Each must
//! stop the runner quickly with exit status 2 and a message that says where the problem is
//! (`file:line:column` for what the YAML parser or the UTF-8 check finds, the YAML path for
//! the rest), and no request may reach the issuer: no job is started.

use std::time::Duration;

use crate::support::*;

/// What the runner says about a bad configuration, checked within a time bound: a
/// configuration that expands forever must fail, not hang.
async fn refused(config: &[u8], extra: &[&str]) -> String {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config("");
    std::fs::write(project.file(".circleci/config.yml"), config).unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        run_runner(&project, &issuer, extra),
    )
    .await
    .expect("the runner did not give up on a bad configuration within 60 s");
    assert_eq!(output.code, 2, "{}\n{}", output.stdout, output.stderr);
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    let requests = issuer.server.received_requests().await.unwrap_or_default();
    assert!(
        requests.is_empty(),
        "the issuer was called: {:?}",
        requests
            .iter()
            .map(|request| request.url.path().to_string())
            .collect::<Vec<_>>()
    );
    output.stderr
}

/// A job named `build` around `steps`.
fn job_with_steps(steps: &str) -> String {
    format!("version: 2.1\njobs:\n  build:\n    docker: [{{image: x}}]\n    steps:\n{steps}")
}

#[tokio::test]
async fn yaml_syntax_errors_name_the_file_line_and_column() {
    let cases: [(&str, &str); 5] = [
        (
            "version: 2.1\njobs:\n  build:\n    steps: [\n",
            ":5:1: invalid YAML",
        ),
        (
            "version: 2.1\njobs:\n  build:\n\tsteps: []\n",
            ":4:1: invalid YAML",
        ),
        ("version: 2.1\njobs:\n  build: {steps: [run: x}\n", ":3:"),
        (
            "version: 2.1\njobs:\n  build:\n    steps: []\n  build:\n    steps: []\n",
            ":3:3: invalid YAML: jobs: duplicate entry with key \"build\"",
        ),
        ("version: 2.1\njobs: &a\n  build: *b\n", ":3:"),
    ];
    for (config, expected) in cases {
        let stderr = refused(config.as_bytes(), &["--job", "build"]).await;
        assert!(stderr.contains(".circleci/config.yml:"), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[tokio::test]
async fn wrong_types_and_unknown_names_say_where() {
    let cases: Vec<(String, &[&str], &str)> = vec![
        (
            String::new(),
            &["--job", "build"],
            "must be a mapping with `version` and `jobs`",
        ),
        ("- a\n- b\n".into(), &["--job", "build"], "(top level)"),
        (
            "version: [2]\njobs: {}\n".into(),
            &["--job", "build"],
            "`version` must be 2 or 2.1",
        ),
        (
            "version: 3\njobs: {}\n".into(),
            &["--job", "build"],
            "unsupported version 3",
        ),
        (
            "version: 2.1\njobs: [build]\n".into(),
            &["--job", "build"],
            "`jobs` must be a mapping",
        ),
        (
            "version: 2.1\njobs:\n  build: 5\n".into(),
            &["--job", "build"],
            "jobs.build: a job must be a mapping",
        ),
        (
            job_with_steps("      5\n"),
            &["--job", "build"],
            "`steps` must be a list",
        ),
        (
            job_with_steps("      - run: [echo]\n"),
            &["--job", "build"],
            "jobs.build.steps[0]",
        ),
        (
            job_with_steps("      - run: {command: echo, no_output_timeout: forever}\n"),
            &["--job", "build"],
            "jobs.build.steps[0]",
        ),
        (
            job_with_steps("      - {run: echo, checkout: {}}\n"),
            &["--job", "build"],
            "a step must be a single key",
        ),
        (
            job_with_steps("      - no-such-command\n"),
            &["--job", "build"],
            "unknown step or command `no-such-command`",
        ),
        (
            job_with_steps("      - run: echo\n"),
            &["--job", "nope"],
            "no job named `nope`",
        ),
        (
            job_with_steps("      - run: echo\n"),
            &["--workflow", "nope"],
            "nope",
        ),
        (
            job_with_steps("      - run: echo << parameters.missing >>\n"),
            &["--job", "build"],
            "missing",
        ),
        (
            job_with_steps("      - run: echo << pipeline.nope >>\n"),
            &["--job", "build"],
            "unknown pipeline value `pipeline.nope`",
        ),
    ];
    for (config, extra, expected) in cases {
        let stderr = refused(config.as_bytes(), extra).await;
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[tokio::test]
async fn bad_requires_are_refused_before_any_job_starts() {
    let jobs = "version: 2.1\njobs:\n  a: {docker: [{image: x}], steps: [{run: echo a}]}\n  \
                b: {docker: [{image: x}], steps: [{run: echo b}]}\n";
    let cases = [
        (
            "      - a: {requires: [b]}\n      - b: {requires: [a]}\n",
            "`requires` forms a cycle among: a, b",
        ),
        (
            "      - a: {requires: [a]}\n      - b\n",
            "`requires` forms a cycle among: a",
        ),
        (
            "      - a\n      - b: {requires: [ghost]}\n",
            "requires `ghost`, which is not in this workflow",
        ),
        (
            "      - a\n      - b: {requires: a}\n",
            "workflows.main.jobs[1].requires: `requires` of job `b` must be a list",
        ),
        ("      - a\n      - nope\n", "no job named `nope`"),
        ("      - a\n      - 5\n", "workflows.main.jobs[1]"),
    ];
    for (entries, expected) in cases {
        let config = format!("{jobs}workflows:\n  main:\n    jobs:\n{entries}");
        let stderr = refused(config.as_bytes(), &["--workflow", "main"]).await;
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[tokio::test]
async fn huge_deep_and_non_utf8_files_are_refused_with_their_place() {
    let huge = job_with_steps(
        &"      - run: echo 0123456789012345678901234567890123456789\n".repeat(90_000),
    );
    assert!(huge.len() > 4 * 1024 * 1024);
    let stderr = refused(huge.as_bytes(), &["--job", "build"]).await;
    assert!(stderr.contains("larger than 4194304 bytes"), "{stderr}");

    // libyaml's scanner is quadratic in flow depth: 100,000 levels are refused before parsing.
    let deep = job_with_steps(&format!(
        "      - {}x{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    ));
    let stderr = refused(deep.as_bytes(), &["--job", "build"]).await;
    assert!(
        stderr
            .contains("config.yml:6:1009: invalid YAML: collections nest deeper than 1000 levels"),
        "{stderr}"
    );
    let nested = job_with_steps(&format!(
        "      - {}x{}\n",
        "[".repeat(200),
        "]".repeat(200)
    ));
    let stderr = refused(nested.as_bytes(), &["--job", "build"]).await;
    assert!(stderr.contains("config.yml:6:"), "{stderr}");
    assert!(stderr.contains("recursion limit exceeded"), "{stderr}");

    let mut bomb = String::from("version: 2.1\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for level in 1..12 {
        let items = vec![format!("*x{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("x{level}: &x{level} [{items}]\n"));
    }
    bomb.push_str("jobs:\n  build: {docker: [{image: x}], steps: *x11}\n");
    let stderr = refused(bomb.as_bytes(), &["--job", "build"]).await;
    assert!(stderr.contains("repetition limit exceeded"), "{stderr}");

    let mut invalid = b"version: 2.1\njobs:\n  build:\n    steps:\n      - run: echo caf".to_vec();
    invalid.extend_from_slice(b"\xe9 ok\n");
    let stderr = refused(&invalid, &["--job", "build"]).await;
    assert!(
        stderr.contains("config.yml:5:22: invalid UTF-8 (byte 0xe9)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn configurations_that_multiply_are_stopped_at_explicit_limits() {
    // Each command calls the next twice: 2^30 steps without a limit.
    let mut fan_out = String::from("version: 2.1\ncommands:\n");
    for level in 0..30 {
        let next = level + 1;
        fan_out.push_str(&format!("  c{level}: {{steps: [c{next}, c{next}]}}\n"));
    }
    fan_out.push_str("  c30: {steps: [{run: echo leaf}]}\n");
    fan_out.push_str("jobs:\n  build: {docker: [{image: x}], steps: [c0]}\n");
    let stderr = refused(fan_out.as_bytes(), &["--job", "build"]).await;
    assert!(
        stderr.contains("expands to more than 10000 steps"),
        "{stderr}"
    );

    // A command that calls itself.
    let recursive = "version: 2.1\ncommands:\n  again: {steps: [again]}\n\
                     jobs:\n  build: {docker: [{image: x}], steps: [again]}\n";
    let stderr = refused(recursive.as_bytes(), &["--job", "build"]).await;
    assert!(stderr.contains("commands nest too deeply"), "{stderr}");

    // Each command doubles its text parameter: 16 × 2^30 bytes without a limit.
    let mut doubling = String::from("version: 2.1\ncommands:\n");
    for level in 0..30 {
        doubling.push_str(&format!(
            "  c{level}:\n    parameters: {{p: {{type: string}}}}\n    \
             steps: [{{c{}: {{p: \"<< parameters.p >><< parameters.p >>\"}}}}]\n",
            level + 1
        ));
    }
    doubling.push_str(
        "  c30:\n    parameters: {p: {type: string}}\n    steps: [{run: \"echo << parameters.p >>\"}]\n",
    );
    doubling
        .push_str("jobs:\n  build: {docker: [{image: x}], steps: [{c0: {p: 0123456789abcdef}}]}\n");
    let stderr = refused(doubling.as_bytes(), &["--job", "build"]).await;
    assert!(
        stderr.contains("interpolation produces more than 16777216 bytes"),
        "{stderr}"
    );

    // A workflow of more jobs than any real one.
    let mut wide = String::from(
        "version: 2.1\njobs:\n  build: {docker: [{image: x}], steps: [{run: echo}]}\n\
         workflows:\n  main:\n    jobs:\n",
    );
    for index in 0..1_001 {
        wide.push_str(&format!("      - build: {{name: j{index}}}\n"));
    }
    let stderr = refused(wide.as_bytes(), &["--workflow", "main"]).await;
    assert!(stderr.contains("at most 1000 jobs, not 1001"), "{stderr}");
}

#[tokio::test]
async fn a_missing_configuration_file_is_a_clear_error() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config("");
    let output = run_runner(&project, &issuer, &["--config", "nope.yml", "--job", "x"]).await;
    assert_eq!(output.code, 2, "{}", output.stderr);
    assert!(
        output.stderr.contains("cannot read nope.yml"),
        "{}",
        output.stderr
    );
    assert!(
        issuer
            .server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
