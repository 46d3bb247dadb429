//! Bad input on every endpoint of the issuer: missing and wrong credentials, bodies over the
//! limit, malformed JSON of every kind, invalid UTF-8, undecodable and overlong path
//! parameters, bad query strings, unknown paths and methods. Each must answer a 4xx in the
//! issuer's `{"code","message"}` shape (never a 500, never axum's plain text), and must leave
//! the state exactly as it was: every listing of the admin API (orgs with everything in them,
//! token settings, jobs, keys, the token audit) is compared before and after.

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use crate::support::{
    ACME_ORG_ID, ACME_RUNNER_TOKEN, ADMIN_TOKEN, GLOBEX_RUNNER_TOKEN, Options, TestServer,
    WIDGETS_PROJECT_ID,
};

mod bodies;
mod paths;

/// The issuer's request body limit (`config::MAX_REQUEST_BODY_BYTES`).
const BODY_LIMIT: usize = 64 * 1024;

/// Who a request authenticates as.
#[derive(Clone, Copy)]
enum Credential {
    None,
    Admin,
    Runner,
    JobSecret,
}

/// A request to send: method, path, credential, optional Content-Type and body.
struct Probe {
    method: Method,
    path: String,
    credential: Credential,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

/// A started job and the server it runs on.
struct Fixture {
    server: TestServer,
    job_id: String,
    job_secret: String,
}

impl Fixture {
    async fn start() -> Self {
        let server = TestServer::start().await;
        let job = server.start_acme_job(json!({})).await;
        Self {
            job_id: job["job_id"].as_str().unwrap().to_owned(),
            job_secret: job["job_secret"].as_str().unwrap().to_owned(),
            server,
        }
    }

    fn bearer(&self, credential: Credential) -> Option<String> {
        match credential {
            Credential::None => None,
            Credential::Admin => Some(ADMIN_TOKEN.to_owned()),
            Credential::Runner => Some(ACME_RUNNER_TOKEN.to_owned()),
            Credential::JobSecret => Some(self.job_secret.clone()),
        }
    }

