//! A guard for YAML read from users (the issuer's bootstrap file, the runner's `config.yml`):
//! refuse flow collections nested so deep that the parser would spend minutes on them, before
//! parsing. Pure text scanning, shared so both readers refuse the same files the same way.

/// The deepest flow nesting (`[`, `{`) accepted in a YAML file. libyaml's scanner is quadratic
/// in flow depth (100,000 levels, 200 KB, take over a minute) while the deserializer refuses
/// anything deeper than 128 levels anyway, so deeper files are refused before parsing.
pub const MAX_FLOW_DEPTH: usize = 1_000;

/// Where YAML text first nests flow collections deeper than [`MAX_FLOW_DEPTH`], as 1-based
/// line and column. Quoted scalars (to the end of their line) and comments are skipped; a
/// bracket in a plain or block scalar is counted, which can only over-count, never hide real
/// nesting.
pub fn too_deep_flow(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0_usize;
    let mut quote = None;
    let mut escaped = false;
    let mut in_comment = false;
    let mut previous = '\n';
    let (mut line, mut column) = (1, 0);
    for character in text.chars() {
        column += 1;
        if character == '\n' {
            (line, column) = (line + 1, 0);
            (quote, escaped, in_comment, previous) = (None, false, false, '\n');
            continue;
        }
        if in_comment {
            continue;
        }
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if character == '\\' => escaped = true,
            Some(open) if character == open => quote = None,
            Some(_) => {}
            None => match character {
                '#' if previous.is_whitespace() => in_comment = true,
                // A quoted scalar starts a token; a quote inside a word (`it's`) is text.
                '"' | '\'' if previous.is_whitespace() || "[{,:-".contains(previous) => {
                    quote = Some(character);
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        previous = character;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_beyond_the_limit_is_found_where_it_happens() {
        let deep = "[".repeat(MAX_FLOW_DEPTH + 1);
        assert_eq!(too_deep_flow(&deep), Some((1, MAX_FLOW_DEPTH + 1)));
        let at_limit = "[".repeat(MAX_FLOW_DEPTH);
        assert_eq!(too_deep_flow(&at_limit), None);
        let quoted = format!(
            "key: \"{}\"\nother: '{}'",
            "[".repeat(2000),
            "{".repeat(2000)
        );
        assert_eq!(too_deep_flow(&quoted), None);
        let commented = format!("key: 1 # {}", "[".repeat(2000));
        assert_eq!(too_deep_flow(&commented), None);
        let second_line = format!("a: 1\nb: {}", "{".repeat(MAX_FLOW_DEPTH + 1));
        assert_eq!(too_deep_flow(&second_line), Some((2, 4 + MAX_FLOW_DEPTH)));
    }
}
