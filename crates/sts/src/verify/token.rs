//! Parsing a web identity token before anything is fetched: `spec/aws-sts-iam.md` §2.4 steps 3–4.
//!
//! The checks, in order: trim ASCII whitespace (§3.7), at most [`MAX_TOKEN_CHARS`], exactly three
//! `.`-separated segments, strict base64url (no padding, URL-safe alphabet, canonical trailing
//! bits), header and payload JSON objects without duplicate members, no `crit`, an accepted `alg`,
//! a non-empty signature of the right size, the required claims, then the claims' types. Nothing
//! here trusts the header's `jku`, `x5u`, `jwk` or `x5c`: they are never read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::algorithm::Algorithm;
use super::error::TokenError;
use super::strict_json::{kind, parse_object_without_duplicates};

/// The longest token accepted, in characters: the `WebIdentityToken` limit (§2.1).
pub const MAX_TOKEN_CHARS: usize = 20_000;

/// The claims every token must carry, in the order they are checked (§2.4 step 4).
pub const REQUIRED_CLAIMS: [&str; 5] = ["iss", "sub", "aud", "iat", "exp"];

/// Header members that name or carry a key. keyless never reads them: the only keys it trusts
/// are those the issuer's discovery document points at.
pub const UNTRUSTED_KEY_HEADERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// The JOSE header members keyless reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// `alg`, one of the accepted algorithms.
    pub algorithm: Algorithm,
    /// `kid`, if present: the key to verify with.
    pub kid: Option<String>,
    /// `typ`, if present (informational).
    pub typ: Option<String>,
    /// Which of [`UNTRUSTED_KEY_HEADERS`] the token carried (ignored; kept for explanations).
    pub ignored_key_headers: Vec<&'static str>,
}

/// A token whose structure and claims are acceptable but whose signature and times are not yet
/// checked. Only [`parse_token`] makes one.
#[derive(Clone)]
pub struct UnverifiedToken {
    /// The JOSE header.
    pub header: TokenHeader,
    /// The whole payload, as sent.
    pub claims: Map<String, Value>,
    /// `iss`, exactly as in the token.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// Every `aud` value (a string `aud` gives one).
    pub audiences: Vec<String>,
    /// The audience that must be one of the provider's client ids: `azp` when present (§3.3),
    /// otherwise the only `aud` value.
    pub audience: String,
    /// `azp`, if present.
    pub authorized_party: Option<String>,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// The trimmed compact token; never logged.
    compact: String,
    /// Length of `header.payload`, the signing input, within `compact`.
    signing_input_len: usize,
    /// The decoded signature.
    signature: Vec<u8>,
}

impl std::fmt::Debug for UnverifiedToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The raw token and signature are credentials: leave them out.
        formatter
            .debug_struct("UnverifiedToken")
            .field("header", &self.header)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audiences", &self.audiences)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("not_before", &self.not_before)
            .finish_non_exhaustive()
    }
}

impl UnverifiedToken {
    /// The JWS signing input, `base64url(header) "." base64url(payload)` (RFC 7515 §5.1).
    pub(crate) fn signing_input(&self) -> &[u8] {
        &self.compact.as_bytes()[..self.signing_input_len]
    }

    /// The decoded signature.
    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// Parses a compact JWS web identity token: §2.4 steps 3–4 (see the module docs for the order).
pub fn parse_token(token: &str) -> Result<UnverifiedToken, TokenError> {
    let compact = token.trim_matches(|character: char| character.is_ascii_whitespace());
    // Every character of a valid token is ASCII, so bytes bound characters from above; a longer
    // input with multi-byte characters is malformed either way.
    if compact.len() > MAX_TOKEN_CHARS {
        return Err(TokenError::malformed(format!(
            "the token is longer than {MAX_TOKEN_CHARS} characters"
        )));
    }
    let mut segments = compact.split('.');
    let (Some(header_segment), Some(payload_segment), Some(signature_segment), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        let count = compact.split('.').count();
        return Err(TokenError::malformed(format!(
            "a token has 3 dot-separated segments, this one has {count}"
        )));
    };
    let header_bytes = decode_segment(header_segment, "header")?;
    let payload_bytes = decode_segment(payload_segment, "payload")?;
    let signature = decode_segment(signature_segment, "signature")?;
    let header_members = parse_object_without_duplicates(&header_bytes)
        .map_err(|error| TokenError::malformed(format!("header: {error}")))?;
    let header = parse_header(&header_members)?;
    check_signature_size(header.algorithm, &signature)?;
    let claims = parse_object_without_duplicates(&payload_bytes)
        .map_err(|error| TokenError::malformed(format!("payload: {error}")))?;
    for claim in REQUIRED_CLAIMS {
        if claims.get(claim).is_none_or(Value::is_null) {
            return Err(TokenError::MissingClaim { claim });
        }
    }
    let issuer = printable_string_claim(&claims, "iss")?;
    if issuer.is_empty() {
        return Err(TokenError::malformed("the iss claim is empty"));
    }
    let subject = printable_string_claim(&claims, "sub")?;
    let audiences = audience_values(&claims)?;
    let authorized_party = match claims.get("azp") {
        None | Some(Value::Null) => None,
        Some(_) => Some(printable_string_claim(&claims, "azp")?),
    };
    let audience = match (&authorized_party, audiences.as_slice()) {
        (Some(party), _) => party.clone(),
        (None, [only]) => only.clone(),
        (None, several) => {
            return Err(TokenError::MultipleAudiences {
                count: several.len(),
            });
        }
    };
    let issued_at = timestamp_claim(&claims, "iat")?;
    let expires_at = timestamp_claim(&claims, "exp")?;
    let not_before = match claims.get("nbf") {
        None | Some(Value::Null) => None,
        Some(_) => Some(timestamp_claim(&claims, "nbf")?),
    };
    let signing_input_len = header_segment.len() + 1 + payload_segment.len();
    Ok(UnverifiedToken {
        header,
        claims,
        issuer,
        subject,
        audiences,
        audience,
        authorized_party,
        issued_at,
        expires_at,
        not_before,
        compact: compact.to_owned(),
        signing_input_len,
        signature,
    })
}

/// Strict base64url (RFC 7515 §2): no padding, URL-safe alphabet, canonical final character.
fn decode_segment(segment: &str, name: &str) -> Result<Vec<u8>, TokenError> {
    if segment.is_empty() {
        return Err(TokenError::malformed(format!(
            "the {name} segment is empty"
        )));
    }
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|error| TokenError::malformed(format!("the {name} is not base64url: {error}")))
}

