//! A CircleCI-like OIDC issuer for STS tests: RSA keys generated in the test, discovery and
//! key set served by wiremock, tokens minted with any claims; plus a keyless-sts fixture with a
//! provider for that issuer (reached through `--issuer-map`) and a CircleCI deploy role.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_sts::config::Config;
use keyless_sts::verify::IssuerMapping;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{TestServer, element, form, iam_call};

/// The organisation every test token belongs to.
pub const ORG: &str = "11111111-2222-3333-4444-555555555555";
/// The project of the default token.
pub const PROJECT: &str = "66666666-7777-8888-9999-000000000000";
/// The user of the default token.
pub const USER: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The public issuer (what tokens and the provider say).
pub const PUBLIC_ISSUER: &str =
    "https://oidc.circleci.com/org/11111111-2222-3333-4444-555555555555";
/// The provider URL (issuer without scheme).
pub const PROVIDER_URL: &str = "oidc.circleci.com/org/11111111-2222-3333-4444-555555555555";
/// The provider ARN in the default account.
pub const PROVIDER_ARN: &str = "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/11111111-2222-3333-4444-555555555555";
/// The deploy role (with a path, which assumed-role ARNs leave out).
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ci/circleci-deploy";

/// The V1 subject of the default token.
pub fn subject() -> String {
    format!("org/{ORG}/project/{PROJECT}/user/{USER}")
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key with its `kid`.
pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        SigningKey {
            kid: kid.to_owned(),
            pair: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// An RS256 JWT with these claims.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(&header).unwrap()),
            b64(serde_json::to_vec(claims).unwrap())
        );
        format!("{input}.{}", b64(self.signature_over(&input)))
    }

    /// The RS256 signature of an arbitrary signing input (hostile tokens build their own).
    pub fn signature_over(&self, input: &str) -> Vec<u8> {
        let mut signature_bytes = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature_bytes,
            )
            .unwrap();
        signature_bytes
    }

    /// The public key as PKCS#1 DER (what an HMAC-confusion attacker would key with).
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// Claims of a CircleCI V1 token for the default project, valid for an hour from now.
pub fn claims() -> Map<String, Value> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    json!({
        "iss": PUBLIC_ISSUER,
        "sub": subject(),
        "aud": ORG,
        "iat": now,
        "exp": now + 3600,
        "oidc.circleci.com/project-id": PROJECT,
        "oidc.circleci.com/context-ids": [],
    })
    .as_object()
    .unwrap()
    .clone()
}

/// The issuer: a wiremock server answering discovery and keys for the organisation path.
pub struct Issuer {
    pub mock: MockServer,
    pub key: SigningKey,
}

impl Issuer {
    /// Starts an issuer publishing one key.
    pub async fn start() -> Issuer {
        let issuer = Issuer {
            mock: MockServer::start().await,
            key: SigningKey::generate("key-1"),
        };
        issuer.serve_discovery().await;
        issuer.publish(&[issuer.key.jwk()]).await;
        issuer
    }

    /// The organisation path below the mock.
    pub fn org_path() -> String {
        format!("/org/{ORG}")
    }

    async fn serve_discovery(&self) {
        Mock::given(method("GET"))
            .and(path(format!(
                "{}/.well-known/openid-configuration",
                Issuer::org_path()
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": PUBLIC_ISSUER,
                "jwks_uri": format!("{PUBLIC_ISSUER}/.well-known/jwks-pub.json"),
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
            })))
            .mount(&self.mock)
            .await;
    }

    /// The key-set path.
    pub fn jwks_path() -> String {
        format!("{}/.well-known/jwks-pub.json", Issuer::org_path())
    }

    /// Replaces whatever the key set answers with these keys.
    pub async fn publish(&self, keys: &[Value]) {
        self.answer_jwks(ResponseTemplate::new(200).set_body_json(json!({"keys": keys})))
            .await;
    }

    /// Replaces whatever the key set answers with `response`.
    pub async fn answer_jwks(&self, response: ResponseTemplate) {
        self.mock.reset().await;
        self.serve_discovery().await;
        Mock::given(method("GET"))
            .and(path(Issuer::jwks_path()))
            .respond_with(response)
            .mount(&self.mock)
            .await;
    }

    /// `--issuer-map https://oidc.circleci.com=<mock>`.
    pub fn mapping(&self) -> IssuerMapping {
        format!("https://oidc.circleci.com={}", self.mock.uri())
            .parse()
            .unwrap()
    }

    /// A token with the default claims changed by `edit`.
    pub fn token_with(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = claims();
        edit(&mut claims);
        self.key.sign(&Value::Object(claims))
    }

    /// A valid default token.
    pub fn token(&self) -> String {
        self.token_with(|_| {})
    }
}

