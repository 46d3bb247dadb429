//! The bootstrap file (`--config FILE`): orgs with their users, projects, contexts, runner
//! tokens and settings, declared in YAML (or JSON, which YAML reads too) and applied at every
//! start in one transaction. Applying is idempotent: what exists is brought in line with the
//! declaration, what is missing is created, and nothing undeclared is removed. The format is
//! documented in `docs/issuer.md`.

use std::path::Path;

use keyless_claims::yaml_depth::{MAX_FLOW_DEPTH, too_deep_flow};
use keyless_claims::{OrgId, ProjectId};
use serde::Deserialize;

use crate::error::{PlatformError, PlatformResult};
use crate::platform::Platform;
use crate::platform::admin::{
    ClaimsPatch, ContextSpec, Existing, OrgSettingsPatch, OrgSpec, ProjectSpec, RunnerTokenSpec,
    UserSpec, patch_token_settings, save_context, save_org, save_project, save_runner_token,
    save_user,
};
use crate::store::Tx;

/// The largest bootstrap file read.
const MAX_BOOTSTRAP_BYTES: u64 = 4 * 1024 * 1024;

/// Why a bootstrap file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The file could not be read.
    #[error("cannot read the bootstrap file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is too large.
    #[error("the bootstrap file {path} is larger than {MAX_BOOTSTRAP_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not valid YAML/JSON of the expected shape.
    #[error("the bootstrap file {path} is malformed: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The declarations contradict the model (e.g. a name taken by another id).
    #[error("the bootstrap file {path} cannot be applied: {source}")]
    Apply {
        /// The file.
        path: String,
        /// Why.
        source: PlatformError,
    },
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// The orgs.
    #[serde(default)]
    pub orgs: Vec<OrgDeclaration>,
}

/// One org and everything in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgDeclaration {
    /// Unique name.
    pub name: String,
    /// Fixed id (recommended: trust policies name it); random at first start when absent.
    #[serde(default)]
    pub id: Option<OrgId>,
    /// `oidc_requires_context`, `pass_secrets_to_forks`.
    #[serde(default)]
    pub settings: Option<OrgSettingsPatch>,
    /// Org-level token settings (`audience`, `ttl`).
    #[serde(default)]
    pub oidc_custom_claims: Option<ClaimsPatch>,
    /// Members, in order: the first is the default user of jobs.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Projects.
    #[serde(default)]
    pub projects: Vec<ProjectDeclaration>,
    /// Contexts.
    #[serde(default)]
    pub contexts: Vec<ContextSpec>,
    /// Runner tokens (each with its `token`).
    #[serde(default)]
    pub runner_tokens: Vec<RunnerTokenSpec>,
}

/// One project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectDeclaration {
    /// Name, unique in the org.
    pub name: String,
    /// Fixed id.
    #[serde(default)]
    pub id: Option<ProjectId>,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Repository without scheme.
    #[serde(default)]
    pub vcs_origin: Option<String>,
    /// Project-level token settings.
    #[serde(default)]
    pub oidc_custom_claims: Option<ClaimsPatch>,
}

