//! The stream source's memory of the messages it stored, on disk, so that a message
//! redelivered after a crash (stored, then killed before its ack reached the server, or
//! redelivered because the server lost its consumer state when it was killed) is stored once.
//!
//! Why not the collector's `replay_journal`: it is private to `logwire-collector`, and
//! its windows are per (key, epoch) over 4096 seqs, while a JetStream redelivery can come
//! any distance behind (after `ack_wait`, or when a killed server forgets acks). The
//! identity here is the message's **stream sequence**, which a redelivery keeps: the source
//! remembers a *floor* (the consumer's ack floor, read from the server: every message at or
//! below it was acknowledged by this durable, hence stored or refused before) and the set of
//! stored sequences above it. The floor only rises, so a server that lost acks and goes
//! back redelivers messages this journal still knows. Duplicates *inside* the stream (the
//! same record published twice outside JetStream's `Nats-Msg-Id` window) are the
//! publisher's side: `Nats-Msg-Id` and the stream's duplicate window.
//!
//! File `nats-source.<stream>.<durable>.replay` (one per durable: another durable of the same
//! stream stores its own copy), text lines:
//!
//! ```text
//! f <floor>       every sequence up to floor was handled
//! s <lo> <hi>     sequences lo..=hi stored
//! ```
//!
//! Order per batch: handlers write, `sync()`, one `write` of the batch's lines, then the
//! acks. A journal line always follows its records' output; the window left is a kill between
//! the handlers' last write and the journal's write (two adjacent system calls): those records
//! come back and are stored a second time — duplicates, never loss. The set is bounded at
//! [`MAX_REMEMBERED`] sequences (a floor stuck behind one message that keeps failing); past it
//! the lowest are forgotten and counted. The file is compacted (temporary file, fsync,
//! rename) past [`COMPACT_AT`] bytes; loading is bounded ([`MAX_FILE`], [`MAX_LINE`]) and
//! fails closed on a malformed line (forgetting would mean duplicates: the operator decides),
//! except a cut last line, which a crash mid-append leaves.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The journal's file name in the state directory, without `.<stream>.<durable>.replay`.
pub(crate) const JOURNAL_FILE: &str = "nats-source";
/// Compaction threshold.
const COMPACT_AT: u64 = 4 << 20;
/// Largest journal file loaded.
const MAX_FILE: u64 = 256 << 20;
/// Longest line.
const MAX_LINE: usize = 128;
/// Stored sequences remembered above the floor (16 MiB or so at most).
pub(crate) const MAX_REMEMBERED: usize = 1 << 20;

/// Why the source's journal could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A line is malformed (the file is not loaded: fix or remove it).
    #[error("{}: line {line}: {why}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// Stored stream sequences, remembered (in memory always, on disk with a state directory).
pub(crate) struct Journal {
    floor: u64,
    stored: BTreeSet<u64>,
    pending: Vec<u64>,
    floor_changed: bool,
    forgotten: u64,
    file: Option<(PathBuf, File, u64)>,
}

impl Journal {
    /// A journal in memory only (no state directory: a restart forgets).
    pub(crate) fn in_memory() -> Self {
        Journal {
            floor: 0,
            stored: BTreeSet::new(),
            pending: Vec::new(),
            floor_changed: false,
            forgotten: 0,
            file: None,
        }
    }

