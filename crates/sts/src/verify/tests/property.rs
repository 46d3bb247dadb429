//! Property tests: `parse_token` never panics, whatever it is given, and only accepts what it
//! can fully describe.

use proptest::prelude::*;

use super::*;

/// A valid token to mutate.
fn valid_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        token(
            &claims("https://oidc.circleci.com/org/11111111-2222-3333-4444-555555555555"),
            rsa_key(),
            Some(RSA_KID),
        )
    })
}

/// Either a base64url segment of arbitrary bytes or of JSON-looking text.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(b64),
        "\\{(\"[a-z]{1,4}\":(-?[0-9]{1,22}(\\.[0-9])?|\"[ -~]{0,8}\"|null|true|\\[\\]|\\{\\}),?){0,6}\\}"
            .prop_map(b64),
        "[A-Za-z0-9_=+/-]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_token(&text);
    }

    #[test]
    fn token_shaped_input_never_panics(segments in proptest::collection::vec(segment(), 0..6)) {
        let _ = parse_token(&segments.join("."));
    }

    #[test]
    fn a_mutated_token_never_panics(position in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
        let mut bytes = valid_token().as_bytes().to_vec();
        let index = position % bytes.len();
        bytes[index] = byte;
        bytes.truncate(bytes.len() - cut % bytes.len());
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(parsed) = parse_token(&text) {
            prop_assert!(!parsed.issuer.is_empty());
            prop_assert!(parsed.expires_at >= 0 && parsed.issued_at >= 0);
        }
    }
}
