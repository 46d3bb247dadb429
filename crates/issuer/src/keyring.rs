//! The signing keys in memory, parsed once and kept ready to sign, and their rotation.
//!
//! Lifecycle (`docs/issuer.md`, "Keys"): there is always one **active** key, which signs, and
//! one **next** key, already published in the JWKS. A rotation makes the next key active (so a
//! verifier that cached the JWKS since the previous rotation already knows it), retires the
//! active key, and generates a new next key. A retired key stays published until the last token
//! it signed expires (`retire_after`), then disappears from the JWKS and the database.
//!
//! The database is the source of truth: another process (`keyless-issuer keys rotate`) may
//! rotate, and [`KeyRing::reload`] brings memory back in line.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use keyless_claims::{Jwks, NumericDate};
use serde::Serialize;

use crate::config::KEY_WATCH_INTERVAL;
use crate::crypto::SigningKey;
use crate::error::{PlatformError, PlatformResult};
use crate::model::TOKEN_TTL_CAP_SECONDS;
use crate::store::Store;
use crate::store::keys::{KeyState, StoredKey};

/// Who rotates, which decides how long the retired key must stay published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotator {
    /// The serving process itself: it knows the latest `exp` its old key signed.
    ServingProcess,
    /// Another process on the same data directory: a running server may sign with the old key
    /// until it notices, so the old key stays published for the longest possible token
    /// lifetime plus a margin.
    OtherProcess,
}

/// A key and what the ring knows about it.
#[derive(Debug, Clone)]
pub struct ManagedKey {
    /// The parsed key.
    pub key: Arc<SigningKey>,
    /// Its state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: NumericDate,
    /// When it started signing.
    pub activated_at: Option<NumericDate>,
    /// For a retired key, when it leaves the JWKS.
    pub retire_after: Option<NumericDate>,
    /// The latest `exp` this key has signed (i64::MIN when none).
    latest_expiry: Arc<AtomicI64>,
}

/// What the admin API shows of a key: never the private half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySummary {
    /// The key id.
    pub kid: String,
    /// Its state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: NumericDate,
    /// When it started signing.
    pub activated_at: Option<NumericDate>,
    /// When a retired key leaves the JWKS.
    pub retire_after: Option<NumericDate>,
    /// Whether the JWKS publishes it now.
    pub published: bool,
}

impl ManagedKey {
    fn is_published(&self, now: NumericDate) -> bool {
        self.state != KeyState::Retired || self.retire_after.is_some_and(|until| until > now)
    }
}

/// The issuer's keys.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: RwLock<Vec<ManagedKey>>,
}

