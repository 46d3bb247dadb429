//! Every refusal of the job API: missing and wrong credentials (checked before the body),
//! unknown or foreign ids, malformed input; and that no refused request writes anything.

use serde_json::{Value, json};

use crate::support::{ACME_RUNNER_TOKEN, GLOBEX_CONTEXT_ID, TestServer};

fn mint_path(job: &Value) -> String {
    format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap())
}

fn secret(job: &Value) -> &str {
    job["job_secret"].as_str().unwrap()
}

#[tokio::test]
async fn job_credentials_are_checked() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    let other = server.start_acme_job(json!({})).await;
    let (status, body) = server.call("POST", &mint_path(&job), None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, body) = server
        .call("POST", &mint_path(&job), Some(secret(&other)), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = server
        .call(
            "POST",
            &mint_path(&job),
            Some(secret(&other)),
            Some(json!({"nonsense": 1})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "credentials before body"
    );
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/jobs/00000000-0000-4000-8000-000000000000/tokens",
            Some(secret(&job)),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("job_not_found"))
    );
    let (status, body) = server
        .call(
            "POST",
            "/api/v1/jobs/not-a-job/tokens",
            Some(secret(&job)),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("job_not_found"))
    );
}

#[tokio::test]
async fn start_refusals_write_nothing() {
    let server = TestServer::start().await;
    let cases = [
        (
            None,
            json!({"project": "gh/acme/widgets", "job_name": "x"}),
            401,
            "unauthorized",
        ),
        (
            Some("wrong-runner-token-000000"),
            json!({"project": "gh/acme/widgets", "job_name": "x"}),
            403,
            "forbidden",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "gh/acme/nope", "job_name": "x", "contexts": ["aws-deploy"]}),
            404,
            "project_not_found",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "gh/globex/rockets", "job_name": "x"}),
            400,
            "project_of_another_org",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "contexts": ["nope"]}),
            404,
            "context_not_found",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "contexts": [GLOBEX_CONTEXT_ID]}),
            400,
            "context_of_another_org",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "user": "carol"}),
            400,
            "user_not_in_org",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "user": "zed"}),
            404,
            "user_not_found",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "vcs": {"origin": "github.com/evil/x", "ref": "refs/heads/main"}}),
            400,
            "vcs_origin_mismatch",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "vcs": {"ref": "main"}}),
            400,
            "invalid_vcs_ref",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "vcs": {"ref": "refs/heads/main", "sha": "xyz"}}),
            400,
            "invalid_vcs_sha",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "hooks", "job_name": "x", "vcs": {"ref": "refs/heads/main"}}),
            400,
            "vcs_origin_required",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": ""}),
            400,
            "invalid_job_name",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "workflow_id": "00000000-0000-4000-8000-000000000000"}),
            404,
            "workflow_not_found",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"project": "widgets", "job_name": "x", "colour": "red"}),
            400,
            "invalid_json",
        ),
        (
            Some(ACME_RUNNER_TOKEN),
            json!({"job_name": "x"}),
            400,
            "invalid_json",
        ),
    ];
    for (token, body, expected_status, expected_code) in cases {
        let (status, answer) = server
            .call("POST", "/api/v1/jobs", token, Some(body.clone()))
            .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (expected_status, Some(expected_code)),
            "{body} → {answer}"
        );
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty())
        );
    }
    let response = server
        .client
        .post(server.url("/api/v1/jobs"))
        .bearer_auth(ACME_RUNNER_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let big = "x".repeat(100 * 1024);
    let response = server
        .client
        .post(server.url("/api/v1/jobs"))
        .bearer_auth(ACME_RUNNER_TOKEN)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let (_, jobs) = server.admin("GET", "/api/v1/admin/jobs", None).await;
    assert_eq!(jobs["jobs"], json!([]), "no refused request created a job");
    let (_, audit) = server.admin("GET", "/api/v1/admin/audit", None).await;
    assert_eq!(audit["tokens"], json!([]));
    let job = server.start_acme_job(json!({})).await;
    assert_eq!(
        job["build_num"], 1,
        "no refused request consumed a build number"
    );
    assert_eq!(job["pipeline_number"], 1);
}
