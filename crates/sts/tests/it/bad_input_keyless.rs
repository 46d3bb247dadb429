//! Bad input on keyless's own JSON endpoints (`/_keyless/decisions`, `/_keyless/decisions/{id}`,
//! `/_keyless/events`, `/_keyless/explain`) and slow clients on both surfaces. Every refusal
//! must be `{"error": {"code", "message"}}` JSON with its exact status (the Query API's are AWS
//! XML, see `bad_input.rs`), and must change no state: these endpoints only read, and explain
//! stores nothing.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::issuer::{Fixture, Issuer, ROLE_ARN, config_for};
use crate::wire::{Snapshot, parse_reply, raw_exchange};

/// The body limit the server under test runs with.
const MAX_BODY: usize = 4096;

/// A raw request with an optional `Content-Type`.
fn raw(method: &str, target: &[u8], content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(content_type) = content_type {
        request.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    request
}

fn get(target: &str) -> Vec<u8> {
    raw("GET", target.as_bytes(), None, b"")
}

fn explain(content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    raw("POST", b"/_keyless/explain", content_type, body)
}

/// `(name, request, status, code)` for every bad request.
fn corpus() -> Vec<(String, Vec<u8>, u16, &'static str)> {
    let mut cases = Vec::new();
    for list in ["/_keyless/decisions", "/_keyless/events"] {
        for query in [
            "limit=abc",
            "limit=-1",
            "limit=99999999999999999999999",
            "limit=1.5",
            "limit=%FF",
            "limit=1&limit=2",
            "allowed=maybe",
            "allowed=%00",
        ] {
            let target = format!("{list}?{query}");
            cases.push((target.clone(), get(&target), 400, "invalid_query"));
        }
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let request = raw(method, list.as_bytes(), Some("application/json"), b"{}");
            cases.push((
                format!("{method} {list}"),
                request,
                405,
                "method_not_allowed",
            ));
        }
    }
    for id in ["%FF%FE", "%C3%28"] {
        let target = format!("/_keyless/decisions/{id}");
        cases.push((target.clone(), get(&target), 400, "invalid_path"));
    }
    for id in ["nope", "%00", &"x".repeat(4096)] {
        let target = format!("/_keyless/decisions/{id}");
        cases.push((target.clone(), get(&target), 404, "no_such_decision"));
    }
    for method in ["POST", "PUT", "DELETE"] {
        let request = raw(method, b"/_keyless/decisions/x", None, b"");
        cases.push((
            format!("{method} a decision"),
            request,
            405,
            "method_not_allowed",
        ));
    }
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let request = raw(
            method,
            b"/_keyless/explain",
            Some("application/json"),
            b"{}",
        );
        cases.push((
            format!("{method} explain"),
            request,
            405,
            "method_not_allowed",
        ));
    }
    for target in [
        "/_keyless",
        "/_keyless/",
        "/_keyless/nope",
        "/_keyless/decisions/a/b",
        "/_keyless/explain/x",
        "/_keyless/%FF",
    ] {
        cases.push((format!("GET {target}"), get(target), 404, "not_found"));
        let request = raw("POST", target.as_bytes(), Some("application/json"), b"{}");
        cases.push((format!("POST {target}"), request, 404, "not_found"));
    }
    let valid = format!(r#"{{"token":"a.b.c","role_arn":"{ROLE_ARN}"}}"#);
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/yaml"),
        Some("multipart/form-data; boundary=b"),
        Some("application/jsonx"),
    ] {
        let name = format!("explain as {content_type:?}");
        cases.push((
            name,
            explain(content_type, valid.as_bytes()),
            415,
            "invalid_body",
        ));
    }
    let json = Some("application/json");
    for body in [
        &b""[..],
        b"{\"token\":",
        b"not json",
        b"token: a.b.c\nrole_arn: arn:aws:iam::123456789012:role/x\n",
        b"{\"token\":\"\xff\xfe\",\"role_arn\":\"x\"}",
        b"{\"token\":\"a\",\"role_arn\":\"b\"}}",
        b"\xef\xbb\xbf{\"token\":\"a\",\"role_arn\":\"b\"}",
    ] {
        let name = format!("explain with {:?}", String::from_utf8_lossy(body));
        cases.push((name, explain(json, body), 400, "invalid_body"));
    }
    for body in [
        r#"{"token":5,"role_arn":"x"}"#,
        "{}",
        "[]",
        "null",
        "\"a.b.c\"",
        r#"{"token":"a","role_arn":"b","token":"c"}"#,
        r#"{"token":"a","role_arn":"b","duration_seconds":"3600"}"#,
        r#"{"token":"a","role_arn":"b","duration_seconds":1e99}"#,
        r#"{"token":"a","role_arn":null}"#,
    ] {
        let name = format!("explain with {body}");
        cases.push((name, explain(json, body.as_bytes()), 422, "invalid_body"));
    }
    let oversized = format!(r#"{{"token":"{}","role_arn":"x"}}"#, "t".repeat(MAX_BODY));
    cases.push((
        "oversized explain".to_owned(),
        explain(json, oversized.as_bytes()),
        413,
        "invalid_body",
    ));
    cases
}

