//! keyless-sts: a faithful offline mock of AWS STS and the IAM subset that OIDC web-identity
//! federation uses (`spec/aws-sts-iam.md`).
//!
//! - [`verify`]: web-identity token verification for `AssumeRoleWithWebIdentity` (parsing,
//!   discovery and JWKS fetching through the issuer map, key cache, signature and time checks).

pub mod verify;
