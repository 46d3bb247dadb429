//! The per-issuer cache of parsed verification keys.
//!
//! - A key set stays fresh for the issuer's `Cache-Control` max-age clamped to
//!   `[min_cache_ttl, max_cache_ttl]` (`default_cache_ttl` without a header), and never less than
//!   `min_refetch_interval`.
//! - A stale or absent key set is fetched; an unknown `kid` in a fresh set triggers one refetch.
//! - Fetch attempts per issuer are at least `min_refetch_interval` apart, success or failure: a
//!   flood of unknown kids, or of tokens for a dead issuer, costs one fetch per interval, and the
//!   others get the last outcome at once.
//! - Concurrent misses wait on one per-issuer fetch and share its result.
//! - Lookups take short synchronous locks and never hold one across an `.await`; the fast path
//!   (fresh set, known kid) only clones two `Arc`s.
//!
//! Freshness uses the `now` passed to [`KeyCache::key_for`], the same injected clock that checks
//! the token's times.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::algorithm::{Algorithm, VerificationKey};
use super::error::TokenError;
use super::fetch::{FetchedKeySet, KeySetFetcher};

/// How long key sets are kept and how often an issuer may be asked.
#[derive(Debug, Clone)]
pub(crate) struct CachePolicy {
    pub(crate) min_ttl: Duration,
    pub(crate) max_ttl: Duration,
    pub(crate) default_ttl: Duration,
    pub(crate) min_refetch_interval: Duration,
    pub(crate) max_issuers: usize,
}

/// The last good key set of one issuer, and how the last attempt went.
#[derive(Default)]
struct IssuerState {
    /// Incremented by every completed fetch attempt; waiters compare it to see whether a fetch
    /// happened while they queued.
    generation: u64,
    keys: Option<Arc<FetchedKeySet>>,
    fresh_until: Option<SystemTime>,
    /// The freshness lifetime granted at the last successful fetch.
    fresh_for: Duration,
    last_attempt: Option<SystemTime>,
    /// The failure of the last attempt, if it failed.
    last_error: Option<String>,
}

/// One issuer's entry: its state and the gate that serialises its fetches.
#[derive(Default)]
struct IssuerSlot {
    state: RwLock<IssuerState>,
    fetch_gate: tokio::sync::Mutex<()>,
}

/// Parsed keys per issuer.
pub(crate) struct KeyCache {
    issuers: RwLock<HashMap<String, Arc<IssuerSlot>>>,
    fetcher: KeySetFetcher,
    policy: CachePolicy,
}

/// The outcome of looking a key up in one key set.
enum Selection {
    Found(Arc<VerificationKey>),
    NotFound(String),
    Ambiguous(String),
}

impl KeyCache {
    pub(crate) fn new(fetcher: KeySetFetcher, policy: CachePolicy) -> Self {
        Self {
            issuers: RwLock::new(HashMap::new()),
            fetcher,
            policy,
        }
    }

