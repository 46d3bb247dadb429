//! Fetching an issuer's keys: `<iss>/.well-known/openid-configuration`, then its `jwks_uri`, both
//! through the issuer map (`spec/aws-sts-iam.md` §3.2).
//!
//! Every failure is a `String` detail that the caller turns into AWS's "Couldn't retrieve
//! verification key…" error: a timeout of the whole exchange, a transport error, a status other
//! than 200 (redirects are not followed, so a mapping cannot be escaped), a body over its size
//! limit, malformed JSON, a discovery `issuer` that differs from `iss`, or too many keys.

use std::sync::Arc;
use std::time::Duration;

use keyless_claims::discovery::discovery_url;
use keyless_claims::{Jwk, OpenIdConfiguration};
use serde::Deserialize;

use super::algorithm::VerificationKey;
use super::issuer_map::IssuerMap;

/// What a successful fetch yields: parsed keys, the keys that could not be used and why, and the
/// freshness the issuer asked for.
pub(crate) struct FetchedKeySet {
    /// Usable keys, parsed once.
    pub(crate) keys: Vec<Arc<VerificationKey>>,
    /// `(kid, reason)` for every published key that was skipped.
    pub(crate) rejected: Vec<(Option<String>, String)>,
    /// The smallest `Cache-Control` max-age of the two responses (`no-cache`/`no-store` count
    /// as 0), if either sent one.
    pub(crate) max_age: Option<Duration>,
}

/// Limits on what is fetched.
#[derive(Debug, Clone)]
pub(crate) struct FetchLimits {
    /// Budget for discovery plus key set together.
    pub(crate) timeout: Duration,
    /// Largest discovery document read.
    pub(crate) max_discovery_bytes: usize,
    /// Largest key set read.
    pub(crate) max_jwks_bytes: usize,
    /// Most keys a key set may hold.
    pub(crate) max_keys: usize,
}

/// Fetches discovery documents and key sets over HTTP.
pub(crate) struct KeySetFetcher {
    client: reqwest::Client,
    issuer_map: IssuerMap,
    limits: FetchLimits,
}

/// The key set document, each key kept raw so one odd key cannot spoil the others.
#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

