//! Keeps `docs/trust-policies.md` true: every ```` ```json policy=NAME ```` block of the cookbook
//! is parsed, evaluated against realistic CircleCI tokens (V1 and V2, allowed and denied) and
//! linted, and every quoted lint output (```` ```text lint=NAME ````) and explanation
//! (```` ```text explain=NAME/CASE ````) must equal what the engine prints today. Every issue or
//! hint code the prose names must be one these policies produce. The tagging convention is
//! explained in a comment at the top of the cookbook.

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

impl Outcome {
    /// The hint codes the decision must carry (exactly).
    fn hints(self) -> &'static [HintCode] {
        match self {
            Allowed => NO_HINT,
            BlockedAt(.., hints) | PrincipalNotTrusted(hints) => hints,
        }
    }
}

/// One policy of the cookbook: what each token gets, and lint's `(type, code)` findings.
struct Recipe {
    policy: &'static str,
    lint: &'static [(&'static str, &'static str)],
    cases: &'static [(&'static str, Outcome)],
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
const AUDIENCE: &[HintCode] = &[AudienceNotInProvider];
const SCHEME_IN_KEY: &[HintCode] = &[ConditionKeyOtherProvider];

/// Where the project restrictions deny: the `project-id` or the `sub` condition (index 1).
const AT_PROJECT_ID: Outcome = BlockedAt(1, "StringEquals", PROJECT_ID, NO_HINT);
const AT_SUB: Outcome = BlockedAt(1, "StringLike", "sub", NO_HINT);
/// A blocking `Bool` on `ssh-rerun`, a claim AWS does not expose.
const AT_SSH_RERUN: Outcome = BlockedAt(2, "Bool", SSH_RERUN, UNSUPPORTED);
/// The finding of a positive condition on a claim AWS does not expose.
const NEVER_HOLDS: &[(&str, &str)] = &[("WARNING", "UNSUPPORTED_CONDITION_KEY")];
/// The findings of a policy whose keys name a provider the statement does not trust.
const OTHER_PROVIDER_FINDINGS: &[(&str, &str)] = &[
    ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
    ("WARNING", "CONDITION_KEY_OTHER_PROVIDER"),
    ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
    ("SUGGESTION", "MISSING_AUDIENCE_CONDITION"),
];

