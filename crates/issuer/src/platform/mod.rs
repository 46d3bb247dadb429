//! The CI platform: everything the HTTP layer asks of the issuer, as synchronous operations
//! over the [`Store`], the [`KeyRing`] and the clock.
//!
//! - [`jobs`] (with [`job_types`] and [`job_validation`]): start a job (runner token), mint its tokens and finish it (job secret).
//!   Their audit rows are group-committed (`mint_commit`).
//! - [`tokens`]: the rules (context, forks), the claim set, signing and the audit.
//! - [`admin`] (with [`admin_types`]): the admin API's operations on the model and token settings.
//! - [`negative`]: deliberately invalid tokens for testing relying parties.
//!
//! Operations may sign or generate keys (CPU-bound) and touch SQLite (blocking I/O): the HTTP
//! layer runs them on blocking threads, never on the async runtime's workers.

pub mod admin;
pub mod admin_types;
pub mod job_types;
pub mod job_validation;
pub mod jobs;
mod mint_commit;
#[cfg(test)]
mod mint_tests;
pub mod negative;
pub mod tokens;

use std::collections::HashSet;
use std::sync::RwLock;

use keyless_claims::discovery::{org_issuer, root_issuer};
use keyless_claims::{Jwks, NumericDate, OpenIdConfiguration, OrgId};

use crate::clock::ClockHandle;
use crate::error::{PlatformError, PlatformResult};
use crate::keyring::{KeyRing, Rotator};
use crate::store::Store;

/// The issuer's state: store, keys, clock and the public base URL.
#[derive(Debug)]
pub struct Platform {
    /// The database.
    pub store: Store,
    /// The signing keys.
    pub keys: KeyRing,
    /// The clock.
    pub clock: ClockHandle,
    /// The base URL of every issuer, without trailing slash.
    public_url: String,
    /// Mints waiting for their audit rows to be committed (group commit).
    mint_queue: mint_commit::MintQueue,
    /// Orgs seen to exist. Orgs are never deleted, so once seen an org is known for good, and
    /// the public JWKS and discovery routes (the hottest) answer without a database read.
    known_orgs: RwLock<HashSet<OrgId>>,
}

impl Platform {
    /// Opens the platform: loads (or creates) the keys.
    pub fn open(store: Store, clock: ClockHandle, public_url: &str) -> PlatformResult<Self> {
        let keys = KeyRing::open(&store, clock.now())?;
        Ok(Self {
            store,
            keys,
            clock,
            public_url: root_issuer(public_url),
            mint_queue: mint_commit::MintQueue::default(),
            known_orgs: RwLock::default(),
        })
    }

    /// The current time.
    pub fn now(&self) -> NumericDate {
        self.clock.now()
    }

    /// The base URL, which is also the root issuer.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// An org's issuer, `{public-url}/org/{org-id}`.
    pub fn org_issuer(&self, org: &OrgId) -> String {
        org_issuer(&self.public_url, org)
    }

    /// The discovery document of an org's issuer.
    pub fn org_discovery(&self, org: &OrgId) -> OpenIdConfiguration {
        OpenIdConfiguration::circleci(&self.org_issuer(org))
    }

    /// The root issuer's discovery document.
    pub fn root_discovery(&self) -> OpenIdConfiguration {
        OpenIdConfiguration::circleci(&self.public_url)
    }

    /// Whether an org exists (a database read unless it is already known).
    pub fn org_exists(&self, org: &OrgId) -> PlatformResult<bool> {
        if self.org_known(org) {
            return Ok(true);
        }
        let exists = self.store.read(|tx| tx.org_by_id(org))?.is_some();
        if exists {
            self.known_orgs
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(*org);
        }
        Ok(exists)
    }

    /// Whether an org is known to exist without reading the database: true once
    /// [`Platform::org_exists`] has found it (orgs are never deleted).
    pub fn org_known(&self, org: &OrgId) -> bool {
        // A poisoned lock only means a writer panicked mid-insert; the set is still valid.
        self.known_orgs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(org)
    }

    /// The keys published now.
    pub fn jwks(&self) -> Jwks {
        self.keys.published(self.now())
    }

    /// Rotates the signing key now; returns the new active kid.
    pub fn rotate_keys(&self) -> PlatformResult<String> {
        let kid = self
            .keys
            .rotate(&self.store, self.now(), Rotator::ServingProcess)?;
        tracing::info!(kid = %kid, "rotated the signing key");
        Ok(kid)
    }

    /// Housekeeping run every few seconds: picks up key changes made by another process,
    /// rotates when the interval is due, removes retired keys whose tokens have all expired.
    pub fn maintain_keys(
        &self,
        last_data_version: &mut Option<i64>,
        rotation_interval: Option<std::time::Duration>,
    ) -> PlatformResult<()> {
        let version = self.store.data_version()?;
        if last_data_version.is_some_and(|last| last != version) {
            self.keys.reload(&self.store)?;
            tracing::info!("reloaded signing keys changed by another process");
        }
        *last_data_version = Some(version);
        let now = self.now();
        if let Some(interval) = rotation_interval {
            let due = self
                .keys
                .active_since()
                .is_none_or(|since| since.plus(interval) <= now);
            if due {
                self.rotate_keys()?;
            }
        }
        if self.keys.prune(&self.store, now)? {
            tracing::info!("removed retired keys whose tokens have all expired");
        }
        Ok(())
    }
}

pub use crate::secret::{random_secret, secret_digest, secret_matches};

/// Checks a free-text name: 1–100 characters, no control characters.
pub fn check_name(what: &'static str, code: &'static str, name: &str) -> PlatformResult<()> {
    let valid = !name.trim().is_empty()
        && name.chars().count() <= 100
        && !name.chars().any(char::is_control);
    if valid {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            code,
            format!("the {what} {name:?} must be 1 to 100 characters without control characters"),
        ))
    }
}
