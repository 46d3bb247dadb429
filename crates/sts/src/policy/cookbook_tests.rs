//! Keeps `docs/trust-policies.md` true: every ```` ```json policy=NAME ```` block of the cookbook
//! is parsed, evaluated against realistic CircleCI tokens (V1 and V2, allowed and denied) and
//! linted, and every quoted lint output (```` ```text lint=NAME ````) and explanation
//! (```` ```text explain=NAME/CASE ````) must equal what the engine prints today.

use std::collections::BTreeSet;

use serde_json::json;

use super::test_support::{OTHER_PROJECT, PROJECT, Token, parse, sub_v1, sub_v2};
use super::{Decision, Effect, HintCode, evaluate};
use crate::lint::{lint_report, render_findings};

/// The cookbook, read at compile time so the test always sees the committed text.
const COOKBOOK: &str = include_str!("../../../../docs/trust-policies.md");

/// What the cookbook's blocks are, by the tag in their info string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    /// ```` ```json policy=NAME ````: a trust policy.
    Policy,
    /// ```` ```text lint=NAME ````: the rendered lint findings of policy NAME.
    Lint,
    /// ```` ```text explain=NAME/CASE ````: the rendered decision for policy NAME and token CASE.
    Explain,
}

/// One tagged fenced block of the cookbook.
#[derive(Debug, Clone)]
struct Block {
    kind: BlockKind,
    name: String,
    body: String,
}

/// Every fenced block whose info string carries `policy=`, `lint=` or `explain=`.
fn tagged_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for inner in lines.by_ref() {
            if inner == "```" {
                break;
            }
            body.push_str(inner);
            body.push('\n');
        }
        let tag = info.split_whitespace().find_map(|word| {
            let (tag, name) = word.split_once('=')?;
            let kind = match tag {
                "policy" => BlockKind::Policy,
                "lint" => BlockKind::Lint,
                "explain" => BlockKind::Explain,
                _ => return None,
            };
            Some((kind, name.to_owned()))
        });
        if let Some((kind, name)) = tag {
            blocks.push(Block { kind, name, body });
        }
    }
    blocks
}

/// Claims every realistic 2026 token carries besides the fixture's.
fn realistic(token: Token) -> Token {
    token
        .with(
            "oidc.circleci.com/job-id",
            json!("0e1d2c3b-4a59-4867-9564-738291a0b1c2"),
        )
        .with(
            "oidc.circleci.com/workflow-id",
            json!("2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f0"),
        )
        .with(
            "oidc.circleci.com/pipeline-id",
            json!("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
        )
        .with(
            "oidc.circleci.com/pipeline-definition-id",
            json!("4c5d6e7f-8091-4a2b-bc3d-4e5f60718293"),
        )
        .with("oidc.circleci.com/ssh-rerun", json!(false))
}

/// A V2 token of `project` from `origin` at `reference`, claims consistent with the `sub`.
fn v2_token(project: &str, origin: &str, reference: &str) -> Token {
    realistic(Token::for_subject(project, sub_v2(project, origin, reference)))
        .with("oidc.circleci.com/vcs-origin", json!(origin))
        .with("oidc.circleci.com/vcs-ref", json!(reference))
}

/// The token a case name stands for.
fn token(case: &str) -> Token {
    match case {
        "widgets-v1" => realistic(Token::for_subject(PROJECT, sub_v1(PROJECT))),
        "widgets-v2-main" => v2_token(PROJECT, "github.com/acme/widgets", "refs/heads/main"),
        "widgets-v2-feature" => v2_token(
            PROJECT,
            "github.com/acme/widgets",
            "refs/heads/feature/login",
        ),
        "widgets-v2-ssh-rerun" => {
            v2_token(PROJECT, "github.com/acme/widgets", "refs/heads/main")
                .with("oidc.circleci.com/ssh-rerun", json!(true))
        }
        "fork-v2" => v2_token(PROJECT, "github.com/someone/widgets", "refs/heads/pull/42"),
        "gadgets-v1" => realistic(Token::for_subject(OTHER_PROJECT, sub_v1(OTHER_PROJECT)))
            .with(
                "oidc.circleci.com/vcs-origin",
                json!("github.com/acme/gadgets"),
            ),
        "gadgets-v2-main" => v2_token(
            OTHER_PROJECT,
            "github.com/acme/gadgets",
            "refs/heads/main",
        ),
        other => panic!("no token named {other:?}"),
    }
}

/// What a policy does with one token.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Statement 0 applies and decides; every condition held.
    Allowed,
    /// Implicit deny: statement 0 is blocked at condition `.0` (operator `.1`, key ending in
    /// `:.2`), with exactly these hints.
    BlockedAt(usize, &'static str, &'static str, &'static [HintCode]),
    /// Implicit deny: statement 0 does not name the requester's provider; exactly these hints.
    PrincipalNotTrusted(&'static [HintCode]),
}

/// One policy of the cookbook: what each token gets, and lint's `(type, code)` findings.
struct Recipe {
    policy: &'static str,
    cases: &'static [(&'static str, Outcome)],
    lint: &'static [(&'static str, &'static str)],
}

