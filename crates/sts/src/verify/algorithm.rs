//! The signature algorithms STS accepts and the public keys that verify them.
//!
//! Only RS256/384/512 and ES256/384/512 (`spec/aws-sts-iam.md` §2.1, §3.2). Keys are parsed once,
//! when a key set is fetched, into aws-lc-rs [`ParsedPublicKey`]s (constant-time, no re-parsing
//! per request). RSA moduli under 2048 bits are refused; ECDSA signatures use the fixed-length
//! `r || s` form of RFC 7518 §3.4, and aws-lc-rs rejects `r = 0` or `s = 0`.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_claims::Jwk;

/// The smallest RSA modulus accepted, in bits (aws-lc-rs `RSA_PKCS1_2048_8192_*`).
pub const MIN_RSA_MODULUS_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_MODULUS_BITS: usize = 8192;

/// A JWS `alg` that STS accepts (RFC 7518 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    /// Every accepted algorithm.
    pub const ALL: [Algorithm; 6] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Es256,
        Self::Es384,
        Self::Es512,
    ];

    /// The algorithm for an exact, case-sensitive `alg` value (RFC 7515 §4.1.1 values are
    /// case-sensitive), or `None` for anything else, `none` and the HMAC family included.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    /// The `alg` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }

    /// The position of this algorithm in [`Algorithm::ALL`].
    fn index(self) -> usize {
        match self {
            Self::Rs256 => 0,
            Self::Rs384 => 1,
            Self::Rs512 => 2,
            Self::Es256 => 3,
            Self::Es384 => 4,
            Self::Es512 => 5,
        }
    }

    /// The JWK curve name and coordinate length for an ECDSA algorithm (RFC 7518 §3.4).
    fn ec_curve(self) -> Option<(&'static str, usize)> {
        match self {
            Self::Es256 => Some(("P-256", 32)),
            Self::Es384 => Some(("P-384", 48)),
            Self::Es512 => Some(("P-521", 66)),
            _ => None,
        }
    }

    /// The aws-lc-rs verification algorithm.
    fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }

    /// The RSA parameters for an RSA algorithm.
    fn rsa_parameters(self) -> Option<&'static signature::RsaParameters> {
        match self {
            Self::Rs256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Self::Rs384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Self::Rs512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            _ => None,
        }
    }
}

/// One published key, parsed for every algorithm it may verify.
pub struct VerificationKey {
    /// The key's `kid`, if it has one.
    pub kid: Option<String>,
    /// Parsed keys indexed by [`Algorithm::index`]; `None` where the key cannot serve that
    /// algorithm (wrong type or curve, or a JWK `alg` naming another algorithm).
    parsed: [Option<ParsedPublicKey>; 6],
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algorithms: Vec<&str> = Algorithm::ALL
            .into_iter()
            .filter(|algorithm| self.supports(*algorithm))
            .map(Algorithm::name)
            .collect();
        formatter
            .debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &algorithms)
            .finish()
    }
}

