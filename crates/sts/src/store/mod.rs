//! The one place keyless-sts state lives: IAM OIDC providers and roles (and, with part 2,
//! sessions, decisions and audit events). Handlers see only this module's types and async methods; today the
//! backend is SQLite through `rusqlite` (a file in `--data-dir`, or in memory for tests), and a
//! PostgreSQL backend for several replicas would slot in behind the same methods.
//!
//! Every method is one transaction, so a failed request never leaves partial writes.

mod records;
mod sqlite;
mod writer;

pub use records::{CallRecord, PurgeCounts, Session};
pub use writer::MAX_WRITES_PER_COMMIT;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use time::OffsetDateTime;

/// The database file name inside `--data-dir`.
pub const DATABASE_FILE_NAME: &str = "keyless-sts.sqlite3";

/// Where the state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// Lost when the process exits (tests, throwaway runs).
    InMemory,
    /// `DIR/keyless-sts.sqlite3`, created if missing.
    Directory(PathBuf),
}

/// Why the store failed. Clients only ever see `ServiceFailure`; this goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDirectory {
        /// The directory.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// A stored value could not be decoded (a list column that is not a JSON array, …).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The blocking task running the query died.
    #[error("store task failed: {0}")]
    TaskFailed(String),
}

/// An IAM resource tag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// `Key`.
    pub key: String,
    /// `Value`.
    pub value: String,
}

/// An IAM OpenID Connect provider (spec §3.1, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    /// The URL without its scheme: host, optional port, optional path (`oidc.circleci.com/org/…`).
    pub url: String,
    /// Accepted audiences (`ClientIDList`), in insertion order.
    pub client_ids: Vec<String>,
    /// Stored verbatim, never used (spec §3.5).
    pub thumbprints: Vec<String>,
    /// Tags given at creation.
    pub tags: Vec<Tag>,
    /// `CreateDate`.
    pub created_at: OffsetDateTime,
}

/// An IAM role (spec §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `RoleName` as created (unique case-insensitively).
    pub name: String,
    /// `Path`, `/` by default.
    pub path: String,
    /// `RoleId`: `AROA` + 17 characters.
    pub role_id: String,
    /// The trust policy exactly as submitted.
    pub trust_policy: String,
    /// `Description`, if any.
    pub description: Option<String>,
    /// `MaxSessionDuration` in seconds.
    pub max_session_duration: i64,
    /// Tags given at creation.
    pub tags: Vec<Tag>,
    /// `CreateDate`.
    pub created_at: OffsetDateTime,
}

/// Outcome of inserting a uniquely named entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// Stored.
    Created,
    /// An entity with that identity exists; nothing changed.
    AlreadyExists,
}

/// Outcome of adding a client id to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIdAddition {
    /// Added, or already present (idempotent).
    Done,
    /// No such provider.
    NoSuchProvider,
    /// The provider already has the maximum number of client ids.
    LimitExceeded,
}

