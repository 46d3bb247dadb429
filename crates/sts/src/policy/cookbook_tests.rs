//! Keeps `docs/trust-policies.md` true: every ```` ```json policy=NAME ```` block of the cookbook
//! is parsed, evaluated against realistic CircleCI tokens (V1 and V2, allowed and denied) and
//! linted, and every quoted lint output (```` ```text lint=NAME ````) and explanation
//! (```` ```text explain=NAME/CASE ````) must equal what the engine prints today.

use std::collections::BTreeSet;

use serde_json::json;

use super::test_support::{OTHER_PROJECT, PROJECT, Token, parse, sub_v1, sub_v2};
use super::{Decision, Effect, HintCode, evaluate};
use crate::lint::{lint_report, render_findings};

/// Claims named in the recipes (AWS keys are `<provider>:<claim>`).
const PROJECT_ID: &str = "oidc.circleci.com/project-id";
const SSH_RERUN: &str = "oidc.circleci.com/ssh-rerun";
const VCS_ORIGIN: &str = "oidc.circleci.com/vcs-origin";
const CONTEXT_IDS: &str = "oidc.circleci.com/context-ids";

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

/// Claims every realistic 2026 token carries besides the fixture's (circleci-oidc §1.5).
const EXTRA_CLAIMS: [(&str, &str); 4] = [
    ("job-id", "0e1d2c3b-4a59-4867-9564-738291a0b1c2"),
    ("workflow-id", "2b3c4d5e-6f70-4182-9394-a5b6c7d8e9f0"),
    ("pipeline-id", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
    (
        "pipeline-definition-id",
        "4c5d6e7f-8091-4a2b-bc3d-4e5f60718293",
    ),
];

/// `token` with the 2026 claims and `ssh-rerun: false`.
fn realistic(token: Token) -> Token {
    EXTRA_CLAIMS
        .iter()
        .fold(token, |token, (claim, id)| {
            token.with(&format!("oidc.circleci.com/{claim}"), json!(id))
        })
        .with(SSH_RERUN, json!(false))
}

/// A V2 token of `project` from `origin` at `reference`, claims consistent with the `sub`.
fn v2_token(project: &str, origin: &str, reference: &str) -> Token {
    realistic(Token::for_subject(
        project,
        sub_v2(project, origin, reference),
    ))
    .with(VCS_ORIGIN, json!(origin))
    .with("oidc.circleci.com/vcs-ref", json!(reference))
}

/// Where project `widgets` lives (the fixture's `vcs-origin`).
const WIDGETS_REPO: &str = "github.com/acme/widgets";

/// The token a case name stands for.
fn token(case: &str) -> Token {
    match case {
        "widgets-v1" => realistic(Token::for_subject(PROJECT, sub_v1(PROJECT))),
        "widgets-v2-main" => v2_token(PROJECT, WIDGETS_REPO, "refs/heads/main"),
        "widgets-v2-feature" => v2_token(PROJECT, WIDGETS_REPO, "refs/heads/feature/login"),
        "widgets-v2-ssh-rerun" => {
            v2_token(PROJECT, WIDGETS_REPO, "refs/heads/main").with(SSH_RERUN, json!(true))
        }
        "fork-v2" => v2_token(PROJECT, "github.com/someone/widgets", "refs/heads/pull/42"),
        "gadgets-v1" => realistic(Token::for_subject(OTHER_PROJECT, sub_v1(OTHER_PROJECT)))
            .with(VCS_ORIGIN, json!("github.com/acme/gadgets")),
        "gadgets-v2-main" => v2_token(OTHER_PROJECT, "github.com/acme/gadgets", "refs/heads/main"),
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
    StringEqualsWithWildcard, SubV1WhereV2Expected, SubV2WhereV1Expected, UnsupportedConditionKey,
};
use Outcome::{Allowed, BlockedAt, PrincipalNotTrusted};

/// Hint sets the recipes expect.
const NO_HINT: &[HintCode] = &[];
const V1_WHERE_V2: &[HintCode] = &[SubV1WhereV2Expected];
const V2_WHERE_V1: &[HintCode] = &[SubV2WhereV1Expected];
const UNSUPPORTED: &[HintCode] = &[UnsupportedConditionKey];
const WILDCARD: &[HintCode] = &[StringEqualsWithWildcard];
const CASE: &[HintCode] = &[CaseMismatch];

/// Where the project restrictions deny: the `project-id` or the `sub` condition (index 1).
const AT_PROJECT_ID: Outcome = BlockedAt(1, "StringEquals", PROJECT_ID, NO_HINT);
const AT_SUB: Outcome = BlockedAt(1, "StringLike", "sub", NO_HINT);
/// A blocking `Bool` on `ssh-rerun`, a claim AWS does not expose.
const AT_SSH_RERUN: Outcome = BlockedAt(2, "Bool", SSH_RERUN, UNSUPPORTED);
/// The findings of a policy whose keys name a provider the statement does not trust.
const OTHER_PROVIDER_FINDINGS: &[(&str, &str)] = &[
    ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
    ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
    ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
    ("SUGGESTION", "MISSING_AUDIENCE_CONDITION"),
];

/// Every policy of the cookbook and what the cookbook says about it.
const RECIPES: &[Recipe] = &[
    Recipe {
        policy: "project-id",
        cases: &[
            ("widgets-v1", Allowed),
            ("widgets-v2-main", Allowed),
            ("widgets-v2-feature", Allowed),
            ("gadgets-v2-main", AT_PROJECT_ID),
            ("gadgets-v1", AT_PROJECT_ID),
            ("fork-v2", Allowed),
        ],
        lint: &[],
    },
    Recipe {
        policy: "project-sub",
        cases: &[
            ("widgets-v1", Allowed),
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", AT_SUB),
            ("gadgets-v1", AT_SUB),
            ("fork-v2", Allowed),
        ],
        lint: &[],
    },
    Recipe {
        policy: "branch-main",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("widgets-v2-feature", AT_SUB),
            ("fork-v2", AT_SUB),
            ("widgets-v1", BlockedAt(1, "StringLike", "sub", V1_WHERE_V2)),
            ("gadgets-v2-main", AT_SUB),
        ],
        lint: &[],
    },
    Recipe {
        policy: "branch-any-project",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", Allowed),
            ("fork-v2", AT_SUB),
            ("widgets-v1", BlockedAt(1, "StringLike", "sub", V1_WHERE_V2)),
        ],
        lint: &[("SECURITY_WARNING", "WILDCARD_PROJECT_IN_SUB")],
    },
    Recipe {
        policy: "branch-main-project-id",
        cases: &[
            ("widgets-v2-main", Allowed),
            ("gadgets-v2-main", AT_PROJECT_ID),
            (
                "widgets-v2-feature",
                BlockedAt(2, "StringLike", "sub", NO_HINT),
            ),
            ("fork-v2", BlockedAt(2, "StringLike", "sub", NO_HINT)),
        ],
        lint: &[],
    },
    Recipe {
        policy: "sub-v1-exact",
        cases: &[
            ("widgets-v1", Allowed),
            (
                "widgets-v2-main",
                BlockedAt(1, "StringEquals", "sub", V2_WHERE_V1),
            ),
        ],
        lint: &[("WARNING", "SUBJECT_PINNED_TO_USER")],
    },
    Recipe {
        policy: "ssh-rerun-bool",
        cases: &[
            ("widgets-v2-main", AT_SSH_RERUN),
            ("widgets-v2-ssh-rerun", AT_SSH_RERUN),
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
            ("widgets-v1", BlockedAt(1, "StringEquals", "sub", WILDCARD)),
            (
                "widgets-v2-main",
                BlockedAt(1, "StringEquals", "sub", WILDCARD),
            ),
        ],
        lint: &[("WARNING", "STRING_EQUALS_WITH_WILDCARD")],
    },
    Recipe {
        policy: "mistake-case",
        cases: &[
            ("widgets-v1", BlockedAt(1, "StringLike", "sub", CASE)),
            ("widgets-v2-main", BlockedAt(1, "StringLike", "sub", CASE)),
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
            BlockedAt(2, "StringEquals", VCS_ORIGIN, UNSUPPORTED),
        )],
        lint: &[("WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "mistake-context-ids",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(2, "ForAnyValue:StringEquals", CONTEXT_IDS, UNSUPPORTED),
        )],
        lint: &[("WARNING", "UNSUPPORTED_CONDITION_KEY")],
    },
    Recipe {
        policy: "mistake-other-org-principal",
        cases: &[(
            "widgets-v2-main",
            PrincipalNotTrusted(&[PrincipalOtherProvider]),
        )],
        lint: OTHER_PROVIDER_FINDINGS,
    },
    Recipe {
        policy: "mistake-https-key",
        cases: &[(
            "widgets-v2-main",
            BlockedAt(0, "StringEquals", "aud", &[ConditionKeyOtherProvider]),
        )],
        lint: OTHER_PROVIDER_FINDINGS,
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

/// Checks one case: the effect, what decided it, and exactly the expected hint codes.
fn check_case(name: &str, case: &str, outcome: Outcome) -> Result<(), String> {
    let decision = decide(name, case);
    let fail = |why: String| -> Result<(), String> {
        Err(format!(
            "{name} × {case}: {why}\n{}",
            decision.render_text()
        ))
    };
    let (effect, hints) = match outcome {
        Allowed => (Effect::Allow, NO_HINT),
        BlockedAt(.., hints) | PrincipalNotTrusted(hints) => (Effect::ImplicitDeny, hints),
    };
    if decision.effect != effect {
        return fail(format!("{:?}, expected {effect:?}", decision.effect));
    }
    let first = &decision.statements[0];
    let decided_as_expected = match outcome {
        Allowed => {
            decision.decisive_statement == Some(0)
                && first.conditions.iter().all(|condition| condition.result)
        }
        BlockedAt(condition, operator, claim, _) => {
            decision.blocking_condition() == Some((0, condition)) && {
                let evaluated = &first.conditions[condition];
                evaluated.operator == operator && evaluated.key.ends_with(&format!(":{claim}"))
            }
        }
        PrincipalNotTrusted(_) => !first.principal.matched,
    };
    if !decided_as_expected {
        return fail(format!("not decided as {outcome:?}"));
    }
    let codes: BTreeSet<&str> = decision
        .hints
        .iter()
        .map(|hint| hint.code.as_str())
        .collect();
    let wanted: BTreeSet<&str> = hints.iter().map(|code| code.as_str()).collect();
    if codes != wanted {
        return fail(format!("hints {codes:?}, expected {wanted:?}"));
    }
    Ok(())
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
    for name in unique.iter().copied() {
        parse(&policy_text(name)); // IAM accepts it: parse panics on a MalformedPolicyDocument.
    }
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
fn every_cookbook_policy_lints_as_the_cookbook_says_and_quotes_it_exactly() {
    let blocks = tagged_blocks(COOKBOOK);
    let mut failures = Vec::new();
    for recipe in RECIPES {
        let findings = lint_report(&policy_text(recipe.policy));
        let rendered = render_findings(&findings);
        let mut actual: Vec<(&str, &str)> = findings
            .iter()
            .map(|finding| (finding.finding_type.as_str(), finding.issue_code.as_str()))
            .collect();
        let mut expected = recipe.lint.to_vec();
        actual.sort_unstable();
        expected.sort_unstable();
        if actual != expected {
            failures.push(format!("{}: lint found\n{rendered}", recipe.policy));
        }
        // A policy with findings quotes them in one block; a clean one has none.
        let quoted: Vec<&str> = blocks
            .iter()
            .filter(|block| block.kind == BlockKind::Lint && block.name == recipe.policy)
            .map(|block| block.body.as_str())
            .collect();
        let wanted: Vec<&str> = [rendered.as_str()]
            .into_iter()
            .filter(|text| !text.is_empty())
            .collect();
        if quoted != wanted {
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
