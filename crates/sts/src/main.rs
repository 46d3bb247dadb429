//! The `keyless-sts` binary: parses flags (each also from a `KEYLESS_STS_*` environment
//! variable), sets up logging, binds the listener and runs the library's server until Ctrl-C or
//! SIGTERM. `serve` is the default subcommand; `lint POLICY.json` prints static findings about a
//! trust policy and exits non-zero on an ERROR or SECURITY_WARNING.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use keyless_sts::config::{
    AccountId, AdminCredential, Clock, Config, DEFAULT_ACCOUNT_ID, DEFAULT_ADMIN_ACCESS_KEY_ID,
    DEFAULT_ADMIN_SECRET_ACCESS_KEY, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
use keyless_sts::store::StoreLocation;

/// Where the server listens by default.
const DEFAULT_LISTEN: &str = "127.0.0.1:8566";
/// Where state is kept by default (relative to the working directory).
const DEFAULT_DATA_DIR: &str = "keyless-sts-data";

/// A mock AWS STS + IAM for offline OIDC federation tests.
#[derive(Debug, Parser)]
#[command(
    name = "keyless-sts",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the AWS Query endpoint (the default).
    Serve(ServeArgs),
    /// Report what AWS accepts but is weak or broken in a trust policy (docs/trust-policy-engine.md);
    /// exits 1 on any ERROR or SECURITY_WARNING finding.
    Lint(LintArgs),
}

#[derive(Debug, Args)]
struct LintArgs {
    /// The trust policy document (JSON), or `-` for standard input.
    policy: PathBuf,
    /// Output format.
    #[arg(
        long,
        env = "KEYLESS_STS_LINT_FORMAT",
        value_enum,
        default_value = "text"
    )]
    format: LintFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LintFormat {
    /// One line per finding: `TYPE CODE location: message`.
    Text,
    /// A JSON array of `{finding_type, issue_code, location, message}`.
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYLESS_STS_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Directory holding the SQLite database.
    #[arg(long, env = "KEYLESS_STS_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Keep state in memory only (lost on exit).
    #[arg(long, env = "KEYLESS_STS_IN_MEMORY")]
    in_memory: bool,
    /// Bootstrap file of providers and roles (JSON), applied idempotently at start.
    #[arg(long = "config", env = "KEYLESS_STS_CONFIG")]
    bootstrap_file: Option<PathBuf>,
    /// The AWS account id of every provider and role.
    #[arg(long, env = "KEYLESS_STS_ACCOUNT_ID", default_value = DEFAULT_ACCOUNT_ID)]
    account_id: AccountId,
    /// Access key id IAM calls must be signed with.
    #[arg(long, env = "KEYLESS_STS_ADMIN_ACCESS_KEY_ID", default_value = DEFAULT_ADMIN_ACCESS_KEY_ID)]
    admin_access_key_id: String,
    /// Secret of the admin access key.
    #[arg(long, env = "KEYLESS_STS_ADMIN_SECRET_ACCESS_KEY", default_value = DEFAULT_ADMIN_SECRET_ACCESS_KEY, hide_env_values = true, hide_default_value = true)]
    admin_secret_access_key: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "KEYLESS_STS_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Per-request timeout, in seconds.
    #[arg(long, env = "KEYLESS_STS_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT.as_secs())]
    request_timeout_seconds: u64,
    /// Log line format.
    #[arg(
        long,
        env = "KEYLESS_STS_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let config = Config {
        account_id: args.account_id,
        admin: AdminCredential {
            access_key_id: args.admin_access_key_id,
            secret_access_key: args.admin_secret_access_key,
        },
        storage: if args.in_memory {
            StoreLocation::InMemory
        } else {
            StoreLocation::Directory(args.data_dir)
        },
        bootstrap_file: args.bootstrap_file,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        clock: Clock::system(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    keyless_sts::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

fn lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let text = if args.policy.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the policy from stdin")?
    } else {
        std::fs::read_to_string(&args.policy)
            .with_context(|| format!("cannot read {}", args.policy.display()))?
    };
    let findings = keyless_sts::lint::lint_report(&text);
    match args.format {
        LintFormat::Text if findings.is_empty() => println!("no findings"),
        LintFormat::Text => print!("{}", keyless_sts::lint::render_findings(&findings)),
        LintFormat::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
    }
    Ok(if keyless_sts::lint::has_blocking_findings(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Lint(args)) => lint(args),
        None => serve(cli.serve).await.map(|()| ExitCode::SUCCESS),
    }
}