    /// Opens (or creates) the journal of `name` (`<stream>.<durable>`, checked by the
    /// caller to be file-name safe) in `dir` and loads it.
    pub(crate) fn open(dir: &Path, name: &str) -> Result<Self, JournalError> {
        let path = dir.join(format!("{JOURNAL_FILE}.{name}.replay"));
        let io = |e| JournalError::Io {
            path: path.clone(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(|e| JournalError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
        let mut j = Journal::in_memory();
        let mut text = Vec::new();
        if let Ok(f) = File::open(&path) {
            f.take(MAX_FILE + 1).read_to_end(&mut text).map_err(io)?;
            if text.len() as u64 > MAX_FILE {
                return Err(JournalError::Malformed {
                    path,
                    line: 0,
                    why: format!("larger than {MAX_FILE} bytes"),
                });
            }
        }
        // A cut last line (a crash mid-append) is dropped.
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for (n, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| JournalError::Malformed {
                path: path.clone(),
                line: n + 1,
                why: why.into(),
            };
            if line.len() > MAX_LINE {
                return Err(bad("line too long"));
            }
            let line = std::str::from_utf8(line).map_err(|_| bad("not UTF-8"))?;
            j.load_line(line).ok_or_else(|| bad("malformed"))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        j.file = Some((path, file, complete as u64));
        if complete < text.len() {
            // Rewritten without the cut line.
            j.compact()?;
        }
        Ok(j)
    }

    fn load_line(&mut self, line: &str) -> Option<()> {
        let f: Vec<&str> = line.split(' ').collect();
        match (f.first()?, f.len()) {
            (&"f", 2) => self.raise_floor(f[1].parse().ok()?),
            (&"s", 3) => {
                let lo: u64 = f[1].parse().ok()?;
                let hi: u64 = f[2].parse().ok()?;
                if lo == 0 || hi < lo || hi - lo >= MAX_REMEMBERED as u64 {
                    return None;
                }
                for seq in lo..=hi {
                    self.remember(seq);
                }
            }
            _ => return None,
        }
        self.floor_changed = false;
        Some(())
    }

    fn remember(&mut self, seq: u64) {
        if seq > self.floor && self.stored.insert(seq) && self.stored.len() > MAX_REMEMBERED {
            self.stored.pop_first();
            self.forgotten += 1;
        }
    }

    /// Whether the message at stream sequence `seq` is new; if so it is remembered (on
    /// disk at the next [`Journal::commit`]).
    pub(crate) fn note(&mut self, seq: u64) -> bool {
        if seq == 0 {
            // No sequence known (cannot happen for a JetStream message): store it.
            return true;
        }
        if seq <= self.floor || self.stored.contains(&seq) {
            return false;
        }
        self.remember(seq);
        self.pending.push(seq);
        true
    }

    /// Every sequence up to `floor` was acknowledged by this durable: forget them.
    pub(crate) fn raise_floor(&mut self, floor: u64) {
        if floor > self.floor {
            self.floor = floor;
            self.stored = self.stored.split_off(&(floor + 1));
            self.floor_changed = true;
        }
    }

    /// Forgets the sequences noted since the last commit: their records were handed to the
    /// handlers, which could not confirm them, so a redelivery must store them again.
    pub(crate) fn abandon(&mut self) {
        for seq in self.pending.drain(..) {
            self.stored.remove(&seq);
        }
    }

    /// Sequences forgotten for the bound (a redelivery of those would be stored again).
    pub(crate) fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// Writes what changed since the last commit, in one `write`.
    pub(crate) fn commit(&mut self) -> Result<(), JournalError> {
        let Some((path, file, size)) = &mut self.file else {
            self.pending.clear();
            return Ok(());
        };
        if self.pending.is_empty() && !self.floor_changed {
            return Ok(());
        }
        let mut out = String::new();
        if std::mem::take(&mut self.floor_changed) {
            let _ = writeln!(out, "f {}", self.floor);
        }
        self.pending.sort_unstable();
        let mut i = 0;
        while i < self.pending.len() {
            let lo = self.pending[i];
            let mut hi = lo;
            while i + 1 < self.pending.len() && self.pending[i + 1] == hi + 1 {
                hi += 1;
                i += 1;
            }
            let _ = writeln!(out, "s {lo} {hi}");
            i += 1;
        }
        self.pending.clear();
        file.write_all(out.as_bytes())
            .map_err(|e| JournalError::Io {
                path: path.clone(),
                source: e,
            })?;
        *size += out.len() as u64;
        if *size > COMPACT_AT {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file as the floor and the ranges above it (temporary file, fsync, rename).
    fn compact(&mut self) -> Result<(), JournalError> {
        let Some((path, _, _)) = &self.file else {
            return Ok(());
        };
        let path = path.clone();
        let tmp = path.with_extension("replay.tmp");
        let io = |p: &Path, e| JournalError::Io {
            path: p.to_owned(),
            source: e,
        };
        let mut text = format!("f {}\n", self.floor);
        let mut it = self.stored.iter().copied().peekable();
        while let Some(lo) = it.next() {
            let mut hi = lo;
            while it.peek() == Some(&(hi + 1)) {
                hi += 1;
                it.next();
            }
            let _ = writeln!(text, "s {lo} {hi}");
        }
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        self.file = Some((path, file, text.len() as u64));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_reopen_floor_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), "S.d").unwrap();
        for seq in [1, 2, 3, 7, 5] {
            assert!(j.note(seq), "{seq}");
        }
        assert!(!j.note(3));
        j.commit().unwrap();
        // Far behind the highest (a redelivery after ack_wait) is still new if not stored.
        assert!(j.note(100_000));
        assert!(j.note(4));
        // Not committed: forgotten after a crash (redelivered and stored then).
        drop(j);
        let mut j = Journal::open(dir.path(), "S.d").unwrap();
        for seq in [1, 2, 3, 5, 7] {
            assert!(!j.note(seq), "{seq} remembered");
        }
        assert!(j.note(4));
        j.raise_floor(5);
        j.commit().unwrap();
        j.compact().unwrap();
        drop(j);
        let mut j = Journal::open(dir.path(), "S.d").unwrap();
        // At or below the floor: handled; above it, what was stored.
        assert!(!j.note(4) && !j.note(5) && !j.note(7));
        assert!(j.note(6));
        // The floor never goes back.
        j.raise_floor(2);
        assert!(!j.note(3));
    }

    #[test]
    fn malformed_lines_fail_closed_and_a_cut_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{JOURNAL_FILE}.S.d.replay"));
        std::fs::write(&p, "s 1 2\ns 3").unwrap();
        let mut j = Journal::open(dir.path(), "S.d").unwrap();
        assert!(!j.note(2));
        assert!(j.note(3));
        drop(j);
        for bad in ["s 5 1\n", "s 1 999999999999\n", "x 1\n", "f\n", "s 0 1\n"] {
            std::fs::write(&p, bad).unwrap();
            let err = Journal::open(dir.path(), "S.d")
                .err()
                .unwrap_or_else(|| panic!("{bad:?}"));
            assert!(err.to_string().contains("line 1"), "{err}");
        }
    }
}
