//! `cargo xtask soak`: a bounded soak of the real binaries. It boots the stack (the build
//! `cargo xtask test` uses), then starts full flows at a steady rate — start a job, mint a
//! token, AssumeRoleWithWebIdentity, GetCallerIdentity with the session, finish the job (see
//! [`crate::flow`]) — for the given time, reporting every 5 seconds the flows done, the errors
//! by kind and both servers' resident memory (`VmRSS` in `/proc/PID/status`).
//!
//! It fails if any flow failed, or if memory was not flat: for each server, the RSS at the end
//! must be at most [`GROWTH_FACTOR`] × the RSS at the end of the warm-up (the first quarter of
//! the run, 5 to 60 seconds) plus [`SLACK_KIB`]. Then every log and audit record the stack
//! wrote is scanned for the secrets the flows were handed ([`crate::e2e::secrets`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::e2e::secrets::{self, Kind, KnownSecrets};
use crate::flow::{Endpoints, FlowClient};
use crate::load::rss_kib;
use crate::stack::{self, Binaries, Stack};

/// The end RSS may be at most this many times the RSS after the warm-up…
pub const GROWTH_FACTOR: f64 = 1.25;
/// …plus this much (KiB): allocator arenas and SQLite's page cache settle in steps.
pub const SLACK_KIB: u64 = 8 * 1024;
/// How often progress is reported.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Flows not started this long after the run's end are abandoned (the rate was not held).
const LATE_LIMIT: Duration = Duration::from_secs(10);
/// The longest soak accepted (a day): every run is bounded.
const MAX_SECONDS: u64 = 24 * 60 * 60;

/// `cargo xtask soak` options.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Run for this many minutes (default: 1).
    #[arg(long, conflicts_with = "seconds")]
    minutes: Option<u64>,
    /// Run for this many seconds, for short runs.
    #[arg(long)]
    seconds: Option<u64>,
    /// Full flows started per second.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// Use release builds of the servers instead of the debug ones `cargo xtask test` uses.
    #[arg(long)]
    release: bool,
}

impl Options {
    /// The 20-second run `cargo xtask test` does.
    pub fn short() -> Self {
        Self {
            minutes: None,
            seconds: Some(20),
            rate: 50,
            release: false,
        }
    }

    fn duration(&self) -> Result<Duration> {
        let seconds = match (self.minutes, self.seconds) {
            (Some(minutes), _) => minutes.saturating_mul(60),
            (None, Some(seconds)) => seconds,
            (None, None) => 60,
        };
        if seconds == 0 || seconds > MAX_SECONDS {
            bail!("the soak must last between 1 second and {MAX_SECONDS} seconds");
        }
        Ok(Duration::from_secs(seconds))
    }
}

/// One memory sample of both servers.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    issuer_kib: u64,
    sts_kib: u64,
}

/// What the workers share.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    failed: AtomicU64,
    abandoned: AtomicU64,
    /// Error count and first message, by `step: kind`.
    errors: Mutex<BTreeMap<String, (u64, String)>>,
    /// The secrets every flow was handed, for the scan.
    handed: Mutex<KnownSecrets>,
}

