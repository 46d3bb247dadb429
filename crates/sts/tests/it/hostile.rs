//! The hostile-token corpus through the real `AssumeRoleWithWebIdentity` endpoint: every case is
//! an HTTP request to a keyless-sts whose provider's issuer (wiremock) publishes an RSA key, an
//! EC key and a weak RSA key; each answer is pinned to its AWS code, status and message, an
//! attacker's key server named in token headers must never be contacted, and the audit log must
//! hold only refusals afterwards (no session was issued).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value, json};
use wiremock::MockServer;

use crate::issuer::{Fixture, ORG, PUBLIC_ISSUER, SigningKey, assume, b64, claims, get_json};

const INVALID_TOKEN: &str = "The web identity token that was passed could not be validated by Amazon Web Services. Get a new identity token from the identity provider and then retry the request.";
const KEY_RETRIEVAL: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
const TOO_LONG: &str = "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000";

/// One hostile token and the exact refusal it must get.
struct Case {
    name: &'static str,
    token: String,
    status: u16,
    code: &'static str,
    message: String,
}

fn invalid(name: &'static str, token: String) -> Case {
    refused(name, token, "InvalidIdentityToken", INVALID_TOKEN)
}

fn key_retrieval(name: &'static str, token: String) -> Case {
    refused(name, token, "InvalidIdentityToken", KEY_RETRIEVAL)
}

fn refused(name: &'static str, token: String, code: &'static str, message: &str) -> Case {
    Case {
        name,
        token,
        status: 400,
        code,
        message: message.to_owned(),
    }
}

/// `base64url(header).base64url(payload)`, from raw JSON text (so duplicates survive).
fn input(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header), b64(payload))
}

/// The default claims as JSON text.
fn payload() -> String {
    Value::Object(claims()).to_string()
}

/// The default claims changed by `edit`, as JSON text.
fn payload_with(edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = claims();
    edit(&mut claims);
    Value::Object(claims).to_string()
}

/// An RS256 token signed by the issuer's genuine key over any header and payload text.
fn genuine(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = input(header, payload);
    format!("{input}.{}", b64(key.signature_over(&input)))
}

/// The standard RS256 header of the genuine key.
fn rs256_header() -> String {
    json!({"alg": "RS256", "kid": "key-1", "typ": "JWT"}).to_string()
}

/// A token with the genuine key's header and claims edited by `edit`, genuinely signed.
fn with_claims(key: &SigningKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    genuine(key, &rs256_header(), &payload_with(edit))
}

/// An HMAC "signature" keyed with `secret` (the alg-confusion attack).
fn hmac_token(alg: &str, secret: &[u8]) -> String {
    let algorithm = match alg {
        "HS256" => aws_lc_rs::hmac::HMAC_SHA256,
        "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
        _ => aws_lc_rs::hmac::HMAC_SHA512,
    };
    let input = input(
        &json!({"alg": alg, "kid": "key-1", "typ": "JWT"}).to_string(),
        &payload(),
    );
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(algorithm, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}

/// PEM text of DER bytes.
fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// A token genuinely signed (ES256, fixed r‖s) by the EC key published as `ec-key`, with its
/// signature replaced by `r` and `s`.
fn ecdsa_with(r: [u8; 32], s: [u8; 32]) -> String {
    let input = input(
        &json!({"alg": "ES256", "kid": "ec-key"}).to_string(),
        &payload(),
    );
    let mut signature = r.to_vec();
    signature.extend_from_slice(&s);
    format!("{input}.{}", b64(signature))
}

fn one(value: u8) -> [u8; 32] {
    let mut bytes = [0; 32];
    bytes[31] = value;
    bytes
}

/// A real 1024-bit RSA key's JWK and a genuine RS256 token from it.
fn weak_rsa_token_and_jwk() -> (String, Value) {
    let weak = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let jwk = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "weak",
        "n": b64(weak.n().to_bytes_be()), "e": b64(weak.e().to_bytes_be()),
    });
    let input = input(
        &json!({"alg": "RS256", "kid": "weak"}).to_string(),
        &payload(),
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(digest.as_ref());
    let signature = weak
        .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
        .unwrap();
    (format!("{input}.{}", b64(signature)), jwk)
}

