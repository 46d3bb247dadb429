//! Tests of the minting path below HTTP: one read of the job per request (secret first, then
//! the body's error), and the commit's re-check of the job, which reads only its status; and the
//! remembered orgs the public JWKS and discovery routes answer from.

use keyless_claims::JobId;
use serde_json::json;

use super::Platform;
use super::job_types::{FinishRequest, MintRequest, Minted, StartJobRequest, StartedJob};
use super::tokens::audit_record;
use crate::clock::ClockHandle;
use crate::store::Store;

const RUNNER_TOKEN: &str = "acme-runner-token-0123456789";

/// An in-memory platform with one org and a started job.
fn platform_with_job() -> (Platform, StartedJob) {
    let platform = Platform::open(
        Store::open(None).unwrap(),
        ClockHandle::default(),
        "http://127.0.0.1:1",
    )
    .unwrap();
    let bootstrap = crate::bootstrap::parse(&format!(
        "orgs:\n  - name: acme\n    settings: {{oidc_requires_context: false}}\n    \
         users: [{{login: alice}}]\n    projects: [{{name: widgets, vcs_origin: github.com/acme/widgets}}]\n    \
         runner_tokens: [{{name: r, token: {RUNNER_TOKEN}}}]\n"
    ))
    .unwrap();
    platform.apply_bootstrap(&bootstrap).unwrap();
    let org = platform.authenticate_runner(RUNNER_TOKEN).unwrap();
    let request: StartJobRequest =
        serde_json::from_value(json!({"project": "widgets", "job_name": "build"})).unwrap();
    let job = platform.start_job(&org, request).unwrap();
    (platform, job)
}

fn audit_rows(platform: &Platform, job: &JobId) -> usize {
    platform
        .store
        .read(|tx| tx.audit(Some(job), 1_000))
        .unwrap()
        .len()
}

#[test]
fn the_secret_is_checked_before_the_body_and_a_good_request_mints_both_tokens() {
    let (platform, job) = platform_with_job();
    let bad_body = || -> Result<MintRequest, &str> { Err("bad body") };
    let refused = platform
        .mint_parsed(&job.job_id, "not-the-secret", bad_body())
        .unwrap_err();
    assert_eq!(refused.code, "forbidden");
    let answered = platform
        .mint_parsed(&job.job_id, &job.job_secret, bad_body())
        .unwrap();
    assert_eq!(answered.unwrap_err(), "bad body");
    let before = audit_rows(&platform, &job.job_id);
    let minted = platform
        .mint_parsed::<&str>(&job.job_id, &job.job_secret, Ok(MintRequest::default()))
        .unwrap()
        .unwrap();
    assert!(matches!(minted, Minted::Default { .. }), "{minted:?}");
    assert_eq!(audit_rows(&platform, &job.job_id), before + 2);
}

#[test]
fn a_job_that_finished_while_its_tokens_were_signed_gets_nothing_recorded() {
    let (platform, job) = platform_with_job();
    let claims = {
        let (stored, _) = platform
            .store
            .read(|tx| tx.job(&job.job_id))
            .unwrap()
            .unwrap();
        super::tokens::job_claims(
            &stored,
            platform.org_issuer(&stored.org_id),
            keyless_claims::Audience::One("aud".to_owned()),
            platform.now(),
            std::time::Duration::from_secs(60),
        )
    };
    let audit = audit_record(super::tokens::KIND_V2, &claims, None, platform.now());
    // Signed while running, finished before the commit: the commit refuses it.
    let finish: FinishRequest = serde_json::from_value(json!({"status": "success"})).unwrap();
    platform
        .finish(&job.job_id, &job.job_secret, finish)
        .unwrap();
    let before = audit_rows(&platform, &job.job_id);
    let refused = platform
        .commit_mint(&job.job_id, vec![audit.clone()])
        .unwrap_err();
    assert_eq!(refused.code, "job_finished");
    assert!(refused.message.contains("success"), "{}", refused.message);
    assert_eq!(audit_rows(&platform, &job.job_id), before);
    let missing = platform
        .commit_mint(&JobId::random(), vec![audit])
        .unwrap_err();
    assert_eq!(missing.code, "job_not_found");
}

#[test]
fn an_org_is_known_from_memory_once_found_and_an_unknown_one_is_never_remembered() {
    let (platform, job) = platform_with_job();
    let org = job.org.id;
    assert!(
        !platform.org_known(&org),
        "nothing is known before the first ask"
    );
    assert!(platform.org_exists(&org).unwrap());
    assert!(platform.org_known(&org));
    let stranger: keyless_claims::OrgId = "00000000-0000-4000-8000-000000000000".parse().unwrap();
    assert!(!platform.org_exists(&stranger).unwrap());
    assert!(!platform.org_known(&stranger));
}
