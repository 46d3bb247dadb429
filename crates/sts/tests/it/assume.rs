//! AssumeRoleWithWebIdentity through the HTTP endpoint: the §2.3 response, every error path of
//! §2.4/§2.5 with its exact code, status and message, and JWKS faults driven through wiremock.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::ResponseTemplate;

use crate::issuer::{
    Fixture, Issuer, ORG, PROVIDER_ARN, PUBLIC_ISSUER, SigningKey, assume, b64, subject,
};

const INVALID_TOKEN: &str = "The web identity token that was passed could not be validated by Amazon Web Services. Get a new identity token from the identity provider and then retry the request.";
const KEY_RETRIEVAL: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

#[tokio::test]
async fn success_answers_like_aws() {
    let fixture = Fixture::start().await;
    let started = OffsetDateTime::now_utc().unix_timestamp();
    let token = format!("  {}\n", fixture.issuer.token());
    let answer = assume(&fixture.server, &token, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.element("Audience"), Some(ORG));
    assert_eq!(answer.element("Provider"), Some(PROVIDER_ARN));
    assert_eq!(
        answer.element("Arn"),
        Some("arn:aws:sts::123456789012:assumed-role/circleci-deploy/circleci-job-42")
    );
    let assumed_role_id = answer.element("AssumedRoleId").unwrap();
    assert!(assumed_role_id.starts_with("AROA"), "{assumed_role_id}");
    assert!(assumed_role_id.ends_with(":circleci-job-42"));
    assert_eq!(assumed_role_id.len(), 21 + ":circleci-job-42".len());
    assert_eq!(
        answer.element("SubjectFromWebIdentityToken"),
        Some(subject().as_str())
    );
    assert_eq!(answer.element("PackedPolicySize"), None);
    let key = answer.element("AccessKeyId").unwrap();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(answer.element("SecretAccessKey").unwrap().len(), 40);
    assert!(
        answer
            .element("SessionToken")
            .unwrap()
            .starts_with("IQoJb3JpZ2luX2Vj")
    );
    let expiration = OffsetDateTime::parse(
        answer.element("Expiration").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!(
        (started + 3600..=started + 3605).contains(&expiration),
        "{expiration}"
    );
    assert!(answer.body.contains(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
}

#[tokio::test]
async fn a_session_policy_is_validated_and_reported_as_packed_size() {
    let fixture = Fixture::start().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let answer = assume(
        &fixture.server,
        &fixture.issuer.token(),
        &[("Policy", policy), ("DurationSeconds", "900")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.element("PackedPolicySize"), Some("5"));
    let answer = assume(
        &fixture.server,
        &fixture.issuer.token(),
        &[("Policy", "{not json")],
    )
    .await;
    answer.assert_error(
        400,
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
    );
}

#[tokio::test]
async fn parameters_are_checked_server_side() {
    let fixture = Fixture::start().await;
    let token = fixture.issuer.token();
    let answer = assume(&fixture.server, &token, &[("RoleSessionName", "bad name")]).await;
    answer.assert_error(400, "ValidationError", "1 validation error detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
    let answer = assume(&fixture.server, &token, &[("DurationSeconds", "50000")]).await;
    answer.assert_error(400, "ValidationError", "1 validation error detected: Value '50000' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200");
    let long_name = "a".repeat(65);
    let answer = assume(
        &fixture.server,
        &token,
        &[("RoleSessionName", long_name.as_str())],
    )
    .await;
    answer.assert_error(400, "ValidationError", &format!("1 validation error detected: Value '{long_name}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"));
    let answer = assume(&fixture.server, "abc", &[]).await;
    answer.assert_error(400, "ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4");
    let answer = crate::issuer::sts_call(
        &fixture.server,
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::123456789012:role/x"),
        ],
    )
    .await;
    answer.assert_error(400, "ValidationError", "2 validation errors detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null; Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null");
    let answer = assume(
        &fixture.server,
        &token,
        &[("RoleArn", "arn:aws:iam::123456789012:user/circleci")],
    )
    .await;
    answer.assert_error(400, "ValidationError", "Request ARN is invalid");
}

#[tokio::test]
async fn token_and_provider_errors_have_aws_codes_and_messages() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    assume(server, "not.a.jwt", &[])
        .await
        .assert_error(400, "InvalidIdentityToken", INVALID_TOKEN);
    let no_audience = fixture.issuer.token_with(|claims| {
        claims.remove("aud");
    });
    assume(server, &no_audience, &[]).await.assert_error(
        400,
        "InvalidIdentityToken",
        "Missing a required claim: aud",
    );
    let other_issuer = fixture.issuer.token_with(|claims| {
        claims.insert(
            "iss".into(),
            json!("https://oidc.circleci.com/org/99999999-2222-3333-4444-555555555555"),
        );
    });
    assume(server, &other_issuer, &[]).await.assert_error(400, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://oidc.circleci.com/org/99999999-2222-3333-4444-555555555555");
    let other_account = assume(
        server,
        &fixture.issuer.token(),
        &[(
            "RoleArn",
            "arn:aws:iam::210987654321:role/ci/circleci-deploy",
        )],
    )
    .await;
    other_account.assert_error(
        400,
        "InvalidIdentityToken",
        &format!("No OpenIDConnect provider found in your account for {PUBLIC_ISSUER}"),
    );
    let wrong_audience = fixture.issuer.token_with(|claims| {
        claims.insert("aud".into(), json!("sts.amazonaws.com"));
    });
    assume(server, &wrong_audience, &[]).await.assert_error(
        400,
        "InvalidIdentityToken",
        "Incorrect token audience",
    );
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let expired = fixture.issuer.token_with(|claims| {
        claims.insert("iat".into(), json!(now - 7200));
        claims.insert("exp".into(), json!(now - 3600));
    });
    let answer = assume(server, &expired, &[]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.element("Code"), Some("ExpiredTokenException"));
    let message = answer.element("Message").unwrap();
    let expected_tail = format!(" must be before the expiration date/time {}", now - 3600);
    assert!(
        message.starts_with("Token expired: current date/time ")
            && message.ends_with(&expected_tail),
        "{message}"
    );
    let forged = SigningKey::generate("key-1").sign(&Value::Object(crate::issuer::claims()));
    assume(server, &forged, &[])
        .await
        .assert_error(400, "InvalidIdentityToken", INVALID_TOKEN);
}

#[tokio::test]
async fn trust_policy_role_and_duration_errors() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let other_project = fixture.issuer.token_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!(
                "org/{ORG}/project/00000000-0000-0000-0000-000000000000/user/u"
            )),
        );
    });
    assume(server, &other_project, &[]).await.assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    let token = fixture.issuer.token();
    assume(
        server,
        &token,
        &[("RoleArn", "arn:aws:iam::123456789012:role/ci/no-such-role")],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    assume(
        server,
        &token,
        &[("RoleArn", "arn:aws:iam::123456789012:role/circleci-deploy")],
    )
    .await
    .assert_error(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    );
    assume(server, &token, &[("DurationSeconds", "7200")])
        .await
        .assert_error(
            400,
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        );
}

