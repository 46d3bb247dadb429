//! Integration tests of keyless-issuer: real servers on 127.0.0.1:0, talked to over HTTP.

mod admin;
mod bad_bootstrap;
mod bad_input;
mod cli;
mod discovery;
mod file_modes;
mod jobs;
mod negative;
mod pyjwt;
mod refusals;
mod rotation;
mod support;
