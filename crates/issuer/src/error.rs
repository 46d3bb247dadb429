//! The domain error of the issuer: what went wrong, with a stable snake_case code and a
//! one-sentence message fit for the client. It knows nothing of HTTP; `http::error` maps each
//! kind to a status.

use crate::crypto::KeyError;
use crate::crypto::jwt::EncodeError;

/// What kind of failure, which decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or contradictory input (400).
    Invalid,
    /// No credentials (401).
    Unauthenticated,
    /// Wrong credentials, or a token refused by a rule (403).
    Forbidden,
    /// An unknown id or name (404).
    NotFound,
    /// The request clashes with the current state, e.g. a finished job (409).
    Conflict,
    /// A fault of the issuer itself (500); the message is generic, the detail is logged.
    Internal,
}

/// A failure with its stable code, client message and, for internal faults, a logged detail.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PlatformError {
    /// The kind.
    pub kind: ErrorKind,
    /// A stable snake_case code, e.g. `project_not_found`.
    pub code: &'static str,
    /// One sentence for the client.
    pub message: String,
    /// For the log only (internal faults); never sent to the client.
    pub detail: Option<String>,
}

impl PlatformError {
    fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// 400 with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthorized", message)
    }

    /// 403 with `code` (`forbidden`, or a token refusal code).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, code, message)
    }

    /// 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    /// 500 `internal_error`, with the detail kept for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::new(
                ErrorKind::Internal,
                "internal_error",
                "The issuer hit an internal error; see its log.",
            )
        }
    }
}

impl From<rusqlite::Error> for PlatformError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal(format!("store: {error}"))
    }
}

impl From<KeyError> for PlatformError {
    fn from(error: KeyError) -> Self {
        Self::internal(format!("key: {error}"))
    }
}

impl From<EncodeError> for PlatformError {
    fn from(error: EncodeError) -> Self {
        Self::internal(format!("token encoding: {error}"))
    }
}

/// The result type of platform operations.
pub type PlatformResult<T> = Result<T, PlatformError>;
