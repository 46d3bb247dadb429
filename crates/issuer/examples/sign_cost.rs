//! The CPU cost of the issuer's RS256 signatures alone: signs a job-token-sized signing input
//! N times (default 2,000) with the issuer's own [`SigningKey`] (an `aws-lc-rs` key pair parsed
//! once) on one thread, and prints the thread's CPU time per signature.
//!
//! CPU time (`/proc/thread-self/schedstat`, nanoseconds on a CPU), not wall time, so the figure
//! holds on a busy machine; it is the floor that `docs/benchmarks.md` compares the CPU cost of a
//! whole mint (two signatures) with. Run: `cargo run --release -p keyless-issuer --example
//! sign_cost -- 2000`.

use keyless_issuer::crypto::SigningKey;
use keyless_issuer::crypto::jwt::encode_rs256;

/// The thread's CPU time so far, in nanoseconds.
fn thread_cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(2_000);
    let (key, _der) = SigningKey::generate()?;
    // Claims shaped like a job token's (about 600 bytes of JSON).
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:8080/org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
        "sub": "org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e/project/3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c/user/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/vcs-origin/github.com/acme/widgets/vcs-ref/refs/heads/main",
        "aud": "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
        "iat": 1_764_720_000, "exp": 1_764_723_600,
        "oidc.circleci.com/project-id": "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c",
        "oidc.circleci.com/context-ids": ["7b6a5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"],
        "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
    });
    let message = vec![b'e'; 900];
    for _ in 0..50 {
        key.sign_rs256(&message)?;
    }
    let start = thread_cpu_nanos();
    for _ in 0..count {
        key.sign_rs256(&message)?;
    }
    let signing = thread_cpu_nanos() - start;
    let start = thread_cpu_nanos();
    for _ in 0..count {
        encode_rs256(&key, &claims)?;
    }
    let encoding = thread_cpu_nanos() - start;
    let per = |nanos: u64| nanos as f64 / f64::from(count) / 1_000.0;
    println!(
        "{count} signatures: {:.1} us CPU each (RSA alone); {:.1} us each as a whole token \
         (JSON + base64 + RSA)",
        per(signing),
        per(encoding)
    );
    Ok(())
}
