//! The trust-policy engine: [`evaluate`] (`spec/aws-sts-iam.md` §4.2–4.6). Pure: no I/O, no
//! clock, no randomness.
//!
//! A statement applies when its principal names the requester, its action covers the request,
//! and every condition holds (operators and keys AND'd, values OR'd — for negated operators,
//! "matches none"). Any applying `Deny` wins; otherwise any applying `Allow` allows; otherwise
//! the default deny. Every statement and condition is evaluated (nothing short-circuits) so the
//! decision can explain itself.

use super::context::RequestContext;
use super::decision::{
    ActionEvaluation, ConditionEvaluation, Decision, Effect, PrincipalEvaluation,
    StatementEvaluation,
};
use super::document::{
    ActionElement, ConditionEntry, PolicyVersion, PrincipalElement, Statement, StatementEffect,
    TrustPolicy,
};
use super::hints::hints_for;
use super::operators::{BaseOperator, SetOperator};
use super::variables::{ResolvedValue, resolve_value};
use super::wildcard::{tokens_match, wildcard_match};

/// Evaluates `policy` for the request described by `context`.
pub fn evaluate(policy: &TrustPolicy, context: &RequestContext) -> Decision {
    let statements: Vec<StatementEvaluation> = policy
        .statements()
        .iter()
        .map(|statement| evaluate_statement(statement, context, policy.version()))
        .collect();
    let first_applying = |effect: StatementEffect| {
        statements
            .iter()
            .find(|statement| statement.applies && statement.effect == effect)
    };
    let (effect, decisive) = if let Some(deny) = first_applying(StatementEffect::Deny) {
        (Effect::ExplicitDeny, Some(deny))
    } else if let Some(allow) = first_applying(StatementEffect::Allow) {
        (Effect::Allow, Some(allow))
    } else {
        (Effect::ImplicitDeny, None)
    };
    let mut decision = Decision {
        effect,
        decisive_statement: decisive.map(|statement| statement.index),
        decisive_sid: decisive.and_then(|statement| statement.sid.clone()),
        principal: context.provider_arn.clone(),
        action: context.action.clone(),
        statements: Vec::new(),
        hints: Vec::new(),
    };
    decision.statements = statements;
    decision.hints = hints_for(&decision, context);
    decision
}

/// One statement's checks.
fn evaluate_statement(
    statement: &Statement,
    context: &RequestContext,
    version: PolicyVersion,
) -> StatementEvaluation {
    let principal = evaluate_principal(statement.principal.as_ref(), &context.provider_arn);
    let action = evaluate_action(&statement.actions, &context.action);
    let conditions: Vec<ConditionEvaluation> = statement
        .conditions
        .iter()
        .map(|entry| evaluate_condition(entry, context, version))
        .collect();
    let applies =
        principal.matched && action.matched && conditions.iter().all(|condition| condition.result);
    StatementEvaluation {
        index: statement.index,
        sid: statement.sid.clone(),
        effect: statement.effect,
        principal,
        action,
        conditions,
        applies,
    }
}

/// `*`, `{"AWS": "*"}`, or `Federated` naming the provider ARN exactly (case-sensitive, §4.2).
fn evaluate_principal(
    principal: Option<&PrincipalElement>,
    requester: &str,
) -> PrincipalEvaluation {
    match principal {
        None => PrincipalEvaluation {
            matched: false,
            listed: Vec::new(),
        },
        Some(PrincipalElement::Everyone) => PrincipalEvaluation {
            matched: true,
            listed: vec!["*".to_owned()],
        },
        Some(element @ PrincipalElement::Typed(entries)) => PrincipalEvaluation {
            matched: element.is_everyone() || element.values_of("Federated").contains(&requester),
            listed: entries
                .iter()
                .flat_map(|(principal_type, values)| {
                    values
                        .iter()
                        .map(move |value| format!("{principal_type} {value}"))
                })
                .collect(),
        },
    }
}

/// Case-insensitive with `*`/`?` (§4.1); `NotAction` covers what no pattern matches.
fn evaluate_action(actions: &ActionElement, requested: &str) -> ActionEvaluation {
    let requested = requested.to_ascii_lowercase();
    let any_matches = actions
        .patterns()
        .iter()
        .any(|pattern| wildcard_match(&pattern.to_ascii_lowercase(), &requested));
    ActionEvaluation {
        matched: match actions {
            ActionElement::Action(_) => any_matches,
            ActionElement::NotAction(_) => !any_matches,
        },
        element: actions.element_name().to_owned(),
        patterns: actions.patterns().to_vec(),
    }
}

