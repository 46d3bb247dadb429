//! Fuzzes the trust-policy grammar and engine, `keyless_sts::policy`: `TrustPolicy::parse`
//! (and the session-policy grammar, and `lint`) on arbitrary text, then `evaluate` of what
//! parses against request contexts built from fuzzed token claims.
//!
//! Input: `policy text \0 claims JSON`. Without a `\0`, or when the claims are not a JSON
//! object, a CircleCI V2 token's claims are used. The properties: no panic; a refusal has a
//! non-empty AWS message; a decision has one evaluation per statement, its effect agrees with
//! which statements applied, it is deterministic, and it survives a JSON round trip (the STS
//! stores decisions as JSON).

#![no_main]

use keyless_sts::lint::lint;
use keyless_sts::policy::{
    Decision, Effect, RequestContext, SessionPolicy, StatementEffect, TrustPolicy, evaluate,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// A CircleCI organisation issuer, as AWS sees it (no scheme).
const CIRCLECI_PROVIDER: &str = "oidc.circleci.com/org/c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c";
/// A non-CircleCI issuer, whose keys are the generic ones plus GitHub's.
const GITHUB_PROVIDER: &str = "token.actions.githubusercontent.com";

fuzz_target!(|data: &[u8]| {
    let (policy_bytes, claims_bytes) = match data.iter().position(|byte| *byte == 0) {
        Some(split) => (&data[..split], &data[split + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(policy_bytes);
    let claims = match serde_json::from_slice::<Value>(claims_bytes) {
        Ok(Value::Object(claims)) => claims,
        _ => circleci_claims(),
    };
    let _ = SessionPolicy::parse(&text);
    let parsed = TrustPolicy::parse(&text);
    assert_eq!(
        lint(&text).is_ok(),
        parsed.is_ok(),
        "lint and parse disagree"
    );
    match parsed {
        Err(error) => assert!(!error.message().is_empty()),
        Ok(policy) => {
            let _ = policy.federated_principals();
            for provider in [CIRCLECI_PROVIDER, GITHUB_PROVIDER] {
                let context = RequestContext::for_web_identity(
                    provider,
                    &format!("arn:aws:iam::123456789012:oidc-provider/{provider}"),
                    &claims,
                    "fuzz-session",
                    &["keyless".to_owned()],
                );
                check_decision(&policy, &context);
            }
        }
    }
});

/// The claims of a CircleCI V2 job token.
fn circleci_claims() -> Map<String, Value> {
    let project = "3a2f5b1c-1111-4222-8333-444455556666";
    let subject = format!(
        "org/c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c/project/{project}/user/5e6f7a8b-0000-4000-8000-000000000042/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main"
    );
    match json!({
        "iss": format!("https://{CIRCLECI_PROVIDER}"),
        "sub": subject,
        "aud": "c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c",
        "amr": ["circleci"],
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
        "oidc.circleci.com/project-id": project,
        "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
    }) {
        Value::Object(claims) => claims,
        _ => Map::new(),
    }
}

/// Evaluates `policy` in `context` and checks the decision's invariants.
fn check_decision(policy: &TrustPolicy, context: &RequestContext) {
    let decision = evaluate(policy, context);
    assert_eq!(decision.statements.len(), policy.statements().len());
    let applying = |effect: StatementEffect| {
        decision
            .statements
            .iter()
            .find(|statement| statement.applies && statement.effect == effect)
            .map(|statement| statement.index)
    };
    match decision.effect {
        Effect::ExplicitDeny => {
            assert_eq!(decision.decisive_statement, applying(StatementEffect::Deny));
        }
        Effect::Allow => {
            assert_eq!(applying(StatementEffect::Deny), None);
            assert_eq!(
                decision.decisive_statement,
                applying(StatementEffect::Allow)
            );
        }
        Effect::ImplicitDeny => {
            assert!(
                decision
                    .statements
                    .iter()
                    .all(|statement| !statement.applies)
            );
            assert_eq!(decision.decisive_statement, None);
        }
    }
    assert!(decision.decisive_statement.is_some() || decision.effect == Effect::ImplicitDeny);
    assert_eq!(
        decision.access_denied_message().is_some(),
        !decision.allowed()
    );
    assert!(!decision.render_text().is_empty());
    assert_eq!(
        evaluate(policy, context),
        decision,
        "evaluation is not deterministic"
    );
    let stored = serde_json::to_string(&decision).expect("a decision serialises");
    let restored: Decision = serde_json::from_str(&stored).expect("a stored decision reads back");
    assert_eq!(restored, decision);
}
