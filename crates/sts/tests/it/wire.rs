//! Helpers for the bad-input and fault tests: a raw HTTP/1.1 exchange over a TCP socket (for
//! bytes reqwest refuses to send), checks that an answer is a well-formed AWS `<ErrorResponse>`
//! or `/_keyless` JSON error, and a snapshot of every piece of state a request could change
//! (providers, roles, decisions, audit events; sessions only come into being with an audit event).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::issuer::get_json;
use crate::support::{TestServer, element, iam_call};

/// How long any single exchange in these tests may take.
pub const EXCHANGE_LIMIT: Duration = Duration::from_secs(20);

/// An HTTP answer: status, headers (lowercase names) and body bytes.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (it must be UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the body is UTF-8")
    }

    /// Asserts an AWS Query error: `status`, `text/xml`, the envelope with `Type`, `Code`,
    /// `Message` and a `RequestId` equal to the `x-amzn-RequestId` header, in XML 1.0
    /// characters only. Returns the message.
    pub fn assert_aws_error(&self, status: u16, code: &str, case: &str) -> String {
        let body = self.text();
        assert_eq!(self.status, status, "{case}: {body}");
        assert_eq!(self.header("content-type"), Some("text/xml"), "{case}");
        assert!(
            body.starts_with("<ErrorResponse xmlns=\""),
            "{case}: {body}"
        );
        assert!(body.ends_with("</ErrorResponse>\n"), "{case}: {body}");
        let expected_type = if status >= 500 { "Receiver" } else { "Sender" };
        assert_eq!(element(body, "Type"), Some(expected_type), "{case}: {body}");
        assert_eq!(element(body, "Code"), Some(code), "{case}: {body}");
        let request_id = element(body, "RequestId").expect("a RequestId");
        assert_eq!(request_id.len(), 36, "{case}: {body}");
        assert_eq!(self.header("x-amzn-requestid"), Some(request_id), "{case}");
        assert_xml_characters(body, case);
        let message = element(body, "Message").expect("a Message");
        assert!(!message.is_empty(), "{case}: empty message");
        message.to_owned()
    }

    /// Asserts a `/_keyless` JSON error: `status`, `application/json`,
    /// `{"error": {"code": code, "message": non-empty}}`. Returns the message.
    pub fn assert_json_error(&self, status: u16, code: &str, case: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "{case}: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{case}"
        );
        let value: Value = serde_json::from_slice(&self.body).expect("a JSON body");
        assert_eq!(value["error"]["code"], code, "{case}: {value}");
        let message = value["error"]["message"].as_str().expect("a message");
        assert!(!message.is_empty(), "{case}: empty message");
        message.to_owned()
    }
}

/// Fails unless every character of `document` is allowed by XML 1.0 and no character
/// reference names a forbidden one.
pub fn assert_xml_characters(document: &str, case: &str) {
    for character in document.chars() {
        let allowed =
            matches!(character, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(
            allowed,
            "{case}: XML 1.0 forbids {character:?} in {document:?}"
        );
    }
    for (index, _) in document.match_indices("&#") {
        let reference = &document[index..];
        assert!(
            reference.starts_with("&#xD;"),
            "{case}: character reference in {document:?}"
        );
    }
}

/// A raw HTTP/1.1 request (`Connection: close`) with extra header lines and a body
/// (`Content-Length` for any body and for every `POST`).
pub fn raw(method: &str, target: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for header in headers {
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    request
}

/// Sends `request` (a complete HTTP/1.1 request, which should say `Connection: close`) and
/// reads the answer until the server closes. `None` if the server closed without answering.
pub async fn raw_exchange(server: &TestServer, request: &[u8]) -> Option<Reply> {
    tokio::time::timeout(EXCHANGE_LIMIT, async {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        // The server may answer (and close) before reading everything: ignore write errors.
        let _ = stream.write_all(request).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        parse_reply(&answer)
    })
    .await
    .expect("the server answered within the limit")
}

/// Parses a whole HTTP/1.1 response (`Content-Length` bodies, or up to the close).
pub fn parse_reply(bytes: &[u8]) -> Option<Reply> {
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = bytes[end + 4..].to_vec();
    if let Some((_, length)) = headers.iter().find(|(name, _)| name == "content-length") {
        body.truncate(length.parse().ok()?);
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// Everything a request could change, as the server lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `ListOpenIDConnectProviders`' provider list.
    pub providers: String,
    /// `ListRoles`' role list.
    pub roles: String,
    /// `/_keyless/decisions`, newest first.
    pub decisions: Vec<Value>,
    /// `/_keyless/events`, newest first (every issued session has one).
    pub events: Vec<Value>,
}

impl Snapshot {
    /// Reads the server's state through its own listings.
    pub async fn take(server: &TestServer) -> Snapshot {
        let (status, providers) = iam_call(
            server,
            &[
                ("Action", "ListOpenIDConnectProviders"),
                ("Version", "2010-05-08"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{providers}");
        let (status, roles) = iam_call(
            server,
            &[("Action", "ListRoles"), ("Version", "2010-05-08")],
        )
        .await;
        assert_eq!(status, 200, "{roles}");
        let (_, decisions) = get_json(server, "/_keyless/decisions?limit=1000").await;
        let (_, events) = get_json(server, "/_keyless/events?limit=1000").await;
        Snapshot {
            providers: element(&providers, "OpenIDConnectProviderList")
                .unwrap()
                .to_owned(),
            roles: element(&roles, "Roles").unwrap().to_owned(),
            decisions: decisions.as_array().unwrap().clone(),
            events: events.as_array().unwrap().clone(),
        }
    }

    /// Asserts that `after` differs from this snapshot by exactly `events` new audit events,
    /// each a refusal with `code` (and no credentials), and `decisions` new refused decisions;
    /// providers and roles unchanged.
    pub fn assert_only_refusals_added(
        &self,
        after: &Snapshot,
        events: usize,
        decisions: usize,
        code: &str,
        case: &str,
    ) {
        assert_eq!(after.providers, self.providers, "{case}: providers changed");
        assert_eq!(after.roles, self.roles, "{case}: roles changed");
        assert_eq!(
            after.events.len(),
            self.events.len() + events,
            "{case}: audit events"
        );
        assert_eq!(
            after.events[events..],
            self.events[..],
            "{case}: old events changed"
        );
        for event in &after.events[..events] {
            assert_eq!(event["errorCode"], code, "{case}: {event}");
            assert!(
                event["responseElements"].is_null(),
                "{case}: credentials issued: {event}"
            );
        }
        assert_eq!(
            after.decisions.len(),
            self.decisions.len() + decisions,
            "{case}: decisions"
        );
        for decision in &after.decisions[..decisions] {
            assert_eq!(decision["allowed"], false, "{case}: {decision}");
        }
    }
}
