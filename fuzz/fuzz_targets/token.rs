//! Fuzzes the web identity token front end, `keyless_sts::verify::parse_token`: trimming,
//! segment splitting, strict base64url, duplicate-free header and payload JSON, `alg`, the
//! signature size and the required claims.
//!
//! The first input byte picks a mode. Even: the rest is the token text as received. Odd: the
//! rest is `header JSON \n payload JSON \n signature bytes`, base64url-encoded here so the fuzzer
//! reaches the JSON and claim checks without having to discover base64 first. Either way, the
//! parser must not panic, must fail only with AWS's `InvalidIdentityToken` or
//! `ExpiredTokenException`, and what it accepts must satisfy the claims' invariants.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_sts::verify::{
    EXPIRED_TOKEN_EXCEPTION, INVALID_IDENTITY_TOKEN, REQUIRED_CLAIMS, parse_token,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        assembled_token(rest)
    };
    check(&token);
});

/// `base64url(header).base64url(payload).base64url(signature)` from newline-separated parts.
fn assembled_token(parts: &[u8]) -> String {
    let mut parts = parts.splitn(3, |byte| *byte == b'\n');
    let header = parts.next().unwrap_or_default();
    let payload = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Parses `token` and checks the result's invariants.
fn check(token: &str) {
    match parse_token(token) {
        Ok(parsed) => {
            assert!(!parsed.issuer.is_empty(), "an empty iss was accepted");
            for claim in REQUIRED_CLAIMS {
                assert!(parsed.claims.contains_key(claim), "{claim} missing");
            }
            match &parsed.authorized_party {
                Some(party) => assert_eq!(&parsed.audience, party),
                None => assert_eq!(parsed.audiences, vec![parsed.audience.clone()]),
            }
            assert!(parsed.issued_at >= 0 && parsed.expires_at >= 0);
            assert!(parsed.not_before.is_none_or(|seconds| seconds >= 0));
            let printable = |text: &str| !text.chars().any(char::is_control);
            assert!(printable(&parsed.issuer) && printable(&parsed.subject));
            assert!(parsed.audiences.iter().all(|audience| printable(audience)));
            // Surrounding ASCII whitespace is trimmed (§3.7): the same token parses the same.
            let padded =
                parse_token(&format!(" \n{token}\t ")).expect("padding changed the verdict");
            assert_eq!(padded.issuer, parsed.issuer);
            assert_eq!(padded.claims, parsed.claims);
        }
        Err(error) => {
            let code = error.aws_code();
            assert!(
                code == INVALID_IDENTITY_TOKEN || code == EXPIRED_TOKEN_EXCEPTION,
                "unexpected code {code}"
            );
            assert_eq!(error.http_status(), 400);
            assert!(!error.aws_message().is_empty());
        }
    }
}
