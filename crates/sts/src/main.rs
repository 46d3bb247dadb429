//! The `keyless-sts` binary: parses flags (each also from a `KEYLESS_STS_*` environment
//! variable), sets up logging, binds the listener and runs the library's server until Ctrl-C or
//! SIGTERM. `serve` is the default subcommand and prints `keyless-sts listening on http://ADDR`
//! on stdout once bound; `lint POLICY.json` prints static findings about a trust policy and exits
//! non-zero on an ERROR or SECURITY_WARNING; `explain` prints a stored decision, or evaluates a
//! token against a role without assuming it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use keyless_sts::config::{
    AccountId, AdminCredential, Clock, Config, DEFAULT_ACCOUNT_ID, DEFAULT_ADMIN_ACCESS_KEY_ID,
    DEFAULT_ADMIN_SECRET_ACCESS_KEY, DEFAULT_EXPIRED_SESSION_RETENTION, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_RECORDS, DEFAULT_PURGE_INTERVAL, DEFAULT_REQUEST_TIMEOUT,
};
use keyless_sts::store::{Durability, StoreLocation};
use keyless_sts::sts::DecisionRecord;
use keyless_sts::verify::{DEFAULT_FETCH_TIMEOUT, IssuerMapping, VerifierConfig};

/// mimalloc instead of the system allocator: each request allocates and frees hundreds of small
/// buffers, and glibc's malloc/free was about a tenth of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where the server listens by default.
const DEFAULT_LISTEN: &str = "127.0.0.1:8566";
/// The server `explain` asks by default.
const DEFAULT_URL: &str = "http://127.0.0.1:8566";
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
    /// Print the explained decision of an AssumeRoleWithWebIdentity request by its RequestId, or
    /// (with --token and --role) evaluate a token against a role without assuming it; the
    /// latter exits 1 when the request would be denied.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The RequestId of the response to explain.
    #[arg(required_unless_present_any = ["token", "last_denied"], conflicts_with_all = ["token", "role", "last_denied"])]
    request_id: Option<String>,
    /// Explain the most recent refused AssumeRoleWithWebIdentity instead of a given RequestId.
    #[arg(long, conflicts_with_all = ["token", "role"])]
    last_denied: bool,
    /// A file holding the web identity token to evaluate (`-` for standard input).
    #[arg(long, requires = "role")]
    token: Option<PathBuf>,
    /// The role ARN to evaluate the token against.
    #[arg(long, requires = "token")]
    role: Option<String>,
    /// RoleSessionName for the evaluation.
    #[arg(long)]
    session_name: Option<String>,
    /// The keyless-sts server.
    #[arg(long, env = "KEYLESS_STS_URL", default_value = DEFAULT_URL)]
    url: String,
    /// Print the decision as JSON instead of text.
    #[arg(long)]
    json: bool,
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
    /// What a committed write survives: `process` (a kill or crash of keyless-sts; SQLite
    /// synchronous=NORMAL) or `power` (also a power cut; fsync on every commit, slower).
    #[arg(long, env = "KEYLESS_STS_DURABILITY", value_enum, default_value_t = Durability::Process)]
    durability: Durability,
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
    /// Fetch an issuer's discovery and keys from a local address: `PUBLIC=LOCAL` URL prefixes,
    /// e.g. `https://oidc.circleci.com=http://127.0.0.1:8555` (repeatable; comma-separated in the
    /// environment variable). Identity, provider ARN and condition keys stay the public ones.
    #[arg(
        long = "issuer-map",
        env = "KEYLESS_STS_ISSUER_MAP",
        value_delimiter = ','
    )]
    issuer_map: Vec<IssuerMapping>,
    /// Budget for fetching an issuer's discovery document and keys, in seconds (AWS: 5).
    #[arg(long, env = "KEYLESS_STS_JWKS_FETCH_TIMEOUT_SECONDS", default_value_t = DEFAULT_FETCH_TIMEOUT.as_secs())]
    jwks_fetch_timeout_seconds: u64,
    /// Also append every audit event to this JSON-lines file.
    #[arg(long, env = "KEYLESS_STS_AUDIT_FILE")]
    audit_file: Option<PathBuf>,
    /// How long an expired session still answers ExpiredToken before it is purged, in seconds.
    #[arg(long, env = "KEYLESS_STS_EXPIRED_SESSION_RETENTION_SECONDS", default_value_t = DEFAULT_EXPIRED_SESSION_RETENTION.as_secs())]
    expired_session_retention_seconds: u64,
    /// How often expired sessions and old decisions/events are purged, in seconds.
    #[arg(long, env = "KEYLESS_STS_PURGE_INTERVAL_SECONDS", default_value_t = DEFAULT_PURGE_INTERVAL.as_secs())]
    purge_interval_seconds: u64,
    /// How many decisions, and how many audit events, are kept.
    #[arg(long, env = "KEYLESS_STS_MAX_RECORDS", default_value_t = DEFAULT_MAX_RECORDS)]
    max_records: usize,
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
    // Colours only for a person at a terminal: a log redirected to a file (as `cargo xtask
    // up`, the demo and the benchmarks do) stays plain text, and `NO_COLOR` turns them off.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
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
        durability: args.durability,
        bootstrap_file: args.bootstrap_file,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        clock: Clock::system(),
        verifier: VerifierConfig {
            issuer_map: args.issuer_map,
            fetch_timeout: Duration::from_secs(args.jwks_fetch_timeout_seconds),
            ..VerifierConfig::default()
        },
        audit_file: args.audit_file,
        expired_session_retention: Duration::from_secs(args.expired_session_retention_seconds),
        purge_interval: Duration::from_secs(args.purge_interval_seconds.max(1)),
        max_records: args.max_records,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let router = keyless_sts::server::app(config).await?;
    println!("keyless-sts listening on http://{address}");
    keyless_sts::server::serve(listener, router, shutdown_signal()).await?;
    Ok(())
}

async fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let base = args.url.trim_end_matches('/');
    let client = reqwest::Client::new();
    if args.last_denied {
        let url = format!("{base}/_keyless/decisions?limit=1&allowed=false");
        let response = client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let text = response.text().await.context("cannot read the answer")?;
        if !status.is_success() {
            anyhow::bail!("{status}: {text}");
        }
        let mut records: Vec<DecisionRecord> = serde_json::from_str(&text)
            .context("the server's answer is not a list of decisions")?;
        let Some(record) = records.pop() else {
            anyhow::bail!("no refused AssumeRoleWithWebIdentity is recorded");
        };
        print_record(&record, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (response, dry_run) = match (&args.request_id, &args.token, &args.role) {
        (Some(request_id), _, _) => {
            let url = format!("{base}/_keyless/decisions/{request_id}");
            (
                client
                    .get(&url)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {url}"))?,
                false,
            )
        }
        (None, Some(token_file), Some(role)) => {
            let token = if token_file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("cannot read the token from stdin")?
            } else {
                std::fs::read_to_string(token_file)
                    .with_context(|| format!("cannot read {}", token_file.display()))?
            };
            let url = format!("{base}/_keyless/explain");
            let body = serde_json::json!({
                "token": token,
                "role_arn": role,
                "role_session_name": args.session_name,
            });
            (
                client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {url}"))?,
                true,
            )
        }
        _ => anyhow::bail!("give a REQUEST_ID, or --token FILE and --role ARN"),
    };
    let status = response.status();
    let text = response.text().await.context("cannot read the answer")?;
    if !status.is_success() {
        anyhow::bail!("{status}: {text}");
    }
    let record: DecisionRecord =
        serde_json::from_str(&text).context("the server's answer is not a decision")?;
    print_record(&record, args.json)?;
    Ok(if dry_run && !record.allowed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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

fn print_record(record: &DecisionRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(record)?);
    } else {
        print!("{}", record.render_text());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Serve(args)) => serve(args).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Lint(args)) => lint(args),
        Some(Command::Explain(args)) => explain(args).await,
        None => serve(cli.serve).await.map(|()| ExitCode::SUCCESS),
    }
}
