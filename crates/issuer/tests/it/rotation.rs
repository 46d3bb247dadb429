//! Key rotation and restarts: a token signed before a rotation verifies until it expires, the
//! retired key then leaves the JWKS; a restart keeps keys, model and jobs; `keys rotate` on the
//! data directory and the rotation interval.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    ACME_ORG_ID, Options, TestServer, VerifyError, owner_only, peek_header, published_kids,
    temp_dir, verify_from_discovery, wait_for_kids,
};

fn kid(token: &serde_json::Value) -> String {
    peek_header(token.as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn rotation_publishes_first_and_retires_after_the_last_token_expires() {
    let server = TestServer::start().await;
    let before = published_kids(&server).await;
    assert_eq!(before.len(), 2);
    let job = server.start_acme_job(json!({})).await;
    let old_kid = kid(&job["oidc_token"]);
    let next_kid = before
        .iter()
        .find(|candidate| **candidate != old_kid)
        .unwrap()
        .clone();

    let (status, rotated) = server
        .admin("POST", "/api/v1/admin/keys/rotate", None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(
        rotated["active_kid"],
        next_kid.as_str(),
        "the key that signs next was already published"
    );
    let during = published_kids(&server).await;
    assert_eq!(during.len(), 3, "old, new active and new next key");
    assert!(during.contains(&old_kid));

    let secret = job["job_secret"].as_str().unwrap();
    let path = format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap());
    let (_, minted) = server.call("POST", &path, Some(secret), None).await;
    assert_eq!(kid(&minted["oidc_token"]), next_kid);

    let old_token = job["oidc_token"].as_str().unwrap();
    verify_from_discovery(&server.client, old_token, ACME_ORG_ID)
        .await
        .unwrap();
    server.clock.advance(Duration::from_secs(3599));
    assert!(
        published_kids(&server).await.contains(&old_kid),
        "still published one second before expiry"
    );
    verify_from_discovery(&server.client, old_token, ACME_ORG_ID)
        .await
        .unwrap();
    server.clock.advance(Duration::from_secs(1));
    let after = published_kids(&server).await;
    assert!(
        !after.contains(&old_kid),
        "retired key leaves once its last token expired"
    );
    assert!(matches!(
        verify_from_discovery(&server.client, old_token, ACME_ORG_ID).await,
        Err(VerifyError::UnknownKid(_))
    ));
    verify_from_discovery(
        &server.client,
        minted["oidc_token"].as_str().unwrap(),
        ACME_ORG_ID,
    )
    .await
    .unwrap();
    let (_, keys) = server.admin("GET", "/api/v1/admin/keys", None).await;
    let states: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"active") && states.contains(&"next"),
        "{keys}"
    );
    assert!(
        !keys.to_string().contains("private"),
        "no private material in the admin API"
    );
}

#[tokio::test]
async fn a_key_that_signed_longer_tokens_stays_longer() {
    let server = TestServer::start().await;
    let (status, _) = server
        .admin(
            "PATCH",
            &format!("/api/v2/org/{ACME_ORG_ID}/oidc-custom-claims"),
            Some(json!({"ttl": "5h"})),
        )
        .await;
    assert_eq!(status, 200);
    let job = server.start_acme_job(json!({})).await;
    let old_kid = kid(&job["oidc_token"]);
    server
        .admin("POST", "/api/v1/admin/keys/rotate", None)
        .await;
    server.clock.advance(Duration::from_secs(3600 * 5 - 1));
    assert!(published_kids(&server).await.contains(&old_kid));
    server.clock.advance(Duration::from_secs(1));
    assert!(!published_kids(&server).await.contains(&old_kid));
}

