//! Temporary security credentials handed out by `AssumeRoleWithWebIdentity`, and the session
//! each belongs to (`spec/aws-sts-iam.md` §2.3).
//!
//! The credential formats follow AWS's so that clients and log scanners treat them as real:
//!
//! - access key ids are `ASIA` + 16 characters of RFC 4648 base32 (20 in all), with the account
//!   id encoded in them the way AWS does (awsteele.com, "AWS Access Key ID formats"), so
//!   `aws sts get-access-key-info`-style decoders find the right account;
//! - secret access keys are 40 characters of the base64 alphabet;
//! - session tokens are opaque base64 that begins `IQoJb3JpZ2luX2Vj`, like AWS's regional
//!   tokens, with enough randomness (256 bits) that they cannot be guessed.

pub mod credentials;

pub use credentials::{
    SessionCredentials, account_from_access_key_id, generate_access_key_id,
    generate_session_credentials,
};
