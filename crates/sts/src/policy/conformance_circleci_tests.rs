//! Conformance table, part 3: CircleCI's documented trust policies with V1 and V2 subjects
//! (`spec/circleci-oidc.md` §1.6, §1.10), unsupported claims, explicit Deny precedence,
//! Principal and Action matching (§4.2).

use serde_json::json;

use super::test_support::{
    Case, Expect, ORG, OTHER_PROJECT, PROJECT, Token, allow_one, case, condition, document, key,
    provider_arn, run_table, statement, sub_v1, sub_v2,
};

use Expect::{ActionMismatch, Allow, BlockedBy, ExplicitDeny, PrincipalMismatch};

/// circleci-oidc §1.10 option 2: `org/<org>/project/<project>/user/*`.
fn project_pattern() -> String {
    format!("org/{ORG}/project/{PROJECT}/user/*")
}

/// circleci-oidc §1.10 branch restriction (V2 subject).
fn branch_pattern() -> String {
    format!("org/{ORG}/project/*/user/*/vcs-origin/github.com/acme/*/vcs-ref/refs/heads/main")
}

/// CircleCI subjects against CircleCI's documented patterns.
fn circleci_cases() -> Vec<Case> {
    let sub = || key("sub");
    let other_project_v1 = || Token::for_subject(OTHER_PROJECT, sub_v1(OTHER_PROJECT)).context();
    let from_origin = |origin: &str, reference: &str| {
        Token::for_subject(PROJECT, sub_v2(PROJECT, origin, reference)).context()
    };
    vec![
        case(
            "project restriction admits the V1 subject",
            allow_one("StringLike", sub(), json!(project_pattern())),
            Token::v1().context(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "project restriction admits the V2 subject (* crosses /)",
            allow_one("StringLike", sub(), json!(project_pattern())),
            Token::v2("refs/heads/main").context(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "project restriction refuses another project",
            allow_one("StringLike", sub(), json!(project_pattern())),
            other_project_v1(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "project restriction with aud, as documented",
            document(vec![statement(
                "Allow",
                condition(&[
                    ("StringEquals", key("aud"), json!(ORG)),
                    ("StringLike", sub(), json!(project_pattern())),
                ]),
            )]),
            Token::v2("refs/heads/feature").context(),
            Allow(0, Some((1, "StringLike"))),
        ),
        case(
            "branch restriction admits main",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            Token::v2("refs/heads/main").context(),
            Allow(0, Some((0, "StringLike"))),
        ),
        case(
            "branch restriction refuses a feature branch",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            Token::v2("refs/heads/feature").context(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "branch restriction refuses a tag",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            Token::v2("refs/tags/v1.0.0").context(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "branch restriction refuses the V1 subject",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            Token::v1().context(),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "branch restriction refuses a fork's origin",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            from_origin("github.com/mallory/widgets", "refs/heads/main"),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "branch restriction: refs/heads/main-evil does not end in main",
            allow_one("StringLike", sub(), json!(branch_pattern())),
            from_origin("github.com/acme/widgets", "refs/heads/main-evil"),
            BlockedBy(0, 0, "StringLike"),
        ),
        case(
            "an exact V1 subject refuses the V2 token",
            allow_one("StringEquals", sub(), json!(sub_v1(PROJECT))),
            Token::v2("refs/heads/main").context(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "an exact V2 subject admits only that branch",
            allow_one(
                "StringEquals",
                sub(),
                json!(sub_v2(
                    PROJECT,
                    "github.com/acme/widgets",
                    "refs/heads/main"
                )),
            ),
            Token::v2("refs/heads/main").context(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "project-id key (option 1) admits the project",
            allow_one(
                "StringEquals",
                key("oidc.circleci.com/project-id"),
                json!(PROJECT),
            ),
            Token::v2("refs/heads/main").context(),
            Allow(0, Some((0, "StringEquals"))),
        ),
        case(
            "project-id key refuses the other project",
            allow_one(
                "StringEquals",
                key("oidc.circleci.com/project-id"),
                json!(PROJECT),
            ),
            other_project_v1(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "vcs-origin is not a condition key: StringEquals fails closed",
            allow_one(
                "StringEquals",
                key("oidc.circleci.com/vcs-origin"),
                json!("github.com/acme/widgets"),
            ),
            Token::v2("refs/heads/main").context(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "context-ids is not a condition key: ForAnyValue fails closed",
            allow_one(
                "ForAnyValue:StringEquals",
                key("oidc.circleci.com/context-ids"),
                json!("a74579f1-2e7d-451e-b009-5c082ad2729e"),
            ),
            Token::v1().context(),
            BlockedBy(0, 0, "ForAnyValue:StringEquals"),
        ),
        case(
            "vcs-ref is not a condition key: StringNotEquals holds (absent)",
            allow_one(
                "StringNotEquals",
                key("oidc.circleci.com/vcs-ref"),
                json!("refs/heads/main"),
            ),
            Token::v2("refs/heads/main").context(),
            Allow(0, Some((0, "StringNotEquals"))),
        ),
        case(
            "a condition on another org's keys sees nothing",
            allow_one(
                "StringEquals",
                format!("oidc.circleci.com/org/{OTHER_PROJECT}:aud"),
                json!(ORG),
            ),
            Token::v1().context(),
            BlockedBy(0, 0, "StringEquals"),
        ),
        case(
            "sts:RoleSessionName is a key",
            allow_one("StringLike", "sts:RoleSessionName".into(), json!("dep*")),
            Token::v1().context(),
            Allow(0, Some((0, "StringLike"))),
        ),
    ]
}

/// Explicit Deny, Principal and Action.
fn statement_cases() -> Vec<Case> {
    let sub = || key("sub");
    let other_project_v1 = || Token::for_subject(OTHER_PROJECT, sub_v1(OTHER_PROJECT)).context();
    let with_principal = |principal: serde_json::Value| {
        let mut allow = statement("Allow", serde_json::Value::Null);
        allow["Principal"] = principal;
        document(vec![allow])
    };
    let with_action = |element: &str, action: serde_json::Value| {
        let mut allow = statement("Allow", serde_json::Value::Null);
        if let Some(object) = allow.as_object_mut() {
            object.remove("Action");
        }
        allow[element] = action;
        document(vec![allow])
    };
    let deny_project = || {
        statement(
            "Deny",
            condition(&[("StringLike", sub(), json!(project_pattern()))]),
        )
    };
    vec![
        case(
            "a matching Deny wins over an Allow",
            document(vec![
                statement("Allow", serde_json::Value::Null),
                deny_project(),
            ]),
            Token::v1().context(),
            ExplicitDeny(1, Some((0, "StringLike"))),
        ),
        case(
            "a Deny whose condition fails does not apply",
            document(vec![
                deny_project(),
                statement("Allow", serde_json::Value::Null),
            ]),
            other_project_v1(),
            Allow(1, None),
        ),
        case(
            "an unconditional Deny denies",
            document(vec![
                statement("Allow", serde_json::Value::Null),
                statement("Deny", serde_json::Value::Null),
            ]),
            Token::v1().context(),
            ExplicitDeny(1, None),
        ),
        case(
            "a Deny wins even when listed after several Allows",
            document(vec![
                statement("Allow", serde_json::Value::Null),
                statement("Allow", serde_json::Value::Null),
                deny_project(),
            ]),
            Token::v1().context(),
            ExplicitDeny(2, Some((0, "StringLike"))),
        ),
        case(
            "the first applying Allow decides",
            document(vec![
                statement(
                    "Allow",
                    condition(&[("StringEquals", key("aud"), json!("x"))]),
                ),
                statement(
                    "Allow",
                    condition(&[("StringEquals", key("aud"), json!(ORG))]),
                ),
            ]),
            Token::v1().context(),
            Allow(1, Some((0, "StringEquals"))),
        ),
        case(
            "Principal naming another provider does not match",
            with_principal(
                json!({"Federated": format!("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/{OTHER_PROJECT}")}),
            ),
            Token::v1().context(),
            PrincipalMismatch(0),
        ),
        case(
            "Principal Federated array includes the provider",
            with_principal(
                json!({"Federated": ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", provider_arn()]}),
            ),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Principal * matches",
            with_principal(json!("*")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Principal AWS * matches",
            with_principal(json!({"AWS": "*"})),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Principal ARNs are case-sensitive",
            with_principal(
                json!({"Federated": provider_arn().replace("oidc.circleci.com", "OIDC.circleci.com")}),
            ),
            Token::v1().context(),
            PrincipalMismatch(0),
        ),
        case(
            "Principal AWS account does not match a federated user",
            with_principal(json!({"AWS": "arn:aws:iam::123456789012:root"})),
            Token::v1().context(),
            PrincipalMismatch(0),
        ),
        case(
            "Action names are case-insensitive",
            with_action("Action", json!("STS:assumerolewithwebidentity")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "sts:AssumeRole is not AssumeRoleWithWebIdentity",
            with_action("Action", json!("sts:AssumeRole")),
            Token::v1().context(),
            ActionMismatch(0),
        ),
        case(
            "Action sts:* covers it",
            with_action("Action", json!("sts:*")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Action with * in the name covers it",
            with_action("Action", json!("sts:AssumeRoleWith*")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Action with ? covers it",
            with_action("Action", json!("sts:AssumeRoleWith?ebIdentity")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "Action list: one entry covers it",
            with_action(
                "Action",
                json!([
                    "sts:AssumeRole",
                    "sts:AssumeRoleWithWebIdentity",
                    "sts:TagSession"
                ]),
            ),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "NotAction not naming it covers it",
            with_action("NotAction", json!("sts:AssumeRole")),
            Token::v1().context(),
            Allow(0, None),
        ),
        case(
            "NotAction naming it excludes it",
            with_action("NotAction", json!("sts:AssumeRoleWithWebIdentity")),
            Token::v1().context(),
            ActionMismatch(0),
        ),
    ]
}

#[test]
fn circleci_subject_patterns_conform() {
    run_table(&circleci_cases());
}

#[test]
fn deny_principal_and_action_conform() {
    run_table(&statement_cases());
}

#[test]
fn the_conformance_tables_have_at_least_eighty_cases() {
    let total = super::conformance_tests::operator_case_count()
        + circleci_cases().len()
        + statement_cases().len()
        + super::conformance_set_tests::set_case_count()
        + super::conformance_variable_tests::variable_case_count();
    assert!(total >= 80, "only {total} conformance cases");
}