#[tokio::test]
async fn the_call_is_unsigned_and_ignores_a_signature() {
    let fixture = Fixture::start().await;
    let body = crate::support::form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", crate::issuer::ROLE_ARN),
        ("RoleSessionName", "signed-anyway"),
        ("WebIdentityToken", &fixture.issuer.token()),
    ]);
    let headers = crate::support::signed_headers(
        &fixture.server.address.to_string(),
        &body,
        "AKIDUNKNOWNEXAMPLE00",
        "bogus",
        "sts",
        OffsetDateTime::now_utc(),
    );
    let response = reqwest::Client::new()
        .post(fixture.server.url())
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn fault(response: ResponseTemplate) {
    let fixture = Fixture::start().await;
    fixture.issuer.answer_jwks(response).await;
    assume(&fixture.server, &fixture.issuer.token(), &[])
        .await
        .assert_error(400, "InvalidIdentityToken", KEY_RETRIEVAL);
}

#[tokio::test]
async fn jwks_server_error_is_a_key_retrieval_error() {
    fault(ResponseTemplate::new(500)).await;
}

#[tokio::test]
async fn jwks_timeout_is_a_key_retrieval_error() {
    fault(
        ResponseTemplate::new(200)
            .set_body_json(json!({"keys": []}))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
}

#[tokio::test]
async fn malformed_jwks_is_a_key_retrieval_error() {
    fault(ResponseTemplate::new(200).set_body_string("{\"keys\": [")).await;
}

#[tokio::test]
async fn a_key_set_without_the_kid_is_a_key_retrieval_error() {
    let other = SigningKey::generate("other-key");
    fault(ResponseTemplate::new(200).set_body_json(json!({"keys": [other.jwk()]}))).await;
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_refetching_once() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    assert_eq!(
        assume(server, &fixture.issuer.token(), &[]).await.status,
        200
    );
    let rotated = SigningKey::generate("key-2");
    fixture
        .issuer
        .publish(&[fixture.issuer.key.jwk(), rotated.jwk()])
        .await;
    let token = rotated.sign(&Value::Object(crate::issuer::claims()));
    let answer = assume(server, &token, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let fetches = fixture.issuer.mock.received_requests().await.unwrap();
    let key_fetches = fetches
        .iter()
        .filter(|request| request.url.path() == Issuer::jwks_path())
        .count();
    assert_eq!(key_fetches, 1, "one refetch after the rotation");
}

#[tokio::test]
async fn unsupported_algorithms_are_refused() {
    let fixture = Fixture::start().await;
    let header = b64(json!({"alg": "none", "typ": "JWT"}).to_string());
    let payload = b64(Value::Object(crate::issuer::claims()).to_string());
    let unsigned = format!("{header}.{payload}.");
    assume(&fixture.server, &unsigned, &[]).await.assert_error(
        400,
        "InvalidIdentityToken",
        INVALID_TOKEN,
    );
}
