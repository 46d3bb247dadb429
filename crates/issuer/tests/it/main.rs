//! Integration tests of keyless-issuer: real servers on 127.0.0.1:0, talked to over HTTP.

mod admin;
mod cli;
mod discovery;
mod jobs;
mod negative;
mod pyjwt;
mod refusals;
mod rotation;
mod support;
