//! Secrets of the issuer (the admin token, runner tokens, job secrets): how they are made, how
//! they are stored (a SHA-256 digest, never the secret), and the one place where a presented
//! secret is compared with a known one, in constant time.
//!
//! Both sides are hashed before the comparison, so the comparison always runs over 32 bytes:
//! neither the content nor the length of the known secret shows in how long a refusal takes.
//! `cargo xtask tidy` refuses `==`/`!=` between two secret-named values anywhere in the tree.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A fresh random secret (256 bits, base64url), for job secrets and runner tokens.
pub fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 digest under which a secret is stored.
pub fn secret_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `presented` hashes to `stored_digest`, compared in constant time. Every check of a
/// secret in the issuer ends here.
pub fn secret_matches(presented: &str, stored_digest: &[u8]) -> bool {
    secret_digest(presented).ct_eq(stored_digest).into()
}

/// Whether two secrets in the clear are equal, compared in constant time (through
/// [`secret_matches`]).
pub fn secrets_equal(presented: &str, known: &str) -> bool {
    secret_matches(presented, &secret_digest(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content_whatever_their_length() {
        assert!(secrets_equal("s3cret-token", "s3cret-token"));
        assert!(!secrets_equal("s3cret-token", "s3cret-tokeN"));
        assert!(!secrets_equal("s3cret", "s3cret-token"));
        assert!(!secrets_equal("", "s3cret-token"));
        assert!(secret_matches("abc", &secret_digest("abc")));
        assert!(!secret_matches("abc", &secret_digest("abd")));
        assert!(!secret_matches("abc", b"short"));
        assert_ne!(random_secret(), random_secret());
        assert_eq!(random_secret().len(), 43);
    }
}
