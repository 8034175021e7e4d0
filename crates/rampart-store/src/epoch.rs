//! The key-change epoch: how a process that changes keys (the CLI, another gateway)
//! tells running gateways on the same SQLite store to drop cached keys, at the cost of
//! one `pread` per request instead of a database round trip.
//!
//! The epoch is 16 random bytes in a file beside the database (`<db>-keys-epoch`).
//! Every change that can withdraw access (revocation today) first commits in the
//! database, then writes new random bytes in place. A gateway reads the epoch *before*
//! it queries a key and caches the row under that epoch; a cached row is used only
//! while the epoch still reads the same. So a revocation that completed before a
//! request arrived is always seen by that request: either the query saw the revoked
//! row, or the bump happened after the epoch read and invalidates the entry on the
//! very next request.
//!
//! PostgreSQL stores have no epoch file (their instances may share no disk); their
//! gateways read every key from the database until cross-instance notification lands.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use rand::rngs::OsRng;

/// An epoch value.
pub type Epoch = [u8; 16];

/// Reads the current epoch; holds the file open.
#[derive(Debug)]
pub struct EpochReader {
    file: File,
}

impl EpochReader {
    /// The current epoch, or `None` if it cannot be read (then nothing may be cached).
    pub fn read(&self) -> Option<Epoch> {
        let mut epoch = [0u8; 16];
        self.file.read_exact_at(&mut epoch, 0).ok()?;
        Some(epoch)
    }
}

/// The epoch file of a SQLite database file.
pub(crate) fn epoch_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-keys-epoch");
    PathBuf::from(name)
}

/// Opens (creating and initializing if needed) the epoch file for reading.
pub(crate) fn open(path: &Path) -> std::io::Result<EpochReader> {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    if file.metadata()?.len() < 16 {
        bump_file(&file)?;
    }
    Ok(EpochReader { file })
}

/// Writes a new epoch in place (never by rename: readers keep their open file).
pub(crate) fn bump(path: &Path) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).create(true).truncate(false).open(path)?;
    bump_file(&file)
}

fn bump_file(file: &File) -> std::io::Result<()> {
    let mut epoch = [0u8; 16];
    OsRng.try_fill_bytes(&mut epoch).map_err(std::io::Error::other)?;
    file.write_all_at(&epoch, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_seen_through_an_already_open_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = epoch_path(&dir.path().join("keys.db"));
        let reader = open(&path).unwrap();
        let first = reader.read().unwrap();
        assert_eq!(reader.read(), Some(first));
        bump(&path).unwrap();
        let second = reader.read().unwrap();
        assert_ne!(first, second);
        // A second reader sees the same value; opening does not reset it.
        assert_eq!(open(&path).unwrap().read(), Some(second));
    }
}
