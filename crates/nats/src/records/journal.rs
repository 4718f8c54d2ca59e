//! The stream source's memory of the records it stored, on disk, so that a message
//! redelivered after a crash (stored, then killed before its ack reached the server) is
//! stored once.
//!
//! Why not the collector's `replay_journal`: it is private to `logwire-net`'s receiver. This
//! one keeps the same ideas with the public pieces of `logwire-wire`: a [`ReplayTracker`]
//! (per (key id, epoch), the highest seq and a bitmap of the last 4096 seqs; at most
//! [`MAX_EPOCHS_PER_KEY`] epochs per key, least recently used evicted) rebuilt at start from
//! the file `nats-source.replay`:
//!
//! ```text
//! r <key id hex> <epoch hex> <lo> <hi>                                   seqs lo..=hi stored
//! w <key id hex> <epoch hex> <highest> <contiguous> <missing> <bitmap>   a whole window
//! ```
//!
//! Records are identified by their `Nats-Msg-Id` ([`MsgId`]): a signed record by its key,
//! epoch and seq, a collector-local one by (zero key, handler instance, handler seq), and a
//! message without a logwire id by (key `ff…`, zero epoch, stream sequence).
//!
//! Order per batch: handlers write, `sync()`, one `write` of the batch's `r` lines, then the
//! acks. A journal line always follows its records' output; the window left is a kill between
//! the handlers' last write and the journal's write (two adjacent system calls): those records
//! come back and are stored a second time — duplicates, never loss. The file is compacted into
//! `w` lines (temporary file, fsync, rename) past [`COMPACT_AT`] bytes; loading is bounded
//! ([`MAX_FILE`], [`MAX_LINE`]) and fails closed on a malformed line (forgetting would mean
//! duplicates: the operator decides), except a cut last line, which a crash mid-append leaves.

use super::json::MsgId;
use logwire_wire::record_envelope::REPLAY_WINDOW;
use logwire_wire::{Epoch, KeyId, ReplayTracker, ReplayVerdict, ReplayWindow, WindowState};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The journal's file name in the state directory.
pub(crate) const JOURNAL_FILE: &str = "nats-source.replay";
/// Compaction threshold.
const COMPACT_AT: u64 = 4 << 20;
/// Largest journal file loaded.
const MAX_FILE: u64 = 256 << 20;
/// Longest line.
const MAX_LINE: usize = 4096;
/// Epochs remembered per key (each costs about 600 bytes).
pub(crate) const MAX_EPOCHS_PER_KEY: usize = 4096;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

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

/// The (key, epoch, seq) a message is remembered under.
pub(crate) fn identity(id: Option<MsgId>, stream_seq: u64) -> (KeyId, Epoch, u64) {
    match id {
        Some(MsgId::Signed { key_id, epoch, seq }) => (key_id, epoch, seq),
        Some(MsgId::Local { instance, seq }) => (KeyId([0; 8]), instance, seq),
        None => (KeyId([0xff; 8]), Epoch([0; 16]), stream_seq),
    }
}

/// Stored records, remembered (in memory always, on disk with a state directory).
pub(crate) struct Journal {
    tracker: ReplayTracker,
    file: Option<(PathBuf, File, u64)>,
    pending: Vec<(KeyId, Epoch, u64)>,
}

impl Journal {
    /// A journal in memory only (no state directory: a restart forgets).
    pub(crate) fn in_memory() -> Self {
        Journal {
            tracker: ReplayTracker::new(MAX_EPOCHS_PER_KEY),
            file: None,
            pending: Vec::new(),
        }
    }

    /// Opens (or creates) the journal in `dir` and loads it.
    pub(crate) fn open(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join(JOURNAL_FILE);
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
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        file.flush().map_err(io)?;
        j.file = Some((path, file, complete as u64));
        if complete < text.len() {
            // Rewritten without the cut line.
            j.compact()?;
        }
        Ok(j)
    }

    fn load_line(&mut self, line: &str) -> Option<()> {
        let f: Vec<&str> = line.split(' ').collect();
        let key = KeyId(unhex::<8>(f.get(1)?)?);
        let epoch = Epoch(unhex::<16>(f.get(2)?)?);
        match (f.first()?, f.len()) {
            (&"r", 5) => {
                let lo: u64 = f[3].parse().ok()?;
                let hi: u64 = f[4].parse().ok()?;
                if lo == 0 || hi < lo || hi - lo >= REPLAY_WINDOW {
                    return None;
                }
                for seq in lo..=hi {
                    self.mark(key, epoch, seq);
                }
            }
            (&"w", 7) => {
                let bits_hex = f[6];
                if bits_hex.len() != WORDS * 16 {
                    return None;
                }
                let mut bits = Vec::with_capacity(WORDS);
                for i in 0..WORDS {
                    bits.push(u64::from_str_radix(&bits_hex[i * 16..i * 16 + 16], 16).ok()?);
                }
                let state = WindowState {
                    highest: f[3].parse().ok()?,
                    contiguous: f[4].parse().ok()?,
                    missing: f[5].parse().ok()?,
                    bits,
                };
                self.tracker
                    .restore(key, epoch, ReplayWindow::from_state(&state)?);
            }
            _ => return None,
        }
        Some(())
    }

