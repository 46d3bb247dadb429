//! The Python virtual environment that holds the real AWS clients (AWS CLI, boto3) and PyJWT.
//!
//! Created under `target/venv` from the system's Python 3 and `xtask/python-requirements.txt`,
//! and reused while the requirements file is unchanged (a stamp file holds a copy of it). Tests
//! find the interpreter and the CLI through `KEYLESS_PYTHON` and `KEYLESS_AWS_CLI`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Where the environment's programs live once it is ready.
#[derive(Clone)]
pub struct PythonEnvironment {
    /// The environment's `python`.
    pub python: PathBuf,
    /// The environment's `aws` (AWS CLI v1).
    pub aws_cli: PathBuf,
}

/// Finds the system's Python 3, if any.
pub fn system_python() -> Option<PathBuf> {
    ["python3", "python"].into_iter().find_map(|name| {
        let output = Command::new(name).arg("--version").output().ok()?;
        let version = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success() && version.contains("Python 3")).then(|| PathBuf::from(name))
    })
}

/// The environment when the machine has Python 3 (set up as [`ensure`] does), `None` when it
/// has none.
pub fn ensure_if_available(root: &Path) -> Result<Option<PythonEnvironment>> {
    match system_python() {
        Some(_) => ensure(root).map(Some),
        None => Ok(None),
    }
}

/// Makes sure `target/venv` exists with the pinned requirements, installing them if the
/// requirements changed since the last install.
pub fn ensure(root: &Path) -> Result<PythonEnvironment> {
    let requirements_path = root.join("xtask/python-requirements.txt");
    let requirements = fs::read_to_string(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;
    let venv = root.join("target/venv");
    let stamp = venv.join("keyless-requirements.txt");
    let environment = PythonEnvironment {
        python: venv.join("bin/python"),
        aws_cli: venv.join("bin/aws"),
    };
    let up_to_date = fs::read_to_string(&stamp).is_ok_and(|installed| installed == requirements)
        && environment.python.exists()
        && environment.aws_cli.exists();
    if up_to_date {
        return Ok(environment);
    }
    let Some(python) = system_python() else {
        bail!("Python 3 is needed for the AWS CLI and boto3 tests, and none was found on PATH");
    };
    println!("setting up {} (AWS CLI, boto3, PyJWT)", venv.display());
    run(Command::new(&python)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))?;
    run(Command::new(&environment.python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--requirement",
        ])
        .arg(&requirements_path))?;
    fs::write(&stamp, requirements)?;
    Ok(environment)
}

/// Runs a command, failing with its description if it fails.
fn run(command: &mut Command) -> Result<()> {
    let description = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {description}"))?;
    if !status.success() {
        bail!("{description} failed ({status})");
    }
    Ok(())
}
