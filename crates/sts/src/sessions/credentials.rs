//! Generating and decoding temporary credentials (see the parent module for the formats).

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::{Rng, RngCore};

/// The prefix of temporary (STS-issued) access key ids (AWS: "Unique identifier prefixes").
pub const TEMPORARY_ACCESS_KEY_PREFIX: &str = "ASIA";

/// The bytes whose base64 encoding, `IQoJb3JpZ2luX2Vj`, opens AWS's regional session tokens.
const SESSION_TOKEN_PREAMBLE: &[u8; 12] = b"!\n\torigin_ec";

/// Random bytes in a session token after the preamble (256 bits of entropy, and a token length
/// of a few hundred characters like AWS's).
const SESSION_TOKEN_RANDOM_BYTES: usize = 288;

/// A full set of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    /// `ASIA…`, 20 characters.
    pub access_key_id: String,
    /// 40 characters; shown to the client once, never logged.
    pub secret_access_key: String,
    /// The opaque token the client sends back as `X-Amz-Security-Token`; never logged.
    pub session_token: String,
    /// When the credentials stop working (now + `DurationSeconds`).
    pub expiration: SystemTime,
}

impl std::fmt::Debug for SessionCredentials {
    /// Shows the access key id and expiry only: secrets never reach logs through `{:?}`.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// RFC 4648 base32 of exactly ten bytes (80 bits → 16 characters, no padding).
fn base32_ten_bytes(bytes: &[u8; 10]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut value: u128 = 0;
    for byte in bytes {
        value = (value << 8) | u128::from(*byte);
    }
    (0..16)
        .rev()
        .map(|index| char::from(ALPHABET[((value >> (index * 5)) & 0x1f) as usize]))
        .collect()
}

/// Decodes 16 base32 characters back to ten bytes; `None` if any is outside the alphabet.
fn base32_decode_sixteen(text: &str) -> Option<[u8; 10]> {
    if text.len() != 16 {
        return None;
    }
    let mut value: u128 = 0;
    for character in text.bytes() {
        let digit = match character {
            b'A'..=b'Z' => character - b'A',
            b'2'..=b'7' => character - b'2' + 26,
            _ => return None,
        };
        value = (value << 5) | u128::from(digit);
    }
    let mut bytes = [0u8; 10];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (value >> (8 * (9 - index))) as u8;
    }
    Some(bytes)
}

/// An access key id with `prefix` whose characters 5–16 encode `account_id` as AWS does: the
/// first six decoded bytes hold `account_id << 7` plus seven random low bits, the last four are
/// random.
pub fn generate_access_key_id(prefix: &str, account_id: u64, random: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 10];
    random.fill_bytes(&mut bytes);
    // Account ids have 12 decimal digits (< 2^40), so account << 7 fits in the 47 bits below the
    // top bit of a 48-bit field.
    let encoded = ((account_id & 0xff_ffff_ffff) << 7) | u64::from(bytes[5] & 0x7f);
    bytes[..6].copy_from_slice(&encoded.to_be_bytes()[2..]);
    format!("{prefix}{}", base32_ten_bytes(&bytes))
}

/// The account id encoded in an access key id made by [`generate_access_key_id`] (or by AWS).
pub fn account_from_access_key_id(access_key_id: &str) -> Option<u64> {
    let bytes = base32_decode_sixteen(access_key_id.get(4..)?)?;
    let mut field = [0u8; 8];
    field[2..].copy_from_slice(&bytes[..6]);
    Some((u64::from_be_bytes(field) & 0x7fff_ffff_ff80) >> 7)
}

/// Fresh credentials for `account_id` expiring at `expiration`.
pub fn generate_session_credentials(
    account_id: u64,
    expiration: SystemTime,
    random: &mut impl RngCore,
) -> SessionCredentials {
    let mut secret = [0u8; 30];
    random.fill_bytes(&mut secret);
    let mut token = Vec::with_capacity(SESSION_TOKEN_PREAMBLE.len() + SESSION_TOKEN_RANDOM_BYTES);
    token.extend_from_slice(SESSION_TOKEN_PREAMBLE);
    token.extend((0..SESSION_TOKEN_RANDOM_BYTES).map(|_| random.r#gen::<u8>()));
    SessionCredentials {
        access_key_id: generate_access_key_id(TEMPORARY_ACCESS_KEY_PREFIX, account_id, random),
        secret_access_key: STANDARD.encode(secret),
        session_token: STANDARD.encode(token),
        expiration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn access_key_ids_have_aws_shape_and_encode_the_account() {
        let mut random = StdRng::seed_from_u64(7);
        for account in [123_456_789_012_u64, 0, 999_999_999_999, 1] {
            let id = generate_access_key_id("ASIA", account, &mut random);
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.starts_with("ASIA"));
            assert!(
                id[4..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            );
            assert_eq!(account_from_access_key_id(&id), Some(account), "{id}");
        }
    }

    /// The example from awsteele.com's write-up: ASIAY34FZKBOKMUTVV7A is account 609629065308.
    #[test]
    fn decodes_a_published_aws_key_id() {
        assert_eq!(
            account_from_access_key_id("ASIAY34FZKBOKMUTVV7A"),
            Some(609_629_065_308)
        );
        assert_eq!(account_from_access_key_id("ASIA-not-base32!"), None);
        assert_eq!(account_from_access_key_id("ASIA"), None);
    }

    #[test]
    fn credentials_have_aws_shapes_and_differ() {
        let mut random = StdRng::seed_from_u64(1);
        let expiration = SystemTime::UNIX_EPOCH;
        let first = generate_session_credentials(123_456_789_012, expiration, &mut random);
        let second = generate_session_credentials(123_456_789_012, expiration, &mut random);
        assert_eq!(first.secret_access_key.len(), 40);
        assert!(first.session_token.starts_with("IQoJb3JpZ2luX2Vj"));
        assert_eq!(first.session_token.len(), 400);
        assert_ne!(first.access_key_id, second.access_key_id);
        assert_ne!(first.secret_access_key, second.secret_access_key);
        assert_ne!(first.session_token, second.session_token);
        let shown = format!("{first:?}");
        assert!(!shown.contains(&first.secret_access_key));
        assert!(!shown.contains(&first.session_token));
    }
}