/// A P-256 key's JWK (the token side only ever sends zero/degenerate signatures for it).
fn ec_jwk() -> Value {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    json!({
        "kty": "EC", "use": "sig", "alg": "ES256", "kid": "ec-key", "crv": "P-256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65]),
    })
}

/// A genuinely signed token of exactly `length` characters (filler in the payload and header),
/// whose only fault is its audience, so the answer shows it got past the length limit.
fn token_of_length(key: &SigningKey, length: usize) -> String {
    let build = |payload_filler: usize, header_filler: usize| {
        let header =
            json!({"alg": "RS256", "kid": "key-1", "pad": "h".repeat(header_filler)}).to_string();
        let payload = payload_with(|claims| {
            claims.insert("aud".into(), json!("sts.amazonaws.com"));
            claims.insert("filler".into(), json!("x".repeat(payload_filler)));
        });
        genuine(key, &header, &payload)
    };
    let base = build(0, 0).len();
    // Each three filler bytes add four characters; stop a little short, then search exactly.
    let payload_filler = (length - base - 24) * 3 / 4;
    for extra_payload in 0..4 {
        for header_filler in 0..24 {
            let token = build(payload_filler + extra_payload, header_filler);
            if token.len() == length {
                return token;
            }
        }
    }
    panic!("no filler gives a token of {length} characters");
}

