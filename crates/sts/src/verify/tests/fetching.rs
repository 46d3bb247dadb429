//! Discovery and key-set fetching through wiremock: every algorithm verifying, issuer faults
//! (status, timeout, malformed JSON, mismatched issuer, size limits), skipped keys and the issuer
//! map.

use std::time::Duration;

use serde_json::json;

use super::super::{IssuerMapping, KEY_RETRIEVAL_MESSAGE};
use super::*;

const INVALID: &str = "InvalidIdentityToken";

/// Mounts `body` with `status` at the discovery path.
async fn mount_discovery_response(issuer: &TestIssuer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/openid-configuration")))
        .respond_with(response)
        .mount(&issuer.server)
        .await;
}

/// Asserts the retrieval error and returns its detail.
async fn retrieval_failure(verifier: &TokenVerifier, issuer: &TestIssuer) -> String {
    let token = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    assert_aws_error(
        check(verifier, &token, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    )
    .detail()
}

#[tokio::test]
async fn every_accepted_algorithm_verifies() {
    let issuer = TestIssuer::serving(&[
        rsa_key().jwk(RSA_KID),
        ec_key(Algorithm::Es256).jwk("p256"),
        ec_key(Algorithm::Es384).jwk("p384"),
        ec_key(Algorithm::Es512).jwk("p521"),
    ])
    .await;
    let verifier = verifier();
    let payload = claims(&issuer.issuer).to_string();
    for algorithm in [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512] {
        let header = json!({"alg": algorithm.name(), "kid": RSA_KID}).to_string();
        let token = sign_raw(&header, &payload, rsa_key(), algorithm);
        check(&verifier, &token, now()).await.unwrap();
    }
    for (algorithm, kid) in [
        (Algorithm::Es256, "p256"),
        (Algorithm::Es384, "p384"),
        (Algorithm::Es512, "p521"),
    ] {
        let token = token(&claims(&issuer.issuer), ec_key(algorithm), Some(kid));
        check(&verifier, &token, now()).await.unwrap();
    }
    // A JWK `alg` restricts the key to that algorithm.
    let mut restricted = rsa_key().jwk("restricted");
    restricted.alg = Some("RS512".into());
    let issuer = TestIssuer::serving(&[restricted]).await;
    let header = json!({"alg": "RS256", "kid": "restricted"}).to_string();
    let token = sign_raw(
        &header,
        &claims(&issuer.issuer).to_string(),
        rsa_key(),
        Algorithm::Rs256,
    );
    assert_aws_error(
        check(&verifier, &token, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
}

#[tokio::test]
async fn issuer_faults_become_the_retrieval_error() {
    let verifier = verifier();

    let failing = TestIssuer::start().await;
    failing.mount_discovery(None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&failing.server)
        .await;
    assert!(retrieval_failure(&verifier, &failing).await.contains("500"));

    let missing = TestIssuer::start().await;
    assert!(retrieval_failure(&verifier, &missing).await.contains("404"));

    let malformed_discovery = TestIssuer::start().await;
    mount_discovery_response(
        &malformed_discovery,
        ResponseTemplate::new(200).set_body_string("{\"issuer\":"),
    )
    .await;
    assert!(
        retrieval_failure(&verifier, &malformed_discovery)
            .await
            .contains("malformed")
    );

    let malformed_keys = TestIssuer::start().await;
    malformed_keys.mount_discovery(None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&malformed_keys.server)
        .await;
    assert!(
        retrieval_failure(&verifier, &malformed_keys)
            .await
            .contains("malformed")
    );

    let mismatched = TestIssuer::start().await;
    let mut discovery = mismatched.discovery();
    discovery["issuer"] = json!("https://oidc.circleci.com/org/someone-else");
    mount_discovery_response(
        &mismatched,
        ResponseTemplate::new(200).set_body_json(discovery),
    )
    .await;
    assert!(
        retrieval_failure(&verifier, &mismatched)
            .await
            .contains("names issuer")
    );

    let file_uri = TestIssuer::start().await;
    let mut discovery = file_uri.discovery();
    discovery["jwks_uri"] = json!("file:///etc/passwd");
    mount_discovery_response(
        &file_uri,
        ResponseTemplate::new(200).set_body_json(discovery),
    )
    .await;
    assert!(
        retrieval_failure(&verifier, &file_uri)
            .await
            .contains("not an http(s) URL")
    );

    let redirecting = TestIssuer::start().await;
    mount_discovery_response(
        &redirecting,
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:1/elsewhere"),
    )
    .await;
    assert!(
        retrieval_failure(&verifier, &redirecting)
            .await
            .contains("302")
    );

    let no_keys = TestIssuer::serving(&[]).await;
    assert!(
        retrieval_failure(&verifier, &no_keys)
            .await
            .contains("no RS256 key")
    );
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_retrieval_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let issuer = format!("http://{address}{ORG_PATH}");
    let token = token(&claims(&issuer), rsa_key(), Some(RSA_KID));
    let detail = assert_aws_error(
        check(&verifier(), &token, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    )
    .detail();
    // Another test may have bound the freed port meanwhile; either way the fetch of this URL
    // is what failed.
    assert!(
        detail.contains(&format!("GET http://{address}")),
        "{detail}"
    );
}

#[tokio::test]
async fn a_slow_issuer_times_out() {
    let issuer = TestIssuer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/openid-configuration")))
        .respond_with(ResponseTemplate::new(200).set_body_json(issuer.discovery()))
        .mount(&issuer.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"keys": [rsa_key().jwk(RSA_KID)]}))
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&issuer.server)
        .await;
    let verifier = TokenVerifier::new(VerifierConfig {
        fetch_timeout: Duration::from_millis(300),
        ..VerifierConfig::default()
    });
    let started = std::time::Instant::now();
    let detail = retrieval_failure(&verifier, &issuer).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the budget bounds the wait"
    );
    assert!(detail.contains("timed out"), "{detail}");
}

