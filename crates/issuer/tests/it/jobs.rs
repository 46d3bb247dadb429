//! The job API: starting jobs, the exact claims, custom audience and root issuer, the context
//! and fork rules, finishing, every refusal, and that refused requests write nothing.

use serde_json::{Value, json};

use crate::support::{
    ACME_ORG_ID, ACME_RUNNER_TOKEN, ALICE_USER_ID, DEPLOY_CONTEXT_ID, GLOBEX_RUNNER_TOKEN,
    TestServer, WIDGETS_PROJECT_ID, peek_claims, peek_header, verify_from_discovery,
};

fn mint_path(job: &Value) -> String {
    format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap())
}

fn secret(job: &Value) -> &str {
    job["job_secret"].as_str().unwrap()
}

#[tokio::test]
async fn started_job_gets_v1_and_v2_tokens_with_exact_claims() {
    let server = TestServer::start().await;
    let now = server.clock_now();
    let job = server
        .start_acme_job(json!({"contexts": ["aws-deploy", "overrides"]}))
        .await;
    assert_eq!(job["tokens"], json!({"granted": true, "refusal": null}));
    assert_eq!(job["org"], json!({"id": ACME_ORG_ID, "name": "acme"}));
    assert_eq!(job["project"]["id"], WIDGETS_PROJECT_ID);
    assert_eq!(job["project"]["slug"], "gh/acme/widgets");
    assert_eq!(
        job["user"],
        json!({"id": ALICE_USER_ID, "login": "alice"}),
        "default user = first member"
    );
    assert_eq!(job["build_num"], 1);
    assert_eq!(job["pipeline_number"], 1);
    assert_eq!(job["workflow_name"], "build-and-deploy");
    assert_eq!(
        job["environment"]["AWS_ROLE_ARN"],
        "arn:aws:iam::123456789012:role/deploy"
    );
    assert_eq!(
        job["environment"]["REGION"], "eu-west-1",
        "later contexts win"
    );

    let v1 = job["oidc_token"].as_str().unwrap();
    let v2 = job["oidc_token_v2"].as_str().unwrap();
    let header = peek_header(v2);
    assert_eq!(
        header.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["alg", "kid", "typ"]
    );
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("RS256"), Some("JWT"))
    );

    let claims = verify_from_discovery(&server.client, v2, ACME_ORG_ID)
        .await
        .unwrap();
    let base = format!("org/{ACME_ORG_ID}/project/{WIDGETS_PROJECT_ID}/user/{ALICE_USER_ID}");
    let expected = json!({
        "iss": server.acme_issuer(),
        "sub": format!("{base}/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main"),
        "aud": ACME_ORG_ID,
        "iat": now,
        "exp": now + 3600,
        "oidc.circleci.com/project-id": WIDGETS_PROJECT_ID,
        "oidc.circleci.com/context-ids": job["context_ids"],
        "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/ssh-rerun": false,
        "oidc.circleci.com/org-id": ACME_ORG_ID,
        "oidc.circleci.com/pipeline-id": job["pipeline_id"],
        "oidc.circleci.com/pipeline-definition-id": job["pipeline_definition_id"],
        "oidc.circleci.com/workflow-id": job["workflow_id"],
        "oidc.circleci.com/job-id": job["job_id"],
    });
    assert_eq!(claims, expected);
    assert_eq!(job["context_ids"][0], DEPLOY_CONTEXT_ID);
    let v1_claims = verify_from_discovery(&server.client, v1, ACME_ORG_ID)
        .await
        .unwrap();
    assert_eq!(v1_claims["sub"], base.as_str());
    assert_eq!(v1_claims["oidc.circleci.com/job-id"], job["job_id"]);
}

