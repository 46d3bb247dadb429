//! STS state: temporary-credential sessions, the explained decisions of
//! `AssumeRoleWithWebIdentity`, and audit events. Writes go through the group-commit writer
//! ([`super::writer`]): a session (with its records) is awaited until durable, records that hand
//! nothing out are written in the background, and every read of records first waits for the
//! writes queued before it. Sessions are read from the session cache first. Decisions and
//! events are JSON documents, stored compressed ([`super::document`]) and keyed by the
//! RequestId of the response they belong to.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{OidcProvider, Role, Store, StoreError, document, sqlite};

/// Schema for part 2 (applied with the rest of the schema at open).
pub const SESSION_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    session_token TEXT NOT NULL,
    account_id TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    assumed_role_arn TEXT NOT NULL,
    assumed_role_id TEXT NOT NULL,
    session_policy TEXT,
    subject TEXT NOT NULL,
    provider_arn TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS decisions (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    recorded_at INTEGER NOT NULL,
    allowed INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    document TEXT NOT NULL
);
";

/// A temporary-credential session issued by `AssumeRoleWithWebIdentity`.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret (needed to check signatures); never logged.
    pub secret_access_key: String,
    /// The session token the caller must send; never logged.
    pub session_token: String,
    /// The role's account.
    pub account_id: String,
    /// The role's ARN (with its path).
    pub role_arn: String,
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` (no path).
    pub assumed_role_arn: String,
    /// `RoleId:SESSION` (GetCallerIdentity's `UserId`).
    pub assumed_role_id: String,
    /// The session policy document, if one was passed.
    pub session_policy: Option<String>,
    /// The token's `sub`.
    pub subject: String,
    /// The provider ARN the token was verified against.
    pub provider_arn: String,
    /// The RequestId of the AssumeRoleWithWebIdentity response that issued it.
    pub request_id: String,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Session {
    /// Leaves out the secret and the session token.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("assumed_role_arn", &self.assumed_role_arn)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Sessions past their expiry plus the retention.
    pub sessions: usize,
    /// Decisions beyond the newest `max_records`.
    pub decisions: usize,
    /// Audit events beyond the newest `max_records`.
    pub events: usize,
}

/// A decision and/or audit event to store with a session (or without one, for failures).
#[derive(Debug, Clone, Default)]
pub struct CallRecord {
    /// The RequestId of the response.
    pub request_id: String,
    /// When the call was answered.
    pub recorded_at: i64,
    /// Whether the decision allowed the request (for AssumeRoleWithWebIdentity).
    pub allowed: Option<bool>,
    /// The decision document (JSON), for AssumeRoleWithWebIdentity.
    pub decision: Option<String>,
    /// The audit event (JSON).
    pub event: Option<String>,
}

const SESSION_COLUMNS: &str = "access_key_id, secret_access_key, session_token, account_id, role_arn, assumed_role_arn, assumed_role_id, session_policy, subject, provider_arn, request_id, created_at, expires_at";

fn insert_session(connection: &Connection, session: &Session) -> Result<(), StoreError> {
    // Cached statements: under load this runs thousands of times a second.
    connection.prepare_cached(
        &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
    )?.execute(
        params![
            session.access_key_id,
            session.secret_access_key,
            session.session_token,
            session.account_id,
            session.role_arn,
            session.assumed_role_arn,
            session.assumed_role_id,
            session.session_policy,
            session.subject,
            session.provider_arn,
            session.request_id,
            session.created_at.unix_timestamp(),
            session.expires_at.unix_timestamp(),
        ],
    )?;
    Ok(())
}

/// A [`CallRecord`] as the database stores it: its documents compressed ([`document`]), on the
/// caller's thread rather than the writer's.
struct StoredRecord {
    request_id: String,
    recorded_at: i64,
    allowed: bool,
    decision: Option<Vec<u8>>,
    event: Option<Vec<u8>>,
}

impl StoredRecord {
    fn new(record: &CallRecord) -> Self {
        Self {
            request_id: record.request_id.clone(),
            recorded_at: record.recorded_at,
            allowed: record.allowed.unwrap_or(false),
            decision: record.decision.as_deref().map(document::encode),
            event: record.event.as_deref().map(document::encode),
        }
    }
}

fn insert_record(connection: &Connection, record: &StoredRecord) -> Result<(), StoreError> {
    if let Some(decision) = &record.decision {
        connection.prepare_cached(
            "INSERT OR REPLACE INTO decisions (request_id, recorded_at, allowed, document) VALUES (?1, ?2, ?3, ?4)",
        )?.execute(
            params![record.request_id, record.recorded_at, record.allowed, decision],
        )?;
    }
    if let Some(event) = &record.event {
        connection
            .prepare_cached(
                "INSERT INTO audit_events (request_id, recorded_at, document) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![record.request_id, record.recorded_at, event])?;
    }
    Ok(())
}

type SessionColumns = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
);

fn session_from(columns: SessionColumns) -> Result<Session, StoreError> {
    let (
        access_key_id,
        secret_access_key,
        session_token,
        account_id,
        role_arn,
        assumed_role_arn,
        assumed_role_id,
        session_policy,
        subject,
        provider_arn,
        request_id,
        created_at,
        expires_at,
    ) = columns;
    Ok(Session {
        access_key_id,
        secret_access_key,
        session_token,
        account_id,
        role_arn,
        assumed_role_arn,
        assumed_role_id,
        session_policy,
        subject,
        provider_arn,
        request_id,
        created_at: sqlite::from_unix(created_at)?,
        expires_at: sqlite::from_unix(expires_at)?,
    })
}

fn latest_documents(
    connection: &Connection,
    table: &str,
    filter: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = connection.prepare(&format!(
        "SELECT document FROM {table} {filter} ORDER BY sequence DESC LIMIT ?1"
    ))?;
    let mut rows = statement.query(params![limit])?;
    let mut documents = Vec::new();
    while let Some(row) = rows.next()? {
        documents.push(document::decode(row.get_ref(0)?)?);
    }
    Ok(documents)
}

fn trim_table(connection: &Connection, table: &str, keep: usize) -> Result<usize, StoreError> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    Ok(connection.execute(
        &format!(
            "DELETE FROM {table} WHERE sequence <= (SELECT sequence FROM {table} ORDER BY sequence DESC LIMIT 1 OFFSET ?1)"
        ),
        params![keep],
    )?)
}

impl Store {
    /// Stores a new session together with its decision and audit event, in one durable commit.
    /// Returns only once the batch holding them is committed.
    pub async fn record_session(
        &self,
        session: Session,
        record: CallRecord,
    ) -> Result<(), StoreError> {
        let cached = session.clone();
        let stored = StoredRecord::new(&record);
        let audit_line = self.audit_line(record);
        self.writer
            .write(
                Box::new(move |connection| {
                    insert_session(connection, &session)?;
                    insert_record(connection, &stored)
                }),
                audit_line,
            )
            .await?;
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(cached);
        Ok(())
    }

    /// Stores a decision and/or audit event (a refused call, a GetCallerIdentity, …) in the
    /// background: returns once it is queued, not once it is committed. Readers of records
    /// flush first, so they still see it.
    pub async fn record_call(&self, record: CallRecord) -> Result<(), StoreError> {
        let stored = StoredRecord::new(&record);
        let audit_line = self.audit_line(record);
        self.writer
            .write_in_background(
                Box::new(move |connection| insert_record(connection, &stored)),
                audit_line,
            )
            .await
    }

    /// The record's event as the audit file's line, if there is an audit file.
    fn audit_line(&self, record: CallRecord) -> Option<String> {
        if self.writer.has_audit_file() {
            record.event
        } else {
            None
        }
    }

    /// The provider with exactly this URL and the role with this name, in one read (what
    /// AssumeRoleWithWebIdentity needs).
    pub async fn provider_and_role(
        &self,
        url: &str,
        role_name: &str,
    ) -> Result<(Option<OidcProvider>, Option<Role>), StoreError> {
        let catalog = self.catalog();
        Ok((
            catalog.provider(url).cloned(),
            catalog.role(role_name).cloned(),
        ))
    }

    /// The session with this access key id, expired or not.
    pub async fn session(&self, access_key_id: &str) -> Result<Option<Session>, StoreError> {
        let cached = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(access_key_id);
        if cached.is_some() {
            return Ok(cached);
        }
        let access_key_id = access_key_id.to_owned();
        self.transaction(move |tx| {
            tx.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE access_key_id = ?1"
            ))?
            .query_row(params![access_key_id], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                    row.get(11)?,
                    row.get(12)?,
                ))
            })
            .optional()?
            .map(session_from)
            .transpose()
        })
        .await
    }

    /// How many sessions are stored (live or awaiting purge).
    pub async fn session_count(&self) -> Result<usize, StoreError> {
        self.transaction(|tx| {
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM sessions", [], |row| row.get(0))?;
            Ok(usize::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// The decision document answered with `request_id`.
    pub async fn decision(&self, request_id: &str) -> Result<Option<String>, StoreError> {
        self.flush().await?;
        let request_id = request_id.to_owned();
        self.transaction(move |tx| {
            tx.query_row(
                "SELECT document FROM decisions WHERE request_id = ?1",
                params![request_id],
                |row| Ok(document::decode(row.get_ref(0)?)),
            )
            .optional()?
            .transpose()
        })
        .await
    }

    /// The newest `limit` decision documents, newest first; only allowed or only denied ones
    /// when `allowed` is given.
    pub async fn latest_decisions(
        &self,
        limit: usize,
        allowed: Option<bool>,
    ) -> Result<Vec<String>, StoreError> {
        let filter = match allowed {
            None => "",
            Some(true) => "WHERE allowed = 1",
            Some(false) => "WHERE allowed = 0",
        };
        self.flush().await?;
        self.transaction(move |tx| latest_documents(tx, "decisions", filter, limit))
            .await
    }

    /// The newest `limit` audit events, newest first.
    pub async fn latest_events(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.flush().await?;
        self.transaction(move |tx| latest_documents(tx, "audit_events", "", limit))
            .await
    }

    /// Deletes sessions that expired before `expired_before`, and all but the newest
    /// `max_records` decisions and events.
    pub async fn purge(
        &self,
        expired_before: OffsetDateTime,
        max_records: usize,
    ) -> Result<PurgeCounts, StoreError> {
        let cutoff = expired_before.unix_timestamp();
        let counts = std::sync::Arc::new(std::sync::Mutex::new(PurgeCounts::default()));
        let shared = std::sync::Arc::clone(&counts);
        self.write(Box::new(move |connection| {
            let sessions = connection.execute(
                "DELETE FROM sessions WHERE expires_at < ?1",
                params![cutoff],
            )?;
            let decisions = trim_table(connection, "decisions", max_records)?;
            let events = trim_table(connection, "audit_events", max_records)?;
            let mut counts = shared
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *counts = PurgeCounts {
                sessions,
                decisions,
                events,
            };
            Ok(())
        }))
        .await?;
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .forget_expired(cutoff);
        let counts = *counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(counts)
    }
}
