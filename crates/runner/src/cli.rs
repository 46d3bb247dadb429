//! The command line: `keyless-runner run …` (every flag also from a `KEYLESS_RUNNER_*`
//! variable, defaults as named constants) and the hidden `circleci-shim` behind the
//! `circleci` command inside steps.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::OutputFormat;

/// Where the configuration is read from by default, as on CircleCI.
pub const DEFAULT_CONFIG_PATH: &str = ".circleci/config.yml";

/// The branch a pipeline is for when neither `--branch` nor `--ref` is given.
pub const DEFAULT_BRANCH: &str = "main";

/// Log format for the runner's own diagnostics (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// keyless-runner: run CircleCI jobs locally with CIRCLE_OIDC_TOKEN, contexts and
/// `circleci run oidc get`, against a keyless issuer.
#[derive(Debug, Parser)]
#[command(name = "keyless-runner", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Format of the runner's own diagnostics on stderr.
    #[arg(long, env = "KEYLESS_RUNNER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one job or a whole workflow of a CircleCI configuration.
    Run(Box<RunArgs>),
    /// The `circleci` command inside steps (called by the wrapper script).
    #[command(hide = true)]
    CircleciShim {
        /// Arguments given to `circleci`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
}

/// `keyless-runner run` flags.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Run this job (a key of `jobs`).
    #[arg(long, env = "KEYLESS_RUNNER_JOB", conflicts_with = "workflow")]
    pub job: Option<String>,
    /// Run this workflow: its jobs in `requires` order, branch and tag `filters` honoured.
    #[arg(long, env = "KEYLESS_RUNNER_WORKFLOW")]
    pub workflow: Option<String>,
    /// The CircleCI configuration file.
    #[arg(long, env = "KEYLESS_RUNNER_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// The keyless issuer's base URL (its job API).
    #[arg(long, env = "KEYLESS_RUNNER_ISSUER")]
    pub issuer: String,
    /// The runner token (Authorization for starting jobs).
    #[arg(long, env = "KEYLESS_RUNNER_RUNNER_TOKEN", hide_env_values = true)]
    pub runner_token: String,
    /// The project: id or slug (e.g. gh/acme/widgets).
    #[arg(long, env = "KEYLESS_RUNNER_PROJECT")]
    pub project: String,
    /// The user the job runs for: id or login (default: the org's first user).
    #[arg(long, env = "KEYLESS_RUNNER_USER")]
    pub user: Option<String>,
    /// The branch the pipeline is for (default main).
    #[arg(long, env = "KEYLESS_RUNNER_BRANCH", conflicts_with_all = ["reference", "custom_webhook"])]
    pub branch: Option<String>,
    /// The full ref instead of a branch, e.g. refs/tags/v1.2.0.
    #[arg(
        long = "ref",
        env = "KEYLESS_RUNNER_REF",
        conflicts_with = "custom_webhook"
    )]
    pub reference: Option<String>,
    /// The repository without scheme, e.g. github.com/acme/widgets (default: from a gh/ or bb/
    /// project slug, else the project's own).
    #[arg(long, env = "KEYLESS_RUNNER_ORIGIN")]
    pub origin: Option<String>,
    /// The commit SHA (default: `git rev-parse HEAD` of the working tree, when it works).
    #[arg(long, env = "KEYLESS_RUNNER_SHA")]
    pub sha: Option<String>,
    /// A pipeline triggered by a custom webhook: no VCS, so no vcs-origin/vcs-ref claims.
    #[arg(long, env = "KEYLESS_RUNNER_CUSTOM_WEBHOOK")]
    pub custom_webhook: bool,
    /// The build comes from a fork.
    #[arg(long, env = "KEYLESS_RUNNER_FORK")]
    pub fork: bool,
    /// The job is a rerun with SSH.
    #[arg(long, env = "KEYLESS_RUNNER_SSH_RERUN")]
    pub ssh_rerun: bool,
    /// An extra context for every job (repeatable; name or id).
    #[arg(
        long = "context",
        env = "KEYLESS_RUNNER_CONTEXT",
        value_delimiter = ','
    )]
    pub contexts: Vec<String>,
    /// Wire AWS web identity: token file kept fresh, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE,
    /// AWS_ROLE_SESSION_NAME.
    #[arg(long, env = "KEYLESS_RUNNER_AWS_ROLE_ARN")]
    pub aws_role_arn: Option<String>,
    /// A pipeline parameter value, NAME=VALUE (repeatable).
    #[arg(
        long = "pipeline-parameter",
        env = "KEYLESS_RUNNER_PIPELINE_PARAMETER",
        value_delimiter = ','
    )]
    pub pipeline_parameters: Vec<String>,
    /// Output format: text for people, json for machines.
    #[arg(long, env = "KEYLESS_RUNNER_OUTPUT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}
