//! SigV4 verifier tests: the spec's botocore test vector (§6.2) and every error of §6.3.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue, StatusCode};
use time::macros::datetime;

use super::*;

const ACCESS_KEY_ID: &str = "ASIAQAAAAAAAMEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const VECTOR_SIGNATURE: &str = "7be8a5d175ac031ed336e46cbacc805c1d4e18b2cc043b332dfefdb88502be47";
const VECTOR_TIME: OffsetDateTime = datetime!(2026-11-26 00:14:21 UTC);

/// A map-backed source whose identity is the access key id.
struct MapSource(HashMap<String, SigningCredential<String>>);

impl CredentialSource for MapSource {
    type Identity = String;
    async fn find(
        &self,
        access_key_id: &str,
    ) -> Result<Option<SigningCredential<String>>, AwsError> {
        Ok(self.0.get(access_key_id).cloned())
    }
}

fn session_source(expiration: Option<OffsetDateTime>) -> MapSource {
    MapSource(HashMap::from([(
        ACCESS_KEY_ID.to_owned(),
        SigningCredential {
            secret_access_key: SECRET.to_owned(),
            session_token: Some(SESSION_TOKEN.to_owned()),
            expiration,
            identity: ACCESS_KEY_ID.to_owned(),
        },
    )]))
}

fn vector_headers(signature: &str, token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    headers.insert("x-amz-date", HeaderValue::from_static("20261126T001421Z"));
    headers.insert(
        "x-amz-security-token",
        HeaderValue::from_str(token).unwrap(),
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20261126/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature={signature}"
        ))
        .unwrap(),
    );
    headers
}

fn request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> SignedRequest<'a> {
    SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body,
    }
}

#[test]
fn canonical_request_and_string_to_sign_match_the_spec_vector() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let request = request(&headers, BODY);
    let parts = parse_signature(&request).unwrap();
    let canonical = canonical_request(&request, &parts);
    assert_eq!(
        canonical,
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:127.0.0.1:4566\nx-amz-date:20261126T001421Z\nx-amz-security-token:IQoJb3JpZ2luX2VjEXAMPLETOKEN\n\ncontent-type;host;x-amz-date;x-amz-security-token\nab821ae955788b0e33ebd34c208442ccfc2d406e2edc5e7a39bd6458fbb4f843"
    );
    let to_sign = string_to_sign(&parts, &canonical);
    assert_eq!(
        to_sign,
        "AWS4-HMAC-SHA256\n20261126T001421Z\n20261126/us-east-1/sts/aws4_request\n258b2a26ea936b2685c937bf7027cd847c476ea2d4a3d44b21b871155654d6cf"
    );
    assert_eq!(
        compute_signature(SECRET, &parts, &to_sign),
        VECTOR_SIGNATURE
    );
}

#[tokio::test]
async fn the_spec_vector_verifies() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let identity = verify(
        &request(&headers, BODY),
        Service::Sts,
        VECTOR_TIME,
        &session_source(None),
    )
    .await
    .unwrap();
    assert_eq!(identity, ACCESS_KEY_ID);
}

async fn error_for(
    headers: &HeaderMap,
    body: &[u8],
    service: Service,
    now: OffsetDateTime,
    source: &MapSource,
) -> AwsError {
    verify(&request(headers, body), service, now, source)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_changed_body_does_not_match() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let error = error_for(
        &headers,
        b"Action=GetCallerIdentity&Version=2011-06-16",
        Service::Sts,
        VECTOR_TIME,
        &session_source(None),
    )
    .await;
    assert_eq!(error.status, StatusCode::FORBIDDEN);
    assert_eq!(error.code, "SignatureDoesNotMatch");
    assert_eq!(error.message, SIGNATURE_DOES_NOT_MATCH_MESSAGE);
}

#[tokio::test]
async fn unknown_key_and_wrong_token_are_invalid_client_token_id() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let error = error_for(
        &headers,
        BODY,
        Service::Sts,
        VECTOR_TIME,
        &MapSource(HashMap::new()),
    )
    .await;
    assert_eq!(
        (error.status, error.code.as_ref(), error.message.as_str()),
        (
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid"
        )
    );
    let headers = vector_headers(VECTOR_SIGNATURE, "IQoJb3JpZ2luX2VjOTHERTOKEN");
    let error = error_for(
        &headers,
        BODY,
        Service::Sts,
        VECTOR_TIME,
        &session_source(None),
    )
    .await;
    assert_eq!(error.code, "InvalidClientTokenId");
}

#[tokio::test]
async fn expired_session_is_expired_token() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let error = error_for(
        &headers,
        BODY,
        Service::Sts,
        VECTOR_TIME,
        &session_source(Some(datetime!(2026-11-26 00:00:00 UTC))),
    )
    .await;
    assert_eq!(
        (error.status, error.code.as_ref(), error.message.as_str()),
        (
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            "The security token included in the request is expired"
        )
    );
}

