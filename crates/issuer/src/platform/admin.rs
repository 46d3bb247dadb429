//! The admin API's operations on the platform model, shared with the bootstrap file: create
//! (or, for the bootstrap, converge) orgs, users, projects, contexts and their variables,
//! runner tokens, org settings and the `oidc-custom-claims` token settings.

pub use super::admin_types::{
    ClaimsPatch, ContextSpec, CreatedRunnerToken, OrgSettingsPatch, OrgSpec, ProjectSpec,
    RunnerTokenSpec, UserSpec,
};
use keyless_claims::{ContextId, OrgId, PipelineDefinitionId, ProjectId, UserId};

use super::{Platform, check_name, random_secret, secret_digest};
use crate::error::{PlatformError, PlatformResult};
use crate::model::{
    Context, Org, OrgSettings, Project, TOKEN_TTL_CAP_SECONDS, TokenSettings, User,
};
use crate::store::Tx;

/// What to do when the thing already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse with 409 (the admin API's create).
    Refuse,
    /// Bring it in line with the declaration (the bootstrap file).
    Update,
}

fn conflict(what: &str, name: &str, detail: &str) -> PlatformError {
    PlatformError::conflict("already_exists", format!("A {what} {name:?} {detail}."))
}

/// Checks a repository without scheme, e.g. `github.com/acme/widgets`.
pub fn check_vcs_origin(origin: &str) -> PlatformResult<()> {
    let valid = !origin.contains("://")
        && origin.split('/').count() >= 2
        && origin.split('/').all(|part| !part.is_empty())
        && origin.len() <= 255
        && !origin
            .chars()
            .any(|character| character.is_whitespace() || character.is_control());
    if valid {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            "invalid_vcs_origin",
            format!(
                "VCS origin {origin:?} must be host/path without a scheme, like github.com/acme/widgets."
            ),
        ))
    }
}

/// Finds an org by id or name.
pub fn resolve_org(tx: &Tx<'_>, reference: &str) -> PlatformResult<Org> {
    let found = match reference.parse::<OrgId>() {
        Ok(id) => tx.org_by_id(&id)?,
        Err(_) => tx.org_by_name(reference)?,
    };
    found.ok_or_else(|| PlatformError::not_found("org_not_found", format!("No org {reference:?}.")))
}

/// Finds one of the org's contexts by id or name.
pub fn resolve_context(tx: &Tx<'_>, org: &Org, reference: &str) -> PlatformResult<Context> {
    let found = match reference.parse::<ContextId>() {
        Ok(id) => tx.context_by_id(&id)?,
        Err(_) => tx.context_by_name(&org.id, reference)?,
    };
    let context = found.ok_or_else(|| {
        PlatformError::not_found(
            "context_not_found",
            format!("No context {reference:?} in org {}.", org.name),
        )
    })?;
    if context.org_id != org.id {
        return Err(PlatformError::invalid(
            "context_of_another_org",
            format!(
                "Context {reference:?} belongs to another org than {}.",
                org.name
            ),
        ));
    }
    Ok(context)
}

/// Creates or converges an org.
pub fn save_org(tx: &Tx<'_>, spec: &OrgSpec, existing: Existing, now: i64) -> PlatformResult<Org> {
    check_name("org name", "invalid_name", &spec.name)?;
    let by_name = tx.org_by_name(&spec.name)?;
    let by_id = match spec.id {
        Some(id) => tx.org_by_id(&id)?,
        None => None,
    };
    let current = match (by_id, by_name) {
        (Some(by_id), Some(by_name)) if by_id.id != by_name.id => {
            return Err(conflict(
                "org named",
                &spec.name,
                "already exists with another id",
            ));
        }
        (None, Some(by_name)) if spec.id.is_some() => {
            return Err(conflict(
                "org named",
                &spec.name,
                &format!("already exists with id {}", by_name.id),
            ));
        }
        (by_id, by_name) => by_id.or(by_name),
    };
    if current.is_some() && existing == Existing::Refuse {
        return Err(conflict("org named", &spec.name, "already exists"));
    }
    let mut org = current.unwrap_or_else(|| Org {
        id: spec.id.unwrap_or_else(OrgId::random),
        name: spec.name.clone(),
        settings: OrgSettings::default(),
    });
    org.name = spec.name.clone();
    if let Some(patch) = &spec.settings {
        apply_settings(&mut org.settings, patch);
    }
    tx.save_org(&org, now)?;
    Ok(org)
}

