//! The request context of `sts:AssumeRoleWithWebIdentity`: the condition keys AWS fills from a
//! verified web identity token (`spec/aws-sts-iam.md` §4.5).
//!
//! Only the keys AWS supports exist: `<prov>:aud` (from `azp` when the token has one),
//! `<prov>:sub`, `<prov>:amr`, `<prov>:oaud`, `<prov>:azp`, the provider-specific keys of the
//! Service Authorization Reference (for CircleCI issuers `<prov>:oidc.circleci.com/project-id`),
//! and `sts:RoleSessionName`. Every other claim is absent, so a condition on
//! `<prov>:oidc.circleci.com/vcs-origin` sees no value, exactly as on AWS. Those claims are kept
//! aside only so hints can say "your token has this claim, but AWS does not expose it".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The action every web-identity request is for.
pub const WEB_IDENTITY_ACTION: &str = "sts:AssumeRoleWithWebIdentity";

/// Claims every OIDC provider's tokens expose as `<prov>:<claim>` (§4.5 table).
pub const GENERIC_PROVIDER_KEYS: [&str; 5] = ["aud", "sub", "amr", "oaud", "azp"];

/// Provider-specific claims (§4.5, Service Authorization Reference), by how the provider URL
/// is recognised.
const GITHUB_KEYS: [&str; 10] = [
    "actor",
    "actor_id",
    "enterprise_id",
    "environment",
    "job_workflow_ref",
    "ref",
    "repository",
    "repository_id",
    "repository_owner_id",
    "workflow",
];
/// GitLab's provider-specific claims.
const GITLAB_KEYS: [&str; 9] = [
    "namespace_id",
    "pipeline_source",
    "project_id",
    "ref_protected",
    "runner_environment",
    "user_access_level",
    "user_email",
    "user_id",
    "user_login",
];
/// Buildkite's provider-specific claims.
const BUILDKITE_KEYS: [&str; 7] = [
    "build_branch",
    "cluster_id",
    "cluster_name",
    "organization_id",
    "organization_slug",
    "pipeline_id",
    "pipeline_slug",
];
/// CircleCI's one provider-specific claim (circleci-oidc §1.10).
pub const CIRCLECI_PROJECT_ID_CLAIM: &str = "oidc.circleci.com/project-id";

/// Whether a lowercase hyphenated UUID.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text
            .char_indices()
            .all(|(position, character)| match position {
                8 | 13 | 18 | 23 => character == '-',
                _ => character.is_ascii_digit() || ('a'..='f').contains(&character),
            })
}

/// Whether `provider_url` (without scheme) is a CircleCI org issuer: its path is `/org/<uuid>`.
/// True for `oidc.circleci.com/org/<uuid>` and for a local keyless issuer laid out the same way,
/// so a local issuer behaves like CircleCI.
pub fn is_circleci_provider(provider_url: &str) -> bool {
    let Some((_host, path)) = provider_url.split_once('/') else {
        return false;
    };
    path.strip_prefix("org/").is_some_and(is_uuid)
}

/// The claims AWS exposes as condition keys for this provider (without the `<prov>:` prefix).
pub fn supported_claims(provider_url: &str) -> Vec<&'static str> {
    let host = provider_url.split('/').next().unwrap_or("");
    let mut claims: Vec<&'static str> = GENERIC_PROVIDER_KEYS.to_vec();
    if is_circleci_provider(provider_url) {
        claims.push(CIRCLECI_PROJECT_ID_CLAIM);
    } else if host == "token.actions.githubusercontent.com"
        || (host.starts_with("token.actions.") && host.ends_with(".ghe.com"))
        || provider_url.starts_with("github.com/enterprises/")
    {
        claims.extend(GITHUB_KEYS);
    } else if host == "gitlab.com" {
        claims.extend(GITLAB_KEYS);
    } else if host == "agent.buildkite.com" {
        claims.extend(BUILDKITE_KEYS);
    }
    claims
}

/// One key of the request context with its value(s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextEntry {
    /// The key, e.g. `oidc.circleci.com/org/<uuid>:sub` (looked up case-insensitively).
    pub key: String,
    /// The values; one for single-valued keys.
    pub values: Vec<String>,
    /// Whether the key is multivalued (the claim was a JSON array, e.g. `amr`).
    pub multi_valued: bool,
}

/// The condition keys of one AssumeRoleWithWebIdentity request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    /// The provider URL without scheme, which prefixes its keys.
    pub provider_url: String,
    /// The provider ARN: the principal that `Principal.Federated` must name.
    pub provider_arn: String,
    /// The action requested (`sts:AssumeRoleWithWebIdentity`).
    pub action: String,
    /// The keys AWS supports, with values.
    pub entries: Vec<ContextEntry>,
    /// Claims the token carries that AWS does not expose as keys (named by claim), for hints.
    pub unexposed_claims: Vec<ContextEntry>,
    /// The provider's client ids (audiences), for hints.
    pub provider_client_ids: Vec<String>,
}

/// The values of a claim: strings and scalars as one value, arrays of scalars as many.
fn claim_values(value: &Value) -> Option<(Vec<String>, bool)> {
    let scalar = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<String>>>()
            .map(|values| (values, true)),
        other => scalar(other).map(|text| (vec![text], false)),
    }
}

