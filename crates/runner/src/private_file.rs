//! Files the runner writes that may hold secrets (the AWS web-identity token file, `BASH_ENV`,
//! which steps fill with exported variables, and each step's script, which holds interpolated
//! parameters): created owner-only (0600) from the first byte, never readable by another user
//! even for a moment, whatever the umask. They live in the job's temporary directory, which
//! `tempfile` creates 0700.

use std::fs::{OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// The mode of every file written here: read and write for the owner only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Writes `contents` to `path` (created or truncated) with mode 0600. An existing file is
/// restricted to 0600 before anything is written to it.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE_MODE))?;
    file.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_end_up_owner_only() {
        let directory = tempfile::tempdir().unwrap();
        let new = directory.path().join("new");
        write_private(&new, b"secret").unwrap();
        assert_eq!(mode(&new), 0o600);
        assert_eq!(std::fs::read(&new).unwrap(), b"secret");
        let existing = directory.path().join("existing");
        std::fs::write(&existing, "old contents that are longer").unwrap();
        std::fs::set_permissions(&existing, Permissions::from_mode(0o644)).unwrap();
        write_private(&existing, b"new").unwrap();
        assert_eq!(mode(&existing), 0o600);
        assert_eq!(std::fs::read(&existing).unwrap(), b"new");
    }
}
