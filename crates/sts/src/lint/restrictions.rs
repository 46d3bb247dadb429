//! Lint checks on what an Allow statement restricts: the subject or project (any project of
//! the org otherwise), the audience, wildcards in the org/project part of a CircleCI `sub`
//! pattern, and exact V1 subjects that V2 tokens never match.

use super::{
    AUDIENCE_ONLY_TRUST, CIRCLECI_AUDIENCE_NOT_ORG_ID, FindingType, MISSING_AUDIENCE_CONDITION,
    NO_PROJECT_RESTRICTION, SUBJECT_PINNED_TO_USER, StatementLinter, WILDCARD_ORG_IN_SUB,
    WILDCARD_PROJECT_IN_SUB, claim_of, without_escapes,
};
use crate::policy::{
    BaseOperator, CIRCLECI_PROJECT_ID_CLAIM, ConditionEntry, SetOperator, is_circleci_provider,
    wildcard_match,
};

/// Whether `entry` restricts its key positively (a match is required to hold).
fn restricts(entry: &ConditionEntry) -> bool {
    let operator = entry.operator;
    !operator.base.is_negated()
        && !operator.if_exists
        && operator.set_operator != Some(SetOperator::ForAllValues)
        && operator.base != BaseOperator::Null
}

/// Subject/project/audience restrictions of an Allow statement for one provider.
pub(super) fn lint_restrictions(linter: &mut StatementLinter<'_>, provider: &str) {
    let statement = linter.statement;
    let claim =
        |entry: &ConditionEntry| claim_of(&entry.key, provider).map(str::to_ascii_lowercase);
    let restricting: Vec<(&ConditionEntry, String)> = statement
        .conditions
        .iter()
        .filter(|entry| restricts(entry))
        .filter_map(|entry| claim(entry).map(|claim| (entry, claim)))
        .collect();
    let is_identity = |claim: &str| claim == "sub" || claim == CIRCLECI_PROJECT_ID_CLAIM;
    let is_audience = |claim: &str| matches!(claim, "aud" | "oaud" | "azp");
    let circleci = is_circleci_provider(provider);
    let has_project_id = restricting
        .iter()
        .any(|(_, claim)| claim == CIRCLECI_PROJECT_ID_CLAIM);
    let location = statement.path.clone();
    if !restricting.iter().any(|(_, claim)| is_identity(claim)) {
        let who = if circleci {
            "any project of the org"
        } else {
            "any identity of the provider"
        };
        linter.report(FindingType::SecurityWarning, NO_PROJECT_RESTRICTION, &location,
            format!("no condition on {provider}:sub or {provider}:{CIRCLECI_PROJECT_ID_CLAIM}, so {who} can assume the role; restrict the sub (StringLike org/<org>/project/<project>/user/*) or the project-id"));
        if !restricting.is_empty() && restricting.iter().all(|(_, claim)| is_audience(claim)) {
            linter.report(FindingType::SecurityWarning, AUDIENCE_ONLY_TRUST, &location,
                "trust rests on the audience alone, which the token's requester can customise (circleci run oidc get --claims '{\"aud\": …}'); it does not identify the project".to_owned());
        }
    }
    if !restricting.iter().any(|(_, claim)| is_audience(claim)) {
        linter.report(FindingType::Suggestion, MISSING_AUDIENCE_CONDITION, &location,
            format!("no condition on {provider}:aud; AWS checks the audience against the provider's client ids, but naming it documents the intent"));
    }
    for (entry, claim) in &restricting {
        if claim == "sub" && circleci && entry.operator.base.uses_wildcards() {
            lint_subject_pattern(linter, entry, has_project_id);
        }
        if claim == "sub" && circleci {
            lint_pinned_subject(linter, entry);
        }
        if claim == "aud" && circleci {
            let org = provider.rsplit('/').next().unwrap_or_default();
            if !entry
                .values
                .iter()
                .any(|value| value == org || wildcard_match(value, org))
            {
                linter.report(FindingType::Warning, CIRCLECI_AUDIENCE_NOT_ORG_ID, &entry.path,
                    format!("CircleCI tokens carry aud = the org id ({org}) unless the job customises it; this condition expects {}", entry.values.join(", ")));
            }
        }
    }
}

/// Wildcards in the org or project segment of a CircleCI `sub` pattern.
fn lint_subject_pattern(
    linter: &mut StatementLinter<'_>,
    entry: &ConditionEntry,
    has_project_id: bool,
) {
    let mut org_wildcard = false;
    let mut project_wildcard = false;
    for value in &entry.values {
        let cleaned = without_escapes(value);
        for (index, segment) in cleaned.split('/').take(4).enumerate() {
            if segment.contains(['*', '?']) {
                if index < 2 {
                    org_wildcard = true;
                } else {
                    project_wildcard = true;
                }
                // A wildcard swallows everything after it, later segments included.
                break;
            }
        }
    }
    if org_wildcard {
        linter.report(FindingType::SecurityWarning, WILDCARD_ORG_IN_SUB, &entry.path,
            "a wildcard in the org part of the sub pattern; name the org id (org/<org-id>/project/…)".to_owned());
    } else if project_wildcard && !has_project_id {
        linter.report(FindingType::SecurityWarning, WILDCARD_PROJECT_IN_SUB, &entry.path,
            "a wildcard in the project part of the sub pattern lets every project of the org assume the role; name the project id, or add a StringEquals on the project-id key".to_owned());
    }
}

/// An exact CircleCI `sub` ending in `/user/<id>`: it admits one user's V1 tokens only.
fn lint_pinned_subject(linter: &mut StatementLinter<'_>, entry: &ConditionEntry) {
    let pinned = entry.values.iter().any(|value| {
        let exact = !without_escapes(value).contains(['*', '?']);
        let user = value.rsplit_once("/user/").map(|(_, user)| user);
        exact && !value.contains("/vcs-origin/") && user.is_some_and(|user| !user.contains('/'))
    });
    if pinned {
        linter.report(FindingType::Warning, SUBJECT_PINNED_TO_USER, &entry.path,
            "an exact V1 subject admits only that user's CIRCLE_OIDC_TOKEN; CIRCLE_OIDC_TOKEN_V2 (the aws-cli orb's default) appends /vcs-origin/…/vcs-ref/… and never matches. Use StringLike org/<org>/project/<project>/user/*".to_owned());
    }
}
