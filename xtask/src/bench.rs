//! `cargo xtask bench`: the services' speed as a measured property.
//!
//! Builds the release binaries, starts them on loopback, sets up an org, two live jobs, the
//! OIDC provider and the role, and drives each scenario with the closed-loop load generator
//! ([`crate::load`]). Each scenario reports requests/s, p50/p99/max latency, errors and the
//! serving process's peak RSS; in the same run `openssl speed` RSA-2048 gives the crypto
//! ceiling each scenario is compared with (signing for minting, verifying for the assume calls).
//! `cargo xtask test` runs [`smoke`]: every scenario for a moment, checking correctness only.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use crate::bench_setup::{self, IssuerFixture, StsFixture};
use crate::ceiling::{Ceiling, cores};
use crate::load::{self, Limit, LoadReport, MachineTicks, Workload};
use crate::stack::{self, Binaries};

/// Default keep-alive connections.
const DEFAULT_CONNECTIONS: usize = 16;
/// Default length of each scenario, in seconds.
const DEFAULT_DURATION_SECONDS: u64 = 10;
/// The longest a `--assume-calls` memory run may take before it stops with what it has.
const MEMORY_RUN_CAP: Duration = Duration::from_secs(30 * 60);
/// The smoke run's length and connections.
const SMOKE_DURATION: Duration = Duration::from_millis(700);
const SMOKE_CONNECTIONS: usize = 2;

/// A measured scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// 1. Issuer: mint V1 and V2 for a live job (two signatures per request).
    Mint,
    /// 2. STS: AssumeRoleWithWebIdentity with a valid token, allowed.
    Assume,
    /// 3. STS: AssumeRoleWithWebIdentity denied by the trust policy.
    AssumeDenied,
    /// 4. STS: GetCallerIdentity signed with session credentials.
    CallerIdentity,
    /// 5. Issuer: the org's JWKS.
    Jwks,
    /// 5. Issuer: the org's discovery document.
    Discovery,
}

impl Scenario {
    const ALL: [Self; 6] = [
        Self::Mint,
        Self::Assume,
        Self::AssumeDenied,
        Self::CallerIdentity,
        Self::Jwks,
        Self::Discovery,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Mint => "mint",
            Self::Assume => "assume",
            Self::AssumeDenied => "assume-denied",
            Self::CallerIdentity => "caller-identity",
            Self::Jwks => "jwks",
            Self::Discovery => "discovery",
        }
    }

    fn on_sts(self) -> bool {
        matches!(
            self,
            Self::Assume | Self::AssumeDenied | Self::CallerIdentity
        )
    }

    /// RSA operations per request and which ceiling bounds them.
    fn crypto(self) -> Option<(f64, Operation)> {
        match self {
            Self::Mint => Some((2.0, Operation::Sign)),
            Self::Assume | Self::AssumeDenied => Some((1.0, Operation::Verify)),
            Self::CallerIdentity | Self::Jwks | Self::Discovery => None,
        }
    }

    /// The target, as text, and whether `report` meets it.
    fn target(self, report: &LoadReport, ceiling: Option<&Ceiling>) -> Option<(String, bool)> {
        let rate = report.requests_per_second();
        let needed = self.target_rate(ceiling)?;
        match self {
            Self::Assume => Some((
                "≥ 25,000 req/s, p99 ≤ 10 ms, 0 errors".to_owned(),
                rate >= needed && report.latency_ms(0.99) <= 10.0 && report.errors == 0,
            )),
            Self::CallerIdentity => Some((
                "≥ 40,000 req/s, p99 ≤ 5 ms".to_owned(),
                rate >= needed && report.latency_ms(0.99) <= 5.0,
            )),
            Self::Mint => Some((
                format!("≥ 0.7 × openssl -multi sign = {:.0} sig/s", 2.0 * needed),
                rate >= needed,
            )),
            Self::AssumeDenied | Self::Jwks | Self::Discovery => None,
        }
    }

    /// The requests per second the target asks for (a mint signs twice).
    fn target_rate(self, ceiling: Option<&Ceiling>) -> Option<f64> {
        match self {
            Self::Assume => Some(25_000.0),
            Self::CallerIdentity => Some(40_000.0),
            Self::Mint => ceiling.map(|ceiling| 0.7 * ceiling.all_cores.sign_per_second / 2.0),
            Self::AssumeDenied | Self::Jwks | Self::Discovery => None,
        }
    }
}

