//! Policy variables in condition values (`spec/aws-sts-iam.md` §4.4).
//!
//! With `Version: 2012-10-17`, `${key}` is replaced by the request's value for `key` (names
//! case-insensitive), `${key, 'default'}` falls back to the default, and `${*}`, `${?}`, `${$}`
//! stand for a literal `*`, `?` and `$`. A variable naming a key that is absent (and has no
//! default) makes the condition false. Substituted text is always literal: a `*` inside a claim
//! value never acts as a wildcard.

use super::wildcard::PatternToken;

/// A value after substitution, ready to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedValue {
    /// The tokens to match (`AnyRun`/`AnyChar` only where the operator uses wildcards).
    pub(crate) tokens: Vec<PatternToken>,
}

impl ResolvedValue {
    /// The value as text (wildcards shown as `*` and `?`).
    pub(crate) fn text(&self) -> String {
        self.tokens
            .iter()
            .map(|token| match token {
                PatternToken::Literal(character) => *character,
                PatternToken::AnyRun => '*',
                PatternToken::AnyChar => '?',
            })
            .collect()
    }
}

/// Why a value could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingVariable {
    /// The key the variable names, as written.
    pub(crate) key: String,
}

/// Pushes `text` as literal characters.
fn push_literal(tokens: &mut Vec<PatternToken>, text: &str) {
    tokens.extend(text.chars().map(PatternToken::Literal));
}

/// Pushes `text` with `*`/`?` as wildcards when `wildcards` is set.
fn push_pattern(tokens: &mut Vec<PatternToken>, text: &str, wildcards: bool) {
    for character in text.chars() {
        tokens.push(match character {
            '*' if wildcards => PatternToken::AnyRun,
            '?' if wildcards => PatternToken::AnyChar,
            other => PatternToken::Literal(other),
        });
    }
}

/// Splits `key, 'default'` into the key and the default text.
fn split_default(inside: &str) -> (&str, Option<&str>) {
    if let Some((key, rest)) = inside.split_once(',') {
        let rest = rest.trim();
        if let Some(default) = rest
            .strip_prefix('\'')
            .and_then(|tail| tail.strip_suffix('\''))
        {
            return (key.trim(), Some(default));
        }
    }
    (inside.trim(), None)
}

/// Resolves one condition value.
///
/// `substitute` is whether variables apply (version and operator allow them); `wildcards`
/// whether `*`/`?` are wildcards; `lookup` gives the request's single value of a key.
pub(crate) fn resolve_value(
    value: &str,
    substitute: bool,
    wildcards: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedValue, MissingVariable> {
    let mut tokens = Vec::new();
    if !substitute {
        push_pattern(&mut tokens, value, wildcards);
        return Ok(ResolvedValue { tokens });
    }
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        push_pattern(&mut tokens, &rest[..start], wildcards);
        let after_open = &rest[start + 2..];
        let Some(end) = after_open.find('}') else {
            // No closing brace: the remainder is plain text.
            push_pattern(&mut tokens, &rest[start..], wildcards);
            return Ok(ResolvedValue { tokens });
        };
        let inside = &after_open[..end];
        match inside {
            "*" | "?" | "$" => push_literal(&mut tokens, inside),
            _ => {
                let (key, default) = split_default(inside);
                match (lookup(key), default) {
                    (Some(found), _) => push_literal(&mut tokens, &found),
                    (None, Some(default)) => push_literal(&mut tokens, default),
                    (None, None) => {
                        return Err(MissingVariable {
                            key: key.to_owned(),
                        });
                    }
                }
            }
        }
        rest = &after_open[end + 1..];
    }
    push_pattern(&mut tokens, rest, wildcards);
    Ok(ResolvedValue { tokens })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::wildcard::tokens_match;

    fn lookup(key: &str) -> Option<String> {
        (key.eq_ignore_ascii_case("prov:sub")).then(|| "org/a*b".to_owned())
    }

    #[test]
    fn variables_are_substituted_literally() {
        let resolved = resolve_value("${prov:SUB}/x", true, true, &lookup).expect("present");
        assert_eq!(resolved.text(), "org/a*b/x");
        assert!(tokens_match(&resolved.tokens, "org/a*b/x"));
        assert!(!tokens_match(&resolved.tokens, "org/aXXb/x"));
    }

    #[test]
    fn escapes_are_literal_characters() {
        let resolved = resolve_value("a${*}b${?}${$}*", true, true, &lookup).expect("no variable");
        assert!(tokens_match(&resolved.tokens, "a*b?$anything"));
        assert!(!tokens_match(&resolved.tokens, "aXb?$"));
    }

    #[test]
    fn defaults_and_missing_keys() {
        let resolved =
            resolve_value("${prov:nope, 'fallback'}", true, false, &lookup).expect("default");
        assert_eq!(resolved.text(), "fallback");
        let missing = resolve_value("${prov:nope}", true, false, &lookup);
        assert_eq!(
            missing,
            Err(MissingVariable {
                key: "prov:nope".to_owned()
            })
        );
    }

    #[test]
    fn without_substitution_the_text_is_literal() {
        let resolved = resolve_value("${prov:sub}", false, false, &lookup).expect("literal");
        assert_eq!(resolved.text(), "${prov:sub}");
    }
}
