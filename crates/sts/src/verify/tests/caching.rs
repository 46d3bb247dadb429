//! The key cache against wiremock: `Cache-Control` freshness and its clamps, key rotation,
//! rate-limited refetches for unknown kids and failing issuers, and coalesced concurrent misses.

use std::time::Duration;

use serde_json::json;

use super::super::KEY_RETRIEVAL_MESSAGE;
use super::*;

const INVALID: &str = "InvalidIdentityToken";

#[tokio::test]
async fn keys_are_cached_for_the_cache_control_max_age() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(Some(2)).await;
    issuer
        .mount_jwks(
            &[rsa_key().jwk(RSA_KID)],
            Some("public, max-age=120"),
            Some(2),
        )
        .await;
    let verifier = verifier();
    let token = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    for seconds in [0, 1, 60, 119] {
        check(&verifier, &token, at(seconds)).await.unwrap();
    }
    assert_eq!(issuer.jwks_requests().await, 1);
    for seconds in [121, 200, 240] {
        check(&verifier, &token, at(seconds)).await.unwrap();
    }
    issuer.server.verify().await;
}

#[tokio::test]
async fn cache_control_is_clamped_and_defaulted() {
    let token_for = |issuer: &TestIssuer| token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    for (cache_control, still_cached, refetched) in [
        (Some("no-store"), 29, 31),
        (Some("max-age=0"), 29, 31),
        (Some("max-age=86400"), 299, 301),
        (None, 99, 101),
    ] {
        // wiremock reuses servers (and ports), so each case gets its own verifier.
        let verifier = TokenVerifier::new(VerifierConfig {
            min_cache_ttl: Duration::from_secs(30),
            max_cache_ttl: Duration::from_secs(300),
            default_cache_ttl: Duration::from_secs(100),
            ..VerifierConfig::default()
        });
        let issuer = TestIssuer::start().await;
        issuer.mount_discovery(None).await;
        issuer
            .mount_jwks(&[rsa_key().jwk(RSA_KID)], cache_control, Some(2))
            .await;
        for seconds in [0, still_cached, refetched] {
            check(&verifier, &token_for(&issuer), at(seconds))
                .await
                .unwrap();
        }
        issuer.server.verify().await;
    }
}

#[tokio::test]
async fn a_rotated_key_is_found_by_one_refetch() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [rsa_key().jwk(RSA_KID)]})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&issuer.server)
        .await;
    issuer
        .mount_jwks(
            &[rsa_key().jwk(RSA_KID), other_rsa_key().jwk("rotated")],
            None,
            Some(1),
        )
        .await;
    let verifier = verifier();
    let old = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    let new = token(&claims(&issuer.issuer), other_rsa_key(), Some("rotated"));
    check(&verifier, &old, now()).await.unwrap();
    // Within the refetch interval the new kid is not looked for again…
    assert_aws_error(
        check(&verifier, &new, at(1)).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
    // …after it, one refetch finds it, and both keys verify from the cache.
    check(&verifier, &new, at(6)).await.unwrap();
    check(&verifier, &old, at(7)).await.unwrap();
    check(&verifier, &new, at(8)).await.unwrap();
    issuer.server.verify().await;
}

#[tokio::test]
async fn a_flood_of_unknown_kids_is_one_refetch_per_interval() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(Some(3)).await;
    issuer
        .mount_jwks(&[rsa_key().jwk(RSA_KID)], None, Some(3))
        .await;
    let verifier = verifier();
    check(
        &verifier,
        &token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID)),
        now(),
    )
    .await
    .unwrap();
    for round in 0..2 {
        for index in 0..100 {
            let kid = format!("unknown-{round}-{index}");
            let token = token(&claims(&issuer.issuer), rsa_key(), Some(&kid));
            let when = at(10 + 10 * round + index % 4);
            assert_aws_error(
                check(&verifier, &token, when).await,
                INVALID,
                KEY_RETRIEVAL_MESSAGE,
            );
        }
    }
    issuer.server.verify().await;
}

#[tokio::test]
async fn a_failing_issuer_is_asked_once_per_interval() {
    let issuer = TestIssuer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(2)
        .mount(&issuer.server)
        .await;
    let verifier = verifier();
    let token = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    for seconds in [0, 1, 2, 4, 6, 7, 8] {
        let detail = assert_aws_error(
            check(&verifier, &token, at(seconds)).await,
            INVALID,
            KEY_RETRIEVAL_MESSAGE,
        )
        .detail();
        assert!(detail.contains("500"), "{detail}");
    }
    issuer.server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_fetch() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(Some(1)).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"keys": [rsa_key().jwk(RSA_KID)]}))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&issuer.server)
        .await;
    let verifier = verifier();
    let token = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let verifier = verifier.clone();
        let token = token.clone();
        tasks.spawn(async move { check(&verifier, &token, now()).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    issuer.server.verify().await;
}

/// Compiles only if `value` can move between threads.
fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test]
async fn verification_futures_are_send_so_handlers_can_await_them() {
    let issuer = TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await;
    let verifier = verifier();
    let parsed = parse_token(&token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID))).unwrap();
    let shared = std::sync::Arc::new(assert_send(verifier.clone()));
    assert_send(shared.verify(&parsed, now())).await.unwrap();
    let spawned = tokio::spawn(async move { verifier.verify(&parsed, now()).await });
    spawned.await.unwrap().unwrap();
}
