//! Integration tests for `keyless-claims`: the spec's example payload, V1/V2 subjects (by example
//! and by property), and malformed subjects. One test binary keeps link time low.

mod payload;
mod subjects;
