//! The library configuration of keyless-sts (what `run` needs), with its defaults as named
//! constants. `main.rs` fills it from flags and `KEYLESS_STS_*` environment variables.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::store::{Durability, StoreLocation};
use crate::verify::VerifierConfig;

/// The account every entity lives in unless configured otherwise (AWS documentation's example).
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// The admin access key id IAM calls must be signed with by default: AWS's documented example
/// key, so it is obviously not a real credential (docs/sts.md).
pub const DEFAULT_ADMIN_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// The admin secret matching [`DEFAULT_ADMIN_ACCESS_KEY_ID`] (AWS documentation's example).
pub const DEFAULT_ADMIN_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// Largest request body accepted: a 131072-character policy percent-encodes to at most ~400 KB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one request may take before the server gives up on it.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an expired session is kept (answering `ExpiredToken`) before it is purged and its
/// key becomes unknown (`InvalidClientTokenId`).
pub const DEFAULT_EXPIRED_SESSION_RETENTION: Duration = Duration::from_secs(3600);
/// How often expired sessions and surplus decisions/events are purged.
pub const DEFAULT_PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How many decisions, and how many audit events, are kept (newest first).
pub const DEFAULT_MAX_RECORDS: usize = 100_000;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

/// An account id that is not 12 digits.
#[derive(Debug, thiserror::Error)]
#[error("an AWS account id is exactly 12 digits, got {0:?}")]
pub struct AccountIdError(String);

impl FromStr for AccountId {
    type Err = AccountIdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() == 12 && text.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(AccountId(text.to_owned()))
        } else {
            Err(AccountIdError(text.to_owned()))
        }
    }
}

impl AccountId {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The long-term credential IAM calls (and admin GetCallerIdentity) are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredential {
    /// `AKIA…` access key id.
    pub access_key_id: String,
    /// The secret; never logged (the `Debug` impl redacts it).
    pub secret_access_key: String,
}

impl fmt::Debug for AdminCredential {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AdminCredential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl Default for AdminCredential {
    fn default() -> Self {
        AdminCredential {
            access_key_id: DEFAULT_ADMIN_ACCESS_KEY_ID.to_owned(),
            secret_access_key: DEFAULT_ADMIN_SECRET_ACCESS_KEY.to_owned(),
        }
    }
}

/// The source of "now", injectable so tests control SigV4 skew and expirations.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(OffsetDateTime::now_utc))
    }

    /// A clock reading `now()` each time.
    pub fn from_fn(now: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    /// The current time.
    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Clock")
    }
}

/// Everything [`crate::run`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The account of every provider and role.
    pub account_id: AccountId,
    /// The credential IAM calls must be signed with.
    pub admin: AdminCredential,
    /// Where state lives.
    pub storage: StoreLocation,
    /// What a commit survives (process kill, or also power loss).
    pub durability: Durability,
    /// A bootstrap file of providers and roles, applied idempotently at start.
    pub bootstrap_file: Option<PathBuf>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Source of the current time.
    pub clock: Clock,
    /// Web identity token verification: issuer map, fetch timeout, cache, skew.
    pub verifier: VerifierConfig,
    /// A JSON-lines file every audit event is also appended to.
    pub audit_file: Option<PathBuf>,
    /// How long expired sessions are kept before purging.
    pub expired_session_retention: Duration,
    /// How often the purge runs.
    pub purge_interval: Duration,
    /// How many decisions and how many audit events are kept.
    pub max_records: usize,
}

impl Config {
    /// Defaults with in-memory storage (tests, throwaway runs).
    pub fn in_memory() -> Self {
        Config {
            // The constant is 12 digits, so parsing cannot fail.
            account_id: AccountId(DEFAULT_ACCOUNT_ID.to_owned()),
            admin: AdminCredential::default(),
            storage: StoreLocation::InMemory,
            durability: Durability::default(),
            bootstrap_file: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            clock: Clock::system(),
            verifier: VerifierConfig::default(),
            audit_file: None,
            expired_session_retention: DEFAULT_EXPIRED_SESSION_RETENTION,
            purge_interval: DEFAULT_PURGE_INTERVAL,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}
