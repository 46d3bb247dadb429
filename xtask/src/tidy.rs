//! `cargo xtask tidy`: keeps the tree honest (rust-analyzer's tidy, in small).
//!
//! Every `.rs` file under `crates/` and `xtask/` must open with a `//!` paragraph saying what it
//! is for, and must contain no `dbg!`, no trailing whitespace, and no ignored or
//! panic-expecting tests (a test either runs and can fail, or does not exist).
//!
//! Outside tests, no `==` or `!=` may compare a value named like a secret (`job_secret`,
//! `admin_token`, `stored_digest`, `password`, …) with anything but a literal or a constant:
//! such a comparison stops at the first differing byte, so its time tells an attacker how much
//! of a guess was right. Secrets are compared with the constant-time helper instead
//! (`keyless_issuer::secret`). A comparison that is not a secret check (deduplicating a list)
//! says so with `tidy: not a secret comparison` on its line or in a comment on the line above.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// A rule a file broke, with where.
struct Problem {
    path: PathBuf,
    line: usize,
    message: &'static str,
}

/// Checks every Rust source file and reports all problems at once.
pub fn run(root: &Path) -> Result<()> {
    let mut files = Vec::new();
    for top in ["crates", "xtask", "fuzz"] {
        collect_rust_files(&root.join(top), &mut files)?;
    }
    files.sort();
    let mut problems = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path)?;
        check_file(
            path.strip_prefix(root).unwrap_or(path),
            &text,
            &mut problems,
        );
    }
    for problem in &problems {
        eprintln!(
            "{}:{}: {}",
            problem.path.display(),
            problem.line,
            problem.message
        );
    }
    if !problems.is_empty() {
        bail!("tidy found {} problem(s)", problems.len());
    }
    println!("tidy: {} files clean", files.len());
    Ok(())
}

/// Adds every `.rs` file below `directory` (skipping build output) to `files`.
fn collect_rust_files(directory: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if !directory.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(directory)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_rust_files(&path, files)?;
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// The forbidden patterns, assembled so this file does not trip over itself.
fn forbidden() -> [(String, &'static str); 3] {
    [
        (
            format!("{}!(", "dbg"),
            "dbg! left in; use tracing or remove it",
        ),
        (
            format!("#[{}", "ignore"),
            "ignored test; make it run or delete it",
        ),
        (
            format!("#[{}", "should_panic"),
            "should_panic test; assert on the error value instead",
        ),
    ]
}

/// `_`-separated words that make a name a secret's wherever they stand.
const SECRET_WORDS: [&str; 6] = [
    "secret",
    "secrets",
    "password",
    "passwd",
    "credential",
    "credentials",
];

/// Last words that make a name a secret's (`runner_token`, `stored_digest`), where a word
/// after them says it is something else (`token_kid`, `token_ttl`).
const SECRET_LAST_WORDS: [&str; 3] = ["token", "tokens", "digest"];

/// Name endings that make a name a secret's.
const SECRET_SUFFIXES: [&str; 3] = ["private_key", "signing_key", "api_key"];

/// Method calls that only convert a value (`token.as_bytes()` is still the token).
const CONVERSIONS: [&str; 9] = [
    "as_bytes",
    "as_str",
    "as_ref",
    "as_slice",
    "as_deref",
    "to_vec",
    "to_string",
    "to_owned",
    "clone",
];

/// What marks a comparison of a secret-named value as deliberately not a secret check.
const NOT_A_SECRET_COMPARISON: &str = "tidy: not a secret comparison";

/// A line's code: comments removed and string literal contents blanked, so that `==` inside a
/// string or a comment is not taken for an operator.
fn code_of(line: &str) -> String {
    let mut code = String::with_capacity(line.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut characters = line.chars().peekable();
    while let Some(character) = characters.next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
                code.push('"');
                continue;
            }
            code.push(' ');
        } else if character == '/' && characters.peek() == Some(&'/') {
            break;
        } else {
            if character == '"' {
                in_string = true;
            }
            code.push(character);
        }
    }
    code
}

