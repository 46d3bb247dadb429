//! The fuzz targets of `fuzz/` as property tests, so `cargo test` runs a bounded version of
//! each: the token parser, the Query decoder, trust-policy parsing and evaluation, and SigV4.
//! Each property says "never panics, and refusals are the typed AWS errors", plus the round
//! trips that exist (form encoding, `Name.member.N` lists, base64url tokens, signing then
//! verifying, decisions through JSON). Inputs the fuzzers found are replayed at the end.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use keyless_sts::error::AwsError;
use keyless_sts::policy::{
    Decision, Effect, RequestContext, StatementEffect, TrustPolicy, evaluate,
};
use keyless_sts::query::{QueryParams, Service};
use keyless_sts::sigv4::{
    CredentialSource, SignedRequest, SigningCredential, parse_signature, verify,
};
use keyless_sts::verify::{EXPIRED_TOKEN_EXCEPTION, INVALID_IDENTITY_TOKEN, parse_token};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::support::signed_headers_in;

/// Cases per property: enough to exercise the shapes, few enough to take seconds.
const CASES: u32 = 256;

/// The CircleCI organisation of the fixtures.
const ORG: &str = "c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c";

/// Long-term test credential known to [`FixedCredentials`].
const ACCESS_KEY_ID: &str = "AKIAFUZZEXAMPLE00001";
/// Its secret.
const SECRET: &str = "fuzzSecretKey/EXAMPLE";

/// The codes SigV4 verification may answer with (spec §6.3).
const SIGV4_CODES: [&str; 5] = [
    "IncompleteSignature",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "ExpiredToken",
];

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// A compact JWS from raw header and payload bytes and a 256-byte (RS256-sized) signature.
fn compact(header: &[u8], payload: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode([7u8; 256])
    )
}

/// Claim text without control characters (the parser refuses those).
fn printable() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/._ -]{1,40}"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_parser_never_panics_and_refuses_with_aws_codes(text in any::<String>()) {
        if let Err(error) = parse_token(&text) {
            let code = error.aws_code();
            prop_assert!(code == INVALID_IDENTITY_TOKEN || code == EXPIRED_TOKEN_EXCEPTION);
            prop_assert_eq!(error.http_status(), 400);
        }
    }

    #[test]
    fn token_parser_survives_arbitrary_json_segments(
        header in any::<Vec<u8>>(),
        payload in any::<Vec<u8>>(),
    ) {
        if let Err(error) = parse_token(&compact(&header, &payload)) {
            prop_assert_eq!(error.http_status(), 400);
        }
    }

    #[test]
    fn token_claims_round_trip_through_base64url(
        issuer in printable(),
        subject in printable(),
        audience in printable(),
        issued_at in 0i64..=i64::MAX / 2,
        lifetime in 0i64..=86_400,
        padding in "[ \t\r\n]{0,3}",
    ) {
        let claims = json!({
            "iss": issuer, "sub": subject, "aud": audience,
            "iat": issued_at, "exp": issued_at + lifetime,
        });
        let header = br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;
        let token = format!("{padding}{}{padding}", compact(header, claims.to_string().as_bytes()));
        let parsed = parse_token(&token).unwrap();
        prop_assert_eq!(parsed.issuer, issuer);
        prop_assert_eq!(parsed.subject, subject);
        prop_assert_eq!(parsed.audiences, vec![audience.clone()]);
        prop_assert_eq!(parsed.audience, audience);
        prop_assert_eq!(parsed.issued_at, issued_at);
        prop_assert_eq!(parsed.expires_at, issued_at + lifetime);
        prop_assert_eq!(Value::Object(parsed.claims), claims);
    }

    #[test]
    fn duplicate_claims_are_refused_at_any_position(
        claim in prop::sample::select(vec!["iss", "sub", "aud", "iat", "exp", "extra"]),
        value in printable(),
    ) {
        let payload = format!(
            r#"{{"iss":"https://issuer","sub":"s","aud":"a","iat":1,"exp":2,"extra":{{"k":1}},"{claim}":"{value}"}}"#
        );
        let header = br#"{"alg":"RS256"}"#;
        let error = parse_token(&compact(header, payload.as_bytes())).unwrap_err();
        prop_assert_eq!(error.aws_code(), INVALID_IDENTITY_TOKEN);
    }

    #[test]
    fn query_decoding_round_trips_through_form_encoding(
        pairs in prop::collection::vec(("[A-Za-z.]{1,8}", any::<String>()), 0..8),
    ) {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let params = QueryParams::parse(encoded.as_bytes());
        for (name, _) in &pairs {
            let first = pairs.iter().find(|(seen, _)| seen == name).map(|(_, value)| value);
            prop_assert_eq!(params.get(name), first.map(String::as_str));
        }
    }

    #[test]
    fn member_lists_and_tags_round_trip(
        items in prop::collection::vec(any::<String>(), 0..6),
        tags in prop::collection::vec((any::<String>(), any::<String>()), 0..4),
    ) {
        let mut encoder = form_urlencoded::Serializer::new(String::new());
        encoder.append_pair("ClientIDList", "");
        for (index, item) in items.iter().enumerate() {
            encoder.append_pair(&format!("ClientIDList.member.{}", index + 1), item);
        }
        for (index, (key, value)) in tags.iter().enumerate() {
            encoder.append_pair(&format!("Tags.member.{}.Key", index + 1), key);
            encoder.append_pair(&format!("Tags.member.{}.Value", index + 1), value);
        }
        let params = QueryParams::parse(encoder.finish().as_bytes());
        prop_assert_eq!(params.list("ClientIDList"), Some(items));
        let expected: Vec<(Option<String>, Option<String>)> =
            tags.into_iter().map(|(key, value)| (Some(key), Some(value))).collect();
        prop_assert_eq!(params.tags("Tags"), expected);
    }

    #[test]
    fn query_decoder_never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
        let params = QueryParams::parse(&bytes);
        let _ = params.list("Name");
        let _ = params.tags("Tags");
        prop_assert_eq!(QueryParams::parse(&bytes), params);
    }
}

