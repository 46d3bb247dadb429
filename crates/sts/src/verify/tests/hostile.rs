//! Hostile tokens against a real (wiremock) issuer: algorithm confusion, attacker-supplied keys,
//! hostile `kid`s, forged or tampered signatures, degenerate ECDSA signatures and weak RSA keys.
//! Each asserts the exact AWS code and message.

use aws_lc_rs::hmac;
use base64::Engine as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::json;
use wiremock::matchers::any;

use super::super::{INVALID_TOKEN_MESSAGE, KEY_RETRIEVAL_MESSAGE};
use super::*;

const INVALID: &str = "InvalidIdentityToken";

/// An issuer publishing the main RSA key under [`RSA_KID`].
async fn rsa_issuer() -> TestIssuer {
    TestIssuer::serving(&[rsa_key().jwk(RSA_KID)]).await
}

/// An HS* token whose MAC key is `secret` (e.g. the issuer's public key in some encoding).
fn hmac_token(issuer: &str, alg: &str, secret: &[u8]) -> String {
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    };
    let input = signing_input(
        &json!({"alg": alg, "kid": RSA_KID}).to_string(),
        &claims(issuer).to_string(),
    );
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[tokio::test]
async fn hmac_tokens_keyed_with_the_public_key_are_refused_before_any_fetch() {
    let issuer = TestIssuer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&issuer.server)
        .await;
    let der = rsa_key().public_der();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    let jwk = serde_json::to_vec(&rsa_key().jwk(RSA_KID)).unwrap();
    let verifier = verifier();
    for secret in [pem.as_bytes(), &der, &jwk] {
        for alg in ["HS256", "HS384", "HS512"] {
            let token = hmac_token(&issuer.issuer, alg, secret);
            let error = assert_aws_error(
                check(&verifier, &token, now()).await,
                INVALID,
                INVALID_TOKEN_MESSAGE,
            );
            assert!(error.detail().contains("not accepted"), "{error}");
        }
    }
    issuer.server.verify().await;
}

#[tokio::test]
async fn none_algorithms_in_any_casing_are_refused() {
    let issuer = rsa_issuer().await;
    let verifier = verifier();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let input = signing_input(
            &json!({"alg": alg}).to_string(),
            &claims(&issuer.issuer).to_string(),
        );
        for token in [format!("{input}."), format!("{input}.{}", b64(b"x"))] {
            assert_aws_error(
                check(&verifier, &token, now()).await,
                INVALID,
                INVALID_TOKEN_MESSAGE,
            );
        }
    }
    assert_eq!(issuer.jwks_requests().await, 0);
}

#[tokio::test]
async fn key_bearing_headers_never_introduce_a_key() {
    let issuer = rsa_issuer().await;
    let attacker = MockServer::start().await;
    let attacker_jwk = other_rsa_key().jwk("attacker");
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [attacker_jwk]})))
        .expect(0)
        .mount(&attacker)
        .await;
    let attacker_url = format!("{}/jwks.json", attacker.uri());
    let embedded = serde_json::to_value(&attacker_jwk).unwrap();
    let verifier = verifier();
    for (name, value) in [
        ("jku", json!(attacker_url)),
        ("x5u", json!(attacker_url)),
        ("jwk", embedded),
        ("x5c", json!([b64(other_rsa_key().public_der())])),
    ] {
        for (kid, expected) in [
            ("attacker", KEY_RETRIEVAL_MESSAGE),
            (RSA_KID, INVALID_TOKEN_MESSAGE),
        ] {
            let header = json!({"alg": "RS256", "kid": kid, name: value});
            let token = sign_raw(
                &header.to_string(),
                &claims(&issuer.issuer).to_string(),
                other_rsa_key(),
                Algorithm::Rs256,
            );
            assert_aws_error(check(&verifier, &token, now()).await, INVALID, expected);
        }
    }
    attacker.verify().await;
}

