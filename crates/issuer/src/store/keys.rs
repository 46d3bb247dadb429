//! Queries for signing keys and the audit of minted tokens.
//!
//! A key's private half is stored as PKCS#8 DER in the owner-only database and is only ever
//! read back by [`crate::keyring`]; nothing here logs or returns it elsewhere.

use keyless_claims::{JobId, NumericDate};
use rusqlite::params;

use super::{Tx, parse_column};
use crate::error::{PlatformError, PlatformResult};
use crate::model::AuditRecord;

/// Where a key is in its life: published ahead of use, signing, or published only until the
/// tokens it signed have expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published in the JWKS; signs after the next rotation.
    Next,
    /// Published and signing.
    Active,
    /// Published until `retire_after`, then removed.
    Retired,
}

impl KeyState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    fn parse(text: &str) -> PlatformResult<Self> {
        match text {
            "next" => Ok(Self::Next),
            "active" => Ok(Self::Active),
            "retired" => Ok(Self::Retired),
            other => Err(PlatformError::internal(format!(
                "stored key state {other:?}"
            ))),
        }
    }
}

/// A key as stored.
pub struct StoredKey {
    /// The RFC 7638 thumbprint.
    pub kid: String,
    /// PKCS#8 DER of the private key.
    pub private_key_der: Vec<u8>,
    /// Its state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: NumericDate,
    /// When it started signing.
    pub activated_at: Option<NumericDate>,
    /// For a retired key: when the last token it signed expires.
    pub retire_after: Option<NumericDate>,
}

impl Tx<'_> {
    /// Every stored key, oldest first.
    pub fn signing_keys(&self) -> PlatformResult<Vec<StoredKey>> {
        let mut statement = self.connection().prepare(
            "SELECT kid, private_key_der, state, created_at, activated_at, retire_after
             FROM signing_keys ORDER BY created_at, rowid",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<i64>>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (kid, private_key_der, state, created_at, activated_at, retire_after) = row?;
            Ok(StoredKey {
                kid,
                private_key_der,
                state: KeyState::parse(&state)?,
                created_at: NumericDate::from_seconds(created_at),
                activated_at: activated_at.map(NumericDate::from_seconds),
                retire_after: retire_after.map(NumericDate::from_seconds),
            })
        })
        .collect()
    }

    /// Stores a new key.
    pub fn insert_signing_key(&self, key: &StoredKey) -> PlatformResult<()> {
        self.connection().execute(
            "INSERT INTO signing_keys (kid, private_key_der, state, created_at, activated_at,
                 retire_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                key.kid,
                key.private_key_der,
                key.state.as_str(),
                key.created_at.seconds(),
                key.activated_at.map(NumericDate::seconds),
                key.retire_after.map(NumericDate::seconds)
            ],
        )?;
        Ok(())
    }

    /// Moves a key to `state`, recording when it was activated or until when it stays published.
    pub fn set_key_state(
        &self,
        kid: &str,
        state: KeyState,
        activated_at: Option<NumericDate>,
        retire_after: Option<NumericDate>,
    ) -> PlatformResult<()> {
        let changed = self.connection().execute(
            "UPDATE signing_keys SET state = ?2,
                 activated_at = COALESCE(?3, activated_at), retire_after = ?4 WHERE kid = ?1",
            params![
                kid,
                state.as_str(),
                activated_at.map(NumericDate::seconds),
                retire_after.map(NumericDate::seconds)
            ],
        )?;
        if changed == 1 {
            Ok(())
        } else {
            Err(PlatformError::internal(format!("no stored key {kid}")))
        }
    }

    /// Deletes retired keys whose last token has expired by `now`; returns their kids.
    pub fn delete_expired_keys(&self, now: NumericDate) -> PlatformResult<Vec<String>> {
        let mut statement = self.connection().prepare(
            "DELETE FROM signing_keys WHERE state = 'retired' AND retire_after <= ?1
             RETURNING kid",
        )?;
        let rows = statement.query_map([now.seconds()], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The latest `exp` of any token the key signed, from the audit.
    pub fn latest_expiry_signed_by(&self, kid: &str) -> PlatformResult<Option<NumericDate>> {
        let latest: Option<i64> = self.connection().query_row(
            "SELECT MAX(exp) FROM audit WHERE kid = ?1",
            [kid],
            |row| row.get(0),
        )?;
        Ok(latest.map(NumericDate::from_seconds))
    }

    /// Appends a minted token to the audit; returns its position.
    pub fn insert_audit(&self, record: &AuditRecord) -> PlatformResult<i64> {
        let audience = serde_json::to_string(&record.aud)
            .map_err(|error| PlatformError::internal(error.to_string()))?;
        // Cached: every mint inserts two rows.
        let mut statement = self.connection().prepare_cached(
            "INSERT INTO audit (minted_at, job_id, kind, iss, sub, aud, kid, iat, exp)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        statement.execute(params![
            record.minted_at.seconds(),
            record.job_id.to_string(),
            record.kind,
            record.iss,
            record.sub,
            audience,
            record.kid,
            record.iat.seconds(),
            record.exp.seconds()
        ])?;
        Ok(self.connection().last_insert_rowid())
    }

    /// The audit, optionally of one job, newest first.
    pub fn audit(&self, job: Option<&JobId>, limit: u32) -> PlatformResult<Vec<AuditRecord>> {
        let mut statement = self.connection().prepare(
            "SELECT seq, minted_at, job_id, kind, iss, sub, aud, kid, iat, exp FROM audit
             WHERE ?1 IS NULL OR job_id = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![job.map(ToString::to_string), limit], |row| {
            Ok((
                (row.get::<_, i64>(0)?, row.get::<_, i64>(1)?),
                (row.get::<_, String>(2)?, row.get::<_, String>(3)?),
                (row.get::<_, String>(4)?, row.get::<_, String>(5)?),
                (row.get::<_, String>(6)?, row.get::<_, Option<String>>(7)?),
                (row.get::<_, i64>(8)?, row.get::<_, i64>(9)?),
            ))
        })?;
        rows.map(|row| {
            let ((seq, minted_at), (job_id, kind), (iss, sub), (aud, kid), (iat, exp)) = row?;
            Ok(AuditRecord {
                seq,
                minted_at: NumericDate::from_seconds(minted_at),
                job_id: parse_column(&job_id, "job id")?,
                kind,
                iss,
                sub,
                aud: serde_json::from_str(&aud)
                    .map_err(|error| PlatformError::internal(error.to_string()))?,
                kid,
                iat: NumericDate::from_seconds(iat),
                exp: NumericDate::from_seconds(exp),
            })
        })
        .collect()
    }
}
