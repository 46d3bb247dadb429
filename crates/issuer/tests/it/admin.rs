//! The admin API: its authentication, building a model from scratch (org, user, project,
//! context, runner token) and running a job with it, org settings, the `oidc-custom-claims`
//! token settings, and the audit log.

use serde_json::{Value, json};

use crate::support::{
    ACME_ORG_ID, ADMIN_TOKEN, Options, TestServer, WIDGETS_PROJECT_ID, peek_claims,
    verify_from_discovery,
};

#[tokio::test]
async fn admin_api_requires_the_admin_token() {
    let server = TestServer::start().await;
    let (status, body) = server.call("GET", "/api/v1/admin/orgs", None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, body) = server
        .call(
            "GET",
            "/api/v1/admin/orgs",
            Some("test-admin-token-0123456780"),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = server
        .call("POST", "/api/v1/admin/keys/rotate", Some("x"), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = server
        .call(
            "GET",
            &format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let response = server
        .client
        .get(server.url(&format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims")))
        .header("Circle-Token", ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "CircleCI's Circle-Token header works too"
    );
    let (status, _) = server.admin("GET", "/api/v1/admin/orgs", None).await;
    assert_eq!(status, 200);

    let disabled = TestServer::start_with(Options {
        admin_token: None,
        ..Options::default()
    })
    .await;
    let (status, body) = disabled
        .call("GET", "/api/v1/admin/orgs", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("admin_api_disabled"))
    );
}

#[tokio::test]
async fn a_model_built_through_the_admin_api_runs_jobs() {
    let server = TestServer::start().await;
    let (status, org) = server
        .admin(
            "POST",
            "/api/v1/admin/orgs",
            Some(json!({"name": "initech", "settings": {"oidc_requires_context": false}})),
        )
        .await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(
        org["settings"],
        json!({"oidc_requires_context": false, "pass_secrets_to_forks": false})
    );
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (status, user) = server
        .admin(
            "POST",
            "/api/v1/admin/orgs/initech/users",
            Some(json!({"login": "peter"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (status, project) = server
        .admin(
            "POST",
            &format!("/api/v1/admin/orgs/{org_id}/projects"),
            Some(json!({"name": "tps", "vcs_origin": "gitlab.com/initech/tps"})),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(
        project["slug"],
        format!("circleci/{org_id}/{}", project["id"].as_str().unwrap())
    );
    let (status, context) = server
        .admin(
            "POST",
            "/api/v1/admin/orgs/initech/contexts",
            Some(json!({"name": "prod", "environment": {"A": "1"}})),
        )
        .await;
    assert_eq!(status, 201, "{context}");
    assert_eq!(context["variable_names"], json!(["A"]));
    let (status, context) = server
        .admin(
            "PUT",
            "/api/v1/admin/orgs/initech/contexts/prod/variables/B",
            Some(json!({"value": "2"})),
        )
        .await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(context["variable_names"], json!(["A", "B"]));
    let (status, _) = server
        .admin(
            "DELETE",
            "/api/v1/admin/orgs/initech/contexts/prod/variables/A",
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = server
        .admin(
            "DELETE",
            "/api/v1/admin/orgs/initech/contexts/prod/variables/A",
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("variable_not_found"))
    );
    let (status, runner) = server
        .admin(
            "POST",
            "/api/v1/admin/orgs/initech/runner-tokens",
            Some(json!({"name": "ci"})),
        )
        .await;
    assert_eq!(status, 201, "{runner}");
    let runner_token = runner["token"].as_str().unwrap().to_owned();
    let (_, names) = server
        .admin("GET", "/api/v1/admin/orgs/initech/runner-tokens", None)
        .await;
    assert_eq!(
        names,
        json!({"runner_tokens": ["ci"]}),
        "tokens are never listed"
    );

    let (status, job) = server
        .call(
            "POST",
            "/api/v1/jobs",
            Some(&runner_token),
            Some(
                json!({"project": "tps", "job_name": "build", "contexts": ["prod"],
            "vcs": {"ref": "refs/heads/main"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["environment"], json!({"B": "2"}));
    assert_eq!(job["user"]["login"], "peter");
    let claims = verify_from_discovery(
        &server.client,
        job["oidc_token_v2"].as_str().unwrap(),
        &org_id,
    )
    .await
    .unwrap();
    assert_eq!(
        claims["oidc.circleci.com/vcs-origin"],
        "gitlab.com/initech/tps"
    );

    let (status, detail) = server
        .admin("GET", "/api/v1/admin/orgs/initech", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["issuer"], format!("{}/org/{org_id}", server.base));
    assert_eq!(detail["projects"][0]["name"], "tps");

    for (path, body) in [
        ("/api/v1/admin/orgs", json!({"name": "initech"})),
        (
            "/api/v1/admin/orgs/initech/users",
            json!({"login": "peter"}),
        ),
        (
            "/api/v1/admin/orgs/initech/projects",
            json!({"name": "tps"}),
        ),
        (
            "/api/v1/admin/orgs/initech/contexts",
            json!({"name": "prod"}),
        ),
        (
            "/api/v1/admin/orgs/initech/runner-tokens",
            json!({"name": "ci"}),
        ),
    ] {
        let (status, answer) = server.admin("POST", path, Some(body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (409, Some("already_exists")),
            "{path}"
        );
    }
    for (path, body, code) in [
        ("/api/v1/admin/orgs", json!({"name": ""}), "invalid_name"),
        (
            "/api/v1/admin/orgs",
            json!({"name": "x", "extra": 1}),
            "invalid_json",
        ),
        (
            "/api/v1/admin/orgs/initech/projects",
            json!({"name": "p", "vcs_origin": "https://github.com/a/b"}),
            "invalid_vcs_origin",
        ),
        (
            "/api/v1/admin/orgs/initech/contexts",
            json!({"name": "c", "environment": {"1BAD": "x"}}),
            "invalid_variable_name",
        ),
        (
            "/api/v1/admin/orgs/initech/runner-tokens",
            json!({"name": "short", "token": "abc"}),
            "invalid_token",
        ),
    ] {
        let (status, answer) = server.admin("POST", path, Some(body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{path} → {answer}"
        );
    }
    let (status, answer) = server
        .admin(
            "POST",
            "/api/v1/admin/orgs/nope/projects",
            Some(json!({"name": "p"})),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("org_not_found"))
    );
    let (_, orgs) = server.admin("GET", "/api/v1/admin/orgs", None).await;
    assert_eq!(
        orgs["orgs"].as_array().unwrap().len(),
        3,
        "failed creations wrote nothing"
    );
}

#[tokio::test]
async fn oidc_custom_claims_set_audience_and_ttl_per_org_and_project() {
    let server = TestServer::start().await;
    let org_path = format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims");
    let project_path =
        format!("/api/v2/org/{ACME_ORG_ID}/project/{WIDGETS_PROJECT_ID}/oidc-custom-claims");
    let (status, settings) = server.admin("GET", &org_path, None).await;
    assert_eq!((status, settings), (200, json!({"org_id": ACME_ORG_ID})));

    let (status, settings) = server
        .admin(
            "PATCH",
            &org_path,
            Some(json!({"audience": ["sts.amazonaws.com"], "ttl": "1h30m"})),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["audience"], json!(["sts.amazonaws.com"]));
    assert_eq!(settings["ttl"], "1h30m");
    assert!(settings["ttl_updated_at"].as_str().unwrap().ends_with('Z'));
    let job = server.start_acme_job(json!({})).await;
    let claims = verify_from_discovery(
        &server.client,
        job["oidc_token"].as_str().unwrap(),
        "sts.amazonaws.com",
    )
    .await
    .unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        5400
    );

    let (status, _) = server
        .admin(
            "PATCH",
            &project_path,
            Some(json!({"audience": ["a", "b"], "ttl": "10m"})),
        )
        .await;
    assert_eq!(status, 200);
    let job = server.start_acme_job(json!({})).await;
    let claims = peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        json!(["a", "b"]),
        "several audiences make an array"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let gadgets = server
        .start_acme_job(json!({"project": "gadgets", "vcs": {"ref": "refs/heads/main"}}))
        .await;
    assert_eq!(
        peek_claims(gadgets["oidc_token"].as_str().unwrap())["aud"],
        "sts.amazonaws.com",
        "other projects inherit the org's"
    );

    let (status, cleared) = server
        .admin(
            "DELETE",
            &format!("{project_path}?claims=audience,ttl"),
            None,
        )
        .await;
    assert_eq!(
        (status, cleared),
        (
            200,
            json!({"org_id": ACME_ORG_ID, "project_id": WIDGETS_PROJECT_ID})
        )
    );
    let (status, _) = server
        .admin("DELETE", &format!("{org_path}?claims=audience"), None)
        .await;
    assert_eq!(status, 200);
    let job = server.start_acme_job(json!({})).await;
    let claims = peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(
        (
            claims["aud"].clone(),
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
        ),
        (json!(ACME_ORG_ID), 5400)
    );

    for (body, code) in [
        (json!({"ttl": "5h1s"}), "invalid_ttl"),
        (json!({"ttl": "0s"}), "invalid_ttl"),
        (json!({"ttl": "1 hour"}), "invalid_json"),
        (json!({"audience": []}), "invalid_audience"),
        (json!({"sub": "x"}), "invalid_json"),
    ] {
        let (status, answer) = server.admin("PATCH", &org_path, Some(body.clone())).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body} → {answer}"
        );
    }
    let (status, answer) = server
        .admin("DELETE", &format!("{org_path}?claims=sub"), None)
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_claims"))
    );
    let (status, answer) = server
        .admin(
            "GET",
            "/api/v2/org/00000000-0000-4000-8000-000000000000/oidc-custom-claims",
            None,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("org_not_found"))
    );
    let (status, settings) = server.admin("GET", &org_path, None).await;
    assert_eq!(
        (status, settings["ttl"].as_str()),
        (200, Some("1h30m")),
        "refused patches changed nothing"
    );
}

#[tokio::test]
async fn every_minted_token_is_audited_without_the_token() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    let path = format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap());
    server
        .call(
            "POST",
            &path,
            job["job_secret"].as_str(),
            Some(json!({"aud": "sigstore"})),
        )
        .await;
    server.start_acme_job(json!({"contexts": []})).await;
    let (status, audit) = server
        .admin(
            "GET",
            &format!(
                "/api/v1/admin/audit?job_id={}",
                job["job_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let records = audit["tokens"].as_array().unwrap();
    let kinds: Vec<&str> = records
        .iter()
        .map(|record| record["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["custom", "oidc_token_v2", "oidc_token"],
        "newest first"
    );
    let custom: &Value = &records[0];
    assert_eq!(custom["aud"], json!(["sigstore"]));
    assert_eq!(custom["job_id"], job["job_id"]);
    let token_claims = peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(records[2]["sub"], token_claims["sub"]);
    assert_eq!(records[2]["exp"], token_claims["exp"]);
    assert!(records[2]["kid"].is_string());
    let text = audit.to_string();
    assert!(
        !text.contains(
            job["oidc_token"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(2)
                .unwrap()
        ),
        "never the token"
    );
    let (_, everything) = server
        .admin("GET", "/api/v1/admin/audit?limit=2", None)
        .await;
    assert_eq!(everything["tokens"].as_array().unwrap().len(), 2);
    let (status, body) = server
        .admin("GET", "/api/v1/admin/audit?limit=many", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
    let (status, body) = server
        .admin("GET", "/api/v1/admin/jobs?org=nope", None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("org_not_found"))
    );
}
