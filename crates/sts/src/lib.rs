//! keyless-sts: a faithful offline mock of AWS STS and the IAM subset that CI-to-cloud OIDC
//! federation needs, speaking the AWS Query protocol so the AWS CLI, boto3 and the AWS SDKs
//! cannot tell it from AWS (`spec/aws-sts-iam.md`).
//!
//! - [`server`]: the axum endpoint, dispatch on `Action`/`Version`, `run`.
//! - [`query`], [`xml`], [`error`]: the Query protocol's requests, responses and errors;
//!   [`refusals`]: unknown paths, methods and timeouts answered in each surface's format.
//! - [`sigv4`]: SigV4 verification with pluggable credential lookup.
//! - [`iam`]: OIDC providers and roles; [`bootstrap`]: the `--config` file.
//! - [`store`]: SQLite-backed state; [`identifiers`]: ARNs and ids; [`config`]: settings.
//! - [`policy`]: the IAM trust-policy grammar (MalformedPolicyDocument with AWS's messages), the
//!   web-identity request context, and the pure policy engine whose [`policy::Decision`]s explain
//!   themselves (`spec/aws-sts-iam.md` §4).
//! - [`lint`]: static findings about a trust policy in IAM Access Analyzer's model.
//! - [`verify`]: web-identity token verification for `AssumeRoleWithWebIdentity` (parsing,
//!   discovery and JWKS fetching through the issuer map, key cache, signature and time checks).
//! - [`sessions`]: temporary credentials in AWS's formats (`ASIA…` key ids, secrets, session
//!   tokens).
//! - [`audit`]: CloudTrail-shaped audit events, which never hold a secret.
//! - [`sts`]: the STS actions (AssumeRoleWithWebIdentity, GetCallerIdentity), explained
//!   decisions and the audit log, with the `/_keyless/…` side endpoints.

pub mod audit;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod iam;
pub mod identifiers;
pub mod lint;
pub mod policy;
pub mod query;
pub mod refusals;
pub mod server;
pub mod sessions;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod verify;
pub mod xml;

pub use config::Config;
pub use server::{RunError, run};
