//! Fuzzes the AWS Query protocol decoder, `keyless_sts::query`: form decoding of a body or
//! query string, the `Name.member.N` list encoding, `{Key, Value}` tags, and the `ParamReader`
//! checks every action runs (lengths, patterns, integers, list sizes), which must end in a
//! Coral-style `ValidationError` and never in a panic.
//!
//! Round trip: the decoded parameters, re-encoded with `form_urlencoded`, decode to the same
//! parameters.

#![no_main]

use keyless_sts::query::{ParamReader, QueryParams, is_name_character, is_policy_character};
use libfuzzer_sys::fuzz_target;

/// Names the fuzz target reads: real STS and IAM parameters.
const NAMES: [&str; 8] = [
    "Action",
    "Version",
    "RoleArn",
    "RoleSessionName",
    "WebIdentityToken",
    "DurationSeconds",
    "ClientIDList",
    "Tags",
];

fuzz_target!(|data: &[u8]| {
    let params = QueryParams::parse(data);
    round_trip(data, &params);
    for name in NAMES {
        let _ = params.list(name);
        let _ = params.tags(name);
        let _ = params.list_of_fields(name, "Key");
    }
    let mut reader = ParamReader::new(&params);
    if let Some(name) = reader.required("RoleSessionName", "roleSessionName") {
        reader.check_length(name, "roleSessionName", 2, 64);
        let valid = name.chars().all(is_name_character);
        reader.check_pattern(name, "roleSessionName", valid, "[\\w+=,.@-]*");
    }
    if let Some(token) = reader.required("WebIdentityToken", "webIdentityToken") {
        reader.check_sensitive_length(token, "webIdentityToken", 4, 20_000);
    }
    if let Some(policy) = reader.optional("Policy") {
        let printable = policy.chars().all(is_policy_character);
        reader.check_pattern(
            policy,
            "policy",
            printable,
            "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        );
    }
    let _ = reader.optional_integer("DurationSeconds", "durationSeconds", 900, 43_200);
    let _ = reader.list("ClientIDList", "clientIDList", 100);
    if let Err(error) = reader.finish() {
        assert_eq!(error.code, "ValidationError");
        assert!(error.message.contains("validation error"));
    }
});

/// Decoding, re-encoding and decoding again gives the same parameters.
fn round_trip(data: &[u8], params: &QueryParams) {
    let mut first_values: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(data) {
        if !first_values.iter().any(|(seen, _)| *seen == name) {
            first_values.push((name.into_owned(), value.into_owned()));
        }
    }
    for (name, value) in &first_values {
        assert_eq!(params.get(name), Some(value.as_str()));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&first_values)
        .finish();
    assert_eq!(&QueryParams::parse(encoded.as_bytes()), params);
}
