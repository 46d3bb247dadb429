//! The OpenID Connect Discovery 1.0 document and CircleCI's issuer URL layout
//! (`spec/circleci-oidc.md` §1.1–1.2).
//!
//! ```text
//! org issuer     {base}/org/{org-id}
//! root issuer    {base}                      (circleci run oidc get --root-issuer)
//! discovery      {issuer}/.well-known/openid-configuration
//! keys           {issuer}/.well-known/jwks-pub.json
//! ```
//!
//! Verifiers such as `coreos/go-oidc` require the document's `issuer` to equal the token's `iss`
//! exactly, so issuers are never written with a trailing slash.

use serde::{Deserialize, Serialize};

use crate::claims::CLAIM_NAMES;
use crate::ids::OrgId;

/// The path of the discovery document below an issuer (OpenID Connect Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The path of the key set below an issuer; CircleCI's name, hard-coded by its consumers (§1.2).
pub const JWKS_PATH: &str = "/.well-known/jwks-pub.json";

/// The base URL without trailing slashes.
fn trimmed(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// The root issuer for a base URL, e.g. `https://oidc.circleci.com`.
pub fn root_issuer(base: &str) -> String {
    trimmed(base).to_owned()
}

/// An organisation's issuer, e.g. `https://oidc.circleci.com/org/<org-id>` (§1.1).
pub fn org_issuer(base: &str, org: &OrgId) -> String {
    format!("{}/org/{org}", trimmed(base))
}

/// Where an issuer's discovery document lives.
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{DISCOVERY_PATH}", trimmed(issuer))
}

/// Where an issuer's key set lives.
pub fn jwks_url(issuer: &str) -> String {
    format!("{}{JWKS_PATH}", trimmed(issuer))
}

/// The discovery document (OpenID Connect Discovery 1.0 §3), with the fields CircleCI's issuer
/// serves (§1.2). Unknown fields are ignored when reading another issuer's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIdConfiguration {
    /// Exactly the `iss` of the tokens this issuer signs.
    pub issuer: String,
    /// Where the signing keys are published.
    pub jwks_uri: String,
    /// Claims the issuer may put in tokens.
    #[serde(default)]
    pub claims_supported: Vec<String>,
    /// Signing algorithms: `["RS256"]` (§1.3).
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["id_token"]`.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// `["openid"]`.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// `["public", "pairwise"]`, as in the document CircleCI's consumers mock (§1.2).
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
}

impl OpenIdConfiguration {
    /// The document a CircleCI-style issuer serves: keys at [`JWKS_PATH`], RS256, and every
    /// claim keyless emits.
    pub fn circleci(issuer: &str) -> Self {
        let strings = |values: &[&str]| values.iter().map(|value| (*value).to_owned()).collect();
        Self {
            issuer: trimmed(issuer).to_owned(),
            jwks_uri: jwks_url(issuer),
            claims_supported: strings(&CLAIM_NAMES),
            id_token_signing_alg_values_supported: strings(&["RS256"]),
            response_types_supported: strings(&["id_token"]),
            scopes_supported: strings(&["openid"]),
            subject_types_supported: strings(&["public", "pairwise"]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_follow_circleci_layout() {
        let org: OrgId = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e".parse().unwrap();
        let issuer = org_issuer("https://oidc.circleci.com/", &org);
        assert_eq!(
            issuer,
            "https://oidc.circleci.com/org/c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e"
        );
        assert_eq!(
            root_issuer("https://oidc.circleci.com/"),
            "https://oidc.circleci.com"
        );
        assert_eq!(
            jwks_url(&issuer),
            format!("{issuer}/.well-known/jwks-pub.json")
        );
        assert_eq!(
            discovery_url(&issuer),
            format!("{issuer}/.well-known/openid-configuration")
        );
    }

    #[test]
    fn circleci_document_lists_every_claim() {
        let document = OpenIdConfiguration::circleci("http://127.0.0.1:8080/org/x");
        assert_eq!(document.issuer, "http://127.0.0.1:8080/org/x");
        assert_eq!(
            document.jwks_uri,
            "http://127.0.0.1:8080/org/x/.well-known/jwks-pub.json"
        );
        assert_eq!(document.claims_supported.len(), CLAIM_NAMES.len());
        assert!(
            document
                .claims_supported
                .iter()
                .any(|claim| claim == "oidc.circleci.com/project-id")
        );
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(
            json["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
    }
}
