//! Router tests through `tower::ServiceExt::oneshot`: the Query envelope, dispatch errors
//! (MissingAction, InvalidAction), headers, body limit, and SigV4 refusals on IAM actions.

use axum::body::Body;
use http::{Request, StatusCode};
use keyless_sts::config::{Clock, Config, DEFAULT_ADMIN_ACCESS_KEY_ID};
use time::macros::datetime;
use tower::ServiceExt;

use crate::support::{admin_iam_headers, element, form, signed_headers};

const HOST: &str = "127.0.0.1:8566";

async fn router_with(config: Config) -> axum::Router {
    keyless_sts::server::app(config).await.unwrap()
}

async fn send(
    router: axum::Router,
    request: Request<Body>,
) -> (StatusCode, http::HeaderMap, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn signed_post(body: &str) -> Request<Body> {
    let mut request = Request::post("/")
        .body(Body::from(body.to_owned()))
        .unwrap();
    *request.headers_mut() = admin_iam_headers(HOST, body);
    request
}

fn unsigned_post(body: &str) -> Request<Body> {
    Request::post("/")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("host", HOST)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn success_envelope_has_namespace_request_id_and_headers() {
    let router = router_with(Config::in_memory()).await;
    let (status, headers, body) = send(
        router,
        signed_post("Action=ListOpenIDConnectProviders&Version=2010-05-08"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/xml");
    let request_id = headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 36);
    assert_eq!(
        body,
        format!(
            "<ListOpenIDConnectProvidersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <ListOpenIDConnectProvidersResult>\n    <OpenIDConnectProviderList>\n    </OpenIDConnectProviderList>\n  </ListOpenIDConnectProvidersResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</ListOpenIDConnectProvidersResponse>\n"
        )
    );
}

#[tokio::test]
async fn unknown_action_is_invalid_action_in_the_versions_namespace() {
    let router = router_with(Config::in_memory()).await;
    let (status, headers, body) = send(
        router,
        unsigned_post("Action=GetSendQuota&Version=2011-06-15"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let request_id = headers["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(
        body,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>InvalidAction</Code>\n    <Message>Could not find operation GetSendQuota for version 2011-06-15</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        )
    );
}

#[tokio::test]
async fn iam_action_with_another_version_is_invalid_action() {
    let router = router_with(Config::in_memory()).await;
    let (status, _, body) = send(
        router,
        unsigned_post("Action=GetRole&Version=2011-06-15&RoleName=x"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(element(&body, "Code"), Some("InvalidAction"));
    assert_eq!(
        element(&body, "Message"),
        Some("Could not find operation GetRole for version 2011-06-15")
    );
    assert!(body.contains("xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\""));
}

#[tokio::test]
async fn missing_action_is_reported() {
    let router = router_with(Config::in_memory()).await;
    let (status, _, body) = send(router, unsigned_post("Version=2010-05-08")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(element(&body, "Code"), Some("MissingAction"));
}

#[tokio::test]
async fn get_with_query_string_dispatches_too() {
    let router = router_with(Config::in_memory()).await;
    let (status, _, body) = send(
        router,
        Request::get("/?Action=Nope&Version=2010-05-08")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        element(&body, "Message"),
        Some("Could not find operation Nope for version 2010-05-08")
    );
}

#[tokio::test]
async fn unsigned_iam_call_is_missing_authentication_token() {
    let router = router_with(Config::in_memory()).await;
    let (status, _, body) =
        send(router, unsigned_post("Action=ListRoles&Version=2010-05-08")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(element(&body, "Code"), Some("MissingAuthenticationToken"));
    assert_eq!(element(&body, "Type"), Some("Sender"));
}

#[tokio::test]
async fn wrong_secret_unknown_key_wrong_service_and_skew_are_refused() {
    let body = "Action=ListRoles&Version=2010-05-08";
    let now = datetime!(2026-11-26 00:14:21 UTC);
    let mut config = Config::in_memory();
    config.clock = Clock::from_fn(move || now);
    let router = router_with(config).await;
    let cases = [
        (
            DEFAULT_ADMIN_ACCESS_KEY_ID,
            "wrong-secret",
            "iam",
            now,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        (
            "AKIAUNKNOWNKEY000000",
            "x",
            "iam",
            now,
            "InvalidClientTokenId",
            "The security token included in the request is invalid",
        ),
        (
            DEFAULT_ADMIN_ACCESS_KEY_ID,
            keyless_sts::config::DEFAULT_ADMIN_SECRET_ACCESS_KEY,
            "sts",
            now,
            "SignatureDoesNotMatch",
            "Credential should be scoped to correct service: 'iam'. ",
        ),
        (
            DEFAULT_ADMIN_ACCESS_KEY_ID,
            keyless_sts::config::DEFAULT_ADMIN_SECRET_ACCESS_KEY,
            "iam",
            now - time::Duration::minutes(20),
            "SignatureDoesNotMatch",
            "Signature expired: 20261125T235421Z is now earlier than 20261125T235921Z (20261126T001421Z - 15 min.)",
        ),
    ];
    for (key, secret, service, at, code, message) in cases {
        let mut request = Request::post("/").body(Body::from(body)).unwrap();
        *request.headers_mut() = signed_headers(HOST, body, key, secret, service, at);
        let (status, _, answer) = send(router.clone(), request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert_eq!(element(&answer, "Code"), Some(code));
        assert_eq!(element(&answer, "Message"), Some(message));
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_parsing() {
    let mut config = Config::in_memory();
    config.max_body_bytes = 64;
    let router = router_with(config).await;
    let body = form(&[
        ("Action", "ListRoles"),
        ("Version", "2010-05-08"),
        ("Padding", &"x".repeat(100)),
    ]);
    let (status, headers, answer) = send(router, unsigned_post(&body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "text/xml");
    assert_eq!(element(&answer, "Code"), Some("RequestEntityTooLarge"));
}

#[tokio::test]
async fn healthz_answers() {
    let router = router_with(Config::in_memory()).await;
    let (status, _, body) = send(
        router,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn the_account_id_is_configurable() {
    let mut config = Config::in_memory();
    config.account_id = "210987654321".parse().unwrap();
    let router = router_with(config).await;
    let body = form(&[
        ("Action", "CreateOpenIDConnectProvider"),
        ("Version", "2010-05-08"),
        ("Url", "https://token.example.com"),
        ("ClientIDList.member.1", "sts.amazonaws.com"),
    ]);
    let (status, _, answer) = send(router.clone(), signed_post(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        element(&answer, "OpenIDConnectProviderArn"),
        Some("arn:aws:iam::210987654321:oidc-provider/token.example.com")
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let body = form(&[
        ("Action", "CreateRole"),
        ("Version", "2010-05-08"),
        ("RoleName", "other-account-principal"),
        ("AssumeRolePolicyDocument", policy),
    ]);
    let (status, _, answer) = send(router, signed_post(&body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        element(&answer, "Message"),
        Some("Federated principals must be valid domain names or SAML metadata ARNs")
    );
}
