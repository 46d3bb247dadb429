//! The admin API's request and response bodies for the platform model, which are also the
//! declarations of the bootstrap file (`docs/issuer.md`).

use keyless_claims::{ContextId, JsonDuration, OrgId, ProjectId, UserId};
use serde::{Deserialize, Serialize};

/// A new org, or its declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    /// Unique name.
    pub name: String,
    /// Fixed id; random when absent.
    #[serde(default)]
    pub id: Option<OrgId>,
    /// Settings to set.
    #[serde(default)]
    pub settings: Option<OrgSettingsPatch>,
}

/// Changes to an org's settings; absent fields are left as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettingsPatch {
    /// See [`OrgSettings::oidc_requires_context`].
    #[serde(default)]
    pub oidc_requires_context: Option<bool>,
    /// See [`OrgSettings::pass_secrets_to_forks`].
    #[serde(default)]
    pub pass_secrets_to_forks: Option<bool>,
}

/// A new user (added to an org), or its declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Unique login.
    pub login: String,
    /// Fixed id; random when absent.
    #[serde(default)]
    pub id: Option<UserId>,
}

/// A new project, or its declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    /// Name, unique in the org.
    pub name: String,
    /// Fixed id; random when absent.
    #[serde(default)]
    pub id: Option<ProjectId>,
    /// Slug; default `gh/<owner>/<repo>` for GitHub, `bb/…` for Bitbucket, else
    /// `circleci/<org-id>/<project-id>` as CircleCI names standalone projects.
    #[serde(default)]
    pub slug: Option<String>,
    /// Repository without scheme, e.g. `github.com/acme/widgets`.
    #[serde(default)]
    pub vcs_origin: Option<String>,
}

/// A new context, or its declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Name, unique in the org.
    pub name: String,
    /// Fixed id; random when absent.
    #[serde(default)]
    pub id: Option<ContextId>,
    /// Variables to set; a name given twice is refused (rather than the last one silently
    /// winning, which another JSON parser might not agree on).
    #[serde(default, deserialize_with = "unique_variables")]
    pub environment: std::collections::BTreeMap<String, String>,
}

/// A new runner token, or its declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerTokenSpec {
    /// Unique name.
    pub name: String,
    /// The token; generated when absent.
    #[serde(default)]
    pub token: Option<String>,
}

/// A runner token as created: the only time the token is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedRunnerToken {
    /// Its name.
    pub name: String,
    /// Its org.
    pub org_id: OrgId,
    /// The bearer token.
    pub token: String,
}

/// `PATCH …/oidc-custom-claims`, CircleCI's `PatchClaimsRequest` (§1.4).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsPatch {
    /// Default audiences.
    #[serde(default)]
    pub audience: Option<Vec<String>>,
    /// Token lifetime, at most 5h.
    #[serde(default)]
    pub ttl: Option<JsonDuration>,
}

/// Reads a `{name: value}` mapping of variables, refusing a name given twice.
fn unique_variables<'de, D>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Variables;

    impl<'de> serde::de::Visitor<'de> for Variables {
        type Value = std::collections::BTreeMap<String, String>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a mapping of variable names to string values")
        }

        fn visit_map<Entries>(self, mut entries: Entries) -> Result<Self::Value, Entries::Error>
        where
            Entries: serde::de::MapAccess<'de>,
        {
            let mut variables = std::collections::BTreeMap::new();
            while let Some((name, value)) = entries.next_entry::<String, String>()? {
                if variables.contains_key(&name) {
                    return Err(serde::de::Error::custom(format!(
                        "variable {name:?} is given twice"
                    )));
                }
                variables.insert(name, value);
            }
            Ok(variables)
        }
    }

    deserializer.deserialize_map(Variables)
}