/// What a throughput target leaves each request on these cores, against what the run used.
struct Budget {
    /// Server plus generator CPU per request that the target rate allows on every core.
    allowed_micros: f64,
    /// Server plus generator CPU per request in this run.
    used_micros: f64,
    /// The rate the run's CPU per request allows with every core busy.
    cpu_bound_rate: f64,
    /// How busy the cores were with the server and generator: well under 1 means requests
    /// waited (for the disk, the writer thread, a wake-up) rather than for CPU.
    busy: f64,
}

impl Budget {
    fn new(outcome: &Outcome, target_rate: f64, cores: usize) -> Option<Self> {
        let used_micros = outcome.server_cpu_micros()? + outcome.generator_cpu_micros()?;
        let core_micros = cores as f64 * 1_000_000.0;
        (used_micros > 0.0).then(|| Self {
            allowed_micros: core_micros / target_rate,
            used_micros,
            cpu_bound_rate: core_micros / used_micros,
            busy: outcome.report.requests_per_second() * used_micros / core_micros,
        })
    }
}

#[derive(Clone, Copy)]
enum Operation {
    Sign,
    Verify,
}

/// `cargo xtask bench` flags.
#[derive(Args, Debug)]
pub struct Options {
    /// A scenario to run (repeatable); all of them by default.
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
    /// Keep-alive connections, each a closed loop.
    #[arg(long, default_value_t = DEFAULT_CONNECTIONS)]
    connections: usize,
    /// How long each scenario runs, in seconds.
    #[arg(long, default_value_t = DEFAULT_DURATION_SECONDS)]
    duration: u64,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Memory run: send exactly this many allowed assume calls (instead of running for
    /// --duration; capped at 30 minutes) and report the STS's peak RSS. Implies
    /// `--scenario assume` unless scenarios are given.
    #[arg(long)]
    assume_calls: Option<u64>,
    /// Skip the `openssl speed` ceiling (its ratios are then not printed).
    #[arg(long)]
    no_ceiling: bool,
    /// Benchmark this keyless-sts binary instead of the freshly built one (to compare two
    /// builds in one sitting: copy the old binary aside, change the code, run both).
    #[arg(long, value_name = "PATH")]
    sts_binary: Option<PathBuf>,
    /// Benchmark this keyless-issuer binary instead of the freshly built one.
    #[arg(long, value_name = "PATH")]
    issuer_binary: Option<PathBuf>,
    /// Run only `cargo xtask test`'s smoke run (debug binaries, every scenario briefly,
    /// correctness only) and ignore the other flags.
    #[arg(long)]
    smoke: bool,
}

/// One scenario's outcome.
struct Outcome {
    scenario: Scenario,
    report: LoadReport,
    peak_rss_kib: Option<u64>,
    /// The serving process's CPU time during the scenario.
    server_cpu: Option<Duration>,
    /// The share of the machine's time the hypervisor gave other guests meanwhile.
    steal: Option<f64>,
}

impl Outcome {
    /// The serving process's CPU time per successful request, in microseconds.
    fn server_cpu_micros(&self) -> Option<f64> {
        self.per_success_micros(self.server_cpu)
    }

    /// The load generator's own CPU time per successful request, in microseconds.
    fn generator_cpu_micros(&self) -> Option<f64> {
        self.per_success_micros(self.report.generator_cpu)
    }