/// Every policy of the cookbook and what the cookbook says about it (one line per case).
#[rustfmt::skip]
const RECIPES: &[Recipe] = &[
    Recipe { policy: "project-id", lint: &[], cases: &[
        ("widgets-v1", Allowed),
        ("widgets-v2-main", Allowed),
        ("widgets-v2-feature", Allowed),
        ("gadgets-v2-main", AT_PROJECT_ID),
        ("gadgets-v1", AT_PROJECT_ID),
        ("fork-v2", Allowed),
    ] },
    Recipe { policy: "project-sub", lint: &[], cases: &[
        ("widgets-v1", Allowed),
        ("widgets-v2-main", Allowed),
        ("gadgets-v2-main", AT_SUB),
        ("gadgets-v1", AT_SUB),
        ("fork-v2", Allowed),
    ] },
    Recipe { policy: "branch-main", lint: &[], cases: &[
        ("widgets-v2-main", Allowed),
        ("widgets-v2-feature", AT_SUB),
        ("fork-v2", AT_SUB),
        ("widgets-v1", BlockedAt(1, "StringLike", "sub", V1_WHERE_V2)),
        ("gadgets-v2-main", AT_SUB),
    ] },
    Recipe { policy: "branch-any-project", lint: &[("SECURITY_WARNING", "WILDCARD_PROJECT_IN_SUB")],
      cases: &[
        ("widgets-v2-main", Allowed),
        ("gadgets-v2-main", Allowed),
        ("fork-v2", AT_SUB),
        ("widgets-v1", BlockedAt(1, "StringLike", "sub", V1_WHERE_V2)),
    ] },
    Recipe { policy: "branch-main-project-id", lint: &[], cases: &[
        ("widgets-v2-main", Allowed),
        ("gadgets-v2-main", AT_PROJECT_ID),
        ("widgets-v2-feature", BlockedAt(2, "StringLike", "sub", NO_HINT)),
        ("fork-v2", BlockedAt(2, "StringLike", "sub", NO_HINT)),
    ] },
    Recipe { policy: "sub-v1-exact", lint: &[("WARNING", "SUBJECT_PINNED_TO_USER")], cases: &[
        ("widgets-v1", Allowed),
        ("widgets-v2-main", BlockedAt(1, "StringEquals", "sub", V2_WHERE_V1)),
    ] },
    Recipe { policy: "ssh-rerun-bool", lint: NEVER_HOLDS, cases: &[
        ("widgets-v2-main", AT_SSH_RERUN),
        ("widgets-v2-ssh-rerun", AT_SSH_RERUN),
    ] },
    Recipe { policy: "ssh-rerun-if-exists",
      lint: &[("SECURITY_WARNING", "UNSUPPORTED_CONDITION_KEY")], cases: &[
        ("widgets-v2-main", Allowed),
        ("widgets-v2-ssh-rerun", Allowed),
    ] },
    Recipe { policy: "mistake-string-equals-wildcard",
      lint: &[("WARNING", "STRING_EQUALS_WITH_WILDCARD")], cases: &[
        ("widgets-v1", BlockedAt(1, "StringEquals", "sub", WILDCARD)),
        ("widgets-v2-main", BlockedAt(1, "StringEquals", "sub", WILDCARD)),
    ] },
    Recipe { policy: "mistake-case", lint: &[], cases: &[
        ("widgets-v1", BlockedAt(1, "StringLike", "sub", CASE)),
        ("widgets-v2-main", BlockedAt(1, "StringLike", "sub", CASE)),
    ] },
    Recipe { policy: "mistake-aud-sts",
      lint: &[("WARNING", "CIRCLECI_AUDIENCE_NOT_ORG_ID")], cases: &[
        ("widgets-v2-main", BlockedAt(0, "StringEquals", "aud", AUDIENCE)),
    ] },
    Recipe { policy: "mistake-vcs-origin", lint: NEVER_HOLDS, cases: &[
        ("widgets-v2-main", BlockedAt(2, "StringEquals", VCS_ORIGIN, UNSUPPORTED)),
    ] },
    Recipe { policy: "mistake-context-ids", lint: NEVER_HOLDS, cases: &[
        ("widgets-v2-main", BlockedAt(2, "ForAnyValue:StringEquals", CONTEXT_IDS, UNSUPPORTED)),
    ] },
    Recipe { policy: "mistake-other-org-principal", lint: OTHER_PROVIDER_FINDINGS, cases: &[
        ("widgets-v2-main", PrincipalNotTrusted(&[PrincipalOtherProvider])),
    ] },
    Recipe { policy: "mistake-https-key", lint: OTHER_PROVIDER_FINDINGS, cases: &[
        ("widgets-v2-main", BlockedAt(0, "StringEquals", "aud", SCHEME_IN_KEY)),
    ] },
    Recipe { policy: "mistake-aud-only", lint: &[
        ("SECURITY_WARNING", "NO_PROJECT_RESTRICTION"),
        ("SECURITY_WARNING", "AUDIENCE_ONLY_TRUST"),
      ], cases: &[
        ("widgets-v2-main", Allowed),
        ("gadgets-v2-main", Allowed),
        ("gadgets-v1", Allowed),
    ] },
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
    let effect = match outcome {
        Allowed => Effect::Allow,
        BlockedAt(..) | PrincipalNotTrusted(_) => Effect::ImplicitDeny,
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
    let wanted: BTreeSet<&str> = outcome.hints().iter().map(|code| code.as_str()).collect();
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
                "```text explain={name}/{case} (tested: {tested}) should read:\n{rendered}```"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Backticked words with `_` in the cookbook that are not issue or hint codes.
const NOT_CODES: [&str; 3] = [
    "CIRCLE_OIDC_TOKEN",
    "CIRCLE_OIDC_TOKEN_V2",
    "SECURITY_WARNING",
];

#[test]
fn every_code_the_cookbook_names_is_one_its_policies_produce() {
    let mut produced: BTreeSet<&str> = NOT_CODES.into_iter().collect();
    for recipe in RECIPES {
        produced.extend(recipe.lint.iter().map(|(_, code)| *code));
        for (_, outcome) in recipe.cases {
            produced.extend(outcome.hints().iter().map(|code| code.as_str()));
        }
    }
    // Between two backticks: inline code, or the prose between two inline codes (never a word).
    let unknown: BTreeSet<&str> = COOKBOOK
        .split('`')
        .filter(|word| {
            word.contains('_') && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .filter(|word| !produced.contains(word))
        .collect();
    assert!(
        unknown.is_empty(),
        "codes no cookbook policy produces: {unknown:?}"
    );
}
