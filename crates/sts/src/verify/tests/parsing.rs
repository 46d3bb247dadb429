//! `parse_token`: structure, algorithm allow-list, duplicates, required claims and claim types,
//! each refusal asserted with its exact AWS code and message.

use serde_json::json;

use super::super::{
    INVALID_IDENTITY_TOKEN, INVALID_TOKEN_MESSAGE, MAX_TOKEN_CHARS, MULTIPLE_AUDIENCES_MESSAGE,
    TokenError,
};
use super::*;

const ISSUER: &str = "https://oidc.circleci.com/org/11111111-2222-3333-4444-555555555555";

/// A valid RS256 token over raw header and payload text.
fn raw(header: &str, payload: &str) -> String {
    sign_raw(header, payload, rsa_key(), Algorithm::Rs256)
}

/// A valid RS256 token over `claims`.
fn with_claims(claims: &serde_json::Value) -> String {
    token(claims, rsa_key(), Some(RSA_KID))
}

/// Asserts the generic malformed-token refusal and returns its detail.
fn refused(token: &str) -> String {
    let error = parse_token(token).expect_err("the token must be refused");
    assert_eq!(error.aws_code(), INVALID_IDENTITY_TOKEN, "{error:?}");
    assert_eq!(error.aws_message(), INVALID_TOKEN_MESSAGE, "{error:?}");
    assert!(matches!(error, TokenError::Malformed { .. }), "{error:?}");
    error.detail()
}

#[test]
fn a_valid_token_parses_into_its_claims() {
    let parsed = parse_token(&with_claims(&claims(ISSUER))).unwrap();
    assert_eq!(parsed.issuer, ISSUER);
    assert!(parsed.subject.starts_with("org/11111111"));
    assert_eq!(parsed.audience, "11111111-2222-3333-4444-555555555555");
    assert_eq!(parsed.audiences, vec![parsed.audience.clone()]);
    assert_eq!(parsed.issued_at, NOW_SECONDS - 60);
    assert_eq!(parsed.expires_at, NOW_SECONDS + 600);
    assert_eq!(parsed.not_before, None);
    assert_eq!(parsed.header.algorithm, Algorithm::Rs256);
    assert_eq!(parsed.header.kid.as_deref(), Some(RSA_KID));
    assert_eq!(parsed.header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        parsed.claims["oidc.circleci.com/project-id"],
        "66666666-7777-8888-9999-000000000000"
    );
}

#[test]
fn surrounding_ascii_whitespace_is_trimmed() {
    let token = with_claims(&claims(ISSUER));
    for wrapped in [
        format!("{token}\n"),
        format!("{token}\r\n"),
        format!(" \t{token} \n\n"),
    ] {
        let parsed = parse_token(&wrapped).unwrap();
        assert_eq!(
            parsed.signing_input(),
            token.rsplit_once('.').unwrap().0.as_bytes()
        );
    }
    refused(&format!("{token}\u{a0}"));
    refused(&token.replacen('.', " .", 1));
}

#[test]
fn the_debug_form_never_shows_the_token() {
    let token = with_claims(&claims(ISSUER));
    let debug = format!("{:?}", parse_token(&token).unwrap());
    let (_, signature) = token.rsplit_once('.').unwrap();
    assert!(!debug.contains(signature));
    assert!(!debug.contains(&token[..40]));
}

/// Finds header and payload padding that make a signed token exactly `length` characters.
fn token_of_length(length: usize) -> String {
    for header_pad in 0..8 {
        let header =
            json!({"alg": "RS256", "kid": RSA_KID, "x": "h".repeat(header_pad)}).to_string();
        let mut payload_claims = claims(ISSUER);
        payload_claims["pad"] = json!("");
        let base = raw(&header, &payload_claims.to_string()).len();
        for payload_pad in (length.saturating_sub(base) * 3 / 4).saturating_sub(8)..length {
            payload_claims["pad"] = json!("p".repeat(payload_pad));
            let candidate = raw(&header, &payload_claims.to_string());
            if candidate.len() == length {
                return candidate;
            }
            if candidate.len() > length {
                break;
            }
        }
    }
    panic!("no padding gives a {length}-character token");
}