    fn per_success_micros(&self, cpu: Option<Duration>) -> Option<f64> {
        let successes = self.report.successes;
        cpu.filter(|_| successes > 0)
            .map(|cpu| cpu.as_secs_f64() * 1_000_000.0 / successes as f64)
    }
}

/// Runs the benchmark.
pub fn run(root: &Path, options: &Options) -> Result<()> {
    if options.smoke {
        return smoke(root);
    }
    let mut scenarios = options.scenarios.clone();
    if scenarios.is_empty() {
        scenarios = match options.assume_calls {
            Some(_) => vec![Scenario::Assume],
            None => Scenario::ALL.to_vec(),
        };
    }
    let limit = Limit {
        duration: match options.assume_calls {
            Some(_) => MEMORY_RUN_CAP,
            None => Duration::from_secs(options.duration),
        },
        requests: options.assume_calls,
    };
    let mut binaries = Binaries::build_release(root)?;
    if let Some(sts) = &options.sts_binary {
        binaries.sts.clone_from(sts);
    }
    if let Some(issuer) = &options.issuer_binary {
        binaries.issuer.clone_from(issuer);
    }
    let ceiling = if options.no_ceiling {
        None
    } else {
        println!("measuring the ceiling: openssl speed rsa2048, one core and -multi");
        match Ceiling::measure() {
            Ok(ceiling) => Some(ceiling),
            Err(error) => {
                println!("no ceiling, so no ratios: {error:#}");
                None
            }
        }
    };
    let outcomes = drive(root, &binaries, &scenarios, options.connections, limit)?;
    let table = render(&outcomes, ceiling.as_ref(), options.connections, limit);
    println!("\n{table}");
    if let Some(path) = &options.json {
        let document = to_json(&outcomes, ceiling.as_ref(), options);
        fs::write(path, serde_json::to_string_pretty(&document)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(())
}

/// `cargo xtask test`'s smoke run: every scenario briefly against the debug binaries; fails
/// unless each one got correct responses and no errors.
pub fn smoke(root: &Path) -> Result<()> {
    let binaries = Binaries::build(root)?;
    let limit = Limit {
        duration: SMOKE_DURATION,
        requests: None,
    };
    let outcomes = drive(root, &binaries, &Scenario::ALL, SMOKE_CONNECTIONS, limit)?;
    for outcome in &outcomes {
        let report = &outcome.report;
        if report.successes == 0 || report.errors > 0 {
            bail!(
                "bench smoke: {} got {} correct responses and {} errors (first: {})",
                outcome.scenario.name(),
                report.successes,
                report.errors,
                report.first_error.as_deref().unwrap_or("none")
            );
        }
        println!(
            "bench smoke: {:<16} {:>6} correct responses, 0 errors",
            outcome.scenario.name(),
            report.successes
        );
    }
    Ok(())
}

/// Starts the services the scenarios need and runs each in turn.
fn drive(
    root: &Path,
    binaries: &Binaries,
    scenarios: &[Scenario],
    connections: usize,
    limit: Limit,
) -> Result<Vec<Outcome>> {
    let data_dir = stack::target_dir(root).join("bench");
    if data_dir.exists() {
        fs::remove_dir_all(&data_dir)?;
    }
    let issuer = bench_setup::start_issuer(binaries, &data_dir)?;
    let sts = if scenarios.iter().any(|scenario| scenario.on_sts()) {
        Some(bench_setup::start_sts(
            binaries,
            &data_dir,
            &issuer.platform,
        )?)
    } else {
        None
    };
    let mut outcomes = Vec::new();
    for &scenario in scenarios {
        let (workload, service) = prepare(scenario, &issuer, sts.as_ref())?;
        let address = bench_setup::host_of(service)?;
        println!("running {} ({connections} connections)", scenario.name());
        let (cpu_before, ticks_before) = (load::cpu_time(service.pid()), MachineTicks::now());
        let report = load::run(address, &workload, connections, limit)?;
        outcomes.push(Outcome {
            scenario,
            peak_rss_kib: load::peak_rss_kib(service.pid()),
            server_cpu: cpu_before
                .zip(load::cpu_time(service.pid()))
                .map(|(before, after)| after.saturating_sub(before)),
            steal: ticks_before
                .zip(MachineTicks::now())
                .map(|(before, after)| before.steal_since(after)),
            report,
        });
    }
    Ok(outcomes)
}

/// The request a scenario replays and the service it targets.
fn prepare<'a>(
    scenario: Scenario,
    issuer: &'a IssuerFixture,
    sts: Option<&'a StsFixture>,
) -> Result<(Workload, &'a crate::service::Service)> {
    let sts_fixture = || sts.context("the STS was not started");
    Ok(match scenario {
        Scenario::Mint => (bench_setup::mint_workload(issuer)?, &issuer.service),
        Scenario::Jwks => (bench_setup::jwks_workload(issuer)?, &issuer.service),
        Scenario::Discovery => (bench_setup::discovery_workload(issuer)?, &issuer.service),
        Scenario::Assume => {
            let sts = sts_fixture()?;
            let workload = bench_setup::assume_workload(sts, &issuer.admitted_job, true)?;
            (workload, &sts.service)
        }
        Scenario::AssumeDenied => {
            let sts = sts_fixture()?;
            let workload = bench_setup::assume_workload(sts, &issuer.refused_job, false)?;
            (workload, &sts.service)
        }
        Scenario::CallerIdentity => {
            let sts = sts_fixture()?;
            let session = bench_setup::assume_once(sts, &issuer.admitted_job)?;
            let workload = bench_setup::caller_identity_workload(sts, &session)?;
            (workload, &sts.service)
        }
    })
}

/// The ratio of a scenario's RSA operations per second to the one-core and all-core ceilings.
fn ratios(outcome: &Outcome, ceiling: Option<&Ceiling>) -> Option<(f64, f64, f64)> {
    let (per_request, operation) = outcome.scenario.crypto()?;
    let ceiling = ceiling?;
    let operations = per_request * outcome.report.requests_per_second();
    let (one, all) = match operation {
        Operation::Sign => (
            ceiling.one_core.sign_per_second,
            ceiling.all_cores.sign_per_second,
        ),
        Operation::Verify => (
            ceiling.one_core.verify_per_second,
            ceiling.all_cores.verify_per_second,
        ),
    };
    Some((operations, operations / one, operations / all))
}

fn render(
    outcomes: &[Outcome],
    ceiling: Option<&Ceiling>,
    connections: usize,
    limit: Limit,
) -> String {
    let cores = cores();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{connections} connections, {}",
        match limit.requests {
            Some(count) => format!("{count} requests (cap {} s)", limit.duration.as_secs()),
            None => format!("{} s per scenario", limit.duration.as_secs()),
        }
    );
    if let Some(ceiling) = ceiling {
        let _ = writeln!(
            text,
            "ceiling (openssl speed rsa2048): one core {:.0} sign/s, {:.0} verify/s; -multi {} {:.0} sign/s, {:.0} verify/s",
            ceiling.one_core.sign_per_second,
            ceiling.one_core.verify_per_second,
            ceiling.cores,
            ceiling.all_cores.sign_per_second,
            ceiling.all_cores.verify_per_second
        );
        if let Some(steal) = ceiling.all_cores_steal {
            let _ = writeln!(
                text,
                "-multi ran with {:.0} % steal; it reached {:.2} × the one-core figure per core{}",
                steal * 100.0,
                ceiling.all_cores.sign_per_second
                    / (ceiling.one_core.sign_per_second * ceiling.cores as f64),
                if steal > 0.05 {
                    " (a stolen ceiling is low and flatters the ratios below)"
                } else {
                    ""
                }
            );
        }
        if ceiling.all_cores.sign_per_second < ceiling.one_core.sign_per_second {
            let _ = writeln!(
                text,
                "WARNING: -multi signed less than one core did; the machine is busy and the ratios below are not trustworthy"
            );
        }
    }
    let _ = writeln!(
        text,
        "{:<16} {:>10} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8} {:>6}  ceiling ratio (RSA ops/s ÷ 1 core, ÷ all cores)",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "peak RSS",
        "CPU µs",
        "load µs",
        "steal"
    );
    for outcome in outcomes {
        let report = &outcome.report;
        let rss = outcome.peak_rss_kib.map_or("?".to_owned(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        });
        let ratio = ratios(outcome, ceiling).map_or("—".to_owned(), |(operations, one, all)| {
            format!("{operations:.0} ops/s: {one:.2} × 1 core, {all:.2} × all")
        });
        let micros =
            |value: Option<f64>| value.map_or("?".to_owned(), |micros| format!("{micros:.0}"));
        let cpu = micros(outcome.server_cpu_micros());
        let generator = micros(outcome.generator_cpu_micros());
        let steal = outcome
            .steal
            .map_or("?".to_owned(), |steal| format!("{:.0} %", steal * 100.0));
        let _ = writeln!(
            text,
            "{:<16} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>9} {:>8} {:>8} {:>6}  {ratio}",
            outcome.scenario.name(),
            report.requests_per_second(),
            report.latency_ms(0.5),
            report.latency_ms(0.99),
            report.latency_ms(1.0),
            report.errors,
            rss,
            cpu,
            generator,
            steal
        );
        if let Some(error) = &report.first_error {
            let _ = writeln!(text, "    first error: {error}");
        }
        if let Some((target, met)) = outcome.scenario.target(report, ceiling) {
            let verdict = if met { "met" } else { "MISSED" };
            let _ = writeln!(text, "    target {target}: {verdict}");
        }
        if let Some(budget) = budget(outcome, ceiling) {
            let _ = writeln!(
                text,
                "    CPU budget: the target leaves {:.0} µs per request (server + load) on {cores} cores; \
                 this run used {:.0} µs, enough for {:.0} req/s with every core busy; the cores were {:.0} % busy",
                budget.allowed_micros,
                budget.used_micros,
                budget.cpu_bound_rate,
                budget.busy * 100.0
            );
        }
    }
    let _ = write!(
        text,
        "peak RSS is VmHWM of the serving process since it started (cumulative over earlier scenarios on the same service);\n\
         CPU µs is the serving process's CPU time (user + system) per successful request, load µs the load generator's\n\
         own (its one event-loop thread) on the same cores; steal is the share of\n\
         the machine's time the hypervisor gave to other guests during the scenario (high steal makes req/s unreliable)"
    );
    text
}

/// The CPU budget of a scenario with a throughput target, on this machine's cores.
fn budget(outcome: &Outcome, ceiling: Option<&Ceiling>) -> Option<Budget> {
    let rate = outcome.scenario.target_rate(ceiling)?;
    Budget::new(outcome, rate, cores())
}

fn to_json(outcomes: &[Outcome], ceiling: Option<&Ceiling>, options: &Options) -> Value {
    let scenarios: Vec<Value> = outcomes
        .iter()
        .map(|outcome| {
            let report = &outcome.report;
            let ratio = ratios(outcome, ceiling);
            json!({
                "scenario": outcome.scenario.name(),
                "successes": report.successes,
                "errors": report.errors,
                "first_error": report.first_error,
                "elapsed_seconds": report.elapsed.as_secs_f64(),
                "requests_per_second": report.requests_per_second(),
                "latency_ms": {"p50": report.latency_ms(0.5), "p99": report.latency_ms(0.99), "max": report.latency_ms(1.0)},
                "peak_rss_kib": outcome.peak_rss_kib,
                "server_cpu_micros_per_request": outcome.server_cpu_micros(),
                "generator_cpu_micros_per_request": outcome.generator_cpu_micros(),
                "steal_fraction": outcome.steal,
                "rsa_operations_per_second": ratio.map(|(operations, _, _)| operations),
                "ratio_to_one_core": ratio.map(|(_, one, _)| one),
                "ratio_to_all_cores": ratio.map(|(_, _, all)| all),
                "target": outcome.scenario.target(report, ceiling).map(|(text, met)| json!({"text": text, "met": met})),
                "cpu_budget": budget(outcome, ceiling).map(|budget| json!({
                    "allowed_micros_per_request": budget.allowed_micros,
                    "used_micros_per_request": budget.used_micros,
                    "cpu_bound_requests_per_second": budget.cpu_bound_rate,
                    "cores_busy_fraction": budget.busy,
                })),
            })
        })
        .collect();
    json!({
        "connections": options.connections,
        "duration_seconds": options.duration,
        "assume_calls": options.assume_calls,
        "cores": cores(),
        "ceiling": ceiling.map(|ceiling| ceiling.to_json()),
        "scenarios": scenarios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10,000 assumes in 2 s (5,000/s) that cost the server 1.5 s and the generator 0.25 s.
    fn outcome(server_cpu: Option<Duration>) -> Outcome {
        Outcome {
            scenario: Scenario::Assume,
            report: LoadReport {
                successes: 10_000,
                errors: 0,
                elapsed: Duration::from_secs(2),
                latencies_micros: vec![1_000; 10],
                first_error: None,
                generator_cpu: Some(Duration::from_millis(250)),
            },
            peak_rss_kib: None,
            server_cpu,
            steal: None,
        }
    }

    #[test]
    fn the_cpu_budget_compares_the_target_with_the_run() {
        let budget =
            Budget::new(&outcome(Some(Duration::from_millis(1_500))), 25_000.0, 2).unwrap();
        // 2 cores at 25,000/s leave 80 µs; the run used 150 + 25 µs.
        assert!((budget.allowed_micros - 80.0).abs() < 1e-9);
        assert!((budget.used_micros - 175.0).abs() < 1e-9);
        assert!((budget.cpu_bound_rate - 2_000_000.0 / 175.0).abs() < 1e-6);
        // 5,000/s × 175 µs = 0.875 s of CPU per second, of the 2 s that 2 cores have.
        assert!((budget.busy - 0.4375).abs() < 1e-9);
        assert!(Budget::new(&outcome(None), 25_000.0, 2).is_none());
    }

    #[test]
    fn only_throughput_targets_have_a_budget() {
        let outcome = outcome(Some(Duration::from_secs(1)));
        assert!(budget(&outcome, None).is_some());
        let jwks = Outcome {
            scenario: Scenario::Jwks,
            ..outcome
        };
        assert!(budget(&jwks, None).is_none());
        assert!(Scenario::Mint.target_rate(None).is_none());
    }
}
