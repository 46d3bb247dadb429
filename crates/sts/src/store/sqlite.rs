//! The SQLite backend of [`crate::store`]: schema, and one function per statement. Lists (client
//! ids, thumbprints, tags) are JSON arrays in TEXT columns; times are Unix seconds.

use std::fs;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use time::OffsetDateTime;

use super::{DATABASE_FILE_NAME, Insertion, OidcProvider, Role, StoreError, StoreLocation, Tag};

/// Schema version 1: IAM providers and roles.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS oidc_providers (
    url TEXT PRIMARY KEY,
    client_ids TEXT NOT NULL,
    thumbprints TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roles (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    role_id TEXT NOT NULL UNIQUE,
    trust_policy TEXT NOT NULL,
    description TEXT,
    max_session_duration INTEGER NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// Opens the database at `location` and applies the schema; `synchronous` is the WAL-mode
/// `PRAGMA synchronous` value (see [`super::Durability`]).
///
/// The data directory is created readable by its owner only (0700) and the database file is
/// 0600; SQLite gives its `-wal` and `-shm` files the database file's mode. The store holds
/// session secrets.
pub fn open(location: &StoreLocation, synchronous: &str) -> Result<Connection, StoreError> {
    let connection = match location {
        StoreLocation::InMemory => Connection::open_in_memory()?,
        StoreLocation::Directory(directory) => {
            let data_directory_error = |source| StoreError::DataDirectory {
                path: directory.clone(),
                source,
            };
            create_private_directory(directory).map_err(data_directory_error)?;
            let path = directory.join(DATABASE_FILE_NAME);
            create_private_file(&path).map_err(data_directory_error)?;
            let connection = Connection::open(path)?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", synchronous)?;
            connection
        }
    };
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.execute_batch(SCHEMA)?;
    connection.execute_batch(super::records::SESSION_SCHEMA)?;
    Ok(connection)
}

/// Creates `directory` (and missing parents) with mode 0700; an existing one is left as it is.
fn create_private_directory(directory: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory)
}

/// Creates `path` empty with mode 0600 if it does not exist, and makes an existing one 0600.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    drop(file);
    Ok(())
}

/// The key role names are unique under: IAM compares them case-insensitively.
pub(super) fn role_name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Vec<String> and Vec<Tag> always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
}

pub fn from_unix(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Raw columns of a provider row, decoded after the row is read.
type ProviderColumns = (String, String, String, String, i64);

fn provider_columns(row: &Row<'_>) -> rusqlite::Result<ProviderColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn provider_from(columns: ProviderColumns) -> Result<OidcProvider, StoreError> {
    let (url, client_ids, thumbprints, tags, created_at) = columns;
    Ok(OidcProvider {
        url,
        client_ids: from_json(&client_ids)?,
        thumbprints: from_json(&thumbprints)?,
        tags: from_json::<Vec<Tag>>(&tags)?,
        created_at: from_unix(created_at)?,
    })
}

const PROVIDER_COLUMNS: &str = "url, client_ids, thumbprints, tags, created_at";

pub fn insert_provider(
    tx: &Transaction<'_>,
    provider: &OidcProvider,
) -> Result<Insertion, StoreError> {
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO oidc_providers (url, client_ids, thumbprints, tags, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            provider.url,
            to_json(&provider.client_ids),
            to_json(&provider.thumbprints),
            to_json(&provider.tags),
            provider.created_at.unix_timestamp()
        ],
    )?;
    Ok(if inserted == 1 {
        Insertion::Created
    } else {
        Insertion::AlreadyExists
    })
}

pub fn put_provider(tx: &Transaction<'_>, provider: &OidcProvider) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO oidc_providers (url, client_ids, thumbprints, tags, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(url) DO UPDATE SET client_ids = excluded.client_ids, thumbprints = excluded.thumbprints, tags = excluded.tags",
        params![
            provider.url,
            to_json(&provider.client_ids),
            to_json(&provider.thumbprints),
            to_json(&provider.tags),
            provider.created_at.unix_timestamp()
        ],
    )?;
    Ok(())
}

pub fn provider(tx: &Transaction<'_>, url: &str) -> Result<Option<OidcProvider>, StoreError> {
    tx.query_row(
        &format!("SELECT {PROVIDER_COLUMNS} FROM oidc_providers WHERE url = ?1"),
        params![url],
        provider_columns,
    )
    .optional()?
    .map(provider_from)
    .transpose()
}

pub fn providers(tx: &Transaction<'_>) -> Result<Vec<OidcProvider>, StoreError> {
    let mut statement = tx.prepare(&format!(
        "SELECT {PROVIDER_COLUMNS} FROM oidc_providers ORDER BY url"
    ))?;
    let rows = statement
        .query_map([], provider_columns)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(provider_from).collect()
}

pub fn delete_provider(tx: &Transaction<'_>, url: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM oidc_providers WHERE url = ?1", params![url])? == 1)
}

const ROLE_COLUMNS: &str =
    "name, path, role_id, trust_policy, description, max_session_duration, tags, created_at";

/// Raw columns of a role row.
type RoleColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    i64,
);

fn role_columns(row: &Row<'_>) -> rusqlite::Result<RoleColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn role_from(columns: RoleColumns) -> Result<Role, StoreError> {
    let (name, path, role_id, trust_policy, description, max_session_duration, tags, created_at) =
        columns;
    Ok(Role {
        name,
        path,
        role_id,
        trust_policy,
        description,
        max_session_duration,
        tags: from_json::<Vec<Tag>>(&tags)?,
        created_at: from_unix(created_at)?,
    })
}

fn role_parameters(role: &Role) -> [Box<dyn rusqlite::ToSql>; 9] {
    [
        Box::new(role_name_key(&role.name)),
        Box::new(role.name.clone()),
        Box::new(role.path.clone()),
        Box::new(role.role_id.clone()),
        Box::new(role.trust_policy.clone()),
        Box::new(role.description.clone()),
        Box::new(role.max_session_duration),
        Box::new(to_json(&role.tags)),
        Box::new(role.created_at.unix_timestamp()),
    ]
}

pub fn insert_role(tx: &Transaction<'_>, role: &Role) -> Result<Insertion, StoreError> {
    let inserted = tx.execute(
        &format!("INSERT OR IGNORE INTO roles (name_key, {ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        rusqlite::params_from_iter(role_parameters(role)),
    )?;
    Ok(if inserted == 1 {
        Insertion::Created
    } else {
        Insertion::AlreadyExists
    })
}

pub fn replace_role(tx: &Transaction<'_>, role: &Role) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT OR REPLACE INTO roles (name_key, {ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        rusqlite::params_from_iter(role_parameters(role)),
    )?;
    Ok(())
}

pub fn role(tx: &Transaction<'_>, name: &str) -> Result<Option<Role>, StoreError> {
    tx.query_row(
        &format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name_key = ?1"),
        params![role_name_key(name)],
        role_columns,
    )
    .optional()?
    .map(role_from)
    .transpose()
}

pub fn roles(tx: &Transaction<'_>) -> Result<Vec<Role>, StoreError> {
    let mut statement = tx.prepare(&format!(
        "SELECT {ROLE_COLUMNS} FROM roles ORDER BY name_key"
    ))?;
    let rows = statement
        .query_map([], role_columns)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(role_from).collect()
}

pub fn delete_role(tx: &Transaction<'_>, name: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "DELETE FROM roles WHERE name_key = ?1",
        params![role_name_key(name)],
    )? == 1)
}
