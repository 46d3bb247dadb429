//! Bad paths, methods and query strings: undecodable, overlong and unknown path parameters,
//! unknown routes and methods, malformed query strings. Each gets the issuer's JSON 4xx and
//! leaves the state as it was (fixture and checks in `super`).

use super::*;

#[tokio::test]
async fn undecodable_overlong_and_unknown_path_parameters_answer_json() {
    let fixture = Fixture::start().await;
    let before = fixture.snapshot().await;
    let long = "x".repeat(8_000);
    let job = &fixture.job_id;
    let cases: Vec<(Method, String, Credential, u16, &str)> = vec![
        (
            Method::GET,
            "/org/%FF%FE/.well-known/openid-configuration".into(),
            Credential::None,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            "/org/%FF/.well-known/jwks-pub.json".into(),
            Credential::None,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            "/org/not-a-uuid/.well-known/jwks-pub.json".into(),
            Credential::None,
            404,
            "org_not_found",
        ),
        (
            Method::GET,
            format!("/org/{long}/.well-known/openid-configuration"),
            Credential::None,
            404,
            "org_not_found",
        ),
        (
            Method::GET,
            "/org/00000000-0000-4000-8000-000000000000/.well-known/jwks-pub.json".into(),
            Credential::None,
            404,
            "org_not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/orgs/%C3%28".into(),
            Credential::Admin,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            format!("/api/v1/admin/orgs/{long}"),
            Credential::Admin,
            404,
            "org_not_found",
        ),
        (
            Method::GET,
            format!("/api/v1/admin/orgs/{long}/projects"),
            Credential::Admin,
            404,
            "org_not_found",
        ),
        (
            Method::PUT,
            "/api/v1/admin/orgs/acme/contexts/%FF/variables/X".into(),
            Credential::Admin,
            400,
            "invalid_path",
        ),
        (
            Method::PUT,
            format!("/api/v1/admin/orgs/acme/contexts/{long}/variables/X"),
            Credential::Admin,
            404,
            "context_not_found",
        ),
        (
            Method::DELETE,
            "/api/v1/admin/orgs/acme/contexts/aws-deploy/variables/NOPE".into(),
            Credential::Admin,
            404,
            "variable_not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs/not-a-uuid".into(),
            Credential::Admin,
            404,
            "job_not_found",
        ),
        (
            Method::GET,
            format!("/api/v1/admin/jobs/{long}"),
            Credential::Admin,
            404,
            "job_not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs/%FF".into(),
            Credential::Admin,
            400,
            "invalid_path",
        ),
        (
            Method::POST,
            "/api/v1/admin/jobs/not-a-uuid/negative-tokens".into(),
            Credential::Admin,
            404,
            "job_not_found",
        ),
        (
            Method::GET,
            "/api/v2/org/not-a-uuid/oidc-custom-claims".into(),
            Credential::Admin,
            404,
            "org_not_found",
        ),
        (
            Method::GET,
            "/api/v2/org/%FF/oidc-custom-claims".into(),
            Credential::Admin,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            format!("/api/v2/org/{ACME_ORG_ID}/project/{long}/oidc-custom-claims"),
            Credential::Admin,
            404,
            "project_not_found",
        ),
        (
            Method::POST,
            "/api/v1/jobs/not-a-uuid/tokens".into(),
            Credential::JobSecret,
            404,
            "job_not_found",
        ),
        (
            Method::POST,
            format!("/api/v1/jobs/{long}/finish"),
            Credential::JobSecret,
            404,
            "job_not_found",
        ),
        (
            Method::POST,
            "/api/v1/jobs/%FF/tokens".into(),
            Credential::JobSecret,
            400,
            "invalid_path",
        ),
        (
            Method::POST,
            "/api/v1/jobs/00000000-0000-4000-8000-000000000000/tokens".into(),
            Credential::JobSecret,
            404,
            "job_not_found",
        ),
        (
            Method::GET,
            format!("/api/v1/jobs/{job}/tokens/extra"),
            Credential::JobSecret,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/nope".into(),
            Credential::None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/nope".into(),
            Credential::Admin,
            404,
            "not_found",
        ),
        (
            Method::GET,
            format!("/{long}"),
            Credential::None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/%FF%FE".into(),
            Credential::None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/.well-known/../.well-known/jwks-pub.json/x".into(),
            Credential::None,
            404,
            "not_found",
        ),
    ];
    for (method, path, credential, status, code) in cases {
        // A valid body, so that only the path is wrong.
        let body: &[u8] = if path.contains("/variables/") {
            br#"{"value": "x"}"#
        } else if path.ends_with("/negative-tokens") {
            br#"{"kind": "expired"}"#
        } else {
            b"{}"
        };
        let request = probe(method, &path, credential, body);
        fixture.refused(&request, status, code).await;
    }
    assert_eq!(fixture.snapshot().await, before);
}

