//! How durable a commit is before the issuer answers (`--durability`, `docs/decisions.md`).
//!
//! The database is in WAL mode. With `process` (the default, SQLite `synchronous=NORMAL`) a
//! commit is in the WAL when the issuer answers, so it survives the issuer crashing or being
//! killed, but the WAL is only synced to disk at checkpoints, so a power loss or OS crash can
//! lose the last commits (never corrupt the database). With `power` (`synchronous=FULL`) every
//! commit waits for an `fsync` of the WAL, which on this machine costs more than minting's
//! database work itself (`docs/benchmarks.md`).

use super::Store;
use crate::error::PlatformResult;

/// When a committed change is safe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Survives the issuer process crashing, not a power loss (`synchronous=NORMAL`).
    #[default]
    Process,
    /// Survives a power loss too: every commit waits for the disk (`synchronous=FULL`).
    Power,
}

impl Durability {
    /// SQLite's `synchronous` setting for this durability.
    pub fn synchronous(self) -> &'static str {
        match self {
            Self::Process => "NORMAL",
            Self::Power => "FULL",
        }
    }
}

impl Store {
    /// Sets how durable the commits of this store's connection are.
    pub fn set_durability(&self, durability: Durability) -> PlatformResult<()> {
        self.lock()
            .pragma_update(None, "synchronous", durability.synchronous())?;
        Ok(())
    }

    /// SQLite's current `synchronous` setting: 1 for `NORMAL`, 2 for `FULL`.
    pub fn synchronous(&self) -> PlatformResult<i64> {
        Ok(self
            .lock()
            .query_row("PRAGMA synchronous", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::Durability;
    use crate::Config;

    #[test]
    fn process_durability_is_the_default_and_power_waits_for_the_disk() {
        let directory = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests();
        config.in_memory = false;
        config.data_dir = directory.path().join("data");
        assert_eq!(config.durability, Durability::Process);
        let platform = crate::open_platform(&config, "http://127.0.0.1:1").unwrap();
        assert_eq!(
            platform.store.synchronous().unwrap(),
            1,
            "synchronous=NORMAL"
        );
        drop(platform);
        config.durability = Durability::Power;
        let platform = crate::open_platform(&config, "http://127.0.0.1:1").unwrap();
        assert_eq!(platform.store.synchronous().unwrap(), 2, "synchronous=FULL");
    }
}
