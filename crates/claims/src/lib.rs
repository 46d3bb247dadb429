//! The shared vocabulary of keyless: what a CircleCI OIDC token says, and how issuers publish
//! the keys that verify it.
//!
//! This crate is pure data and logic (no async runtime, no HTTP, no I/O), so every other crate,
//! and anyone testing their own relying party, can depend on it cheaply.
//!
//! - [`ids`]: organisation, project, user, context, pipeline, workflow and job identifiers, each
//!   its own type (lowercase hyphenated UUIDs, as CircleCI writes them).
//! - [`subject`]: the V1 and V2 `sub` claim, built and parsed (`spec/circleci-oidc.md` §1.6).
//! - [`claims`]: the full CircleCI claim set with its exact JSON names (§1.5–1.7).
//! - [`jwk`]: JWK and JWKS (RFC 7517) with the RFC 7638 thumbprint used as `kid`.
//! - [`discovery`]: the OpenID Connect Discovery 1.0 document and CircleCI's issuer URL layout.
//! - [`yaml_depth`]: the flow-nesting guard applied to user YAML before it is parsed.
//! - [`time`]: NumericDate (RFC 7519 §2) and the `JSONDuration` strings of CircleCI's token
//!   settings API (§1.4).

pub mod claims;
pub mod discovery;
pub mod ids;
pub mod jwk;
pub mod subject;
pub mod time;
pub mod yaml_depth;

pub use claims::{Audience, CircleCiClaims};
pub use discovery::OpenIdConfiguration;
pub use ids::{
    ContextId, IdError, JobId, OrgId, PipelineDefinitionId, PipelineId, ProjectId, UserId,
    WorkflowId,
};
pub use jwk::{Jwk, Jwks};
pub use subject::{Subject, SubjectError, SubjectFormat, VcsSource};
pub use time::{JsonDuration, NumericDate};
