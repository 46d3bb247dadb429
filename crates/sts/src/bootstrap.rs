//! The `--config FILE` bootstrap: OIDC providers and roles declared in a JSON file, applied at
//! start through the same rules as the IAM actions, idempotently — an entity that exists is
//! brought in line with the file (a role keeps its `RoleId` and creation date), so starting
//! twice with the same file changes nothing. Entities not in the file are left alone.
//!
//! ```json
//! {
//!   "providers": [{"url": "http://127.0.0.1:8080/org/…", "client_ids": ["…"], "thumbprints": []}],
//!   "roles": [{"name": "deploy", "path": "/ci/", "max_session_duration": 3600,
//!              "description": "…", "trust_policy": {…}}]
//! }
//! ```
//! A role gives its trust policy inline (`trust_policy`: a JSON object, or a string of JSON)
//! or by path (`trust_policy_file`, relative to the bootstrap file's directory).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Config;
use crate::error::AwsError;
use crate::iam::check_trust_policy;
use crate::identifiers::{new_role_id, provider_url_without_scheme};
use crate::query::{ParamReader, QueryParams, is_name_character};
use crate::store::{OidcProvider, Role, Store, StoreError};

/// Why the bootstrap file could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The bootstrap file is not the documented JSON shape.
    #[error("{path} is not a valid bootstrap file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde found.
        source: serde_json::Error,
    },
    /// An entry breaks an IAM rule (same messages as the IAM API).
    #[error("bootstrap {entry}: {code}: {message}")]
    Invalid {
        /// Which entry (`provider <url>` or `role <name>`).
        entry: String,
        /// The AWS error code IAM would have answered.
        code: String,
        /// The AWS error message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapFile {
    /// OIDC providers, applied first.
    #[serde(default)]
    pub providers: Vec<ProviderEntry>,
    /// Roles, applied after providers (their trust policies may name them).
    #[serde(default)]
    pub roles: Vec<RoleEntry>,
}

/// One OIDC provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Issuer URL with its scheme, as given to CreateOpenIDConnectProvider.
    pub url: String,
    /// Accepted audiences.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// Stored, never used.
    #[serde(default)]
    pub thumbprints: Vec<String>,
}

/// One role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// `RoleName`.
    pub name: String,
    /// `Path`, default `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// `MaxSessionDuration`, default 3600.
    #[serde(default)]
    pub max_session_duration: Option<i64>,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// Inline trust policy: a JSON object, or a string holding the document.
    #[serde(default)]
    pub trust_policy: Option<serde_json::Value>,
    /// Trust policy file, relative to the bootstrap file.
    #[serde(default)]
    pub trust_policy_file: Option<PathBuf>,
}

fn invalid(entry: &str, error: AwsError) -> BootstrapError {
    BootstrapError::Invalid {
        entry: entry.to_owned(),
        code: error.code.into_owned(),
        message: error.message,
    }
}

fn read_text(path: &Path) -> Result<String, BootstrapError> {
    std::fs::read_to_string(path).map_err(|source| BootstrapError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Reads `path` and applies it.
pub async fn apply_file(path: &Path, store: &Store, config: &Config) -> Result<(), BootstrapError> {
    let text = read_text(path)?;
    let file: BootstrapFile =
        serde_json::from_str(&text).map_err(|source| BootstrapError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let base = path.parent().unwrap_or(Path::new("."));
    apply(&file, base, store, config).await
}

/// Applies a parsed bootstrap file; `base` resolves relative `trust_policy_file` paths.
pub async fn apply(
    file: &BootstrapFile,
    base: &Path,
    store: &Store,
    config: &Config,
) -> Result<(), BootstrapError> {
    for entry in &file.providers {
        let label = format!("provider {}", entry.url);
        let provider =
            provider_from_entry(entry, config).map_err(|error| invalid(&label, error))?;
        store.put_provider(provider).await?;
        tracing::info!(url = %entry.url, "bootstrap: provider applied");
    }
    for entry in &file.roles {
        let label = format!("role {}", entry.name);
        let trust_policy = match (&entry.trust_policy, &entry.trust_policy_file) {
            (Some(serde_json::Value::String(text)), None) => text.clone(),
            (Some(document), None) => serde_json::to_string_pretty(document)
                .map_err(|error| invalid(&label, AwsError::validation(error.to_string())))?,
            (None, Some(relative)) => read_text(&base.join(relative))?,
            _ => {
                return Err(invalid(
                    &label,
                    AwsError::validation("give exactly one of trust_policy or trust_policy_file"),
                ));
            }
        };
        let role =
            role_from_entry(entry, trust_policy, config).map_err(|error| invalid(&label, error))?;
        check_trust_policy(store, &config.account_id, &role.trust_policy)
            .await
            .map_err(|error| invalid(&label, error))?;
        crate::iam::warn_about_lint_findings(&role.name, &role.trust_policy);
        let stored = store.put_role(role).await?;
        tracing::info!(role_name = %stored.name, role_id = %stored.role_id, "bootstrap: role applied");
    }
    Ok(())
}

fn provider_from_entry(entry: &ProviderEntry, config: &Config) -> Result<OidcProvider, AwsError> {
    let params = QueryParams::default();
    let mut reader = ParamReader::new(&params);
    reader.check_length(&entry.url, "url", 1, 255);
    for client_id in &entry.client_ids {
        reader.check_length(client_id, "clientIDList.member", 1, 255);
    }
    for thumbprint in &entry.thumbprints {
        reader.check_length(thumbprint, "thumbprintList.member", 40, 40);
    }
    reader.finish()?;
    let url = provider_url_without_scheme(&entry.url)
        .map_err(|error| AwsError::invalid_input(error.to_string()))?;
    let mut client_ids: Vec<String> = Vec::new();
    for client_id in &entry.client_ids {
        if !client_ids.contains(client_id) {
            client_ids.push(client_id.clone());
        }
    }
    Ok(OidcProvider {
        url: url.to_owned(),
        client_ids,
        thumbprints: entry.thumbprints.clone(),
        tags: Vec::new(),
        created_at: config.clock.now(),
    })
}

fn role_from_entry(
    entry: &RoleEntry,
    trust_policy: String,
    config: &Config,
) -> Result<Role, AwsError> {
    let params = QueryParams::default();
    let mut reader = ParamReader::new(&params);
    reader.check_length(&entry.name, "roleName", 1, 64);
    reader.check_pattern(
        &entry.name,
        "roleName",
        entry.name.chars().all(is_name_character),
        "[\\w+=,.@-]+",
    );
    let path = entry.path.clone().unwrap_or_else(|| "/".to_owned());
    crate::iam::check_path_for_bootstrap(&mut reader, &path);
    let max_session_duration = entry.max_session_duration.unwrap_or(3600);
    let duration_text = max_session_duration.to_string();
    if max_session_duration < 3600 {
        reader.violation(
            Some(&duration_text),
            "maxSessionDuration",
            "have value greater than or equal to 3600",
        );
    }
    if max_session_duration > 43_200 {
        reader.violation(
            Some(&duration_text),
            "maxSessionDuration",
            "have value less than or equal to 43200",
        );
    }
    reader.finish()?;
    Ok(Role {
        name: entry.name.clone(),
        path,
        role_id: new_role_id(),
        trust_policy,
        description: entry.description.clone(),
        max_session_duration,
        tags: Vec::new(),
        created_at: config.clock.now(),
    })
}