fn apply_settings(settings: &mut OrgSettings, patch: &OrgSettingsPatch) {
    if let Some(value) = patch.oidc_requires_context {
        settings.oidc_requires_context = value;
    }
    if let Some(value) = patch.pass_secrets_to_forks {
        settings.pass_secrets_to_forks = value;
    }
}

/// Creates or converges a user and makes it a member of the org.
pub fn save_user(
    tx: &Tx<'_>,
    org: &Org,
    spec: &UserSpec,
    existing: Existing,
) -> PlatformResult<User> {
    check_name("login", "invalid_name", &spec.login)?;
    let by_login = tx.user_by_login(&spec.login)?;
    let by_id = match spec.id {
        Some(id) => tx.user_by_id(&id)?,
        None => None,
    };
    let user = match (by_id, by_login) {
        (Some(by_id), Some(by_login)) if by_id.id != by_login.id => {
            return Err(conflict(
                "user with login",
                &spec.login,
                "already exists with another id",
            ));
        }
        (None, Some(by_login)) if spec.id.is_some() => {
            return Err(conflict(
                "user with login",
                &spec.login,
                &format!("already exists with id {}", by_login.id),
            ));
        }
        (Some(current), _) | (None, Some(current)) => {
            let members = tx.members(&org.id)?;
            if existing == Existing::Refuse && members.iter().any(|member| member.id == current.id)
            {
                return Err(conflict(
                    "user with login",
                    &spec.login,
                    &format!("is already a member of {}", org.name),
                ));
            }
            User {
                id: current.id,
                login: spec.login.clone(),
            }
        }
        (None, None) => User {
            id: spec.id.unwrap_or_else(UserId::random),
            login: spec.login.clone(),
        },
    };
    tx.save_user(&user)?;
    tx.add_member(&org.id, &user.id)?;
    Ok(user)
}

fn default_slug(org: &Org, id: &ProjectId, origin: Option<&str>) -> String {
    let hosted = |prefix: &str, rest: &str| format!("{prefix}/{rest}");
    match origin {
        Some(origin) if origin.starts_with("github.com/") => {
            hosted("gh", &origin["github.com/".len()..])
        }
        Some(origin) if origin.starts_with("bitbucket.org/") => {
            hosted("bb", &origin["bitbucket.org/".len()..])
        }
        _ => format!("circleci/{}/{id}", org.id),
    }
}

