//! Secrets stay secret: after a run, everything the stack's servers wrote for people to read —
//! each server's log file (its stdout and stderr), keyless-sts's `--audit-file`, and the audit
//! tables of both SQLite databases (the issuer's `audit`, the STS's `decisions` and
//! `audit_events`) — is scanned for what must never be there: an issued JWT (found by its shape,
//! `eyJ…` `.` `…` `.` `…`), a PEM private key (`-----BEGIN … PRIVATE KEY`), and the exact
//! strings of the secrets handed out during the run (AWS secret access keys and session tokens,
//! job secrets, the issuer's admin token, the runner token, the STS admin secret).
//!
//! The STS's own credential store (its `sessions` table) holds the secrets by design — it needs
//! them to check signatures — so it is not scanned; it is read instead, so every credential the
//! STS handed out is searched for even when an AWS client subprocess, not this process,
//! received it. Clients' HOME directories (the AWS CLI caches credentials there) are skipped.
//! A finding names the file or table and the kind of secret, never the secret.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

/// keyless-sts's database file name (`crates/sts/src/store/mod.rs`).
pub const STS_DATABASE: &str = "keyless-sts.sqlite3";
/// keyless-issuer's database file name (`crates/issuer/src/store/mod.rs`).
pub const ISSUER_DATABASE: &str = "issuer.sqlite3";
/// The audit tables scanned, per database file.
const AUDIT_TABLES: &[(&str, &[&str])] = &[
    (STS_DATABASE, &["decisions", "audit_events"]),
    (ISSUER_DATABASE, &["audit"]),
];
/// Known secrets are looked up by their first bytes; shorter ones are searched one by one.
const PREFIX_LENGTH: usize = 8;

/// What kind of secret a finding is (never the secret itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A signed JWT, found by its shape.
    Jwt,
    /// A PEM private key, found by its header.
    PrivateKey,
    /// A secret access key the STS handed out.
    SecretAccessKey,
    /// A session token the STS handed out.
    SessionToken,
    /// A job's secret (the bearer that lets a job mint tokens).
    JobSecret,
    /// The issuer's admin token.
    AdminToken,
    /// The runner token jobs are started with.
    RunnerToken,
    /// The STS admin credential's secret access key.
    StsAdminSecret,
}

impl fmt::Display for Kind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Kind::Jwt => "an issued JWT",
            Kind::PrivateKey => "a PEM private key",
            Kind::SecretAccessKey => "an AWS secret access key",
            Kind::SessionToken => "an AWS session token",
            Kind::JobSecret => "a job secret",
            Kind::AdminToken => "the issuer admin token",
            Kind::RunnerToken => "the runner token",
            Kind::StsAdminSecret => "the STS admin secret",
        })
    }
}

/// The exact secrets handed out during a run, indexed for a single pass over each text.
#[derive(Default)]
pub struct KnownSecrets {
    by_prefix: HashMap<[u8; PREFIX_LENGTH], Vec<(Kind, Vec<u8>)>>,
    short: Vec<(Kind, Vec<u8>)>,
    count: usize,
}

impl KnownSecrets {
    /// Adds a secret to search for (empty strings are ignored).
    pub fn add(&mut self, kind: Kind, secret: &str) {
        let bytes = secret.as_bytes();
        if bytes.is_empty() {
            return;
        }
        self.count += 1;
        match prefix(bytes) {
            Some(key) => self
                .by_prefix
                .entry(key)
                .or_default()
                .push((kind, bytes.to_vec())),
            None => self.short.push((kind, bytes.to_vec())),
        }
    }

    /// Adds every secret of `other`.
    pub fn extend(&mut self, other: KnownSecrets) {
        self.count += other.count;
        for (key, secrets) in other.by_prefix {
            self.by_prefix.entry(key).or_default().extend(secrets);
        }
        self.short.extend(other.short);
    }

