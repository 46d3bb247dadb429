//! Fuzzes SigV4 verification, `keyless_sts::sigv4`: the `Authorization` header and presigned
//! query parsers, the credential scope, the `X-Amz-Date` and `X-Amz-Expires` checks, and the
//! canonical request, against a credential source that knows one long-term and one temporary
//! key.
//!
//! Input lines: `query string`, `Authorization` value, `X-Amz-Date` value,
//! `X-Amz-Security-Token` value, then the body (the rest). An empty header line sends no such
//! header. The properties: no panic, and every refusal is one of SigV4's AWS error codes.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{HeaderMap, HeaderValue};
use keyless_sts::error::AwsError;
use keyless_sts::query::Service;
use keyless_sts::sigv4::{
    CredentialSource, SignedRequest, SigningCredential, parse_signature, verify,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

/// The server's clock: 2026-12-03T00:00:00Z, the date of the seed requests.
const NOW_UNIX_SECONDS: i64 = 1_796_256_000;

/// The codes SigV4 verification may answer with (spec §6.3).
const SIGV4_CODES: [&str; 5] = [
    "IncompleteSignature",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "ExpiredToken",
];

/// Knows `AKIAFUZZEXAMPLE00001` (long-term) and `ASIAFUZZEXAMPLE00002` (with a session token).
struct FuzzCredentials;

impl CredentialSource for FuzzCredentials {
    type Identity = &'static str;

    async fn find(
        &self,
        access_key_id: &str,
    ) -> Result<Option<SigningCredential<&'static str>>, AwsError> {
        let secret_access_key = "fuzzSecretKey/EXAMPLE".to_owned();
        Ok(match access_key_id {
            "AKIAFUZZEXAMPLE00001" => Some(SigningCredential {
                secret_access_key,
                session_token: None,
                expiration: None,
                identity: "admin",
            }),
            "ASIAFUZZEXAMPLE00002" => Some(SigningCredential {
                secret_access_key,
                session_token: Some("fuzz-session-token".to_owned()),
                expiration: OffsetDateTime::from_unix_timestamp(NOW_UNIX_SECONDS + 3600).ok(),
                identity: "session",
            }),
            _ => None,
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(5, |byte| *byte == b'\n');
    let query = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let mut headers = HeaderMap::new();
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        let value = lines.next().unwrap_or_default();
        if let (false, Ok(value)) = (value.is_empty(), HeaderValue::from_bytes(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert("host", HeaderValue::from_static("127.0.0.1:4566"));
    let body = lines.next().unwrap_or_default();
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: &query,
        headers: &headers,
        body,
    };
    let _ = parse_signature(&request);
    let Ok(now) = OffsetDateTime::from_unix_timestamp(NOW_UNIX_SECONDS) else {
        return;
    };
    for service in [Service::Sts, Service::Iam] {
        if let Err(error) = block_on(verify(&request, service, now, &FuzzCredentials)) {
            assert!(
                SIGV4_CODES.contains(&&*error.code),
                "unexpected code {}",
                error.code
            );
        }
    }
});

/// Runs a future that never waits (the credential source answers at once) to completion.
fn block_on<Output>(future: impl Future<Output = Output>) -> Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