/// Creates or converges a project of the org.
pub fn save_project(
    tx: &Tx<'_>,
    org: &Org,
    spec: &ProjectSpec,
    existing: Existing,
) -> PlatformResult<Project> {
    check_name("project name", "invalid_name", &spec.name)?;
    if let Some(origin) = &spec.vcs_origin {
        check_vcs_origin(origin)?;
    }
    let by_name = tx.project_by_name(&org.id, &spec.name)?;
    let by_id = match spec.id {
        Some(id) => tx.project_by_id(&id)?,
        None => None,
    };
    let current = match (by_id, by_name) {
        (Some(by_id), _) if by_id.org_id != org.id => {
            return Err(conflict(
                "project with id",
                &by_id.id.to_string(),
                "belongs to another org",
            ));
        }
        (Some(by_id), Some(by_name)) if by_id.id != by_name.id => {
            return Err(conflict(
                "project named",
                &spec.name,
                "already exists with another id",
            ));
        }
        (None, Some(by_name)) if spec.id.is_some() => {
            return Err(conflict(
                "project named",
                &spec.name,
                &format!("already exists with id {}", by_name.id),
            ));
        }
        (by_id, by_name) => by_id.or(by_name),
    };
    if current.is_some() && existing == Existing::Refuse {
        return Err(conflict(
            "project named",
            &spec.name,
            &format!("already exists in {}", org.name),
        ));
    }
    let id = current.as_ref().map_or_else(
        || spec.id.unwrap_or_else(ProjectId::random),
        |project| project.id,
    );
    let slug = spec.slug.clone().unwrap_or_else(|| match &current {
        Some(project) if spec.vcs_origin == project.vcs_origin => project.slug.clone(),
        _ => default_slug(org, &id, spec.vcs_origin.as_deref()),
    });
    check_name("project slug", "invalid_slug", &slug)?;
    if let Some(other) = tx.project_by_slug(&slug)?
        && other.id != id
    {
        return Err(conflict("project with slug", &slug, "already exists"));
    }
    let project = Project {
        id,
        org_id: org.id,
        name: spec.name.clone(),
        slug,
        vcs_origin: spec.vcs_origin.clone(),
        pipeline_definition_id: current.map_or_else(PipelineDefinitionId::random, |project| {
            project.pipeline_definition_id
        }),
    };
    tx.save_project(&project)?;
    Ok(project)
}

/// Creates or converges a context of the org, setting the declared variables.
pub fn save_context(
    tx: &Tx<'_>,
    org: &Org,
    spec: &ContextSpec,
    existing: Existing,
) -> PlatformResult<Context> {
    check_name("context name", "invalid_name", &spec.name)?;
    let by_name = tx.context_by_name(&org.id, &spec.name)?;
    let by_id = match spec.id {
        Some(id) => tx.context_by_id(&id)?,
        None => None,
    };
    let current = match (by_id, by_name) {
        (Some(by_id), _) if by_id.org_id != org.id => {
            return Err(conflict(
                "context with id",
                &by_id.id.to_string(),
                "belongs to another org",
            ));
        }
        (Some(by_id), Some(by_name)) if by_id.id != by_name.id => {
            return Err(conflict(
                "context named",
                &spec.name,
                "already exists with another id",
            ));
        }
        (None, Some(by_name)) if spec.id.is_some() => {
            return Err(conflict(
                "context named",
                &spec.name,
                &format!("already exists with id {}", by_name.id),
            ));
        }
        (by_id, by_name) => by_id.or(by_name),
    };
    if current.is_some() && existing == Existing::Refuse {
        return Err(conflict(
            "context named",
            &spec.name,
            &format!("already exists in {}", org.name),
        ));
    }
    let id = current.map_or_else(
        || spec.id.unwrap_or_else(ContextId::random),
        |context| context.id,
    );
    tx.save_context(&id, &org.id, &spec.name)?;
    for (name, value) in &spec.environment {
        check_variable_name(name)?;
        tx.set_context_variable(&id, name, value)?;
    }
    tx.context_by_id(&id)?
        .ok_or_else(|| PlatformError::internal("a context just saved is missing"))
}

/// Checks an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`, at most 100 characters.
pub fn check_variable_name(name: &str) -> PlatformResult<()> {
    let mut characters = name.chars();
    let valid = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
        && name.len() <= 100;
    if valid {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            "invalid_variable_name",
            format!(
                "{name:?} is not an environment variable name (letters, digits, _; not starting with a digit)."
            ),
        ))
    }
}