    /// How many secrets were added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The kinds of the known secrets occurring in `text`.
    fn occurrences(&self, text: &[u8]) -> Vec<Kind> {
        let mut found = Vec::new();
        if text.len() >= PREFIX_LENGTH {
            for start in 0..=text.len() - PREFIX_LENGTH {
                let Some(key) = prefix(&text[start..]) else {
                    break;
                };
                let Some(candidates) = self.by_prefix.get(&key) else {
                    continue;
                };
                for (kind, secret) in candidates {
                    if text[start..].starts_with(secret) {
                        found.push(*kind);
                    }
                }
            }
        }
        for (kind, secret) in &self.short {
            // A search of test logs for leaked values, not a check of a presented credential.
            // tidy: not a secret comparison
            if text.windows(secret.len()).any(|window| window == secret) {
                found.push(*kind);
            }
        }
        found
    }
}

fn prefix(bytes: &[u8]) -> Option<[u8; PREFIX_LENGTH]> {
    bytes.get(..PREFIX_LENGTH)?.try_into().ok()
}

/// One secret found where it must not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, or `file: table`.
    pub place: String,
    /// The line (files) or row (tables), from 1.
    pub line: usize,
    /// What it is.
    pub kind: Kind,
}

impl fmt::Display for Finding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} in {}:{}", self.kind, self.place, self.line)
    }
}

/// The secrets in `text` (one finding per kind per line): JWTs and private keys by shape,
/// the known secrets exactly.
pub fn scan_text(text: &[u8], known: &KnownSecrets, place: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, line) in text.split(|byte| *byte == b'\n').enumerate() {
        let mut kinds = known.occurrences(line);
        if contains_jwt(line) {
            kinds.push(Kind::Jwt);
        }
        if contains_private_key(line) {
            kinds.push(Kind::PrivateKey);
        }
        kinds.sort_unstable();
        kinds.dedup();
        findings.extend(kinds.into_iter().map(|kind| Finding {
            place: place.to_owned(),
            line: index + 1,
            kind,
        }));
    }
    findings
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Whether `text` holds `eyJ<b64url>.<b64url>.<b64url>` with every segment non-empty: a JWS
/// whose header is a JSON object, i.e. a token that was signed.
pub fn contains_jwt(text: &[u8]) -> bool {
    let mut from = 0;
    while let Some(offset) = find(&text[from..], b"eyJ") {
        let start = from + offset;
        let mut position = start;
        let mut segments = 0;
        loop {
            let length = text[position..]
                .iter()
                .take_while(|byte| is_base64url(**byte))
                .count();
            if length == 0 {
                break;
            }
            segments += 1;
            position += length;
            if segments == 3 || text.get(position) != Some(&b'.') {
                break;
            }
            position += 1;
        }
        if segments == 3 {
            return true;
        }
        from = start + 3;
    }
    false
}