/// Reads and parses a bootstrap file.
pub fn load(path: &Path) -> Result<Bootstrap, BootstrapError> {
    let shown = path.display().to_string();
    let read_error = |source| BootstrapError::Read {
        path: shown.clone(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_BOOTSTRAP_BYTES {
        return Err(BootstrapError::TooLarge {
            path: shown.clone(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    parse(&text).map_err(|message| BootstrapError::Parse {
        path: shown,
        message,
    })
}

/// Parses bootstrap text (YAML or JSON) and checks what can be checked without a store, so
/// that a bad file stops the issuer before its data directory or keys are created.
pub fn parse(text: &str) -> Result<Bootstrap, String> {
    if text.trim().is_empty() {
        return Ok(Bootstrap::default());
    }
    if let Some((line, column)) = too_deep_flow(text) {
        return Err(format!(
            "collections nest deeper than {MAX_FLOW_DEPTH} levels at line {line} column {column}"
        ));
    }
    let bootstrap: Bootstrap = serde_norway::from_str(text).map_err(|error| error.to_string())?;
    for org in &bootstrap.orgs {
        if let Some(runner_token) = org.runner_tokens.iter().find(|spec| spec.token.is_none()) {
            return Err(format!(
                "runner token {:?} of org {} needs a token in the bootstrap file",
                runner_token.name, org.name
            ));
        }
    }
    Ok(bootstrap)
}

/// Only the settings that differ from what is stored, so re-applying keeps `*_updated_at`.
fn changed_settings(
    tx: &Tx<'_>,
    org: &OrgId,
    project: Option<&ProjectId>,
    declared: &ClaimsPatch,
) -> PlatformResult<ClaimsPatch> {
    let current = tx.token_settings(org, project)?;
    Ok(ClaimsPatch {
        audience: declared
            .audience
            .clone()
            .filter(|audience| current.audience.as_ref() != Some(audience)),
        ttl: declared
            .ttl
            .clone()
            .filter(|ttl| current.ttl.as_ref() != Some(ttl)),
    })
}

impl Platform {
    /// Applies a bootstrap in one transaction; nothing is written if any declaration fails.
    pub fn apply_bootstrap(&self, bootstrap: &Bootstrap) -> PlatformResult<()> {
        let now = self.now().seconds();
        let updated_at = self.now_rfc3339();
        self.store.write(|tx| {
            for declared in &bootstrap.orgs {
                let org = save_org(
                    tx,
                    &OrgSpec {
                        name: declared.name.clone(),
                        id: declared.id,
                        settings: declared.settings.clone(),
                    },
                    Existing::Update,
                    now,
                )?;
                if let Some(claims) = &declared.oidc_custom_claims {
                    let patch = changed_settings(tx, &org.id, None, claims)?;
                    patch_token_settings(tx, &org.id, None, &patch, &updated_at)?;
                }
                for user in &declared.users {
                    save_user(tx, &org, user, Existing::Update)?;
                }
                for project in &declared.projects {
                    let spec = ProjectSpec {
                        name: project.name.clone(),
                        id: project.id,
                        slug: project.slug.clone(),
                        vcs_origin: project.vcs_origin.clone(),
                    };
                    let saved = save_project(tx, &org, &spec, Existing::Update)?;
                    if let Some(claims) = &project.oidc_custom_claims {
                        let patch = changed_settings(tx, &org.id, Some(&saved.id), claims)?;
                        patch_token_settings(tx, &org.id, Some(&saved.id), &patch, &updated_at)?;
                    }
                }
                for context in &declared.contexts {
                    save_context(tx, &org, context, Existing::Update)?;
                }
                for runner_token in &declared.runner_tokens {
                    if runner_token.token.is_none() {
                        return Err(PlatformError::invalid(
                            "runner_token_required",
                            format!(
                                "runner token {:?} of org {} needs a token in the bootstrap file",
                                runner_token.name, org.name
                            ),
                        ));
                    }
                    save_runner_token(tx, &org, runner_token, Existing::Update)?;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_declare_the_same_thing() {
        let yaml = "orgs:\n  - name: acme\n    id: c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e\n    \
                    oidc_custom_claims: {ttl: 1h30m}\n    users: [{login: alice}]\n";
        let json = r#"{"orgs": [{"name": "acme", "id": "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
            "oidc_custom_claims": {"ttl": "1h30m"}, "users": [{"login": "alice"}]}]}"#;
        let from_yaml = parse(yaml).unwrap();
        let from_json = parse(json).unwrap();
        assert_eq!(format!("{from_yaml:?}"), format!("{from_json:?}"));
        assert_eq!(from_yaml.orgs[0].users[0].login, "alice");
        assert!(parse("").unwrap().orgs.is_empty());
    }

    #[test]
    fn mistakes_are_reported_with_their_place() {
        let unknown = parse("orgs:\n  - name: acme\n    colour: red\n").unwrap_err();
        assert!(unknown.contains("colour"), "{unknown}");
        let bad_id = parse("orgs:\n  - name: acme\n    id: ACME\n").unwrap_err();
        assert!(bad_id.contains("org id"), "{bad_id}");
        let bad_ttl =
            parse("orgs:\n  - name: acme\n    oidc_custom_claims: {ttl: 1 hour}\n").unwrap_err();
        assert!(bad_ttl.contains("duration"), "{bad_ttl}");
    }
}
