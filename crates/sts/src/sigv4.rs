//! Server-side AWS Signature Version 4 verification (spec `aws-sts-iam.md` §6.2, §6.3), in both
//! forms: the `Authorization` header and the presigned query (`X-Amz-Signature=…`).
//!
//! The verifier knows nothing about where secrets live: a [`CredentialSource`] maps an access key
//! id to its secret, its session token (for temporary `ASIA…` credentials, the request's
//! `X-Amz-Security-Token` must equal it) and its expiry, plus whatever identity the caller wants
//! back. The admin credential is one source; STS sessions are another. Any region is accepted in
//! the credential scope; the service must be the one the action belongs to; the clock may be off
//! by 15 minutes either way (STS's window).

use std::future::Future;

use http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, format_description::BorrowedFormatItem};

use crate::error::AwsError;
use crate::query::Service;

mod canonical;

use canonical::query_pairs;
pub use canonical::{canonical_request, compute_signature, string_to_sign, uri_encode};

/// The only algorithm SigV4 defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far the request time may be from ours (STS uses 15 minutes, spec §6.3).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// spec §6.3, bad signature.
pub const SIGNATURE_DOES_NOT_MATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// spec §6.3, unknown access key or wrong session token (no trailing period, as in raw XML).
pub const INVALID_CLIENT_TOKEN_ID_MESSAGE: &str =
    "The security token included in the request is invalid";
/// spec §6.3, expired temporary credentials.
pub const EXPIRED_TOKEN_MESSAGE: &str = "The security token included in the request is expired";
/// spec §6.3, unsigned request to a signed operation ([INFER] message).
pub const MISSING_AUTHENTICATION_TOKEN_MESSAGE: &str = "Request is missing Authentication Token";

/// `YYYYMMDD'T'HHMMSS'Z'`, the `X-Amz-Date` format.
const AMZ_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as received (`/`).
    pub path: &'a str,
    /// The raw query string without `?` (empty if none).
    pub query: &'a str,
    /// Every header received.
    pub headers: &'a HeaderMap,
    /// The body bytes (hashed by the server: botocore sends no `x-amz-content-sha256`).
    pub body: &'a [u8],
}

/// What a [`CredentialSource`] knows about one access key id.
#[derive(Debug, Clone)]
pub struct SigningCredential<Identity> {
    /// The secret the signature was made with.
    pub secret_access_key: String,
    /// For temporary credentials: the session token the request must carry.
    pub session_token: Option<String>,
    /// For temporary credentials: when they stop working (`ExpiredToken` after).
    pub expiration: Option<OffsetDateTime>,
    /// Who the caller is, handed back on success.
    pub identity: Identity,
}

/// Looks up credentials by access key id (the admin credential, STS sessions, …).
pub trait CredentialSource {
    /// What a successful verification yields.
    type Identity;
    /// The credential for `access_key_id`, or `None` if unknown (→ `InvalidClientTokenId`).
    fn find(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = Result<Option<SigningCredential<Self::Identity>>, AwsError>> + Send;
}

/// Where the signature was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureLocation {
    /// `Authorization: AWS4-HMAC-SHA256 …`.
    Header,
    /// Presigned URL; `expires_seconds` from `X-Amz-Expires` if given.
    Query {
        /// `X-Amz-Expires`.
        expires_seconds: Option<i64>,
    },
}

/// A parsed, not yet verified, SigV4 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParts {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// `YYYYMMDD` from the scope.
    pub scope_date: String,
    /// Region from the scope (any is accepted).
    pub region: String,
    /// Service from the scope.
    pub service: String,
    /// Should be `aws4_request`.
    pub terminator: String,
    /// The `SignedHeaders` value as sent (`;`-separated, lowercase).
    pub signed_headers: String,
    /// Hex signature as sent.
    pub signature: String,
    /// `X-Amz-Date` value.
    pub amz_date: String,
    /// `X-Amz-Security-Token`, if sent.
    pub security_token: Option<String>,
    /// Header or presigned query.
    pub location: SignatureLocation,
}

fn incomplete_signature(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "IncompleteSignature", message)
}

fn signature_does_not_match(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::FORBIDDEN, "SignatureDoesNotMatch", message)
}