/// Runs the soak.
pub fn run(root: &Path, options: &Options) -> Result<()> {
    let duration = duration_and_rate(options)?;
    let binaries = if options.release {
        Binaries::build_release(root)?
    } else {
        Binaries::build(root)?
    };
    let mut stack = Stack::boot(root, "soak", binaries, None)?;
    let pids = (stack.issuer.pid(), stack.sts.pid());
    let warm_up = (duration / 4).clamp(Duration::from_secs(5), Duration::from_secs(60));
    let total_flows = (f64::from(options.rate) * duration.as_secs_f64()).round() as u64;
    let workers = (options.rate as usize / 4).clamp(4, 32);
    println!(
        "soak: {total_flows} full flows at {}/s for {}s on {workers} connections; warm-up {}s; logs in {}",
        options.rate,
        duration.as_secs(),
        warm_up.as_secs(),
        stack.work_dir.display()
    );
    let tally = Tally::default();
    let next_flow = AtomicU64::new(0);
    let finished_workers = AtomicUsize::new(0);
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate));
    let endpoints = Endpoints::of(&stack);
    let mut samples = Vec::new();
    thread::scope(|scope| {
        for _ in 0..workers {
            let client = FlowClient::new(endpoints.clone());
            let (tally, next_flow, finished) = (&tally, &next_flow, &finished_workers);
            scope.spawn(move || {
                drive(&client, tally, next_flow, total_flows, started, interval);
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        let mut next_report = REPORT_EVERY;
        while finished_workers.load(Ordering::SeqCst) < workers {
            // Pacing the reports, not waiting for readiness.
            thread::sleep(Duration::from_millis(100));
            if started.elapsed() >= next_report {
                samples.push(report(&tally, started, pids));
                next_report += REPORT_EVERY;
            }
        }
    });
    let last = report(&tally, started, pids);
    samples.push(last);
    let errors = tally.errors.into_inner().unwrap_or_else(|p| p.into_inner());
    let abandoned = tally.abandoned.load(Ordering::SeqCst);
    let mut failures = Vec::new();
    for (label, (count, first)) in &errors {
        failures.push(format!("{count} × {label} (first: {first})"));
    }
    if abandoned > 0 {
        println!(
            "soak: {abandoned} flow(s) not started: the stack did not keep up with {}/s",
            options.rate
        );
    }
    let memory = memory_verdict(&samples, warm_up);
    println!("soak: {}", memory.join("; "));
    stack.issuer.stop();
    stack.sts.stop();
    let mut known = tally.handed.into_inner().unwrap_or_else(|p| p.into_inner());
    add_stack_secrets(&stack, &mut known);
    let scan = secrets::check("soak", &stack.work_dir, &mut known);
    if !failures.is_empty() {
        bail!("the soak saw errors:\n  {}", failures.join("\n  "));
    }
    if memory.iter().any(|line| line.contains("NOT flat")) {
        bail!("memory was not flat: {}", memory.join("; "));
    }
    scan?;
    println!(
        "soak: passed: {} flows, 0 errors, memory flat",
        tally.done.load(Ordering::SeqCst)
    );
    Ok(())
}

fn duration_and_rate(options: &Options) -> Result<Duration> {
    if options.rate == 0 || options.rate > 10_000 {
        bail!("--rate must be between 1 and 10000 flows per second");
    }
    options.duration()
}

/// The stack's own secrets: the admin token, the runner token, the STS admin secret.
pub fn add_stack_secrets(stack: &Stack, known: &mut KnownSecrets) {
    known.add(Kind::AdminToken, &stack.admin_token);
    known.add(Kind::RunnerToken, &stack.platform.runner_token);
    known.add(Kind::StsAdminSecret, stack::ADMIN_SECRET_ACCESS_KEY);
}

/// One worker: takes the next flow's ticket, waits for its start time, runs it.
fn drive(
    client: &FlowClient,
    tally: &Tally,
    next_flow: &AtomicU64,
    total_flows: u64,
    started: Instant,
    interval: Duration,
) {
    let mut handed = KnownSecrets::default();
    let run_end = started + interval.saturating_mul(u32::try_from(total_flows).unwrap_or(u32::MAX));
    loop {
        let ticket = next_flow.fetch_add(1, Ordering::SeqCst);
        if ticket >= total_flows {
            break;
        }
        let due = started + interval.saturating_mul(u32::try_from(ticket).unwrap_or(u32::MAX));
        let now = Instant::now();
        if now > run_end + LATE_LIMIT {
            tally.abandoned.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if due > now {
            // The steady rate: each flow starts at its scheduled time.
            thread::sleep(due - now);
        }
        match client.run(&mut handed) {
            Ok(()) => {
                tally.done.fetch_add(1, Ordering::SeqCst);
            }
            Err(error) => {
                tally.failed.fetch_add(1, Ordering::SeqCst);
                let mut errors = tally.errors.lock().unwrap_or_else(|p| p.into_inner());
                let entry = errors
                    .entry(error.label())
                    .or_insert_with(|| (0, error.detail.clone()));
                entry.0 += 1;
            }
        }
    }
    tally
        .handed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(handed);
}

/// Prints one progress line and returns the memory sample.
fn report(tally: &Tally, started: Instant, (issuer, sts): (u32, u32)) -> Sample {
    let sample = Sample {
        at: started.elapsed(),
        issuer_kib: rss_kib(issuer).unwrap_or(0),
        sts_kib: rss_kib(sts).unwrap_or(0),
    };
    let done = tally.done.load(Ordering::SeqCst);
    let errors = tally.errors.lock().unwrap_or_else(|p| p.into_inner());
    let by_kind: Vec<String> = errors
        .iter()
        .map(|(label, (count, _))| format!("{label} ×{count}"))
        .collect();
    println!(
        "soak: {:>5.1}s  flows {done:>6} ({:.1}/s)  errors {}{}  RSS issuer {:.1} MiB, sts {:.1} MiB",
        sample.at.as_secs_f64(),
        done as f64 / sample.at.as_secs_f64().max(f64::EPSILON),
        tally.failed.load(Ordering::SeqCst),
        if by_kind.is_empty() {
            String::new()
        } else {
            format!(" [{}]", by_kind.join(", "))
        },
        sample.issuer_kib as f64 / 1024.0,
        sample.sts_kib as f64 / 1024.0,
    );
    sample
}

/// One line per server: baseline, end, limit, and whether memory was flat.
fn memory_verdict(samples: &[Sample], warm_up: Duration) -> Vec<String> {
    let Some(last) = samples.last() else {
        return vec!["no memory sample (NOT flat)".to_owned()];
    };
    let baseline = samples
        .iter()
        .find(|sample| sample.at >= warm_up)
        .unwrap_or(last);
    let servers = [
        ("issuer", baseline.issuer_kib, last.issuer_kib),
        ("sts", baseline.sts_kib, last.sts_kib),
    ];
    servers
        .iter()
        .map(|(name, start, end)| {
            let limit = (*start as f64 * GROWTH_FACTOR) as u64 + SLACK_KIB;
            let verdict = if *start > 0 && end <= &limit {
                "flat"
            } else {
                "NOT flat"
            };
            format!(
                "{name} RSS {:.1} MiB after warm-up ({:.0}s), {:.1} MiB at the end (limit {:.1} MiB): {verdict}",
                *start as f64 / 1024.0,
                baseline.at.as_secs_f64(),
                *end as f64 / 1024.0,
                limit as f64 / 1024.0
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds: u64, issuer_kib: u64, sts_kib: u64) -> Sample {
        Sample {
            at: Duration::from_secs(seconds),
            issuer_kib,
            sts_kib,
        }
    }

    #[test]
    fn memory_is_flat_within_the_factor_and_slack() {
        let samples = [
            sample(5, 10_000, 20_000),
            sample(10, 30_000, 20_000),
            sample(20, 20_000, 33_000),
        ];
        let verdict = memory_verdict(&samples, Duration::from_secs(5));
        assert!(verdict[0].ends_with(": flat"), "{verdict:?}");
        assert!(verdict[1].ends_with(": flat"), "{verdict:?}");
    }

    #[test]
    fn memory_growth_beyond_the_limit_is_not_flat() {
        let samples = [sample(5, 10_000, 20_000), sample(20, 10_000, 33_193)];
        let verdict = memory_verdict(&samples, Duration::from_secs(5));
        assert!(verdict[1].ends_with("NOT flat"), "{verdict:?}");
    }
}