    /// The key that verifies a token from `issuer` with `kid` and `algorithm`, fetching the
    /// issuer's keys if needed (see the module docs for the policy).
    pub(crate) async fn key_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        algorithm: Algorithm,
        now: SystemTime,
    ) -> Result<Arc<VerificationKey>, TokenError> {
        let slot = self.slot(issuer, now);
        let observed_generation = {
            let state = read(&slot.state);
            if let Some(keys) = fresh_keys(&state, now) {
                match select(&keys, kid, algorithm) {
                    Selection::Found(key) => return Ok(key),
                    Selection::Ambiguous(detail) => return Err(TokenError::key_retrieval(detail)),
                    Selection::NotFound(detail) if self.recently_attempted(&state, now) => {
                        return Err(TokenError::key_retrieval(format!(
                            "{detail}; refetch is rate-limited"
                        )));
                    }
                    Selection::NotFound(_) => {}
                }
            } else if self.recently_attempted(&state, now)
                && let Some(error) = &state.last_error
            {
                return Err(TokenError::key_retrieval(format!(
                    "{error} (last attempt, retried after {:?})",
                    self.policy.min_refetch_interval
                )));
            }
            state.generation
        };

        let _gate = slot.fetch_gate.lock().await;
        let must_fetch = {
            let state = read(&slot.state);
            state.generation == observed_generation && !self.recently_attempted(&state, now)
        };
        if must_fetch {
            let outcome = self.fetcher.fetch(issuer).await;
            let mut state = write(&slot.state);
            state.generation += 1;
            state.last_attempt = Some(now);
            match outcome {
                Ok(fetched) => {
                    let ttl = self.ttl(fetched.max_age);
                    tracing::debug!(issuer, keys = fetched.keys.len(), ?ttl, "fetched keys");
                    state.keys = Some(Arc::new(fetched));
                    state.fresh_until = now.checked_add(ttl);
                    state.fresh_for = ttl;
                    state.last_error = None;
                }
                Err(detail) => {
                    tracing::warn!(issuer, %detail, "could not fetch verification keys");
                    state.last_error = Some(detail);
                }
            }
        }
        let state = read(&slot.state);
        match fresh_keys(&state, now) {
            Some(keys) => match select(&keys, kid, algorithm) {
                Selection::Found(key) => Ok(key),
                Selection::NotFound(detail) | Selection::Ambiguous(detail) => {
                    Err(TokenError::key_retrieval(match &state.last_error {
                        Some(error) => format!("{detail}; refetch failed: {error}"),
                        None => detail,
                    }))
                }
            },
            None => Err(TokenError::key_retrieval(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| format!("no fresh keys for {issuer}")),
            )),
        }
    }

    /// The slot for `issuer`, created on first use. When the map is full, entries without fresh
    /// keys are dropped first (verification runs only for issuers that are IAM providers, so
    /// the map stays small in practice).
    fn slot(&self, issuer: &str, now: SystemTime) -> Arc<IssuerSlot> {
        if let Some(slot) = read(&self.issuers).get(issuer) {
            return Arc::clone(slot);
        }
        let mut issuers = write(&self.issuers);
        if issuers.len() >= self.policy.max_issuers && !issuers.contains_key(issuer) {
            issuers.retain(|_, slot| fresh_keys(&read(&slot.state), now).is_some());
        }
        Arc::clone(issuers.entry(issuer.to_owned()).or_default())
    }

    /// Whether the last attempt is closer than the refetch interval. A clock that went
    /// backwards counts as not recent, so it cannot block fetches.
    fn recently_attempted(&self, state: &IssuerState, now: SystemTime) -> bool {
        state.last_attempt.is_some_and(|attempt| {
            now.duration_since(attempt)
                .is_ok_and(|elapsed| elapsed < self.policy.min_refetch_interval)
        })
    }

    /// The freshness lifetime for a fetched set.
    fn ttl(&self, max_age: Option<Duration>) -> Duration {
        let ttl = max_age.unwrap_or(self.policy.default_ttl).clamp(
            self.policy.min_ttl,
            self.policy.max_ttl.max(self.policy.min_ttl),
        );
        ttl.max(self.policy.min_refetch_interval)
    }
}

/// How far before its fetch time a key set still counts as fresh: concurrent requests carry
/// slightly different `now`s, and one taken just before a fetch completed must see its keys.
const BACKWARD_CLOCK_TOLERANCE: Duration = Duration::from_secs(60);

/// The key set if it is still fresh at `now`. A clock that went back by more than
/// [`BACKWARD_CLOCK_TOLERANCE`] makes the set stale, so a large clock jump cannot pin old keys.
fn fresh_keys(state: &IssuerState, now: SystemTime) -> Option<Arc<FetchedKeySet>> {
    let fresh_until = state.fresh_until?;
    let remaining = fresh_until.duration_since(now).ok()?;
    if !remaining.is_zero() && remaining <= state.fresh_for + BACKWARD_CLOCK_TOLERANCE {
        state.keys.clone()
    } else {
        None
    }
}

/// Chooses the key for a token: by `kid` when the token names one; without a `kid`, the only
/// key that can verify `algorithm`, and an error when there are several.
fn select(keys: &FetchedKeySet, kid: Option<&str>, algorithm: Algorithm) -> Selection {
    match kid {
        Some(kid) => {
            if let Some(key) = keys
                .keys
                .iter()
                .find(|key| key.kid.as_deref() == Some(kid) && key.supports(algorithm))
            {
                return Selection::Found(Arc::clone(key));
            }
            let reason = keys
                .rejected
                .iter()
                .find(|(rejected_kid, _)| rejected_kid.as_deref() == Some(kid))
                .map(|(_, reason)| format!(" (published but unusable: {reason})"))
                .unwrap_or_default();
            Selection::NotFound(format!(
                "no {} key with kid {:?}{reason}",
                algorithm.name(),
                shortened(kid)
            ))
        }
        None => {
            let mut candidates = keys.keys.iter().filter(|key| key.supports(algorithm));
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Selection::Found(Arc::clone(only)),
                (None, _) => Selection::NotFound(format!(
                    "the token has no kid and no {} key is published",
                    algorithm.name()
                )),
                (Some(_), Some(_)) => Selection::Ambiguous(format!(
                    "the token has no kid and several {} keys are published",
                    algorithm.name()
                )),
            }
        }
    }
}

/// The most characters of a token-supplied `kid` that a log detail repeats.
const MAX_KID_CHARS_SHOWN: usize = 64;

/// `kid` cut to [`MAX_KID_CHARS_SHOWN`] characters, so a hostile kid cannot flood the logs (the
/// caller's `{:?}` escapes control characters).
fn shortened(kid: &str) -> String {
    match kid.char_indices().nth(MAX_KID_CHARS_SHOWN) {
        Some((end, _)) => format!("{}…", &kid[..end]),
        None => kid.to_owned(),
    }
}

/// A read guard, ignoring poisoning: no code path panics while holding these locks, and every
/// write leaves the state consistent.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// A write guard; see [`read`].
fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
