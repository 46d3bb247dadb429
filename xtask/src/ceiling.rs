//! The crypto ceiling the bench compares against: `openssl speed` RSA-2048 sign and verify, on
//! one core and on all cores (`-multi N`). A service that signs or verifies one RS256 token per
//! request cannot beat these figures, so each scenario is printed as a ratio to its ceiling.

use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::load::MachineTicks;

/// Seconds `openssl speed` spends on each of sign and verify.
const SPEED_SECONDS: &str = "2";

/// RSA-2048 operations per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RsaSpeed {
    /// Signatures per second.
    pub sign_per_second: f64,
    /// Verifications per second.
    pub verify_per_second: f64,
}

/// The ceiling on one core and on `cores` cores.
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    /// `openssl speed rsa2048`.
    pub one_core: RsaSpeed,
    /// `openssl speed -multi {cores} rsa2048`.
    pub all_cores: RsaSpeed,
    /// How many processes `-multi` ran.
    pub cores: usize,
    /// The share of the machine's time the hypervisor gave other guests while `-multi` ran
    /// (a stolen ceiling is a low one, and flatters every ratio against it).
    pub all_cores_steal: Option<f64>,
}

/// The machine's cores: what `-multi` runs on, and what the services and the load generator
/// share during the bench.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl Ceiling {
    /// Measures it, or explains why it could not (openssl absent or its output unreadable).
    pub fn measure() -> Result<Self> {
        let cores = cores();
        let one_core = run_speed(&["speed", "-seconds", SPEED_SECONDS, "rsa2048"])?;
        let multi = cores.to_string();
        let before = MachineTicks::now();
        let all_cores = run_speed(&[
            "speed",
            "-seconds",
            SPEED_SECONDS,
            "-multi",
            &multi,
            "rsa2048",
        ])?;
        let all_cores_steal = before
            .zip(MachineTicks::now())
            .map(|(before, after)| before.steal_since(after));
        Ok(Self {
            one_core,
            all_cores,
            cores,
            all_cores_steal,
        })
    }

    /// The figures as JSON for `--json`.
    pub fn to_json(self) -> Value {
        json!({
            "tool": "openssl speed rsa2048",
            "cores": self.cores,
            "one_core": {"sign_per_second": self.one_core.sign_per_second, "verify_per_second": self.one_core.verify_per_second},
            "all_cores": {"sign_per_second": self.all_cores.sign_per_second, "verify_per_second": self.all_cores.verify_per_second, "steal_fraction": self.all_cores_steal},
        })
    }
}

fn run_speed(arguments: &[&str]) -> Result<RsaSpeed> {
    let output = Command::new("openssl")
        .args(arguments)
        .output()
        .context("running openssl (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "openssl {} failed ({}): {}",
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_speed(&String::from_utf8_lossy(&output.stdout))
        .with_context(|| format!("reading the output of openssl {}", arguments.join(" ")))
}

/// Reads the RSA table of `openssl speed`: a header naming the columns (`sign verify sign/s
/// verify/s`, OpenSSL 3.2+ adds encrypt/decrypt columns) and a `rsa 2048 bits …` row whose
/// values follow `bits` in the header's order.
pub fn parse_speed(output: &str) -> Result<RsaSpeed> {
    let header: Vec<&str> = output
        .lines()
        .find(|line| line.contains("sign/s") && line.contains("verify/s"))
        .context("no sign/s verify/s header")?
        .split_whitespace()
        .collect();
    let row = output
        .lines()
        .find(|line| {
            let mut words = line.split_whitespace();
            words.next() == Some("rsa") && words.next() == Some("2048")
        })
        .context("no rsa 2048 bits row")?;
    let values: Vec<&str> = row
        .split_whitespace()
        .skip_while(|word| *word != "bits")
        .skip(1)
        .collect();
    let column = |name: &str| -> Result<f64> {
        let index = header
            .iter()
            .position(|word| *word == name)
            .with_context(|| format!("no {name} column"))?;
        values
            .get(index)
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("no number in the {name} column of {row:?}"))
    };
    Ok(RsaSpeed {
        sign_per_second: column("sign/s")?,
        verify_per_second: column("verify/s")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openssl_3_0_output() {
        let output = "options: bn(64,64)\n                  sign    verify    sign/s verify/s\nrsa 2048 bits 0.000257s 0.000016s   3895.7  61191.3\n";
        assert_eq!(
            parse_speed(output).unwrap(),
            RsaSpeed {
                sign_per_second: 3895.7,
                verify_per_second: 61191.3
            }
        );
    }

    #[test]
    fn reads_the_wider_table_of_later_versions() {
        let output = "                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s\nrsa  2048 bits 0.000700s 0.000020s 0.000021s 0.000690s   1428.6  50000.0  47619.0   1449.3\n";
        let speed = parse_speed(output).unwrap();
        assert_eq!(speed.sign_per_second, 1428.6);
        assert_eq!(speed.verify_per_second, 50000.0);
    }

    #[test]
    fn refuses_output_without_the_table() {
        assert!(parse_speed("Doing 2048 bits private rsa's for 2s").is_err());
    }
}