/// Whether `character` can belong to an operand as this rule reads it (a path, field
/// accesses, calls without spaces, references).
fn is_operand_character(character: char) -> bool {
    character.is_ascii_alphanumeric()
        || matches!(character, '_' | '.' | ':' | '&' | '*' | '(' | ')' | '"')
}

/// A left operand without the call it sits in: `matches(secret_key` → `secret_key`.
fn open_call_removed(operand: &str) -> &str {
    let mut depth = 0_usize;
    for (index, character) in operand.char_indices().rev() {
        match character {
            ')' => depth += 1,
            '(' if depth == 0 => return &operand[index + 1..],
            '(' => depth -= 1,
            _ => {}
        }
    }
    operand
}

/// A right operand without the end of the call it sits in: `secret)` → `secret`.
fn close_call_removed(operand: &str) -> &str {
    let mut depth = 0_usize;
    for (index, character) in operand.char_indices() {
        match character {
            '(' => depth += 1,
            ')' if depth == 0 => return &operand[..index],
            ')' => depth -= 1,
            _ => {}
        }
    }
    operand
}

/// The name an operand stands for: its last path segment that is not a conversion, without
/// call parentheses or reference marks (`&self.job_secret.as_bytes()` → `job_secret`).
fn operand_name(operand: &str) -> &str {
    operand
        .split(['.', ':'])
        .map(|segment| segment.trim_start_matches(['&', '*', '(']))
        .map(|segment| segment.split('(').next().unwrap_or(segment))
        .rfind(|segment| !segment.is_empty() && !CONVERSIONS.contains(segment))
        .unwrap_or("")
}

/// Whether an operand is a literal or a constant (`"x"`, `0`, `None`, `FORK_SECRETS_DISABLED`,
/// `Enum::Variant`): comparing with one is not comparing two secrets.
fn is_fixed(operand: &str) -> bool {
    let operand = operand.trim_start_matches(['&', '*', '(']);
    let name = operand_name(operand);
    operand.starts_with(['"', '\'', '-'])
        || operand.starts_with("b\"")
        || operand.starts_with(|character: char| character.is_ascii_digit())
        || name.starts_with(|character: char| character.is_ascii_uppercase())
        || matches!(name, "true" | "false")
}

/// Whether a name is a secret's.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let words: Vec<&str> = name.split('_').collect();
    words.iter().any(|word| SECRET_WORDS.contains(word))
        || words
            .last()
            .is_some_and(|word| SECRET_LAST_WORDS.contains(word))
        || SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// Whether a line of code compares a secret-named value with `==` or `!=` (and something that
/// is not a literal or constant).
fn compares_a_secret(line: &str) -> bool {
    if line.contains(NOT_A_SECRET_COMPARISON) {
        return false;
    }
    let code = code_of(line);
    for operator in [" == ", " != "] {
        let mut search_from = 0;
        while let Some(offset) = code[search_from..].find(operator) {
            let at = search_from + offset;
            search_from = at + operator.len();
            let before = code[..at].trim_end();
            let left_start = before
                .rfind(|character: char| !is_operand_character(character))
                .map_or(0, |index| index + 1);
            let left = open_call_removed(&before[left_start..]);
            let after = code[search_from..].trim_start();
            let right_end = after
                .find(|character: char| !is_operand_character(character))
                .unwrap_or(after.len());
            let right = close_call_removed(&after[..right_end]);
            if is_fixed(left) || is_fixed(right) {
                continue;
            }
            if is_secret_name(operand_name(left)) || is_secret_name(operand_name(right)) {
                return true;
            }
        }
    }
    false
}

/// Whether a file holds tests only (integration tests, benches), where timing does not matter.
fn is_test_file(path: &Path) -> bool {
    path.components()
        .any(|component| matches!(component.as_os_str().to_str(), Some("tests" | "benches")))
}

