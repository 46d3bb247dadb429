//! Conformance table, part 4: policy variables (§4.4): substitution, case-insensitive names,
//! absent keys, defaults, the 2008-10-17 literal rule and the `${*}`/`${?}`/`${$}` escapes.

use serde_json::json;

use super::test_support::{
    Case, Expect, ORG, OTHER_PROJECT, PROJECT, Token, allow_one, case, condition, key,
    provider_url, run_table, statement, sub_v1,
};

use Expect::{Allow, BlockedBy};

/// Policy variables (§4.4).
fn variable_cases() -> Vec<Case> {
    let sub = || key("sub");
    let project_variable = format!("${{{}}}", key("oidc.circleci.com/project-id"));
    let by_variable = format!("org/{ORG}/project/{project_variable}/user/*");
    let mismatched = Token::for_subject(PROJECT, sub_v1(OTHER_PROJECT)).context();
    let version_2008 = json!({"Version": "2008-10-17", "Statement": statement("Allow", condition(&[("StringLike", sub(), json!(by_variable))]))}).to_string();
    let session = |name: &str| {
        let mut context = Token::v1().context();
        if let Some(entry) = context
            .entries
            .iter_mut()
            .find(|entry| entry.key == "sts:RoleSessionName")
        {
            entry.values = vec![name.to_owned()];
        }
        context
    };
    vec![
        case(
            "a variable substitutes the project id",
            allow_one("StringLike", sub(), json!(by_variable)),
            Token::v1().context(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "a substituted variable still has to match",
            allow_one("StringLike", sub(), json!(by_variable)),
            mismatched,
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "variable names are case-insensitive",
            allow_one(
                "StringEquals",
                key("aud"),
                json!(format!("${{{}}}", key("AUD").to_uppercase())),
            ),
            Token::v1().context(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "a variable naming an absent key makes the condition false",
            allow_one(
                "StringLike",
                sub(),
                json!(format!("${{{}}}/*", key("oidc.circleci.com/vcs-origin"))),
            ),
            Token::v2("refs/heads/main").context(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "an absent variable is false even under a negated operator",
            allow_one(
                "StringNotEquals",
                sub(),
                json!(format!("${{{}}}", key("amr"))),
            ),
            Token::v1().context(),
            BlockedBy(0, 0, "StringNotEquals"),
        ),
        case(
            "a variable default stands in for an absent key",
            allow_one(
                "StringEquals",
                "sts:RoleSessionName".into(),
                json!(format!("${{{}, 'deploy'}}", key("amr"))),
            ),
            Token::v1().context(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "with Version 2008-10-17 a variable is literal text",
            version_2008,
            Token::v1().context(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "${*} is a literal asterisk in StringLike",
            allow_one(
                "StringLike",
                "sts:RoleSessionName".into(),
                json!("deploy${*}"),
            ),
            session("deploy*"),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "${*} does not act as a wildcard",
            allow_one(
                "StringLike",
                "sts:RoleSessionName".into(),
                json!("deploy${*}"),
            ),
            session("deploy-prod"),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "${?} and ${$} are literal characters",
            allow_one(
                "StringEquals",
                "sts:RoleSessionName".into(),
                json!("a${?}b${$}"),
            ),
            session("a?b$"),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "a variable in Bool is substituted",
            allow_one(
                "Bool",
                "sts:RoleSessionName".into(),
                json!(format!("${{{}}}", "sts:RoleSessionName")),
            ),
            session("true"),
            Allow(0, Some((0, "Bool"))),
        ),
        case(
            "the provider URL in keys may be written in any case",
            allow_one(
                "StringEquals",
                format!("{}:sub", provider_url().to_uppercase()),
                json!(sub_v1(PROJECT)),
            ),
            Token::v1().context(),
            Allow(0, Some((0, "StringEquals"))),
        ),
    ]
}

#[test]
fn policy_variables_conform() {
    run_table(&variable_cases());
}

/// The number of rows in this file's table.
pub(crate) fn variable_case_count() -> usize {
    variable_cases().len()
}