use HintCode::{
    AudienceNotInProvider, CaseMismatch, ConditionKeyOtherProvider, PrincipalOtherProvider,
    StringEqualsWithWildcard, SubV1WhereV2Expected, SubV2WhereV1Expected,
    UnsupportedConditionKey,
};
use Outcome::{Allowed, BlockedAt, PrincipalNotTrusted};

/// Every policy of the cookbook and what the cookbook says about it.
const RECIPES: &[Recipe] = &[
    Recipe {
        policy: "project-id",
        cases: &[
            ("widgets-v1", Allowed),
            ("widgets-v2-main", Allowed),
            ("widgets-v2-feature", Allowed),
            (
                "gadgets-v2-main",
                BlockedAt(1, "StringEquals", "oidc.circleci.com/project-id", &[]),
            ),
            (
                "gadgets-v1",
                BlockedAt(1, "StringEquals", "oidc.circleci.com/project-id", &[]),
            ),
            ("fork-v2", Allowed),
        ],
        lint: &[],
    },
    Recipe {
        policy: "project-sub",
        cases: &[
            ("widgets-v1", Allowed),
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", BlockedAt(1, "StringLike", "sub", &[])),
            ("gadgets-v1", BlockedAt(1, "StringLike", "sub", &[])),
            ("fork-v2", Allowed),
        ],
        lint: &[],
    },
    Recipe {
        policy: "branch-main",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("widgets-v2-feature", BlockedAt(1, "StringLike", "sub", &[])),
            ("fork-v2", BlockedAt(1, "StringLike", "sub", &[])),
            (
                "widgets-v1",
                BlockedAt(1, "StringLike", "sub", &[SubV1WhereV2Expected]),
            ),
            ("gadgets-v2-main", BlockedAt(1, "StringLike", "sub", &[])),
        ],
        lint: &[],
    },
    Recipe {
        policy: "branch-any-project",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", Allowed),
            ("fork-v2", BlockedAt(1, "StringLike", "sub", &[])),
            (
                "widgets-v1",
                BlockedAt(1, "StringLike", "sub", &[SubV1WhereV2Expected]),
            ),
        ],
        lint: &[("SECURITY_WARNING", "WILDCARD_PROJECT_IN_SUB")],
    },
    Recipe {
        policy: "branch-main-project-id",
        cases: &[
            ("widgets-v2-main", Allowed),
            (
                "gadgets-v2-main",
                BlockedAt(1, "StringEquals", "oidc.circleci.com/project-id", &[]),
            ),
            ("widgets-v2-feature", BlockedAt(2, "StringLike", "sub", &[])),
            ("fork-v2", BlockedAt(2, "StringLike", "sub", &[])),
        ],
        lint: &[],
    },
    Recipe {
        policy: "sub-v1-exact",
        cases: &[
            ("widgets-v1", Allowed),
            (
                "widgets-v2-main",
                BlockedAt(1, "StringEquals", "sub", &[SubV2WhereV1Expected]),
            ),
        ],
        lint: &[("WARNING", "SUBJECT_PINNED_TO_USER")],
    },
    Recipe {
        policy: "ssh-rerun-bool",
        cases: &[
            (
                "widgets-v2-main",
                BlockedAt(
                    2,
                    "Bool",
                    "oidc.circleci.com/ssh-rerun",
                    &[UnsupportedConditionKey],
                ),
            ),
            (
                "widgets-v2-ssh-rerun",
                BlockedAt(
                    2,
                    "Bool",
                    "oidc.circleci.com/ssh-rerun",
                    &[UnsupportedConditionKey],
                ),
            ),
        ],
        lint: &[("WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "ssh-rerun-if-exists",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("widgets-v2-ssh-rerun", Allowed),
        ],
        lint: &[("SECURITY_WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "mistake-string-equals-wildcard",
        cases: &[
            (
                "widgets-v1",
                BlockedAt(1, "StringEquals", "sub", &[StringEqualsWithWildcard]),
            ),
            (
                "widgets-v2-main",
                BlockedAt(1, "StringEquals", "sub", &[StringEqualsWithWildcard]),
            ),
        ],
        lint: &[("WARNING", "STRING_EQUALS_WITH_WILDCARD")],
    },
    Recipe {
        policy: "mistake-case",
        cases: &[
            ("widgets-v1", BlockedAt(1, "StringLike", "sub", &[CaseMismatch])),
            (
                "widgets-v2-main",
                BlockedAt(1, "StringLike", "sub", &[CaseMismatch]),
            ),
        ],
        lint: &[],
    },
    Recipe {
        policy: "mistake-aud-sts",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(0, "StringEquals", "aud", &[AudienceNotInProvider]),
        )],
        lint: &[("WARNING", "CIRCLECI_AUDIENCE_NOT_ORG_ID")],
    },
    Recipe {
        policy: "mistake-vcs-origin",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(
                2,
                "StringEquals",
                "oidc.circleci.com/vcs-origin",
                &[UnsupportedConditionKey],
            ),
        )],
        lint: &[("WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "mistake-context-ids",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(
                2,
                "ForAnyValue:StringEquals",
                "oidc.circleci.com/context-ids",
                &[UnsupportedConditionKey],
            ),
        )],
        lint: &[("WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "mistake-other-org-principal",
        cases: &[(
            "widgets-v2-main",
            PrincipalNotTrusted(&[PrincipalOtherProvider]),
        )],
        lint: &[
            ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
            ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
            ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
            ("SUGGESTION", "MISSING_AUDIENCE_CONDITION"),
        ],
    },
    Recipe {
        policy: "mistake-https-key",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(0, "StringEquals", "aud", &[ConditionKeyOtherProvider]),
        )],
        lint: &[
            ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
            ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
            ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
            ("SUGGESTION", "MISSING_AUDIENCE_CONDITION"),
        ],
    },
    Recipe {
        policy: "mistake-aud-only",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", Allowed),
            ("gadgets-v1", Allowed),
        ],
        lint: &[
            ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
            ("SECURITY_WARNING", "AUDIENCE_ONLY_TRUST"),
        ],
    },
];

