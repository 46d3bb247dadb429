//! AWS Signature Version 4 for the bench's own requests: the IAM calls that register the OIDC
//! provider and the role, and the GetCallerIdentity request signed once with session credentials
//! and replayed for the length of a run (SigV4 accepts a request for 15 minutes either side of
//! its `X-Amz-Date`, and the signature covers nothing that changes between replays).
//!
//! Only what the bench sends is covered: `POST /` with a form body and no query string.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

/// The algorithm name in the `Authorization` header and the string to sign.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The form content type every signed request carries.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A credential to sign with.
pub struct Credentials<'a> {
    /// `AKIA…` or `ASIA…`.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials.
    pub session_token: Option<&'a str>,
}

/// Signs `POST /` with a form `body` for `host` and returns the headers to send, in order,
/// besides `host` and `content-length` (which the caller sends as given here).
pub fn sign_form_post(
    credentials: &Credentials<'_>,
    host: &str,
    region: &str,
    service: &str,
    body: &str,
    now: OffsetDateTime,
) -> Vec<(String, String)> {
    let amz_date = now
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default().to_owned();
    let mut headers = vec![
        ("content-type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
        ("host".to_owned(), host.to_owned()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    if let Some(token) = credentials.session_token {
        headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    headers.retain(|(name, _)| name != "host");
    headers.push((
        "authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    headers
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example (IAM ListUsers, "Examples of the complete Signature Version 4
    /// signing process"), adapted to a POST: the derived signing key matches AWS's published
    /// value, which pins the key derivation.
    #[test]
    fn derives_the_documented_signing_key() {
        let mut key = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        for part in ["us-east-1", "iam", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        assert_eq!(
            hex::encode(key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn signs_the_session_token_and_names_the_scope() {
        let credentials = Credentials {
            access_key_id: "ASIAEXAMPLE",
            secret_access_key: "secret",
            session_token: Some("token"),
        };
        let now = OffsetDateTime::from_unix_timestamp(1_440_938_160).unwrap();
        let headers = sign_form_post(&credentials, "127.0.0.1:1", "us-east-1", "sts", "a=b", now);
        let authorization = &headers.last().unwrap().1;
        assert!(authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ));
        assert!(headers.contains(&("x-amz-date".to_owned(), "20150830T123600Z".to_owned())));
        let other = sign_form_post(&credentials, "127.0.0.1:1", "us-east-1", "sts", "a=c", now);
        assert_ne!(other.last(), headers.last(), "the body is signed");
    }
}
