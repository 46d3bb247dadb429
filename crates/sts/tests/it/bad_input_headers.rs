//! Bad input below and beside the Query protocol: requests hyper itself refuses (a non-ASCII
//! request target, too many or too large headers, a TLS hello), a huge `User-Agent` (served,
//! stored cut short), and AWS error documents echoing control characters, which the AWS SDK for
//! Rust must still parse.

use keyless_sts::server::MAX_USER_AGENT_BYTES;

use crate::issuer::{Fixture, ROLE_ARN, get_json};
use crate::wire::{Snapshot, raw, raw_exchange};

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn assume_params(extra: &str) -> Vec<u8> {
    format!("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={ROLE_ARN}{extra}")
        .into_bytes()
}

#[tokio::test]
async fn hyper_refuses_what_cannot_be_a_request_and_the_server_lives_on() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let before = Snapshot::take(server).await;
    // Bytes outside ASCII in the request target, too many headers, a header over hyper's buffer,
    // a TLS hello: refused by the HTTP layer before the application sees a request (no AWS
    // body, as AWS's own front ends answer these with their own pages), never a 5xx.
    let many: Vec<Vec<u8>> = (0..150)
        .map(|index| format!("X-H{index}: v").into_bytes())
        .collect();
    let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
    let huge = format!("X-Huge: {}", "h".repeat(512 * 1024)).into_bytes();
    for (name, request, status) in [
        (
            "raw non-ASCII target",
            raw("GET", b"/?Action=\xff\xfe&Version=2011-06-15", &[], b""),
            400,
        ),
        (
            "150 headers",
            raw("GET", b"/?Action=ListRoles", &many, b""),
            431,
        ),
        ("a 512 KiB header", raw("GET", b"/", &[&huge], b""), 431),
        (
            "a TLS hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
        ),
    ] {
        let reply = raw_exchange(server, &request).await;
        assert_eq!(reply.map(|reply| reply.status), Some(status), "{name}");
    }
    let after = Snapshot::take(server).await;
    before.assert_only_refusals_added(&after, 0, 0, "", "hyper refusals");
}

#[tokio::test]
async fn a_huge_user_agent_is_served_and_stored_cut_short() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let before = Snapshot::take(server).await;
    let agent = format!("agent-{}", "a".repeat(64 * 1024));
    let body = assume_params("&RoleSessionName=job");
    let request = raw(
        "POST",
        b"/",
        &[
            format!("Content-Type: {FORM}").as_bytes(),
            format!("User-Agent: {agent}").as_bytes(),
        ],
        &body,
    );
    let reply = raw_exchange(server, &request).await.expect("an answer");
    reply.assert_aws_error(400, "ValidationError", "64 KiB User-Agent");
    let after = Snapshot::take(server).await;
    before.assert_only_refusals_added(&after, 1, 1, "ValidationError", "64 KiB User-Agent");
    let stored = after.events[0]["userAgent"].as_str().unwrap();
    assert_eq!(stored.len(), MAX_USER_AGENT_BYTES);
    assert!(agent.starts_with(stored));
    let (status, _) = get_json(server, "/_keyless/events?limit=1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_aws_sdk_parses_errors_that_echo_control_characters() {
    use aws_sdk_sts::error::ProvideErrorMetadata as _;
    let fixture = Fixture::start().await;
    let client = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("eu-west-1"))
            .endpoint_url(fixture.server.url())
            .build(),
    );
    let error = client
        .assume_role_with_web_identity()
        .role_arn(ROLE_ARN)
        .role_session_name("a\u{1}b\u{1b}[31m\u{ffff}\u{0}")
        .web_identity_token(fixture.issuer.token())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error.code(), Some("ValidationError"), "{error:?}");
    assert!(
        error
            .message()
            .unwrap()
            .starts_with("1 validation error detected: Value 'a\u{fffd}b\u{fffd}[31m\u{fffd}\u{fffd}' at 'roleSessionName'"),
        "{error:?}"
    );
}