/// The policy text of the cookbook block `name`.
fn policy_text(name: &str) -> String {
    let matching: Vec<Block> = tagged_blocks(COOKBOOK)
        .into_iter()
        .filter(|block| block.kind == BlockKind::Policy && block.name == name)
        .collect();
    assert_eq!(matching.len(), 1, "policy={name} blocks in the cookbook");
    matching[0].body.clone()
}

/// The recipe for `name`.
fn recipe(name: &str) -> &'static Recipe {
    RECIPES
        .iter()
        .find(|recipe| recipe.policy == name)
        .unwrap_or_else(|| panic!("the cookbook has policy={name} but the test has no recipe"))
}

/// Evaluates policy `name` for token `case`.
fn decide(name: &str, case: &str) -> Decision {
    evaluate(&parse(&policy_text(name)), &token(case).context())
}

/// Checks one case; `Err` says what differs.
fn check_case(name: &str, case: &str, outcome: Outcome) -> Result<(), String> {
    let decision = decide(name, case);
    let codes: BTreeSet<&str> = decision.hints.iter().map(|hint| hint.code.as_str()).collect();
    let expect_codes = |expected: &[HintCode]| -> Result<(), String> {
        let wanted: BTreeSet<&str> = expected.iter().map(|code| code.as_str()).collect();
        if codes == wanted {
            Ok(())
        } else {
            Err(format!("hints {codes:?}, expected {wanted:?}"))
        }
    };
    let result = match outcome {
        Allowed => {
            let all_held = decision.statements[0]
                .conditions
                .iter()
                .all(|condition| condition.result);
            if decision.effect != Effect::Allow || decision.decisive_statement != Some(0) {
                Err(format!("{:?}, expected Allow by statement 0", decision.effect))
            } else if !all_held {
                Err("allowed, yet a condition of statement 0 failed".to_owned())
            } else {
                expect_codes(&[])
            }
        }
        BlockedAt(condition, operator, claim, hints) => {
            let blocking = decision.blocking_condition();
            if decision.effect != Effect::ImplicitDeny || blocking != Some((0, condition)) {
                Err(format!(
                    "{:?} blocked at {blocking:?}, expected ImplicitDeny at (0, {condition})",
                    decision.effect
                ))
            } else {
                let evaluated = &decision.statements[0].conditions[condition];
                let key_suffix = format!(":{claim}");
                if evaluated.operator != operator || !evaluated.key.ends_with(&key_suffix) {
                    Err(format!(
                        "blocked by {} {}, expected {operator} …{key_suffix}",
                        evaluated.operator, evaluated.key
                    ))
                } else {
                    expect_codes(hints)
                }
            }
        }
        PrincipalNotTrusted(hints) => {
            if decision.effect != Effect::ImplicitDeny || decision.statements[0].principal.matched
            {
                Err(format!(
                    "{:?}, expected an implicit deny at the principal",
                    decision.effect
                ))
            } else {
                expect_codes(hints)
            }
        }
    };
    result.map_err(|why| format!("{name} × {case}: {why}\n{}", decision.render_text()))
}

