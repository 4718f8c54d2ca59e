//! [`ReplayJournal`]: the collector's memory of which signed records it stored, kept on disk
//! so that a restarted collector (after SIGTERM, a crash or `kill -9`) stores a resent record
//! once.
//!
//! A signed sender resends every record the collector had not acknowledged when it went
//! away. Records that were stored but not yet acknowledged come back too; without this
//! journal, a fresh replay window would take them for new ones and store them twice.
//!
//! # Format
//!
//! One file, `records.replay`, of text lines:
//!
//! ```text
//! w <key id hex> <epoch hex> <highest> <contiguous> <missing> <bitmap hex>   a whole window
//! r <key id hex> <epoch hex> <lo> <hi>                                      seqs lo..=hi stored
//! ```
//!
//! The dispatcher notes the seqs it hands to the handlers and, after flushing the handlers
//! and *before* writing any ack, appends one `r` line per (key, epoch) touched, in a single
//! `write`. So an acknowledged record is always in the journal, and a record in the journal
//! is always in the handlers' output. The lines go to the kernel at once (no user-space
//! buffer), which is what survives `kill -9`; they are not fsynced, like the handlers'
//! output, so a power loss may forget the last moments (those records are then stored twice
//! when resent, never lost). When the file outgrows its threshold it is compacted into `w`
//! lines, written to a temporary file, fsynced and renamed over the old one.
//!
//! The one window left: a kill that lands after the handlers wrote a batch and before the
//! journal line for it (two adjacent system calls, since the dispatcher writes a batch at
//! once). Those records were never acknowledged, so they are resent and stored a second
//! time: duplicates in that case, never loss. Likewise a kill in the middle of a large write
//! can leave the batch's last line cut short in a file output; its record is resent and
//! stored whole.
//!
//! Loading is bounded (file size, line length, epochs per key as in the live tracker) and
//! fails closed on a malformed line: forgetting stored seqs would mean duplicates, so the
//! operator decides (the error says which file and line). An incomplete last line, which a
//! crash in the middle of an append can leave, is cut off.

use logwire_wire::REPLAY_WINDOW;
use logwire_wire::{Epoch, KeyId, ReplayTracker, ReplayWindow, WindowState};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Name of the journal file inside the state directory.
pub(crate) const JOURNAL_FILE: &str = "records.replay";

/// Longest line (a `w` line is at most [`W_LINE`] bytes).
const MAX_LINE: usize = 4096;
/// The journal is compacted when it grows past this (or past twice its last compaction).
const COMPACT_AT: u64 = 4 << 20;
/// Bitmap words of a window.
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
/// Longest `w` line: `w`, key id (16 hex), epoch (32 hex), three u64s, the bitmap, spaces
/// and the newline.
const W_LINE: u64 = (2 + 16 + 1 + 32 + 3 * 21 + 1 + WORDS * 16 + 1) as u64;
/// Smallest size limit of a journal file (see [`max_file`]).
const MIN_MAX_FILE: u64 = 64 << 20;

/// Largest journal file loaded for `keys` keys of `epochs` windows each; a larger one is
/// refused rather than read. A compacted journal holds at most one `w` line per window, and
/// the next compaction comes at twice that (or at [`COMPACT_AT`]), so a healthy collector's
/// journal stays under half of this whatever its keys.
fn max_file(keys: usize, epochs: usize) -> u64 {
    let windows = (keys as u64).saturating_mul(epochs as u64);
    MIN_MAX_FILE.max(windows.saturating_mul(W_LINE).saturating_mul(4))
}

/// Why the journal could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading, writing or creating a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is not a journal this version wrote.
    #[error("{}:{line}: {why} (move the file away to start afresh; resent records may then be stored twice)", path.display())]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// The on-disk record of stored signed seqs. See the module docs.
#[derive(Debug)]
pub(crate) struct ReplayJournal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    compact_at: u64,
    /// Ranges noted since the last commit, in arrival order.
    pending: Vec<(KeyId, Epoch, u64, u64)>,
    line: String,
}

