//! Shared fixtures for the verification tests: signing keys generated once per test binary,
//! token builders, and a wiremock issuer that serves discovery and a key set.

mod caching;
mod fetching;
mod hostile;
mod parsing;
mod property;
mod timing;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_claims::Jwk;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{Algorithm, TokenError, TokenVerifier, VerifierConfig, parse_token};

/// The tests' "now": 2025-11-26T00:36:40Z.
pub(super) const NOW_SECONDS: i64 = 1_764_117_400;

/// The path of the organisation issuer below the mock server.
pub(super) const ORG_PATH: &str = "/org/11111111-2222-3333-4444-555555555555";

/// The tests' clock, `seconds` after [`NOW_SECONDS`].
pub(super) fn at(seconds: i64) -> SystemTime {
    let absolute = u64::try_from(NOW_SECONDS + seconds).unwrap();
    UNIX_EPOCH + Duration::from_secs(absolute)
}

/// The tests' current time.
pub(super) fn now() -> SystemTime {
    at(0)
}

/// base64url without padding.
pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key that signs test tokens.
pub(super) enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, Algorithm),
}

impl Signer {
    fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    fn ec(algorithm: Algorithm) -> Self {
        let signing = match algorithm {
            Algorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Algorithm::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Algorithm::Es512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            other => panic!("{other:?} is not ECDSA"),
        };
        Self::Ec(EcdsaKeyPair::generate(signing).unwrap(), algorithm)
    }

    /// The natural algorithm of this key (RS256 for RSA).
    pub(super) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa(_) => Algorithm::Rs256,
            Self::Ec(_, algorithm) => *algorithm,
        }
    }

    /// Signs `message` with `algorithm` (which must suit the key).
    pub(super) fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match algorithm {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_SHA512,
                    other => panic!("{other:?} is not RSA"),
                };
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &SystemRandom::new(), message, &mut out)
                    .unwrap();
                out
            }
            Self::Ec(pair, _) => pair
                .sign(&SystemRandom::new(), message)
                .unwrap()
                .as_ref()
                .to_vec(),
        }
    }

    /// The public key as a JWK with `kid` (no `alg` member).
    pub(super) fn jwk(&self, kid: &str) -> Jwk {
        let mut jwk = match self {
            Self::Rsa(pair) => {
                let public = pair.public_key();
                Jwk::rsa_signing_key(
                    public.modulus().big_endian_without_leading_zero(),
                    public.exponent().big_endian_without_leading_zero(),
                    "RS256",
                )
            }
            Self::Ec(pair, algorithm) => {
                let point = pair.public_key().as_ref();
                let length = (point.len() - 1) / 2;
                let curve = match algorithm {
                    Algorithm::Es256 => "P-256",
                    Algorithm::Es384 => "P-384",
                    _ => "P-521",
                };
                Jwk {
                    kty: "EC".into(),
                    key_use: Some("sig".into()),
                    alg: None,
                    kid: None,
                    n: None,
                    e: None,
                    crv: Some(curve.into()),
                    x: Some(b64(&point[1..=length])),
                    y: Some(b64(&point[1 + length..])),
                }
            }
        };
        jwk.alg = None;
        jwk.kid = Some(kid.to_owned());
        jwk
    }

    /// The RSA public key as SubjectPublicKeyInfo DER (for HMAC-confusion tokens).
    pub(super) fn public_der(&self) -> Vec<u8> {
        match self {
            Self::Rsa(pair) => pair.public_key().as_der().unwrap().as_ref().to_vec(),
            Self::Ec(pair, _) => pair.public_key().as_ref().to_vec(),
        }
    }
}

/// The issuer's main RSA key, generated once.
pub(super) fn rsa_key() -> &'static Signer {
    static KEY: OnceLock<Signer> = OnceLock::new();
    KEY.get_or_init(Signer::rsa)
}

/// A second RSA key: the rotation target, or an attacker's key.
pub(super) fn other_rsa_key() -> &'static Signer {
    static KEY: OnceLock<Signer> = OnceLock::new();
    KEY.get_or_init(Signer::rsa)
}

/// An ECDSA key for `algorithm`, generated once per curve.
pub(super) fn ec_key(algorithm: Algorithm) -> &'static Signer {
    static P256: OnceLock<Signer> = OnceLock::new();
    static P384: OnceLock<Signer> = OnceLock::new();
    static P521: OnceLock<Signer> = OnceLock::new();
    let cell = match algorithm {
        Algorithm::Es256 => &P256,
        Algorithm::Es384 => &P384,
        _ => &P521,
    };
    cell.get_or_init(|| Signer::ec(algorithm))
}

