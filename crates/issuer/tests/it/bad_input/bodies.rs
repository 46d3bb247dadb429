//! Bad bodies on every route that reads one: over the size limit, and malformed JSON of every
//! kind (wrong types, arrays for objects, duplicate keys, invalid UTF-8, …). Each gets the
//! issuer's JSON 4xx and leaves the state as it was (fixture and checks in `super`).

use super::*;

#[tokio::test]
async fn bodies_over_the_limit_are_refused_on_every_route_that_reads_one() {
    let fixture = Fixture::start().await;
    let before = fixture.snapshot().await;
    let oversized = format!(r#"{{"name": "{}"}}"#, "a".repeat(BODY_LIMIT));
    for (method, path, credential, _, _) in fixture.body_routes() {
        let request = probe(method, &path, credential, oversized.as_bytes());
        fixture.refused(&request, 413, "payload_too_large").await;
    }
    assert_eq!(fixture.snapshot().await, before);
}

#[tokio::test]
async fn malformed_json_of_every_kind_is_refused_on_every_route_that_reads_one() {
    let fixture = Fixture::start().await;
    let before = fixture.snapshot().await;
    let deep_arrays = format!("{{\"name\": {}", "[".repeat(20_000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let generic: Vec<(&str, Option<&'static str>, Vec<u8>)> = vec![
        (
            "truncated",
            Some("application/json"),
            br#"{"name": "x""#.to_vec(),
        ),
        (
            "unclosed string",
            Some("application/json"),
            br#"{"name": "x}"#.to_vec(),
        ),
        (
            "trailing garbage",
            Some("application/json"),
            br#"{} {}"#.to_vec(),
        ),
        ("array", Some("application/json"), b"[]".to_vec()),
        (
            "array of fields",
            Some("application/json"),
            br#"["success"]"#.to_vec(),
        ),
        ("string", Some("application/json"), br#""success""#.to_vec()),
        ("number", Some("application/json"), b"42".to_vec()),
        ("null", Some("application/json"), b"null".to_vec()),
        ("boolean", Some("application/json"), b"true".to_vec()),
        (
            "unknown field",
            Some("application/json"),
            br#"{"colour": "red"}"#.to_vec(),
        ),
        (
            "invalid UTF-8 in a string",
            Some("application/json"),
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
        ),
        ("invalid UTF-8 outside strings", None, b"{\xff}".to_vec()),
        (
            "UTF-16 byte-order mark",
            None,
            b"\xff\xfe{\x00}\x00".to_vec(),
        ),
        ("NUL bytes", None, b"{\x00\x00}".to_vec()),
        (
            "deeply nested arrays",
            Some("application/json"),
            deep_arrays.into_bytes(),
        ),
        (
            "deeply nested objects",
            Some("application/json"),
            deep_objects.into_bytes(),
        ),
        (
            "a form",
            Some("application/x-www-form-urlencoded"),
            b"name=x&status=success".to_vec(),
        ),
        (
            "XML",
            Some("text/xml"),
            b"<org><name>x</name></org>".to_vec(),
        ),
        (
            "YAML",
            Some("application/yaml"),
            b"name: x\nstatus: success\n".to_vec(),
        ),
        (
            "multipart",
            Some("multipart/form-data; boundary=b"),
            b"--b\r\n\r\nx\r\n--b--".to_vec(),
        ),
    ];
    for (method, path, credential, wrong_type, duplicated) in fixture.body_routes() {
        let route_specific = [
            ("wrong type", wrong_type.as_bytes().to_vec()),
            ("duplicate field", duplicated.as_bytes().to_vec()),
        ];
        for (case, body) in route_specific {
            let request = probe(method.clone(), &path, credential, &body);
            let (status, content_type, text) = fixture.send(&request).await;
            let what = format!("{method} {path} ({case})");
            assert_refusal(&what, status, &content_type, &text, 400, "invalid_json");
        }
        for (case, content_type, body) in &generic {
            let request = Probe {
                content_type: *content_type,
                ..probe(method.clone(), &path, credential, body)
            };
            let (status, answer_type, text) = fixture.send(&request).await;
            let what = format!("{method} {path} ({case})");
            assert_refusal(&what, status, &answer_type, &text, 400, "invalid_json");
        }
    }
    assert_eq!(fixture.snapshot().await, before);
}