    /// Sends `probe`; returns the status, the Content-Type and the body text.
    async fn send(&self, probe: &Probe) -> (u16, String, String) {
        let mut request = self
            .server
            .client
            .request(probe.method.clone(), self.server.url(&probe.path))
            .body(probe.body.clone());
        if let Some(token) = self.bearer(probe.credential) {
            request = request.bearer_auth(token);
        }
        if let Some(content_type) = probe.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// Sends `probe` and asserts a refusal with `status` and `code` in the issuer's shape.
    async fn refused(&self, probe: &Probe, status: u16, code: &str) {
        let (actual, content_type, text) = self.send(probe).await;
        let what = format!("{} {}", probe.method, shorten(&probe.path));
        assert_refusal(&what, actual, &content_type, &text, status, code);
    }

    /// Every listing of the admin API, to compare before and after bad requests.
    async fn snapshot(&self) -> Value {
        let mut snapshot = serde_json::Map::new();
        let (_, orgs) = self.server.admin("GET", "/api/v1/admin/orgs", None).await;
        for org in orgs["orgs"].as_array().unwrap() {
            let id = org["id"].as_str().unwrap();
            let (status, detail) = self
                .server
                .admin("GET", &format!("/api/v1/admin/orgs/{id}"), None)
                .await;
            assert_eq!(status, 200);
            snapshot.insert(format!("org {id}"), detail);
        }
        let listings = [
            "/api/v1/admin/orgs",
            "/api/v1/admin/jobs",
            "/api/v1/admin/keys",
            "/api/v1/admin/audit",
            "/.well-known/jwks-pub.json",
        ];
        let project_claims =
            format!("/api/v2/org/{ACME_ORG_ID}/project/{WIDGETS_PROJECT_ID}/oidc-custom-claims");
        let org_claims = format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims");
        for path in listings
            .iter()
            .copied()
            .chain([&*project_claims, &*org_claims])
        {
            let (status, listing) = self.server.admin("GET", path, None).await;
            assert_eq!(status, 200, "{path}");
            snapshot.insert(path.to_owned(), listing);
        }
        Value::Object(snapshot)
    }

    /// Every route that reads a JSON body, with its credential, a body of the right shape but
    /// a wrong type, and one with a duplicated field.
    fn body_routes(&self) -> Vec<(Method, String, Credential, &'static str, &'static str)> {
        let job = &self.job_id;
        let org = "/api/v1/admin/orgs/acme";
        vec![
            (
                Method::POST,
                "/api/v1/admin/orgs".into(),
                Credential::Admin,
                r#"{"name": 5}"#,
                r#"{"name": "a", "name": "b"}"#,
            ),
            (
                Method::PATCH,
                format!("{org}/settings"),
                Credential::Admin,
                r#"{"oidc_requires_context": "yes"}"#,
                r#"{"oidc_requires_context": true, "oidc_requires_context": false}"#,
            ),
            (
                Method::POST,
                format!("{org}/projects"),
                Credential::Admin,
                r#"{"name": ["widgets2"]}"#,
                r#"{"name": "p1", "name": "p2"}"#,
            ),
            (
                Method::POST,
                format!("{org}/users"),
                Credential::Admin,
                r#"{"login": {"alias": "dave"}}"#,
                r#"{"login": "dave", "login": "erin"}"#,
            ),
            (
                Method::POST,
                format!("{org}/contexts"),
                Credential::Admin,
                r#"{"name": "c", "environment": {"A": 1}}"#,
                r#"{"name": "c", "environment": {"A": "1", "A": "2"}}"#,
            ),
            (
                Method::POST,
                format!("{org}/runner-tokens"),
                Credential::Admin,
                r#"{"name": "r", "token": 12345678901234567890}"#,
                r#"{"name": "r1", "name": "r2"}"#,
            ),
            (
                Method::PUT,
                format!("{org}/contexts/aws-deploy/variables/NEW_VARIABLE"),
                Credential::Admin,
                r#"{"value": false}"#,
                r#"{"value": "a", "value": "b"}"#,
            ),
            (
                Method::POST,
                "/api/v1/admin/keys/rotate".into(),
                Credential::Admin,
                r#"{"now": true}"#,
                r#"{"now": 1, "now": 2}"#,
            ),
            (
                Method::POST,
                format!("/api/v1/admin/jobs/{job}/negative-tokens"),
                Credential::Admin,
                r#"{"kind": 7}"#,
                r#"{"kind": "expired", "kind": "wrong_audience"}"#,
            ),
            (
                Method::PATCH,
                format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims"),
                Credential::Admin,
                r#"{"audience": "one"}"#,
                r#"{"ttl": "1h", "ttl": "2h"}"#,
            ),
            (
                Method::PATCH,
                format!(
                    "/api/v2/org/{ACME_ORG_ID}/project/{WIDGETS_PROJECT_ID}/oidc-custom-claims"
                ),
                Credential::Admin,
                r#"{"ttl": 3600}"#,
                r#"{"audience": ["a"], "audience": ["b"]}"#,
            ),
            (
                Method::POST,
                "/api/v1/jobs".into(),
                Credential::Runner,
                r#"{"project": "gh/acme/widgets", "job_name": 5}"#,
                r#"{"project": "gh/acme/widgets", "job_name": "a", "job_name": "b"}"#,
            ),
            (
                Method::POST,
                format!("/api/v1/jobs/{job}/tokens"),
                Credential::JobSecret,
                r#"{"aud": ["x"]}"#,
                r#"{"aud": "a", "aud": "b"}"#,
            ),
            (
                Method::POST,
                format!("/api/v1/jobs/{job}/finish"),
                Credential::JobSecret,
                r#"{"status": true}"#,
                r#"{"status": "success", "status": "failed"}"#,
            ),
        ]
    }

    /// Every route, with real ids in its path, and the credential it needs.
    fn all_routes(&self) -> Vec<(Method, String, Credential)> {
        let mut routes: Vec<(Method, String, Credential)> = self
            .body_routes()
            .into_iter()
            .map(|(method, path, credential, _, _)| (method, path, credential))
            .collect();
        let job = &self.job_id;
        let org = "/api/v1/admin/orgs/acme";
        for path in [
            "/api/v1/admin/orgs".to_owned(),
            org.to_owned(),
            format!("{org}/projects"),
            format!("{org}/users"),
            format!("{org}/contexts"),
            format!("{org}/runner-tokens"),
            "/api/v1/admin/keys".to_owned(),
            "/api/v1/admin/jobs".to_owned(),
            format!("/api/v1/admin/jobs/{job}"),
            "/api/v1/admin/audit".to_owned(),
            format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims"),
        ] {
            routes.push((Method::GET, path, Credential::Admin));
        }
        routes.push((
            Method::DELETE,
            format!("{org}/contexts/aws-deploy/variables/REGION"),
            Credential::Admin,
        ));
        routes.push((
            Method::DELETE,
            format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims?claims=audience,ttl"),
            Credential::Admin,
        ));
        routes
    }
}

/// A path shortened for assertion messages.
fn shorten(path: &str) -> String {
    if path.len() > 120 {
        format!("{}…({} bytes)", &path[..100], path.len())
    } else {
        path.to_owned()
    }
}

/// Asserts that an answer is a refusal with `status` and `code` in the issuer's JSON shape.
fn assert_refusal(
    what: &str,
    actual: u16,
    content_type: &str,
    text: &str,
    status: u16,
    code: &str,
) {
    assert_eq!(actual, status, "{what}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: Content-Type {content_type:?}, body {text}"
    );
    let body: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("{what}: {text}"));
    let fields = body.as_object().unwrap();
    assert_eq!(fields.len(), 2, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(!body["message"].as_str().unwrap().is_empty(), "{what}");
}

fn probe(method: Method, path: &str, credential: Credential, body: &[u8]) -> Probe {
    Probe {
        method,
        path: path.to_owned(),
        credential,
        content_type: Some("application/json"),
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn every_protected_route_refuses_missing_and_wrong_credentials() {
    let fixture = Fixture::start().await;
    let before = fixture.snapshot().await;
    for (method, path, credential) in fixture.all_routes() {
        let what = format!("{method} {path}");
        let request = || {
            fixture
                .server
                .client
                .request(method.clone(), fixture.server.url(&path))
                .body(r#"{"name": "intruder", "status": "success"}"#)
        };
        let mut wrong = vec![
            (request(), 401, "unauthorized"),
            (request().bearer_auth("not-the-token"), 403, "forbidden"),
            (
                request().header(AUTHORIZATION, "Basic YWRtaW46YWRtaW4="),
                401,
                "unauthorized",
            ),
            (
                request().header(AUTHORIZATION, "Bearer "),
                401,
                "unauthorized",
            ),
            (
                request().header(
                    AUTHORIZATION,
                    HeaderValue::from_bytes(b"Bearer \xff\xfe-token").unwrap(),
                ),
                401,
                "unauthorized",
            ),
            (
                request().bearer_auth(format!("{ADMIN_TOKEN}x")),
                403,
                "forbidden",
            ),
            (
                request().bearer_auth(&ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]),
                403,
                "forbidden",
            ),
        ];
        // Each credential is refused where another is required.
        match credential {
            Credential::Admin => {
                wrong.push((request().bearer_auth(ACME_RUNNER_TOKEN), 403, "forbidden"));
                wrong.push((request().header("circle-token", "wrong"), 403, "forbidden"));
            }
            Credential::Runner => {
                wrong.push((request().bearer_auth(ADMIN_TOKEN), 403, "forbidden"));
                wrong.push((request().bearer_auth(&fixture.job_secret), 403, "forbidden"));
            }
            Credential::JobSecret => {
                wrong.push((request().bearer_auth(ADMIN_TOKEN), 403, "forbidden"));
                wrong.push((request().bearer_auth(GLOBEX_RUNNER_TOKEN), 403, "forbidden"));
            }
            Credential::None => unreachable!("every route in the table is protected"),
        }
        for (index, (request, status, code)) in wrong.into_iter().enumerate() {
            let response = request.send().await.unwrap();
            let actual = response.status().as_u16();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = response.text().await.unwrap();
            let what = format!("{what} (credential case {index})");
            assert_refusal(&what, actual, &content_type, &text, status, code);
        }
    }
    assert_eq!(fixture.snapshot().await, before);
}

#[tokio::test]
async fn a_disabled_admin_api_refuses_even_the_right_looking_token() {
    let server = TestServer::start_with(Options {
        admin_token: None,
        ..Options::default()
    })
    .await;
    let (status, body) = server
        .admin("POST", "/api/v1/admin/keys/rotate", None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "admin_api_disabled");
    let (status, body) = server
        .admin("POST", "/api/v1/admin/orgs", Some(json!({"name": "x"})))
        .await;
    assert_eq!((status, &body["code"]), (403, &json!("admin_api_disabled")));
}
