//! A bad bootstrap file given to the `keyless-issuer` binary (malformed YAML, wrong types,
//! unknown keys, 100,000 levels of nesting, an alias bomb, a huge file, invalid UTF-8): the binary exits
//! with an error that names the file (and the line where the parser knows it), and creates
//! nothing: the data directory is never made, so no key is generated.

use std::time::Duration;

use tokio::process::Command;

use crate::support::temp_dir;

const BINARY: &str = env!("CARGO_BIN_EXE_keyless-issuer");

/// Runs `keyless-issuer serve` with `bootstrap` as its `--config`; returns whether it
/// succeeded, its stderr, and whether the data directory exists afterwards.
async fn serve_with(bootstrap: &[u8]) -> (Option<i32>, String, bool) {
    let directory = temp_dir();
    let bootstrap_path = directory.path().join("bootstrap.yaml");
    std::fs::write(&bootstrap_path, bootstrap).unwrap();
    let data_dir = directory.path().join("data");
    let mut command = Command::new(BINARY);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            "t0123456789",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--config")
        .arg(&bootstrap_path)
        .env_remove("KEYLESS_ISSUER_DATA_DIR")
        .env_remove("KEYLESS_ISSUER_IN_MEMORY")
        .kill_on_drop(true);
    // A bad file must stop the binary at once; a server that started would run forever.
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the issuer did not exit on a bad bootstrap file")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        data_dir.exists(),
    )
}

#[tokio::test]
async fn a_bad_bootstrap_file_stops_the_binary_before_anything_is_created() {
    // 100,000 levels took libyaml over a minute (its scanner is quadratic in flow depth): they
    // are refused before parsing. 200 levels parse, and the deserializer refuses them.
    let deep = format!(
        "orgs:\n  - name: {}x{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let nested = format!(
        "orgs:\n  - name: a\n    users: {}x{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let alias_bomb = {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        text.push_str("orgs: *a9\n");
        text
    };
    let huge = format!(
        "orgs:\n{}",
        "  - name: org\n    users: [{login: someone}]\n".repeat(120_000)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("malformed YAML", b"orgs:\n  - name: acme\n   users: [\n".to_vec(), "line 3"),
        ("unclosed flow", b"orgs: [{name: acme\n".to_vec(), "malformed"),
        ("tab indentation", b"orgs:\n\t- name: acme\n".to_vec(), "malformed"),
        ("orgs not a list", b"orgs: acme\n".to_vec(), "malformed"),
        ("a top level list", b"- name: acme\n".to_vec(), "malformed"),
        ("a scalar document", b"42\n".to_vec(), "malformed"),
        ("name a list", b"orgs:\n  - name: [a, b]\n".to_vec(), "line 2"),
        ("settings of the wrong type", b"orgs:\n  - name: a\n    settings: {oidc_requires_context: maybe}\n".to_vec(), "line 3"),
        ("an id that is not a UUID", b"orgs:\n  - name: a\n    id: 42\n".to_vec(), "malformed"),
        ("an unknown key", b"orgs:\n  - name: a\n    colour: red\n".to_vec(), "colour"),
        ("a duplicate key", b"orgs:\n  - name: a\n    name: b\n".to_vec(), "duplicate"),
        ("a duplicate variable", b"orgs:\n  - name: a\n    contexts:\n      - name: c\n        environment: {A: '1', A: '2'}\n".to_vec(), "malformed"),
        ("deep nesting", deep.into_bytes(), "nest deeper than 1000 levels at line 2 column 1011"),
        ("nesting past the deserializer's limit", nested.into_bytes(), "line 3"),
        ("an alias bomb", alias_bomb.into_bytes(), "malformed"),
        ("invalid UTF-8", b"orgs:\n  - name: \xff\xfe\n".to_vec(), "UTF-8"),
        ("a huge file", huge.into_bytes(), "larger than"),
        ("a missing runner token", b"orgs:\n  - name: a\n    runner_tokens: [{name: r}]\n".to_vec(), "needs a token"),
    ];
    for (case, bootstrap, expected) in cases {
        let (code, stderr, data_dir_exists) = serve_with(&bootstrap).await;
        assert_ne!(code, Some(0), "{case}: {stderr}");
        assert!(code.is_some(), "{case}: killed by a signal: {stderr}");
        assert!(stderr.contains("bootstrap file"), "{case}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{case}: expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        assert!(!data_dir_exists, "{case}: the data directory was created");
    }
}
