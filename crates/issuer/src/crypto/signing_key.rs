//! One RSA-2048 signing key: generated with the `rsa` crate, stored as PKCS#8 DER, parsed once
//! into an `aws-lc-rs` key pair that signs RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518
//! §3.3) in constant time and at OpenSSL-class speed.
//!
//! `jsonwebtoken`'s `encode` re-parses the PEM key on every call; keeping the parsed
//! [`RsaKeyPair`] here is what makes signing fast (the RustCrypto `rsa` crate is only used for
//! generation and encoding, never for private-key operations: RUSTSEC-2023-0071).

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use keyless_claims::Jwk;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;

/// The modulus size of every key the issuer generates (`spec/circleci-oidc.md` §1.3).
pub const RSA_KEY_BITS: usize = 2048;

/// The only algorithm the issuer signs with (§1.3).
pub const SIGNING_ALGORITHM: &str = "RS256";

/// Why a key could not be made, read or used. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Generating a fresh RSA key failed.
    #[error("generating an RSA-{RSA_KEY_BITS} key failed: {0}")]
    Generate(String),
    /// Stored key bytes are not a usable PKCS#8 RSA private key.
    #[error("the stored private key is not a usable PKCS#8 RSA key: {0}")]
    Decode(String),
    /// The signing operation failed.
    #[error("RS256 signing failed")]
    Sign,
}

/// A private key ready to sign, with its public half as a JWK whose `kid` is the RFC 7638
/// thumbprint. `Debug` shows the `kid` only.
pub struct SigningKey {
    kid: String,
    public_jwk: Jwk,
    public_key_pem: String,
    /// `base64url({"alg":"RS256","kid":…,"typ":"JWT"})`, the same for every token this key
    /// signs, so it is encoded once.
    encoded_header: String,
    key_pair: RsaKeyPair,
    random: SystemRandom,
}

/// PKCS#8 DER bytes of a private key, wiped from memory when dropped.
pub type PrivateKeyDer = rsa::pkcs8::SecretDocument;

impl SigningKey {
    /// Generates a fresh RSA-2048 key; returns it and its PKCS#8 DER encoding for storage.
    pub fn generate() -> Result<(Self, PrivateKeyDer), KeyError> {
        let private_key = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_KEY_BITS)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let der = private_key
            .to_pkcs8_der()
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let key = Self::from_parts(&private_key, der.as_bytes())?;
        Ok((key, der))
    }

    /// Reads a key stored as PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let private_key = RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|error| KeyError::Decode(error.to_string()))?;
        Self::from_parts(&private_key, der)
    }

    fn from_parts(private_key: &RsaPrivateKey, der: &[u8]) -> Result<Self, KeyError> {
        let key_pair =
            RsaKeyPair::from_pkcs8(der).map_err(|error| KeyError::Decode(error.to_string()))?;
        let public_key = private_key.to_public_key();
        let public_jwk = Jwk::rsa_signing_key(
            &public_key.n().to_bytes_be(),
            &public_key.e().to_bytes_be(),
            SIGNING_ALGORITHM,
        );
        let public_key_pem = public_key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| KeyError::Decode(error.to_string()))?;
        // An RSA JWK with n and e always has a thumbprint; see Jwk::rsa_signing_key.
        let kid = public_jwk.kid.clone().unwrap_or_default();
        let encoded_header =
            super::jwt::encoded_header(&super::jwt::JwtHeader::new(SIGNING_ALGORITHM, Some(&kid)))
                .map_err(|error| KeyError::Decode(error.to_string()))?;
        Ok(Self {
            kid,
            public_jwk,
            public_key_pem,
            encoded_header,
            key_pair,
            random: SystemRandom::new(),
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as published in the JWKS (`use: sig`, `alg: RS256`, `kid`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document, the bytes an
    /// algorithm-confusion attack uses as an HMAC secret.
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// The first part of every RS256 token this key signs: its base64url-encoded header.
    pub fn encoded_header(&self) -> &str {
        &self.encoded_header
    }

    /// Signs `message` with RS256. CPU-bound (about a millisecond): call it from a blocking
    /// thread, not from the async runtime.
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(&RSA_PKCS1_SHA256, &self.random, message, &mut signature)
            .map_err(|_| KeyError::Sign)?;
        Ok(signature)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}
