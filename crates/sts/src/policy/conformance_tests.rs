//! Conformance table, part 1: every condition operator on single-valued keys, empty value
//! lists, absent keys, and the case rules (§4.3). Each row asserts the effect and the condition
//! that decided it.

use serde_json::json;

use super::test_support::{
    Case, Expect, ORG, OTHER_PROJECT, PROJECT, Token, allow_one, case, condition, document, key,
    run_table, statement, sub_v1, with_entry,
};

use Expect::{Allow, BlockedBy};

/// String operators on single-valued keys.
fn string_cases() -> Vec<Case> {
    let v1 = || Token::v1().context();
    let sub = || key("sub");
    let project_key = || key("oidc.circleci.com/project-id");
    vec![
        case(
            "StringEquals aud matches",
            allow_one("StringEquals", key("aud"), json!(ORG)),
            v1(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "StringEquals aud differs",
            allow_one("StringEquals", key("aud"), json!("sts.amazonaws.com")),
            v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "StringEquals values are OR'd",
            allow_one(
                "StringEquals",
                key("aud"),
                json!(["sts.amazonaws.com", ORG]),
            ),
            v1(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "StringEquals keys are AND'd, second fails",
            document(vec![statement(
                "Allow",
                condition(&[
                    ("StringEquals", key("aud"), json!(ORG)),
                    ("StringEquals", project_key(), json!(OTHER_PROJECT)),
                ]),
            )]),
            v1(),
            BlockedBy(0, 1, "StringEquals"),
        ),
        case(
            "StringEquals keys are AND'd, both hold (CircleCI option 1)",
            document(vec![statement(
                "Allow",
                condition(&[
                    ("StringEquals", key("aud"), json!(ORG)),
                    ("StringEquals", project_key(), json!(PROJECT)),
                ]),
            )]),
            v1(),
            Allow(0, Some((1, "StringEquals"))),
        ),
        case(
            "StringEquals is case-sensitive",
            allow_one("StringEquals", sub(), json!(sub_v1(PROJECT).to_uppercase())),
            v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "StringEquals compares * literally",
            allow_one("StringEquals", sub(), json!(format!("org/{ORG}/*"))),
            v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "StringEquals on project-id of another project",
            allow_one("StringEquals", project_key(), json!(OTHER_PROJECT)),
            v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "StringEquals with an empty value list never holds",
            allow_one("StringEquals", sub(), json!([])),
            v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "condition key names are case-insensitive",
            allow_one("StringEquals", key("AUD").to_uppercase(), json!(ORG)),
            v1(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "StringNotEquals holds for another value",
            allow_one("StringNotEquals", sub(), json!(sub_v1(OTHER_PROJECT))),
            v1(),
            Allow(0, Some((0, "StringNotEquals"))),
        ),
        case(
            "StringNotEquals fails for the same value",
            allow_one("StringNotEquals", sub(), json!(sub_v1(PROJECT))),
            v1(),
            BlockedBy(0, 0, "StringNotEquals"),
        ),
        case(
            "StringNotEquals: none of the values may match",
            allow_one(
                "StringNotEquals",
                sub(),
                json!([sub_v1(OTHER_PROJECT), sub_v1(PROJECT)]),
            ),
            v1(),
            BlockedBy(0, 0, "StringNotEquals"),
        ),
        case(
            "StringNotEquals with values all different holds",
            allow_one("StringNotEquals", sub(), json!(["a", "b"])),
            v1(),
            Allow(0, Some((0, "StringNotEquals"))),
        ),
        case(
            "StringNotEquals on an absent key holds",
            allow_one("StringNotEquals", key("amr"), json!("mfa")),
            v1(),
            Allow(0, Some((0, "StringNotEquals"))),
        ),
        case(
            "StringNotEquals with an empty value list holds",
            allow_one("StringNotEquals", sub(), json!([])),
            v1(),
            Allow(0, Some((0, "StringNotEquals"))),
        ),
        case(
            "StringEqualsIgnoreCase ignores case",
            allow_one(
                "StringEqualsIgnoreCase",
                sub(),
                json!(sub_v1(PROJECT).to_uppercase()),
            ),
            v1(),
            Allow(0, Some((0, "StringEqualsIgnoreCase"))),
        ),
        case(
            "StringEqualsIgnoreCase still compares text",
            allow_one(
                "StringEqualsIgnoreCase",
                sub(),
                json!(sub_v1(OTHER_PROJECT)),
            ),
            v1(),
            BlockedBy(0, 0, "StringEqualsIgnoreCase"),
        ),
        case(
            "StringNotEqualsIgnoreCase fails on a case-only difference",
            allow_one(
                "StringNotEqualsIgnoreCase",
                sub(),
                json!(sub_v1(PROJECT).to_uppercase()),
            ),
            v1(),
            BlockedBy(0, 0, "StringNotEqualsIgnoreCase"),
        ),
        case(
            "StringNotEqualsIgnoreCase holds for other text",
            allow_one(
                "StringNotEqualsIgnoreCase",
                sub(),
                json!(sub_v1(OTHER_PROJECT)),
            ),
            v1(),
            Allow(0, Some((0, "StringNotEqualsIgnoreCase"))),
        ),
        case(
            "StringLike ? is exactly one character",
            allow_one("StringLike", key("aud"), json!(format!("{}?", &ORG[..35]))),
            v1(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "StringLike ? does not match two characters",
            allow_one("StringLike", key("aud"), json!(format!("{}?", &ORG[..34]))),
            v1(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "StringLike * alone matches anything",
            allow_one("StringLike", sub(), json!("*")),
            v1(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "StringLike is case-sensitive",
            allow_one("StringLike", sub(), json!(format!("ORG/{ORG}/*"))),
            v1(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "StringLike without wildcards is exact",
            allow_one("StringLike", sub(), json!(sub_v1(PROJECT))),
            v1(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "StringLike patterns are OR'd",
            allow_one(
                "StringLike",
                sub(),
                json!([
                    format!("org/{ORG}/project/{OTHER_PROJECT}/*"),
                    format!("org/{ORG}/project/{PROJECT}/*")
                ]),
            ),
            v1(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "StringLike must match the whole string",
            allow_one(
                "StringLike",
                sub(),
                json!(format!("org/{ORG}/project/{PROJECT}")),
            ),
            v1(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "StringNotLike fails when a pattern matches",
            allow_one(
                "StringNotLike",
                sub(),
                json!(format!("org/{ORG}/project/{PROJECT}/*")),
            ),
            v1(),
            BlockedBy(0, 0, "StringNotLike"),
        ),
        case(
            "StringNotLike holds when no pattern matches",
            allow_one(
                "StringNotLike",
                sub(),
                json!(format!("org/{ORG}/project/{OTHER_PROJECT}/*")),
            ),
            v1(),
            Allow(0, Some((0, "StringNotLike"))),
        ),
        case(
            "StringNotLike on an absent key holds",
            allow_one("StringNotLike", key("amr"), json!("*")),
            v1(),
            Allow(0, Some((0, "StringNotLike"))),
        ),
        case(
            "StringNotLike: one matching pattern of several fails",
            allow_one("StringNotLike", sub(), json!(["nothing/*", "org/*"])),
            v1(),
            BlockedBy(0, 0, "StringNotLike"),
        ),
    ]
}

/// Bool, Null, numeric, ARN operators and unknown empty operators.
fn typed_cases() -> Vec<Case> {
    let secure = |value: &str| {
        with_entry(
            Token::v1().context(),
            "aws:SecureTransport",
            &[value],
            false,
        )
    };
    let numbered = |value: &str| {
        with_entry(
            Token::v1().context(),
            "aws:MultiFactorAuthAge",
            &[value],
            false,
        )
    };
    let vcs_origin = || key("oidc.circleci.com/vcs-origin");
    vec![
        case(
            "Bool true matches true",
            allow_one("Bool", "aws:SecureTransport".into(), json!("true")),
            secure("true"),
            Allow(0, Some((0, "Bool"))),
        ),
        case(
            "Bool compares case-insensitively",
            allow_one("Bool", "aws:SecureTransport".into(), json!("TRUE")),
            secure("true"),
            Allow(0, Some((0, "Bool"))),
        ),
        case(
            "Bool accepts an unquoted JSON boolean",
            allow_one("Bool", "aws:SecureTransport".into(), json!(true)),
            secure("true"),
            Allow(0, Some((0, "Bool"))),
        ),
        case(
            "Bool false does not match true",
            allow_one("Bool", "aws:SecureTransport".into(), json!("false")),
            secure("true"),
            BlockedBy(0, 0, "Bool"),
        ),
        case(
            "Bool on an absent key fails",
            allow_one("Bool", "aws:SecureTransport".into(), json!("true")),
            Token::v1().context(),
            BlockedBy(0, 0, "Bool"),
        ),
        case(
            "BoolIfExists on an absent key holds",
            allow_one("BoolIfExists", "aws:SecureTransport".into(), json!("false")),
            Token::v1().context(),
            Allow(0, Some((0, "BoolIfExists"))),
        ),
        case(
            "Null true holds for an absent (unsupported) key",
            allow_one("Null", vcs_origin(), json!("true")),
            Token::v1().context(),
            Allow(0, Some((0, "Null"))),
        ),
        case(
            "Null true fails for a present key",
            allow_one("Null", key("sub"), json!("true")),
            Token::v1().context(),
            BlockedBy(0, 0, "Null"),
        ),
        case(
            "Null false holds for a present key",
            allow_one("Null", key("sub"), json!("false")),
            Token::v1().context(),
            Allow(0, Some((0, "Null"))),
        ),
        case(
            "Null false fails for an absent key",
            allow_one("Null", vcs_origin(), json!(false)),
            Token::v1().context(),
            BlockedBy(0, 0, "Null"),
        ),
        case(
            "NumericLessThan compares numbers",
            allow_one(
                "NumericLessThan",
                "aws:MultiFactorAuthAge".into(),
                json!(3600),
            ),
            numbered("120"),
            Allow(0, Some((0, "NumericLessThan"))),
        ),
        case(
            "NumericLessThan fails when larger",
            allow_one(
                "NumericLessThan",
                "aws:MultiFactorAuthAge".into(),
                json!("60"),
            ),
            numbered("120"),
            BlockedBy(0, 0, "NumericLessThan"),
        ),
        case(
            "NumericEquals never matches text",
            allow_one("NumericEquals", key("sub"), json!("1")),
            Token::v1().context(),
            BlockedBy(0, 0, "NumericEquals"),
        ),
        case(
            "ArnLike uses wildcards",
            allow_one(
                "ArnLike",
                "aws:SourceArn".into(),
                json!("arn:aws:iam::*:role/ci-*"),
            ),
            with_entry(
                Token::v1().context(),
                "aws:SourceArn",
                &["arn:aws:iam::123456789012:role/ci-deploy"],
                false,
            ),
            Allow(0, Some((0, "ArnLike"))),
        ),
        case(
            "ArnNotLike on an absent key holds",
            allow_one("ArnNotLike", "aws:SourceArn".into(), json!("arn:*")),
            Token::v1().context(),
            Allow(0, Some((0, "ArnNotLike"))),
        ),
        case(
            "IpAddress on an absent key fails",
            allow_one("IpAddress", "aws:SourceIp".into(), json!("10.0.0.0/8")),
            Token::v1().context(),
            BlockedBy(0, 0, "IpAddress"),
        ),
        case(
            "an unknown operator with an empty block constrains nothing",
            document(vec![statement(
                "Allow",
                json!({"StringEqualsAnything": {}}),
            )]),
            Token::v1().context(),
            Allow(0, None),
        ),
    ]
}

#[test]
fn string_operators_conform() {
    run_table(&string_cases());
}

#[test]
fn typed_operators_conform() {
    run_table(&typed_cases());
}

/// The number of rows in this file's tables.
pub(crate) fn operator_case_count() -> usize {
    string_cases().len() + typed_cases().len()
}