fn corpus(key: &SigningKey, attacker: &MockServer, weak_token: String) -> Vec<Case> {
    let header = rs256_header();
    let body = payload();
    let legit = genuine(key, &header, &body);
    let (legit_input, legit_signature) = legit.rsplit_once('.').unwrap();
    let attacker_key = SigningKey::generate("key-1");
    let attacker_jwk = attacker_key.jwk();
    let mut cases = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": "key-1"}).to_string();
        cases.push(invalid(
            "alg none, empty signature",
            format!("{}.", input(&header, &body)),
        ));
        cases.push(invalid(
            "alg none with a copied signature",
            format!("{}.{legit_signature}", input(&header, &body)),
        ));
    }
    let der = key.public_der();
    for alg in ["HS256", "HS384", "HS512"] {
        cases.push(invalid(
            "HMAC keyed with the PEM",
            hmac_token(alg, pem(&der).as_bytes()),
        ));
        cases.push(invalid("HMAC keyed with the DER", hmac_token(alg, &der)));
        cases.push(invalid(
            "HMAC keyed with the JWK",
            hmac_token(alg, key.jwk().to_string().as_bytes()),
        ));
    }
    let attacker_url = attacker.uri();
    for (member, value) in [
        ("jku", json!(format!("{attacker_url}/jwks.json"))),
        ("x5u", json!(format!("{attacker_url}/cert.pem"))),
        ("jwk", attacker_jwk.clone()),
        ("x5c", json!([STANDARD.encode(b"attacker certificate")])),
    ] {
        let mut header = json!({"alg": "RS256", "kid": "key-1"});
        header[member] = value.clone();
        let signing_input = input(&header.to_string(), &body);
        let forged = format!(
            "{signing_input}.{}",
            b64(attacker_key.signature_over(&signing_input))
        );
        cases.push(invalid("attacker key named in the header", forged));
        let mut header = json!({"alg": "RS256", "kid": "attacker"});
        header[member] = value;
        let signing_input = input(&header.to_string(), &body);
        let forged = format!(
            "{signing_input}.{}",
            b64(attacker_key.signature_over(&signing_input))
        );
        cases.push(key_retrieval("attacker key and kid in the header", forged));
    }
    for kid in [
        "../../../../etc/passwd".to_owned(),
        "..%2f..%2fjwks".to_owned(),
        "k".repeat(10_000),
        "key-1\u{0000}".to_owned(),
        "key-1\r\nX-Injected: 1".to_owned(),
        "\u{001b}[31mkey-1".to_owned(),
        "KEY-1".to_owned(),
        String::new(),
    ] {
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        cases.push(key_retrieval("hostile kid", genuine(key, &header, &body)));
    }
    let no_kid = json!({"alg": "RS256"}).to_string();
    cases.push(invalid(
        "no kid with one RSA key, forged",
        format!(
            "{}.{}",
            input(&no_kid, &body),
            b64(attacker_key.signature_over(&input(&no_kid, &body)))
        ),
    ));
    cases.push(invalid(
        "duplicate alg in the header",
        genuine(key, r#"{"alg":"RS256","kid":"key-1","alg":"none"}"#, &body),
    ));
    cases.push(invalid(
        "duplicate kid in the header",
        genuine(key, r#"{"alg":"RS256","kid":"other","kid":"key-1"}"#, &body),
    ));
    let duplicate_sub = body.replacen(
        '{',
        &format!(r#"{{"sub":"org/{ORG}/project/00000000-0000-0000-0000-000000000000/user/u","#),
        1,
    );
    cases.push(invalid(
        "duplicate sub in the payload",
        genuine(key, &header, &duplicate_sub),
    ));
    let (header_segment, rest) = legit.split_once('.').unwrap();
    cases.push(invalid(
        "padded header",
        format!("{header_segment}=.{rest}"),
    ));
    cases.push(invalid("padded signature", format!("{legit}==")));
    let question_header = json!({"alg": "RS256", "kid": "key-1", "x": "???>>>"}).to_string();
    let url_safe = genuine(key, &question_header, &body);
    let (_, after_header) = url_safe.split_once('.').unwrap();
    let standard_header = STANDARD
        .encode(&question_header)
        .trim_end_matches('=')
        .to_owned();
    assert!(standard_header.contains('/') || standard_header.contains('+'));
    cases.push(invalid(
        "standard base64 alphabet",
        format!("{standard_header}.{after_header}"),
    ));
    cases.push(invalid(
        "non-base64 character",
        format!("{legit_input}.{}*", &legit_signature[1..]),
    ));
    cases.push(invalid("one segment", header_segment.to_owned()));
    cases.push(invalid("two segments", legit_input.to_owned()));
    cases.push(invalid(
        "four segments",
        format!("{legit}.{legit_signature}"),
    ));
    cases.push(invalid("JWE-like five segments", format!("{legit}.a.b")));
    cases.push(invalid("empty signature", format!("{legit_input}.")));
    let other = with_claims(key, |claims| {
        claims.insert("jti".into(), json!("another token"));
    });
    let foreign_signature = other.rsplit_once('.').unwrap().1;
    cases.push(invalid(
        "another token's signature",
        format!("{legit_input}.{foreign_signature}"),
    ));
    cases.push(invalid(
        "attacker's signature",
        format!(
            "{legit_input}.{}",
            b64(attacker_key.signature_over(legit_input))
        ),
    ));
    let tampered = payload_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!(
                "org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/admin"
            )),
        );
    });
    cases.push(invalid(
        "tampered payload",
        format!("{}.{}.{legit_signature}", header_segment, b64(&tampered)),
    ));
    for (claim, value) in [
        ("exp", json!("9999999999")),
        ("exp", json!(9_999_999_999.5)),
        ("exp", json!(u64::MAX)),
        ("exp", json!(1e30)),
        ("exp", json!(-1)),
        ("iat", json!("0")),
        ("iat", json!(-5)),
        ("iat", json!(1.0)),
        ("nbf", json!("0")),
        ("nbf", json!(0.5)),
        ("nbf", json!(u64::MAX)),
        ("nbf", json!(-1)),
    ] {
        cases.push(invalid(
            "a time claim of the wrong type or range",
            with_claims(key, |claims| {
                claims.insert(claim.into(), value);
            }),
        ));
    }
    cases.push(refused(
        "aud array of two without azp",
        with_claims(key, |claims| {
            claims.insert("aud".into(), json!([ORG, "sts.amazonaws.com"]));
        }),
        "InvalidIdentityToken",
        "Token audience contains more than one audience while authorized party is not present",
    ));
    cases.push(refused(
        "empty aud array",
        with_claims(key, |claims| {
            claims.insert("aud".into(), json!([]));
        }),
        "InvalidIdentityToken",
        "Missing a required claim: aud",
    ));
    cases.push(invalid(
        "aud array with a number",
        with_claims(key, |claims| {
            claims.insert("aud".into(), json!([ORG, 5]));
        }),
    ));
    // Providers are keyed without scheme (as in IAM), so an http:// issuer finds the provider
    // but its keys are never fetched from the https issuer: refused as key retrieval.
    cases.push(key_retrieval(
        "iss with the http scheme",
        with_claims(key, |claims| {
            claims.insert(
                "iss".into(),
                json!(PUBLIC_ISSUER.replace("https://", "http://")),
            );
        }),
    ));
    for issuer in [
        format!("{PUBLIC_ISSUER}/"),
        PUBLIC_ISSUER.replace("oidc.circleci.com", "OIDC.CircleCI.com"),
    ] {
        let message = format!("No OpenIDConnect provider found in your account for {issuer}");
        cases.push(refused(
            "iss that only looks like the provider",
            with_claims(key, |claims| {
                claims.insert("iss".into(), json!(issuer));
            }),
            "InvalidIdentityToken",
            &message,
        ));
    }
    for subject in [
        format!("org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/u\u{0000}"),
        format!("org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/u\nforged log line"),
        format!("org/{ORG}/project/66666666-7777-8888-9999-000000000000/user/\u{007f}"),
    ] {
        cases.push(invalid(
            "sub with control characters",
            with_claims(key, |claims| {
                claims.insert("sub".into(), json!(subject));
            }),
        ));
    }
    cases.push(refused(
        "20,000 characters: accepted as a token, refused for its audience",
        token_of_length(key, 20_000),
        "InvalidIdentityToken",
        "Incorrect token audience",
    ));
    let mut over = token_of_length(key, 20_000);
    over.push('A');
    cases.push(refused(
        "20,001 characters",
        over,
        "ValidationError",
        TOO_LONG,
    ));
    cases.push(invalid("ECDSA r=0 s=0", ecdsa_with([0; 32], [0; 32])));
    cases.push(invalid("ECDSA r=0 s=1", ecdsa_with([0; 32], one(1))));
    cases.push(invalid("ECDSA r=1 s=0", ecdsa_with(one(1), [0; 32])));
    cases.push(invalid(
        "ECDSA r=s=0xff…",
        ecdsa_with([0xff; 32], [0xff; 32]),
    ));
    cases.push(invalid("RSA key under 2048 bits", weak_token));
    cases
}

