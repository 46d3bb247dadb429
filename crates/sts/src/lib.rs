//! keyless-sts: a mock of AWS STS and the IAM subset that CI-to-cloud OIDC federation needs.
//!
//! - [`policy`]: the IAM trust-policy grammar (MalformedPolicyDocument with AWS's messages), the
//!   web-identity request context, and the pure policy engine whose [`policy::Decision`]s explain
//!   themselves (`spec/aws-sts-iam.md` §4).
//! - [`lint`]: static findings about a trust policy in IAM Access Analyzer's model.
//! - [`verify`]: web-identity token verification for `AssumeRoleWithWebIdentity` (parsing,
//!   discovery and JWKS fetching through the issuer map, key cache, signature and time checks).

pub mod lint;
pub mod policy;
pub mod verify;
