//! IAM wildcard matching: `*` is any run of characters (empty too, `/` included) and `?` exactly
//! one character, over the whole string (`spec/aws-sts-iam.md` §4.3).
//!
//! A pattern is a list of tokens rather than a string so that the policy-variable escapes `${*}`
//! and `${?}` can put a literal asterisk or question mark into a `StringLike` pattern.

/// One piece of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternToken {
    /// A character that must appear as is.
    Literal(char),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
}

/// Reads a plain string as a pattern: `*` and `?` are wildcards, everything else literal.
pub(crate) fn tokens_of(pattern: &str) -> Vec<PatternToken> {
    pattern
        .chars()
        .map(|character| match character {
            '*' => PatternToken::AnyRun,
            '?' => PatternToken::AnyChar,
            other => PatternToken::Literal(other),
        })
        .collect()
}

/// Whether `text` matches the whole of `pattern` (`*`/`?` wildcards, case-sensitive).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    tokens_match(&tokens_of(pattern), text)
}

/// Whether `text` matches the whole token list.
///
/// The classic linear backtracking matcher: on a mismatch, retry from the last `*` with one
/// more character swallowed. Runs in O(pattern × text) at worst, never recursing.
pub(crate) fn tokens_match(pattern: &[PatternToken], text: &str) -> bool {
    let characters: Vec<char> = text.chars().collect();
    let mut pattern_index = 0;
    let mut text_index = 0;
    // (pattern index just after the last `*`, text index it is retried from)
    let mut backtrack: Option<(usize, usize)> = None;
    while text_index < characters.len() {
        match pattern.get(pattern_index) {
            Some(PatternToken::AnyRun) => {
                pattern_index += 1;
                backtrack = Some((pattern_index, text_index));
                continue;
            }
            Some(PatternToken::AnyChar) => {
                pattern_index += 1;
                text_index += 1;
                continue;
            }
            Some(PatternToken::Literal(expected)) if *expected == characters[text_index] => {
                pattern_index += 1;
                text_index += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((after_star, retry_from)) => {
                pattern_index = after_star;
                text_index = retry_from + 1;
                backtrack = Some((after_star, retry_from + 1));
            }
            None => return false,
        }
    }
    pattern[pattern_index.min(pattern.len())..]
        .iter()
        .all(|token| *token == PatternToken::AnyRun)
}

/// Whether a plain pattern string has a wildcard character.
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The obvious recursive definition, used as the reference.
    fn reference_match(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| reference_match(rest, &text[skip..])),
            Some(('?', rest)) => !text.is_empty() && reference_match(rest, &text[1..]),
            Some((literal, rest)) => {
                text.first() == Some(literal) && reference_match(rest, &text[1..])
            }
        }
    }

    #[test]
    fn star_crosses_slashes_and_question_mark_is_one_character() {
        assert!(wildcard_match(
            "org/*/user/*",
            "org/a/project/b/user/c/vcs-origin/x"
        ));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("", "a"));
        assert!(!wildcard_match("ABC", "abc"));
        assert!(wildcard_match("a*b*c", "a-b-b-c"));
        assert!(!wildcard_match("a*b*c", "a-b-b-"));
    }

    #[test]
    fn literal_tokens_do_not_act_as_wildcards() {
        let pattern = vec![PatternToken::Literal('*'), PatternToken::AnyRun];
        assert!(tokens_match(&pattern, "*abc"));
        assert!(!tokens_match(&pattern, "abc"));
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_the_reference(
            pattern in "[ab*?/]{0,8}",
            text in "[ab/]{0,10}",
        ) {
            let pattern_chars: Vec<char> = pattern.chars().collect();
            let text_chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(
                wildcard_match(&pattern, &text),
                reference_match(&pattern_chars, &text_chars)
            );
        }

        #[test]
        fn matcher_agrees_with_the_reference_on_any_characters(
            pattern in "\\PC{0,6}",
            text in "\\PC{0,8}",
        ) {
            let pattern_chars: Vec<char> = pattern.chars().collect();
            let text_chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(
                wildcard_match(&pattern, &text),
                reference_match(&pattern_chars, &text_chars)
            );
        }
    }
}