#[tokio::test]
async fn minting_again_and_with_custom_audience_and_root_issuer() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({"ssh_rerun": true})).await;
    let (status, minted) = server
        .call(
            "POST",
            &mint_path(&job),
            Some(secret(&job)),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{minted}");
    let v2 = peek_claims(minted["oidc_token_v2"].as_str().unwrap());
    assert_eq!(minted["expires_at"], v2["exp"]);
    assert_eq!(v2["oidc.circleci.com/ssh-rerun"], true);

    let (status, custom) = server
        .call(
            "POST",
            &mint_path(&job),
            Some(secret(&job)),
            Some(json!({"aud": "sigstore"})),
        )
        .await;
    assert_eq!(status, 200, "{custom}");
    let claims = verify_from_discovery(
        &server.client,
        custom["token"].as_str().unwrap(),
        "sigstore",
    )
    .await
    .unwrap();
    assert_eq!(claims["aud"], "sigstore");
    assert_eq!(claims["iss"], server.acme_issuer());
    assert!(
        claims["sub"].as_str().unwrap().contains("/vcs-origin/"),
        "custom tokens carry the V2 sub"
    );

    let (status, root) = server
        .call(
            "POST",
            &mint_path(&job),
            Some(secret(&job)),
            Some(json!({"aud": "sigstore", "root_issuer": true})),
        )
        .await;
    assert_eq!(status, 200, "{root}");
    let claims = verify_from_discovery(&server.client, root["token"].as_str().unwrap(), "sigstore")
        .await
        .unwrap();
    assert_eq!(claims["iss"], server.base.as_str());
    assert_eq!(claims["oidc.circleci.com/org-id"], ACME_ORG_ID);

    for bad in [
        json!({"sub": "x"}),
        json!({"aud": ""}),
        json!({"aud": ["a", "b"]}),
        json!("text"),
    ] {
        let (status, body) = server
            .call(
                "POST",
                &mint_path(&job),
                Some(secret(&job)),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(
            body["code"] == "invalid_json" || body["code"] == "invalid_audience",
            "{body}"
        );
    }
}

#[tokio::test]
async fn context_rule_refuses_tokens_but_starts_the_job() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({"contexts": []})).await;
    assert_eq!(job["tokens"]["granted"], false);
    assert_eq!(job["tokens"]["refusal"]["code"], "context_required");
    assert!(job["oidc_token"].is_null() && job["oidc_token_v2"].is_null());
    let (status, body) = server
        .call("POST", &mint_path(&job), Some(secret(&job)), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("context_required"))
    );
    let (status, body) = server
        .call(
            "POST",
            &mint_path(&job),
            Some(secret(&job)),
            Some(json!({"aud": "x"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("context_required"))
    );

    // Today's CircleCI behaviour is one setting away.
    let (status, _) = server
        .admin(
            "PATCH",
            "/api/v1/admin/orgs/acme/settings",
            Some(json!({"oidc_requires_context": false})),
        )
        .await;
    assert_eq!(status, 200);
    let job = server.start_acme_job(json!({"contexts": []})).await;
    assert_eq!(job["tokens"]["granted"], true);
    let claims = peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(claims["oidc.circleci.com/context-ids"], json!([]));
}

#[tokio::test]
async fn fork_builds_get_no_tokens_or_secrets_unless_the_org_allows() {
    let server = TestServer::start().await;
    let fork = json!({"fork": true, "vcs": {"origin": "github.com/mallory/widgets", "ref": "refs/heads/pull/42"}});
    let job = server.start_acme_job(fork.clone()).await;
    assert_eq!(job["tokens"]["refusal"]["code"], "fork_secrets_disabled");
    assert_eq!(
        job["environment"],
        json!({}),
        "no context variables for forks either"
    );
    let (status, body) = server
        .call("POST", &mint_path(&job), Some(secret(&job)), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("fork_secrets_disabled"))
    );

    server
        .admin(
            "PATCH",
            "/api/v1/admin/orgs/acme/settings",
            Some(json!({"pass_secrets_to_forks": true})),
        )
        .await;
    let job = server.start_acme_job(fork).await;
    assert_eq!(job["tokens"]["granted"], true);
    let claims = peek_claims(job["oidc_token_v2"].as_str().unwrap());
    assert_eq!(
        claims["oidc.circleci.com/vcs-origin"],
        "github.com/mallory/widgets"
    );
    assert_eq!(claims["oidc.circleci.com/vcs-ref"], "refs/heads/pull/42");
    assert_eq!(claims["oidc.circleci.com/org-id"], ACME_ORG_ID);
}

#[tokio::test]
async fn custom_webhook_jobs_have_no_vcs_claims_and_a_v1_shaped_v2_sub() {
    let server = TestServer::start().await;
    let job = server
        .start_acme_job(json!({"project": "hooks", "vcs": null, "user": "bob"}))
        .await;
    let v2 = peek_claims(job["oidc_token_v2"].as_str().unwrap());
    let v1 = peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(v1["sub"], v2["sub"]);
    assert!(v2.get("oidc.circleci.com/vcs-origin").is_none());
    assert!(v2.get("oidc.circleci.com/vcs-ref").is_none());
    assert_eq!(job["user"]["login"], "bob");
}