impl VerificationKey {
    /// Parses a JWK. `Err` says why the key is unusable (for logs); such keys are skipped.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, String> {
        if let Some(key_use) = &jwk.key_use
            && key_use != "sig"
        {
            return Err(format!("key use {key_use:?} is not \"sig\""));
        }
        let declared = match &jwk.alg {
            Some(name) => Some(
                Algorithm::from_name(name)
                    .ok_or_else(|| format!("key algorithm {name:?} is not accepted"))?,
            ),
            None => None,
        };
        let allowed = |algorithm: Algorithm| declared.is_none_or(|declared| declared == algorithm);
        let mut parsed: [Option<ParsedPublicKey>; 6] = Default::default();
        match jwk.kty.as_str() {
            "RSA" => {
                let modulus = decode_member(jwk.n.as_deref(), "n")?;
                let exponent = decode_member(jwk.e.as_deref(), "e")?;
                let bits = unsigned_bit_length(&modulus);
                if !(MIN_RSA_MODULUS_BITS..=MAX_RSA_MODULUS_BITS).contains(&bits) {
                    return Err(format!(
                        "RSA modulus of {bits} bits is outside {MIN_RSA_MODULUS_BITS}..={MAX_RSA_MODULUS_BITS}"
                    ));
                }
                let components = RsaPublicKeyComponents {
                    n: modulus.as_slice(),
                    e: exponent.as_slice(),
                };
                for algorithm in [Algorithm::Rs256, Algorithm::Rs384, Algorithm::Rs512] {
                    if let (true, Some(parameters)) =
                        (allowed(algorithm), algorithm.rsa_parameters())
                    {
                        let key = components
                            .to_parsed_public_key(parameters)
                            .map_err(|error| format!("RSA key rejected: {error}"))?;
                        parsed[algorithm.index()] = Some(key);
                    }
                }
            }
            "EC" => {
                let curve = jwk.crv.as_deref().unwrap_or_default();
                let algorithm = [Algorithm::Es256, Algorithm::Es384, Algorithm::Es512]
                    .into_iter()
                    .find(|algorithm| algorithm.ec_curve().is_some_and(|(name, _)| name == curve))
                    .ok_or_else(|| format!("EC curve {curve:?} is not accepted"))?;
                if !allowed(algorithm) {
                    return Err(format!("key algorithm does not match curve {curve}"));
                }
                let length = algorithm.ec_curve().map_or(0, |(_, length)| length);
                let x = decode_member(jwk.x.as_deref(), "x")?;
                let y = decode_member(jwk.y.as_deref(), "y")?;
                if x.len() != length || y.len() != length {
                    return Err(format!("EC coordinates for {curve} must be {length} bytes"));
                }
                // SEC 1 §2.3.3 uncompressed point: 0x04 || x || y.
                let mut point = Vec::with_capacity(1 + 2 * length);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = ParsedPublicKey::new(algorithm.verification(), &point)
                    .map_err(|error| format!("EC key rejected: {error}"))?;
                parsed[algorithm.index()] = Some(key);
            }
            other => return Err(format!("key type {other:?} is not accepted")),
        }
        Ok(Self {
            kid: jwk.kid.clone(),
            parsed,
        })
    }

    /// Whether this key can verify `algorithm`.
    pub fn supports(&self, algorithm: Algorithm) -> bool {
        self.parsed[algorithm.index()].is_some()
    }

    /// Verifies `signature` over `message` with `algorithm`; false when the key cannot serve
    /// the algorithm or the signature is wrong.
    pub fn verify(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.parsed[algorithm.index()]
            .as_ref()
            .is_some_and(|key| key.verify_sig(message, signature).is_ok())
    }
}

/// Decodes a required base64url JWK member.
fn decode_member(value: Option<&str>, name: &str) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("missing member {name:?}"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|error| format!("member {name:?} is not base64url: {error}"))
}

/// The bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn unsigned_bit_length(bytes: &[u8]) -> usize {
    match bytes.iter().position(|byte| *byte != 0) {
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact_and_case_sensitive() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        }
        for name in [
            "none", "None", "NONE", "rs256", "HS256", "HS384", "HS512", "PS256", "EdDSA", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(unsigned_bit_length(&[0, 0, 1]), 1);
        assert_eq!(unsigned_bit_length(&[0x80, 0]), 16);
        assert_eq!(unsigned_bit_length(&[0, 0]), 0);
        assert_eq!(unsigned_bit_length(&[0x01; 256]), 2041);
    }

    #[test]
    fn unusable_keys_say_why() {
        let mut key = Jwk::rsa_signing_key(&[0xc3; 128], &[1, 0, 1], "RS256");
        assert!(
            VerificationKey::from_jwk(&key)
                .unwrap_err()
                .contains("1024 bits")
        );
        key.kty = "oct".into();
        assert!(
            VerificationKey::from_jwk(&key)
                .unwrap_err()
                .contains("key type")
        );
        key.kty = "RSA".into();
        key.alg = Some("HS256".into());
        assert!(
            VerificationKey::from_jwk(&key)
                .unwrap_err()
                .contains("not accepted")
        );
        key.alg = None;
        key.key_use = Some("enc".into());
        assert!(VerificationKey::from_jwk(&key).unwrap_err().contains("sig"));
    }
}
