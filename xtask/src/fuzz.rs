//! `cargo xtask fuzz`: runs the libFuzzer targets of `fuzz/` (token parsing, the Query decoder,
//! trust policies, SigV4, the runner's `config.yml`) for a bounded time each, one after the
//! other on one core.
//!
//! cargo-fuzz is installed into `<target>/tools` on first use (`cargo install --root`), where
//! `<target>` is `CARGO_TARGET_DIR` or `target/`. The machine has only stable Rust, so the
//! fuzzers build with `RUSTC_BOOTSTRAP=1` (cargo-fuzz passes nightly `-Z` flags such as
//! `-Zsanitizer=address`). Each target grows a working corpus under `<target>/fuzz/corpus`,
//! seeded from the committed `fuzz/corpus-seeds/<target>/`. An input that crashes, hangs or
//! exhausts memory is copied to `fuzz/regressions/<target>/` and the command fails, naming it.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::step;

/// The fuzz targets, in the order they run (the `[[bin]]` names of `fuzz/Cargo.toml`).
pub const TARGETS: [&str; 5] = ["token", "query", "policy", "sigv4", "runner_config"];

/// Seconds each target runs when `--seconds` is not given.
pub const DEFAULT_SECONDS: u64 = 60;

/// The cargo-fuzz release installed into `<target>/tools`.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// libFuzzer's per-input time limit, in seconds: longer counts as a hang.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// libFuzzer's memory limit, in MiB.
const RSS_LIMIT_MB: u64 = 2048;

/// Largest input libFuzzer generates, in bytes (a web identity token may be 20 000 characters).
const MAX_INPUT_BYTES: u64 = 24_000;

/// The sanitizer the targets are built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sanitizer {
    /// AddressSanitizer (cargo-fuzz's default).
    Address,
    /// No sanitizer: coverage-guided fuzzing only (the code forbids `unsafe` anyway).
    None,
}

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Seconds to fuzz each target.
    #[arg(long, default_value_t = DEFAULT_SECONDS)]
    pub seconds: u64,
    /// Fuzz only this target (token, query, policy, sigv4, runner_config).
    #[arg(long)]
    pub target: Option<String>,
    /// The sanitizer to build with.
    #[arg(long, value_enum, default_value_t = Sanitizer::Address)]
    pub sanitizer: Sanitizer,
}

/// What one target's run measured (from libFuzzer's `-print_final_stats`).
#[derive(Debug, Default)]
struct RunStats {
    executions: Option<u64>,
    executions_per_second: Option<u64>,
    peak_rss_mb: Option<u64>,
}

/// Runs the chosen targets, each for `options.seconds`, and fails on the first crash.
pub fn run(root: &Path, options: &Options) -> Result<()> {
    let targets: Vec<&str> = match options.target.as_deref() {
        None => TARGETS.to_vec(),
        Some(name) if TARGETS.contains(&name) => vec![name],
        Some(name) => bail!(
            "no fuzz target {name:?}; the targets are {}",
            TARGETS.join(", ")
        ),
    };
    let target_dir = cargo_target_dir(root);
    let cargo_fuzz = ensure_cargo_fuzz(&target_dir)?;
    let fuzz_target_dir = target_dir.join("fuzz");
    let mut summary = Vec::new();
    for target in targets {
        step(&format!("fuzz {target} for {} s", options.seconds));
        let stats = run_target(root, &cargo_fuzz, &fuzz_target_dir, target, options)?;
        summary.push((target, stats));
    }
    println!("\ntarget          executions   exec/s   peak RSS (MB)");
    for (target, stats) in &summary {
        let show = |value: Option<u64>| value.map_or("?".to_owned(), |value| value.to_string());
        println!(
            "{target:<15} {:>10} {:>8} {:>15}",
            show(stats.executions),
            show(stats.executions_per_second),
            show(stats.peak_rss_mb)
        );
    }
    println!("no crash, hang or out-of-memory input found");
    Ok(())
}

