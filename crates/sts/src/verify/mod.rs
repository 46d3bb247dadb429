//! Web identity token verification for `AssumeRoleWithWebIdentity` (`spec/aws-sts-iam.md` §2.4
//! steps 3–4 and 7–8, §3).
//!
//! Two stages, with the caller's provider lookup and audience check (steps 5–6) between them:
//!
//! 1. [`parse_token`]: structure, algorithm and required claims, without any I/O.
//! 2. [`TokenVerifier::verify`]: the issuer's keys (discovery → `jwks_uri`, through the
//!    [issuer map](IssuerMapping), cached), the signature, then `exp`/`nbf`/`iat`.
//!
//! Errors carry AWS's code and message ([`TokenError::aws_code`], [`TokenError::aws_message`]).
//! The full policy is written up in `docs/token-verification.md`.

mod algorithm;
mod error;
mod fetch;
mod issuer_map;
mod key_cache;
mod strict_json;
mod token;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use algorithm::{Algorithm, MAX_RSA_MODULUS_BITS, MIN_RSA_MODULUS_BITS};
pub use error::{
    EXPIRED_TOKEN_EXCEPTION, INVALID_IDENTITY_TOKEN, INVALID_TOKEN_MESSAGE, KEY_RETRIEVAL_MESSAGE,
    MISSING_CLAIM_MESSAGE_PREFIX, MULTIPLE_AUDIENCES_MESSAGE, TokenError,
};
pub use issuer_map::{IssuerMapping, IssuerMappingError};
pub use token::{
    MAX_TOKEN_CHARS, REQUIRED_CLAIMS, TokenHeader, UNTRUSTED_KEY_HEADERS, UnverifiedToken,
    parse_token,
};

use fetch::{FetchLimits, KeySetFetcher};
use issuer_map::IssuerMap;
use key_cache::{CachePolicy, KeyCache};

/// AWS's fetch budget: ">5 s latency … → Couldn't retrieve verification key" (§3.2).
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Allowed clock skew around `exp`, `nbf` and `iat`: AWS's five minutes (§3.4).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Key-set freshness when the issuer sends no `Cache-Control` max-age.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);

/// Shortest key-set freshness, whatever `Cache-Control` says.
pub const DEFAULT_MIN_CACHE_TTL: Duration = Duration::from_secs(60);

/// Longest key-set freshness, whatever `Cache-Control` says.
pub const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Fewest seconds between two fetches of one issuer's keys.
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(5);

/// Largest discovery document read, in bytes.
pub const DEFAULT_MAX_DISCOVERY_BYTES: usize = 64 * 1024;

/// Largest key set read, in bytes.
pub const DEFAULT_MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most keys one key set may publish.
pub const DEFAULT_MAX_KEYS_PER_SET: usize = 100;

/// Most issuers whose keys are cached at once.
pub const DEFAULT_MAX_CACHED_ISSUERS: usize = 1024;

/// How verification fetches, caches and judges time. `Default` gives AWS's behaviour.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// `--issuer-map PUBLIC=LOCAL` rewrites of fetch URLs.
    pub issuer_map: Vec<IssuerMapping>,
    /// Budget for fetching discovery and keys together.
    pub fetch_timeout: Duration,
    /// Key-set freshness without a `Cache-Control` max-age.
    pub default_cache_ttl: Duration,
    /// Lower clamp for `Cache-Control` max-age.
    pub min_cache_ttl: Duration,
    /// Upper clamp for `Cache-Control` max-age.
    pub max_cache_ttl: Duration,
    /// Fewest time between two fetches of one issuer (unknown `kid`, failures).
    pub min_refetch_interval: Duration,
    /// Allowed clock skew around `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
    /// Refuse tokens whose `iat` is older than this ("Token too old"); `None` = no limit.
    pub max_token_age: Option<Duration>,
    /// Largest discovery document read, in bytes.
    pub max_discovery_bytes: usize,
    /// Largest key set read, in bytes.
    pub max_jwks_bytes: usize,
    /// Most keys one key set may publish.
    pub max_keys_per_set: usize,
    /// Most issuers cached at once.
    pub max_cached_issuers: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            issuer_map: Vec::new(),
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            default_cache_ttl: DEFAULT_CACHE_TTL,
            min_cache_ttl: DEFAULT_MIN_CACHE_TTL,
            max_cache_ttl: DEFAULT_MAX_CACHE_TTL,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
            clock_skew: DEFAULT_CLOCK_SKEW,
            max_token_age: None,
            max_discovery_bytes: DEFAULT_MAX_DISCOVERY_BYTES,
            max_jwks_bytes: DEFAULT_MAX_JWKS_BYTES,
            max_keys_per_set: DEFAULT_MAX_KEYS_PER_SET,
            max_cached_issuers: DEFAULT_MAX_CACHED_ISSUERS,
        }
    }
}

