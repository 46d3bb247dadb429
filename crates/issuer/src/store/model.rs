//! Queries for the platform model: orgs, users and memberships, projects, contexts with their
//! variables, runner tokens (stored as SHA-256 digests only) and token settings.

use keyless_claims::{ContextId, JsonDuration, OrgId, ProjectId, UserId};
use rusqlite::{Row, params};

use super::{Tx, optional, parse_column};
use crate::error::PlatformResult;
use crate::model::{Context, Environment, Org, OrgSettings, Project, TokenSettings, User};

const ORG_COLUMNS: &str = "id, name, oidc_requires_context, pass_secrets_to_forks";
const PROJECT_COLUMNS: &str = "id, org_id, name, slug, vcs_origin, pipeline_definition_id";

type OrgRow = (String, String, bool, bool);
type ProjectRow = (String, String, String, String, Option<String>, String);

fn org_row(row: &Row<'_>) -> rusqlite::Result<OrgRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn org_from(row: OrgRow) -> PlatformResult<Org> {
    Ok(Org {
        id: parse_column(&row.0, "org id")?,
        name: row.1,
        settings: OrgSettings {
            oidc_requires_context: row.2,
            pass_secrets_to_forks: row.3,
        },
    })
}

fn project_row(row: &Row<'_>) -> rusqlite::Result<ProjectRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn project_from(row: ProjectRow) -> PlatformResult<Project> {
    Ok(Project {
        id: parse_column(&row.0, "project id")?,
        org_id: parse_column(&row.1, "org id")?,
        name: row.2,
        slug: row.3,
        vcs_origin: row.4,
        pipeline_definition_id: parse_column(&row.5, "pipeline definition id")?,
    })
}