impl ReplayJournal {
    /// Opens (creating the directory with mode 0700 and the file with 0600 if needed) the
    /// journal in `dir`, and returns it with the windows it records, kept in a tracker of at
    /// most `max_epochs_per_key` epochs per key.
    ///
    /// Lines for keys that `keep` refuses (keys no longer configured) are skipped: their
    /// state cannot matter, and skipping them bounds what loading can hold to the key ring's
    /// size times the epochs kept per key.
    pub(crate) fn open(
        dir: impl Into<PathBuf>,
        max_epochs_per_key: usize,
        max_keys: usize,
        keep: impl Fn(&KeyId) -> bool,
    ) -> Result<(Self, ReplayTracker), JournalError> {
        let dir = dir.into();
        let path = dir.join(JOURNAL_FILE);
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| JournalError::Io { path: p, source }
        };
        logwire_wire::state_file::create_private_dir(&dir).map_err(io_err(&dir))?;
        let mut file = logwire_wire::state_file::private_file()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let size = file.metadata().map_err(io_err(&path))?.len();
        let max = max_file(max_keys, max_epochs_per_key);
        if size > max {
            return Err(JournalError::Corrupt {
                path,
                line: 0,
                why: format!(
                    "{size} bytes, more than the {max} a journal of {max_keys} keys may have"
                ),
            });
        }
        let mut tracker = ReplayTracker::new(max_epochs_per_key);
        let complete = load(&mut file, &path, &mut tracker, &keep)?;
        if complete < size {
            // A torn append: cut it off so the next append starts on a fresh line.
            file.set_len(complete).map_err(io_err(&path))?;
        }
        let journal = ReplayJournal {
            dir,
            path,
            file,
            len: complete,
            compact_at: COMPACT_AT,
            pending: Vec::new(),
            line: String::new(),
        };
        Ok((journal, tracker))
    }

    /// The journal file.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Notes that a signed record was handed to the handlers (written at the next
    /// [`commit`](Self::commit)).
    pub(crate) fn note(&mut self, key_id: KeyId, epoch: Epoch, seq: u64) {
        // Records of one stream arrive in seq order, so the range to extend is almost always
        // the last one of its (key, epoch).
        if let Some(r) = self
            .pending
            .iter_mut()
            .rev()
            .find(|(k, e, _, _)| *k == key_id && *e == epoch)
            && r.3.checked_add(1) == Some(seq)
        {
            r.3 = seq;
            return;
        }
        self.pending.push((key_id, epoch, seq, seq));
    }

    /// Forgets the ranges noted since the last commit: their records were handed to outputs
    /// that could not confirm them, so a resend must store them again.
    pub(crate) fn abandon(&mut self) {
        self.pending.clear();
    }

    /// Appends the noted ranges in one write, then compacts into `tracker`'s windows if the
    /// file has grown past its threshold. On error the ranges stay noted (retried at the next
    /// commit) and the caller must not acknowledge them.
    pub(crate) fn commit(&mut self, tracker: &ReplayTracker) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.line.clear();
        for (k, e, lo, hi) in &self.pending {
            let _ = writeln!(self.line, "r {k} {e} {lo} {hi}");
        }
        if let Err(source) = self.file.write_all(self.line.as_bytes()) {
            // A part written (a full disk) would leave half a line in the middle of the
            // file once the next commit appends: cut it off.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.pending.clear();
        self.len += self.line.len() as u64;
        if self.len > self.compact_at {
            self.compact(tracker)?;
        }
        Ok(())
    }

    /// Rewrites the journal as one `w` line per window of `tracker` (which must hold every
    /// range committed so far).
    pub(crate) fn compact(&mut self, tracker: &ReplayTracker) -> Result<(), JournalError> {
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| JournalError::Io { path: p, source }
        };
        let mut text = String::new();
        for (k, e, w) in tracker.windows() {
            let s = w.state();
            let _ = write!(
                text,
                "w {k} {e} {} {} {} ",
                s.highest, s.contiguous, s.missing
            );
            for word in &s.bits {
                let _ = write!(text, "{word:016x}");
            }
            text.push('\n');
        }
        logwire_wire::state_file::replace_atomically(&self.dir, JOURNAL_FILE, text.as_bytes())
            .map_err(|(path, source)| JournalError::Io { path, source })?;
        self.file = logwire_wire::state_file::private_file()
            .append(true)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        self.len = text.len() as u64;
        self.compact_at = COMPACT_AT.max(self.len.saturating_mul(2));
        Ok(())
    }
}

