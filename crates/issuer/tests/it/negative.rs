//! The negative-token factory: each kind is refused by a verifier working from discovery, for
//! the reason it advertises, while the job's genuine token verifies.

use jsonwebtoken::errors::ErrorKind;
use serde_json::json;

use crate::support::{
    ACME_ORG_ID, TestServer, VerifyError, peek_claims, peek_header, verify_from_discovery,
};

#[tokio::test]
async fn every_negative_token_is_refused_for_its_reason() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    verify_from_discovery(
        &server.client,
        job["oidc_token_v2"].as_str().unwrap(),
        ACME_ORG_ID,
    )
    .await
    .unwrap();
    let path = format!(
        "/api/v1/admin/jobs/{}/negative-tokens",
        job["job_id"].as_str().unwrap()
    );
    let kinds = [
        "expired",
        "not_yet_valid",
        "wrong_aud",
        "wrong_iss",
        "unknown_kid",
        "bad_signature",
        "alg_none",
        "hs256_public_key",
    ];
    for kind in kinds {
        let (status, negative) = server
            .admin("POST", &path, Some(json!({"kind": kind})))
            .await;
        assert_eq!(status, 200, "{kind}: {negative}");
        assert_eq!(negative["kind"], kind);
        assert!(!negative["description"].as_str().unwrap().is_empty());
        let token = negative["token"].as_str().unwrap();
        let outcome = verify_from_discovery(&server.client, token, ACME_ORG_ID).await;
        let token_kid = peek_header(token)["kid"].as_str().map(str::to_owned);
        let refused_for_its_reason = match (kind, &outcome) {
            ("wrong_iss", Err(VerifyError::Discovery(message))) => message.contains("404"),
            ("unknown_kid", Err(VerifyError::UnknownKid(kid))) => Some(kid) == token_kid.as_ref(),
            _ => matches!(
                (kind, &outcome),
                (
                    "expired",
                    Err(VerifyError::Jwt(ErrorKind::ExpiredSignature))
                ) | (
                    "not_yet_valid",
                    Err(VerifyError::Jwt(ErrorKind::ImmatureSignature))
                ) | (
                    "wrong_aud",
                    Err(VerifyError::Jwt(ErrorKind::InvalidAudience))
                ) | (
                    "bad_signature",
                    Err(VerifyError::Jwt(ErrorKind::InvalidSignature))
                ) | ("alg_none" | "hs256_public_key", Err(VerifyError::Jwt(_)))
            ),
        };
        assert!(refused_for_its_reason, "{kind}: {outcome:?}");
    }
    let none = server
        .admin("POST", &path, Some(json!({"kind": "alg_none"})))
        .await
        .1;
    let token = none["token"].as_str().unwrap();
    assert!(token.ends_with('.'), "empty signature");
    assert_eq!(peek_header(token)["alg"], "none");
    let hs = server
        .admin("POST", &path, Some(json!({"kind": "hs256_public_key"})))
        .await
        .1;
    assert_eq!(peek_header(hs["token"].as_str().unwrap())["alg"], "HS256");
    let wrong_iss = server
        .admin("POST", &path, Some(json!({"kind": "wrong_iss"})))
        .await
        .1;
    assert_ne!(
        peek_claims(wrong_iss["token"].as_str().unwrap())["iss"],
        server.acme_issuer()
    );

    let (status, body) = server
        .admin("POST", &path, Some(json!({"kind": "forged"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_json")));
    let (status, body) = server
        .admin(
            "POST",
            "/api/v1/admin/jobs/00000000-0000-4000-8000-000000000000/negative-tokens",
            Some(json!({"kind": "expired"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("job_not_found"))
    );
    let (status, body) = server
        .call(
            "POST",
            &path,
            Some(job["job_secret"].as_str().unwrap()),
            Some(json!({"kind": "expired"})),
        )
        .await;
    assert_eq!(status, 403, "a job secret is not the admin token: {body}");
    let (_, audit) = server
        .admin("GET", "/api/v1/admin/audit?limit=1000", None)
        .await;
    let negatives = audit["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|record| record["kind"].as_str().unwrap().starts_with("negative:"))
        .count();
    assert_eq!(
        negatives,
        kinds.len() + 3,
        "negative tokens are audited too"
    );
}