/// `InvalidClientTokenId` 403 (spec §6.3).
pub fn invalid_client_token_id() -> AwsError {
    AwsError::new(
        StatusCode::FORBIDDEN,
        "InvalidClientTokenId",
        INVALID_CLIENT_TOKEN_ID_MESSAGE,
    )
}

/// `MissingAuthenticationToken` 403 (spec §6.3).
pub fn missing_authentication_token() -> AwsError {
    AwsError::new(
        StatusCode::FORBIDDEN,
        "MissingAuthenticationToken",
        MISSING_AUTHENTICATION_TOKEN_MESSAGE,
    )
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Finds and parses the signature: the `Authorization` header first, else the presigned query.
pub fn parse_signature(request: &SignedRequest<'_>) -> Result<SignatureParts, AwsError> {
    if let Some(authorization) = header_text(request.headers, "authorization") {
        return parse_authorization_header(authorization, request.headers);
    }
    let pairs = query_pairs(request.query);
    let query_value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let Some(algorithm) = query_value("X-Amz-Algorithm") else {
        return Err(missing_authentication_token());
    };
    if algorithm != ALGORITHM {
        return Err(incomplete_signature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let mut missing = Vec::new();
    let mut require = |name: &'static str| {
        let value = query_value(name);
        if value.is_none() {
            missing.push(name);
        }
        value.unwrap_or_default()
    };
    let credential = require("X-Amz-Credential");
    let signed_headers = require("X-Amz-SignedHeaders");
    let signature = require("X-Amz-Signature");
    let amz_date = require("X-Amz-Date");
    if !missing.is_empty() {
        let requirements: Vec<String> = missing
            .iter()
            .map(|name| format!("AWS query-string parameters must include '{name}'."))
            .collect();
        return Err(incomplete_signature(format!(
            "{} Re-examine the query-string parameters.",
            requirements.join(" ")
        )));
    }
    let expires_seconds = query_value("X-Amz-Expires").and_then(|text| text.parse().ok());
    let scope = parse_credential_scope(&credential)?;
    Ok(SignatureParts {
        access_key_id: scope.0,
        scope_date: scope.1,
        region: scope.2,
        service: scope.3,
        terminator: scope.4,
        signed_headers,
        signature,
        amz_date,
        security_token: query_value("X-Amz-Security-Token"),
        location: SignatureLocation::Query { expires_seconds },
    })
}

type CredentialScope = (String, String, String, String, String);

fn parse_credential_scope(credential: &str) -> Result<CredentialScope, AwsError> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, terminator] => Ok((
            (*key).to_owned(),
            (*date).to_owned(),
            (*region).to_owned(),
            (*service).to_owned(),
            (*terminator).to_owned(),
        )),
        _ => Err(incomplete_signature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        ))),
    }
}

