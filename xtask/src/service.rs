//! Starting keyless's real binaries for the demo, `up` and the end-to-end suite.
//!
//! A service is started listening on `127.0.0.1:0`; it prints one line
//! `<name> listening on http://ADDRESS` on standard output once its listener is bound, which is
//! how we learn its address without fixed ports and without sleeping. Everything else it prints
//! goes to a log file beside its data (appended to, so a restarted service's log follows its
//! earlier one), so a failure can be investigated afterwards and the secrets scan sees every
//! line. Dropping a [`Service`] stops the process.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How long a service may take to bind its listener before we give up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running service process.
pub struct Service {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Where its output goes.
    pub log_path: PathBuf,
    child: Child,
}

impl Service {
    /// Starts `binary` with `arguments`, waits for its `listening on` line, and returns it.
    pub fn start(binary: &Path, arguments: &[String], log_path: &Path) -> Result<Self> {
        let name = binary
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("service")
            .to_owned();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .with_context(|| format!("creating log file {}", log_path.display()))?;
        let mut child = Command::new(binary)
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (sender, receiver) = mpsc::channel();
        let marker = format!("{name} listening on ");
        let mut log_for_stdout = log;
        // Copies standard output to the log, and reports the address once it is announced.
        thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(log_for_stdout, "{line}");
                if let Some(address) = line.strip_prefix(&marker)
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(address.trim().to_owned());
                }
            }
        });
        let url = match receiver.recv_timeout(STARTUP_TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                bail!(
                    "{name} did not start within {}s (exit: {status:?}); see {}",
                    STARTUP_TIMEOUT.as_secs(),
                    log_path.display()
                );
            }
        };
        Ok(Self {
            url,
            log_path: log_path.to_path_buf(),
            child,
        })
    }

    /// The process id, for reading its memory figures from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the process: SIGTERM first so it shuts down cleanly, then SIGKILL if it lingers.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
