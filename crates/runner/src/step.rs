//! Running one `run` step: the command written to a script file and run by the step's shell
//! (CircleCI's default `/bin/bash -eo pipefail`), in its own process group, with stdout and
//! stderr merged line by line into the masked report, a `no_output_timeout`, and cancellation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::config::RunStep;
use crate::report::{Reporter, Status, StepRecord};

/// After a step's process exits, how long to keep reading output from children it left
/// behind holding the pipe.
const OUTPUT_DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How long a stopped step gets between SIGTERM and SIGKILL.
const TERMINATION_GRACE: Duration = Duration::from_secs(5);

/// The default shell when neither the step nor the job sets one: CircleCI uses
/// `/bin/bash -eo pipefail` when bash exists, else `/bin/sh -eo pipefail`; dash has no
/// `pipefail`, so the fallback here is `/bin/sh -e`.
pub fn default_shell() -> String {
    if Path::new("/bin/bash").exists() {
        "/bin/bash -eo pipefail".to_string()
    } else {
        "/bin/sh -e".to_string()
    }
}

/// Everything a step needs from its job (owned, so background steps can run in a task).
pub struct StepContext {
    /// The full environment.
    pub environment: Vec<(String, String)>,
    /// Where the step runs.
    pub working_directory: PathBuf,
    /// The shell command line (program and flags).
    pub shell: String,
    /// The script file to write the command to.
    pub script_path: PathBuf,
    /// Where output goes.
    pub reporter: Reporter,
    /// Becomes `true` on ctrl-c or SIGTERM.
    pub cancel: watch::Receiver<bool>,
    /// Prefix for output lines (distinguishes background steps).
    pub output_prefix: String,
}

