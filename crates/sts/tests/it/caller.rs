//! GetCallerIdentity signed by session credentials or the admin credential (spec §6), the
//! SigV4 errors as AWS sends them, sessions surviving a restart, and expiry then purge.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use http::HeaderMap;
use keyless_sts::config::{Clock, DEFAULT_ADMIN_ACCESS_KEY_ID, DEFAULT_ADMIN_SECRET_ACCESS_KEY};
use keyless_sts::store::StoreLocation;
use time::OffsetDateTime;

use crate::issuer::{Answer, Fixture, Issuer, assume, config_for};
use crate::support::{TestServer, form, signed_headers_in};

/// Credentials from an AssumeRoleWithWebIdentity answer.
pub struct Credentials {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
}

impl Credentials {
    pub fn from_answer(answer: &Answer) -> Credentials {
        Credentials {
            access_key_id: answer.element("AccessKeyId").unwrap().to_owned(),
            secret: answer.element("SecretAccessKey").unwrap().to_owned(),
            token: answer.element("SessionToken").unwrap().to_owned(),
        }
    }
}

/// Headers botocore sends for a signed STS POST with an optional session token.
pub fn sts_headers(
    host: &str,
    body: &str,
    key: &str,
    secret: &str,
    token: Option<&str>,
    at: OffsetDateTime,
) -> HeaderMap {
    signed_headers_for("sts", host, body, key, secret, token, at)
}

/// Headers for a signed Query POST to `service`.
pub fn signed_headers_for(
    service: &str,
    host: &str,
    body: &str,
    key: &str,
    secret: &str,
    token: Option<&str>,
    at: OffsetDateTime,
) -> HeaderMap {
    signed_headers_in(service, host, body, key, secret, "us-east-1", token, at)
}

/// GetCallerIdentity signed with these parts.
pub async fn get_caller_identity(
    server: &TestServer,
    key: &str,
    secret: &str,
    token: Option<&str>,
    at: OffsetDateTime,
) -> Answer {
    let body = form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let headers = sts_headers(&server.address.to_string(), &body, key, secret, token, at);
    let response = reqwest::Client::new()
        .post(server.url())
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}

const INVALID_CLIENT_TOKEN_ID: &str = "The security token included in the request is invalid";

#[tokio::test]
async fn sessions_identify_as_their_assumed_role() {
    let fixture = Fixture::start().await;
    let assumed = assume(&fixture.server, &fixture.issuer.token(), &[]).await;
    assert_eq!(assumed.status, 200, "{}", assumed.body);
    let credentials = Credentials::from_answer(&assumed);
    let now = OffsetDateTime::now_utc();
    let answer = get_caller_identity(
        &fixture.server,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        now,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.element("Arn"), assumed.element("Arn"));
    assert_eq!(answer.element("UserId"), assumed.element("AssumedRoleId"));
    assert_eq!(answer.element("Account"), Some("123456789012"));

    let admin = get_caller_identity(
        &fixture.server,
        DEFAULT_ADMIN_ACCESS_KEY_ID,
        DEFAULT_ADMIN_SECRET_ACCESS_KEY,
        None,
        now,
    )
    .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(admin.element("Arn"), Some("arn:aws:iam::123456789012:root"));
    assert_eq!(admin.element("UserId"), Some("123456789012"));
}

#[tokio::test]
async fn signature_errors_are_answered_like_aws() {
    let fixture = Fixture::start().await;
    let credentials =
        Credentials::from_answer(&assume(&fixture.server, &fixture.issuer.token(), &[]).await);
    let server = &fixture.server;
    let now = OffsetDateTime::now_utc();
    get_caller_identity(
        server,
        &credentials.access_key_id,
        &credentials.secret,
        None,
        now,
    )
    .await
    .assert_error(403, "InvalidClientTokenId", INVALID_CLIENT_TOKEN_ID);
    get_caller_identity(
        server,
        &credentials.access_key_id,
        &credentials.secret,
        Some("IQoJb3JpZ2luX2VjWRONG"),
        now,
    )
    .await
    .assert_error(403, "InvalidClientTokenId", INVALID_CLIENT_TOKEN_ID);
    get_caller_identity(
        server,
        "ASIAQAAAAAAAMEXAMPLE",
        &credentials.secret,
        Some(&credentials.token),
        now,
    )
    .await
    .assert_error(403, "InvalidClientTokenId", INVALID_CLIENT_TOKEN_ID);
    get_caller_identity(server, &credentials.access_key_id, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", Some(&credentials.token), now).await
        .assert_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.");
    let skewed = now - time::Duration::minutes(20);
    let answer = get_caller_identity(
        server,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        skewed,
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.element("Code"), Some("SignatureDoesNotMatch"));
    assert!(
        answer
            .element("Message")
            .unwrap()
            .starts_with("Signature expired: "),
        "{}",
        answer.body
    );
    let iam = crate::support::form(&[("Action", "ListRoles"), ("Version", "2010-05-08")]);
    // The session is valid but carries no IAM permissions.
    let headers = signed_headers_for(
        "iam",
        &server.address.to_string(),
        &iam,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        now,
    );
    let response = reqwest::Client::new()
        .post(server.url())
        .headers(headers)
        .body(iam)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<Code>AccessDenied</Code>")
            && body.contains("is not authorized to perform: iam:ListRoles"),
        "{body}"
    );
}

#[tokio::test]
async fn expired_sessions_answer_expired_token_then_are_purged() {
    let issuer = Issuer::start().await;
    let offset = Arc::new(AtomicI64::new(0));
    let mut config = config_for(&issuer);
    let shared = Arc::clone(&offset);
    config.clock = Clock::from_fn(move || {
        OffsetDateTime::now_utc() + time::Duration::seconds(shared.load(Ordering::SeqCst))
    });
    let fixture = Fixture::with_config(issuer, config).await;
    let credentials = Credentials::from_answer(
        &assume(
            &fixture.server,
            &fixture.issuer.token(),
            &[("DurationSeconds", "900")],
        )
        .await,
    );
    offset.store(901, Ordering::SeqCst);
    let later = OffsetDateTime::now_utc() + time::Duration::seconds(901);
    get_caller_identity(
        &fixture.server,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        later,
    )
    .await
    .assert_error(
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    offset.store(901 + 3601, Ordering::SeqCst);
    let much_later = OffsetDateTime::now_utc() + time::Duration::seconds(901 + 3601);
    get_caller_identity(
        &fixture.server,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        much_later,
    )
    .await
    .assert_error(403, "InvalidClientTokenId", INVALID_CLIENT_TOKEN_ID);
}

#[tokio::test]
async fn a_restart_keeps_live_sessions() {
    let directory = tempfile::tempdir().unwrap();
    let issuer = Issuer::start().await;
    let mut config = config_for(&issuer);
    config.storage = StoreLocation::Directory(directory.path().to_owned());
    let fixture = Fixture::with_config(issuer, config.clone()).await;
    let assumed = assume(&fixture.server, &fixture.issuer.token(), &[]).await;
    let credentials = Credentials::from_answer(&assumed);
    fixture.server.stop().await;
    let restarted = TestServer::start(config).await;
    let answer = get_caller_identity(
        &restarted,
        &credentials.access_key_id,
        &credentials.secret,
        Some(&credentials.token),
        OffsetDateTime::now_utc(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.element("Arn"), assumed.element("Arn"));
    let (status, decision) = crate::issuer::get_json(
        &restarted,
        &format!("/_keyless/decisions/{}", assumed.request_id()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(decision["allowed"], true);
    restarted.stop().await;
}