#[test]
fn twenty_thousand_characters_pass_and_one_more_does_not() {
    let longest = token_of_length(MAX_TOKEN_CHARS);
    assert_eq!(longest.len(), 20_000);
    parse_token(&longest).unwrap();
    parse_token(&format!("{longest}\n")).unwrap();
    let too_long = token_of_length(MAX_TOKEN_CHARS + 1);
    assert!(refused(&too_long).contains("longer than 20000"));
}

#[test]
fn a_token_has_exactly_three_segments() {
    let token = with_claims(&claims(ISSUER));
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        "   \n".to_owned(),
        header.to_owned(),
        format!("{header}.{payload}"),
        format!("{token}.{signature}"),
        format!("{token}."),
        format!("{header}.{payload}.{signature}.{payload}.{signature}"),
        "..".to_owned(),
        "...".to_owned(),
    ] {
        let detail = refused(&bad);
        assert!(detail.contains("segment"), "{detail}");
    }
}

/// base64url of `text` (length 1 mod 3) with non-zero unused bits in its last character.
fn non_canonical(text: &str) -> String {
    assert_eq!(text.len() % 3, 1);
    let mut encoded = b64(text);
    let last = encoded.pop().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let position = ALPHABET.find(last).unwrap();
    assert_eq!(
        position % 16,
        0,
        "a canonical final character has four zero bits"
    );
    encoded.push(ALPHABET.as_bytes()[position + 1] as char);
    encoded
}

