//! `cargo xtask crash`: the servers survive SIGKILL under load. Bounded in time; stops by
//! itself.
//!
//! keyless-sts: several connections drive AssumeRoleWithWebIdentity; once enough sessions were
//! handed out, keyless-sts is killed with SIGKILL mid-load and restarted on the same data
//! directory. Then its database passes `PRAGMA integrity_check` (a copy taken right after the
//! kill, and the live file read-only after the restart), and EVERY credential the client
//! received in a 200 answer before the kill still works with GetCallerIdentity.
//!
//! keyless-issuer: several connections mint tokens for a running job; the issuer is killed
//! with SIGKILL mid-load and restarted on its data directory (and its old port, so `iss` is
//! unchanged). Then its database passes the integrity check, the JWKS is identical (same keys,
//! same kids), the key states are the same, the job started before the kill still answers and
//! still mints (signed with the same active key), and the STS accepts the new token.
//!
//! Last, every log and audit record is scanned for the secrets handed out
//! ([`crate::e2e::secrets`]).

use std::fs;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::bench_setup::{SessionCredentials, host_of};
use crate::e2e::secrets::{self, ISSUER_DATABASE, Kind, KnownSecrets, STS_DATABASE};
use crate::flow::{Endpoints, FlowClient, StartedJob};
use crate::stack::{self, Binaries, Stack};

/// Connections driving load at the server about to be killed.
const CONNECTIONS: usize = 4;
/// The kill comes once this many answers were received…
const ANSWERS_BEFORE_KILL: u64 = 300;
/// …or after this long, whichever is first.
const LOAD_BEFORE_KILL: Duration = Duration::from_secs(8);
/// How long the load keeps hitting the dead server after the kill.
const LOAD_AFTER_KILL: Duration = Duration::from_millis(300);

/// Runs both crash scenarios and the secrets scan.
pub fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    let binaries = Binaries::build(root)?;
    let mut stack = Stack::boot(root, "crash", binaries, None)?;
    let mut known = KnownSecrets::default();
    crate::soak::add_stack_secrets(&stack, &mut known);
    let client = FlowClient::new(Endpoints::of(&stack));
    let job = client.start_job().map_err(anyhow::Error::msg)?;
    known.add(Kind::JobSecret, &job.job_secret);
    let outcome = sts_crash(&mut stack, &job, &mut known)
        .context("keyless-sts killed under load")
        .and_then(|()| issuer_crash(&mut stack, &job).context("keyless-issuer killed under load"));
    stack.issuer.stop();
    stack.sts.stop();
    outcome?;
    secrets::check("crash", &stack.work_dir, &mut known)?;
    println!(
        "crash: passed in {:.1}s (logs in {})",
        started.elapsed().as_secs_f64(),
        stack.work_dir.display()
    );
    Ok(())
}

/// What a load phase saw.
struct Load {
    /// Answers (200) received before the kill, and what they carried.
    answers: u64,
    /// Errors before the kill (there must be none).
    errors_before_kill: Vec<String>,
    /// Errors after it (expected: the server is gone).
    errors_after_kill: u64,
}

