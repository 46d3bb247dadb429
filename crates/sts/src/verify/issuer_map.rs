//! The issuer map: `--issuer-map PUBLIC=LOCAL` makes STS fetch an issuer's discovery document and
//! keys from a local address while the token's identity (`iss`, provider ARN, condition keys)
//! stays the public one, so a production trust policy runs unchanged offline.
//!
//! A mapping rewrites a URL that starts with `PUBLIC` at a path boundary: `https://oidc.circleci.com`
//! maps `https://oidc.circleci.com/org/x/.well-known/openid-configuration` but not
//! `https://oidc.circleci.com.evil.example/…`. The longest matching prefix wins.

use std::str::FromStr;

/// One `PUBLIC=LOCAL` rewrite of fetch URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerMapping {
    /// The public URL prefix as it appears in tokens, e.g. `https://oidc.circleci.com`; stored
    /// without trailing slashes.
    pub public_prefix: String,
    /// Where to fetch instead, e.g. `http://127.0.0.1:8080`; stored without trailing slashes.
    pub local_prefix: String,
}

/// Why a `PUBLIC=LOCAL` argument is not a valid mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerMappingError {
    /// There is no `=` between the two URLs.
    #[error(
        "an issuer mapping is PUBLIC=LOCAL, e.g. https://oidc.circleci.com=http://127.0.0.1:8080; got {0:?}"
    )]
    MissingSeparator(String),
    /// One side is not an absolute `http://` or `https://` URL without query or fragment.
    #[error(
        "{side} URL {url:?} must start with http:// or https://, name a host, and have no query or fragment"
    )]
    InvalidUrl {
        /// `PUBLIC` or `LOCAL`.
        side: &'static str,
        /// The offending URL.
        url: String,
    },
}

impl FromStr for IssuerMapping {
    type Err = IssuerMappingError;

    /// Parses `PUBLIC=LOCAL`, split at the first `=`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (public, local) = text
            .split_once('=')
            .ok_or_else(|| IssuerMappingError::MissingSeparator(text.to_owned()))?;
        Ok(Self {
            public_prefix: normalised_prefix(public.trim(), "PUBLIC")?,
            local_prefix: normalised_prefix(local.trim(), "LOCAL")?,
        })
    }
}

impl std::fmt::Display for IssuerMapping {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}={}", self.public_prefix, self.local_prefix)
    }
}

/// Checks that `url` is an absolute http(s) URL prefix and drops trailing slashes.
fn normalised_prefix(url: &str, side: &'static str) -> Result<String, IssuerMappingError> {
    let invalid = || IssuerMappingError::InvalidUrl {
        side,
        url: url.to_owned(),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty()
        || url.contains(['?', '#'])
        || url
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
    {
        return Err(invalid());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl IssuerMapping {
    /// The rewritten URL if `url` starts with the public prefix at a path boundary.
    pub fn rewrite(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.public_prefix)?;
        if rest.is_empty() || rest.starts_with('/') {
            Some(format!("{}{rest}", self.local_prefix))
        } else {
            None
        }
    }
}

/// All mappings, longest public prefix first.
#[derive(Debug, Clone, Default)]
pub(crate) struct IssuerMap {
    mappings: Vec<IssuerMapping>,
}

impl IssuerMap {
    /// Orders the mappings so the most specific prefix is tried first.
    pub(crate) fn new(mut mappings: Vec<IssuerMapping>) -> Self {
        mappings.sort_by_key(|mapping| std::cmp::Reverse(mapping.public_prefix.len()));
        Self { mappings }
    }

    /// Where to fetch `url` from: rewritten by the most specific matching mapping, else itself.
    pub(crate) fn fetch_url(&self, url: &str) -> String {
        self.mappings
            .iter()
            .find_map(|mapping| mapping.rewrite(url))
            .unwrap_or_else(|| url.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(text: &str) -> IssuerMapping {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        let parsed = mapping("https://oidc.circleci.com/=http://127.0.0.1:8080/");
        assert_eq!(parsed.public_prefix, "https://oidc.circleci.com");
        assert_eq!(parsed.local_prefix, "http://127.0.0.1:8080");
        assert_eq!(
            parsed.to_string(),
            "https://oidc.circleci.com=http://127.0.0.1:8080"
        );
    }

    #[test]
    fn refuses_bad_mappings() {
        assert_eq!(
            "https://oidc.circleci.com".parse::<IssuerMapping>(),
            Err(IssuerMappingError::MissingSeparator(
                "https://oidc.circleci.com".into()
            ))
        );
        for text in [
            "oidc.circleci.com=http://127.0.0.1:1",
            "https://oidc.circleci.com=127.0.0.1:1",
            "https://=http://127.0.0.1:1",
            "https://a.example?x=http://127.0.0.1:1",
            "https://a.example=http://127.0.0.1:1/#frag",
            "file:///etc=http://127.0.0.1:1",
            "https://a.example=",
        ] {
            assert!(
                matches!(
                    text.parse::<IssuerMapping>(),
                    Err(IssuerMappingError::InvalidUrl { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn rewrites_only_at_a_path_boundary() {
        let map = IssuerMap::new(vec![mapping(
            "https://oidc.circleci.com=http://127.0.0.1:9",
        )]);
        assert_eq!(
            map.fetch_url("https://oidc.circleci.com/org/1/.well-known/openid-configuration"),
            "http://127.0.0.1:9/org/1/.well-known/openid-configuration"
        );
        assert_eq!(
            map.fetch_url("https://oidc.circleci.com"),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            map.fetch_url("https://oidc.circleci.com.evil.example/jwks"),
            "https://oidc.circleci.com.evil.example/jwks"
        );
        assert_eq!(
            map.fetch_url("http://oidc.circleci.com/x"),
            "http://oidc.circleci.com/x"
        );
        assert_eq!(
            map.fetch_url("https://OIDC.circleci.com/x"),
            "https://OIDC.circleci.com/x"
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let map = IssuerMap::new(vec![
            mapping("https://oidc.circleci.com=http://127.0.0.1:1"),
            mapping("https://oidc.circleci.com/org/special=http://127.0.0.1:2/special"),
        ]);
        assert_eq!(
            map.fetch_url("https://oidc.circleci.com/org/special/jwks"),
            "http://127.0.0.1:2/special/jwks"
        );
        assert_eq!(
            map.fetch_url("https://oidc.circleci.com/org/other"),
            "http://127.0.0.1:1/org/other"
        );
    }
}
