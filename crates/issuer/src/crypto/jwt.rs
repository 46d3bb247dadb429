//! Compact JWS serialisation (RFC 7515 §7.1) of claim sets: RS256 tokens as CircleCI issues
//! them, and the malformed variants the negative-token factory hands to people testing their
//! own verifiers (`alg: none`, HS256 keyed with the public key).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use serde::Serialize;
use sha2::Sha256;

use super::signing_key::{KeyError, SIGNING_ALGORITHM, SigningKey};

/// The JOSE header, serialised in CircleCI's order: `{"alg":"RS256","kid":…,"typ":"JWT"}`
/// (`spec/circleci-oidc.md` §1.7; `typ` is recorded in `docs/decisions.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwtHeader {
    /// The signature algorithm.
    pub alg: String,
    /// The key id, absent for unsigned tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Always `JWT`.
    pub typ: String,
}

impl JwtHeader {
    /// The header of a token signed by `key`.
    pub fn rs256(key: &SigningKey) -> Self {
        Self::new(SIGNING_ALGORITHM, Some(key.kid()))
    }

    /// A header with any algorithm and key id.
    pub fn new(alg: &str, kid: Option<&str>) -> Self {
        Self {
            alg: alg.to_owned(),
            kid: kid.map(str::to_owned),
            typ: "JWT".to_owned(),
        }
    }
}

/// Why a token could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The claims did not serialise to JSON.
    #[error("the claims do not serialise to JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Room for a whole job token (header, claims and signature encoded are about 1.3 KB), so
/// building one never reallocates.
const TOKEN_CAPACITY: usize = 2_048;

/// `base64url(header)`, the first part of a token.
pub fn encoded_header(header: &JwtHeader) -> Result<String, EncodeError> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?))
}

/// `base64url(header) "." base64url(claims)`, the JWS signing input.
pub fn signing_input<C: Serialize>(header: &JwtHeader, claims: &C) -> Result<String, EncodeError> {
    signing_input_after(encoded_header(header)?, claims)
}

/// Appends `"." base64url(claims)` to an encoded header.
fn signing_input_after<C: Serialize>(
    mut encoded_header: String,
    claims: &C,
) -> Result<String, EncodeError> {
    let claims_json = serde_json::to_vec(claims)?;
    encoded_header.reserve(TOKEN_CAPACITY.saturating_sub(encoded_header.len()));
    encoded_header.push('.');
    URL_SAFE_NO_PAD.encode_string(claims_json, &mut encoded_header);
    Ok(encoded_header)
}

/// A token signed with RS256 by `key`, header `{"alg":"RS256","kid":…,"typ":"JWT"}` (encoded
/// once per key: see [`SigningKey::encoded_header`]).
pub fn encode_rs256<C: Serialize>(key: &SigningKey, claims: &C) -> Result<String, EncodeError> {
    let mut token = String::with_capacity(TOKEN_CAPACITY);
    token.push_str(key.encoded_header());
    sign_into(key, signing_input_after(token, claims)?)
}

/// Signs a signing input and appends `"." base64url(signature)`.
fn sign_into(key: &SigningKey, mut input: String) -> Result<String, EncodeError> {
    let signature = key.sign_rs256(input.as_bytes())?;
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut input);
    Ok(input)
}

/// A token signed with RS256 by `key` under any header (for tokens that lie about their `kid`).
pub fn encode_rs256_with_header<C: Serialize>(
    key: &SigningKey,
    header: &JwtHeader,
    claims: &C,
) -> Result<String, EncodeError> {
    sign_into(key, signing_input(header, claims)?)
}

/// An unsecured token (RFC 7519 §6.1): header `alg: none` and an empty signature.
pub fn encode_unsecured<C: Serialize>(claims: &C) -> Result<String, EncodeError> {
    let input = signing_input(&JwtHeader::new("none", None), claims)?;
    Ok(format!("{input}."))
}

/// An HS256 token whose HMAC secret is `secret`; with the issuer's public key PEM as the
/// secret this is the classic RS256/HS256 algorithm-confusion attack.
pub fn encode_hs256<C: Serialize>(
    secret: &[u8],
    kid: Option<&str>,
    claims: &C,
) -> Result<String, EncodeError> {
    let input = signing_input(&JwtHeader::new("HS256", kid), claims)?;
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret).map_err(|_| EncodeError::Key(KeyError::Sign))?;
    mac.update(input.as_bytes());
    let tag = mac.finalize().into_bytes();
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    #[test]
    fn rs256_tokens_verify_against_the_published_jwk() {
        let (key, der) = SigningKey::generate().unwrap();
        let reread = SigningKey::from_pkcs8_der(der.as_bytes()).unwrap();
        assert_eq!(reread.kid(), key.kid(), "the kid survives storage");
        assert_eq!(key.public_jwk().thumbprint().unwrap(), key.kid());

        let claims = serde_json::json!({"sub": "x", "aud": "a", "exp": 4_102_444_800_i64});
        let token = encode_rs256(&reread, &claims).unwrap();
        let header = token.split('.').next().unwrap();
        let header = String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            format!(r#"{{"alg":"RS256","kid":"{}","typ":"JWT"}}"#, key.kid())
        );

        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(key.public_jwk()).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["a"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);
    }

    #[test]
    fn the_header_encoded_once_per_key_gives_the_same_token_as_encoding_it_each_time() {
        let (key, _) = SigningKey::generate().unwrap();
        let claims = serde_json::json!({"sub": "x", "aud": "a", "exp": 4_102_444_800_i64});
        // RS256 (PKCS#1 v1.5) is deterministic, so the two paths must agree byte for byte.
        let general = encode_rs256_with_header(&key, &JwtHeader::rs256(&key), &claims).unwrap();
        assert_eq!(encode_rs256(&key, &claims).unwrap(), general);
    }

    #[test]
    fn unsecured_and_hs256_tokens_have_their_headers() {
        let claims = serde_json::json!({"sub": "x"});
        let unsecured = encode_unsecured(&claims).unwrap();
        assert!(unsecured.ends_with('.'));
        assert_eq!(unsecured.matches('.').count(), 2);
        let hs256 = encode_hs256(b"secret", Some("k"), &claims).unwrap();
        let key = jsonwebtoken::DecodingKey::from_secret(b"secret");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(&hs256, &key, &validation).unwrap();
    }
}