/// The CircleCI project-scoped trust policy of the deploy role.
pub fn deploy_policy() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {format!("{PROVIDER_URL}:aud"): ORG},
                "StringLike": {format!("{PROVIDER_URL}:sub"): format!("org/{ORG}/project/{PROJECT}/user/*")}
            }
        }]
    })
    .to_string()
}

/// keyless-sts with the issuer mapped, the provider and the deploy role created.
pub struct Fixture {
    pub issuer: Issuer,
    pub server: TestServer,
}

/// A config whose verifier reaches `issuer` through the issuer map, with a short fetch
/// timeout and no refetch delay (so rotation and fault tests run fast).
pub fn config_for(issuer: &Issuer) -> Config {
    let mut config = Config::in_memory();
    config.verifier.issuer_map = vec![issuer.mapping()];
    config.verifier.fetch_timeout = Duration::from_millis(1500);
    config.verifier.min_refetch_interval = Duration::ZERO;
    config
}

impl Fixture {
    pub async fn start() -> Fixture {
        let issuer = Issuer::start().await;
        let config = config_for(&issuer);
        Fixture::with_config(issuer, config).await
    }

    pub async fn with_config(issuer: Issuer, config: Config) -> Fixture {
        let server = TestServer::start(config).await;
        create_provider_and_role(&server).await;
        Fixture { issuer, server }
    }
}

/// Creates the CircleCI provider and the deploy role (path `/ci/`).
pub async fn create_provider_and_role(server: &TestServer) {
    let (status, body) = iam_call(
        server,
        &[
            ("Action", "CreateOpenIDConnectProvider"),
            ("Version", "2010-05-08"),
            ("Url", PUBLIC_ISSUER),
            ("ClientIDList.member.1", ORG),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    create_role(server, "circleci-deploy", "/ci/", &deploy_policy()).await;
}

/// Creates a role.
pub async fn create_role(server: &TestServer, name: &str, role_path: &str, policy: &str) {
    let (status, body) = iam_call(
        server,
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("Path", role_path),
            ("AssumeRolePolicyDocument", policy),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// An answer: status, body, and the RequestId.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn element(&self, name: &str) -> Option<&str> {
        element(&self.body, name)
    }

    pub fn request_id(&self) -> String {
        self.element("RequestId").unwrap().to_owned()
    }

    /// Asserts an error's status, code and exact message.
    pub fn assert_error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.element("Code"), Some(code), "{}", self.body);
        assert_eq!(
            self.element("Message").map(unescape),
            Some(message.to_owned()),
            "{}",
            self.body
        );
    }
}

/// Undoes the XML escaping of text.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// An unsigned STS POST.
pub async fn sts_call(server: &TestServer, pairs: &[(&str, &str)]) -> Answer {
    let response = reqwest::Client::new()
        .post(server.url())
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}

/// AssumeRoleWithWebIdentity for the deploy role with `token` and extra parameters.
pub async fn assume(server: &TestServer, token: &str, extra: &[(&str, &str)]) -> Answer {
    let mut pairs = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "circleci-job-42"),
        ("WebIdentityToken", token),
    ];
    for (name, value) in extra {
        pairs.retain(|(existing, _)| existing != name);
        pairs.push((name, value));
    }
    sts_call(server, &pairs).await
}

/// Fetches JSON from a `/_keyless` endpoint.
pub async fn get_json(server: &TestServer, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path_and_query}", server.url()))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// AssumeRoleWithWebIdentity of the deploy role at `url` as `session_name`, without borrowing
/// a fixture (for spawned tasks). Panics if the connection is dropped without an answer.
pub async fn assume_at(url: &str, token: &str, session_name: &str) -> Answer {
    let body = crate::support::form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", session_name),
        ("WebIdentityToken", token),
    ]);
    let response = reqwest::Client::new()
        .post(url)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body)
        .send()
        .await
        .expect("every call is answered (no dropped connection)");
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}
