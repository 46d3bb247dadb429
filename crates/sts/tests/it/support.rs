//! Test support: boot keyless-sts in-process on 127.0.0.1:0, sign Query requests with SigV4
//! like botocore does, and read XML answers.

use std::net::SocketAddr;
use std::path::PathBuf;

use http::{HeaderMap, HeaderValue};
use keyless_sts::config::{Config, DEFAULT_ADMIN_ACCESS_KEY_ID, DEFAULT_ADMIN_SECRET_ACCESS_KEY};
use keyless_sts::sigv4::{
    SignatureLocation, SignatureParts, SignedRequest, canonical_request, compute_signature,
    format_amz_date, string_to_sign,
};
use keyless_sts::store::StoreLocation;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server; dropping it without `stop` leaves the task to die with the runtime.
pub struct TestServer {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), keyless_sts::RunError>>,
}

impl TestServer {
    /// Starts a server with `config` on an ephemeral loopback port.
    pub async fn start(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(keyless_sts::run(listener, config, async move {
            let _ = stopped.await;
        }));
        let server = TestServer {
            address,
            stop: Some(stop),
            task,
        };
        server.wait_until_healthy().await;
        server
    }

    /// An in-memory server with default settings.
    pub async fn in_memory() -> TestServer {
        TestServer::start(Config::in_memory()).await
    }

    /// A server keeping its state in `directory`.
    pub async fn with_data_dir(directory: PathBuf) -> TestServer {
        let mut config = Config::in_memory();
        config.storage = StoreLocation::Directory(directory);
        TestServer::start(config).await
    }

    async fn wait_until_healthy(&self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let response = client.get(format!("{}/healthz", self.url())).send().await;
            if response.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("keyless-sts did not become healthy");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Shuts down gracefully and waits until the store is closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.unwrap().unwrap();
    }
}

/// Builds the headers botocore sends for a signed Query POST (content-type, host, x-amz-date,
/// authorization) for `body`, with the given key, secret, service and time.
pub fn signed_headers(
    host: &str,
    body: &str,
    access_key_id: &str,
    secret: &str,
    service: &str,
    at: OffsetDateTime,
) -> HeaderMap {
    signed_headers_in(
        service,
        host,
        body,
        access_key_id,
        secret,
        "eu-west-1",
        None,
        at,
    )
}

/// Headers for a Query POST to `service` signed in `region`, with an optional session token
/// (signed too, as botocore does).
#[allow(clippy::too_many_arguments)] // each is one part of what SigV4 signs
pub fn signed_headers_in(
    service: &str,
    host: &str,
    body: &str,
    key: &str,
    secret: &str,
    region: &str,
    token: Option<&str>,
    at: OffsetDateTime,
) -> HeaderMap {
    let amz_date = format_amz_date(at);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert("host", HeaderValue::from_str(host).unwrap());
    headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).unwrap());
    let mut signed = "content-type;host;x-amz-date".to_owned();
    if let Some(token) = token {
        headers.insert(
            "x-amz-security-token",
            HeaderValue::from_str(token).unwrap(),
        );
        signed.push_str(";x-amz-security-token");
    }
    let parts = SignatureParts {
        access_key_id: key.to_owned(),
        scope_date: amz_date[..8].to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        terminator: "aws4_request".to_owned(),
        signed_headers: signed.clone(),
        signature: String::new(),
        amz_date: amz_date.clone(),
        security_token: token.map(str::to_owned),
        location: SignatureLocation::Header,
    };
    let request = SignedRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let canonical = canonical_request(&request, &parts);
    let signature = compute_signature(secret, &parts, &string_to_sign(&parts, &canonical));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={key}/{}/{region}/{service}/aws4_request, SignedHeaders={signed}, Signature={signature}",
        &amz_date[..8]
    );
    headers.insert(
        "authorization",
        HeaderValue::from_str(&authorization).unwrap(),
    );
    headers
}

/// Headers for an IAM call signed by the default admin credential, now.
pub fn admin_iam_headers(host: &str, body: &str) -> HeaderMap {
    signed_headers(
        host,
        body,
        DEFAULT_ADMIN_ACCESS_KEY_ID,
        DEFAULT_ADMIN_SECRET_ACCESS_KEY,
        "iam",
        OffsetDateTime::now_utc(),
    )
}

/// A form body from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Sends a signed IAM POST to a real server; returns status and body.
pub async fn iam_call(server: &TestServer, pairs: &[(&str, &str)]) -> (u16, String) {
    iam_call_at(server.address, pairs).await
}

/// Sends a signed IAM POST to the server at `address`; returns status and body.
pub async fn iam_call_at(address: SocketAddr, pairs: &[(&str, &str)]) -> (u16, String) {
    let body = form(pairs);
    let headers = admin_iam_headers(&address.to_string(), &body);
    let response = reqwest::Client::new()
        .post(format!("http://{address}"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The text of the first `<name>…</name>` in `xml`.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// A CircleCI-style trust policy for `provider_arn`.
pub fn trust_policy(provider_arn: &str) -> String {
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Effect": "Allow",
      "Principal": {{"Federated": "{provider_arn}"}},
      "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {{"StringLike": {{"oidc.circleci.com/org/11111111-2222-3333-4444-555555555555:sub": "org/11111111-2222-3333-4444-555555555555/project/*"}}}}
    }}
  ]
}}"#
    )
}