#[tokio::test]
async fn restart_keeps_keys_model_and_jobs() {
    let data_dir = temp_dir();
    let options = || Options {
        data_dir: Some(data_dir.path().join("state")),
        ..Options::default()
    };
    let first = TestServer::start_with(options()).await;
    let kids = published_kids(&first).await;
    let job = first.start_acme_job(json!({})).await;
    let (status, _) = first
        .admin(
            "POST",
            "/api/v1/admin/orgs",
            Some(json!({"name": "initech"})),
        )
        .await;
    assert_eq!(status, 201);
    first.stop().await;
    #[cfg(unix)]
    {
        assert!(owner_only(&data_dir.path().join("state")));
        assert!(owner_only(
            &data_dir.path().join("state").join("issuer.sqlite3")
        ));
    }

    let second = TestServer::start_with(options()).await;
    assert_eq!(
        published_kids(&second).await,
        kids,
        "same keys after a restart"
    );
    let (status, org) = second
        .admin("GET", "/api/v1/admin/orgs/initech", None)
        .await;
    assert_eq!(status, 200, "{org}");
    let (status, stored) = second
        .admin(
            "GET",
            &format!("/api/v1/admin/jobs/{}", job["job_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(stored["status"], "running");
    let path = format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap());
    let (status, minted) = second
        .call("POST", &path, job["job_secret"].as_str(), None)
        .await;
    assert_eq!(status, 200, "{minted}");
    assert_eq!(kid(&minted["oidc_token"]), kid(&job["oidc_token"]));
    verify_from_discovery(
        &second.client,
        minted["oidc_token_v2"].as_str().unwrap(),
        ACME_ORG_ID,
    )
    .await
    .unwrap();
    let again = second.start_acme_job(json!({})).await;
    assert_eq!(again["build_num"], 2, "counters survive too");
    let (_, audit) = second.admin("GET", "/api/v1/admin/audit", None).await;
    assert_eq!(
        audit["tokens"].as_array().unwrap().len(),
        6,
        "the bootstrap re-applied without duplicating"
    );
}

#[tokio::test]
async fn keys_rotate_on_the_data_directory() {
    let data_dir = temp_dir();
    let state = data_dir.path().join("state");
    let options = || Options {
        data_dir: Some(state.clone()),
        ..Options::default()
    };
    let server = TestServer::start_with(options()).await;
    let before = published_kids(&server).await;
    let job = server.start_acme_job(json!({})).await;
    let old_kid = kid(&job["oidc_token"]);

    // Another process rotates while the server runs; the server notices within seconds.
    let clock = keyless_issuer::ClockHandle::new(server.clock.clone());
    let new_active = tokio::task::spawn_blocking({
        let state = state.clone();
        move || keyless_issuer::rotate_keys_in(&state, &clock).unwrap()
    })
    .await
    .unwrap();
    assert!(before.contains(&new_active) && new_active != old_kid);
    wait_for_kids(&server, |kids| kids.len() == 3).await;
    let secret = job["job_secret"].as_str().unwrap();
    let (_, minted) = server
        .call(
            "POST",
            &format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap()),
            Some(secret),
            None,
        )
        .await;
    assert_eq!(kid(&minted["oidc_token"]), new_active);
    // Rotated from outside, the old key stays for the longest token lifetime (5h) plus a margin.
    server.clock.advance(Duration::from_secs(5 * 3600));
    assert!(published_kids(&server).await.contains(&old_kid));
    server.clock.advance(Duration::from_secs(120));
    assert!(!published_kids(&server).await.contains(&old_kid));
}

#[tokio::test]
async fn rotation_interval_rotates_when_due() {
    let server = TestServer::start_with(Options {
        rotation_interval: Some("30m"),
        ..Options::default()
    })
    .await;
    let before = published_kids(&server).await;
    let job = server.start_acme_job(json!({})).await;
    let first_kid = kid(&job["oidc_token"]);
    server.clock.advance(Duration::from_secs(1799));
    assert_eq!(published_kids(&server).await, before, "not due yet");
    server.clock.advance(Duration::from_secs(1));
    let after = wait_for_kids(&server, |kids| !kids.iter().all(|kid| before.contains(kid))).await;
    assert!(
        after.contains(&first_kid),
        "the old key stays until its token expires"
    );
    let job = server.start_acme_job(json!({})).await;
    assert_ne!(kid(&job["oidc_token"]), first_kid);
}
