//! Explained decisions and the audit log through the HTTP endpoints and the CLI: every outcome
//! kept by RequestId with the failing check, the latest denial found, `explain --token` without
//! assuming, and audit events that never hold a secret.

use std::process::Command;

use keyless_sts::sts::{Check, DecisionRecord};
use serde_json::{Value, json};

use crate::hints::{decision, key};
use crate::issuer::{Fixture, ORG, PROVIDER_URL, USER, assume, get_json, subject};

#[tokio::test]
async fn every_outcome_is_kept_and_the_latest_denial_is_found() {
    let fixture = Fixture::start().await;
    let server = &fixture.server;
    let allowed = assume(server, &fixture.issuer.token(), &[]).await;
    let wrong_audience = fixture.issuer.token_with(|claims| {
        claims.insert("aud".into(), json!("sts.amazonaws.com"));
    });
    let refused = assume(server, &wrong_audience, &[]).await;
    let record = decision(&fixture, &refused.request_id()).await;
    assert_eq!(record.failed_check, Some(Check::Audience));
    assert_eq!(
        record.error.as_ref().unwrap().message,
        "Incorrect token audience"
    );
    assert!(
        record
            .detail
            .as_deref()
            .unwrap()
            .contains("sts.amazonaws.com")
    );
    assert_eq!(record.claims["sub"], json!(subject()));
    let allowed_again = assume(server, &fixture.issuer.token(), &[]).await;
    let (_, latest) = get_json(server, "/_keyless/decisions?limit=2").await;
    let ids: Vec<&str> = latest
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [allowed_again.request_id(), refused.request_id()]);
    let (_, denials) = get_json(server, "/_keyless/decisions?limit=1&allowed=false").await;
    assert_eq!(denials[0]["request_id"], json!(refused.request_id()));
    let (_, allowed_record) = get_json(
        server,
        &format!("/_keyless/decisions/{}", allowed.request_id()),
    )
    .await;
    assert_eq!(allowed_record["allowed"], true);
    assert_eq!(
        allowed_record["access_key_id"].as_str(),
        allowed.element("AccessKeyId")
    );
    for document in [&allowed_record, &latest, &denials] {
        let text = document.to_string();
        assert!(
            !text.contains(allowed.element("SecretAccessKey").unwrap())
                && !text.contains(allowed.element("SessionToken").unwrap())
                && !text.contains(&fixture.issuer.token()[..60]),
            "{text}"
        );
    }
    let (status, missing) = get_json(
        server,
        "/_keyless/decisions/00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(status, 404, "{missing}");
}

#[tokio::test]
async fn audit_events_cover_both_actions_and_hold_no_secret() {
    let directory = tempfile::tempdir().unwrap();
    let audit_file = directory.path().join("audit.jsonl");
    let issuer = crate::issuer::Issuer::start().await;
    let mut config = crate::issuer::config_for(&issuer);
    config.audit_file = Some(audit_file.clone());
    let fixture = Fixture::with_config(issuer, config).await;
    let token = fixture.issuer.token();
    let assumed = assume(&fixture.server, &token, &[]).await;
    let credentials = crate::caller::Credentials::from_answer(&assumed);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        crate::caller::get_caller_identity(
            &fixture.server,
            &credentials.access_key_id,
            &credentials.secret,
            Some(&credentials.token),
            now
        )
        .await
        .status,
        200
    );
    assert_eq!(
        crate::caller::get_caller_identity(
            &fixture.server,
            &credentials.access_key_id,
            &credentials.secret,
            None,
            now
        )
        .await
        .status,
        403
    );
    let other_project = fixture.issuer.token_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!("org/{ORG}/project/p/user/{USER}")),
        );
    });
    let denied = assume(&fixture.server, &other_project, &[]).await;
    let (_, events) = get_json(&fixture.server, "/_keyless/events?limit=10").await;
    let events = events.as_array().unwrap().clone();
    assert_eq!(events.len(), 4);
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "AssumeRoleWithWebIdentity",
            "GetCallerIdentity",
            "GetCallerIdentity",
            "AssumeRoleWithWebIdentity"
        ]
    );
    let success = &events[3];
    assert_eq!(success["requestID"], json!(assumed.request_id()));
    assert_eq!(success["userIdentity"]["type"], "WebIdentityUser");
    assert_eq!(success["userIdentity"]["principalId"], json!(subject()));
    assert_eq!(
        success["userIdentity"]["identityProvider"],
        json!(PROVIDER_URL)
    );
    assert_eq!(
        success["responseElements"]["credentials"]["accessKeyId"].as_str(),
        Some(credentials.access_key_id.as_str())
    );
    assert_eq!(
        success["requestParameters"]["roleArn"],
        json!(crate::issuer::ROLE_ARN)
    );
    assert_eq!(success["eventSource"], "sts.amazonaws.com");
    let refusal = &events[0];
    assert_eq!(refusal["requestID"], json!(denied.request_id()));
    assert_eq!(refusal["errorCode"], "AccessDenied");
    assert_eq!(
        refusal["errorMessage"],
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
    assert_eq!(events[1]["errorCode"], "InvalidClientTokenId");
    assert_eq!(events[2]["userIdentity"]["type"], "AssumedRole");
    assert_eq!(
        events[2]["userIdentity"]["arn"].as_str(),
        assumed.element("Arn")
    );
    let file = std::fs::read_to_string(&audit_file).unwrap();
    assert_eq!(file.lines().count(), 4);
    let everything = format!("{file}{}", Value::Array(events));
    for secret in [
        credentials.secret.as_str(),
        credentials.token.as_str(),
        token.as_str(),
        other_project.as_str(),
    ] {
        assert!(
            !everything.contains(secret),
            "a secret reached the audit log"
        );
    }
    let signature = token.rsplit('.').next().unwrap();
    assert!(!everything.contains(signature));
}

