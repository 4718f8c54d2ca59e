//! [`SeqStore`]: the per-key seq ratchet, persisted so a replay fails after a restart too.
//!
//! One file per key id, `seq-<16 hex digits>`, holding the last applied seq in decimal.
//! Each update is written to a temporary file, fsynced, renamed over the old one, and the
//! directory is fsynced: after a crash the file holds either the old or the new seq, never a
//! torn one. The listener writes it *before* it replies "applied". A file that cannot be read
//! or parsed stops the listener from starting (failing closed: forgetting a seq would reopen
//! replays).

use super::ListenerError;
use logwire_wire::{EnvelopeError, KeyId, SeqRatchet};
use std::fs;
use std::path::{Path, PathBuf};

const PREFIX: &str = "seq-";

/// Largest seq file read (a u64 in decimal and a newline is 21 bytes).
const MAX_SEQ_FILE: u64 = 64;

/// The persisted seq ratchet of a config listener.
#[derive(Debug)]
pub struct SeqStore {
    dir: PathBuf,
    ratchet: SeqRatchet,
}

impl SeqStore {
    /// Opens (creating with mode 0700 if needed) a state directory and loads every seq in it.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ListenerError> {
        let dir = dir.into();
        let state = |source| ListenerError::State {
            path: dir.clone(),
            source,
        };
        logwire_wire::state_file::create_private_dir(&dir).map_err(state)?;
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(state)? {
            let entry = entry.map_err(state)?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
                continue;
            };
            let path = entry.path();
            // Lowercase only, as written: `seq-AB…` and `seq-ab…` would be the same key, and
            // which of the two counted would depend on the directory's order.
            let Some(key_id) = KeyId::from_hex(hex).filter(|k| k.to_string() == hex) else {
                return Err(ListenerError::CorruptState {
                    path,
                    why: "the name is not seq-<16 lowercase hex digits>".into(),
                });
            };
            let bytes =
                logwire_wire::state_file::read_small(&path, MAX_SEQ_FILE).map_err(|source| {
                    ListenerError::State {
                        path: path.clone(),
                        source,
                    }
                })?;
            let seq = String::from_utf8_lossy(&bytes)
                .trim()
                .parse::<u64>()
                .map_err(|e| ListenerError::CorruptState {
                    path: path.clone(),
                    why: format!("not a seq: {e}"),
                })?;
            entries.push((key_id, seq));
        }
        Ok(SeqStore {
            dir,
            ratchet: SeqRatchet::from_entries(entries),
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last applied seq for a key.
    pub fn last(&self, key_id: &KeyId) -> Option<u64> {
        self.ratchet.last(key_id)
    }

    /// Checks that `seq` is strictly greater than the last applied for `key_id`.
    pub fn check(&self, key_id: KeyId, seq: u64) -> Result<(), EnvelopeError> {
        self.ratchet.check(key_id, seq)
    }

    /// Advances the ratchet for `key_id` to `seq`, then persists it (atomically, fsynced).
    /// If writing fails the in-memory ratchet has still advanced, so the config just applied
    /// cannot be replayed while this process runs; the error says the file is stale.
    pub fn record(&mut self, key_id: KeyId, seq: u64) -> Result<(), ListenerError> {
        self.ratchet
            .advance(key_id, seq)
            .map_err(|e| ListenerError::CorruptState {
                path: self.dir.clone(),
                why: e.to_string(),
            })?;
        logwire_wire::state_file::replace_atomically(
            &self.dir,
            &format!("{PREFIX}{key_id}"),
            format!("{seq}\n").as_bytes(),
        )
        .map_err(|(path, source)| ListenerError::State { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_across_reopen_and_refuses_lower() {
        let dir = tempfile::tempdir().unwrap();
        let id = KeyId([1, 2, 3, 4, 5, 6, 7, 8]);
        let mut s = SeqStore::open(dir.path().join("state")).unwrap();
        assert!(s.check(id, 5).is_ok());
        s.record(id, 5).unwrap();
        assert!(s.check(id, 5).is_err());
        let s2 = SeqStore::open(dir.path().join("state")).unwrap();
        assert_eq!(s2.last(&id), Some(5));
        assert!(s2.check(id, 4).is_err());
        assert!(s2.check(id, 6).is_ok());
    }

    #[test]
    fn corrupt_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("seq-0102030405060708"), "x\n").unwrap();
        assert!(matches!(
            SeqStore::open(dir.path()),
            Err(ListenerError::CorruptState { .. })
        ));
    }

    /// A name in capitals (the same key as its lowercase twin), a huge file and a link are
    /// refused with the file named, not loaded or read without end.
    #[test]
    fn odd_files_fail_closed() {
        let upper = tempfile::tempdir().unwrap();
        fs::write(upper.path().join("seq-0102030405060708"), "5\n").unwrap();
        fs::write(upper.path().join("seq-0102030405060A0B"), "9\n").unwrap();
        match SeqStore::open(upper.path()) {
            Err(ListenerError::CorruptState { path, why }) => {
                assert!(path.ends_with("seq-0102030405060A0B"), "{}", path.display());
                assert!(why.contains("lowercase"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let big = tempfile::tempdir().unwrap();
        fs::write(big.path().join("seq-0102030405060708"), "1".repeat(10_000)).unwrap();
        assert!(matches!(
            SeqStore::open(big.path()),
            Err(ListenerError::State { .. })
        ));
        let link = tempfile::tempdir().unwrap();
        fs::write(link.path().join("target"), "5\n").unwrap();
        std::os::unix::fs::symlink(
            link.path().join("target"),
            link.path().join("seq-0102030405060708"),
        )
        .unwrap();
        assert!(matches!(
            SeqStore::open(link.path()),
            Err(ListenerError::State { .. })
        ));
    }
}