/// Standard claims for `issuer`: issued a minute ago, valid ten more minutes.
pub(super) fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "sub": "org/11111111-2222-3333-4444-555555555555/project/66666666-7777-8888-9999-000000000000/user/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "aud": "11111111-2222-3333-4444-555555555555",
        "iat": NOW_SECONDS - 60,
        "exp": NOW_SECONDS + 600,
        "oidc.circleci.com/project-id": "66666666-7777-8888-9999-000000000000",
    })
}

/// `base64url(header).base64url(payload)` from raw JSON text.
pub(super) fn signing_input(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header), b64(payload))
}

/// A compact token over raw header and payload text, signed by `signer` with `algorithm`.
pub(super) fn sign_raw(
    header: &str,
    payload: &str,
    signer: &Signer,
    algorithm: Algorithm,
) -> String {
    let input = signing_input(header, payload);
    let signature = signer.sign(algorithm, input.as_bytes());
    format!("{input}.{}", b64(signature))
}

/// A compact token with header `{"alg", "kid"}` (kid omitted when `None`) and `claims`.
pub(super) fn token(claims: &Value, signer: &Signer, kid: Option<&str>) -> String {
    let algorithm = signer.algorithm();
    let mut header = json!({"alg": algorithm.name(), "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    sign_raw(&header.to_string(), &claims.to_string(), signer, algorithm)
}

/// The `kid` the tests publish the main RSA key under.
pub(super) const RSA_KID: &str = "rsa-key-1";

/// A mock issuer: discovery at `{issuer}/.well-known/openid-configuration`, keys at
/// `{issuer}/.well-known/jwks-pub.json`.
pub(super) struct TestIssuer {
    pub(super) server: MockServer,
    /// The issuer URL, `{server}/org/<uuid>`.
    pub(super) issuer: String,
}

impl TestIssuer {
    /// A server with nothing mounted yet.
    pub(super) async fn start() -> Self {
        let server = MockServer::start().await;
        let issuer = format!("{}{ORG_PATH}", server.uri());
        Self { server, issuer }
    }

    /// A server that serves discovery and `keys` without expectations.
    pub(super) async fn serving(keys: &[Jwk]) -> Self {
        let issuer = Self::start().await;
        issuer.mount_discovery(None).await;
        issuer.mount_jwks(keys, None, None).await;
        issuer
    }

    /// The discovery document this issuer serves.
    pub(super) fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}/.well-known/jwks-pub.json", self.issuer),
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    }

    /// Mounts discovery, expecting exactly `expected` requests when given.
    pub(super) async fn mount_discovery(&self, expected: Option<u64>) {
        let mock = Mock::given(method("GET"))
            .and(path(format!("{ORG_PATH}/.well-known/openid-configuration")))
            .respond_with(ResponseTemplate::new(200).set_body_json(self.discovery()));
        let mock = match expected {
            Some(count) => mock.expect(count),
            None => mock,
        };
        mock.mount(&self.server).await;
    }

    /// Mounts a key set with an optional `Cache-Control`, expecting `expected` requests.
    pub(super) async fn mount_jwks(
        &self,
        keys: &[Jwk],
        cache_control: Option<&str>,
        expected: Option<u64>,
    ) {
        let mut response = ResponseTemplate::new(200).set_body_json(json!({ "keys": keys }));
        if let Some(value) = cache_control {
            response = response.insert_header("cache-control", value);
        }
        let mock = Mock::given(method("GET"))
            .and(path(format!("{ORG_PATH}/.well-known/jwks-pub.json")))
            .respond_with(response);
        let mock = match expected {
            Some(count) => mock.expect(count),
            None => mock,
        };
        mock.mount(&self.server).await;
    }

    /// How many key-set requests the server has seen.
    pub(super) async fn jwks_requests(&self) -> usize {
        self.requests_to(".well-known/jwks-pub.json").await
    }

    /// How many requests whose path ends with `suffix` the server has seen.
    pub(super) async fn requests_to(&self, suffix: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path().ends_with(suffix))
            .count()
    }
}

/// A verifier with test-friendly limits: a 2 s fetch budget, defaults otherwise.
pub(super) fn verifier() -> TokenVerifier {
    TokenVerifier::new(VerifierConfig {
        fetch_timeout: Duration::from_secs(2),
        ..VerifierConfig::default()
    })
}

/// Parses and verifies `token` at `when`.
pub(super) async fn check(
    verifier: &TokenVerifier,
    token: &str,
    when: SystemTime,
) -> Result<(), TokenError> {
    let parsed = parse_token(token)?;
    verifier.verify(&parsed, when).await
}

/// Asserts that `result` failed with exactly `code` and `message`.
pub(super) fn assert_aws_error(
    result: Result<(), TokenError>,
    code: &str,
    message: &str,
) -> TokenError {
    let error = result.expect_err("the token must be refused");
    assert_eq!(error.aws_code(), code, "code of {error:?}");
    assert_eq!(error.http_status(), 400, "status of {error:?}");
    assert_eq!(error.aws_message(), message, "message of {error:?}");
    error
}