fn explain_command(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_keyless-sts"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_cli_explains_a_request_id_and_a_token_without_assuming() {
    let fixture = Fixture::start().await;
    let other_project = fixture.issuer.token_with(|claims| {
        claims.insert(
            "sub".into(),
            json!(format!("org/{ORG}/project/p/user/{USER}")),
        );
    });
    let denied = assume(&fixture.server, &other_project, &[]).await;
    let url = fixture.server.url();
    let request_id = denied.request_id();
    let output = tokio::task::spawn_blocking({
        let url = url.clone();
        move || explain_command(&[&request_id, "--url", &url])
    })
    .await
    .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("denied at check trust_policy: AccessDenied (HTTP 403) Not authorized to perform sts:AssumeRoleWithWebIdentity"), "{text}");
    assert!(
        text.contains(&format!("✗ StringLike {}", key("sub"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("org/{ORG}/project/p/user/{USER}")),
        "{text}"
    );
    let last = tokio::task::spawn_blocking({
        let url = url.clone();
        move || explain_command(&["--last-denied", "--url", &url])
    })
    .await
    .unwrap();
    assert!(last.status.success());
    assert_eq!(
        String::from_utf8(last.stdout).unwrap(),
        text,
        "--last-denied finds the same refusal"
    );

    let directory = tempfile::tempdir().unwrap();
    let token_file = directory.path().join("token");
    std::fs::write(&token_file, format!("{}\n", fixture.issuer.token())).unwrap();
    let (_, before) = get_json(&fixture.server, "/_keyless/decisions?limit=100").await;
    let token_path = token_file.to_str().unwrap().to_owned();
    let allowed = tokio::task::spawn_blocking({
        let (url, token_path) = (url.clone(), token_path.clone());
        move || {
            explain_command(&[
                "--token",
                &token_path,
                "--role",
                crate::issuer::ROLE_ARN,
                "--url",
                &url,
            ])
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8(allowed.stdout).unwrap();
    assert!(allowed.status.success(), "{text}");
    assert!(
        text.contains("outcome: allowed") && text.contains("explain only, nothing issued"),
        "{text}"
    );
    std::fs::write(&token_file, &other_project).unwrap();
    let refused = tokio::task::spawn_blocking(move || {
        explain_command(&[
            "--token",
            &token_path,
            "--role",
            crate::issuer::ROLE_ARN,
            "--url",
            &url,
            "--json",
        ])
    })
    .await
    .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let record: DecisionRecord = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(record.failed_check, Some(Check::TrustPolicy));
    assert!(record.dry_run);
    let (_, after) = get_json(&fixture.server, "/_keyless/decisions?limit=100").await;
    assert_eq!(before, after, "explain --token stores nothing");
}
