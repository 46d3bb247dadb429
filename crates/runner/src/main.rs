//! The `keyless-runner` binary: parses the command line and hands over to the library
//! (`run` for jobs and workflows, `circleci-shim` for the `circleci` command inside steps).

use clap::Parser;
use keyless_runner::cli::{Cli, Command, LogFormat};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        );
    match cli.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("keyless-runner: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run(arguments) => keyless_runner::run::run(*arguments).await,
            Command::CircleciShim { arguments } => keyless_runner::shim::run(&arguments).await,
        }
    });
    // Exit statuses here are 0–255 by construction (run::EXIT_* and the shim's 0/1).
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
