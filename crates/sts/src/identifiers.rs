//! AWS identifiers keyless-sts mints and parses: role ids (`AROA…`), role and OIDC provider
//! ARNs, and provider URLs (stored without their scheme, spec §3.1, §5.2).

use std::net::IpAddr;

use crate::config::AccountId;

/// The alphabet of AWS unique ids after the prefix (`[A-Z2-7]`, base32).
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `count` random base32 characters (from [`random_uuid`]'s generator).
pub fn random_base32(count: usize) -> String {
    let mut text = String::with_capacity(count);
    while text.len() < count {
        for byte in random_uuid().as_bytes().iter().take(15) {
            if text.len() == count {
                break;
            }
            text.push(char::from(BASE32_ALPHABET[usize::from(byte % 32)]));
        }
    }
    text
}

/// A new RequestId: a UUID in AWS's textual form, version 7 (time-ordered; AWS's own ids are
/// version 1 or 4 UUIDs, spec §1). Time order keeps the decisions table's RequestId index
/// appending instead of dirtying a random page per call (docs/benchmarks.md).
///
/// Ids made within one millisecond are told apart and kept in order by a 12-bit counter in
/// the version's `rand_a` field (RFC 9562 §6.2, method 1); the other 62 bits are random.
pub fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    /// The last id's `millis << 12 | counter`.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(0))
        << 12;
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or_default();
    // A counter that overflows carries into the next millisecond, as the RFC allows.
    let stamp = now.max(previous + 1);
    let mut bytes: [u8; 10] = rand::random();
    bytes[..2].copy_from_slice(&((stamp & 0xfff) as u16).to_be_bytes());
    uuid::Builder::from_unix_timestamp_millis(stamp >> 12, &bytes)
        .into_uuid()
        .to_string()
}

/// A random (version 4) UUID. Its bits come from the thread's CSPRNG (`rand::thread_rng`,
/// seeded from the OS and reseeded by it), not from one `getrandom` system call per UUID as
/// `Uuid::new_v4` makes: two per call were 2.5 % of the STS's time under GetCallerIdentity.
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// A new `RoleId`: `AROA` + 17 characters (21 in all, spec §5.2).
pub fn new_role_id() -> String {
    format!("AROA{}", random_base32(17))
}

/// `arn:aws:iam::ACCT:oidc-provider/<url without scheme>`.
pub fn provider_arn(account_id: &AccountId, url_without_scheme: &str) -> String {
    format!("arn:aws:iam::{account_id}:oidc-provider/{url_without_scheme}")
}

/// The provider URL (without scheme) named by a provider ARN of `account_id`, if it is one.
pub fn provider_url_from_arn<'a>(account_id: &AccountId, arn: &'a str) -> Option<&'a str> {
    let prefix = format!("arn:aws:iam::{account_id}:oidc-provider/");
    arn.strip_prefix(&prefix).filter(|url| !url.is_empty())
}

/// Whether `arn` is shaped like an OIDC provider ARN of any account.
pub fn is_provider_arn_shape(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(_), Some("iam"), Some(""), Some(account), Some(resource))
            if account.len() == 12 && resource.starts_with("oidc-provider/") && resource.len() > 14
    )
}

/// `arn:aws:iam::ACCT:role<Path><RoleName>` (spec §5.2).
pub fn role_arn(account_id: &AccountId, path: &str, role_name: &str) -> String {
    format!("arn:aws:iam::{account_id}:role{path}{role_name}")
}

/// Why a provider URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderUrlError {
    /// Not `https://` (nor `http://` to a loopback host).
    #[error("the URL must begin with https:// (http:// only for loopback hosts)")]
    Scheme,
    /// No host, or a query, fragment, credentials or whitespace.
    #[error(
        "the URL must be a host with an optional port and path, without query, fragment or credentials"
    )]
    Shape,
}

/// Checks a `CreateOpenIDConnectProvider` URL and returns it without its scheme. `https://` is
/// required, except that `http://` is accepted for loopback hosts so a local issuer can be
/// registered. Case and a trailing slash are kept (they are significant, spec §3.1).
pub fn provider_url_without_scheme(url: &str) -> Result<&str, ProviderUrlError> {
    let (rest, plain_http) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, false)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, true)
    } else {
        return Err(ProviderUrlError::Scheme);
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || rest.contains(['?', '#', '@'])
        || rest
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
    {
        return Err(ProviderUrlError::Shape);
    }
    if plain_http && !is_loopback_authority(authority) {
        return Err(ProviderUrlError::Scheme);
    }
    Ok(rest)
}

/// Whether `host[:port]` names the local machine.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuids_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(id.len(), 36);
            assert_eq!(parsed.hyphenated().to_string(), *id);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "not strictly increasing as text");
    }

    fn account() -> AccountId {
        "123456789012".parse().unwrap()
    }

    #[test]
    fn role_ids_are_aroa_plus_seventeen_base32() {
        let role_id = new_role_id();
        assert_eq!(role_id.len(), 21);
        assert!(role_id.starts_with("AROA"));
        assert!(
            role_id[4..]
                .bytes()
                .all(|byte| BASE32_ALPHABET.contains(&byte))
        );
        assert_ne!(new_role_id(), role_id);
    }

    #[test]
    fn provider_urls_keep_case_and_slash_and_lose_the_scheme() {
        assert_eq!(
            provider_url_without_scheme("https://oidc.circleci.com/org/X/"),
            Ok("oidc.circleci.com/org/X/")
        );
        assert_eq!(
            provider_url_without_scheme("http://127.0.0.1:8080/org/1"),
            Ok("127.0.0.1:8080/org/1")
        );
        assert_eq!(
            provider_url_without_scheme("http://localhost:9"),
            Ok("localhost:9")
        );
        assert_eq!(
            provider_url_without_scheme("http://[::1]:9/x"),
            Ok("[::1]:9/x")
        );
        assert_eq!(
            provider_url_without_scheme("http://oidc.circleci.com/org/1"),
            Err(ProviderUrlError::Scheme)
        );
        assert_eq!(
            provider_url_without_scheme("oidc.circleci.com"),
            Err(ProviderUrlError::Scheme)
        );
        assert_eq!(
            provider_url_without_scheme("https://"),
            Err(ProviderUrlError::Shape)
        );
        assert_eq!(
            provider_url_without_scheme("https://a.example/x?y=1"),
            Err(ProviderUrlError::Shape)
        );
    }

    #[test]
    fn arns_round_trip() {
        let arn = provider_arn(&account(), "oidc.circleci.com/org/1");
        assert_eq!(
            arn,
            "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/1"
        );
        assert_eq!(
            provider_url_from_arn(&account(), &arn),
            Some("oidc.circleci.com/org/1")
        );
        assert_eq!(
            provider_url_from_arn(&account(), "arn:aws:iam::999999999999:oidc-provider/x"),
            None
        );
        assert!(is_provider_arn_shape(&arn));
        assert!(!is_provider_arn_shape("arn:aws:iam::123456789012:role/x"));
        assert_eq!(
            role_arn(&account(), "/ci/", "deploy"),
            "arn:aws:iam::123456789012:role/ci/deploy"
        );
    }
}
