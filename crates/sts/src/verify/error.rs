//! Why a web identity token was refused, and how AWS words it on the wire.
//!
//! Every variant maps to one AWS error code (`spec/aws-sts-iam.md` §2.5) and one client
//! message. Where AWS's exact text is known it is used verbatim; elsewhere the message is a
//! documented keyless choice (`docs/token-verification.md`), exposed as a constant so it can be
//! corrected in one place. The `Display` text (the `detail`) says precisely what was wrong and is
//! meant for logs and explanations, never for the wire.

/// The error code for every token rejection except expiry (§2.5).
pub const INVALID_IDENTITY_TOKEN: &str = "InvalidIdentityToken";

/// The error code for an expired token; note the `Exception` suffix (§2.5).
pub const EXPIRED_TOKEN_EXCEPTION: &str = "ExpiredTokenException";

/// AWS's message when the keys cannot be fetched or the signing key is not published
/// (`spec/aws-sts-iam.md` §2.4 step 7, §3.2). The two spaces after the comma are AWS's.
pub const KEY_RETRIEVAL_MESSAGE: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

/// The message for a token that is malformed or whose signature does not verify. AWS's message
/// here is unobserved (§3.2 [INFER]); this is the documentation text of the STS model's
/// `InvalidIdentityTokenException`.
pub const INVALID_TOKEN_MESSAGE: &str = "The web identity token that was passed could not be validated by Amazon Web Services. Get a new identity token from the identity provider and then retry the request.";

/// The prefix of AWS's message for a missing claim; the claim name follows (§2.4 step 4).
pub const MISSING_CLAIM_MESSAGE_PREFIX: &str = "Missing a required claim: ";

/// The message for several audiences without an authorised party (§3.3, third-party wording).
pub const MULTIPLE_AUDIENCES_MESSAGE: &str =
    "Token audience contains more than one audience while authorized party is not present";

/// A web identity token that must not be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is not a well-formed JWS compact serialisation, or its header or payload is
    /// unacceptable (bad base64url, JSON, duplicate members, algorithm, claim types).
    #[error("malformed token: {detail}")]
    Malformed {
        /// What exactly was wrong, for logs.
        detail: String,
    },
    /// A required claim (`iss`, `sub`, `aud`, `iat`, `exp`) is absent.
    #[error("the token has no {claim:?} claim")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// `aud` lists several audiences and there is no `azp` to say which one is meant.
    #[error("the token has {count} audiences and no azp claim")]
    MultipleAudiences {
        /// How many audiences `aud` lists.
        count: usize,
    },
    /// Discovery or the key set could not be fetched, or holds no usable key for the token.
    #[error("verification key unavailable: {detail}")]
    KeyRetrieval {
        /// What failed (HTTP status, timeout, parse error, missing kid…), for logs.
        detail: String,
    },
    /// The signature does not verify with the selected key.
    #[error("the signature does not verify with key {kid:?}")]
    BadSignature {
        /// The `kid` of the key that was tried, if the key set names it.
        kid: Option<String>,
    },
    /// `exp` is more than the allowed skew in the past (§3.4).
    #[error("token expired at {expires_at}, now is {now}")]
    Expired {
        /// The current time in seconds since the epoch.
        now: i64,
        /// The token's `exp`.
        expires_at: i64,
    },
    /// `iat` is older than the configured maximum token age (§3.4, off by default).
    #[error("token issued {age_seconds} s ago, beyond the maximum age")]
    TooOld {
        /// Seconds since `iat`.
        age_seconds: i64,
    },
    /// `nbf` is more than the allowed skew in the future.
    #[error("token not valid before {not_before}, now is {now}")]
    NotYetValid {
        /// The current time in seconds since the epoch.
        now: i64,
        /// The token's `nbf`.
        not_before: i64,
    },
    /// `iat` is more than the allowed skew in the future.
    #[error("token issued in the future at {issued_at}, now is {now}")]
    IssuedInFuture {
        /// The current time in seconds since the epoch.
        now: i64,
        /// The token's `iat`.
        issued_at: i64,
    },
}

impl TokenError {
    /// A malformed-token error with its detail.
    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Self::Malformed {
            detail: detail.into(),
        }
    }

    /// A key-retrieval error with its detail.
    pub(crate) fn key_retrieval(detail: impl Into<String>) -> Self {
        Self::KeyRetrieval {
            detail: detail.into(),
        }
    }

    /// The HTTP status AWS answers with: 400 for every token error (§2.5).
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The AWS error code (`<Code>` in the error XML); HTTP status 400 for all of them (§2.5).
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::Expired { .. } | Self::TooOld { .. } => EXPIRED_TOKEN_EXCEPTION,
            _ => INVALID_IDENTITY_TOKEN,
        }
    }

    /// The message AWS sends (`<Message>` in the error XML).
    pub fn aws_message(&self) -> String {
        match self {
            Self::Malformed { .. } | Self::BadSignature { .. } => INVALID_TOKEN_MESSAGE.to_owned(),
            Self::MissingClaim { claim } => format!("{MISSING_CLAIM_MESSAGE_PREFIX}{claim}"),
            Self::MultipleAudiences { .. } => MULTIPLE_AUDIENCES_MESSAGE.to_owned(),
            Self::KeyRetrieval { .. } => KEY_RETRIEVAL_MESSAGE.to_owned(),
            Self::Expired { now, expires_at } => format!(
                "Token expired: current date/time {now} must be before the expiration date/time {expires_at}"
            ),
            Self::TooOld { age_seconds } => format!("Token too old: {age_seconds}"),
            Self::NotYetValid { now, not_before } => format!(
                "Token not yet valid: current date/time {now} must be after the not-before date/time {not_before}"
            ),
            Self::IssuedInFuture { now, issued_at } => format!(
                "Token issued in the future: current date/time {now} must be after the issued-at date/time {issued_at}"
            ),
        }
    }

    /// The detail for logs and explanations (never sent to the client): same as `Display`.
    pub fn detail(&self) -> String {
        self.to_string()
    }
}
