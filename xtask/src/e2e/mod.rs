//! `cargo xtask e2e`: the integration suite against the real binaries and real AWS clients.
//!
//! One stack (issuer, STS, org with two projects and a context, the org's provider and the
//! demo's role) is booted for the suite; each scenario adds what it needs (roles, settings,
//! jobs), runs the AWS CLI, boto3 or `keyless-runner` with its own `HOME` (the AWS CLI caches
//! web-identity credentials there), and asserts on what came back. The suite ends with a
//! `N passed, N failed` line and fails if any scenario failed. Last comes the secrets scan
//! ([`secrets`]): no log or audit record the stack (and the demo's) wrote holds a secret.

mod flows;
mod rust_sdk;
pub mod secrets;
mod support;

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use support::Suite;

/// A scenario: a name and the function that runs it.
type Scenario = (&'static str, fn(&mut Suite) -> Result<()>);

/// Every scenario, in the order they run (the restart and issuer-down ones last: they stop
/// services).
const SCENARIOS: &[Scenario] = &[
    (
        "announcement flow with the AWS CLI",
        flows::announcement_flow,
    ),
    ("a denial and its explanation", flows::denial_is_explained),
    (
        "boto3 assumes the role and calls GetCallerIdentity",
        flows::boto3_flow,
    ),
    (
        "the AWS SDK for Rust assumes the role and calls GetCallerIdentity",
        rust_sdk::rust_sdk_flow,
    ),
    ("cargo xtask demo (AWS CLI)", |suite| {
        crate::demo::run(&suite.root, false)
    }),
    (
        "the demo without Python: AWS calls through the AWS SDK for Rust",
        |suite| crate::demo::run(&suite.root, true),
    ),
    (
        "the web-identity credential provider path",
        flows::web_identity_provider,
    ),
    (
        "a custom aud from circleci run oidc get",
        flows::custom_audience,
    ),
    (
        "V1 vs V2 sub and the branch restriction",
        flows::v1_v2_and_branch,
    ),
    (
        "the project-id condition key",
        flows::project_id_condition_key,
    ),
    ("the context rule on and off", flows::context_rule),
    ("key rotation while jobs run", flows::key_rotation),
    (
        "an STS restart keeps sessions",
        flows::sts_restart_keeps_sessions,
    ),
    ("the issuer down", flows::issuer_down),
];

/// Runs every scenario (or those whose name contains `filter`).
pub fn run(root: &Path, filter: Option<&str>) -> Result<()> {
    let started = Instant::now();
    let mut suite = Suite::start(root)?;
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in SCENARIOS {
        if filter.is_some_and(|filter| !name.contains(filter)) {
            continue;
        }
        let scenario_started = Instant::now();
        match scenario(&mut suite) {
            Ok(()) => {
                passed += 1;
                println!(
                    "e2e: ok     {name} ({:.1}s)",
                    scenario_started.elapsed().as_secs_f64()
                );
            }
            Err(error) => {
                failed += 1;
                println!("e2e: FAILED {name}: {error:#}");
            }
        }
    }
    let scan_started = Instant::now();
    match scan_for_secrets(&suite, filter) {
        Ok(()) => {
            passed += 1;
            println!(
                "e2e: ok     secrets stay secret ({:.1}s)",
                scan_started.elapsed().as_secs_f64()
            );
        }
        Err(error) => {
            failed += 1;
            println!("e2e: FAILED secrets stay secret: {error:#}");
        }
    }
    println!(
        "e2e: {passed} passed, {failed} failed in {:.1}s (logs in {})",
        started.elapsed().as_secs_f64(),
        suite.stack.work_dir.display()
    );
    if failed > 0 {
        bail!("{failed} end-to-end scenario(s) failed");
    }
    Ok(())
}

/// Scans what the suite's stack wrote, and the demo's stack when the demo ran, for secrets.
fn scan_for_secrets(suite: &Suite, filter: Option<&str>) -> Result<()> {
    let mut known = secrets::KnownSecrets::default();
    known.add(secrets::Kind::AdminToken, &suite.stack.admin_token);
    known.add(
        secrets::Kind::RunnerToken,
        &suite.stack.platform.runner_token,
    );
    known.add(
        secrets::Kind::StsAdminSecret,
        crate::stack::ADMIN_SECRET_ACCESS_KEY,
    );
    secrets::check("e2e", &suite.stack.work_dir, &mut known)?;
    let demo_ran = filter.is_none_or(|filter| {
        SCENARIOS
            .iter()
            .any(|(name, _)| name.contains("demo") && name.contains(filter))
    });
    let demo_dir = suite.root.join("target").join("demo");
    if demo_ran && demo_dir.exists() {
        secrets::check("e2e (the demo's stack)", &demo_dir, &mut known)?;
    }
    Ok(())
}
