//! The one place keyless-sts state lives: IAM OIDC providers and roles (and, with part 2,
//! sessions, decisions and audit events). Handlers see only this module's types and async methods; today the
//! backend is SQLite through `rusqlite` (a file in `--data-dir`, or in memory for tests), and a
//! PostgreSQL backend for several replicas would slot in behind the same methods.
//!
//! Every method is one transaction, so a failed request never leaves partial writes.
//!
//! The hot paths stay off the database where they can: the IAM catalog and recent sessions are
//! served from memory ([`cache`]), and audit records that hand out nothing are written in the
//! background (bounded), while a session is still returned only once it is durable.

mod cache;
mod document;
mod records;
mod sqlite;
mod writer;

pub use cache::SESSION_CACHE_CAPACITY;
pub use records::{CallRecord, PurgeCounts, Session};
pub use writer::MAX_WRITES_PER_COMMIT;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::Connection;
use time::OffsetDateTime;

/// The database file name inside `--data-dir`.
pub const DATABASE_FILE_NAME: &str = "keyless-sts.sqlite3";

/// Most audit records queued for the background writer at once; beyond this a caller waits for
/// room, so a burst cannot grow memory without bound.
pub const MAX_BACKGROUND_WRITES: usize = 4096;

/// What a commit survives (SQLite's `synchronous` setting in WAL mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous=NORMAL`: a commit is in the operating system's hands when it returns, so it
    /// survives the process being killed (SIGKILL, a crash) but not a power cut or kernel
    /// panic. The default: keyless is a simulator, and this is what `cargo xtask crash` checks.
    #[default]
    Process,
    /// `synchronous=FULL`: every commit waits for fsync, so it also survives a power cut;
    /// group commit shares each fsync among the writes queued meanwhile.
    Power,
}

impl Durability {
    /// The `PRAGMA synchronous` value.
    fn synchronous(self) -> &'static str {
        match self {
            Durability::Process => "NORMAL",
            Durability::Power => "FULL",
        }
    }
}

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

impl StoreError {
    /// Whether a unique key was already taken (e.g. a freshly generated access key id that
    /// collides with a live session's: ids carry 39 random bits, as AWS's do).
    pub fn is_duplicate_key(&self) -> bool {
        matches!(
            self,
            Self::Database(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::ConstraintViolation
        )
    }
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
    /// The committed IAM catalog, replaced whole after each IAM write.
    catalog: Arc<RwLock<Arc<cache::Catalog>>>,
    /// Recently issued durable sessions.
    sessions: Arc<Mutex<cache::SessionCache>>,
}

impl Store {
    /// Opens (creating if needed) the database with the default [`Durability`] and brings its
    /// schema up to date.
    pub fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        Store::open_with(location, Durability::default(), None)
    }

    /// Opens (creating if needed) the database, committing with `durability`; the writer
    /// appends every stored audit event to `audit_file` (open for appending) after its commit.
    pub fn open_with(
        location: &StoreLocation,
        durability: Durability,
        audit_file: Option<std::fs::File>,
    ) -> Result<Store, StoreError> {
        let mut connection = sqlite::open(location, durability.synchronous())?;
        let transaction = connection.transaction()?;
        let catalog = cache::Catalog::load(&transaction)?;
        transaction.commit()?;
        let connection = Arc::new(Mutex::new(connection));
        let writer =
            writer::WriterHandle::start(Arc::clone(&connection), MAX_BACKGROUND_WRITES, audit_file);
        Ok(Store {
            connection,
            writer,
            catalog: Arc::new(RwLock::new(Arc::new(catalog))),
            sessions: Arc::default(),
        })
    }

    /// Queues a write for the group-commit writer; returns once it is committed.
    async fn write(&self, job: writer::WriteJob) -> Result<(), StoreError> {
        self.writer.write(job, None).await
    }

