//! SigV4's canonical forms and signature arithmetic (spec §6.2 steps 2–4): `UriEncode`, the
//! canonical request, the string to sign, the derived signing key and the hex signature. Shared
//! by the verifier and by tests that sign requests like botocore.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use super::{ALGORITHM, SignatureLocation, SignatureParts, SignedRequest};

/// RFC 3986 unreserved characters stay; everything else is `%XX` (SigV4 `UriEncode`).
const URI_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Decoded `(name, value)` pairs of a raw query string (percent-decoding only: SigV4 clients
/// encode `+` as `%2B`).
pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode_str(name).decode_utf8_lossy().into_owned(),
                percent_decode_str(value).decode_utf8_lossy().into_owned(),
            )
        })
        .collect()
}

/// SigV4 `UriEncode`.
pub fn uri_encode(text: &str) -> String {
    utf8_percent_encode(text, URI_ENCODE_SET).to_string()
}

/// The canonical request (spec §6.2 step 2), built in one string: it is on the path of every
/// signed call.
pub fn canonical_request(request: &SignedRequest<'_>, parts: &SignatureParts) -> String {
    use std::fmt::Write as _;
    let mut canonical = String::with_capacity(256 + request.query.len() + request.path.len());
    canonical.push_str(request.method);
    canonical.push('\n');
    if request.path.is_empty() {
        canonical.push('/');
    } else {
        for (index, segment) in request.path.split('/').enumerate() {
            if index > 0 {
                canonical.push('/');
            }
            let _ = write!(
                canonical,
                "{}",
                utf8_percent_encode(segment, URI_ENCODE_SET)
            );
        }
    }
    canonical.push('\n');
    let mut query: Vec<(String, String)> = query_pairs(request.query)
        .into_iter()
        .filter(|(name, _)| {
            !(parts.location != SignatureLocation::Header && name == "X-Amz-Signature")
        })
        .map(|(name, value)| (uri_encode(&name), uri_encode(&value)))
        .collect();
    query.sort();
    for (index, (name, value)) in query.iter().enumerate() {
        if index > 0 {
            canonical.push('&');
        }
        let _ = write!(canonical, "{name}={value}");
    }
    canonical.push('\n');
    for name in parts.signed_headers.split(';') {
        canonical.push_str(name);
        canonical.push(':');
        for (index, value) in request.headers.get_all(name).iter().enumerate() {
            if index > 0 {
                canonical.push(',');
            }
            // Trimmed, with each run of inner whitespace folded to one space.
            let text = String::from_utf8_lossy(value.as_bytes());
            for (word_index, word) in text.split_whitespace().enumerate() {
                if word_index > 0 {
                    canonical.push(' ');
                }
                canonical.push_str(word);
            }
        }
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&parts.signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex::encode(Sha256::digest(request.body)));
    canonical
}

/// The string to sign (spec §6.2 step 3).
pub fn string_to_sign(parts: &SignatureParts, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/{}\n{}",
        parts.amz_date,
        parts.scope_date,
        parts.region,
        parts.service,
        parts.terminator,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The hex signature of `string_to_sign` under `secret` (spec §6.2 step 4).
pub fn compute_signature(secret: &str, parts: &SignatureParts, string_to_sign: &str) -> String {
    let date_key = hmac_sha256(
        format!("AWS4{secret}").as_bytes(),
        parts.scope_date.as_bytes(),
    );
    let region_key = hmac_sha256(&date_key, parts.region.as_bytes());
    let service_key = hmac_sha256(&region_key, parts.service.as_bytes());
    let signing_key = hmac_sha256(&service_key, parts.terminator.as_bytes());
    hex::encode(hmac_sha256(&signing_key, string_to_sign.as_bytes()))
}
