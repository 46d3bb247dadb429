//! Verification with PyJWT's `PyJWKClient`, the way Python relying parties verify CircleCI
//! tokens: discovery → `jwks_uri` → key by `kid` → RS256 with `iss`, `aud` and `exp` checked.
//! The interpreter (with PyJWT and cryptography installed) comes from `$KEYLESS_PYTHON`.

use serde_json::json;

use crate::support::{ACME_ORG_ID, TestServer};

const VERIFY_SCRIPT: &str = r#"
import json, sys, urllib.request
import jwt

token, audience = sys.argv[1], sys.argv[2]
issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
with urllib.request.urlopen(issuer + "/.well-known/openid-configuration") as response:
    discovery = json.load(response)
assert discovery["issuer"] == issuer, (discovery["issuer"], issuer)
client = jwt.PyJWKClient(discovery["jwks_uri"])
key = client.get_signing_key_from_jwt(token)
try:
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer,
                        options={"require": ["exp", "iat", "iss", "aud", "sub"]})
except jwt.InvalidTokenError as error:
    print(json.dumps({"error": type(error).__name__}))
    sys.exit(3)
print(json.dumps(claims))
"#;

fn python() -> String {
    std::env::var("KEYLESS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "KEYLESS_PYTHON is not set: point it at a Python interpreter with PyJWT and \
             cryptography installed (cargo xtask test sets it), e.g. KEYLESS_PYTHON=/path/to/venv/bin/python"
        )
    })
}

/// Runs the script; returns its exit code and parsed output.
async fn pyjwt_verify(token: &str, audience: &str) -> (i32, serde_json::Value) {
    let output = tokio::process::Command::new(python())
        .arg("-c")
        .arg(VERIFY_SCRIPT)
        .arg(token)
        .arg(audience)
        .output()
        .await
        .expect("running $KEYLESS_PYTHON");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "PyJWT script failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), parsed)
}

#[tokio::test]
async fn pyjwt_jwk_client_verifies_tokens_from_discovery() {
    let server = TestServer::start().await;
    let job = server.start_acme_job(json!({})).await;
    for token in ["oidc_token", "oidc_token_v2"] {
        let (code, claims) = pyjwt_verify(job[token].as_str().unwrap(), ACME_ORG_ID).await;
        assert_eq!(code, 0, "{claims}");
        assert_eq!(claims["iss"], server.acme_issuer());
        assert_eq!(claims["oidc.circleci.com/job-id"], job["job_id"]);
    }
    let path = format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap());
    let (_, root) = server
        .call(
            "POST",
            &path,
            job["job_secret"].as_str(),
            Some(json!({"aud": "sigstore", "root_issuer": true})),
        )
        .await;
    let (code, claims) = pyjwt_verify(root["token"].as_str().unwrap(), "sigstore").await;
    assert_eq!(
        (code, claims["iss"].as_str()),
        (0, Some(server.base.as_str()))
    );

    let (code, outcome) =
        pyjwt_verify(job["oidc_token"].as_str().unwrap(), "sts.amazonaws.com").await;
    assert_eq!(
        (code, outcome),
        (3, json!({"error": "InvalidAudienceError"}))
    );
    let negative = format!(
        "/api/v1/admin/jobs/{}/negative-tokens",
        job["job_id"].as_str().unwrap()
    );
    let (_, expired) = server
        .admin("POST", &negative, Some(json!({"kind": "expired"})))
        .await;
    let (code, outcome) = pyjwt_verify(expired["token"].as_str().unwrap(), ACME_ORG_ID).await;
    assert_eq!(
        (code, outcome),
        (3, json!({"error": "ExpiredSignatureError"}))
    );
}