impl KeyRing {
    /// Loads the stored keys, first creating an active and a next key if missing and deleting
    /// retired keys that have served their time.
    pub fn open(store: &Store, now: NumericDate) -> PlatformResult<Self> {
        ensure_keys(store, now)?;
        let ring = Self::default();
        ring.reload(store)?;
        Ok(ring)
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<ManagedKey>> {
        // Writers replace the vector whole, so a poisoned lock still guards a consistent value.
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<ManagedKey>> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-reads the keys from the database, keeping already-parsed keys and what is known of
    /// the tokens they signed.
    pub fn reload(&self, store: &Store) -> PlatformResult<()> {
        let mut keys = self.write();
        *keys = load_keys(store, &keys)?;
        Ok(())
    }

    /// The active key, noting that it is about to sign a token expiring at `exp`.
    pub fn signing_key(&self, exp: NumericDate) -> PlatformResult<Arc<SigningKey>> {
        let keys = self.read();
        let active = keys
            .iter()
            .find(|key| key.state == KeyState::Active)
            .ok_or_else(|| PlatformError::internal("no active signing key"))?;
        active
            .latest_expiry
            .fetch_max(exp.seconds(), Ordering::SeqCst);
        Ok(Arc::clone(&active.key))
    }

    /// The keys published at `now`, as the JWKS serves them.
    pub fn published(&self, now: NumericDate) -> Jwks {
        Jwks {
            keys: self
                .read()
                .iter()
                .filter(|key| key.is_published(now))
                .map(|key| key.key.public_jwk().clone())
                .collect(),
        }
    }

    /// Every key known, for the admin API.
    pub fn summaries(&self, now: NumericDate) -> Vec<KeySummary> {
        self.read()
            .iter()
            .map(|key| KeySummary {
                kid: key.key.kid().to_owned(),
                state: key.state,
                created_at: key.created_at,
                activated_at: key.activated_at,
                retire_after: key.retire_after,
                published: key.is_published(now),
            })
            .collect()
    }

    /// When the active key started signing.
    pub fn active_since(&self) -> Option<NumericDate> {
        self.read()
            .iter()
            .find(|key| key.state == KeyState::Active)
            .and_then(|key| key.activated_at)
    }

    /// Rotates: next → active, active → retired (published until its last token expires), and
    /// a freshly generated next key. Returns the new active kid. Generates an RSA key (CPU
    /// bound): call from a blocking thread.
    pub fn rotate(
        &self,
        store: &Store,
        now: NumericDate,
        rotator: Rotator,
    ) -> PlatformResult<String> {
        let (fresh, fresh_der) = SigningKey::generate()?;
        let mut keys = self.write();
        let new_active = store.write(|tx| {
            let stored = tx.signing_keys()?;
            let active = stored.iter().find(|key| key.state == KeyState::Active);
            let next = stored
                .iter()
                .find(|key| key.state == KeyState::Next)
                .ok_or_else(|| PlatformError::internal("no next key to promote"))?;
            if let Some(active) = active {
                let in_memory = keys
                    .iter()
                    .find(|key| key.key.kid() == active.kid)
                    .map(|key| key.latest_expiry.load(Ordering::SeqCst))
                    .unwrap_or(i64::MIN);
                let audited = tx
                    .latest_expiry_signed_by(&active.kid)?
                    .map_or(i64::MIN, NumericDate::seconds);
                let mut retire_after = now.seconds().max(in_memory).max(audited);
                if rotator == Rotator::OtherProcess {
                    let worst_case = now
                        .plus(Duration::from_secs(TOKEN_TTL_CAP_SECONDS))
                        .plus(KEY_WATCH_INTERVAL * 30);
                    retire_after = retire_after.max(worst_case.seconds());
                }
                tx.set_key_state(
                    &active.kid,
                    KeyState::Retired,
                    None,
                    Some(NumericDate::from_seconds(retire_after)),
                )?;
            }
            tx.set_key_state(&next.kid, KeyState::Active, Some(now), None)?;
            tx.insert_signing_key(&StoredKey {
                kid: fresh.kid().to_owned(),
                private_key_der: fresh_der.as_bytes().to_vec(),
                state: KeyState::Next,
                created_at: now,
                activated_at: None,
                retire_after: None,
            })?;
            tx.delete_expired_keys(now)?;
            Ok(next.kid.clone())
        })?;
        *keys = load_keys(store, &keys)?;
        Ok(new_active)
    }

    /// Deletes retired keys whose tokens have all expired; whether any went.
    pub fn prune(&self, store: &Store, now: NumericDate) -> PlatformResult<bool> {
        let any_expired = self
            .read()
            .iter()
            .any(|key| key.state == KeyState::Retired && !key.is_published(now));
        if !any_expired {
            return Ok(false);
        }
        let mut keys = self.write();
        let removed = store.write(|tx| tx.delete_expired_keys(now))?;
        if !removed.is_empty() {
            *keys = load_keys(store, &keys)?;
        }
        Ok(!removed.is_empty())
    }
}

/// Creates the active and next keys if the database lacks them.
fn ensure_keys(store: &Store, now: NumericDate) -> PlatformResult<()> {
    store.write(|tx| tx.delete_expired_keys(now))?;
    let stored = store.read(|tx| tx.signing_keys())?;
    let has = |state| stored.iter().any(|key: &StoredKey| key.state == state);
    let mut missing = Vec::new();
    if !has(KeyState::Active) {
        missing.push(KeyState::Active);
    }
    if !has(KeyState::Next) {
        missing.push(KeyState::Next);
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut generated = Vec::new();
    for state in missing {
        let (key, der) = SigningKey::generate()?;
        generated.push(StoredKey {
            kid: key.kid().to_owned(),
            private_key_der: der.as_bytes().to_vec(),
            state,
            created_at: now,
            activated_at: (state == KeyState::Active).then_some(now),
            retire_after: None,
        });
    }
    store.write(|tx| {
        // Another process may have created keys meanwhile; only fill what is still missing.
        let current = tx.signing_keys()?;
        for key in &generated {
            if !current.iter().any(|existing| existing.state == key.state) {
                tx.insert_signing_key(key)?;
            }
        }
        Ok(())
    })
}

/// Reads the stored keys, reusing parsed keys and expiry counters from `previous`.
fn load_keys(store: &Store, previous: &[ManagedKey]) -> PlatformResult<Vec<ManagedKey>> {
    let stored = store.read(|tx| {
        let keys = tx.signing_keys()?;
        keys.into_iter()
            .map(|key| {
                let audited = tx.latest_expiry_signed_by(&key.kid)?;
                Ok((key, audited))
            })
            .collect::<PlatformResult<Vec<_>>>()
    })?;
    stored
        .into_iter()
        .map(|(stored_key, audited)| {
            let known = previous.iter().find(|key| key.key.kid() == stored_key.kid);
            let (key, latest_expiry) = match known {
                Some(known) => (Arc::clone(&known.key), Arc::clone(&known.latest_expiry)),
                None => (
                    Arc::new(SigningKey::from_pkcs8_der(&stored_key.private_key_der)?),
                    Arc::new(AtomicI64::new(i64::MIN)),
                ),
            };
            if let Some(audited) = audited {
                latest_expiry.fetch_max(audited.seconds(), Ordering::SeqCst);
            }
            Ok(ManagedKey {
                key,
                state: stored_key.state,
                created_at: stored_key.created_at,
                activated_at: stored_key.activated_at,
                retire_after: stored_key.retire_after,
                latest_expiry,
            })
        })
        .collect()
}