impl RequestContext {
    /// Builds the context AWS would build for a verified token from `provider_url`.
    pub fn for_web_identity(
        provider_url: &str,
        provider_arn: &str,
        claims: &Map<String, Value>,
        role_session_name: &str,
        provider_client_ids: &[String],
    ) -> RequestContext {
        let supported = supported_claims(provider_url);
        let mut entries = Vec::new();
        for claim in &supported {
            // `<prov>:aud` reads `azp` when the token has one (the Google rule, §3.3, §4.5).
            let source = if *claim == "aud" && claims.contains_key("azp") {
                "azp"
            } else if *claim == "oaud" {
                "aud"
            } else {
                claim
            };
            if let Some((values, multi_valued)) = claims.get(source).and_then(claim_values) {
                entries.push(ContextEntry {
                    key: format!("{provider_url}:{claim}"),
                    values,
                    multi_valued,
                });
            }
        }
        entries.push(ContextEntry {
            key: "sts:RoleSessionName".to_owned(),
            values: vec![role_session_name.to_owned()],
            multi_valued: false,
        });
        let unexposed_claims = claims
            .iter()
            .filter(|(name, _)| !supported.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                claim_values(value).map(|(values, multi_valued)| ContextEntry {
                    key: name.clone(),
                    values,
                    multi_valued,
                })
            })
            .collect();
        RequestContext {
            provider_url: provider_url.to_owned(),
            provider_arn: provider_arn.to_owned(),
            action: WEB_IDENTITY_ACTION.to_owned(),
            entries,
            unexposed_claims,
            provider_client_ids: provider_client_ids.to_vec(),
        }
    }

    /// The entry for `key`, compared case-insensitively (§4.3).
    pub fn get(&self, key: &str) -> Option<&ContextEntry> {
        self.entries
            .iter()
            .find(|entry| entry.key.eq_ignore_ascii_case(key))
    }

    /// The single value of `key`, for policy variables (absent for multivalued keys).
    pub fn single_value(&self, key: &str) -> Option<String> {
        self.get(key)
            .filter(|entry| !entry.multi_valued && entry.values.len() == 1)
            .map(|entry| entry.values[0].clone())
    }

    /// The token claim that a `<prov>:<claim>` key would read, when AWS does not expose it.
    pub fn unexposed_claim_for_key(&self, key: &str) -> Option<&ContextEntry> {
        let claim = self.claim_name_of_key(key)?;
        self.unexposed_claims
            .iter()
            .find(|entry| entry.key.eq_ignore_ascii_case(claim))
    }

    /// `claim` for a key `<this provider>:<claim>`; `None` for other keys.
    pub fn claim_name_of_key<'key>(&self, key: &'key str) -> Option<&'key str> {
        let prefix_length = self.provider_url.len();
        let prefix = key.get(..prefix_length)?;
        if !prefix.eq_ignore_ascii_case(&self.provider_url) {
            return None;
        }
        key.get(prefix_length..)?.strip_prefix(':')
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ORG: &str = "c9035eb6-3d4e-4f6a-8b7c-0d1e2f3a4b5c";

    fn circleci_claims() -> Map<String, Value> {
        let value = json!({
            "iss": format!("https://oidc.circleci.com/org/{ORG}"),
            "sub": format!("org/{ORG}/project/p/user/u"),
            "aud": ORG,
            "iat": 1, "exp": 2,
            "oidc.circleci.com/project-id": "3a2f5b1c-0000-4000-8000-000000000001",
            "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
            "oidc.circleci.com/context-ids": ["a74579f1-2e7d-451e-b009-5c082ad2729e"],
        });
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn circleci_context_has_only_supported_keys() {
        let url = format!("oidc.circleci.com/org/{ORG}");
        let arn = format!("arn:aws:iam::123456789012:oidc-provider/{url}");
        let context =
            RequestContext::for_web_identity(&url, &arn, &circleci_claims(), "s", &[ORG.into()]);
        let keys: Vec<&str> = context
            .entries
            .iter()
            .map(|entry| entry.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                format!("{url}:aud"),
                format!("{url}:sub"),
                format!("{url}:oaud"),
                format!("{url}:oidc.circleci.com/project-id"),
                "sts:RoleSessionName".to_owned(),
            ]
        );
        assert!(
            context
                .get(&format!("{url}:oidc.circleci.com/vcs-origin"))
                .is_none()
        );
        assert!(
            context
                .get(&format!("{}:SUB", url.to_uppercase()))
                .is_some()
        );
        let unexposed = context
            .unexposed_claim_for_key(&format!("{url}:oidc.circleci.com/context-ids"))
            .expect("kept for hints");
        assert!(unexposed.multi_valued);
    }

    #[test]
    fn local_issuers_with_an_org_path_count_as_circleci() {
        assert!(is_circleci_provider(&format!("127.0.0.1:41233/org/{ORG}")));
        assert!(!is_circleci_provider("token.actions.githubusercontent.com"));
        assert!(!is_circleci_provider("oidc.circleci.com/org/not-a-uuid"));
    }

    #[test]
    fn azp_feeds_aud_and_aud_feeds_oaud() {
        let claims = json!({"aud": "a", "azp": "b", "sub": "s"});
        let context = RequestContext::for_web_identity(
            "accounts.google.com",
            "accounts.google.com",
            claims.as_object().expect("an object"),
            "s",
            &[],
        );
        let value = |key: &str| context.single_value(key);
        assert_eq!(value("accounts.google.com:aud").as_deref(), Some("b"));
        assert_eq!(value("accounts.google.com:oaud").as_deref(), Some("a"));
        assert_eq!(value("accounts.google.com:azp").as_deref(), Some("b"));
    }
}