async fn fixture(max_body: usize, timeout: Duration) -> Fixture {
    let issuer = Issuer::start().await;
    let mut config = config_for(&issuer);
    config.max_body_bytes = max_body;
    config.request_timeout = timeout;
    Fixture::with_config(issuer, config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_keyless_request_gets_a_json_error_and_changes_nothing() {
    let fixture = fixture(MAX_BODY, Duration::from_secs(30)).await;
    let server = &fixture.server;
    let answer = crate::issuer::assume(server, &fixture.issuer.token(), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cases = corpus();
    assert!(cases.len() >= 70, "{}", cases.len());
    let before = Snapshot::take(server).await;
    for (name, request, status, code) in cases {
        let reply = raw_exchange(server, &request)
            .await
            .unwrap_or_else(|| panic!("{name}: no answer"));
        reply.assert_json_error(status, code, &name);
        if status == 405 {
            assert!(reply.header("allow").is_some(), "{name}: no Allow header");
        }
        assert_eq!(Snapshot::take(server).await, before, "{name} changed state");
    }
    // A well-formed explain answers its dry-run decision and stores nothing either.
    let body = format!(
        r#"{{"token":"{}","role_arn":"{ROLE_ARN}"}}"#,
        fixture.issuer.token()
    );
    let reply = raw_exchange(server, &explain(Some("application/json"), body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    let decision: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(decision["dry_run"], true);
    assert_eq!(decision["allowed"], true, "{decision}");
    assert_eq!(
        Snapshot::take(server).await,
        before,
        "explain changed state"
    );
}

/// Sends `head` and the first bytes of a body that never completes; returns the reply and
/// how long it took.
async fn stalled(
    server: &crate::support::TestServer,
    head: &str,
) -> (crate::wire::Reply, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"Action=Assu").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt;
        let mut buffer = [0; 4096];
        loop {
            let count = stream.read(&mut buffer).await.unwrap_or(0);
            if count == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..count]);
            if parse_reply(&answer).is_some_and(|reply| {
                reply
                    .header("content-length")
                    .and_then(|length| length.parse::<usize>().ok())
                    == Some(reply.body.len())
            }) {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stalled request was never answered");
    (parse_reply(&answer).expect("a reply"), started.elapsed())
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_a_timeout_in_each_surfaces_format() {
    let limit = Duration::from_millis(400);
    let fixture = fixture(MAX_BODY, limit).await;
    let server = &fixture.server;
    let before = Snapshot::take(server).await;
    let query = "POST /?Version=2011-06-15 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    let (reply, elapsed) = stalled(server, query).await;
    let message = reply.assert_aws_error(408, "RequestTimeout", "stalled Query body");
    assert_eq!(message, "The request was not completed within 400ms");
    assert!(
        reply
            .text()
            .contains("https://sts.amazonaws.com/doc/2011-06-15/")
    );
    assert!(elapsed >= limit && elapsed < limit * 10, "{elapsed:?}");
    let explain = "POST /_keyless/explain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    let (reply, elapsed) = stalled(server, explain).await;
    reply.assert_json_error(408, "request_timeout", "stalled explain body");
    assert!(elapsed >= limit && elapsed < limit * 10, "{elapsed:?}");
    assert_eq!(Snapshot::take(server).await, before);
    let answer = crate::issuer::assume(server, &fixture.issuer.token(), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