/// Drives `call` on [`CONNECTIONS`] threads, kills the server through `kill` once enough
/// answers came back, keeps the load on briefly, and stops.
fn load_then_kill<T: Send>(
    clients: &[FlowClient],
    call: impl Fn(&FlowClient) -> Result<T, crate::flow::StepError> + Sync,
    received: &Mutex<Vec<T>>,
    kill: impl FnOnce(),
) -> Load {
    let stop = AtomicBool::new(false);
    let killed = AtomicBool::new(false);
    let answers = AtomicU64::new(0);
    let errors_before_kill = Mutex::new(Vec::new());
    let errors_after_kill = AtomicU64::new(0);
    thread::scope(|scope| {
        for client in clients {
            let (call, stop, killed, answers) = (&call, &stop, &killed, &answers);
            let (errors_before_kill, errors_after_kill) = (&errors_before_kill, &errors_after_kill);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    // Read before the call: an error of a call started after the kill is expected.
                    let before_kill = !killed.load(Ordering::SeqCst);
                    match call(client) {
                        Ok(value) => {
                            received
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(value);
                            answers.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(error) if before_kill && !killed.load(Ordering::SeqCst) => {
                            errors_before_kill
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(error.to_string());
                        }
                        Err(_) => {
                            errors_after_kill.fetch_add(1, Ordering::SeqCst);
                            // Back off so a dead server is not hammered in a tight loop.
                            thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            });
        }
        let deadline = Instant::now() + LOAD_BEFORE_KILL;
        while answers.load(Ordering::SeqCst) < ANSWERS_BEFORE_KILL && Instant::now() < deadline {
            // Polling the answer count, not waiting for readiness.
            thread::sleep(Duration::from_millis(10));
        }
        killed.store(true, Ordering::SeqCst);
        kill();
        thread::sleep(LOAD_AFTER_KILL);
        stop.store(true, Ordering::SeqCst);
    });
    Load {
        answers: answers.into_inner(),
        errors_before_kill: errors_before_kill
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
        errors_after_kill: errors_after_kill.into_inner(),
    }
}

fn clients(stack: &Stack) -> Vec<FlowClient> {
    (0..CONNECTIONS)
        .map(|_| FlowClient::new(Endpoints::of(stack)))
        .collect()
}

/// SIGKILL keyless-sts under AssumeRoleWithWebIdentity load; check the database and every
/// credential handed out before the kill.
fn sts_crash(stack: &mut Stack, job: &StartedJob, known: &mut KnownSecrets) -> Result<()> {
    let received = Mutex::new(Vec::<SessionCredentials>::new());
    let clients = clients(stack);
    let sts = &mut stack.sts;
    let load = load_then_kill(
        &clients,
        |client| client.assume(&job.token),
        &received,
        || sts.kill(),
    );
    let sessions = received.into_inner().unwrap_or_else(|p| p.into_inner());
    println!(
        "crash: keyless-sts SIGKILLed after {} sessions handed out on {CONNECTIONS} connections ({} refused calls after the kill)",
        load.answers, load.errors_after_kill
    );
    ensure!(
        load.errors_before_kill.is_empty(),
        "{} AssumeRoleWithWebIdentity call(s) failed before the kill, first: {}",
        load.errors_before_kill.len(),
        load.errors_before_kill[0]
    );
    ensure!(
        !sessions.is_empty(),
        "no session was handed out before the kill"
    );
    for session in &sessions {
        known.add(Kind::SecretAccessKey, &session.secret_access_key);
        known.add(Kind::SessionToken, &session.session_token);
    }
    let database = stack.work_dir.join("sts").join(STS_DATABASE);
    check_copy(&database, &stack.work_dir.join("sts-after-kill"))
        .context("the STS database as the kill left it")?;
    stack.sts = stack::start_sts(&stack.binaries, &stack.work_dir)?;
    secrets::integrity_check(&database).context("the STS database after the restart")?;
    let restarted = FlowClient::new(Endpoints::of(stack));
    let failures = check_sessions(&restarted, &sessions);
    ensure!(
        failures.is_empty(),
        "{} of {} credentials handed out before the kill fail after the restart, e.g. {}",
        failures.len(),
        sessions.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "crash: keyless-sts restarted: database intact, all {} credentials from before the kill work with GetCallerIdentity",
        sessions.len()
    );
    Ok(())
}

/// GetCallerIdentity with every session, on [`CONNECTIONS`] threads; the failures, naming
/// the access key id (not a secret).
fn check_sessions(client: &FlowClient, sessions: &[SessionCredentials]) -> Vec<String> {
    let failures = Mutex::new(Vec::new());
    let chunk = sessions.len().div_ceil(CONNECTIONS).max(1);
    thread::scope(|scope| {
        for part in sessions.chunks(chunk) {
            let client = FlowClient::new(client.endpoints.clone());
            let failures = &failures;
            scope.spawn(move || {
                for session in part {
                    if let Err(error) = client.caller_identity(session) {
                        failures
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("{}: {error}", session.access_key_id));
                    }
                }
            });
        }
    });
    failures.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Copies a killed server's database and WAL (not its shared-memory index) to `scratch` and
/// checks the copy: SQLite recovers the WAL when it opens it, exactly as the restart will.
fn check_copy(database: &Path, scratch: &Path) -> Result<()> {
    fs::create_dir_all(scratch)?;
    let name = database.file_name().context("no file name")?;
    let copy = scratch.join(name);
    fs::copy(database, &copy)?;
    let wal = database.with_file_name(format!("{}-wal", name.to_string_lossy()));
    if wal.exists() {
        fs::copy(
            &wal,
            scratch.join(format!("{}-wal", name.to_string_lossy())),
        )?;
    }
    // Read-write on the copy so the WAL can be recovered; the original is not touched.
    let connection = rusqlite::Connection::open(&copy)?;
    let answer: String = connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    ensure!(answer == "ok", "PRAGMA integrity_check answered {answer:?}");
    Ok(())
}

/// The org's JWKS keys and the admin key listing (`kid`, `state`, times), as the issuer now
/// serves them, each sorted by kid.
fn issuer_keys(stack: &Stack) -> Result<(Value, Value)> {
    let jwks: Value = ureq::get(&format!(
        "{}/org/{}/.well-known/jwks-pub.json",
        stack.issuer.url, stack.platform.org_id
    ))
    .call()?
    .body_mut()
    .read_json()?;
    let mut jwks_keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    jwks_keys.sort_by_key(|key| key["kid"].to_string());
    let mut keys: Value = ureq::get(&format!("{}/api/v1/admin/keys", stack.issuer.url))
        .header("Authorization", &format!("Bearer {}", stack.admin_token))
        .call()?
        .body_mut()
        .read_json()?;
    if let Some(listed) = keys["keys"].as_array_mut() {
        listed.sort_by_key(|key| key["kid"].to_string());
    }
    Ok((Value::Array(jwks_keys), keys))
}

/// SIGKILL keyless-issuer under mint load; check keys, jobs and the database.
fn issuer_crash(stack: &mut Stack, job: &StartedJob) -> Result<()> {
    let (jwks_before, keys_before) = issuer_keys(stack)?;
    let received = Mutex::new(Vec::<()>::new());
    let clients = clients(stack);
    let issuer = &mut stack.issuer;
    let load = load_then_kill(
        &clients,
        |client| client.mint(job).map(|_| ()),
        &received,
        || issuer.kill(),
    );
    println!(
        "crash: keyless-issuer SIGKILLed after {} mints on {CONNECTIONS} connections",
        load.answers
    );
    ensure!(
        load.errors_before_kill.is_empty(),
        "{} mint call(s) failed before the kill, first: {}",
        load.errors_before_kill.len(),
        load.errors_before_kill[0]
    );
    let database = stack.work_dir.join("issuer").join(ISSUER_DATABASE);
    check_copy(&database, &stack.work_dir.join("issuer-after-kill"))
        .context("the issuer database as the kill left it")?;
    let old_address = host_of(&stack.issuer)?.to_string();
    let same_port = match stack::start_issuer_at(
        &stack.binaries,
        &stack.work_dir,
        &stack.admin_token,
        &old_address,
    ) {
        Ok(service) => {
            stack.issuer = service;
            true
        }
        Err(error) => {
            println!("crash: the old port was taken ({error:#}); restarting on a new one");
            stack.issuer =
                stack::start_issuer(&stack.binaries, &stack.work_dir, &stack.admin_token)?;
            false
        }
    };
    secrets::integrity_check(&database).context("the issuer database after the restart")?;
    let (jwks_after, keys_after) = issuer_keys(stack)?;
    ensure!(
        jwks_after == jwks_before,
        "the JWKS changed across the restart:\nbefore {jwks_before}\nafter  {jwks_after}"
    );
    ensure!(
        keys_after == keys_before,
        "the keys changed across the restart:\nbefore {keys_before}\nafter  {keys_after}"
    );
    let mut client = FlowClient::new(Endpoints::of(stack));
    let listed: Value = ureq::get(&format!(
        "{}/api/v1/admin/jobs/{}",
        stack.issuer.url, job.job_id
    ))
    .header("Authorization", &format!("Bearer {}", stack.admin_token))
    .call()
    .context("the job started before the kill is not listed after the restart")?
    .body_mut()
    .read_json()?;
    ensure!(
        listed["status"] == "running",
        "the job is not running after the restart: {listed}"
    );
    let token = client
        .mint(job)
        .map_err(|error| anyhow::anyhow!("the job cannot mint after the restart: {error}"))?;
    let kid = token_kid(&token)?;
    ensure!(
        kid == stack.platform.signing_kid,
        "the token minted after the restart is signed by {kid}, not the key from before ({})",
        stack.platform.signing_kid
    );
    if same_port {
        client.endpoints.sts_url.clone_from(&stack.sts.url);
        let session = client.assume(&token).map_err(|error| {
            anyhow::anyhow!("the STS refuses a token minted after the restart: {error}")
        })?;
        client
            .caller_identity(&session)
            .map_err(anyhow::Error::msg)?;
    }
    println!(
        "crash: keyless-issuer restarted: database intact, same JWKS ({} keys, active {kid}), the job still mints{}",
        jwks_after.as_array().map_or(0, Vec::len),
        if same_port {
            " and the STS accepts its token"
        } else {
            ""
        }
    );
    Ok(())
}

/// The `kid` in a JWT's header.
fn token_kid(token: &str) -> Result<String> {
    use base64::Engine as _;
    let header = token.split('.').next().context("empty token")?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header)?;
    stack::string_field(&serde_json::from_slice(&header)?, "kid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_database_copy_fails_the_check() {
        let scratch =
            std::env::temp_dir().join(format!("keyless-crash-test-{}", std::process::id()));
        let source = scratch.join("source");
        fs::create_dir_all(&source).unwrap();
        let database = source.join("x.sqlite3");
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .execute_batch("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a');")
            .unwrap();
        drop(connection);
        check_copy(&database, &scratch.join("good")).unwrap();
        let mut bytes = fs::read(&database).unwrap();
        // Page 2 holds the table; overwrite its b-tree page header.
        for byte in &mut bytes[4096..4096 + 16] {
            *byte = 0xff;
        }
        fs::write(&database, bytes).unwrap();
        assert!(check_copy(&database, &scratch.join("bad")).is_err());
        fs::remove_dir_all(&scratch).unwrap();
    }
}