/// Reads `alg`, `kid` and `typ`; refuses `crit` (no extension is understood, RFC 7515 §4.1.11).
fn parse_header(members: &Map<String, Value>) -> Result<TokenHeader, TokenError> {
    let algorithm = match members.get("alg") {
        Some(Value::String(name)) => Algorithm::from_name(name).ok_or_else(|| {
            TokenError::malformed(format!("the algorithm {name:?} is not accepted"))
        })?,
        Some(other) => {
            return Err(TokenError::malformed(format!(
                "the header alg is {}, not a string",
                kind(other)
            )));
        }
        None => return Err(TokenError::malformed("the header has no alg")),
    };
    if members.contains_key("crit") {
        return Err(TokenError::malformed(
            "the header has crit: no JWS extension is understood",
        ));
    }
    let optional_string = |name: &str| match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(TokenError::malformed(format!(
            "the header {name} is {}, not a string",
            kind(other)
        ))),
    };
    Ok(TokenHeader {
        algorithm,
        kid: optional_string("kid")?,
        typ: optional_string("typ")?,
        ignored_key_headers: UNTRUSTED_KEY_HEADERS
            .into_iter()
            .filter(|name| members.contains_key(*name))
            .collect(),
    })
}

/// The signature must have the size the algorithm produces (RFC 7518 §3.3, §3.4).
fn check_signature_size(algorithm: Algorithm, signature: &[u8]) -> Result<(), TokenError> {
    let size_ok = match algorithm {
        Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => {
            (256..=1024).contains(&signature.len())
        }
        Algorithm::Es256 => signature.len() == 64,
        Algorithm::Es384 => signature.len() == 96,
        Algorithm::Es512 => signature.len() == 132,
    };
    if size_ok {
        Ok(())
    } else {
        Err(TokenError::malformed(format!(
            "a {} signature cannot be {} bytes long",
            algorithm.name(),
            signature.len()
        )))
    }
}

/// A string claim without control characters (they would end up in XML, ARNs and logs).
fn printable_string_claim(claims: &Map<String, Value>, name: &str) -> Result<String, TokenError> {
    match claims.get(name) {
        Some(Value::String(value)) => {
            if value.chars().any(char::is_control) {
                Err(TokenError::malformed(format!(
                    "the {name} claim contains control characters"
                )))
            } else {
                Ok(value.clone())
            }
        }
        Some(other) => Err(TokenError::malformed(format!(
            "the {name} claim is {}, not a string",
            kind(other)
        ))),
        None => Err(TokenError::malformed(format!(
            "the token has no {name} claim"
        ))),
    }
}

/// `aud` as a list: a string, or a non-empty array of strings (RFC 7519 §4.1.3).
fn audience_values(claims: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    match claims.get("aud") {
        Some(Value::Array(values)) if values.is_empty() => {
            Err(TokenError::MissingClaim { claim: "aud" })
        }
        Some(Value::Array(values)) => values
            .iter()
            .map(|value| match value {
                Value::String(audience) if !audience.chars().any(char::is_control) => {
                    Ok(audience.clone())
                }
                other => Err(TokenError::malformed(format!(
                    "an aud value is {}, not a printable string",
                    kind(other)
                ))),
            })
            .collect(),
        _ => Ok(vec![printable_string_claim(claims, "aud")?]),
    }
}

/// A NumericDate claim: a non-negative JSON integer that fits in 64 bits. Strings and floats
/// are refused: "Timestamps in the token must be formatted as either an integer or a long
/// integer" (§2.1).
fn timestamp_claim(claims: &Map<String, Value>, name: &str) -> Result<i64, TokenError> {
    let value = claims
        .get(name)
        .ok_or_else(|| TokenError::malformed(format!("the token has no {name} claim")))?;
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(seconds) if seconds >= 0 => Ok(seconds),
            Some(_) => Err(TokenError::malformed(format!(
                "the {name} claim is negative"
            ))),
            None => Err(TokenError::malformed(format!(
                "the {name} claim is not an integer of at most 64 bits"
            ))),
        },
        other => Err(TokenError::malformed(format!(
            "the {name} claim is {}, not an integer",
            kind(other)
        ))),
    }
}