/// Trust-policy statements assembled from valid and invalid pieces.
fn policy_text() -> impl Strategy<Value = String> {
    let provider = format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{ORG}");
    let statement = (
        prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        prop_oneof![
            Just(json!({"Federated": provider})),
            Just(json!("*")),
            Just(json!({"AWS": "arn:aws:iam::123456789012:root"})),
        ],
        prop_oneof![
            Just(json!("sts:AssumeRoleWithWebIdentity")),
            Just(json!("sts:*")),
            Just(json!(["sts:AssumeRole*", "sts:TagSession"])),
        ],
        prop_oneof![
            Just("StringEquals"),
            Just("StringLike"),
            Just("ForAnyValue:StringLike"),
            Just("ForAllValues:StringEqualsIgnoreCase"),
            Just("StringNotLikeIfExists"),
            Just("Null"),
            Just("Bool"),
            Just("StringEqual"),
        ],
        prop_oneof![
            Just(format!("oidc.circleci.com/org/{ORG}:sub")),
            Just(format!("oidc.circleci.com/org/{ORG}:aud")),
            Just(format!("oidc.circleci.com/org/{ORG}:amr")),
            "[a-z:/.]{0,12}",
        ],
        prop_oneof![
            "[a-z0-9/*?${}.-]{0,16}".prop_map(Value::String),
            prop::collection::vec("[a-z0-9*]{0,6}", 0..3).prop_map(|items| json!(items)),
            any::<bool>().prop_map(|flag| json!(flag)),
        ],
    )
        .prop_map(|(effect, principal, action, operator, key, value)| {
            json!({
                "Effect": effect, "Principal": principal, "Action": action,
                "Condition": {operator: {key: value}},
            })
        });
    (
        prop::collection::vec(statement, 0..4),
        prop_oneof![Just("2012-10-17"), Just("2008-10-17")],
    )
        .prop_map(|(statements, version)| {
            json!({"Version": version, "Statement": statements}).to_string()
        })
}

/// Claims of a CircleCI token whose `sub` and `amr` vary.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    (
        "[a-z0-9/*-]{0,24}",
        prop::collection::vec("[a-z]{0,6}", 0..3),
    )
        .prop_map(|(sub, amr)| {
            let claims = json!({"iss": "https://issuer", "sub": sub, "aud": ORG, "amr": amr});
            claims.as_object().cloned().unwrap_or_default()
        })
}

/// The invariants the fuzz target checks: one evaluation per statement, an effect that agrees
/// with the statements that applied, determinism, and a JSON round trip.
fn check_decision(policy: &TrustPolicy, context: &RequestContext) -> Result<(), TestCaseError> {
    let decision = evaluate(policy, context);
    prop_assert_eq!(decision.statements.len(), policy.statements().len());
    let applying = |effect: StatementEffect| {
        decision
            .statements
            .iter()
            .find(|statement| statement.applies && statement.effect == effect)
            .map(|statement| statement.index)
    };
    match decision.effect {
        Effect::ExplicitDeny => {
            prop_assert_eq!(decision.decisive_statement, applying(StatementEffect::Deny))
        }
        Effect::Allow => {
            prop_assert_eq!(applying(StatementEffect::Deny), None);
            prop_assert_eq!(
                decision.decisive_statement,
                applying(StatementEffect::Allow)
            );
        }
        Effect::ImplicitDeny => {
            prop_assert!(
                decision
                    .statements
                    .iter()
                    .all(|statement| !statement.applies)
            )
        }
    }
    prop_assert_eq!(
        decision.access_denied_message().is_some(),
        !decision.allowed()
    );
    prop_assert_eq!(&evaluate(policy, context), &decision);
    let stored = serde_json::to_string(&decision).unwrap();
    prop_assert_eq!(serde_json::from_str::<Decision>(&stored).unwrap(), decision);
    Ok(())
}

/// Knows [`ACCESS_KEY_ID`] only.
struct FixedCredentials;

impl CredentialSource for FixedCredentials {
    type Identity = ();

