//! Time checks after the signature: `exp` with AWS's five-minute skew (`ExpiredTokenException`),
//! `nbf` and `iat` in the future, the optional maximum age, and the order of the checks.

use std::time::Duration;

use serde_json::json;

use super::super::{INVALID_TOKEN_MESSAGE, VerifierConfig};
use super::*;

/// Verifies claims changed by `edit` at `when` against an issuer serving the RSA key.
async fn verify_with(
    verifier: &TokenVerifier,
    issuer: &TestIssuer,
    edit: impl FnOnce(&mut Value),
    when: SystemTime,
) -> Result<(), TokenError> {
    let mut token_claims = claims(&issuer.issuer);
    edit(&mut token_claims);
    check(
        verifier,
        &token(&token_claims, rsa_key(), Some(RSA_KID)),
        when,
    )
    .await
}

#[tokio::test]
async fn expiry_allows_five_minutes_of_skew() {
    let issuer = TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await;
    let verifier = verifier();
    let expired_at = |exp: i64| move |claims: &mut Value| claims["exp"] = json!(exp);
    verify_with(&verifier, &issuer, expired_at(NOW_SECONDS), now())
        .await
        .unwrap();
    verify_with(&verifier, &issuer, expired_at(NOW_SECONDS - 300), now())
        .await
        .unwrap();
    let result = verify_with(&verifier, &issuer, expired_at(NOW_SECONDS - 301), now()).await;
    let error = assert_aws_error(
        result,
        "ExpiredTokenException",
        &format!(
            "Token expired: current date/time {NOW_SECONDS} must be before the expiration date/time {}",
            NOW_SECONDS - 301
        ),
    );
    assert_eq!(
        error,
        TokenError::Expired {
            now: NOW_SECONDS,
            expires_at: NOW_SECONDS - 301
        }
    );
    let result = verify_with(&verifier, &issuer, expired_at(0), now()).await;
    assert_aws_error(
        result,
        "ExpiredTokenException",
        &format!(
            "Token expired: current date/time {NOW_SECONDS} must be before the expiration date/time 0"
        ),
    );
    verify_with(&verifier, &issuer, expired_at(i64::MAX), now())
        .await
        .unwrap();
}

#[tokio::test]
async fn not_before_and_issued_at_may_not_be_in_the_future() {
    let issuer = TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await;
    let verifier = verifier();
    let not_before = |nbf: i64| move |claims: &mut Value| claims["nbf"] = json!(nbf);
    verify_with(&verifier, &issuer, not_before(NOW_SECONDS + 300), now())
        .await
        .unwrap();
    let result = verify_with(&verifier, &issuer, not_before(NOW_SECONDS + 301), now()).await;
    assert_aws_error(
        result,
        "InvalidIdentityToken",
        &format!(
            "Token not yet valid: current date/time {NOW_SECONDS} must be after the not-before date/time {}",
            NOW_SECONDS + 301
        ),
    );

    let issued_at = |iat: i64| move |claims: &mut Value| claims["iat"] = json!(iat);
    verify_with(&verifier, &issuer, issued_at(NOW_SECONDS + 300), now())
        .await
        .unwrap();
    let result = verify_with(&verifier, &issuer, issued_at(NOW_SECONDS + 301), now()).await;
    assert_aws_error(
        result,
        "InvalidIdentityToken",
        &format!(
            "Token issued in the future: current date/time {NOW_SECONDS} must be after the issued-at date/time {}",
            NOW_SECONDS + 301
        ),
    );
    let result = verify_with(&verifier, &issuer, issued_at(i64::MAX), now()).await;
    assert_eq!(result.unwrap_err().aws_code(), "InvalidIdentityToken");
}

#[tokio::test]
async fn a_maximum_age_is_off_by_default_and_enforced_when_set() {
    let issuer = TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await;
    let old = |claims: &mut Value| {
        claims["iat"] = json!(NOW_SECONDS - 441_398);
        claims["exp"] = json!(NOW_SECONDS + 600);
    };
    verify_with(&verifier(), &issuer, old, now()).await.unwrap();
    let strict = TokenVerifier::new(VerifierConfig {
        max_token_age: Some(Duration::from_secs(24 * 3600)),
        ..VerifierConfig::default()
    });
    let result = verify_with(&strict, &issuer, old, now()).await;
    assert_aws_error(result, "ExpiredTokenException", "Token too old: 441398");
}

#[tokio::test]
async fn the_signature_is_checked_before_the_times() {
    let issuer = TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await;
    let mut token_claims = claims(&issuer.issuer);
    token_claims["exp"] = json!(0);
    let forged = token(&token_claims, other_rsa_key(), Some(RSA_KID));
    let result = check(&verifier(), &forged, now()).await;
    assert_aws_error(result, "InvalidIdentityToken", INVALID_TOKEN_MESSAGE);
}
