//! All persistent state of the issuer, in one SQLite database behind this module: signing
//! keys, the platform model, jobs, and the audit of minted tokens.
//!
//! Every change runs in one transaction ([`Store::write`]), so a failed request leaves nothing
//! half-written. Handlers never see SQL: they call the typed methods of [`Tx`], which are split
//! by subject into [`model`], [`jobs`] and [`keys`]. Another backend (PostgreSQL for replicas)
//! would replace this module only.
//!
//! On disk the data directory is created owner-only (0700) and the database, which holds the
//! private keys, owner-readable only (0600); SQLite gives its WAL and journal files the
//! database's permissions.

pub mod durability;
pub mod jobs;
pub mod keys;
pub mod model;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior};

use crate::error::{PlatformError, PlatformResult};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "issuer.sqlite3";

/// How long a writer waits for another process (e.g. `keys rotate`) to release the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The issuer's database.
#[derive(Debug)]
pub struct Store {
    connection: Mutex<Connection>,
}

/// A transaction in progress; all queries go through it.
pub struct Tx<'connection> {
    connection: &'connection Connection,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, or an in-memory one for `None`.
    pub fn open(data_dir: Option<&Path>) -> PlatformResult<Self> {
        let connection = match data_dir {
            Some(directory) => {
                let path = prepare_database_file(directory)?;
                let connection = Connection::open(&path)?;
                connection.pragma_update(None, "journal_mode", "WAL")?;
                connection
            }
            None => Connection::open_in_memory()?,
        };
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "foreign_keys", true)?;
        let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if version > schema::SCHEMA_VERSION {
            return Err(PlatformError::internal(format!(
                "the database has schema version {version}, newer than this build's {}",
                schema::SCHEMA_VERSION
            )));
        }
        connection.execute_batch(schema::SCHEMA)?;
        connection.pragma_update(None, "user_version", schema::SCHEMA_VERSION)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped its transaction, which rolled back: the
        // connection is consistent, so a poisoned lock is safe to reuse.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `work` in a write transaction, committed only if it returns `Ok`.
    pub fn write<T>(&self, work: impl FnOnce(&Tx<'_>) -> PlatformResult<T>) -> PlatformResult<T> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = work(&Tx {
            connection: &transaction,
        })?;
        transaction.commit()?;
        Ok(value)
    }

    /// Runs `work` in a read transaction (a consistent snapshot).
    pub fn read<T>(&self, work: impl FnOnce(&Tx<'_>) -> PlatformResult<T>) -> PlatformResult<T> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Deferred)?;
        work(&Tx {
            connection: &transaction,
        })
    }

    /// A number that changes whenever another connection (another process) commits a change.
    pub fn data_version(&self) -> PlatformResult<i64> {
        let connection = self.lock();
        Ok(connection.query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}

impl Tx<'_> {
    fn connection(&self) -> &Connection {
        self.connection
    }
}

/// Creates the data directory (0700) and database file (0600) before SQLite opens it.
fn prepare_database_file(directory: &Path) -> PlatformResult<PathBuf> {
    let failure = |what: &str, error: std::io::Error| {
        PlatformError::internal(format!("{what} {}: {error}", directory.display()))
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(directory)
        .map_err(|error| failure("cannot create the data directory", error))?;
    let path = directory.join(DATABASE_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&path)
        .map_err(|error| failure("cannot create the database in", error))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|error| failure("cannot restrict the database in", error))?;
    }
    Ok(path)
}

/// Reads an optional single row.
fn optional<T>(result: rusqlite::Result<T>) -> PlatformResult<Option<T>> {
    Ok(result.optional()?)
}

/// Parses a stored id column; a malformed one means a corrupt database.
fn parse_column<T: std::str::FromStr>(text: &str, what: &str) -> PlatformResult<T> {
    text.parse()
        .map_err(|_| PlatformError::internal(format!("stored {what} {text:?} is malformed")))
}