#[tokio::test]
async fn hostile_kids_are_only_ever_map_keys() {
    let issuer = TestIssuer::start().await;
    issuer.mount_discovery(Some(2)).await;
    issuer
        .mount_jwks(&[rsa_key().jwk(RSA_KID)], None, Some(2))
        .await;
    let verifier = verifier();
    let genuine = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    check(&verifier, &genuine, now()).await.unwrap();
    let long_kid = "k".repeat(10_000);
    for kid in [
        "../../../../etc/passwd",
        "..%2f..%2fjwks",
        "http://127.0.0.1:1/evil",
        long_kid.as_str(),
        "kid\u{0}with\nnul\r\u{1b}[31m",
        "",
        " rsa-key-1",
        "RSA-KEY-1",
    ] {
        let token = token(&claims(&issuer.issuer), rsa_key(), Some(kid));
        let error = assert_aws_error(
            check(&verifier, &token, at(10)).await,
            INVALID,
            KEY_RETRIEVAL_MESSAGE,
        );
        assert!(
            !error.detail().contains('\u{0}'),
            "details escape control characters"
        );
        assert!(
            error.detail().len() < 400,
            "details shorten long kids: {}",
            error.detail().len()
        );
    }
    // The genuine token fetched; once the refetch interval had passed, the first unknown kid
    // refetched once and the rest were rate-limited.
    issuer.server.verify().await;
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_key_and_refuses_ambiguity() {
    let single = rsa_issuer().await;
    let verifier = verifier();
    let token_without_kid = token(&claims(&single.issuer), rsa_key(), None);
    check(&verifier, &token_without_kid, now()).await.unwrap();

    let several =
        TestIssuer::serving(&[rsa_key().jwk(RSA_KID), other_rsa_key().jwk("second")]).await;
    let token_without_kid = token(&claims(&several.issuer), rsa_key(), None);
    let error = assert_aws_error(
        check(&verifier, &token_without_kid, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
    assert!(error.detail().contains("several"), "{error}");

    // A key of another type does not count: one RSA key beside an EC key is unambiguous.
    let mixed =
        TestIssuer::serving(&[rsa_key().jwk(RSA_KID), ec_key(Algorithm::Es256).jwk("ec")]).await;
    check(
        &verifier,
        &token(&claims(&mixed.issuer), rsa_key(), None),
        now(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn foreign_empty_and_tampered_signatures_are_refused() {
    let issuer = rsa_issuer().await;
    let verifier = verifier();
    let genuine = token(&claims(&issuer.issuer), rsa_key(), Some(RSA_KID));
    check(&verifier, &genuine, now()).await.unwrap();
    let (input, _) = genuine.rsplit_once('.').unwrap();

    let foreign = token(&claims(&issuer.issuer), other_rsa_key(), Some(RSA_KID));
    let error = assert_aws_error(
        check(&verifier, &foreign, now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );
    assert_eq!(
        error,
        TokenError::BadSignature {
            kid: Some(RSA_KID.into())
        }
    );

    let mut other_claims = claims(&issuer.issuer);
    other_claims["sub"] = json!("org/x/project/y/user/z");
    let other_token = token(&other_claims, rsa_key(), Some(RSA_KID));
    let (_, other_signature) = other_token.rsplit_once('.').unwrap();
    let transplanted = format!("{input}.{other_signature}");
    assert_aws_error(
        check(&verifier, &transplanted, now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );

    assert_aws_error(
        check(&verifier, &format!("{input}."), now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );
    let zeros = format!("{input}.{}", b64([0u8; 256]));
    assert_aws_error(
        check(&verifier, &zeros, now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );

    let (header, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered_payload = b64(other_claims.to_string());
    let tampered = format!("{header}.{tampered_payload}.{signature}");
    let error = assert_aws_error(
        check(&verifier, &tampered, now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );
    assert!(matches!(error, TokenError::BadSignature { .. }));
}

#[tokio::test]
async fn a_key_of_another_type_cannot_verify() {
    let issuer = TestIssuer::serving(&[
        rsa_key().jwk(RSA_KID),
        ec_key(Algorithm::Es256).jwk("ec-key"),
    ])
    .await;
    let verifier = verifier();
    // ES256 header naming the RSA key, and RS384 header naming the EC key.
    let es_on_rsa = sign_raw(
        &json!({"alg": "ES256", "kid": RSA_KID}).to_string(),
        &claims(&issuer.issuer).to_string(),
        ec_key(Algorithm::Es256),
        Algorithm::Es256,
    );
    assert_aws_error(
        check(&verifier, &es_on_rsa, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
    let rs_on_ec = sign_raw(
        &json!({"alg": "RS384", "kid": "ec-key"}).to_string(),
        &claims(&issuer.issuer).to_string(),
        rsa_key(),
        Algorithm::Rs384,
    );
    assert_aws_error(
        check(&verifier, &rs_on_ec, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
}

#[tokio::test]
async fn ecdsa_signatures_with_a_zero_half_are_refused() {
    for algorithm in [Algorithm::Es256, Algorithm::Es384, Algorithm::Es512] {
        let key = ec_key(algorithm);
        let issuer = TestIssuer::serving(&[key.jwk("ec")]).await;
        let verifier = verifier();
        let genuine = token(&claims(&issuer.issuer), key, Some("ec"));
        check(&verifier, &genuine, now()).await.unwrap();
        let (input, signature) = genuine.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let half = signature.len() / 2;
        let mut zero_r = signature.clone();
        zero_r[..half].fill(0);
        let mut zero_s = signature.clone();
        zero_s[half..].fill(0);
        for forged in [zero_r, zero_s, vec![0; signature.len()]] {
            let token = format!("{input}.{}", b64(forged));
            assert_aws_error(
                check(&verifier, &token, now()).await,
                INVALID,
                INVALID_TOKEN_MESSAGE,
            );
        }
    }
}

/// A DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[tokio::test]
async fn an_rsa_key_under_2048_bits_is_never_used() {
    let weak = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let weak_jwk = Jwk {
        kid: Some("weak".into()),
        alg: None,
        ..Jwk::rsa_signing_key(&weak.n().to_bytes_be(), &weak.e().to_bytes_be(), "RS256")
    };
    let issuer = TestIssuer::serving(&[weak_jwk]).await;
    let input = signing_input(
        &json!({"alg": "RS256", "kid": "weak"}).to_string(),
        &claims(&issuer.issuer).to_string(),
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    let mut digest_info = SHA256_DIGEST_INFO.to_vec();
    digest_info.extend_from_slice(digest.as_ref());
    let signature = weak
        .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
        .unwrap();
    // The signature is genuine: the weak public key verifies it.
    weak.to_public_key()
        .verify(
            rsa::Pkcs1v15Sign::new_unprefixed(),
            &digest_info,
            &signature,
        )
        .unwrap();
    // A 1024-bit signature is too short for any acceptable key: refused before any fetch.
    let token = format!("{input}.{}", b64(&signature));
    let verifier = verifier();
    let error = assert_aws_error(
        check(&verifier, &token, now()).await,
        INVALID,
        INVALID_TOKEN_MESSAGE,
    );
    assert!(error.detail().contains("128 bytes"), "{error}");
    // A signature of acceptable size naming the weak key finds no usable key.
    let mut padded = vec![0; 256 - signature.len()];
    padded.extend_from_slice(&signature);
    let token = format!("{input}.{}", b64(&padded));
    let error = assert_aws_error(
        check(&verifier, &token, now()).await,
        INVALID,
        KEY_RETRIEVAL_MESSAGE,
    );
    assert!(error.detail().contains("1024 bits"), "{error}");
}

#[tokio::test]
async fn an_issuer_that_differs_from_discovery_is_refused() {
    let issuer = rsa_issuer().await;
    let verifier = verifier();
    for wrong in [
        format!("{}/", issuer.issuer),
        issuer.issuer.to_uppercase(),
        issuer.issuer.replacen("http://", "https://", 1),
    ] {
        let token = token(&claims(&wrong), rsa_key(), Some(RSA_KID));
        assert_aws_error(
            check(&verifier, &token, now()).await,
            INVALID,
            KEY_RETRIEVAL_MESSAGE,
        );
    }
}