#[tokio::test]
async fn skew_beyond_fifteen_minutes_is_reported_like_sts() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let source = session_source(None);
    let late = VECTOR_TIME + Duration::minutes(15) + Duration::seconds(7);
    let error = error_for(&headers, BODY, Service::Sts, late, &source).await;
    assert_eq!(error.code, "SignatureDoesNotMatch");
    assert_eq!(
        error.message,
        "Signature expired: 20261126T001421Z is now earlier than 20261126T001428Z (20261126T002928Z - 15 min.)"
    );
    let early = VECTOR_TIME - Duration::minutes(16);
    let error = error_for(&headers, BODY, Service::Sts, early, &source).await;
    assert_eq!(
        error.message,
        "Signature not yet current: 20261126T001421Z is still later than 20261126T001321Z (20261125T235821Z + 15 min.)"
    );
    let within = VECTOR_TIME + Duration::minutes(14);
    assert!(
        verify(&request(&headers, BODY), Service::Sts, within, &source)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_scope_must_name_the_actions_service() {
    let headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    let error = error_for(
        &headers,
        BODY,
        Service::Iam,
        VECTOR_TIME,
        &session_source(None),
    )
    .await;
    assert_eq!(error.code, "SignatureDoesNotMatch");
    assert_eq!(
        error.message,
        "Credential should be scoped to correct service: 'iam'. "
    );
}

#[tokio::test]
async fn malformed_and_missing_authorization() {
    let source = session_source(None);
    let mut headers = vector_headers(VECTOR_SIGNATURE, SESSION_TOKEN);
    headers.insert(
        "authorization",
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 ASIAQAAAAAAAMEXAMPLE/20261126/us-east-1/sts/aws4_request",
        ),
    );
    let error = error_for(&headers, BODY, Service::Sts, VECTOR_TIME, &source).await;
    assert_eq!(
        (error.status, error.code.as_ref(), error.message.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "IncompleteSignature",
            "'ASIAQAAAAAAAMEXAMPLE/20261126/us-east-1/sts/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 ASIAQAAAAAAAMEXAMPLE/20261126/us-east-1/sts/aws4_request'."
        )
    );
    headers.insert(
        "authorization",
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=x/20261126/us-east-1/sts/aws4_request",
        ),
    );
    let error = error_for(&headers, BODY, Service::Sts, VECTOR_TIME, &source).await;
    assert_eq!(
        error.message,
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=x/20261126/us-east-1/sts/aws4_request"
    );
    let empty = HeaderMap::new();
    let error = error_for(&empty, BODY, Service::Sts, VECTOR_TIME, &source).await;
    assert_eq!(
        (error.status, error.code.as_ref(), error.message.as_str()),
        (
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token"
        )
    );
}

#[tokio::test]
async fn presigned_query_form_verifies() {
    let permanent = MapSource(HashMap::from([(
        "AKIAIOSFODNN7EXAMPLE".to_owned(),
        SigningCredential {
            secret_access_key: SECRET.to_owned(),
            session_token: None,
            expiration: None,
            identity: "admin".to_owned(),
        },
    )]));
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    let unsigned_query = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261126%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261126T001421Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host";
    let request_without_signature = SignedRequest {
        method: "GET",
        path: "/",
        query: unsigned_query,
        headers: &headers,
        body: b"",
    };
    let mut parts = parse_signature(&SignedRequest {
        query: &format!("{unsigned_query}&X-Amz-Signature=00"),
        ..request_without_signature
    })
    .unwrap();
    parts.signature.clear();
    let canonical = canonical_request(&request_without_signature, &parts);
    assert!(canonical.starts_with("GET\n/\nAction=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261126%2Feu-west-1%2Fsts%2Faws4_request&"));
    let signature = compute_signature(SECRET, &parts, &string_to_sign(&parts, &canonical));
    let signed_query = format!("{unsigned_query}&X-Amz-Signature={signature}");
    let signed = SignedRequest {
        query: &signed_query,
        ..request_without_signature
    };
    assert_eq!(
        verify(&signed, Service::Sts, VECTOR_TIME, &permanent)
            .await
            .unwrap(),
        "admin"
    );
    let error = verify(
        &signed,
        Service::Sts,
        VECTOR_TIME + Duration::minutes(16),
        &permanent,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, "SignatureDoesNotMatch");
    let wrong_query = signed_query.replace("Version=2011-06-15", "Version=2011-06-16");
    let error = verify(
        &SignedRequest {
            query: &wrong_query,
            ..request_without_signature
        },
        Service::Sts,
        VECTOR_TIME,
        &permanent,
    )
    .await
    .unwrap_err();
    assert_eq!(error.message, SIGNATURE_DOES_NOT_MATCH_MESSAGE);
}

#[tokio::test]
async fn mismatch_detail_never_contains_the_session_token() {
    let headers = vector_headers(&"0".repeat(64), SESSION_TOKEN);
    let error = error_for(
        &headers,
        BODY,
        Service::Sts,
        VECTOR_TIME,
        &session_source(None),
    )
    .await;
    assert_eq!(error.code, "SignatureDoesNotMatch");
    let detail = error.detail.unwrap();
    assert!(
        detail.contains("x-amz-security-token:<redacted>"),
        "{detail}"
    );
    assert!(!detail.contains(SESSION_TOKEN));
}