#[tokio::test]
async fn unknown_methods_and_bad_query_strings_answer_json() {
    let fixture = Fixture::start().await;
    let before = fixture.snapshot().await;
    let job = &fixture.job_id;
    let claims = format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims");
    let methods: Vec<(Method, String, Credential)> = vec![
        (Method::DELETE, "/healthz".into(), Credential::None),
        (
            Method::POST,
            "/.well-known/openid-configuration".into(),
            Credential::None,
        ),
        (
            Method::PUT,
            "/.well-known/jwks-pub.json".into(),
            Credential::None,
        ),
        (
            Method::PATCH,
            format!("/org/{ACME_ORG_ID}/.well-known/jwks-pub.json"),
            Credential::None,
        ),
        (
            Method::from_bytes(b"FROB").unwrap(),
            "/healthz".into(),
            Credential::None,
        ),
        (Method::TRACE, "/healthz".into(), Credential::None),
        (Method::GET, "/api/v1/jobs".into(), Credential::Runner),
        (
            Method::DELETE,
            format!("/api/v1/jobs/{job}/tokens"),
            Credential::JobSecret,
        ),
        (
            Method::GET,
            format!("/api/v1/jobs/{job}/finish"),
            Credential::JobSecret,
        ),
        (
            Method::DELETE,
            "/api/v1/admin/orgs".into(),
            Credential::Admin,
        ),
        (
            Method::PUT,
            "/api/v1/admin/orgs/acme".into(),
            Credential::Admin,
        ),
        (
            Method::GET,
            "/api/v1/admin/keys/rotate".into(),
            Credential::Admin,
        ),
        (Method::POST, "/api/v1/admin/keys".into(), Credential::Admin),
        (
            Method::DELETE,
            format!("/api/v1/admin/jobs/{job}"),
            Credential::Admin,
        ),
        (Method::POST, claims.clone(), Credential::Admin),
        (
            Method::from_bytes(b"FROB").unwrap(),
            "/api/v1/admin/audit".into(),
            Credential::Admin,
        ),
    ];
    for (method, path, credential) in methods {
        let request = probe(method, &path, credential, b"{}");
        fixture.refused(&request, 405, "method_not_allowed").await;
    }
    let queries: Vec<(Method, String, &str)> = vec![
        (
            Method::GET,
            "/api/v1/admin/jobs?limit=many".into(),
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs?limit=-1".into(),
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs?limit=99999999999999999999".into(),
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs?colour=red".into(),
            "invalid_query",
        ),
        (
            Method::GET,
            "/api/v1/admin/jobs?org=%FF".into(),
            "org_not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/audit?job_id=not-a-uuid".into(),
            "job_not_found",
        ),
        (
            Method::GET,
            "/api/v1/admin/audit?limit=1&limit=2".into(),
            "invalid_query",
        ),
        (Method::DELETE, claims.clone(), "invalid_claims"),
        (
            Method::DELETE,
            format!("{claims}?claims=colour"),
            "invalid_claims",
        ),
        (
            Method::DELETE,
            format!("{claims}?claims=%FF"),
            "invalid_claims",
        ),
        (
            Method::DELETE,
            format!("{claims}?claims=ttl&claims=audience"),
            "invalid_claims",
        ),
    ];
    for (method, path, code) in queries {
        let status = if code.ends_with("_not_found") {
            404
        } else {
            400
        };
        let request = probe(method, &path, Credential::Admin, b"");
        fixture.refused(&request, status, code).await;
    }
    assert_eq!(fixture.snapshot().await, before);
}
