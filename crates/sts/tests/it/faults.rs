//! Issuer faults through the real `AssumeRoleWithWebIdentity` endpoint (assume.rs covers a
//! JWKS that answers 500, is slow, malformed or lacks the kid): the issuer down (connection
//! refused), hanging or slower than the fetch timeout under concurrent calls, discovery that
//! answers 500, 404, a redirect, malformed or mis-shaped JSON, a key set of the wrong shape, and
//! keys rotating while ~200 calls run. Each call must get exactly AWS's key-retrieval refusal
//! (never `IDPCommunicationError`, never a 5xx) within a bound, and the same server must serve
//! a genuine call once the issuer recovers (no panic, no poisoned cache).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::issuer::{
    Fixture, Issuer, PUBLIC_ISSUER, SigningKey, assume, claims, config_for, get_json,
};

const KEY_RETRIEVAL: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
/// The fetch timeout of these servers: discovery and keys together.
const FETCH_TIMEOUT: Duration = Duration::from_millis(300);
/// How long any one call may take here (the fetch timeout plus generous slack).
const CALL_LIMIT: Duration = Duration::from_secs(5);

/// A server whose issuer is `issuer`, with the short fetch timeout.
async fn fixture_for(issuer: Issuer) -> Fixture {
    let mut config = config_for(&issuer);
    config.verifier.fetch_timeout = FETCH_TIMEOUT;
    Fixture::with_config(issuer, config).await
}

/// One bounded call with the issuer's genuine token, which must be refused for key retrieval.
async fn assert_key_retrieval_refusal(fixture: &Fixture, case: &str) -> Duration {
    let started = Instant::now();
    let answer = tokio::time::timeout(
        CALL_LIMIT,
        assume(&fixture.server, &fixture.issuer.token(), &[]),
    )
    .await
    .unwrap_or_else(|_| panic!("{case}: no answer within {CALL_LIMIT:?}"));
    assert_eq!(answer.status, 400, "{case}: {}", answer.body);
    assert_eq!(
        answer.element("Code"),
        Some("InvalidIdentityToken"),
        "{case}: {}",
        answer.body
    );
    assert_eq!(
        answer.element("Message"),
        Some(KEY_RETRIEVAL),
        "{case}: {}",
        answer.body
    );
    started.elapsed()
}

/// The issuer recovers (discovery and keys published again): the same server now verifies.
async fn assert_recovers(fixture: &Fixture, case: &str) {
    fixture.issuer.publish(&[fixture.issuer.key.jwk()]).await;
    let answer = assume(&fixture.server, &fixture.issuer.token(), &[]).await;
    assert_eq!(
        answer.status, 200,
        "{case}: after recovery: {}",
        answer.body
    );
}

/// Serves `discovery` for the organisation (the key set itself stays healthy).
async fn answer_discovery(issuer: &Issuer, discovery: ResponseTemplate) {
    issuer.mock.reset().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "{}/.well-known/openid-configuration",
            Issuer::org_path()
        )))
        .respond_with(discovery)
        .mount(&issuer.mock)
        .await;
    Mock::given(method("GET"))
        .and(path(Issuer::jwks_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [issuer.key.jwk()]})))
        .mount(&issuer.mock)
        .await;
}