    fn mark(&mut self, key: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        if self.tracker.window(key, epoch).is_none() {
            // From 0, not from the first seq seen: a stream may hold an epoch's records out
            // of order (two collectors, a resend), and a window opened at the first one seen
            // would take the earlier ones for too old.
            self.tracker.restore(key, epoch, ReplayWindow::new());
        }
        self.tracker.mark(key, epoch, seq)
    }

    /// Whether a record is new; if so it is remembered (on disk at the next [`commit`]).
    /// A record more than a window below its epoch's highest seq is taken as new (stored,
    /// perhaps a second time) rather than dropped: duplicates beat loss.
    ///
    /// [`commit`]: Journal::commit
    pub(crate) fn note(&mut self, key: KeyId, epoch: Epoch, seq: u64) -> bool {
        if seq == 0 {
            return true;
        }
        match self.mark(key, epoch, seq) {
            ReplayVerdict::Duplicate => false,
            ReplayVerdict::New => {
                self.pending.push((key, epoch, seq));
                true
            }
            _ => true,
        }
    }

    /// Writes the records noted since the last commit, in one `write`.
    pub(crate) fn commit(&mut self) -> Result<(), JournalError> {
        let Some((path, file, size)) = &mut self.file else {
            self.pending.clear();
            return Ok(());
        };
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending.sort_unstable();
        let mut out = String::new();
        let mut i = 0;
        while i < self.pending.len() {
            let (k, e, lo) = self.pending[i];
            let mut hi = lo;
            while i + 1 < self.pending.len()
                && self.pending[i + 1] == (k, e, hi + 1)
                && hi + 1 - lo < REPLAY_WINDOW
            {
                hi += 1;
                i += 1;
            }
            let _ = writeln!(out, "r {} {} {lo} {hi}", hex(&k.0), hex(&e.0));
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

    /// Rewrites the file as one `w` line per window (temporary file, fsync, rename).
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
        let mut text = String::new();
        for (k, e, w) in self.tracker.windows() {
            let s = w.state();
            let _ = write!(
                text,
                "w {} {} {} {} {} ",
                hex(&k.0),
                hex(&e.0),
                s.highest,
                s.contiguous,
                s.missing
            );
            for word in &s.bits {
                let _ = write!(text, "{word:016x}");
            }
            text.push('\n');
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

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_reopen_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let (k, e) = (KeyId([1; 8]), Epoch([2; 16]));
        let mut j = Journal::open(dir.path()).unwrap();
        for seq in [1, 2, 3, 7, 5] {
            assert!(j.note(k, e, seq), "{seq}");
        }
        assert!(!j.note(k, e, 3));
        j.commit().unwrap();
        // Out of order below the first seq seen is still new.
        let e2 = Epoch([3; 16]);
        assert!(j.note(k, e2, 10));
        assert!(j.note(k, e2, 4));
        // Not committed: forgotten after a crash (redelivered and stored then).
        drop(j);
        let mut j = Journal::open(dir.path()).unwrap();
        for seq in [1, 2, 3, 5, 7] {
            assert!(!j.note(k, e, seq), "{seq} remembered");
        }
        assert!(j.note(k, e, 4));
        assert!(j.note(k, e2, 10));
        j.commit().unwrap();
        j.compact().unwrap();
        drop(j);
        let mut j = Journal::open(dir.path()).unwrap();
        assert!(!j.note(k, e, 4));
        assert!(!j.note(k, e2, 10));
        assert!(j.note(k, e, 6));
    }

    #[test]
    fn malformed_lines_fail_closed_and_a_cut_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(JOURNAL_FILE);
        let key = "0101010101010101";
        let epoch = "02020202020202020202020202020202";
        std::fs::write(&p, format!("r {key} {epoch} 1 2\nr {key} {epoch} 3")).unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        assert!(!j.note(KeyId([1; 8]), Epoch([2; 16]), 2));
        assert!(j.note(KeyId([1; 8]), Epoch([2; 16]), 3));
        drop(j);
        std::fs::write(&p, format!("r {key} {epoch} 5 1\n")).unwrap();
        let err = Journal::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
        std::fs::write(&p, format!("r {key} {epoch} 1 999999999\n")).unwrap();
        assert!(Journal::open(dir.path()).is_err());
    }
}
