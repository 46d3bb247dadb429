//! Discovery documents and JWKS: exact issuer strings, the CircleCI field set, Cache-Control,
//! 404 for unknown orgs, and the root issuer.

use serde_json::json;

use crate::support::{ACME_ORG_ID, Options, TestServer};

#[tokio::test]
async fn org_discovery_document_names_the_org_issuer_exactly() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url(&format!(
            "/org/{ACME_ORG_ID}/.well-known/openid-configuration"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let document: serde_json::Value = response.json().await.unwrap();
    let issuer = server.acme_issuer();
    assert_eq!(document["issuer"], issuer.as_str());
    assert_eq!(
        document["jwks_uri"],
        format!("{issuer}/.well-known/jwks-pub.json")
    );
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(document["response_types_supported"], json!(["id_token"]));
    assert_eq!(
        document["subject_types_supported"],
        json!(["public", "pairwise"])
    );
    assert_eq!(document["scopes_supported"], json!(["openid"]));
    let claims: Vec<&str> = document["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|claim| claim.as_str().unwrap())
        .collect();
    for claim in [
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "oidc.circleci.com/project-id",
        "oidc.circleci.com/job-id",
        "oidc.circleci.com/vcs-origin",
    ] {
        assert!(
            claims.contains(&claim),
            "{claim} missing from claims_supported"
        );
    }
}

#[tokio::test]
async fn jwks_publishes_rsa_keys_by_thumbprint_with_cache_control() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url(&format!("/org/{ACME_ORG_ID}/.well-known/jwks-pub.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: keyless_claims::Jwks = response.json().await.unwrap();
    assert_eq!(
        jwks.keys.len(),
        2,
        "the active key and the pre-published next key"
    );
    for key in &jwks.keys {
        assert_eq!(key.kty, "RSA");
        assert_eq!(key.alg.as_deref(), Some("RS256"));
        assert_eq!(key.key_use.as_deref(), Some("sig"));
        assert_eq!(key.kid.as_deref(), Some(key.thumbprint().unwrap().as_str()));
        let modulus = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            key.n.as_ref().unwrap(),
        )
        .unwrap();
        assert_eq!(modulus.len() * 8, 2048, "RSA-2048");
    }
    let root: keyless_claims::Jwks = server
        .client
        .get(server.url("/.well-known/jwks-pub.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root, jwks, "one key set signs for every issuer");
}

#[tokio::test]
async fn unknown_or_malformed_org_is_404() {
    let server = TestServer::start().await;
    for org in [
        "00000000-0000-4000-8000-000000000000",
        "acme",
        "C9035EB6-6EB2-4C85-8A81-D9ED6A1D1D1E",
    ] {
        for document in ["openid-configuration", "jwks-pub.json"] {
            let (status, body) = server
                .call(
                    "GET",
                    &format!("/org/{org}/.well-known/{document}"),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, 404, "{org} {document}");
            assert_eq!(body["code"], "org_not_found");
        }
    }
    let (status, body) = server.call("GET", "/no/such/path", None, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server.call("POST", "/healthz", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn root_issuer_and_public_url_override() {
    let server = TestServer::start_with(Options {
        public_url: Some("https://oidc.circleci.com/".to_owned()),
        ..Options::default()
    })
    .await;
    let (status, root) = server
        .call("GET", "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        root["issuer"], "https://oidc.circleci.com",
        "no trailing slash"
    );
    assert_eq!(
        root["jwks_uri"],
        "https://oidc.circleci.com/.well-known/jwks-pub.json"
    );
    let (_, org) = server
        .call(
            "GET",
            &format!("/org/{ACME_ORG_ID}/.well-known/openid-configuration"),
            None,
            None,
        )
        .await;
    assert_eq!(
        org["issuer"],
        format!("https://oidc.circleci.com/org/{ACME_ORG_ID}")
    );
    let job = server.start_acme_job(json!({})).await;
    let claims = crate::support::peek_claims(job["oidc_token"].as_str().unwrap());
    assert_eq!(
        claims["iss"],
        format!("https://oidc.circleci.com/org/{ACME_ORG_ID}")
    );
}
