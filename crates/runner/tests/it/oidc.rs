//! `circleci run oidc get` called from steps: custom audiences and the root issuer (checked on
//! the mint request and on the printed token), CircleCI's documented usages, and errors.

use serde_json::{Value, json};

use crate::support::*;

const OIDC_GET_JOB: &str = r#"
version: 2.1
jobs:
  sign:
    docker: [{image: cimg/base:stable}]
    steps:
      - run:
          name: mint custom tokens
          command: |
            circleci run oidc get --claims '{"aud": "audience_name"}' > custom.jwt
            circleci run oidc get --claims '{"aud": "sigstore"}' --root-issuer > sigstore.jwt
            circleci run oidc get --root-issuer --claims "{\"aud\":\"pypi\"}" > pypi.jwt
            circleci run oidc get --claims "{\"aud\":\"${CIRCLE_ORGANIZATION_ID}\"}" > orb-retry.jwt
            circleci run oidc get --claims '{"aud": "printed"}'
            circleci run oidc get > default-audience.jwt
"#;

#[tokio::test]
async fn circleci_run_oidc_get_mints_custom_audience_and_root_issuer_tokens() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(OIDC_GET_JOB);
    let output = run_runner(&project, &issuer, &["--job", "sign"]).await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    let bodies = issuer.bodies("/tokens").await;
    assert_eq!(
        bodies,
        vec![
            json!({"aud": "audience_name", "root_issuer": false}),
            json!({"aud": "sigstore", "root_issuer": true}),
            json!({"aud": "pypi", "root_issuer": true}),
            json!({"aud": ORG_ID, "root_issuer": false}),
            json!({"aud": "printed", "root_issuer": false}),
            json!({"root_issuer": false}),
        ]
    );
    let custom = claims_of(project.read("custom.jwt").trim());
    assert_eq!(custom["aud"], "audience_name");
    assert_eq!(custom["iss"], format!("{PUBLIC_ISSUER}/org/{ORG_ID}"));
    let sigstore = claims_of(project.read("sigstore.jwt").trim());
    assert_eq!(sigstore["aud"], "sigstore");
    assert_eq!(sigstore["iss"], PUBLIC_ISSUER);
    assert_eq!(
        claims_of(project.read("pypi.jwt").trim())["iss"],
        PUBLIC_ISSUER
    );
    assert_eq!(
        claims_of(project.read("orb-retry.jwt").trim())["aud"],
        ORG_ID
    );
    assert_eq!(
        claims_of(project.read("default-audience.jwt").trim())["aud"],
        ORG_ID
    );
    // Printed on stdout with one newline, unmasked, as CircleCI does (spec §1.9).
    let printed_line = output
        .stdout
        .lines()
        .find(|line| line.starts_with("| ey"))
        .expect("the printed token");
    assert_eq!(claims_of(&printed_line[2..])["aud"], "printed");
    assert!(
        project.read("custom.jwt").ends_with("\n")
            && project.read("custom.jwt").matches('\n').count() == 1
    );
}

#[tokio::test]
async fn bad_claims_and_other_subcommands_fail_like_circleci() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    let project = Project::with_config(
        r#"
version: 2.1
jobs:
  probe:
    docker: [{image: x}]
    steps:
      - run:
          shell: /bin/sh
          command: |
            circleci run oidc get --claims '{"aud"="x"}' 2> bad-json.err; echo $? > bad-json.code
            circleci run oidc get --claims '{"aud":"x","sub":"me"}' 2> other-claim.err; echo $? > other-claim.code
            circleci run oidc get --claims 2> no-value.err; echo $? > no-value.code
            circleci tests split 2> split.err; echo $? > split.code
"#,
    );
    let output = run_runner(&project, &issuer, &["--job", "probe"]).await;
    assert_eq!(output.code, 0, "{}", output.stdout);
    for name in ["bad-json", "other-claim", "no-value", "split"] {
        assert_eq!(project.read(&format!("{name}.code")).trim(), "1", "{name}");
        assert!(
            project.read(&format!("{name}.err")).starts_with("Error: "),
            "{name}"
        );
    }
    assert!(
        project
            .read("bad-json.err")
            .contains("failed to parse claims")
    );
    assert!(
        project
            .read("other-claim.err")
            .contains("only the \"aud\" claim is customizable")
    );
    assert!(
        project
            .read("split.err")
            .contains("`circleci tests split` is not simulated")
    );
    assert!(
        issuer.bodies("/tokens").await.is_empty(),
        "nothing was minted"
    );
}

#[tokio::test]
async fn circleci_run_oidc_get_is_refused_when_the_job_has_no_tokens() {
    let issuer = FakeIssuer::start(IssuerBehaviour {
        refusal: Some("context_required"),
        ..IssuerBehaviour::default()
    })
    .await;
    let project = Project::with_config(
        "version: 2.1\njobs:\n  j:\n    docker: [{image: x}]\n    steps:\n      - run: circleci run oidc get --claims '{\"aud\":\"x\"}'\n",
    );
    let output = run_runner(&project, &issuer, &["--job", "j", "--output", "json"]).await;
    assert_eq!(output.code, 1, "{}", output.stdout);
    let report: Value = serde_json::from_str(&output.stdout).unwrap();
    let step = &report["jobs"][0]["steps"][0];
    assert_eq!(step["exit_code"], 1);
    let text = step["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("Error: failed to get OIDC token"), "{text}");
    assert!(text.contains("context_required"), "{text}");
}

#[tokio::test]
async fn circleci_documented_gcp_and_vault_examples_run() {
    let issuer = FakeIssuer::start(IssuerBehaviour::default()).await;
    // From CircleCI's OIDC docs: the GCP credential file and Vault's JWT login both read the
    // environment token.
    let project = Project::with_config(
        r#"
version: 2.1
jobs:
  gcp-oidc-generate-cred-config-file:
    docker: [{image: google/cloud-sdk}]
    steps:
      - run:
          name: Create OIDC credential configuration
          command: |
            echo $CIRCLE_OIDC_TOKEN > .ci_job_jwt_file
      - run:
          name: vault login payload
          command: |
            echo "{\"role\":\"circleci\",\"jwt\":\"${CIRCLE_OIDC_TOKEN_V2}\"}" > vault-login.json
workflows:
  main:
    jobs:
      - gcp-oidc-generate-cred-config-file
"#,
    );
    let output = run_runner(&project, &issuer, &[]).await;
    assert_eq!(output.code, 0, "{}\n{}", output.stdout, output.stderr);
    assert_eq!(
        claims_of(project.read(".ci_job_jwt_file").trim())["oidc.circleci.com/project-id"],
        PROJECT_ID
    );
    let login: Value = serde_json::from_str(&project.read("vault-login.json")).unwrap();
    assert!(
        claims_of(login["jwt"].as_str().unwrap())["sub"]
            .as_str()
            .unwrap()
            .contains("/vcs-origin/")
    );
    assert_eq!(issuer.start_requests().await[0]["contexts"], json!([]));
}
