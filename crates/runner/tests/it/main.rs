//! keyless-runner's integration tests: the configuration subset through the library, and the
//! real binary against a wiremock issuer that follows the job API contract.

mod bad_input;
mod config;
mod file_modes;
mod fuzz_props;
mod jobs;
mod lifecycle;
mod oidc;
mod support;
mod workflows;