#[test]
fn the_cookbook_and_the_recipes_name_the_same_policies() {
    let blocks = tagged_blocks(COOKBOOK);
    let in_doc: Vec<&str> = blocks
        .iter()
        .filter(|block| block.kind == BlockKind::Policy)
        .map(|block| block.name.as_str())
        .collect();
    let unique: BTreeSet<&str> = in_doc.iter().copied().collect();
    assert_eq!(unique.len(), in_doc.len(), "a policy name is used twice");
    let in_test: BTreeSet<&str> = RECIPES.iter().map(|recipe| recipe.policy).collect();
    assert_eq!(unique, in_test);
    for block in &blocks {
        let policy = block.name.split('/').next().unwrap_or_default();
        assert!(
            unique.contains(policy),
            "{:?} block {} names no policy of the cookbook",
            block.kind,
            block.name
        );
    }
}

#[test]
fn every_cookbook_policy_is_accepted_by_iam() {
    for recipe in RECIPES {
        parse(&policy_text(recipe.policy));
    }
}

#[test]
fn every_cookbook_policy_decides_as_the_cookbook_says() {
    let failures: Vec<String> = RECIPES
        .iter()
        .flat_map(|recipe| {
            recipe
                .cases
                .iter()
                .filter_map(|(case, outcome)| check_case(recipe.policy, case, *outcome).err())
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_cookbook_policy_lints_as_the_cookbook_says() {
    let mut failures = Vec::new();
    for recipe in RECIPES {
        let findings = lint_report(&policy_text(recipe.policy));
        let mut actual: Vec<(&str, &str)> = findings
            .iter()
            .map(|finding| (finding.finding_type.as_str(), finding.issue_code.as_str()))
            .collect();
        let mut expected = recipe.lint.to_vec();
        actual.sort_unstable();
        expected.sort_unstable();
        if actual != expected {
            failures.push(format!(
                "{}: lint found\n{}",
                recipe.policy,
                render_findings(&findings)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn policies_with_findings_quote_them_and_the_quotes_are_exact() {
    let blocks = tagged_blocks(COOKBOOK);
    let mut failures = Vec::new();
    for recipe in RECIPES {
        let quoted: Vec<&Block> = blocks
            .iter()
            .filter(|block| block.kind == BlockKind::Lint && block.name == recipe.policy)
            .collect();
        let rendered = render_findings(&lint_report(&policy_text(recipe.policy)));
        let quoted_text = quoted.first().map(|block| block.body.as_str());
        let wanted = (!rendered.is_empty()).then_some(rendered.as_str());
        if quoted.len() > 1 || quoted_text != wanted {
            failures.push(format!(
                "```text lint={} should read (no block when empty):\n{rendered}```",
                recipe.policy
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn quoted_explanations_are_exact_and_of_tested_cases() {
    let mut failures = Vec::new();
    for block in tagged_blocks(COOKBOOK) {
        if block.kind != BlockKind::Explain {
            continue;
        }
        let Some((name, case)) = block.name.split_once('/') else {
            failures.push(format!("explain={} is not NAME/CASE", block.name));
            continue;
        };
        let tested = recipe(name).cases.iter().any(|(tested, _)| *tested == case);
        let rendered = decide(name, case).render_text();
        if !tested || block.body != rendered {
            failures.push(format!(
                "```text explain={name}/{case} (a tested case: {tested}) should read:\n{rendered}```"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_block_reader_finds_tags_and_bodies() {
    let markdown = "text\n```json policy=one\n{\"a\": 1}\n```\n```rust\nfn main() {}\n```\n```text lint=one\nERROR X $: y\n```\n```text explain=one/case\n```\n";
    let blocks = tagged_blocks(markdown);
    let summary: Vec<(BlockKind, &str, &str)> = blocks
        .iter()
        .map(|block| (block.kind, block.name.as_str(), block.body.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (BlockKind::Policy, "one", "{\"a\": 1}\n"),
            (BlockKind::Lint, "one", "ERROR X $: y\n"),
            (BlockKind::Explain, "one/case", ""),
        ]
    );
}