    async fn find(&self, access_key_id: &str) -> Result<Option<SigningCredential<()>>, AwsError> {
        Ok((access_key_id == ACCESS_KEY_ID).then(|| SigningCredential {
            secret_access_key: SECRET.to_owned(),
            session_token: None,
            expiration: None,
            identity: (),
        }))
    }
}

/// Runs a future that never waits (the credential source answers at once) to completion.
fn block_on<Output>(future: impl Future<Output = Output>) -> Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// The server's clock in the SigV4 properties: 2026-12-03T00:00:00Z.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_796_256_000).unwrap()
}

/// Verifies a POST with `headers` and `body` against [`FixedCredentials`] as STS at [`now`].
fn verify_post(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<(), AwsError> {
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query,
        headers,
        body,
    };
    block_on(verify(&request, Service::Sts, now(), &FixedCredentials))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn policy_parser_never_panics_on_text(text in any::<String>()) {
        if let Err(error) = TrustPolicy::parse(&text) {
            prop_assert!(!error.message().is_empty());
        }
    }

    #[test]
    fn assembled_policies_parse_or_refuse_and_evaluate_consistently(
        text in policy_text(),
        claims in claims(),
    ) {
        match TrustPolicy::parse(&text) {
            Err(error) => prop_assert!(!error.message().is_empty()),
            Ok(policy) => {
                let provider = format!("oidc.circleci.com/org/{ORG}");
                let context = RequestContext::for_web_identity(
                    &provider,
                    &format!("arn:aws:iam::123456789012:oidc-provider/{provider}"),
                    &claims,
                    "session",
                    &[ORG.to_owned()],
                );
                check_decision(&policy, &context)?;
            }
        }
    }

    #[test]
    fn signed_requests_verify_and_tampered_ones_do_not(
        body in "[A-Za-z0-9=&%._-]{0,64}",
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        skew_seconds in -899i64..=899,
        flipped in any::<prop::sample::Index>(),
    ) {
        let at = now() + time::Duration::seconds(skew_seconds);
        let headers = signed_headers_in(
            "sts", "127.0.0.1:4566", &body, ACCESS_KEY_ID, SECRET, &region, None, at,
        );
        prop_assert!(verify_post(&headers, "", body.as_bytes()).is_ok());
        let mut tampered = body.clone().into_bytes();
        if tampered.is_empty() {
            tampered.push(b'x');
        } else {
            let position = flipped.index(tampered.len());
            tampered[position] ^= 0x20;
        }
        let error = verify_post(&headers, "", &tampered).unwrap_err();
        prop_assert_eq!(&*error.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn signature_parsing_never_panics_and_refuses_with_sigv4_codes(
        authorization in prop::option::of(any::<String>()),
        amz_date in prop::option::of("[0-9TZ]{0,18}"),
        query in any::<String>(),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in [("authorization", authorization), ("x-amz-date", amz_date)] {
            if let Some(value) = value.and_then(|value| HeaderValue::from_str(&value).ok()) {
                headers.insert(name, value);
            }
        }
        let request = SignedRequest { method: "GET", path: "/", query: &query, headers: &headers, body: b"" };
        if let Err(error) = parse_signature(&request) {
            prop_assert!(SIGV4_CODES.contains(&&*error.code), "code {}", error.code);
        }
        if let Err(error) = verify_post(&headers, &query, b"") {
            prop_assert!(SIGV4_CODES.contains(&&*error.code), "code {}", error.code);
        }
    }

    #[test]
    fn presigned_expiry_of_any_size_is_an_answer_not_a_panic(expires in any::<i64>()) {
        let query = presigned_query(&expires.to_string());
        let result = verify_post(&HeaderMap::new(), &query, b"");
        let error = result.unwrap_err();
        prop_assert!(SIGV4_CODES.contains(&&*error.code), "code {}", error.code);
    }
}

/// A presigned `GetCallerIdentity` query dated one minute before [`now`] with the given
/// `X-Amz-Expires` text and a wrong signature.
fn presigned_query(expires: &str) -> String {
    let pairs: HashMap<&str, &str> = HashMap::from([
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        (
            "X-Amz-Credential",
            "AKIAFUZZEXAMPLE00001/20261202/us-east-1/sts/aws4_request",
        ),
        ("X-Amz-Date", "20261202T235900Z"),
        ("X-Amz-Expires", expires),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "00"),
    ]);
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Found by `presigned_expiry_of_any_size_is_an_answer_not_a_panic` (shrunk to
/// -251606044800): an `X-Amz-Expires` whose end lies outside the representable dates panicked
/// in `OffsetDateTime + Duration`. Also kept as `fuzz/regressions/sigv4/`.
#[test]
fn presigned_expiry_beyond_the_representable_dates_is_refused_not_a_panic() {
    for expires in [
        "-251606044800",
        "-9223372036854775808",
        "9223372036854775807",
    ] {
        let error = verify_post(&HeaderMap::new(), &presigned_query(expires), b"").unwrap_err();
        let expected = if expires.starts_with('-') {
            "Signature expired"
        } else {
            "does not match"
        };
        assert_eq!(&*error.code, "SignatureDoesNotMatch", "{expires}");
        assert!(
            error.message.contains(expected),
            "{expires}: {}",
            error.message
        );
    }
}
