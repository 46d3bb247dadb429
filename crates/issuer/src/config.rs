//! The issuer's configuration: one `clap` struct whose every flag can also come from a
//! `KEYLESS_ISSUER_*` environment variable, with defaults as named constants.
//!
//! Tests build a [`Config`] with [`Config::for_tests`] and replace the clock with a manual one.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use keyless_claims::JsonDuration;

use crate::clock::ClockHandle;
use crate::store::durability::Durability;

/// Where the server listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7410";

/// Where state lives unless `--data-dir` or `--in-memory` is given.
pub const DEFAULT_DATA_DIR: &str = "keyless-issuer-data";

/// The largest request body accepted, in bytes. Every request of the API is a small JSON object.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// How long one request may take before the server answers 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a discovery document or JWKS may be cached by verifiers (`Cache-Control: max-age`).
/// A rotation promotes a key that has been published since the previous rotation, so a cache
/// this old still holds the new signing key unless two rotations happen within this window.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// How often a running server checks whether another process (`keyless-issuer keys rotate`)
/// changed the keys in its data directory, and whether a scheduled rotation is due.
pub const KEY_WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The admin API's bearer token. Its `Debug` form is redacted so it never reaches a log.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// Whether `presented` is this token, compared in constant time
    /// ([`crate::secret::secrets_equal`]).
    pub fn matches(&self, presented: &str) -> bool {
        crate::secret::secrets_equal(presented, &self.0)
    }
}

impl FromStr for AdminToken {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        if value.trim().is_empty() {
            return Err("the admin token must not be empty".to_owned());
        }
        Ok(Self(value.to_owned()))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AdminToken(<redacted>)")
    }
}

/// Everything `keyless-issuer serve` needs.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "KEYLESS_ISSUER_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// The base URL written into `iss` and the discovery documents, e.g.
    /// `https://oidc.circleci.com` (default: `http://` + the bound address).
    #[arg(long, env = "KEYLESS_ISSUER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Directory holding the SQLite database (keys, platform model, jobs, audit).
    #[arg(long, env = "KEYLESS_ISSUER_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Keep all state in memory (lost at exit); for tests and throwaway runs.
    #[arg(long, env = "KEYLESS_ISSUER_IN_MEMORY")]
    pub in_memory: bool,

    /// A bootstrap file (YAML, or JSON which is YAML too) declaring orgs, projects, users,
    /// contexts, runner tokens and settings; applied idempotently at every start.
    #[arg(long = "config", env = "KEYLESS_ISSUER_CONFIG")]
    pub bootstrap_file: Option<PathBuf>,

    /// Bearer token for the admin API; without it the admin API refuses every request.
    #[arg(long, env = "KEYLESS_ISSUER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<AdminToken>,

    /// How durable a commit is before the issuer answers: `process` survives the issuer
    /// crashing but not a power loss (SQLite WAL, `synchronous=NORMAL`); `power` waits for the
    /// disk on every commit (`synchronous=FULL`).
    #[arg(long, env = "KEYLESS_ISSUER_DURABILITY", value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,

    /// Log format.
    #[arg(long, env = "KEYLESS_ISSUER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Rotate the signing key automatically this often, e.g. `24h` (default: only on command).
    #[arg(long, env = "KEYLESS_ISSUER_ROTATION_INTERVAL")]
    pub rotation_interval: Option<JsonDuration>,

    /// The clock; the system clock outside tests.
    #[arg(skip)]
    pub clock: ClockHandle,
}

impl Config {
    /// An in-memory configuration listening on a loopback port chosen by the test.
    pub fn for_tests() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            in_memory: true,
            bootstrap_file: None,
            admin_token: None,
            durability: Durability::Process,
            log_format: LogFormat::Text,
            rotation_interval: None,
            clock: ClockHandle::default(),
        }
    }
}
