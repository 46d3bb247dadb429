//! `cargo xtask`: the single entry point for keyless's developer chores (the cargo-xtask
//! pattern). Each subcommand lives in its own module; none exists before it works.

mod bench;
mod bench_setup;
mod ceiling;
mod crash;
mod demo;
mod demo_sdk;
mod e2e;
mod flow;
mod fuzz;
mod load;
mod python;
mod service;
mod sigv4;
mod soak;
mod stack;
mod tidy;
mod up;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Developer chores for the keyless workspace.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Chore,
}

#[derive(Subcommand)]
enum Chore {
    /// Measure the services (release build, loopback, closed-loop load) against the RSA
    /// ceiling of `openssl speed`.
    Bench(bench::Options),
    /// SIGKILL keyless-sts and keyless-issuer under load, restart them on their data, and
    /// check the databases, every credential handed out, the keys and the jobs.
    Crash,
    /// Run the whole flow, narrated: a CircleCI job gets a token, assumes an AWS role with the
    /// real AWS CLI, and a job from another project is denied, with the reason spelled out.
    Demo {
        /// Make the job's AWS calls with the AWS SDK for Rust instead of the AWS CLI (the
        /// default when there is no Python 3).
        #[arg(long)]
        sdk: bool,
    },
    /// Run the end-to-end suite against the real binaries with the AWS CLI and boto3.
    E2e {
        /// Run only the scenarios whose name contains this text.
        #[arg(long)]
        only: Option<String>,
    },
    /// Fuzz the parsers (token, Query decoder, trust policies, SigV4, config.yml) with
    /// libFuzzer, each target for a bounded time; a crashing input is kept under
    /// `fuzz/regressions/` and fails the command.
    Fuzz(fuzz::Options),
    /// Start the demo's stack and leave it running; print its environment as KEY=value lines.
    Up {
        /// Also write the environment to this file.
        #[arg(long)]
        env_file: Option<PathBuf>,
    },
    /// Drive the full flow at a steady rate against the real binaries; fail on any error or
    /// if memory is not flat.
    Soak(soak::Options),
    /// Run every check CI runs: tidy, rustfmt, clippy (warnings denied), the tests, the
    /// end-to-end suite.
    Test,
    /// Check the tree's hygiene: `//!` docs atop every .rs file, no dbg!, no trailing
    /// whitespace, no ignored or panic-expecting tests.
    Tidy,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    let outcome = match cli.command {
        Chore::Bench(options) => bench::run(&root, &options),
        Chore::Crash => crash::run(&root),
        Chore::Demo { sdk } => demo::run(&root, sdk),
        Chore::E2e { only } => e2e::run(&root, only.as_deref()),
        Chore::Soak(options) => soak::run(&root, &options),
        Chore::Fuzz(options) => fuzz::run(&root, &options),
        Chore::Test => test(&root),
        Chore::Tidy => tidy::run(&root),
        Chore::Up { env_file } => up::run(&root, env_file.as_deref()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(manifest_dir)
}

/// Runs `cargo` with the given arguments in the workspace root, failing if it fails.
fn cargo(root: &Path, arguments: &[&str]) -> Result<()> {
    cargo_with_env(root, arguments, &[])
}

/// Runs `cargo` with extra environment variables, failing if it fails.
fn cargo_with_env(root: &Path, arguments: &[&str], environment: &[(&str, &OsStr)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    step(&format!("cargo {}", arguments.join(" ")));
    let status = Command::new(cargo)
        .args(arguments)
        .envs(environment.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start cargo {}", arguments.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", arguments.join(" "));
    }
    Ok(())
}

/// Prints a step header so a CI log shows where it is.
fn step(name: &str) {
    println!("\n==> {name}");
}

/// Every check, cheapest first, so a formatting slip fails in seconds, not after the build.
fn test(root: &Path) -> Result<()> {
    step("tidy");
    tidy::run(root)?;
    cargo(root, &["fmt", "--all", "--", "--check"])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "--deny",
            "warnings",
        ],
    )?;
    step("python environment for the AWS-client tests");
    let python = python::ensure(root)?;
    cargo_with_env(
        root,
        &["test", "--workspace", "--locked"],
        &[
            ("KEYLESS_PYTHON", python.python.as_os_str()),
            ("KEYLESS_AWS_CLI", python.aws_cli.as_os_str()),
        ],
    )?;
    step("end-to-end suite (real binaries, AWS CLI, boto3)");
    e2e::run(root, None)?;
    step("soak: the full flow at a steady rate for 20 seconds, flat memory");
    soak::run(root, &soak::Options::short())?;
    step("crash: SIGKILL both servers under load, restart, nothing lost");
    crash::run(root)?;
    step("bench smoke run: every scenario for a moment, checking responses, not speed");
    bench::smoke(root)?;
    println!("\nall checks passed");
    Ok(())
}
