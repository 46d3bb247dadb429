//! JSON Web Keys (RFC 7517) as issuers publish them, and the RFC 7638 thumbprint that keyless
//! uses as each key's `kid` (`spec/circleci-oidc.md` §1.3: RSA keys, selected by `kid`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One public key (RFC 7517 §4). Only public members are modelled: a JWK with private members
/// (`d`, `p`, `q`, …) cannot be represented, so it can never be published by accident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC` (RFC 7518 §6.1).
    pub kty: String,
    /// Intended use; `sig` for signing keys (RFC 7517 §4.2).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// The algorithm the key is for, e.g. `RS256` (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id, matched against the JWT header's `kid` (RFC 7517 §4.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RSA modulus, base64url big-endian without leading zeros (RFC 7518 §6.3.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url (RFC 7518 §6.3.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve, e.g. `P-256` (RFC 7518 §6.2.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url (RFC 7518 §6.2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url (RFC 7518 §6.2.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Why a thumbprint cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbprintError {
    /// The key type has no thumbprint definition here (RFC 7638 §3.2 covers RSA, EC, oct).
    #[error("no RFC 7638 thumbprint for key type {0:?}")]
    UnsupportedKeyType(String),
    /// A member the thumbprint needs is missing.
    #[error("the {kty} key has no {member:?} member, which its thumbprint requires")]
    MissingMember {
        /// The key type.
        kty: String,
        /// The missing member.
        member: &'static str,
    },
}

/// Encodes unsigned big-endian bytes as base64url without padding, leading zero bytes removed
/// (RFC 7518 §2 `Base64urlUInt`).
pub fn base64url_uint(bytes: &[u8]) -> String {
    let first_nonzero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    URL_SAFE_NO_PAD.encode(&bytes[first_nonzero..])
}

impl Jwk {
    /// An RSA signing key for `alg` from its modulus and exponent (big-endian bytes), with
    /// `use: sig` and `kid` set to its RFC 7638 thumbprint.
    pub fn rsa_signing_key(modulus: &[u8], exponent: &[u8], alg: &str) -> Self {
        let mut key = Self {
            kty: "RSA".to_owned(),
            key_use: Some("sig".to_owned()),
            alg: Some(alg.to_owned()),
            kid: None,
            n: Some(base64url_uint(modulus)),
            e: Some(base64url_uint(exponent)),
            crv: None,
            x: None,
            y: None,
        };
        // An RSA key with n and e set always has a thumbprint.
        key.kid = key.thumbprint().ok();
        key
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members, in lexicographic order,
    /// with no whitespace, base64url without padding.
    pub fn thumbprint(&self) -> Result<String, ThumbprintError> {
        let member = |name: &'static str, value: &Option<String>| {
            value.clone().ok_or_else(|| ThumbprintError::MissingMember {
                kty: self.kty.clone(),
                member: name,
            })
        };
        // serde_json writes strings with the minimal escaping RFC 7638 §3.3 asks for, and a
        // BTreeMap's keys in lexicographic order (§3.3, "sorted ... in lexicographic order").
        let mut required = std::collections::BTreeMap::new();
        required.insert("kty", self.kty.clone());
        match self.kty.as_str() {
            "RSA" => {
                required.insert("e", member("e", &self.e)?);
                required.insert("n", member("n", &self.n)?);
            }
            "EC" => {
                required.insert("crv", member("crv", &self.crv)?);
                required.insert("x", member("x", &self.x)?);
                required.insert("y", member("y", &self.y)?);
            }
            other => return Err(ThumbprintError::UnsupportedKeyType(other.to_owned())),
        }
        // Serialising a map of strings cannot fail.
        let canonical = serde_json::to_string(&required).unwrap_or_default();
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
    }
}

/// A JWK Set (RFC 7517 §5): what `/.well-known/jwks-pub.json` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys; verifiers choose one by `kid`.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with this `kid`, if published.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn rfc7638_example_thumbprint() {
        let key: Jwk = serde_json::from_str(
            r#"{
              "kty": "RSA",
              "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
              "e": "AQAB",
              "alg": "RS256",
              "kid": "2011-04-29"
            }"#,
        )
        .unwrap();
        assert_eq!(
            key.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn optional_members_do_not_change_the_thumbprint() {
        let mut key = Jwk::rsa_signing_key(&[0, 0xc3, 0x51, 0x07], &[1, 0, 1], "RS256");
        let kid = key.kid.clone().unwrap();
        assert_eq!(
            key.n.as_deref(),
            Some("w1EH"),
            "leading zero bytes are dropped"
        );
        assert_eq!(key.e.as_deref(), Some("AQAB"));
        key.alg = None;
        key.key_use = None;
        assert_eq!(key.thumbprint().unwrap(), kid);
    }

    #[test]
    fn thumbprint_needs_the_required_members() {
        let mut key = Jwk::rsa_signing_key(&[1, 2, 3], &[1, 0, 1], "RS256");
        key.e = None;
        assert_eq!(
            key.thumbprint(),
            Err(ThumbprintError::MissingMember {
                kty: "RSA".into(),
                member: "e"
            })
        );
        key.kty = "oct".into();
        assert!(matches!(
            key.thumbprint(),
            Err(ThumbprintError::UnsupportedKeyType(_))
        ));
    }

    #[test]
    fn jwks_serialises_without_empty_members_and_finds_by_kid() {
        let key = Jwk::rsa_signing_key(&[0xc3, 0x51], &[1, 0, 1], "RS256");
        let kid = key.kid.clone().unwrap();
        let jwks = Jwks { keys: vec![key] };
        let json = serde_json::to_value(&jwks).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256",
                "kid": kid, "n": "w1E", "e": "AQAB"}]})
        );
        assert!(jwks.find(&kid).is_some());
        assert!(jwks.find("other").is_none());
    }
}
