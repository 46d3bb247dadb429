//! Tests of the STS records: sessions with their decision and event in one commit, purging of
//! expired sessions and surplus records, and the newest-first listings.

use time::macros::datetime;

use super::*;

fn session(access_key_id: &str, expires_at: time::OffsetDateTime) -> Session {
    Session {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: "secret".to_owned(),
        session_token: "token".to_owned(),
        account_id: "123456789012".to_owned(),
        role_arn: "arn:aws:iam::123456789012:role/ci/deploy".to_owned(),
        assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/deploy/s".to_owned(),
        assumed_role_id: "AROAAAAAAAAAAAAAAAAAA:s".to_owned(),
        session_policy: None,
        subject: "org/o/project/p/user/u".to_owned(),
        provider_arn: "arn:aws:iam::123456789012:oidc-provider/x".to_owned(),
        request_id: format!("request-{access_key_id}"),
        created_at: datetime!(2026-11-26 00:00:00 UTC),
        expires_at,
    }
}

fn record(request_id: &str, allowed: bool) -> CallRecord {
    CallRecord {
        request_id: request_id.to_owned(),
        recorded_at: 0,
        allowed: Some(allowed),
        decision: Some(format!("{{\"request_id\":\"{request_id}\"}}")),
        event: Some(format!("{{\"requestID\":\"{request_id}\"}}")),
    }
}

#[tokio::test]
async fn purge_removes_expired_sessions_and_keeps_the_newest_records() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    let expired = datetime!(2026-11-26 01:00:00 UTC);
    let live = datetime!(2026-11-26 03:00:00 UTC);
    store
        .record_session(session("ASIAOLD", expired), record("r1", true))
        .await
        .unwrap();
    store
        .record_session(session("ASIANEW", live), record("r2", true))
        .await
        .unwrap();
    store.record_call(record("r3", false)).await.unwrap();
    assert_eq!(store.session_count().await.unwrap(), 2);
    let counts = store
        .purge(datetime!(2026-11-26 02:00:00 UTC), 2)
        .await
        .unwrap();
    assert_eq!(
        counts,
        PurgeCounts {
            sessions: 1,
            decisions: 1,
            events: 1
        }
    );
    assert!(store.session("ASIAOLD").await.unwrap().is_none());
    assert_eq!(
        store.session("ASIANEW").await.unwrap().unwrap().expires_at,
        live
    );
    assert_eq!(
        store.latest_decisions(10, None).await.unwrap(),
        ["{\"request_id\":\"r3\"}", "{\"request_id\":\"r2\"}"]
    );
    assert_eq!(
        store.latest_decisions(10, Some(false)).await.unwrap(),
        ["{\"request_id\":\"r3\"}"]
    );
    assert_eq!(
        store.latest_events(1).await.unwrap(),
        ["{\"requestID\":\"r3\"}"]
    );
    assert!(store.decision("r1").await.unwrap().is_none());
    assert!(store.decision("r2").await.unwrap().is_some());
}

#[tokio::test]
async fn a_failing_write_in_a_batch_leaves_no_partial_session() {
    let store = Store::open(&StoreLocation::InMemory).unwrap();
    let live = datetime!(2026-11-26 03:00:00 UTC);
    store
        .record_session(session("ASIADUP", live), record("first", true))
        .await
        .unwrap();
    // Same access key id: the session insert fails, so its decision must not be stored either.
    let error = store
        .record_session(session("ASIADUP", live), record("second", true))
        .await
        .unwrap_err();
    // AssumeRoleWithWebIdentity draws a new key id on exactly this error.
    assert!(error.is_duplicate_key(), "{error}");
    assert!(store.decision("second").await.unwrap().is_none());
    assert!(store.decision("first").await.unwrap().is_some());
    assert_eq!(store.session_count().await.unwrap(), 1);
}

#[tokio::test]
async fn background_records_are_seen_by_the_next_read_and_survive_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let location = StoreLocation::Directory(directory.path().join("data"));
    {
        let store = Store::open(&location).unwrap();
        for index in 0..500 {
            store
                .record_call(record(&format!("bg-{index}"), false))
                .await
                .unwrap();
        }
        // Reads flush first: all 500 are visible at once, newest first.
        let latest = store.latest_decisions(1, Some(false)).await.unwrap();
        assert_eq!(latest, vec!["{\"request_id\":\"bg-499\"}".to_owned()]);
        store.record_call(record("last", false)).await.unwrap();
        // Dropping the last handle joins the writer after it committed the queue.
    }
    let store = Store::open(&location).unwrap();
    assert!(store.decision("last").await.unwrap().is_some());
    assert_eq!(store.latest_events(1000).await.unwrap().len(), 501);
}

#[tokio::test]
async fn documents_are_stored_compressed_and_text_rows_of_older_versions_still_read() {
    let directory = tempfile::tempdir().unwrap();
    let location = StoreLocation::Directory(directory.path().join("data"));
    {
        let store = Store::open(&location).unwrap();
        store.record_call(record("new", true)).await.unwrap();
    }
    let path = directory.path().join("data").join(DATABASE_FILE_NAME);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let stored: (String, String) = connection
        .query_row(
            "SELECT (SELECT typeof(document) FROM decisions), (SELECT typeof(document) FROM audit_events)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, ("blob".to_owned(), "blob".to_owned()));
    // Rows as the STS wrote them before documents were compressed.
    connection
        .execute_batch(
            "INSERT INTO decisions (request_id, recorded_at, allowed, document) VALUES ('old', 0, 0, '{\"request_id\":\"old\"}');
             INSERT INTO audit_events (request_id, recorded_at, document) VALUES ('old', 0, '{\"requestID\":\"old\"}');",
        )
        .unwrap();
    drop(connection);
    let store = Store::open(&location).unwrap();
    assert_eq!(
        store.decision("new").await.unwrap().as_deref(),
        Some("{\"request_id\":\"new\"}")
    );
    assert_eq!(
        store.decision("old").await.unwrap().as_deref(),
        Some("{\"request_id\":\"old\"}")
    );
    assert_eq!(
        store.latest_events(10).await.unwrap(),
        vec!["{\"requestID\":\"old\"}", "{\"requestID\":\"new\"}"]
    );
    drop(store);
    // A corrupt document is an error, not a panic or a wrong answer.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE decisions SET document = x'0105000000ff' WHERE request_id = 'new'",
            [],
        )
        .unwrap();
    let store = Store::open(&location).unwrap();
    assert!(matches!(
        store.decision("new").await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn a_session_is_served_from_the_cache_and_from_the_database_after_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let location = StoreLocation::Directory(directory.path().join("data"));
    let live = datetime!(2026-11-26 03:00:00 UTC);
    {
        let store = Store::open(&location).unwrap();
        store
            .record_session(session("ASIACACHED", live), record("r1", true))
            .await
            .unwrap();
        assert_eq!(
            store.session("ASIACACHED").await.unwrap(),
            Some(session("ASIACACHED", live))
        );
    }
    let store = Store::open(&location).unwrap();
    assert_eq!(
        store.session("ASIACACHED").await.unwrap(),
        Some(session("ASIACACHED", live))
    );
    assert_eq!(store.session("ASIAUNKNOWN").await.unwrap(), None);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let store = Store::open(&StoreLocation::Directory(data.clone())).unwrap();
    store
        .record_session(
            session("ASIAPRIVATE", datetime!(2026-11-26 03:00:00 UTC)),
            record("r1", true),
        )
        .await
        .unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}