    /// Returns once every write queued before the call is committed (so a read that follows
    /// sees them).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write(Box::new(|_| Ok(()))).await
    }

    /// The committed IAM catalog.
    fn catalog(&self) -> Arc<cache::Catalog> {
        // A poisoned lock only means a writer panicked between reload and publish; the value
        // inside is the last complete catalog.
        Arc::clone(
            &self
                .catalog
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Runs an IAM write in one transaction, reloads the catalog inside it, and publishes the
    /// new catalog right after the commit, still holding the connection, so catalogs are
    /// published in commit order and a failed transaction publishes nothing.
    async fn change_catalog<T, Work>(&self, work: Work) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Work: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let published = Arc::clone(&self.catalog);
        self.transaction_then(
            move |tx| Ok((work(tx)?, cache::Catalog::load(tx)?)),
            move |(value, catalog)| {
                *published
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(catalog);
                value
            },
        )
        .await
    }

    /// Runs `work` on the connection in a blocking task, inside one transaction.
    async fn transaction<T, Work>(&self, work: Work) -> Result<T, StoreError>
    where
        T: Send + 'static,
        Work: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.transaction_then(work, |value| value).await
    }

    /// Runs `work` inside one transaction in a blocking task, then `after_commit` on its value
    /// once the commit succeeded, still holding the connection (so effects of consecutive
    /// transactions happen in commit order).
    async fn transaction_then<T, U, Work, AfterCommit>(
        &self,
        work: Work,
        after_commit: AfterCommit,
    ) -> Result<U, StoreError>
    where
        U: Send + 'static,
        Work: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
        AfterCommit: FnOnce(T) -> U + Send + 'static,
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
            Ok(after_commit(value))
        })
        .await
        .map_err(|error| StoreError::TaskFailed(error.to_string()))?
    }

    /// Inserts a provider unless one with the same URL exists.
    pub async fn insert_provider(&self, provider: OidcProvider) -> Result<Insertion, StoreError> {
        self.change_catalog(move |tx| sqlite::insert_provider(tx, &provider))
            .await
    }

    /// Creates or replaces a provider by URL, keeping the original creation date (bootstrap).
    pub async fn put_provider(&self, provider: OidcProvider) -> Result<(), StoreError> {
        self.change_catalog(move |tx| sqlite::put_provider(tx, &provider))
            .await
    }

    /// The provider with exactly this URL (without scheme).
    pub async fn provider(&self, url: &str) -> Result<Option<OidcProvider>, StoreError> {
        Ok(self.catalog().provider(url).cloned())
    }

    /// Every provider, ordered by URL.
    pub async fn providers(&self) -> Result<Vec<OidcProvider>, StoreError> {
        Ok(self.catalog().providers().cloned().collect())
    }

    /// Deletes a provider; `false` if there was none.
    pub async fn delete_provider(&self, url: &str) -> Result<bool, StoreError> {
        let url = url.to_owned();
        self.change_catalog(move |tx| sqlite::delete_provider(tx, &url))
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
        self.change_catalog(move |tx| {
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
        self.change_catalog(move |tx| {
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
        self.change_catalog(move |tx| {
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
        self.change_catalog(move |tx| sqlite::insert_role(tx, &role))
            .await
    }

    /// Creates or updates a role by name (bootstrap). An existing role keeps its `RoleId` and
    /// creation date; everything else is replaced. Returns the stored role.
    pub async fn put_role(&self, role: Role) -> Result<Role, StoreError> {
        self.change_catalog(move |tx| {
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
        Ok(self.catalog().role(name).cloned())
    }

    /// Every role, ordered by lowercase name.
    pub async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        Ok(self.catalog().roles().cloned().collect())
    }

    /// Changes a role's description and/or maximum session duration; `false` if no such role.
    pub async fn update_role(
        &self,
        name: &str,
        description: Option<String>,
        max_session_duration: Option<i64>,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.change_catalog(move |tx| {
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
        self.change_catalog(move |tx| {
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
        self.change_catalog(move |tx| sqlite::delete_role(tx, &name))
            .await
    }
}

#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod tests;