/// Replays the journal into `tracker`; returns the length of its complete lines.
fn load(
    file: &mut File,
    path: &Path,
    tracker: &mut ReplayTracker,
    keep: &dyn Fn(&KeyId) -> bool,
) -> Result<u64, JournalError> {
    file.rewind().map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut complete = 0u64;
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = Read::take(&mut reader, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            return Ok(complete);
        }
        line_no += 1;
        let corrupt = |why: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line: line_no,
            why,
        };
        if buf.last() != Some(&b'\n') {
            if n > MAX_LINE {
                return Err(corrupt(format!("a line longer than {MAX_LINE} bytes")));
            }
            // The torn tail of an append interrupted by a crash.
            return Ok(complete);
        }
        let text = std::str::from_utf8(&buf[..n - 1])
            .map_err(|_| corrupt("a line that is not UTF-8".into()))?;
        apply_line(text, tracker, keep).map_err(corrupt)?;
        complete += n as u64;
    }
}

fn apply_line(
    text: &str,
    tracker: &mut ReplayTracker,
    keep: &dyn Fn(&KeyId) -> bool,
) -> Result<(), String> {
    let mut fields = text.split(' ');
    let kind = fields.next().unwrap_or("");
    let key = fields
        .next()
        .and_then(KeyId::from_hex)
        .ok_or("a bad key id")?;
    let epoch = fields
        .next()
        .and_then(Epoch::from_hex)
        .ok_or("a bad epoch")?;
    let mut num = |what: &str| -> Result<u64, String> {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("a bad {what}"))
    };
    let kept = keep(&key);
    match kind {
        "r" if !kept => {
            num("range start")?;
            num("range end")?;
        }
        "r" => {
            let (lo, hi) = (num("range start")?, num("range end")?);
            if lo == 0 || lo > hi {
                return Err(format!("an empty or invalid range {lo}..={hi}"));
            }
            // The first mark opens the window where the live tracker opened it; marking
            // only the last REPLAY_WINDOW seqs of a long range judges every seq the same.
            tracker.mark(key, epoch, lo);
            for seq in lo.max(hi.saturating_sub(REPLAY_WINDOW - 1))..=hi {
                tracker.mark(key, epoch, seq);
            }
        }
        "w" => {
            let (highest, contiguous, missing) = (
                num("highest seq")?,
                num("contiguous seq")?,
                num("missing count")?,
            );
            let hex = fields.next().ok_or("no bitmap")?;
            if hex.len() != WORDS * 16 {
                return Err("a bitmap of the wrong size".into());
            }
            // Digits only (from_str_radix also takes a sign), and then every cut below is on
            // a character boundary.
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("a bitmap that is not hex".into());
            }
            let bits = hex
                .as_bytes()
                .chunks_exact(16)
                .map(|word| {
                    std::str::from_utf8(word)
                        .ok()
                        .and_then(|w| u64::from_str_radix(w, 16).ok())
                })
                .collect::<Option<Vec<u64>>>()
                .ok_or("a bitmap that is not hex")?;
            let state = WindowState {
                highest,
                contiguous,
                missing,
                bits,
            };
            let window = ReplayWindow::from_state(&state).ok_or("an inconsistent window")?;
            if kept {
                tracker.restore(key, epoch, window);
            }
        }
        _ => return Err(format!("an unknown line kind {kind:?}")),
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use logwire_wire::ReplayVerdict;
    use std::fs::{self, OpenOptions};

    const K: KeyId = KeyId([7; 8]);
    const E: Epoch = Epoch([9; 16]);

    fn open(dir: &Path) -> (ReplayJournal, ReplayTracker) {
        ReplayJournal::open(dir, 16, 4, |_| true).unwrap()
    }

    #[test]
    fn committed_seqs_are_duplicates_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut t) = open(dir.path());
        for seq in (100..=150).chain(155..=160) {
            t.mark(K, E, seq);
            j.note(K, E, seq);
        }
        j.commit(&t).unwrap();
        // Noted but never committed: must not count as stored after a crash.
        t.mark(K, E, 161);
        j.note(K, E, 161);
        drop(j);
        let (_, t2) = open(dir.path());
        assert_eq!(t2.check(K, E, 120), ReplayVerdict::Duplicate);
        assert_eq!(t2.check(K, E, 158), ReplayVerdict::Duplicate);
        assert_eq!(t2.check(K, E, 152), ReplayVerdict::New, "a gap stays open");
        assert_eq!(t2.check(K, E, 161), ReplayVerdict::New);
        assert_eq!(t2.check(K, E, 99), ReplayVerdict::TooOld);
        assert_eq!(t2.window(K, E).unwrap().contiguous(), 150);
    }

    #[test]
    fn compaction_keeps_every_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut t) = open(dir.path());
        for seq in (1..=5000).filter(|s| s % 7 != 0) {
            t.mark(K, E, seq);
            j.note(K, E, seq);
            if seq % 100 == 0 {
                j.commit(&t).unwrap();
            }
        }
        j.commit(&t).unwrap();
        j.compact(&t).unwrap();
        let text = fs::read_to_string(j.path()).unwrap();
        assert_eq!(text.lines().count(), 1, "one window, one line");
        drop(j);
        let (_, t2) = open(dir.path());
        for seq in [1, 700, 903, 904, 905, 4900, 4991, 4998, 5000, 5001, 9999] {
            assert_eq!(t2.check(K, E, seq), t.check(K, E, seq), "seq {seq}");
        }
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut t) = open(dir.path());
        t.mark(K, E, 1);
        j.note(K, E, 1);
        j.commit(&t).unwrap();
        let path = j.path().to_path_buf();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(format!("r {K} {E} 2 ").as_bytes()).unwrap();
        drop(f);
        let (mut j, mut t) = open(dir.path());
        assert_eq!(t.check(K, E, 2), ReplayVerdict::New);
        t.mark(K, E, 2);
        j.note(K, E, 2);
        j.commit(&t).unwrap();
        drop(j);
        let (_, t) = open(dir.path());
        assert_eq!(t.check(K, E, 2), ReplayVerdict::Duplicate);
    }

    #[test]
    fn malformed_lines_fail_closed_with_their_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let good = format!("r {K} {E} 1 5\n");
        for bad in [
            "x\n".to_string(),
            format!("r {K} {E} 5 1\n"),
            format!("r {K} {E} 0 1\n"),
            format!("r {K} nothex 1 2\n"),
            format!("r {K} {E} 1 2 3\n"),
            format!("w {K} {E} 5 6 0 00\n"),
            format!("r {K} {E} 1 {}\n", "9".repeat(MAX_LINE)),
        ] {
            fs::write(dir.path().join(JOURNAL_FILE), format!("{good}{bad}")).unwrap();
            match ReplayJournal::open(dir.path(), 16, 4, |_| true) {
                Err(JournalError::Corrupt { line: 2, .. }) => {}
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_huge_range_costs_one_window_of_work() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(JOURNAL_FILE),
            format!("r {K} {E} 1 {}\n", u64::MAX - 1),
        )
        .unwrap();
        let (_, t) = open(dir.path());
        assert_eq!(t.check(K, E, u64::MAX - 2), ReplayVerdict::Duplicate);
        assert_eq!(t.check(K, E, u64::MAX), ReplayVerdict::New);
    }

    #[test]
    fn keys_no_longer_configured_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut t) = open(dir.path());
        let gone = KeyId([8; 8]);
        for (k, seq) in [(K, 5), (gone, 6)] {
            t.mark(k, E, seq);
            j.note(k, E, seq);
        }
        j.commit(&t).unwrap();
        j.compact(&t).unwrap();
        t.mark(gone, E, 7);
        j.note(gone, E, 7);
        j.commit(&t).unwrap();
        drop(j);
        let (_, t) = ReplayJournal::open(dir.path(), 16, 4, |k| *k == K).unwrap();
        assert_eq!(t.check(K, E, 5), ReplayVerdict::Duplicate);
        assert_eq!(
            t.epochs_tracked(gone),
            0,
            "neither its w nor its r lines were loaded"
        );
    }

    /// A bitmap of the right length in bytes but with a non-ASCII character, or with a
    /// sign that `from_str_radix` would take, fails closed (it used to panic on the
    /// character: a cut inside it).
    #[test]
    fn a_bitmap_that_is_not_plain_hex_fails_closed() {
        let hex = "0".repeat(WORDS * 16);
        for bitmap in [
            // Across the end of the first 16-digit word.
            format!("{}é{}", &hex[..15], &hex[17..]),
            format!("+{}", &hex[1..]),
            format!("{}é", &hex[..hex.len() - 2]),
        ] {
            assert_eq!(bitmap.len(), WORDS * 16);
            let dir = tempfile::tempdir().unwrap();
            fs::write(
                dir.path().join(JOURNAL_FILE),
                format!("w {K} {E} 1 1 0 {bitmap}\n"),
            )
            .unwrap();
            match ReplayJournal::open(dir.path(), 16, 4, |_| true) {
                Err(JournalError::Corrupt { line: 1, why, .. }) => {
                    assert_eq!(why, "a bitmap that is not hex")
                }
                other => panic!("{bitmap:?}: {other:?}"),
            }
        }
    }

    /// Every `w` line fits [`W_LINE`], which sizes the file limit: a compacted journal of
    /// the most windows its keys may have, with the longest numbers, opens again.
    #[test]
    fn a_full_compacted_journal_fits_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, mut t) = open(dir.path());
        let keys = [K, KeyId([1; 8]), KeyId([2; 8]), KeyId([3; 8])];
        for (i, k) in keys.iter().enumerate() {
            for e in 0..16u8 {
                let epoch = Epoch([e; 16]);
                // Far apart: the window slides, `missing` counts up, numbers are long.
                for seq in [1, u64::MAX / 2, u64::MAX - 1 - i as u64] {
                    t.mark(*k, epoch, seq);
                    j.note(*k, epoch, seq);
                }
            }
        }
        j.commit(&t).unwrap();
        j.compact(&t).unwrap();
        let text = fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), keys.len() * 16);
        for line in text.lines() {
            assert!(
                (line.len() as u64) < W_LINE,
                "{} > {W_LINE}",
                line.len() + 1
            );
        }
        assert!(text.len() as u64 * 4 <= max_file(keys.len(), 16));
        drop(j);
        let (_, t) = open(dir.path());
        let first = Epoch([0; 16]);
        assert_eq!(t.check(K, first, u64::MAX - 1), ReplayVerdict::Duplicate);
        assert_eq!(t.check(K, first, u64::MAX - 5), ReplayVerdict::New);
        assert_eq!(
            t.check(keys[3], Epoch([15; 16]), u64::MAX - 4),
            ReplayVerdict::Duplicate
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any file content opens as a journal or fails with `Corrupt`: never a panic, never
        /// unbounded work (each line costs at most one window of marks).
        #[test]
        fn any_file_opens_or_fails_closed(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::string::string_regex("r [0-9a-f]{16} [0-9a-f]{32} [0-9]{1,20} [0-9]{1,20}").unwrap(),
                    proptest::string::string_regex("w [0-9a-f]{16} [0-9a-f]{32} [0-9]{1,5} [0-9]{1,5} [0-9]{1,3} [0-9a-f]{0,1030}").unwrap(),
                    // Bitmaps of about the right length, some of them not plain hex.
                    proptest::string::string_regex("w [0-9a-f]{16} [0-9a-f]{32} [0-9]{1,5} [0-9]{1,5} [0-9]{1,3} [0-9a-f]{1020,1024}[0-9a-f+é]{0,4}").unwrap(),
                    proptest::string::string_regex("w [0-9a-f]{16} [0-9a-f]{32} [0-9]{1,5} [0-9]{1,5} [0-9]{1,3} [0-9a-f+é ]{1022,1024}").unwrap(),
                    proptest::string::string_regex("[ -~]{0,80}").unwrap(),
                ],
                0..20,
            ),
            tail in "[ -~]{0,20}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>() + &tail;
            fs::write(dir.path().join(JOURNAL_FILE), text).unwrap();
            match ReplayJournal::open(dir.path(), 16, 4, |_| true) {
                Ok(_) | Err(JournalError::Corrupt { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}
