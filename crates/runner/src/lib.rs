//! keyless-runner: runs the jobs of a CircleCI `config.yml` on this machine the way CircleCI
//! would, against a keyless issuer: CircleCI's built-in environment, the contexts' variables,
//! `CIRCLE_OIDC_TOKEN`/`CIRCLE_OIDC_TOKEN_V2`, and a `circleci` command inside steps so that
//! `circleci run oidc get --claims '{"aud":"…"}'` mints tokens as it does on CircleCI.

pub mod config;