/// Verifies parsed tokens against their issuers' published keys. Cheap to clone (shared cache).
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    cache: KeyCache,
    clock_skew_seconds: i64,
    max_token_age_seconds: Option<i64>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TokenVerifier")
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier with an empty key cache.
    pub fn new(config: VerifierConfig) -> Self {
        let fetcher = KeySetFetcher::new(
            IssuerMap::new(config.issuer_map),
            FetchLimits {
                timeout: config.fetch_timeout,
                max_discovery_bytes: config.max_discovery_bytes,
                max_jwks_bytes: config.max_jwks_bytes,
                max_keys: config.max_keys_per_set,
            },
        );
        let policy = CachePolicy {
            min_ttl: config.min_cache_ttl,
            max_ttl: config.max_cache_ttl,
            default_ttl: config.default_cache_ttl,
            min_refetch_interval: config.min_refetch_interval,
            max_issuers: config.max_cached_issuers,
        };
        Self {
            inner: Arc::new(VerifierInner {
                cache: KeyCache::new(fetcher, policy),
                clock_skew_seconds: saturating_seconds(config.clock_skew),
                max_token_age_seconds: config.max_token_age.map(saturating_seconds),
            }),
        }
    }

    /// §2.4 steps 7–8: the signing key (cached; discovery → `jwks_uri` through the issuer map;
    /// one rate-limited refetch on an unknown `kid`), the signature, then `exp` (with the clock
    /// skew), `nbf` and `iat`, and the optional maximum age. `now` is the caller's clock; it also
    /// drives cache freshness.
    pub async fn verify(&self, token: &UnverifiedToken, now: SystemTime) -> Result<(), TokenError> {
        let algorithm = token.header.algorithm;
        let key = self
            .inner
            .cache
            .key_for(&token.issuer, token.header.kid.as_deref(), algorithm, now)
            .await?;
        if !key.verify(algorithm, token.signing_input(), token.signature()) {
            return Err(TokenError::BadSignature {
                kid: key.kid.clone(),
            });
        }
        self.check_times(token, now)
    }

    /// `exp` + skew (→ `ExpiredTokenException`), `nbf` and `iat` no further than the skew in
    /// the future, `iat` no older than the maximum age.
    fn check_times(&self, token: &UnverifiedToken, now: SystemTime) -> Result<(), TokenError> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, saturating_seconds);
        let skew = self.inner.clock_skew_seconds;
        if now > token.expires_at.saturating_add(skew) {
            return Err(TokenError::Expired {
                now,
                expires_at: token.expires_at,
            });
        }
        if let Some(not_before) = token.not_before
            && not_before > now.saturating_add(skew)
        {
            return Err(TokenError::NotYetValid { now, not_before });
        }
        if token.issued_at > now.saturating_add(skew) {
            return Err(TokenError::IssuedInFuture {
                now,
                issued_at: token.issued_at,
            });
        }
        if let Some(max_age) = self.inner.max_token_age_seconds {
            let age_seconds = now.saturating_sub(token.issued_at);
            if age_seconds > max_age {
                return Err(TokenError::TooOld { age_seconds });
            }
        }
        Ok(())
    }
}

/// Whole seconds of `duration`, saturating at `i64::MAX`.
fn saturating_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
