//! `cargo xtask tidy`: keeps the tree honest (rust-analyzer's tidy, in small).
//!
//! Every `.rs` file under `crates/` and `xtask/` must open with a `//!` paragraph saying what it
//! is for, and must contain no `dbg!`, no trailing whitespace, and no ignored or
//! panic-expecting tests (a test either runs and can fail, or does not exist).

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
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.ends_with(' ') || line.ends_with('\t') {
            report(number, "trailing whitespace");
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
}
