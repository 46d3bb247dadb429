//! What the runner prints. Text mode streams for a person: a header per step, the step's
//! output, its duration and exit status, a job summary. JSON mode prints one document at the
//! end for machines. Everything passes through the [`Masker`] first.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::mask::Masker;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, streamed.
    Text,
    /// One JSON document at the end.
    Json,
}

/// How a step or job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exit status 0.
    Success,
    /// Non-zero exit, signal or no-output timeout.
    Failed,
    /// Interrupted (ctrl-c or SIGTERM).
    Canceled,
    /// Not run because of `when` or an earlier failure.
    Skipped,
    /// A step keyless-runner does not simulate.
    NotSimulated,
    /// A background step still running when the job ended.
    Background,
}

impl Status {
    /// The lowercase word for text output.
    pub fn word(self) -> &'static str {
        match self {
            Self::Success => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Skipped => "skipped",
            Self::NotSimulated => "not simulated",
            Self::Background => "running in background",
        }
    }
}

/// One step's record.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// The step's name.
    pub name: String,
    /// `run`, `checkout` or the not-simulated step's key.
    pub kind: String,
    /// How it ended.
    pub status: Status,
    /// The exit status, when a process exited.
    pub exit_code: Option<i32>,
    /// Wall time in milliseconds.
    pub duration_ms: u128,
    /// Why it failed or was skipped, when it did.
    pub reason: Option<String>,
    /// Output lines, masked (JSON mode only).
    pub output: Vec<String>,
}

/// The token part of a job record.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRecord {
    /// Whether the issuer granted tokens.
    pub granted: bool,
    /// The refusal code, when refused.
    pub refusal_code: Option<String>,
    /// The refusal sentence, when refused.
    pub refusal_message: Option<String>,
    /// The V1 token's `sub`.
    pub sub: Option<String>,
    /// The V2 token's `sub`.
    pub sub_v2: Option<String>,
    /// The tokens' `aud`.
    pub aud: Option<serde_json::Value>,
}

impl TokenRecord {
    /// The grant and the claims worth showing, read from the issuer's job-start answer.
    pub fn from_job(started: &crate::issuer::StartedJob) -> Self {
        let claim = |token: &Option<String>, name: &str| {
            token
                .as_deref()
                .and_then(crate::token::payload)
                .and_then(|claims| claims.get(name).cloned())
        };
        Self {
            granted: started.tokens.granted,
            refusal_code: started
                .tokens
                .refusal
                .as_ref()
                .map(|refusal| refusal.code.clone()),
            refusal_message: started
                .tokens
                .refusal
                .as_ref()
                .map(|refusal| refusal.message.clone()),
            sub: claim(&started.oidc_token, "sub").and_then(|sub| sub.as_str().map(str::to_string)),
            sub_v2: claim(&started.oidc_token_v2, "sub")
                .and_then(|sub| sub.as_str().map(str::to_string)),
            aud: claim(&started.oidc_token_v2, "aud"),
        }
    }
}

/// One job's record.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// The job's name.
    pub name: String,
    /// The job id at the issuer, once started.
    pub job_id: Option<String>,
    /// `CIRCLE_BUILD_NUM`.
    pub build_num: Option<u64>,
    /// The workflow id.
    pub workflow_id: Option<String>,
    /// How the job ended.
    pub status: Status,
    /// Wall time in milliseconds.
    pub duration_ms: u128,
    /// Token grant.
    pub tokens: Option<TokenRecord>,
    /// Features that are not simulated, and other notes.
    pub notices: Vec<String>,
    /// The steps.
    pub steps: Vec<StepRecord>,
}

/// The whole run's record (the JSON document).
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The workflow, when one ran.
    pub workflow: Option<String>,
    /// Overall status.
    pub status: Status,
    /// Run-level notices (configuration features not simulated).
    pub notices: Vec<String>,
    /// Jobs that ran (or were skipped) in order.
    pub jobs: Vec<JobRecord>,
    /// Workflow jobs left out by filters, with why.
    pub filtered: Vec<FilteredRecord>,
}

/// A workflow job that did not run.
#[derive(Debug, Clone, Serialize)]
pub struct FilteredRecord {
    /// The job's name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Prints as things happen (text) or collects (JSON). Cloning shares the output.
#[derive(Debug, Clone)]
pub struct Reporter {
    format: OutputFormat,
    masker: Masker,
    lock: Arc<Mutex<()>>,
}

impl Reporter {
    /// A reporter writing `format` to stdout, masking with `masker`.
    pub fn new(format: OutputFormat, masker: Masker) -> Self {
        Self {
            format,
            masker,
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// The output format.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// The masker.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Prints a line in text mode (masked); nothing in JSON mode.
    pub fn line(&self, text: &str) {
        if self.format == OutputFormat::Text {
            let masked = self.masker.mask(text);
            let _guard = self
                .lock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut stdout = std::io::stdout().lock();
            // A closed stdout (e.g. `| head`) must not stop the job: output is best effort.
            let _ = writeln!(stdout, "{masked}");
            let _ = stdout.flush();
        }
    }

    /// A note about something not simulated or worth knowing.
    pub fn notice(&self, text: &str) {
        self.line(&format!("note: {text}"));
    }

    /// The header of a step.
    pub fn step_header(&self, name: &str) {
        self.line(&format!("── step: {name}"));
    }

    /// One line of a step's output.
    pub fn step_output(&self, prefix: &str, line: &str) {
        self.line(&format!("{prefix}| {line}"));
    }

    /// The footer of a step.
    pub fn step_footer(&self, record: &StepRecord) {
        let mark = match record.status {
            Status::Success => "✓",
            Status::Failed | Status::Canceled => "✗",
            _ => "-",
        };
        let mut text = format!("── {mark} {}", record.status.word());
        if let Some(code) = record.exit_code.filter(|code| *code != 0) {
            text.push_str(&format!(" (exit {code})"));
        }
        if matches!(
            record.status,
            Status::Success | Status::Failed | Status::Canceled
        ) {
            text.push_str(&format!(
                " in {}",
                human_duration(Duration::from_millis(record.duration_ms as u64))
            ));
        }
        if let Some(reason) = &record.reason {
            text.push_str(&format!(": {reason}"));
        }
        self.line(&text);
    }

    /// Prints the JSON document (JSON mode), masked.
    pub fn finish(&self, record: &RunRecord) {
        if self.format == OutputFormat::Json {
            let text = serde_json::to_string_pretty(record).unwrap_or_else(|error| {
                format!("{{\"error\":\"cannot serialise the report: {error}\"}}")
            });
            let masked = self.masker.mask(&text);
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{masked}");
            let _ = stdout.flush();
        }
    }
}

/// `1.2s`, `3m04s`.
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}