/// `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
fn cargo_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// The path of `cargo-fuzz` under `<target>/tools`, installing it first if it is absent.
fn ensure_cargo_fuzz(target_dir: &Path) -> Result<PathBuf> {
    let tools = target_dir.join("tools");
    let binary = tools.join("bin/cargo-fuzz");
    if binary.exists() {
        return Ok(binary);
    }
    step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ_VERSION} into {}",
        tools.display()
    ));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ])
        .arg("--root")
        .arg(&tools)
        .env("CARGO_TARGET_DIR", target_dir.join("tools-build"))
        .status()
        .context("could not start cargo install")?;
    if !status.success() || !binary.exists() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(binary)
}

/// Fuzzes one target; on a crash, keeps the input under `fuzz/regressions/<target>/`.
fn run_target(
    root: &Path,
    cargo_fuzz: &Path,
    fuzz_target_dir: &Path,
    target: &str,
    options: &Options,
) -> Result<RunStats> {
    let corpus = fuzz_target_dir.join("corpus").join(target);
    let artifacts = fuzz_target_dir.join("artifacts").join(target);
    let seeds = root.join("fuzz/corpus-seeds").join(target);
    for directory in [&corpus, &artifacts] {
        fs::create_dir_all(directory)
            .with_context(|| format!("creating {}", directory.display()))?;
    }
    let before = artifact_files(&artifacts)?;
    let sanitizer = match options.sanitizer {
        Sanitizer::Address => "address",
        Sanitizer::None => "none",
    };
    let mut artifact_prefix = OsString::from("-artifact_prefix=");
    artifact_prefix.push(&artifacts);
    artifact_prefix.push("/");
    // `cargo-fuzz` is a cargo subcommand: its first argument is the subcommand's name.
    let mut child = Command::new(cargo_fuzz)
        .args(["fuzz", "run", "--sanitizer", sanitizer, "--fuzz-dir"])
        .arg(root.join("fuzz"))
        .arg("--target-dir")
        .arg(fuzz_target_dir)
        .arg(target)
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={}", options.seconds))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-max_len={MAX_INPUT_BYTES}"))
        .arg("-print_final_stats=1")
        .arg(artifact_prefix)
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(root)
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start cargo fuzz run")?;
    let mut stats = RunStats::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("reading the fuzzer's output")?;
            eprintln!("{line}");
            stats.read(&line);
        }
    }
    let status = child.wait().context("waiting for cargo fuzz run")?;
    let found: Vec<PathBuf> = artifact_files(&artifacts)?
        .into_iter()
        .filter(|path| !before.contains(path))
        .collect();
    if status.success() && found.is_empty() {
        return Ok(stats);
    }
    if found.is_empty() {
        bail!("cargo fuzz run {target} failed ({status}) without leaving a crash input");
    }
    let regressions = root.join("fuzz/regressions").join(target);
    fs::create_dir_all(&regressions)
        .with_context(|| format!("creating {}", regressions.display()))?;
    let mut kept = Vec::new();
    for path in &found {
        let destination = regressions.join(path.file_name().unwrap_or(path.as_os_str()));
        fs::copy(path, &destination)
            .with_context(|| format!("copying {} to {}", path.display(), destination.display()))?;
        kept.push(destination.display().to_string());
    }
    bail!(
        "the {target} fuzzer found {} failing input(s), kept as:\n  {}\nreplay one with \
         `RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz {target} FILE`, fix the code, and \
         add a test that replays it",
        kept.len(),
        kept.join("\n  ")
    )
}

/// The crash, hang and out-of-memory inputs libFuzzer left in `artifacts`.
fn artifact_files(artifacts: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in
        fs::read_dir(artifacts).with_context(|| format!("reading {}", artifacts.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if ["crash-", "timeout-", "oom-", "leak-"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl RunStats {
    /// Picks the numbers out of libFuzzer's `stat::name: value` lines.
    fn read(&mut self, line: &str) {
        let Some((name, value)) = line
            .strip_prefix("stat::")
            .and_then(|rest| rest.split_once(':'))
        else {
            return;
        };
        let value = value.trim().parse().ok();
        match name {
            "number_of_executed_units" => self.executions = value,
            "average_exec_per_sec" => self.executions_per_second = value,
            "peak_rss_mb" => self.peak_rss_mb = value,
            _ => {}
        }
    }
}