/// Creates or replaces a runner token of the org.
pub fn save_runner_token(
    tx: &Tx<'_>,
    org: &Org,
    spec: &RunnerTokenSpec,
    existing: Existing,
) -> PlatformResult<CreatedRunnerToken> {
    check_name("runner token name", "invalid_name", &spec.name)?;
    if existing == Existing::Refuse && tx.runner_token_names(&org.id)?.contains(&spec.name) {
        return Err(conflict("runner token named", &spec.name, "already exists"));
    }
    let token = spec.token.clone().unwrap_or_else(random_secret);
    if token.len() < 16 || token.len() > 512 {
        return Err(PlatformError::invalid(
            "invalid_token",
            "A runner token must be 16 to 512 bytes long.",
        ));
    }
    let digest = secret_digest(&token);
    if let Some((other_org, _)) = tx.runner_token(&digest)?
        && (other_org != org.id || existing == Existing::Refuse)
    {
        return Err(conflict(
            "runner token",
            &spec.name,
            "reuses the token of another runner token",
        ));
    }
    tx.save_runner_token(&spec.name, &org.id, &digest)?;
    Ok(CreatedRunnerToken {
        name: spec.name.clone(),
        org_id: org.id,
        token,
    })
}

/// Applies a `PATCH …/oidc-custom-claims` body to stored settings.
pub fn patch_token_settings(
    tx: &Tx<'_>,
    org: &OrgId,
    project: Option<&ProjectId>,
    patch: &ClaimsPatch,
    now_rfc3339: &str,
) -> PlatformResult<TokenSettings> {
    let mut settings = tx.token_settings(org, project)?;
    if let Some(audience) = &patch.audience {
        if audience.is_empty()
            || audience
                .iter()
                .any(|value| value.is_empty() || value.len() > 256)
        {
            return Err(PlatformError::invalid(
                "invalid_audience",
                "audience must be a non-empty list of non-empty strings of at most 256 bytes.",
            ));
        }
        settings.audience = Some(audience.clone());
        settings.audience_updated_at = Some(now_rfc3339.to_owned());
    }
    if let Some(ttl) = &patch.ttl {
        let seconds = ttl.duration().as_secs();
        if seconds == 0 || seconds > TOKEN_TTL_CAP_SECONDS {
            return Err(PlatformError::invalid(
                "invalid_ttl",
                format!("ttl {ttl} must be at least 1s and at most 5h (CircleCI's token_max_ttl)."),
            ));
        }
        settings.ttl = Some(ttl.clone());
        settings.ttl_updated_at = Some(now_rfc3339.to_owned());
    }
    tx.save_token_settings(&settings)?;
    Ok(settings)
}

impl Platform {
    /// The time as RFC 3339, for `*_updated_at` fields.
    pub fn now_rfc3339(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.now().seconds())
            .ok()
            .and_then(|time| {
                time.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }

    /// Changes an org's settings.
    pub fn patch_org_settings(
        &self,
        reference: &str,
        patch: &OrgSettingsPatch,
    ) -> PlatformResult<Org> {
        let now = self.now().seconds();
        self.store.write(|tx| {
            let mut org = resolve_org(tx, reference)?;
            apply_settings(&mut org.settings, patch);
            tx.save_org(&org, now)?;
            Ok(org)
        })
    }

    /// Removes token settings (`DELETE …/oidc-custom-claims?claims=audience,ttl`).
    pub fn delete_token_settings(
        &self,
        org: &OrgId,
        project: Option<&ProjectId>,
        claims: &str,
    ) -> PlatformResult<TokenSettings> {
        let mut names = Vec::new();
        for name in claims.split(',').map(str::trim) {
            match name {
                "audience" | "ttl" => names.push(name),
                other => {
                    return Err(PlatformError::invalid(
                        "invalid_claims",
                        format!("claims must list audience and/or ttl, not {other:?}."),
                    ));
                }
            }
        }
        self.store.write(|tx| {
            let mut settings = tx.token_settings(org, project)?;
            if names.contains(&"audience") {
                settings.audience = None;
                settings.audience_updated_at = None;
            }
            if names.contains(&"ttl") {
                settings.ttl = None;
                settings.ttl_updated_at = None;
            }
            tx.save_token_settings(&settings)?;
            Ok(settings)
        })
    }
}
