//! `cargo xtask up`: the demo's stack and setup, left running for a person to use.
//!
//! Prints the environment as `KEY=value` lines (and writes them to `--env-file`), so
//! `set -a; . ./keyless.env; set +a` points the AWS CLI and the runner at it. Ctrl-c or SIGTERM
//! stops both services cleanly.

use std::fs;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{Context, Result};

use crate::python;
use crate::stack::{self, Binaries, Stack};

/// Starts the stack, prints and writes its environment, and waits for ctrl-c or SIGTERM.
pub fn run(root: &Path, env_file: Option<&Path>) -> Result<()> {
    let python = python::ensure_if_available(root)?;
    let binaries = Binaries::build(root)?;
    let Stack {
        issuer,
        sts,
        admin_token,
        platform,
        role_arn,
        ..
    } = Stack::boot(root, "up", binaries, python)?;

    let environment = [
        ("KEYLESS_ISSUER_URL", issuer.url.clone()),
        ("KEYLESS_ORG_ID", platform.org_id.clone()),
        ("KEYLESS_ORG_ISSUER", platform.org_issuer.clone()),
        ("KEYLESS_PROJECT_ID", platform.project_id.clone()),
        (
            "KEYLESS_OTHER_PROJECT_ID",
            platform.other_project_id.clone(),
        ),
        ("KEYLESS_RUNNER_TOKEN", platform.runner_token.clone()),
        ("KEYLESS_ADMIN_TOKEN", admin_token),
        ("KEYLESS_STS_URL", sts.url.clone()),
        ("KEYLESS_ROLE_ARN", role_arn),
        ("AWS_ENDPOINT_URL", sts.url.clone()),
        ("AWS_REGION", stack::REGION.to_owned()),
        ("AWS_DEFAULT_REGION", stack::REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", stack::ADMIN_ACCESS_KEY_ID.to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            stack::ADMIN_SECRET_ACCESS_KEY.to_owned(),
        ),
    ];
    let lines: String = environment
        .iter()
        .map(|(key, value)| format!("{key}={value}\n"))
        .collect();
    print!("{lines}");
    if let Some(path) = env_file {
        fs::write(path, &lines).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!(
        "keyless is up (issuer log: {}, sts log: {}). Press ctrl-c to stop.",
        issuer.log_path.display(),
        sts.log_path.display()
    );

    let (stop, stopped) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })
    .context("installing the ctrl-c/SIGTERM handler")?;
    let _ = stopped.recv();
    eprintln!("stopping keyless-issuer and keyless-sts");
    drop(issuer);
    drop(sts);
    Ok(())
}
