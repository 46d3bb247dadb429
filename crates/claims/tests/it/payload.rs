//! The documented example token payload (`spec/circleci-oidc.md` §1.7) round-trips exactly.

use keyless_claims::subject::SubjectFormat;
use keyless_claims::{Audience, CircleCiClaims};
use serde_json::{Value, json};

/// The V2 payload of spec §1.7, verbatim.
fn example_v2() -> Value {
    json!({
      "iss": "https://oidc.circleci.com/org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
      "sub": "org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e/project/3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c/user/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/vcs-origin/github.com/octo/widgets/vcs-ref/refs/heads/main",
      "aud": "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
      "iat": 1790000000,
      "exp": 1790003600,
      "oidc.circleci.com/project-id": "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c",
      "oidc.circleci.com/context-ids": ["7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"],
      "oidc.circleci.com/vcs-origin": "github.com/octo/widgets",
      "oidc.circleci.com/vcs-ref": "refs/heads/main",
      "oidc.circleci.com/ssh-rerun": false,
      "oidc.circleci.com/org-id": "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
      "oidc.circleci.com/pipeline-id": "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f",
      "oidc.circleci.com/pipeline-definition-id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
      "oidc.circleci.com/workflow-id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
      "oidc.circleci.com/job-id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
    })
}

#[test]
fn example_payload_round_trips_to_the_same_json() {
    let original = example_v2();
    let claims: CircleCiClaims = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(serde_json::to_value(&claims).unwrap(), original);
    assert!(claims.sub.vcs.is_some());
    assert_eq!(claims.iat.seconds() + 3600, claims.exp.seconds());
}

#[test]
fn serialised_text_keeps_circleci_member_order() {
    let claims: CircleCiClaims = serde_json::from_value(example_v2()).unwrap();
    let text = serde_json::to_string(&claims).unwrap();
    let order = [
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "oidc.circleci.com/project-id",
        "oidc.circleci.com/context-ids",
        "oidc.circleci.com/vcs-origin",
        "oidc.circleci.com/vcs-ref",
        "oidc.circleci.com/ssh-rerun",
        "oidc.circleci.com/org-id",
        "oidc.circleci.com/pipeline-id",
        "oidc.circleci.com/pipeline-definition-id",
        "oidc.circleci.com/workflow-id",
        "oidc.circleci.com/job-id",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|name| text.find(&format!("\"{name}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
}

#[test]
fn v1_differs_from_v2_only_in_sub() {
    let v2: CircleCiClaims = serde_json::from_value(example_v2()).unwrap();
    let v1 = v2.for_format(SubjectFormat::V1);
    let mut v1_json = serde_json::to_value(&v1).unwrap();
    let mut v2_json = serde_json::to_value(&v2).unwrap();
    assert_eq!(
        v1_json["sub"],
        "org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e/project/3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c/user/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
    );
    v1_json["sub"] = Value::Null;
    v2_json["sub"] = Value::Null;
    assert_eq!(v1_json, v2_json);
}

#[test]
fn custom_webhook_payload_has_no_vcs_claims() {
    let mut payload = example_v2();
    let object = payload.as_object_mut().unwrap();
    object.remove("oidc.circleci.com/vcs-origin");
    object.remove("oidc.circleci.com/vcs-ref");
    object.insert(
        "sub".into(),
        json!("org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e/project/3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c/user/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"),
    );
    let claims: CircleCiClaims = serde_json::from_value(payload.clone()).unwrap();
    assert_eq!(claims.vcs_origin, None);
    let back = serde_json::to_value(&claims).unwrap();
    assert_eq!(back, payload);
    assert!(back.get("oidc.circleci.com/vcs-origin").is_none());
}

#[test]
fn job_without_contexts_has_an_empty_list() {
    let mut payload = example_v2();
    payload["oidc.circleci.com/context-ids"] = json!([]);
    let claims: CircleCiClaims = serde_json::from_value(payload.clone()).unwrap();
    assert!(claims.context_ids.is_empty());
    assert_eq!(serde_json::to_value(&claims).unwrap(), payload);
}

#[test]
fn audience_is_a_string_or_an_array() {
    let mut payload = example_v2();
    payload["aud"] = json!(["sigstore", "pypi"]);
    let claims: CircleCiClaims = serde_json::from_value(payload.clone()).unwrap();
    assert_eq!(
        claims.aud,
        Audience::Many(vec!["sigstore".into(), "pypi".into()])
    );
    assert!(claims.aud.contains("pypi"));
    assert!(!claims.aud.contains("npm"));
    assert_eq!(serde_json::to_value(&claims).unwrap(), payload);
}

#[test]
fn malformed_claims_are_refused_with_a_reason() {
    let mut payload = example_v2();
    payload["oidc.circleci.com/project-id"] = json!("not-a-uuid");
    let error = serde_json::from_value::<CircleCiClaims>(payload).unwrap_err();
    assert!(error.to_string().contains("project id"), "{error}");

    let mut payload = example_v2();
    payload["iat"] = json!(1790000000.5);
    assert!(serde_json::from_value::<CircleCiClaims>(payload).is_err());

    let mut payload = example_v2();
    payload["oidc.circleci.com/ssh-rerun"] = json!("false");
    assert!(serde_json::from_value::<CircleCiClaims>(payload).is_err());
}