#[test]
fn base64url_is_strict() {
    let token = with_claims(&claims(ISSUER));
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let standard_alphabet = signature.replace('-', "+").replace('_', "/");
    assert_ne!(
        standard_alphabet, signature,
        "the fixture signature must use - or _"
    );
    for bad in [
        format!("{header}=.{payload}.{signature}"),
        format!("{header}.{payload}==.{signature}"),
        format!("{header}.{payload}.{standard_alphabet}"),
        format!("{header}.{payload}.{signature}="),
        format!("{header}.pay load.{signature}"),
        format!("{header}.{payload}.{signature}é"),
        format!(
            "{}.{payload}.{signature}",
            non_canonical(r#"{"alg":"RS256"} "#)
        ),
    ] {
        let detail = refused(&bad);
        assert!(
            detail.contains("not base64url") || detail.contains("segment"),
            "{detail}"
        );
    }
}

#[test]
fn header_and_payload_must_be_json_objects() {
    let payload = claims(ISSUER).to_string();
    for header in [
        r#"["RS256"]"#,
        r#""RS256""#,
        "{",
        "null",
        r#"{"alg":"RS256"} x"#,
    ] {
        assert!(refused(&raw(header, &payload)).contains("header"));
    }
    for payload in ["[1]", "42", "{\"iss\":", "not json", ""] {
        assert!(refused(&raw(r#"{"alg":"RS256"}"#, payload)).contains("payload"));
    }
}

#[test]
fn duplicate_members_are_refused_in_header_and_payload() {
    let payload = claims(ISSUER).to_string();
    for header in [
        r#"{"alg":"RS256","alg":"RS256"}"#,
        r#"{"alg":"none","alg":"RS256"}"#,
        r#"{"alg":"RS256","kid":"a","kid":"b"}"#,
    ] {
        assert!(refused(&raw(header, &payload)).contains("duplicate member"));
    }
    let body = payload.trim_end_matches('}');
    for extra in [
        r#","sub":"someone-else"}"#,
        r#","aud":"another-audience"}"#,
        r#","exp":9999999999}"#,
        r#","nested":{"a":1,"a":2}}"#,
    ] {
        let detail = refused(&raw(r#"{"alg":"RS256"}"#, &format!("{body}{extra}")));
        assert!(detail.contains("duplicate member"), "{detail}");
    }
}

#[test]
fn only_rs_and_es_algorithms_are_accepted() {
    let payload = claims(ISSUER).to_string();
    for alg in [
        "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "hs256", "rs256", "Rs256",
        "PS256", "ES256K", "EdDSA", "RSA-OAEP", "", "RS256 ",
    ] {
        let header = json!({"alg": alg, "kid": RSA_KID}).to_string();
        let detail = refused(&raw(&header, &payload));
        assert!(detail.contains("not accepted"), "{alg}: {detail}");
    }
    assert!(refused(&raw(r#"{"kid":"k"}"#, &payload)).contains("no alg"));
    assert!(refused(&raw(r#"{"alg":256}"#, &payload)).contains("not a string"));
    assert!(refused(&raw(r#"{"alg":null}"#, &payload)).contains("not a string"));
}

#[test]
fn unsigned_tokens_are_refused_whatever_the_signature_segment() {
    let input = signing_input(r#"{"alg":"none"}"#, &claims(ISSUER).to_string());
    refused(&format!("{input}."));
    refused(&format!("{input}.{}", b64([0u8; 256])));
}

#[test]
fn critical_header_extensions_are_refused() {
    let header = r#"{"alg":"RS256","crit":["exp"],"exp":1}"#;
    assert!(refused(&raw(header, &claims(ISSUER).to_string())).contains("crit"));
}

#[test]
fn header_member_types_are_checked() {
    let payload = claims(ISSUER).to_string();
    assert!(refused(&raw(r#"{"alg":"RS256","kid":7}"#, &payload)).contains("kid"));
    assert!(refused(&raw(r#"{"alg":"RS256","typ":["JWT"]}"#, &payload)).contains("typ"));
}

#[test]
fn key_bearing_headers_are_recorded_and_otherwise_ignored() {
    let header = json!({
        "alg": "RS256", "kid": RSA_KID, "jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/cert",
        "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "x5c": ["MIIB"],
    });
    let parsed = parse_token(&raw(&header.to_string(), &claims(ISSUER).to_string())).unwrap();
    assert_eq!(
        parsed.header.ignored_key_headers,
        vec!["jku", "x5u", "jwk", "x5c"]
    );
}

#[test]
fn the_signature_must_be_present_and_sized_for_the_algorithm() {
    let payload = claims(ISSUER).to_string();
    let rs_input = signing_input(r#"{"alg":"RS256"}"#, &payload);
    assert!(refused(&format!("{rs_input}.")).contains("empty"));
    assert!(refused(&format!("{rs_input}.{}", b64([1u8; 16]))).contains("16 bytes"));
    let es_input = signing_input(r#"{"alg":"ES256"}"#, &payload);
    assert!(refused(&format!("{es_input}.{}", b64([1u8; 65]))).contains("65 bytes"));
    assert!(refused(&format!("{es_input}.{}", b64([1u8; 256]))).contains("256 bytes"));
    let es512_input = signing_input(r#"{"alg":"ES512"}"#, &payload);
    parse_token(&format!("{es512_input}.{}", b64([1u8; 132]))).unwrap();
}

#[test]
fn each_missing_required_claim_is_named() {
    for claim in ["iss", "sub", "aud", "iat", "exp"] {
        for absent in [None, Some(json!(null))] {
            let mut token_claims = claims(ISSUER);
            match &absent {
                None => {
                    token_claims.as_object_mut().unwrap().remove(claim);
                }
                Some(null) => token_claims[claim] = null.clone(),
            }
            let error = parse_token(&with_claims(&token_claims)).unwrap_err();
            assert_eq!(error, TokenError::MissingClaim { claim });
            assert_eq!(error.aws_code(), "InvalidIdentityToken");
            assert_eq!(
                error.aws_message(),
                format!("Missing a required claim: {claim}")
            );
        }
    }
    let error = parse_token(&with_claims(&json!({}))).unwrap_err();
    assert_eq!(error.aws_message(), "Missing a required claim: iss");
}

#[test]
fn timestamps_must_be_non_negative_integers() {
    for claim in ["iat", "exp", "nbf"] {
        for (value, expected) in [
            (json!("1764117400"), "not an integer"),
            (json!(1_764_117_400.0), "not an integer of at most 64 bits"),
            (json!(1.764_117_4e9), "not an integer of at most 64 bits"),
            (json!(1e30), "not an integer of at most 64 bits"),
            (json!(u64::MAX), "not an integer of at most 64 bits"),
            (json!(-1), "negative"),
            (json!(i64::MIN), "negative"),
            (json!(true), "not an integer"),
            (json!([1]), "not an integer"),
        ] {
            let mut token_claims = claims(ISSUER);
            token_claims[claim] = value.clone();
            let detail = refused(&with_claims(&token_claims));
            assert!(detail.contains(expected), "{claim}={value}: {detail}");
        }
    }
    let text = claims(ISSUER).to_string().replace(
        &format!("\"exp\":{}", NOW_SECONDS + 600),
        "\"exp\":100000000000000000000000000000",
    );
    assert!(refused(&raw(r#"{"alg":"RS256"}"#, &text)).contains("64 bits"));
    let mut huge = claims(ISSUER);
    huge["exp"] = json!(i64::MAX);
    assert_eq!(
        parse_token(&with_claims(&huge)).unwrap().expires_at,
        i64::MAX
    );
}

#[test]
fn audience_arrays_follow_the_authorised_party_rule() {
    let mut token_claims = claims(ISSUER);
    token_claims["aud"] = json!(["only-audience"]);
    let parsed = parse_token(&with_claims(&token_claims)).unwrap();
    assert_eq!(parsed.audience, "only-audience");

    token_claims["aud"] = json!(["first", "second"]);
    let error = parse_token(&with_claims(&token_claims)).unwrap_err();
    assert_eq!(error, TokenError::MultipleAudiences { count: 2 });
    assert_eq!(error.aws_code(), "InvalidIdentityToken");
    assert_eq!(error.aws_message(), MULTIPLE_AUDIENCES_MESSAGE);

    token_claims["azp"] = json!("second");
    let parsed = parse_token(&with_claims(&token_claims)).unwrap();
    assert_eq!(parsed.audience, "second");
    assert_eq!(parsed.audiences, vec!["first", "second"]);
    assert_eq!(parsed.authorized_party.as_deref(), Some("second"));

    token_claims["aud"] = json!([]);
    let error = parse_token(&with_claims(&token_claims)).unwrap_err();
    assert_eq!(error.aws_message(), "Missing a required claim: aud");

    for bad in [
        json!(["ok", 7]),
        json!(42),
        json!({"a": "b"}),
        json!(["a\u{0}b"]),
    ] {
        token_claims["aud"] = bad;
        refused(&with_claims(&token_claims));
    }
}

#[test]
fn string_claims_refuse_other_types_and_control_characters() {
    for claim in ["iss", "sub", "azp"] {
        for bad in [
            json!(1),
            json!(["x"]),
            json!("a\u{0}b"),
            json!("a\nb"),
            json!("a\u{7f}b"),
        ] {
            let mut token_claims = claims(ISSUER);
            token_claims[claim] = bad.clone();
            let detail = refused(&with_claims(&token_claims));
            assert!(detail.contains(claim), "{claim}={bad}: {detail}");
        }
    }
    let mut token_claims = claims(ISSUER);
    token_claims["iss"] = json!("");
    assert!(refused(&with_claims(&token_claims)).contains("empty"));
}

#[test]
fn deeply_nested_json_is_refused_without_exhausting_the_stack() {
    let depth = 6_000;
    let nested = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let detail = refused(&raw(r#"{"alg":"RS256"}"#, &nested));
    assert!(detail.contains("recursion limit"), "{detail}");
}