#[tokio::test]
async fn oversized_documents_and_key_sets_are_refused() {
    let verifier = TokenVerifier::new(VerifierConfig {
        max_discovery_bytes: 1024,
        max_keys_per_set: 3,
        ..VerifierConfig::default()
    });
    let big_discovery = TestIssuer::start().await;
    let mut discovery = big_discovery.discovery();
    discovery["padding"] = json!("x".repeat(2000));
    mount_discovery_response(
        &big_discovery,
        ResponseTemplate::new(200).set_body_json(discovery),
    )
    .await;
    assert!(
        retrieval_failure(&verifier, &big_discovery)
            .await
            .contains("larger than 1024")
    );

    let many_keys: Vec<Jwk> = (0..4)
        .map(|index| rsa_key().jwk(&format!("k{index}")))
        .collect();
    let crowded = TestIssuer::serving(&many_keys).await;
    assert!(
        retrieval_failure(&verifier, &crowded)
            .await
            .contains("4 keys")
    );
}

#[tokio::test]
async fn unusable_keys_are_skipped_and_the_others_still_work() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(None).await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [
            {"kty": "oct", "kid": "symmetric", "k": "c2VjcmV0"},
            {"kid": "no-type"},
            {"kty": "RSA", "kid": "bad-n", "n": 42, "e": "AQAB"},
            {"kty": "EC", "kid": "bad-curve", "crv": "P-192", "x": "AA", "y": "AA"},
            rsa_key().jwk(RSA_KID),
        ]})))
        .mount(&issuer.server)
        .await;
    let verifier = verifier();
    check(
        &verifier,
        &token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID)),
        now(),
    )
    .await
    .unwrap();
    let symmetric = token(&claims(&issuer.issuer), rsa_key(), Some("symmetric"));
    let error = assert_aws_error(
        check(&verifier, &symmetric, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
    assert!(error.detail().contains("key type \"oct\""), "{error}");
}

#[tokio::test]
async fn the_issuer_map_fetches_locally_while_identity_stays_public() {
    let server = MockServer::start().await;
    let public_issuer = format!("https://oidc.circleci.com{ORG_PATH}");
    let discovery = json!({
        "issuer": public_issuer,
        "jwks_uri": format!("{public_issuer}/.well-known/jwks-pub.json"),
    });
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/openid-configuration")))
        .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [rsa_key().jwk(RSA_KID)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mapping: IssuerMapping = format!("https://oidc.circleci.com={}", server.uri())
        .parse()
        .unwrap();
    let verifier = TokenVerifier::new(VerifierConfig {
        issuer_map: vec![mapping],
        ..VerifierConfig::default()
    });
    let token = token(&claims(&public_issuer), rsa_key(), Some(RSA_KID));
    let parsed = parse_token(&token).unwrap();
    assert_eq!(parsed.issuer, public_issuer, "the identity stays public");
    verifier.verify(&parsed, now()).await.unwrap();
    server.verify().await;

    // Without the mapping the public issuer is not reachable offline.
    let unmapped = verifier_without_map();
    assert_aws_error(
        unmapped.verify(&parsed, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
}

/// A verifier with no issuer map and a short budget.
fn verifier_without_map() -> TokenVerifier {
    TokenVerifier::new(VerifierConfig {
        fetch_timeout: Duration::from_millis(500),
        ..VerifierConfig::default()
    })
}

#[tokio::test]
async fn a_jwks_uri_on_another_host_is_fetched_as_published() {
    let keys_server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/keys"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"keys": [rsa_key().jwk(RSA_KID)]})),
        )
        .expect(1)
        .mount(&keys_server)
        .await;
    let issuer = TestIssuer::start().await;
    let mut discovery = issuer.discovery();
    discovery["jwks_uri"] = json!(format!("{}/keys", keys_server.uri()));
    mount_discovery_response(&issuer, ResponseTemplate::new(200).set_body_json(discovery)).await;
    let token = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    check(&verifier(), &token, now()).await.unwrap();
    keys_server.verify().await;
}