/// Starts the step's process in its own process group.
fn spawn(step: &RunStep, context: &StepContext) -> std::io::Result<Child> {
    crate::private_file::write_private(&context.script_path, step.command.as_bytes())?;
    std::fs::create_dir_all(&context.working_directory)?;
    let mut words = context.shell.split_whitespace();
    let program = words.next().unwrap_or("/bin/sh");
    let mut command = Command::new(program);
    command
        .args(words)
        .arg(&context.script_path)
        .env_clear()
        .envs(
            context
                .environment
                .iter()
                .map(|(name, value)| (name, value)),
        )
        .current_dir(&context.working_directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    command.spawn()
}

/// Sends each line of `stream` to `lines` (invalid UTF-8 replaced).
fn forward_lines(stream: impl AsyncRead + Unpin + Send + 'static, lines: mpsc::Sender<String>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buffer);
                    let text = text.trim_end_matches(['\n', '\r']).to_string();
                    if lines.send(text).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Terminates the process group `process_id` leads: SIGTERM, then SIGKILL after a grace.
pub async fn stop_process_group(process_id: Option<u32>, child: &mut Child) {
    let group = process_id
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(group) = group {
        // The group may already be gone; nothing to do then.
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(TERMINATION_GRACE, child.wait())
        .await
        .is_err()
    {
        if let Some(group) = group {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = child.kill().await;
    }
}

/// Runs a step to completion (or timeout, or cancellation) and returns its record. In JSON
/// mode the masked output lines are kept in the record.
pub async fn run_step(step: &RunStep, mut context: StepContext) -> StepRecord {
    let started = Instant::now();
    let record = |status, exit_code, reason: Option<String>, output| StepRecord {
        name: step.name.clone(),
        kind: "run".to_string(),
        status,
        exit_code,
        duration_ms: started.elapsed().as_millis(),
        reason,
        output,
    };
    let mut child = match spawn(step, &context) {
        Ok(child) => child,
        Err(error) => {
            return record(
                Status::Failed,
                None,
                Some(format!("cannot start shell `{}`: {error}", context.shell)),
                Vec::new(),
            );
        }
    };
    let process_id = child.id();
    let (sender, mut lines) = mpsc::channel::<String>(256);
    if let Some(stdout) = child.stdout.take() {
        forward_lines(stdout, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        forward_lines(stderr, sender.clone());
    }
    drop(sender);

    let keep_output = context.reporter.format() == crate::report::OutputFormat::Json;
    let mut output = Vec::new();
    let mut exit_status = None;
    let mut last_output = Instant::now();
    let mut failure_reason = None;
    let mut canceled = false;
    let mut output_closed = false;
    loop {
        let silence_left = if exit_status.is_some() {
            OUTPUT_DRAIN_GRACE.saturating_sub(last_output.elapsed())
        } else {
            step.no_output_timeout.saturating_sub(last_output.elapsed())
        };
        tokio::select! {
            line = lines.recv(), if !output_closed => match line {
                Some(line) => {
                    last_output = Instant::now();
                    context.reporter.step_output(&context.output_prefix, &line);
                    if keep_output {
                        output.push(context.reporter.masker().mask(&line));
                    }
                }
                None => {
                    // stdout and stderr are closed; the process may still run (and stay
                    // silent), so the timeout and cancellation keep applying until it exits.
                    output_closed = true;
                    if exit_status.is_some() {
                        break;
                    }
                }
            },
            status = child.wait(), if exit_status.is_none() => {
                exit_status = Some(status.unwrap_or_default());
                if output_closed {
                    break;
                }
                last_output = Instant::now();
            }
            () = tokio::time::sleep(silence_left) => {
                if exit_status.is_some() {
                    break;
                }
                failure_reason = Some(format!(
                    "Too long with no output (exceeded {}): context deadline exceeded",
                    go_duration(step.no_output_timeout)
                ));
                stop_process_group(process_id, &mut child).await;
                break;
            }
            changed = context.cancel.changed() => {
                if changed.is_err() || *context.cancel.borrow() {
                    canceled = true;
                    stop_process_group(process_id, &mut child).await;
                    break;
                }
            }
        }
    }
    if (canceled || failure_reason.is_some()) && !output_closed {
        // The process was stopped: what it printed before may still be in the pipe or the
        // channel. Keep it, waiting at most the drain grace for the pipes to close.
        let deadline = tokio::time::Instant::now() + OUTPUT_DRAIN_GRACE;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline, lines.recv()).await {
            context.reporter.step_output(&context.output_prefix, &line);
            if keep_output {
                output.push(context.reporter.masker().mask(&line));
            }
        }
    }
    if canceled {
        return record(
            Status::Canceled,
            None,
            Some("interrupted".to_string()),
            output,
        );
    }
    if let Some(reason) = failure_reason {
        return record(Status::Failed, None, Some(reason), output);
    }
    let exit_code = exit_status.and_then(|status| status.code());
    match exit_code {
        Some(0) => record(Status::Success, Some(0), None, output),
        Some(code) => record(
            Status::Failed,
            Some(code),
            Some(format!("Exited with code exit status {code}")),
            output,
        ),
        None => record(
            Status::Failed,
            None,
            Some("killed by a signal".to_string()),
            output,
        ),
    }
}

/// A duration as Go prints it (`10m0s`, `1h0m0s`, `30s`), as in CircleCI's timeout message.
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes}m{rest}s")
    } else if minutes > 0 {
        format!("{minutes}m{rest}s")
    } else {
        format!("{rest}s")
    }
}

/// Resolves a step's `working_directory` against the job's: the job's configured directory
/// (CircleCI's `~/project` by default) is the local working tree, a relative path is below
/// it, `~/…` is below `$HOME`, an absolute path is itself.
pub fn step_directory(
    configured: Option<&str>,
    job_directory_literal: &str,
    working_tree: &Path,
    home: Option<&Path>,
) -> PathBuf {
    let Some(configured) = configured else {
        return working_tree.to_path_buf();
    };
    let configured = configured.trim_end_matches('/');
    if configured == job_directory_literal || configured.is_empty() {
        return working_tree.to_path_buf();
    }
    if let Some(rest) = configured.strip_prefix(&format!("{job_directory_literal}/")) {
        return working_tree.join(rest);
    }
    if let Some(rest) = configured.strip_prefix("~/")
        && let Some(home) = home
    {
        return home.join(rest);
    }
    let path = Path::new(configured);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        working_tree.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_directories_map_the_job_directory_onto_the_working_tree() {
        let tree = Path::new("/work/tree");
        let home = Some(Path::new("/home/me"));
        let resolve = |configured| step_directory(configured, "~/project", tree, home);
        assert_eq!(resolve(None), tree);
        assert_eq!(resolve(Some("~/project")), tree);
        assert_eq!(resolve(Some("~/project/")), tree);
        assert_eq!(resolve(Some("~/project/web")), tree.join("web"));
        assert_eq!(resolve(Some("web/app")), tree.join("web/app"));
        assert_eq!(resolve(Some("~/cache")), PathBuf::from("/home/me/cache"));
        assert_eq!(resolve(Some("/opt/tool")), PathBuf::from("/opt/tool"));
    }

    #[test]
    fn durations_print_as_go_does_in_circleci_messages() {
        assert_eq!(go_duration(Duration::from_secs(600)), "10m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
    }
}
