//! Conformance table, part 2: the `IfExists` suffix, the `ForAnyValue:`/`ForAllValues:`
//! prefixes and multivalued keys (§4.3). Each row asserts the effect and the deciding condition.

use serde_json::{Value, json};

use super::test_support::{Case, Expect, ORG, Token, allow_one, case, key, run_table};

use Expect::{Allow, BlockedBy};

/// `IfExists`, the set prefixes, and multivalued keys.
fn set_cases() -> Vec<Case> {
    let amr = |values: Value| Token::v1().with("amr", values).context();
    let amr_key = || key("amr");
    vec![
        case(
            "StringEqualsIfExists on an absent key holds",
            allow_one("StringEqualsIfExists", key("amr"), json!("mfa")),
            Token::v1().context(),
            Allow(0, Some((0, "StringEqualsIfExists"))),
        ),
        case(
            "StringEqualsIfExists on a present key compares",
            allow_one("StringEqualsIfExists", key("aud"), json!("other")),
            Token::v1().context(),
            BlockedBy(0, 0, "StringEqualsIfExists"),
        ),
        case(
            "StringLikeIfExists on a present key matches",
            allow_one(
                "StringLikeIfExists",
                key("sub"),
                json!(format!("org/{ORG}/*")),
            ),
            Token::v1().context(),
            Allow(0, Some((0, "StringLikeIfExists"))),
        ),
        case(
            "StringNotEqualsIfExists on a present equal value fails",
            allow_one("StringNotEqualsIfExists", key("aud"), json!(ORG)),
            Token::v1().context(),
            BlockedBy(0, 0, "StringNotEqualsIfExists"),
        ),
        case(
            "ForAnyValue:StringEquals: one request value matches",
            allow_one("ForAnyValue:StringEquals", amr_key(), json!(["mfa"])),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "ForAnyValue:StringEquals"))),
        ),
        case(
            "ForAnyValue:StringEquals: none match",
            allow_one("ForAnyValue:StringEquals", amr_key(), json!(["otp"])),
            amr(json!(["pwd", "mfa"])),
            BlockedBy(0, 0, "ForAnyValue:StringEquals"),
        ),
        case(
            "ForAnyValue on an absent key fails",
            allow_one("ForAnyValue:StringEquals", amr_key(), json!(["mfa"])),
            Token::v1().context(),
            BlockedBy(0, 0, "ForAnyValue:StringEquals"),
        ),
        case(
            "ForAnyValue:StringLike matches a pattern",
            allow_one("ForAnyValue:StringLike", amr_key(), json!("m*")),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "ForAnyValue:StringLike"))),
        ),
        case(
            "ForAnyValue:StringNotEquals holds if one value differs",
            allow_one("ForAnyValue:StringNotEquals", amr_key(), json!("pwd")),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "ForAnyValue:StringNotEquals"))),
        ),
        case(
            "ForAnyValue:StringNotEquals fails if every value is listed",
            allow_one(
                "ForAnyValue:StringNotEquals",
                amr_key(),
                json!(["pwd", "mfa"]),
            ),
            amr(json!(["pwd", "mfa"])),
            BlockedBy(0, 0, "ForAnyValue:StringNotEquals"),
        ),
        case(
            "ForAnyValue:StringEqualsIfExists on an absent key holds",
            allow_one("ForAnyValue:StringEqualsIfExists", amr_key(), json!("mfa")),
            Token::v1().context(),
            Allow(0, Some((0, "ForAnyValue:StringEqualsIfExists"))),
        ),
        case(
            "ForAllValues:StringEquals: every value is listed",
            allow_one(
                "ForAllValues:StringEquals",
                amr_key(),
                json!(["pwd", "mfa", "otp"]),
            ),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "ForAllValues:StringEquals"))),
        ),
        case(
            "ForAllValues:StringEquals: one value is not listed",
            allow_one("ForAllValues:StringEquals", amr_key(), json!(["pwd"])),
            amr(json!(["pwd", "mfa"])),
            BlockedBy(0, 0, "ForAllValues:StringEquals"),
        ),
        case(
            "ForAllValues on an absent key holds (the Allow trap)",
            allow_one("ForAllValues:StringEquals", amr_key(), json!(["pwd"])),
            Token::v1().context(),
            Allow(0, Some((0, "ForAllValues:StringEquals"))),
        ),
        case(
            "ForAllValues on an empty list holds",
            allow_one("ForAllValues:StringEquals", amr_key(), json!(["pwd"])),
            amr(json!([])),
            Allow(0, Some((0, "ForAllValues:StringEquals"))),
        ),
        case(
            "ForAllValues:StringLike: every value matches a pattern",
            allow_one("ForAllValues:StringLike", amr_key(), json!(["p*", "m*"])),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "ForAllValues:StringLike"))),
        ),
        case(
            "a single-valued operator on a multivalued key needs one match",
            allow_one("StringEquals", amr_key(), json!("mfa")),
            amr(json!(["pwd", "mfa"])),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "a negated operator on a multivalued key needs every value unmatched",
            allow_one("StringNotEquals", amr_key(), json!("mfa")),
            amr(json!(["pwd", "mfa"])),
            BlockedBy(0, 0, "StringNotEquals"),
        ),
        case(
            "a JSON string amr is single-valued",
            allow_one("StringEquals", amr_key(), json!("mfa")),
            amr(json!("mfa")),
            Allow(0, Some((0, "StringEquals"))),
        ),
    ]
}

#[test]
fn set_operators_and_if_exists_conform() {
    run_table(&set_cases());
}

/// The number of rows in this file's table.
pub(crate) fn set_case_count() -> usize {
    set_cases().len()
}