/// One condition against the context (§4.3, §4.4).
fn evaluate_condition(
    entry: &ConditionEntry,
    context: &RequestContext,
    version: PolicyVersion,
) -> ConditionEvaluation {
    let operator = entry.operator;
    let base = operator.base;
    let substitute = version.substitutes_variables() && base.allows_variables();
    let lookup = |key: &str| context.single_value(key);
    let mut resolved: Vec<ResolvedValue> = Vec::with_capacity(entry.values.len());
    let mut missing_variable = None;
    for value in &entry.values {
        match resolve_value(value, substitute, base.uses_wildcards(), &lookup) {
            Ok(value) => resolved.push(value),
            Err(missing) => {
                missing_variable = Some(missing.key);
                break;
            }
        }
    }
    let actual_entry = context.get(&entry.key);
    let result = if missing_variable.is_some() {
        false
    } else {
        condition_holds(
            entry,
            actual_entry.map(|found| found.values.as_slice()),
            &resolved,
        )
    };
    let resolved_texts: Vec<String> = resolved.iter().map(ResolvedValue::text).collect();
    let substituted = missing_variable.is_none()
        && substitute
        && entry.values.iter().any(|value| value.contains("${"))
        && resolved_texts != entry.values;
    ConditionEvaluation {
        operator: operator.name(),
        base_operator: base,
        set_operator: operator.set_operator,
        if_exists: operator.if_exists,
        key: entry.key.clone(),
        expected: entry.values.clone(),
        expected_resolved: substituted.then_some(resolved_texts),
        actual: actual_entry.map(|found| found.values.clone()),
        missing_variable,
        result,
        path: entry.path.clone(),
    }
}

/// The condition's truth given the request's values (`None` = key absent).
fn condition_holds(
    entry: &ConditionEntry,
    actual: Option<&[String]>,
    expected: &[ResolvedValue],
) -> bool {
    let operator = entry.operator;
    let base = operator.base;
    if base == BaseOperator::Null {
        let present = actual.is_some_and(|values| !values.is_empty());
        return expected.iter().any(|value| {
            let text = value.text();
            (text.eq_ignore_ascii_case("true") && !present)
                || (text.eq_ignore_ascii_case("false") && present)
        });
    }
    let values = match actual {
        Some(values) if !values.is_empty() => values,
        _ => {
            // Absent (or empty): §4.3.
            return match operator.set_operator {
                Some(SetOperator::ForAnyValue) => operator.if_exists,
                Some(SetOperator::ForAllValues) => true,
                None => operator.if_exists || base.is_negated(),
            };
        }
    };
    let passes = |value: &String| {
        let positive = expected
            .iter()
            .any(|expected_value| positive_match(base, value, expected_value));
        if base.is_negated() {
            !positive
        } else {
            positive
        }
    };
    match operator.set_operator {
        Some(SetOperator::ForAnyValue) => values.iter().any(passes),
        Some(SetOperator::ForAllValues) => values.iter().all(passes),
        // A single-valued operator on a multivalued key: positive operators need one matching
        // value, negated ones need every value to match none ([INFER], docs/decisions.md).
        None if base.is_negated() => values.iter().all(passes),
        None => values.iter().any(passes),
    }
}

/// Whether `actual` matches one policy value under the positive form of `base`.
fn positive_match(base: BaseOperator, actual: &str, expected: &ResolvedValue) -> bool {
    use BaseOperator as Op;
    match base {
        Op::StringEquals | Op::StringNotEquals | Op::BinaryEquals => actual == expected.text(),
        Op::StringEqualsIgnoreCase | Op::StringNotEqualsIgnoreCase => {
            actual.to_lowercase() == expected.text().to_lowercase()
        }
        Op::StringLike
        | Op::StringNotLike
        | Op::ArnEquals
        | Op::ArnLike
        | Op::ArnNotEquals
        | Op::ArnNotLike => tokens_match(&expected.tokens, actual),
        Op::Bool => actual.eq_ignore_ascii_case(&expected.text()),
        Op::NumericEquals
        | Op::NumericNotEquals
        | Op::NumericLessThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThan
        | Op::NumericGreaterThanEquals
        | Op::DateEquals
        | Op::DateNotEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => numeric_match(base, actual, &expected.text()),
        // No web-identity key holds an address; IpAddress never matches a present value.
        Op::IpAddress | Op::NotIpAddress | Op::Null => false,
    }
}

/// Numeric and date comparisons (dates as epoch seconds); unparsable values never match.
fn numeric_match(base: BaseOperator, actual: &str, expected: &str) -> bool {
    use BaseOperator as Op;
    let (Ok(actual), Ok(expected)) = (actual.trim().parse::<f64>(), expected.trim().parse::<f64>())
    else {
        return false;
    };
    match base {
        Op::NumericEquals | Op::NumericNotEquals | Op::DateEquals | Op::DateNotEquals => {
            actual == expected
        }
        Op::NumericLessThan | Op::DateLessThan => actual < expected,
        Op::NumericLessThanEquals | Op::DateLessThanEquals => actual <= expected,
        Op::NumericGreaterThan | Op::DateGreaterThan => actual > expected,
        Op::NumericGreaterThanEquals | Op::DateGreaterThanEquals => actual >= expected,
        _ => false,
    }
}
