//! keyless-runner: runs the jobs of a CircleCI `config.yml` on this machine the way CircleCI
//! would, against a keyless issuer: CircleCI's built-in environment, the contexts' variables,
//! `CIRCLE_OIDC_TOKEN`/`CIRCLE_OIDC_TOKEN_V2`, and a `circleci` command inside steps so that
//! `circleci run oidc get --claims '{"aud":"…"}'` mints tokens as it does on CircleCI.
//!
//! - [`config`]: the configuration subset (parameters, commands, executors, workflows).
//! - [`issuer`]: the issuer's job API client.
//! - [`job`] and [`step`]: running a job's steps; [`environment`]: what steps see.
//! - [`shim`]: the `circleci` command; [`aws`]: the AWS web-identity wiring.
//! - [`report`] and [`mask`]: what is printed, secrets masked; [`private_file`]: files that
//!   may hold secrets, written owner-only.
//! - [`run`] and [`cli`]: the `keyless-runner run` command.

pub mod aws;
pub mod cli;
pub mod config;
pub mod environment;
pub mod issuer;
pub mod job;
pub mod mask;
pub mod private_file;
pub mod report;
pub mod run;
pub mod settings;
pub mod shim;
pub mod step;
pub mod token;
