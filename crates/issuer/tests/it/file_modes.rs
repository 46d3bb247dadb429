//! Key material on disk is readable by its owner only: the data directory (and any parent the
//! issuer creates for it) is 0700, the database holding the private keys and its WAL and
//! shared-memory files are 0600. The binary is run under `umask 000`, so the modes come from
//! the issuer itself, not from a cautious umask.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::json;
use tokio::process::Command;

use crate::support::{Options, TestServer, temp_dir};

const BINARY: &str = env!("CARGO_BIN_EXE_keyless-issuer");

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts that every entry of `directory` is owner-only: 0600 for files, 0700 for
/// directories.
fn assert_owner_only_tree(directory: &Path) {
    assert_eq!(mode(directory), 0o700, "{}", directory.display());
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_owner_only_tree(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[tokio::test]
async fn the_binary_creates_its_data_directory_and_keys_owner_only_under_umask_000() {
    let directory = temp_dir();
    let top = directory.path().join("created");
    let data_dir = top.join("by/the/issuer");
    let output = Command::new("/bin/sh")
        .args([
            "-c",
            "umask 000 && exec \"$0\" keys rotate --data-dir \"$1\"",
        ])
        .arg(BINARY)
        .arg(&data_dir)
        .env_remove("KEYLESS_ISSUER_DATA_DIR")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A file created under umask 000 without an explicit mode would be 0666: check that the
    // umask really was 000 for the child.
    let control = Command::new("/bin/sh")
        .args(["-c", "umask 000 && touch \"$0\""])
        .arg(directory.path().join("control"))
        .status()
        .await
        .unwrap();
    assert!(control.success());
    assert_eq!(mode(&directory.path().join("control")), 0o666);

    for parent in [&top, &top.join("by"), &top.join("by/the")] {
        assert_eq!(mode(parent), 0o700, "{}", parent.display());
    }
    let database = data_dir.join("issuer.sqlite3");
    assert!(database.is_file());
    assert_owner_only_tree(&data_dir);
}

#[tokio::test]
async fn a_serving_issuer_keeps_its_database_wal_and_shared_memory_owner_only() {
    let directory = temp_dir();
    let data_dir = directory.path().join("state");
    let server = TestServer::start_with(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    })
    .await;
    // Writes go to the WAL: a job, a mint, a rotation.
    let job = server.start_acme_job(json!({})).await;
    let mint = format!("/api/v1/jobs/{}/tokens", job["job_id"].as_str().unwrap());
    let (status, _) = server
        .call("POST", &mint, job["job_secret"].as_str(), Some(json!({})))
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .admin("POST", "/api/v1/admin/keys/rotate", None)
        .await;
    assert_eq!(status, 200);
    for file in ["issuer.sqlite3", "issuer.sqlite3-wal", "issuer.sqlite3-shm"] {
        assert!(data_dir.join(file).is_file(), "{file} exists while serving");
    }
    assert_owner_only_tree(&data_dir);
    server.stop().await;
    assert_owner_only_tree(&data_dir);
}

#[tokio::test]
async fn a_database_left_readable_by_others_is_restricted_again_at_start() {
    let directory = temp_dir();
    let data_dir = directory.path().join("state");
    TestServer::start_with(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    })
    .await
    .stop()
    .await;
    let database = data_dir.join("issuer.sqlite3");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = TestServer::start_with(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    })
    .await;
    assert_eq!(mode(&database), 0o600);
    server.stop().await;
}
