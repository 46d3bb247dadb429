//! The `keyless-issuer` binary: parses flags (each also from a `KEYLESS_ISSUER_*` variable),
//! sets up logging, binds, and runs the library's server until ctrl-c or SIGTERM; or operates
//! on a data directory's keys (`keys rotate`, `keys list`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use keyless_issuer::config::DEFAULT_DATA_DIR;
use keyless_issuer::{ClockHandle, Config, LogFormat};

/// A CircleCI-style OIDC issuer: per-org issuers, rotating RS256 keys, and the job token API.
#[derive(Debug, Parser)]
#[command(
    name = "keyless-issuer",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flags for serving when no subcommand is given.
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the issuer (the default).
    Serve(Config),
    /// Manage the signing keys in a data directory.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Rotate: the pre-published next key starts signing, the active key retires (published
    /// until its tokens expire), a new next key is published. Safe while a server runs.
    Rotate(KeysArgs),
    /// List the keys and their states.
    List(KeysArgs),
}

#[derive(Debug, clap::Args)]
struct KeysArgs {
    /// Directory holding the issuer's database.
    #[arg(long, env = "KEYLESS_ISSUER_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
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
            tracing::error!(error = %error, "cannot listen for ctrl-c");
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
                tracing::error!(error = %error, "cannot listen for SIGTERM");
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = match cli.command {
        None => cli.serve,
        Some(Command::Serve(config)) => config,
        Some(Command::Keys { action }) => {
            init_logging(LogFormat::Text);
            let clock = ClockHandle::default();
            return match action {
                KeysCommand::Rotate(args) => {
                    let kid = keyless_issuer::rotate_keys_in(&args.data_dir, &clock)
                        .context("rotating the signing keys")?;
                    println!("rotated: active kid {kid}");
                    Ok(())
                }
                KeysCommand::List(args) => {
                    let keys = keyless_issuer::list_keys_in(&args.data_dir, &clock)
                        .context("listing the signing keys")?;
                    println!("{}", serde_json::to_string_pretty(&keys)?);
                    Ok(())
                }
            };
        }
    };
    init_logging(config.log_format);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let address = listener.local_addr()?;
    println!("keyless-issuer listening on http://{address}");
    keyless_issuer::run(listener, config, shutdown_signal()).await?;
    Ok(())
}
