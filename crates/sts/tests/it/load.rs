//! A bounded burst of concurrent AssumeRoleWithWebIdentity calls against a file-backed store:
//! every call gets its own session, every session and decision is durable once answered (the
//! group-commit writer folds concurrent writes into shared commits), and a restart finds them.

use std::collections::HashSet;
use std::time::Instant;

use keyless_sts::store::StoreLocation;
use time::OffsetDateTime;

use crate::caller::{Credentials, get_caller_identity};
use crate::issuer::{Fixture, Issuer, config_for, get_json};
use crate::support::TestServer;

/// Calls in the burst (a multiple of [`CONCURRENCY`]).
const CALLS: usize = 384;
/// Calls in flight at once.
const CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_assumptions_is_durable_and_distinct() {
    let directory = tempfile::tempdir().unwrap();
    let issuer = Issuer::start().await;
    let mut config = config_for(&issuer);
    config.storage = StoreLocation::Directory(directory.path().to_owned());
    let fixture = Fixture::with_config(issuer, config.clone()).await;
    let token = fixture.issuer.token();
    let started = Instant::now();
    let mut answers = Vec::with_capacity(CALLS);
    for _ in 0..CALLS / CONCURRENCY {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (server, token) = (fixture.server.url(), token.clone());
            burst.spawn(async move { crate::issuer::assume_at(&server, &token, "burst").await });
        }
        answers.extend(burst.join_all().await);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{CALLS} AssumeRoleWithWebIdentity calls ({CONCURRENCY} in flight, file-backed store, debug build of keyless-sts): {:.0} calls/s",
        CALLS as f64 / elapsed.as_secs_f64()
    );
    let keys: HashSet<String> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.element("AccessKeyId").unwrap().to_owned()
        })
        .collect();
    assert_eq!(keys.len(), CALLS);
    fixture.server.stop().await;

    let restarted = TestServer::start(config).await;
    let (_, decisions) = get_json(&restarted, "/_keyless/decisions?limit=1000").await;
    assert_eq!(decisions.as_array().unwrap().len(), CALLS);
    for answer in [&answers[0], &answers[CALLS / 2], &answers[CALLS - 1]] {
        let credentials = Credentials::from_answer(answer);
        let identity = get_caller_identity(
            &restarted,
            &credentials.access_key_id,
            &credentials.secret,
            Some(&credentials.token),
            OffsetDateTime::now_utc(),
        )
        .await;
        assert_eq!(identity.status, 200, "{}", identity.body);
    }
    restarted.stop().await;
}