/// Checks one file's text against every rule.
fn check_file(path: &Path, text: &str, problems: &mut Vec<Problem>) {
    let mut report = |line: usize, message: &'static str| {
        problems.push(Problem {
            path: path.to_path_buf(),
            line,
            message,
        });
    };
    if !text.starts_with("//!") {
        report(
            1,
            "file does not open with a //! paragraph saying what it is for",
        );
    }
    let forbidden = forbidden();
    let mut in_tests = is_test_file(path);
    let mut previous_line = "";
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.ends_with(' ') || line.ends_with('\t') {
            report(number, "trailing whitespace");
        }
        // By convention a file's unit tests are its last module.
        in_tests |= line.trim_start().starts_with("#[cfg(test)]");
        let marked_above = previous_line.contains(NOT_A_SECRET_COMPARISON);
        previous_line = line;
        if !in_tests && !marked_above && compares_a_secret(line) {
            report(
                number,
                "`==`/`!=` on a secret: compare secrets in constant time (keyless_issuer::secret)",
            );
        }
        for (pattern, message) in &forbidden {
            if line.contains(pattern.as_str()) {
                report(number, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_in(text: &str) -> Vec<&'static str> {
        let mut problems = Vec::new();
        check_file(Path::new("x.rs"), text, &mut problems);
        problems
            .into_iter()
            .map(|problem| problem.message)
            .collect()
    }

    #[test]
    fn clean_file_passes() {
        assert!(problems_in("//! Docs.\nfn main() {}\n").is_empty());
    }

    #[test]
    fn each_rule_is_enforced() {
        assert_eq!(problems_in("fn main() {}\n").len(), 1);
        assert_eq!(
            problems_in("//! D.\nlet x = 1; \n"),
            ["trailing whitespace"]
        );
        let dbg = format!("//! D.\n{}!(x);\n", "dbg");
        assert_eq!(problems_in(&dbg).len(), 1);
        let ignored = format!("//! D.\n#[{}]\n", "ignore");
        assert_eq!(problems_in(&ignored).len(), 1);
        let panicking = format!("//! D.\n#[{}]\n", "should_panic");
        assert_eq!(problems_in(&panicking).len(), 1);
    }

    #[test]
    fn secrets_compared_with_equality_are_found() {
        for line in [
            "if presented == admin_token {",
            "if job_secret != presented {",
            "return self.token.as_bytes() == other.as_bytes();",
            "let same = &stored.digest == digest_of(x);",
            "if (password == input) {",
            "matches(secret_key == key)",
            "a == b || runner_token == given",
            "if signing_key == key {",
        ] {
            assert!(compares_a_secret(line), "not caught: {line}");
            let file = format!("//! D.\nfn f() {{ {line} }}\n");
            assert_eq!(problems_in(&file).len(), 1, "{line}");
        }
    }

    #[test]
    fn other_comparisons_are_left_alone() {
        for line in [
            "if refusal.code == super::tokens::FORK_SECRETS_DISABLED {",
            "if token == AnyRun {",
            "if token_kid == kid {",
            "if token_count != 0 {",
            "if token.is_empty() == false {",
            "let x = \"token == secret\"; // job_secret == other",
            "if secrets.iter().any(|known| known == secret) { // tidy: not a secret comparison",
            "if secret_matches(presented, &digest) {",
            "if name == \"CIRCLECI\" {",
            "if left <= token_budget {",
        ] {
            assert!(!compares_a_secret(line), "false positive: {line}");
        }
        let tests =
            "//! D.\n#[cfg(test)]\nmod tests { fn f() { assert!(job_secret == other); } }\n";
        assert!(problems_in(tests).is_empty());
        let mut problems = Vec::new();
        check_file(
            Path::new("crates/issuer/tests/it/x.rs"),
            "//! D.\nfn f() { job_secret == other }\n",
            &mut problems,
        );
        assert!(problems.is_empty());
    }
}
