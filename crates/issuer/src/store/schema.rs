//! The SQLite schema, applied at every open (`CREATE … IF NOT EXISTS`), and the version it
//! records so that a later change can migrate.

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Every table and index.
pub const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    oidc_requires_context INTEGER NOT NULL,
    pass_secrets_to_forks INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS memberships (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    UNIQUE (org_id, user_id)
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    vcs_origin TEXT,
    pipeline_definition_id TEXT NOT NULL,
    last_pipeline_number INTEGER NOT NULL DEFAULT 0,
    last_build_num INTEGER NOT NULL DEFAULT 0,
    UNIQUE (org_id, name)
);
CREATE TABLE IF NOT EXISTS contexts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE IF NOT EXISTS context_variables (
    context_id TEXT NOT NULL REFERENCES contexts(id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (context_id, name)
);
CREATE TABLE IF NOT EXISTS runner_tokens (
    name TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    token_sha256 BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS token_settings (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    project_id TEXT NOT NULL,
    audience TEXT,
    audience_updated_at TEXT,
    ttl TEXT,
    ttl_updated_at TEXT,
    PRIMARY KEY (org_id, project_id)
);
CREATE TABLE IF NOT EXISTS pipelines (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    number INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS workflows (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    project_id TEXT NOT NULL REFERENCES projects(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    build_num INTEGER NOT NULL,
    secret_sha256 BLOB NOT NULL,
    context_ids TEXT NOT NULL,
    vcs TEXT,
    fork INTEGER NOT NULL,
    ssh_rerun INTEGER NOT NULL,
    refusal TEXT,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    private_key_der BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at INTEGER NOT NULL,
    activated_at INTEGER,
    retire_after INTEGER
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    minted_at INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    iss TEXT NOT NULL,
    sub TEXT NOT NULL,
    aud TEXT NOT NULL,
    kid TEXT,
    iat INTEGER NOT NULL,
    exp INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_job ON audit (job_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_kid ON audit (kid, exp);
";