fn parse_authorization_header(
    authorization: &str,
    headers: &HeaderMap,
) -> Result<SignatureParts, AwsError> {
    let (algorithm, rest) = authorization
        .trim()
        .split_once(' ')
        .unwrap_or((authorization.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(incomplete_signature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, value)) = component.split_once('=') else {
            return Err(incomplete_signature(format!(
                "'{component}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
            )));
        };
        match name {
            "Credential" => credential = Some(value.to_owned()),
            "SignedHeaders" => signed_headers = Some(value.to_owned()),
            "Signature" => signature = Some(value.to_owned()),
            _ => {}
        }
    }
    let amz_date = header_text(headers, "x-amz-date").map(str::to_owned);
    let mut problems = Vec::new();
    if credential.is_none() {
        problems.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        problems.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        problems.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if amz_date.is_none() {
        problems.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    if !problems.is_empty() {
        return Err(incomplete_signature(format!(
            "{} Authorization={authorization}",
            problems.join(" ")
        )));
    }
    let scope = parse_credential_scope(credential.as_deref().unwrap_or_default())?;
    Ok(SignatureParts {
        access_key_id: scope.0,
        scope_date: scope.1,
        region: scope.2,
        service: scope.3,
        terminator: scope.4,
        signed_headers: signed_headers.unwrap_or_default(),
        signature: signature.unwrap_or_default(),
        amz_date: amz_date.unwrap_or_default(),
        security_token: header_text(headers, "x-amz-security-token").map(str::to_owned),
        location: SignatureLocation::Header,
    })
}

/// Formats a time as `X-Amz-Date`.
pub fn format_amz_date(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(AMZ_DATE_FORMAT)
        .unwrap_or_default()
}

fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, AMZ_DATE_FORMAT)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Verifies `request` as a call to an operation of `service` at time `now`, returning the
/// identity `source` attached to the credential. Check order: signature syntax, scope,
/// credential, session token, expiry, clock skew, signature.
pub async fn verify<Source: CredentialSource>(
    request: &SignedRequest<'_>,
    service: Service,
    now: OffsetDateTime,
    source: &Source,
) -> Result<Source::Identity, AwsError> {
    let parts = parse_signature(request)?;
    let Some(request_time) = parse_amz_date(&parts.amz_date) else {
        return Err(incomplete_signature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            parts.amz_date
        )));
    };
    if parts.terminator != "aws4_request" {
        return Err(signature_does_not_match(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            parts.terminator
        )));
    }
    if parts.service != service.signing_name() {
        return Err(signature_does_not_match(format!(
            "Credential should be scoped to correct service: '{}'. ",
            service.signing_name()
        )));
    }
    if !parts.amz_date.starts_with(&parts.scope_date) || parts.scope_date.len() != 8 {
        return Err(signature_does_not_match(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            parts.scope_date,
            parts.amz_date.get(..8).unwrap_or(&parts.amz_date),
            parts.amz_date
        )));
    }
    let Some(credential) = source.find(&parts.access_key_id).await? else {
        return Err(invalid_client_token_id());
    };
    let token_matches = match (&credential.session_token, &parts.security_token) {
        (None, None) => true,
        (Some(expected), Some(sent)) => bool::from(expected.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    };
    if !token_matches {
        return Err(invalid_client_token_id());
    }
    if credential
        .expiration
        .is_some_and(|expiration| expiration <= now)
    {
        return Err(AwsError::new(
            StatusCode::FORBIDDEN,
            "ExpiredToken",
            EXPIRED_TOKEN_MESSAGE,
        ));
    }
    check_request_time(&parts, request_time, now)?;
    let canonical = canonical_request(request, &parts);
    let to_sign = string_to_sign(&parts, &canonical);
    let expected = compute_signature(&credential.secret_access_key, &parts, &to_sign);
    if !bool::from(expected.as_bytes().ct_eq(parts.signature.as_bytes())) {
        // The canonical request helps debug client signing; the session token is redacted
        // because secrets never reach the logs.
        let loggable = match &parts.security_token {
            Some(token) if !token.is_empty() => canonical.replace(token.as_str(), "<redacted>"),
            _ => canonical,
        };
        return Err(signature_does_not_match(SIGNATURE_DOES_NOT_MATCH_MESSAGE)
            .with_detail(format!("canonical request was:\n{loggable}")));
    }
    Ok(credential.identity)
}

/// The 15-minute window (spec §6.3 messages), and a presigned URL's `X-Amz-Expires`.
fn check_request_time(
    parts: &SignatureParts,
    request_time: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), AwsError> {
    let earliest = now - MAX_CLOCK_SKEW;
    if request_time < earliest {
        return Err(signature_does_not_match(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            parts.amz_date,
            format_amz_date(earliest),
            format_amz_date(now)
        )));
    }
    let latest = now + MAX_CLOCK_SKEW;
    if request_time > latest {
        return Err(signature_does_not_match(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            parts.amz_date,
            format_amz_date(latest),
            format_amz_date(now)
        )));
    }
    if let SignatureLocation::Query {
        expires_seconds: Some(expires_seconds),
    } = parts.location
    {
        // `X-Amz-Expires` is the client's number: an end beyond the representable dates
        // (found by the property tests: `OffsetDateTime + Duration` panics there) is never
        // reached when positive and always passed when negative.
        let expires = Duration::seconds(expires_seconds);
        let expired = match request_time.checked_add(expires) {
            Some(valid_until) => now > valid_until,
            None => expires_seconds < 0,
        };
        if expired {
            let earliest = now
                .checked_sub(expires)
                .map_or_else(|| "-".to_owned(), format_amz_date);
            return Err(signature_does_not_match(format!(
                "Signature expired: {} is now earlier than {earliest} ({} - {expires_seconds} sec.)",
                parts.amz_date,
                format_amz_date(now)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