#[tokio::test]
async fn jobs_join_workflows_and_count_builds() {
    let server = TestServer::start().await;
    let first = server.start_acme_job(json!({})).await;
    let second = server
        .start_acme_job(json!({"workflow_id": first["workflow_id"], "job_name": "test"}))
        .await;
    assert_eq!(second["pipeline_id"], first["pipeline_id"]);
    assert_eq!(second["pipeline_number"], 1);
    assert_eq!(second["build_num"], 2);
    let third = server.start_acme_job(json!({})).await;
    assert_eq!(third["pipeline_number"], 2);
    assert_ne!(third["workflow_id"], first["workflow_id"]);
    let other = start_error(
        &server,
        json!({"project": "gadgets", "workflow_id": first["workflow_id"],
        "vcs": {"ref": "refs/heads/main"}}),
    )
    .await;
    assert_eq!(other, (400, "workflow_of_another_project".to_owned()));
}

#[tokio::test]
async fn finishing_stops_minting() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    let finish = format!("/api/v1/jobs/{}/finish", job["job_id"].as_str().unwrap());
    let (status, body) = server
        .call(
            "POST",
            &finish,
            Some(secret(&job)),
            Some(json!({"status": "success"})),
        )
        .await;
    assert_eq!(
        (status, body.clone()),
        (200, json!({"job_id": job["job_id"], "status": "success"}))
    );
    let (status, body) = server
        .call("POST", &mint_path(&job), Some(secret(&job)), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("job_finished")));
    let (status, body) = server
        .call(
            "POST",
            &finish,
            Some(secret(&job)),
            Some(json!({"status": "failed"})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("job_finished")));
    let (status, body) = server
        .call(
            "POST",
            &finish,
            Some(secret(&job)),
            Some(json!({"status": "running"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_status"))
    );
}

#[tokio::test]
async fn runner_tokens_belong_to_one_org() {
    let server = TestServer::start().await;
    let (status, job) = server
        .call(
            "POST",
            "/api/v1/jobs",
            Some(GLOBEX_RUNNER_TOKEN),
            Some(json!({"project": "rockets", "job_name": "launch",
            "vcs": {"ref": "refs/tags/v1.0.0"}})),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["org"]["name"], "globex");
    assert_eq!(
        job["tokens"]["granted"], true,
        "globex does not require a context"
    );
    let claims = peek_claims(job["oidc_token_v2"].as_str().unwrap());
    assert_eq!(claims["aud"], job["org"]["id"]);
    assert!(
        claims["sub"]
            .as_str()
            .unwrap()
            .ends_with("/vcs-origin/github.com/globex/rockets/vcs-ref/refs/tags/v1.0.0")
    );
}

impl TestServer {
    /// The manual clock's current second.
    pub fn clock_now(&self) -> i64 {
        keyless_issuer::Clock::now(&self.clock).seconds()
    }
}

/// Starts a job that must fail; returns its status and code.
async fn start_error(server: &TestServer, overrides: Value) -> (u16, String) {
    let mut body =
        json!({"project": "gh/acme/widgets", "job_name": "deploy", "contexts": ["aws-deploy"]});
    for (key, value) in overrides.as_object().unwrap() {
        body[key] = value.clone();
    }
    let (status, answer) = server
        .call("POST", "/api/v1/jobs", Some(ACME_RUNNER_TOKEN), Some(body))
        .await;
    (
        status,
        answer["code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mints_all_succeed_and_are_all_audited() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    let url = server.url(&mint_path(&job));
    let mut requests = tokio::task::JoinSet::new();
    for index in 0..24 {
        let body = if index % 2 == 0 {
            json!({})
        } else {
            json!({"aud": format!("aud-{index}")})
        };
        let request = server
            .client
            .post(&url)
            .bearer_auth(secret(&job))
            .json(&body);
        requests.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = requests.join_all().await;
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    let (_, audit) = server
        .admin(
            "GET",
            &format!(
                "/api/v1/admin/audit?job_id={}&limit=1000",
                job["job_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(audit["tokens"].as_array().unwrap().len(), 2 + 12 * 2 + 12);
}