#[tokio::test]
async fn the_hostile_corpus_is_refused_exactly_and_changes_nothing() {
    let fixture = Fixture::start().await;
    let attacker = MockServer::start().await;
    let (weak_token, weak_jwk) = weak_rsa_token_and_jwk();
    fixture
        .issuer
        .publish(&[fixture.issuer.key.jwk(), ec_jwk(), weak_jwk])
        .await;
    let cases = corpus(&fixture.issuer.key, &attacker, weak_token);
    assert!(cases.len() >= 40, "{}", cases.len());
    let mut mismatches = Vec::new();
    for case in &cases {
        let answer = assume(&fixture.server, &case.token, &[]).await;
        let message = answer.element("Message").map(crate::issuer::unescape);
        if answer.status != case.status
            || answer.element("Code") != Some(case.code)
            || message.as_deref() != Some(case.message.as_str())
        {
            mismatches.push(format!(
                "case {:?}: expected {} {} {:?}, got {} {:?} {:?}",
                case.name,
                case.status,
                case.code,
                case.message,
                answer.status,
                answer.element("Code"),
                message
            ));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let contacted = attacker.received_requests().await.unwrap();
    assert!(
        contacted.is_empty(),
        "the attacker's server was contacted: {contacted:?}"
    );
    let (status, events) = get_json(&fixture.server, "/_keyless/events?limit=1000").await;
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    assert_eq!(
        events.len(),
        cases.len(),
        "one audit event per refused request"
    );
    for event in events {
        assert!(
            event["errorCode"].is_string(),
            "a request succeeded: {event}"
        );
        assert!(
            event["responseElements"].is_null(),
            "credentials were issued: {event}"
        );
    }
    // The genuine key still works, so every refusal above was about the token, not the setup.
    let answer = assume(&fixture.server, &fixture.issuer.token(), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn no_kid_with_several_keys_is_never_guessed() {
    let fixture = Fixture::start().await;
    let second = SigningKey::generate("key-2");
    fixture
        .issuer
        .publish(&[fixture.issuer.key.jwk(), second.jwk()])
        .await;
    let header = json!({"alg": "RS256"}).to_string();
    let token = genuine(&fixture.issuer.key, &header, &payload());
    assume(&fixture.server, &token, &[]).await.assert_error(
        400,
        "InvalidIdentityToken",
        KEY_RETRIEVAL,
    );
    // With one key published (a fresh server), the same kid-less token verifies with that key.
    let single = Fixture::start().await;
    let token = genuine(&single.issuer.key, &header, &payload());
    let answer = assume(&single.server, &token, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