impl Tx<'_> {
    /// Inserts or updates an org (matched by id).
    pub fn save_org(&self, org: &Org, now: i64) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO orgs (id, name, oidc_requires_context, pass_secrets_to_forks, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET name = ?2, oidc_requires_context = ?3,
                 pass_secrets_to_forks = ?4",
            params![
                org.id.to_string(),
                org.name,
                org.settings.oidc_requires_context,
                org.settings.pass_secrets_to_forks,
                now
            ],
        )?;
        Ok(())
    }

    /// The org with this id.
    pub fn org_by_id(&self, id: &OrgId) -> PlatformResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE id = ?1");
        let row = optional(self.connection().query_row(&sql, [id.to_string()], org_row))?;
        row.map(org_from).transpose()
    }

    /// The org with this name.
    pub fn org_by_name(&self, name: &str) -> PlatformResult<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs WHERE name = ?1");
        let row = optional(self.connection().query_row(&sql, [name], org_row))?;
        row.map(org_from).transpose()
    }

    /// Every org, by name.
    pub fn orgs(&self) -> PlatformResult<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs ORDER BY name");
        let mut statement = self.connection().prepare(&sql)?;
        let rows = statement.query_map([], org_row)?;
        rows.map(|row| org_from(row?)).collect()
    }

    /// Inserts or updates a user (matched by id).
    pub fn save_user(&self, user: &User) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO users (id, login) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET login = ?2",
            params![user.id.to_string(), user.login],
        )?;
        Ok(())
    }

    /// The user with this id.
    pub fn user_by_id(&self, id: &UserId) -> PlatformResult<Option<User>> {
        let row = optional(self.connection().query_row(
            "SELECT login FROM users WHERE id = ?1",
            [id.to_string()],
            |row| row.get::<_, String>(0),
        ))?;
        Ok(row.map(|login| User { id: *id, login }))
    }

    /// The user with this login.
    pub fn user_by_login(&self, login: &str) -> PlatformResult<Option<User>> {
        let row = optional(self.connection().query_row(
            "SELECT id FROM users WHERE login = ?1",
            [login],
            |row| row.get::<_, String>(0),
        ))?;
        row.map(|id| {
            Ok(User {
                id: parse_column(&id, "user id")?,
                login: login.to_owned(),
            })
        })
        .transpose()
    }

    /// Makes `user` a member of `org` (no-op if already).
    pub fn add_member(&self, org: &OrgId, user: &UserId) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT OR IGNORE INTO memberships (org_id, user_id) VALUES (?1, ?2)",
            params![org.to_string(), user.to_string()],
        )?;
        Ok(())
    }

    /// The org's members, in the order they joined (the first is the default job user).
    pub fn members(&self, org: &OrgId) -> PlatformResult<Vec<User>> {
        let mut statement = self.connection().prepare(
            "SELECT users.id, users.login FROM memberships JOIN users ON users.id = user_id
             WHERE org_id = ?1 ORDER BY memberships.seq",
        )?;
        let rows = statement.query_map([org.to_string()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (id, login) = row?;
            Ok(User {
                id: parse_column(&id, "user id")?,
                login,
            })
        })
        .collect()
    }

    /// Inserts or updates a project (matched by id).
    pub fn save_project(&self, project: &Project) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO projects (id, org_id, name, slug, vcs_origin, pipeline_definition_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET name = ?3, slug = ?4, vcs_origin = ?5",
            params![
                project.id.to_string(),
                project.org_id.to_string(),
                project.name,
                project.slug,
                project.vcs_origin,
                project.pipeline_definition_id.to_string()
            ],
        )?;
        Ok(())
    }

    fn project_where(&self, condition: &str, values: &[&str]) -> PlatformResult<Option<Project>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE {condition}");
        let row = optional(self.connection().query_row(
            &sql,
            rusqlite::params_from_iter(values),
            project_row,
        ))?;
        row.map(project_from).transpose()
    }

    /// The project with this id.
    pub fn project_by_id(&self, id: &ProjectId) -> PlatformResult<Option<Project>> {
        self.project_where("id = ?1", &[&id.to_string()])
    }

    /// The project with this slug, e.g. `gh/acme/widgets`.
    pub fn project_by_slug(&self, slug: &str) -> PlatformResult<Option<Project>> {
        self.project_where("slug = ?1", &[slug])
    }

    /// The org's project with this name.
    pub fn project_by_name(&self, org: &OrgId, name: &str) -> PlatformResult<Option<Project>> {
        self.project_where("org_id = ?1 AND name = ?2", &[&org.to_string(), name])
    }

    /// The org's projects, by name.
    pub fn projects(&self, org: &OrgId) -> PlatformResult<Vec<Project>> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE org_id = ?1 ORDER BY name");
        let mut statement = self.connection().prepare(&sql)?;
        let rows = statement.query_map([org.to_string()], project_row)?;
        rows.map(|row| project_from(row?)).collect()
    }

    /// Inserts or renames a context (matched by id).
    pub fn save_context(&self, id: &ContextId, org: &OrgId, name: &str) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO contexts (id, org_id, name) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET name = ?3",
            params![id.to_string(), org.to_string(), name],
        )?;
        Ok(())
    }

    fn context_where(&self, condition: &str, values: &[&str]) -> PlatformResult<Option<Context>> {
        let sql = format!("SELECT id, org_id, name FROM contexts WHERE {condition}");
        let row = optional(self.connection().query_row(
            &sql,
            rusqlite::params_from_iter(values),
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        ))?;
        let Some((id, org_id, name)) = row else {
            return Ok(None);
        };
        let id: ContextId = parse_column(&id, "context id")?;
        let variable_names = self.context_variables(&id)?.into_keys().collect();
        Ok(Some(Context {
            id,
            org_id: parse_column(&org_id, "org id")?,
            name,
            variable_names,
        }))
    }

    /// The context with this id (of any org).
    pub fn context_by_id(&self, id: &ContextId) -> PlatformResult<Option<Context>> {
        self.context_where("id = ?1", &[&id.to_string()])
    }

    /// The org's context with this name.
    pub fn context_by_name(&self, org: &OrgId, name: &str) -> PlatformResult<Option<Context>> {
        self.context_where("org_id = ?1 AND name = ?2", &[&org.to_string(), name])
    }

    /// The org's contexts, by name.
    pub fn contexts(&self, org: &OrgId) -> PlatformResult<Vec<Context>> {
        let mut statement = self
            .connection()
            .prepare("SELECT name FROM contexts WHERE org_id = ?1 ORDER BY name")?;
        let names = statement
            .query_map([org.to_string()], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut contexts = Vec::with_capacity(names.len());
        for name in names {
            contexts.extend(self.context_by_name(org, &name)?);
        }
        Ok(contexts)
    }

    /// Sets one variable of a context.
    pub fn set_context_variable(
        &self,
        context: &ContextId,
        name: &str,
        value: &str,
    ) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO context_variables (context_id, name, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (context_id, name) DO UPDATE SET value = ?3",
            params![context.to_string(), name, value],
        )?;
        Ok(())
    }

    /// Removes one variable of a context; whether it existed.
    pub fn delete_context_variable(&self, context: &ContextId, name: &str) -> PlatformResult<bool> {
        let removed = self.connection().execute(
            "DELETE FROM context_variables WHERE context_id = ?1 AND name = ?2",
            params![context.to_string(), name],
        )?;
        Ok(removed > 0)
    }

    /// A context's variables with their values.
    pub fn context_variables(&self, context: &ContextId) -> PlatformResult<Environment> {
        let mut statement = self.connection().prepare(
            "SELECT name, value FROM context_variables WHERE context_id = ?1 ORDER BY name",
        )?;
        let rows = statement.query_map([context.to_string()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<Environment>>()?)
    }

    /// Creates or replaces the runner token called `name`, stored as its SHA-256 digest.
    pub fn save_runner_token(
        &self,
        name: &str,
        org: &OrgId,
        token_sha256: &[u8],
    ) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO runner_tokens (name, org_id, token_sha256) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET org_id = ?2, token_sha256 = ?3",
            params![name, org.to_string(), token_sha256],
        )?;
        Ok(())
    }

    /// The org and stored digest of the runner token with this digest.
    pub fn runner_token(&self, token_sha256: &[u8]) -> PlatformResult<Option<(OrgId, Vec<u8>)>> {
        let row = optional(self.connection().query_row(
            "SELECT org_id, token_sha256 FROM runner_tokens WHERE token_sha256 = ?1",
            [token_sha256],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)),
        ))?;
        row.map(|(org, digest)| Ok((parse_column(&org, "org id")?, digest)))
            .transpose()
    }

    /// The names of the org's runner tokens.
    pub fn runner_token_names(&self, org: &OrgId) -> PlatformResult<Vec<String>> {
        let mut statement = self
            .connection()
            .prepare("SELECT name FROM runner_tokens WHERE org_id = ?1 ORDER BY name")?;
        let rows = statement.query_map([org.to_string()], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The stored token settings of an org (`project = None`) or one of its projects.
    pub fn token_settings(
        &self,
        org: &OrgId,
        project: Option<&ProjectId>,
    ) -> PlatformResult<TokenSettings> {
        let project_key = project.map(ToString::to_string).unwrap_or_default();
        // Cached: minting reads the org's and the project's settings on every request.
        let mut statement = self.connection().prepare_cached(
            "SELECT audience, audience_updated_at, ttl, ttl_updated_at FROM token_settings
             WHERE org_id = ?1 AND project_id = ?2",
        )?;
        let row = optional(
            statement.query_row(params![org.to_string(), project_key], |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            }),
        )?;
        let mut settings = TokenSettings {
            org_id: *org,
            project_id: project.copied(),
            audience: None,
            audience_updated_at: None,
            ttl: None,
            ttl_updated_at: None,
        };
        if let Some((audience, audience_updated_at, ttl, ttl_updated_at)) = row {
            settings.audience = audience
                .map(|json| serde_json::from_str::<Vec<String>>(&json))
                .transpose()
                .map_err(|error| crate::error::PlatformError::internal(error.to_string()))?;
            settings.audience_updated_at = audience_updated_at;
            settings.ttl = ttl
                .map(|text| parse_column::<JsonDuration>(&text, "ttl"))
                .transpose()?;
            settings.ttl_updated_at = ttl_updated_at;
        }
        Ok(settings)
    }

    /// Stores token settings (replacing the row for the same org and project).
    pub fn save_token_settings(&self, settings: &TokenSettings) -> PlatformResult<()> {
        let project_key = settings
            .project_id
            .map(|project| project.to_string())
            .unwrap_or_default();
        let audience = settings
            .audience
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|error| crate::error::PlatformError::internal(error.to_string()))?;
        self.connection().execute(
            "INSERT INTO token_settings (org_id, project_id, audience, audience_updated_at, ttl,
                 ttl_updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org_id, project_id) DO UPDATE SET audience = ?3,
                 audience_updated_at = ?4, ttl = ?5, ttl_updated_at = ?6",
            params![
                settings.org_id.to_string(),
                project_key,
                audience,
                settings.audience_updated_at,
                settings.ttl.as_ref().map(ToString::to_string),
                settings.ttl_updated_at
            ],
        )?;
        Ok(())
    }
}