/// Whether `text` holds a PEM private-key header (`-----BEGIN [RSA |EC |ENCRYPTED ]PRIVATE KEY`).
pub fn contains_private_key(text: &[u8]) -> bool {
    let mut from = 0;
    while let Some(offset) = find(&text[from..], b"-----BEGIN ") {
        let start = from + offset + b"-----BEGIN ".len();
        let label_end = find(&text[start..], b"-----").map_or(text.len(), |end| start + end);
        if find(&text[start..label_end], b"PRIVATE KEY").is_some() {
            return true;
        }
        from = start;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// What a scan of a work directory covered and found.
pub struct Report {
    /// Log and audit files scanned.
    pub files: usize,
    /// Audit rows scanned.
    pub rows: usize,
    /// Exact secrets searched for.
    pub secrets: usize,
    /// What was found.
    pub findings: Vec<Finding>,
}

/// Scans every log and audit record under `work_dir`, adding the credentials of every STS
/// credential store found there to `known` first.
pub fn scan_work_dir(work_dir: &Path, known: &mut KnownSecrets) -> Result<Report> {
    let mut logs = Vec::new();
    let mut databases = Vec::new();
    collect(work_dir, &mut logs, &mut databases)?;
    for database in databases.iter().filter(|path| path.ends_with(STS_DATABASE)) {
        add_sts_sessions(database, known)?;
    }
    let mut report = Report {
        files: logs.len(),
        rows: 0,
        secrets: known.len(),
        findings: Vec::new(),
    };
    for log in &logs {
        let text = fs::read(log).with_context(|| format!("reading {}", log.display()))?;
        report
            .findings
            .extend(scan_text(&text, known, &log.display().to_string()));
    }
    for database in &databases {
        let file_name = database.file_name().and_then(|name| name.to_str());
        let tables = AUDIT_TABLES
            .iter()
            .find(|(name, _)| Some(*name) == file_name)
            .map_or(&[][..], |(_, tables)| *tables);
        let connection = open_read_only(database)?;
        for table in tables {
            let (rows, text) = table_text(&connection, table)
                .with_context(|| format!("reading {table} in {}", database.display()))?;
            report.rows += rows;
            let place = format!("{}: table {table}", database.display());
            report.findings.extend(scan_text(&text, known, &place));
        }
    }
    Ok(report)
}

/// Scans `work_dir` and fails naming each file and kind of secret found; prints what was
/// covered otherwise.
pub fn check(label: &str, work_dir: &Path, known: &mut KnownSecrets) -> Result<()> {
    let report = scan_work_dir(work_dir, known)?;
    if report.files == 0 {
        bail!(
            "no log file under {}: nothing was scanned",
            work_dir.display()
        );
    }
    if !report.findings.is_empty() {
        const SHOWN: usize = 20;
        let mut listed: Vec<String> = report
            .findings
            .iter()
            .take(SHOWN)
            .map(ToString::to_string)
            .collect();
        if report.findings.len() > SHOWN {
            listed.push(format!("… and {} more", report.findings.len() - SHOWN));
        }
        bail!(
            "{label}: {} secret(s) written where they must not be:\n  {}",
            report.findings.len(),
            listed.join("\n  ")
        );
    }
    println!(
        "{label}: secrets scan clean: {} log/audit files and {} audit rows under {}, \
         searched for JWTs, private keys and {} handed-out secrets",
        report.files,
        report.rows,
        work_dir.display(),
        report.secrets
    );
    Ok(())
}

/// Log files (`*.log`), audit files (`*.jsonl`) and databases under `dir`, skipping clients'
/// HOME directories.
fn collect(dir: &Path, logs: &mut Vec<PathBuf>, databases: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            if !name.starts_with("home-") && name != "admin-home" {
                collect(&path, logs, databases)?;
            }
        } else if name.ends_with(".log") || name.ends_with(".jsonl") {
            logs.push(path);
        } else if name == STS_DATABASE || name == ISSUER_DATABASE {
            databases.push(path);
        }
    }
    Ok(())
}

/// Opens a database read-only (the server may still be running).
pub fn open_read_only(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} read-only", path.display()))
}

/// Every row of `table`, one line per row with its columns separated by tabs.
fn table_text(connection: &Connection, table: &str) -> Result<(usize, Vec<u8>)> {
    let mut statement = connection.prepare(&format!("SELECT * FROM {table}"))?;
    let columns = statement.column_count();
    let mut rows = statement.query([])?;
    let (mut count, mut text) = (0, Vec::new());
    while let Some(row) = rows.next()? {
        count += 1;
        for column in 0..columns {
            match row.get_ref(column)? {
                ValueRef::Text(bytes) => text.extend_from_slice(bytes),
                ValueRef::Blob(bytes) => text.extend_from_slice(&stored_document(bytes)?),
                ValueRef::Integer(number) => text.extend_from_slice(number.to_string().as_bytes()),
                ValueRef::Real(number) => text.extend_from_slice(number.to_string().as_bytes()),
                ValueRef::Null => {}
            }
            text.push(b'\t');
        }
        text.push(b'\n');
    }
    Ok((count, text))
}

/// keyless-sts's stored-document format (`crates/sts/src/store/document.rs`): format byte 1,
/// the JSON's length (little-endian `u32`), an LZ4 block compressed against this dictionary.
const STS_DOCUMENT_FORMAT_V1: u8 = 1;
/// The dictionary of [`STS_DOCUMENT_FORMAT_V1`].
const STS_DOCUMENT_DICTIONARY_V1: &[u8] =
    include_bytes!("../../../crates/sts/src/store/document_dictionary_v1.jsonl");

/// A BLOB as the text to scan: the raw bytes, then, for an STS document, the decompressed
/// JSON (so a secret is found either way). An STS document that does not decompress fails the
/// scan rather than hiding its contents.
fn stored_document(blob: &[u8]) -> Result<Vec<u8>> {
    let mut text = blob.to_vec();
    if blob.first() == Some(&STS_DOCUMENT_FORMAT_V1) {
        let document = decompress_sts_document(blob).context(
            "an STS document does not decompress: the scan no longer matches \
             crates/sts/src/store/document.rs",
        )?;
        text.push(b'\t');
        text.extend_from_slice(&document);
    }
    Ok(text)
}