fn discovery_document(issuer: &str, jwks_uri: &str) -> Value {
    json!({"issuer": issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256"]})
}

#[tokio::test]
async fn an_issuer_that_is_down_is_a_key_retrieval_error_until_it_comes_back() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = reserved.local_addr().unwrap();
    drop(reserved);
    // The issuer's mapping points at a port nothing listens on: connection refused.
    let down = MockServer::start().await;
    let issuer = Issuer {
        mock: down,
        key: SigningKey::generate("key-1"),
    };
    let mut config = config_for(&issuer);
    config.verifier.fetch_timeout = FETCH_TIMEOUT;
    config.verifier.issuer_map = vec![
        format!("https://oidc.circleci.com=http://{address}")
            .parse()
            .unwrap(),
    ];
    let fixture = Fixture::with_config(issuer, config).await;
    let elapsed = assert_key_retrieval_refusal(&fixture, "connection refused").await;
    assert!(
        elapsed < FETCH_TIMEOUT * 3,
        "a refused connection fails fast: {elapsed:?}"
    );
    // The issuer comes up on that very port: the same server now verifies.
    let listener = std::net::TcpListener::bind(address).unwrap();
    let up = MockServer::builder().listener(listener).start().await;
    let issuer = Issuer {
        mock: up,
        key: SigningKey::generate("key-1"),
    };
    issuer.publish(&[issuer.key.jwk()]).await;
    let answer = assume(&fixture.server, &issuer.token(), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_slow_issuer_never_holds_a_request_past_the_fetch_timeout() {
    // A "server" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });
    let issuer = Issuer::start().await;
    let mut config = config_for(&issuer);
    config.verifier.fetch_timeout = FETCH_TIMEOUT;
    config.verifier.issuer_map = vec![
        format!("https://oidc.circleci.com=http://{silent_address}")
            .parse()
            .unwrap(),
    ];
    let hanging = Fixture::with_config(issuer, config).await;
    let elapsed = assert_key_retrieval_refusal(&hanging, "silent issuer").await;
    assert!(elapsed >= FETCH_TIMEOUT, "{elapsed:?}");
    holder.abort();
    hanging.server.stop().await;

    // Discovery slower than the budget, 24 calls at once: each refused, none stuck.
    let slow = fixture_for(Issuer::start().await).await;
    let late = discovery_document(
        PUBLIC_ISSUER,
        &format!("{PUBLIC_ISSUER}/.well-known/jwks-pub.json"),
    );
    answer_discovery(
        &slow.issuer,
        ResponseTemplate::new(200)
            .set_body_json(late)
            .set_delay(Duration::from_secs(10)),
    )
    .await;
    let started = Instant::now();
    let mut calls = JoinSet::new();
    for _ in 0..24 {
        let (url, token) = (slow.server.url(), slow.issuer.token());
        calls.spawn(async move {
            tokio::time::timeout(
                CALL_LIMIT,
                crate::issuer::assume_at(&url, &token, "rotation"),
            )
            .await
        });
    }
    for answer in calls.join_all().await {
        let answer = answer.expect("every call is answered within the limit");
        assert_eq!(
            (answer.status, answer.element("Message")),
            (400, Some(KEY_RETRIEVAL)),
            "{}",
            answer.body
        );
    }
    // Far below the 10 s the discovery takes: nobody waited for it (slack for a busy machine).
    assert!(started.elapsed() < CALL_LIMIT, "{:?}", started.elapsed());
    assert_recovers(&slow, "slow discovery").await;
    slow.server.stop().await;
}

#[tokio::test]
async fn every_broken_discovery_or_key_set_is_a_key_retrieval_error() {
    let jwks_uri = format!("{PUBLIC_ISSUER}/.well-known/jwks-pub.json");
    let discovery_faults = [
        (
            "discovery 500",
            ResponseTemplate::new(500).set_body_string("boom"),
        ),
        (
            "discovery 503 with a JSON body",
            ResponseTemplate::new(503).set_body_json(discovery_document(PUBLIC_ISSUER, &jwks_uri)),
        ),
        ("discovery 404", ResponseTemplate::new(404)),
        (
            "discovery redirect",
            ResponseTemplate::new(302).insert_header("location", "/elsewhere"),
        ),
        (
            "discovery malformed JSON",
            ResponseTemplate::new(200).set_body_string("{\"issuer\": "),
        ),
        (
            "discovery HTML",
            ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
        ),
        ("discovery empty", ResponseTemplate::new(200)),
        (
            "discovery without jwks_uri",
            ResponseTemplate::new(200).set_body_json(json!({"issuer": PUBLIC_ISSUER})),
        ),
        (
            "discovery of a JSON array",
            ResponseTemplate::new(200).set_body_json(json!([PUBLIC_ISSUER])),
        ),
        (
            "discovery naming another issuer",
            ResponseTemplate::new(200)
                .set_body_json(discovery_document("https://evil.example", &jwks_uri)),
        ),
        (
            "discovery with a non-http jwks_uri",
            ResponseTemplate::new(200)
                .set_body_json(discovery_document(PUBLIC_ISSUER, "file:///etc/passwd")),
        ),
        (
            "discovery of invalid UTF-8",
            ResponseTemplate::new(200)
                .set_body_raw(b"{\"issuer\": \"\xff\"}".to_vec(), "application/json"),
        ),
    ];
    for (case, response) in discovery_faults {
        let fixture = fixture_for(Issuer::start().await).await;
        answer_discovery(&fixture.issuer, response).await;
        assert_key_retrieval_refusal(&fixture, case).await;
        assert_recovers(&fixture, case).await;
        fixture.server.stop().await;
    }
    let key_set_faults = [
        ("keys not a list", json!({"keys": "nope"})),
        ("keys of the wrong type", json!({"keys": [1, "two", null]})),
        ("a key set that is a list", json!([{"kty": "RSA"}])),
        ("a key set without keys", json!({"jwks": []})),
        ("an empty key set", json!({"keys": []})),
        (
            "a key without its modulus",
            json!({"keys": [{"kty": "RSA", "kid": "key-1", "e": "AQAB"}]}),
        ),
    ];
    for (case, body) in key_set_faults {
        let fixture = fixture_for(Issuer::start().await).await;
        fixture
            .issuer
            .answer_jwks(ResponseTemplate::new(200).set_body_json(body))
            .await;
        assert_key_retrieval_refusal(&fixture, case).await;
        assert_recovers(&fixture, case).await;
        fixture.server.stop().await;
    }
}

/// Calls in the rotation test, and how many run at once.
const ROTATION_CALLS: usize = 200;
const ROTATION_CONCURRENCY: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotating_under_load_never_give_a_5xx_and_every_call_is_answered_once() {
    let fixture = fixture_for(Issuer::start().await).await;
    let old = fixture.issuer.token();
    let new_key = SigningKey::generate("key-2");
    let new = new_key.sign(&Value::Object(claims()));
    let (old_jwk, new_jwk) = (fixture.issuer.key.jwk(), new_key.jwk());
    let started = Instant::now();
    let mut answers = Vec::with_capacity(ROTATION_CALLS);
    for round in 0..ROTATION_CALLS / ROTATION_CONCURRENCY {
        // Between rounds the issuer rotates: both keys, only the new, only the old, …
        let published = match round % 3 {
            0 => vec![old_jwk.clone(), new_jwk.clone()],
            1 => vec![new_jwk.clone()],
            _ => vec![old_jwk.clone()],
        };
        let rotation = fixture.issuer.publish(&published);
        let mut calls = JoinSet::new();
        for index in 0..ROTATION_CONCURRENCY {
            let url = fixture.server.url();
            let token = if index % 2 == 0 {
                old.clone()
            } else {
                new.clone()
            };
            calls.spawn(async move {
                tokio::time::timeout(
                    CALL_LIMIT,
                    crate::issuer::assume_at(&url, &token, "rotation"),
                )
                .await
            });
        }
        // The key set is swapped while the round's calls are in flight.
        rotation.await;
        for answer in calls.join_all().await {
            answers.push(answer.expect("every call is answered within the limit"));
        }
    }
    let elapsed = started.elapsed();
    eprintln!("{ROTATION_CALLS} calls under key rotation in {elapsed:?}");
    let mut granted = 0;
    for answer in &answers {
        match answer.status {
            200 => granted += 1,
            400 => assert_eq!(
                (answer.element("Code"), answer.element("Message")),
                (Some("InvalidIdentityToken"), Some(KEY_RETRIEVAL)),
                "{}",
                answer.body
            ),
            other => panic!("status {other}: {}", answer.body),
        }
    }
    assert_eq!(answers.len(), ROTATION_CALLS);
    assert!(granted > 0, "no call was granted");
    // One audit event per call; a session (credentials in the event) exactly per 200.
    let (_, events) = get_json(&fixture.server, "/_keyless/events?limit=1000").await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), ROTATION_CALLS);
    let issued = events
        .iter()
        .filter(|event| !event["responseElements"].is_null())
        .count();
    assert_eq!(issued, granted);
    // After the storm, with the new key alone, the new token is served.
    fixture.issuer.publish(&[new_jwk]).await;
    let answer = assume(&fixture.server, &new, &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    fixture.server.stop().await;
}