/// A handle to the state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    writer: writer::WriterHandle,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        let connection = Arc::new(Mutex::new(sqlite::open(location)?));
        let writer = writer::WriterHandle::start(Arc::clone(&connection));
        Ok(Store { connection, writer })
    }

    /// Queues a write for the group-commit writer; returns once it is committed.
    async fn write(&self, job: writer::WriteJob) -> Result<(), StoreError> {
        self.writer.write(job).await
    }

    /// Runs `work` on the connection in a blocking task, inside one transaction.
    async fn transaction<T, Work>(&self, work: Work) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Work: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A poisoned lock only means another query panicked; the connection is still usable
            // because every write runs in a transaction that rolled back.
            let mut connection = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let transaction = connection.transaction()?;
            let value = work(&transaction)?;
            transaction.commit()?;
            Ok(value)
        })
        .await
        .map_err(|error| StoreError::TaskFailed(error.to_string()))?
    }

    /// Inserts a provider unless one with the same URL exists.
    pub async fn insert_provider(&self, provider: OidcProvider) -> Result<Insertion, StoreError> {
        self.transaction(move |tx| sqlite::insert_provider(tx, &provider))
            .await
    }

    /// Creates or replaces a provider by URL, keeping the original creation date (bootstrap).
    pub async fn put_provider(&self, provider: OidcProvider) -> Result<(), StoreError> {
        self.transaction(move |tx| sqlite::put_provider(tx, &provider))
            .await
    }

    /// The provider with exactly this URL (without scheme).
    pub async fn provider(&self, url: &str) -> Result<Option<OidcProvider>, StoreError> {
        let url = url.to_owned();
        self.transaction(move |tx| sqlite::provider(tx, &url)).await
    }

    /// Every provider, ordered by URL.
    pub async fn providers(&self) -> Result<Vec<OidcProvider>, StoreError> {
        self.transaction(sqlite::providers).await
    }

    /// Deletes a provider; `false` if there was none.
    pub async fn delete_provider(&self, url: &str) -> Result<bool, StoreError> {
        let url = url.to_owned();
        self.transaction(move |tx| sqlite::delete_provider(tx, &url))
            .await
    }

    /// Adds a client id (idempotent), refusing to go beyond `max_client_ids`.
    pub async fn add_client_id(
        &self,
        url: &str,
        client_id: &str,
        max_client_ids: usize,
    ) -> Result<ClientIdAddition, StoreError> {
        let (url, client_id) = (url.to_owned(), client_id.to_owned());
        self.transaction(move |tx| {
            let Some(mut provider) = sqlite::provider(tx, &url)? else {
                return Ok(ClientIdAddition::NoSuchProvider);
            };
            if provider.client_ids.contains(&client_id) {
                return Ok(ClientIdAddition::Done);
            }
            if provider.client_ids.len() >= max_client_ids {
                return Ok(ClientIdAddition::LimitExceeded);
            }
            provider.client_ids.push(client_id);
            sqlite::put_provider(tx, &provider)?;
            Ok(ClientIdAddition::Done)
        })
        .await
    }

    /// Removes a client id (absent is fine); `false` if the provider does not exist.
    pub async fn remove_client_id(&self, url: &str, client_id: &str) -> Result<bool, StoreError> {
        let (url, client_id) = (url.to_owned(), client_id.to_owned());
        self.transaction(move |tx| {
            let Some(mut provider) = sqlite::provider(tx, &url)? else {
                return Ok(false);
            };
            provider
                .client_ids
                .retain(|existing| existing != &client_id);
            sqlite::put_provider(tx, &provider)?;
            Ok(true)
        })
        .await
    }

    /// Replaces the thumbprint list; `false` if the provider does not exist.
    pub async fn set_thumbprints(
        &self,
        url: &str,
        thumbprints: Vec<String>,
    ) -> Result<bool, StoreError> {
        let url = url.to_owned();
        self.transaction(move |tx| {
            let Some(mut provider) = sqlite::provider(tx, &url)? else {
                return Ok(false);
            };
            provider.thumbprints = thumbprints;
            sqlite::put_provider(tx, &provider)?;
            Ok(true)
        })
        .await
    }

    /// Inserts a role unless one with the same name (case-insensitively) exists.
    pub async fn insert_role(&self, role: Role) -> Result<Insertion, StoreError> {
        self.transaction(move |tx| sqlite::insert_role(tx, &role))
            .await
    }

    /// Creates or updates a role by name (bootstrap). An existing role keeps its `RoleId` and
    /// creation date; everything else is replaced. Returns the stored role.
    pub async fn put_role(&self, role: Role) -> Result<Role, StoreError> {
        self.transaction(move |tx| {
            let stored = match sqlite::role(tx, &role.name)? {
                Some(existing) => Role {
                    role_id: existing.role_id,
                    created_at: existing.created_at,
                    ..role
                },
                None => role,
            };
            sqlite::replace_role(tx, &stored)?;
            Ok(stored)
        })
        .await
    }

    /// The role with this name, compared case-insensitively.
    pub async fn role(&self, name: &str) -> Result<Option<Role>, StoreError> {
        let name = name.to_owned();
        self.transaction(move |tx| sqlite::role(tx, &name)).await
    }

    /// Every role, ordered by lowercase name.
    pub async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        self.transaction(sqlite::roles).await
    }

    /// Changes a role's description and/or maximum session duration; `false` if no such role.
    pub async fn update_role(
        &self,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i64>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.transaction(move |tx| {
            let Some(mut role) = sqlite::role(tx, &name)? else {
                return Ok(false);
            };
            if let Some(description) = description {
                role.description = Some(description);
            }
            if let Some(max_session_duration) = max_session_duration {
                role.max_session_duration = max_session_duration;
            }
            sqlite::replace_role(tx, &role)?;
            Ok(true)
        })
        .await
    }

    /// Replaces a role's trust policy; `false` if no such role.
    pub async fn set_trust_policy(
        &self,
        name: &str,
        trust_policy: String,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.transaction(move |tx| {
            let Some(mut role) = sqlite::role(tx, &name)? else {
                return Ok(false);
            };
            role.trust_policy = trust_policy;
            sqlite::replace_role(tx, &role)?;
            Ok(true)
        })
        .await
    }

    /// Deletes a role; `false` if there was none.
    pub async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.transaction(move |tx| sqlite::delete_role(tx, &name))
            .await
    }
}

#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod tests;