fn decompress_sts_document(blob: &[u8]) -> Option<Vec<u8>> {
    let (format, rest) = blob.split_first()?;
    let (length, block) = rest.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
    if *format != STS_DOCUMENT_FORMAT_V1 || length > 64 << 20 {
        return None;
    }
    let mut output = vec![0; length];
    let written =
        lz4_flex::block::decompress_into_with_dict(block, &mut output, STS_DOCUMENT_DICTIONARY_V1)
            .ok()?;
    (written == length).then_some(output)
}

/// Adds every secret access key and session token in an STS credential store to `known`.
fn add_sts_sessions(database: &Path, known: &mut KnownSecrets) -> Result<()> {
    let connection = open_read_only(database)?;
    let mut statement =
        connection.prepare("SELECT secret_access_key, session_token FROM sessions")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        known.add(Kind::SecretAccessKey, &row.get::<_, String>(0)?);
        known.add(Kind::SessionToken, &row.get::<_, String>(1)?);
    }
    Ok(())
}

/// `PRAGMA integrity_check` on a database opened read-only; fails unless it answers `ok`.
pub fn integrity_check(path: &Path) -> Result<()> {
    let connection = open_read_only(path)?;
    let answer: Vec<String> = connection
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if answer != ["ok"] {
        bail!(
            "PRAGMA integrity_check on {} answered {answer:?}",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

    #[test]
    fn finds_jwts_by_shape_only_when_signed() {
        assert!(contains_jwt(format!("token={TOKEN} end").as_bytes()));
        assert!(contains_jwt(format!("\"{TOKEN}\"").as_bytes()));
        assert!(!contains_jwt(b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0."));
        assert!(!contains_jwt(b"header eyJhbGciOiJSUzI1NiJ9 only"));
        assert!(!contains_jwt(b"no token at all"));
    }

    /// An STS document as keyless-sts stores it (`crates/sts/src/store/document.rs`).
    fn sts_document(json: &str) -> Vec<u8> {
        let mut blob = vec![STS_DOCUMENT_FORMAT_V1];
        blob.extend(lz4_flex::block::compress_prepend_size_with_dict(
            json.as_bytes(),
            STS_DOCUMENT_DICTIONARY_V1,
        ));
        blob
    }

    #[test]
    fn reads_compressed_sts_documents() {
        let blob = sts_document(&format!("{{\"claims\":{{}},\"token\":\"{TOKEN}\"}}"));
        assert!(contains_jwt(&stored_document(&blob).unwrap()));
        // Other BLOBs are scanned as they are; a broken STS document fails the scan.
        assert_eq!(stored_document(b"\x02raw").unwrap(), b"\x02raw");
        assert!(stored_document(&blob[..blob.len() - 1]).is_err());
    }

    #[test]
    fn finds_private_keys_not_public_ones() {
        assert!(contains_private_key(b"-----BEGIN PRIVATE KEY-----\nMII"));
        assert!(contains_private_key(b"x -----BEGIN RSA PRIVATE KEY----- y"));
        assert!(!contains_private_key(b"-----BEGIN PUBLIC KEY-----"));
        assert!(!contains_private_key(b"-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn finds_known_secrets_and_names_kind_and_line_not_value() {
        let mut known = KnownSecrets::default();
        known.add(
            Kind::SecretAccessKey,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz",
        );
        known.add(Kind::AdminToken, "short");
        let text = b"first line\nsecret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzz;\nx short x\n";
        let findings = scan_text(text, &known, "sts.log");
        assert_eq!(
            findings,
            vec![
                Finding {
                    place: "sts.log".into(),
                    line: 2,
                    kind: Kind::SecretAccessKey
                },
                Finding {
                    place: "sts.log".into(),
                    line: 3,
                    kind: Kind::AdminToken
                },
            ]
        );
        let shown = findings[0].to_string();
        assert_eq!(shown, "an AWS secret access key in sts.log:2");
        assert!(!shown.contains("wJalr"));
        let near_miss = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzzzzzzZ";
        assert!(scan_text(near_miss, &known, "x").is_empty());
    }
}