impl KeySetFetcher {
    /// A fetcher that follows no redirects and uses no proxy (every fetch is explicit).
    pub(crate) fn new(issuer_map: IssuerMap, limits: FetchLimits) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.timeout)
            .timeout(limits.timeout)
            .build()
            // The builder fails only when a TLS backend or system proxy configuration cannot be
            // initialised; this crate enables no TLS backend and `no_proxy` skips the latter.
            .expect("an HTTP client without TLS or proxies always builds");
        Self {
            client,
            issuer_map,
            limits,
        }
    }

    /// Fetches and parses `issuer`'s keys within the configured time budget.
    pub(crate) async fn fetch(&self, issuer: &str) -> Result<FetchedKeySet, String> {
        match tokio::time::timeout(self.limits.timeout, self.fetch_unbounded(issuer)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "fetching the keys of {issuer} timed out after {:?}",
                self.limits.timeout
            )),
        }
    }

    async fn fetch_unbounded(&self, issuer: &str) -> Result<FetchedKeySet, String> {
        if !is_http_url(issuer) {
            return Err(format!("the issuer {issuer:?} is not an http(s) URL"));
        }
        let (discovery_body, discovery_max_age) = self
            .get(&discovery_url(issuer), self.limits.max_discovery_bytes)
            .await?;
        let discovery: OpenIdConfiguration = serde_json::from_slice(&discovery_body)
            .map_err(|error| format!("the discovery document of {issuer} is malformed: {error}"))?;
        if discovery.issuer != issuer {
            return Err(format!(
                "the discovery document names issuer {:?}, the token {issuer:?}",
                discovery.issuer
            ));
        }
        if !is_http_url(&discovery.jwks_uri) {
            return Err(format!(
                "the jwks_uri {:?} is not an http(s) URL",
                discovery.jwks_uri
            ));
        }
        let (jwks_body, jwks_max_age) = self
            .get(&discovery.jwks_uri, self.limits.max_jwks_bytes)
            .await?;
        let raw: RawKeySet = serde_json::from_slice(&jwks_body)
            .map_err(|error| format!("the key set of {issuer} is malformed: {error}"))?;
        if raw.keys.len() > self.limits.max_keys {
            return Err(format!(
                "the key set of {issuer} holds {} keys, more than {}",
                raw.keys.len(),
                self.limits.max_keys
            ));
        }
        let mut fetched = FetchedKeySet {
            keys: Vec::with_capacity(raw.keys.len()),
            rejected: Vec::new(),
            max_age: [discovery_max_age, jwks_max_age]
                .into_iter()
                .flatten()
                .min(),
        };
        for value in raw.keys {
            let kid = value
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|error| format!("not a JWK: {error}"))
                .and_then(|jwk| VerificationKey::from_jwk(&jwk));
            match parsed {
                Ok(key) => fetched.keys.push(Arc::new(key)),
                Err(reason) => {
                    tracing::warn!(issuer, ?kid, %reason, "skipping an unusable published key");
                    fetched.rejected.push((kid, reason));
                }
            }
        }
        Ok(fetched)
    }

    /// GETs `public_url` through the issuer map; 200 only, body at most `max_bytes`.
    async fn get(
        &self,
        public_url: &str,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, Option<Duration>), String> {
        let url = self.issuer_map.fetch_url(public_url);
        if !is_loopback_http_url(&url) {
            // keyless is offline by design: it fetches keys only from loopback over plain HTTP.
            // A public issuer is reached through `--issuer-map PUBLIC=http://127.0.0.1:PORT`.
            return Err(format!(
                "GET {url} not attempted: only http:// URLs on loopback hosts are fetched \
                 (map public issuers with --issuer-map)"
            ));
        }
        tracing::debug!(public_url, fetch_url = %url, "fetching");
        let mut response = self
            .client
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| describe_failure(&url, &error))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        let max_age = response
            .headers()
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .filter_map(cache_control_max_age)
            .min();
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes as u64)
        {
            return Err(format!("GET {url} body is larger than {max_bytes} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| describe_failure(&url, &error))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(format!("GET {url} body is larger than {max_bytes} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// A transport failure as a log detail, naming timeouts plainly.
fn describe_failure(url: &str, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("GET {url} timed out")
    } else {
        // reqwest's Display omits the cause (connection refused, reset…); the source has it.
        let cause = std::error::Error::source(error)
            .map(|source| format!(": {source}"))
            .unwrap_or_default();
        format!("GET {url} failed: {error}{cause}")
    }
}

/// Whether `url` is `http://` to a loopback host: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback_http_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Whether `url` is an absolute `http://` or `https://` URL.
fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The freshness one `Cache-Control` header value grants (RFC 9111 §5.2.2): `no-store` and
/// `no-cache` mean none, else `max-age`; `None` when it says neither.
pub(crate) fn cache_control_max_age(header: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => {
                if let Ok(seconds) = value.trim().trim_matches('"').parse::<u64>() {
                    max_age = Some(Duration::from_secs(seconds));
                }
            }
            _ => {}
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_directives() {
        let seconds = |header| cache_control_max_age(header).map(|age| age.as_secs());
        assert_eq!(seconds("max-age=600"), Some(600));
        assert_eq!(seconds("public, max-age=3600, must-revalidate"), Some(3600));
        assert_eq!(seconds("Max-Age=\"60\""), Some(60));
        assert_eq!(seconds("no-cache"), Some(0));
        assert_eq!(seconds("max-age=600, no-store"), Some(0));
        assert_eq!(seconds("public"), None);
        assert_eq!(seconds("max-age=-1"), None);
        assert_eq!(seconds("max-age=abc"), None);
    }
}

#[cfg(test)]
mod loopback_tests {
    use super::is_loopback_http_url;

    #[test]
    fn only_plain_http_to_loopback_is_fetched() {
        for allowed in [
            "http://127.0.0.1:8080/org/x/.well-known/openid-configuration",
            "http://127.1.2.3/jwks",
            "http://localhost:9/x",
            "http://[::1]:80/x",
        ] {
            assert!(is_loopback_http_url(allowed), "{allowed}");
        }
        for refused in [
            "https://127.0.0.1/x",
            "http://oidc.circleci.com/org/x",
            "http://10.0.0.1/x",
            "http://127.0.0.1.evil.example/x",
            "http://user@127.0.0.1/x",
            "ftp://127.0.0.1/x",
        ] {
            assert!(!is_loopback_http_url(refused), "{refused}");
        }
    }
}
