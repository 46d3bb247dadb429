//! Property tests: parsing, evaluating, explaining and linting never panic, whatever the input
//! (arbitrary text, and well-formed-looking policies assembled from random pieces).

use proptest::prelude::*;
use serde_json::{Value, json};

use super::test_support::{Token, key, provider_arn};
use super::{Effect, TrustPolicy, evaluate};
use crate::lint::lint;

/// Operator names, valid and not.
fn operator() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("StringEquals"),
        Just("StringNotEquals"),
        Just("StringEqualsIgnoreCase"),
        Just("StringLike"),
        Just("StringNotLike"),
        Just("ForAnyValue:StringLike"),
        Just("ForAllValues:StringEquals"),
        Just("StringLikeIfExists"),
        Just("Bool"),
        Just("Null"),
        Just("NumericLessThan"),
        Just("DateGreaterThan"),
        Just("ArnLike"),
        Just("IpAddress"),
        Just("StringEqual"),
    ]
    .prop_map(str::to_owned)
}

/// Condition keys, supported and not.
fn condition_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(key("sub")),
        Just(key("aud")),
        Just(key("amr")),
        Just(key("oidc.circleci.com/project-id")),
        Just(key("oidc.circleci.com/vcs-origin")),
        Just("sts:RoleSessionName".to_owned()),
        Just("aws:SourceIp".to_owned()),
        "[a-z:/.]{0,12}",
    ]
}

/// Condition values, including variables, escapes and broken variables.
fn condition_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        "[a-z0-9/*?$.{}-]{0,16}",
        Just(format!("${{{}}}", key("sub"))),
        Just("${*}${?}${$}".to_owned()),
        Just("${unclosed".to_owned()),
        Just(format!("${{{}, 'x'}}", key("amr"))),
        Just("true".to_owned()),
    ];
    prop_oneof![
        text.clone().prop_map(Value::String),
        prop::collection::vec(text, 0..3).prop_map(|items| json!(items)),
        any::<i32>().prop_map(|number| json!(number)),
        any::<bool>().prop_map(|flag| json!(flag)),
    ]
}

/// A trust-policy statement assembled from random pieces.
fn statement() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        prop_oneof![
            Just(json!({"Federated": provider_arn()})),
            Just(json!("*")),
            Just(json!({"AWS": "*"})),
            Just(json!({"Federated": "accounts.google.com"})),
        ],
        prop_oneof![
            Just(json!("sts:AssumeRoleWithWebIdentity")),
            Just(json!("sts:*")),
            Just(json!(["sts:AssumeRole", "sts:TagSession"])),
        ],
        prop::collection::vec((operator(), condition_key(), condition_value()), 0..4),
    )
        .prop_map(|(effect, principal, action, conditions)| {
            let mut block = serde_json::Map::new();
            for (operator, key, value) in conditions {
                let entry = block
                    .entry(operator)
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Value::Object(keys) = entry {
                    keys.insert(key, value);
                }
            }
            json!({"Effect": effect, "Principal": principal, "Action": action, "Condition": block})
        })
}

/// A context from one of a few tokens.
fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        Just(Token::v1()),
        Just(Token::v2("refs/heads/main")),
        Just(Token::v1().with("amr", json!(["pwd", "mfa"]))),
        Just(Token::v1().with("aud", json!(["a", "b"]))),
        Just(Token::v1().with("azp", json!({"nested": true}))),
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = TrustPolicy::parse(&text);
        let _ = lint(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(text in r#"[\[\]{}":,a-zA-Z0-9 *${}]{0,120}"#) {
        let _ = TrustPolicy::parse(&text);
        let _ = lint(&text);
    }

    #[test]
    fn assembled_policies_evaluate_explain_and_lint_without_panicking(
        statements in prop::collection::vec(statement(), 1..4),
        version in prop_oneof![Just("2012-10-17"), Just("2008-10-17")],
        token in token(),
    ) {
        let text = json!({"Version": version, "Statement": statements}).to_string();
        let _ = lint(&text);
        if let Ok(policy) = TrustPolicy::parse(&text) {
            let decision = evaluate(&policy, &token.context());
            let _ = decision.render_text();
            // The effect agrees with the statements: an applying Deny always wins.
            let denied_explicitly = decision
                .statements
                .iter()
                .any(|statement| statement.applies && statement.effect == super::StatementEffect::Deny);
            prop_assert_eq!(denied_explicitly, decision.effect == Effect::ExplicitDeny);
        }
    }
}
