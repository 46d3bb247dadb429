//! The `keyless-issuer` binary itself: flags from the environment, the printed address, the
//! `keys` subcommands on a data directory, and a refused configuration.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::support::temp_dir;

const BINARY: &str = env!("CARGO_BIN_EXE_keyless-issuer");

async fn run(arguments: &[&str], environment: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(BINARY)
        .args(arguments)
        .env_remove("KEYLESS_ISSUER_DATA_DIR")
        .envs(environment.iter().copied())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // Logs to a pipe are plain text: no colour codes.
    assert!(!stderr.contains('\u{1b}'), "colour codes in {stderr:?}");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    )
}

#[tokio::test]
async fn keys_subcommands_operate_on_a_data_directory() {
    let directory = temp_dir();
    let data_dir = directory.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let (ok, listed, _) = run(&["keys", "list", "--data-dir", data_dir], &[]).await;
    assert!(ok);
    let keys: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let next = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["state"] == "next")
        .unwrap();
    let next_kid = next["kid"].as_str().unwrap();
    assert!(!listed.contains("private"), "no private material");

    let (ok, rotated, stderr) = run(
        &["keys", "rotate"],
        &[("KEYLESS_ISSUER_DATA_DIR", data_dir)],
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(rotated.trim(), format!("rotated: active kid {next_kid}"));
    let (_, listed, _) = run(&["keys", "list", "--data-dir", data_dir], &[]).await;
    let keys: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let states: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 3);
    assert!(states.contains(&"retired") && states.contains(&"active") && states.contains(&"next"));
}

#[tokio::test]
async fn serve_reads_flags_from_the_environment_and_prints_its_address() {
    let mut child = Command::new(BINARY)
        .env("KEYLESS_ISSUER_LISTEN", "127.0.0.1:0")
        .env("KEYLESS_ISSUER_IN_MEMORY", "true")
        .env("KEYLESS_ISSUER_PUBLIC_URL", "https://oidc.circleci.com")
        .env("KEYLESS_ISSUER_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    let address = line
        .strip_prefix("keyless-issuer listening on ")
        .unwrap()
        .to_owned();
    let discovery: serde_json::Value =
        reqwest::get(format!("{address}/.well-known/openid-configuration"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(discovery["issuer"], "https://oidc.circleci.com");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_bad_public_url_is_refused_with_a_message() {
    let (ok, _, stderr) = run(
        &[
            "--in-memory",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "ftp://x",
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("--public-url"), "{stderr}");
}
