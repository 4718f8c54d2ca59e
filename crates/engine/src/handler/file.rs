//! `FileHandler` and `WatchedFileHandler`, and the file core the rotating handlers share.
//!
//! Each record reaches the OS when `emit` returns (one `write` per record, as CPython's
//! `FileHandler` flushes after every record), except on a [`QueueHandler`](super::QueueHandler)
//! worker, which lets file targets batch until the queue runs empty.
//!
//! ```
//! use logwire_engine::{FileHandler, FileOptions, Handler, LogRecord};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("app.log");
//! let h = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap());
//! h.handle(&LogRecord::new("app", 20, "x.rs", 1, "hello"));
//! h.close();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
//! ```

use super::confined::{FileLoc, FileRoot};
use super::util::{EncodeErrors, Encoding, abspath, batching, format_into};
use super::{Emitter, HandlerError};
use crate::format::Formatter;
use crate::record::LogRecord;
use std::cell::RefCell;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

thread_local! {
    /// The file handler whose lines this batching thread holds, if any. Lines from two
    /// handlers must reach the OS in the order they were emitted (two handlers may share a
    /// file, as CPython configs do with a MemoryHandler and a direct handler): before another
    /// handler starts batching on this thread, the previous one's batch is written out.
    static BATCH_OWNER: RefCell<Option<(Weak<Mutex<FileState>>, PathBuf)>> =
        const { RefCell::new(None) };
}

/// How a file handler opens its file (CPython's `mode=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileMode {
    /// `'a'`: append (the default).
    #[default]
    Append,
    /// `'w'`: truncate when opened.
    Write,
}

impl FileMode {
    /// Parses a Python `open()` mode; only text append and write modes are supported.
    pub fn parse(mode: &str) -> Result<Self, HandlerError> {
        match mode {
            "a" | "at" | "ta" => Ok(FileMode::Append),
            "w" | "wt" | "tw" => Ok(FileMode::Write),
            _ => Err(HandlerError::Invalid(format!(
                "unsupported file mode '{mode}': file handlers support 'a' and 'w'"
            ))),
        }
    }
}

/// How file handlers open paths. CPython follows symlinks; a config pushed over the network
/// should not, so the config layer can refuse them here, or confine every file operation
/// beneath a [`FileRoot`] (see `confined`'s docs: no symlink in any component, regular files
/// with one link only, no blocking open, at every open, rename and unlink).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOpenPolicy {
    /// Follow a symlink in the last path component (CPython's behaviour, the default). When
    /// `false` the file is opened with `O_NOFOLLOW` and a symlink makes the open fail
    /// (`ELOOP`). Directories above it are the caller's to check.
    pub follow_symlinks: bool,
    /// Permission bits for a newly created file (before the umask); CPython uses `0o666`.
    pub create_mode: u32,
    /// Confine every operation on the file beneath this root; the file name must then be
    /// relative to the root or absolute beneath its path.
    pub root: Option<Arc<FileRoot>>,
}

impl Default for FileOpenPolicy {
    fn default() -> Self {
        FileOpenPolicy {
            follow_symlinks: true,
            create_mode: 0o666,
            root: None,
        }
    }
}

impl FileOpenPolicy {
    /// Refuses symlinks in the last component (`O_NOFOLLOW`).
    pub fn no_follow() -> Self {
        FileOpenPolicy {
            follow_symlinks: false,
            ..Self::default()
        }
    }

    /// Confines files beneath `root` (which implies not following symlinks anywhere).
    pub fn beneath(root: Arc<FileRoot>) -> Self {
        FileOpenPolicy {
            follow_symlinks: false,
            root: Some(root),
            ..Self::default()
        }
    }
}

/// The constructor parameters every file handler shares: CPython's `mode`, `encoding`,
/// `delay` and `errors`, plus how the file is opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileOptions {
    /// `mode=` (`'a'` by default).
    pub mode: FileMode,
    /// `encoding=`; `None` is UTF-8.
    pub encoding: Option<Encoding>,
    /// `errors=`; `None` is `strict`.
    pub errors: Option<EncodeErrors>,
    /// `delay=`: open the file at the first record instead of now.
    pub delay: bool,
    /// Symlink handling and permissions.
    pub open_policy: FileOpenPolicy,
}

impl FileOptions {
    /// Builds the options from CPython's keyword arguments, as a config file gives them.
    pub fn from_python(
        mode: &str,
        encoding: Option<&str>,
        delay: bool,
        errors: Option<&str>,
    ) -> Result<Self, HandlerError> {
        Ok(FileOptions {
            mode: FileMode::parse(mode)?,
            encoding: encoding.map(Encoding::parse).transpose()?,
            errors: errors.map(EncodeErrors::parse).transpose()?,
            delay,
            open_policy: FileOpenPolicy::default(),
        })
    }

    /// Same options with `delay` set.
    pub fn delay(mut self, delay: bool) -> Self {
        self.delay = delay;
        self
    }

    /// Same options with `mode` set.
    pub fn mode(mut self, mode: FileMode) -> Self {
        self.mode = mode;
        self
    }

    /// Same options with the open policy set.
    pub fn open_policy(mut self, policy: FileOpenPolicy) -> Self {
        self.open_policy = policy;
        self
    }
}

/// Truncates `filename` as opening it in mode `'w'` would, under `policy` (confined beneath
/// its root when it has one: a hard link, FIFO or device is refused, never truncated). A file
/// that does not exist is left alone (a delayed handler creates it at its first record).
/// For configuration layers that defer mode `'w'`'s truncation until a config is committed.
pub fn truncate_for_write(filename: &Path, policy: &FileOpenPolicy) -> Result<(), HandlerError> {
    let loc = match &policy.root {
        Some(root) => FileLoc::beneath(Arc::clone(root), filename)?,
        None => FileLoc::plain(abspath(filename)?),
    };
    let dir = loc
        .dir()
        .map_err(|e| HandlerError::io(format!("cannot reach {}", loc.base.display()), e))?;
    if !dir.exists(&loc.base) {
        return Ok(());
    }
    match dir.open(&loc.base, true, policy.follow_symlinks, policy.create_mode) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HandlerError::io(
            format!("cannot truncate {}", loc.base.display()),
            e,
        )),
    }
}

/// Output kept in memory while a queue worker batches (flushed at this size).
const BATCH_LIMIT: usize = 64 * 1024;

/// The mutable part of a file handler, behind one lock.
pub(crate) struct FileState {
    pub(crate) file: Option<File>,
    /// CPython's `Handler._closed`: set by `close()`, keeps mode `'w'` from reopening.
    pub(crate) closed: bool,
    /// The formatted line, reused across records.
    pub(crate) line: String,
    /// The encoded line when the encoding is not UTF-8.
    bytes: Vec<u8>,
    /// Lines a batching queue worker wrote but the OS has not seen yet, encoded (a handler
    /// whose encoding is not UTF-8).
    pending: Vec<u8>,
    /// The same for a UTF-8 handler: lines are formatted straight into it (no copy through
    /// `line`). A handler's encoding is fixed, so only one of the two is ever used.
    pending_text: String,
    /// Next rollover time (TimedRotatingFileHandler).
    pub(crate) rollover_at: i64,
    /// Bytes of the lines handed to the file (written or batched), for
    /// [`Handler::stats`](super::Handler::stats): counted under this lock, no atomic.
    pub(crate) bytes_emitted: u64,
    /// Device and inode of the open file (WatchedFileHandler); -1 when unknown.
    pub(crate) dev: i128,
    pub(crate) ino: i128,
}

/// A file handler's path, options and state: CPython's `FileHandler` minus `emit`'s policy.
pub(crate) struct FileCore {
    pub(crate) base: PathBuf,
    /// Where the file is; every filesystem operation goes through it.
    pub(crate) loc: FileLoc,
    pub(crate) mode: FileMode,
    encoding: Encoding,
    errors: EncodeErrors,
    pub(crate) delay: bool,
    policy: FileOpenPolicy,
    pub(crate) terminator: String,
    state: Arc<Mutex<FileState>>,
}

impl FileCore {
    /// Resolves the path and opens the file unless `delay`.
    pub(crate) fn new(filename: &Path, options: &FileOptions) -> Result<Self, HandlerError> {
        let loc = match &options.open_policy.root {
            Some(root) => FileLoc::beneath(Arc::clone(root), filename)?,
            None => FileLoc::plain(abspath(filename)?),
        };
        let core = FileCore {
            base: loc.base.clone(),
            loc,
            mode: options.mode,
            encoding: options.encoding.unwrap_or_default(),
            errors: options.errors.unwrap_or_default(),
            delay: options.delay,
            policy: options.open_policy.clone(),
            terminator: "\n".to_owned(),
            state: Arc::new(Mutex::new(FileState {
                file: None,
                closed: false,
                line: String::new(),
                bytes: Vec::new(),
                pending: Vec::new(),
                pending_text: String::new(),
                rollover_at: 0,
                bytes_emitted: 0,
                dev: -1,
                ino: -1,
            })),
        };
        if !core.delay {
            let f = core.open()?;
            core.lock().file = Some(f);
        }
        Ok(core)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, FileState> {
        if batching() {
            self.claim_batch();
        }
        // A panic while writing leaves nothing half-updated that matters: keep logging.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes this handler the one batching on this thread, writing out the previous one's
    /// batch first (see `BATCH_OWNER`). Called before this handler's lock is taken, so no
    /// thread ever holds two handlers' locks.
    fn claim_batch(&self) {
        let previous = BATCH_OWNER.with(|owner| {
            let mut owner = owner.borrow_mut();
            // A live Weak keeps its allocation, so pointer equality is identity.
            if owner
                .as_ref()
                .is_some_and(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.state)))
            {
                return None;
            }
            owner.replace((Arc::downgrade(&self.state), self.base.clone()))
        });
        if let Some((weak, base)) = previous
            && let Some(state) = weak.upgrade()
        {
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = write_pending(&mut st, &base) {
                eprintln!("--- Logging error ---\n{e}");
            }
        }
    }

    /// CPython's `_open()`: the base file with the handler's mode.
    pub(crate) fn open(&self) -> Result<File, HandlerError> {
        let mut file = self
            .loc
            .open(
                self.mode == FileMode::Write,
                self.policy.follow_symlinks,
                self.policy.create_mode,
            )
            .map_err(|e| HandlerError::io(format!("cannot open {}", self.base.display()), e))?;
        if self.mode == FileMode::Append {
            // Python's append mode starts at the end, so tell() is the size (O_APPEND alone
            // leaves the offset at 0 until the first write). Devices may refuse: no matter.
            let _ = file.seek(SeekFrom::End(0));
        }
        Ok(file)
    }

    /// Formats `record` into `st.line` (with the terminator).
    pub(crate) fn format_line(
        &self,
        st: &mut FileState,
        record: &LogRecord,
        f: &Formatter,
    ) -> Result<(), HandlerError> {
        st.line.clear();
        format_into(f, record, &mut st.line)?;
        st.line.push_str(&self.terminator);
        Ok(())
    }

    /// Opens the file for `emit` if it is not open (delay, or reopen after close). Returns
    /// `Err(Closed)` in mode `'w'` after `close()`: CPython drops that record silently
    /// (bpo-42378); here the caller reports it.
    pub(crate) fn ensure_open(&self, st: &mut FileState) -> Result<(), HandlerError> {
        if st.file.is_none() {
            if self.mode == FileMode::Write && st.closed {
                return Err(HandlerError::Closed);
            }
            st.file = Some(self.open()?);
        }
        Ok(())
    }

    /// Writes `st.line` to the open file: one `write_all`, or into the batch on a worker.
    pub(crate) fn write_line(&self, st: &mut FileState) -> Result<(), HandlerError> {
        let FileState {
            file,
            line,
            bytes,
            pending,
            pending_text,
            bytes_emitted,
            ..
        } = st;
        let Some(file) = file.as_mut() else {
            return Err(HandlerError::Closed);
        };
        let res = if self.encoding == Encoding::Utf8 {
            *bytes_emitted += line.len() as u64;
            if batching() {
                pending_text.push_str(line);
                if pending_text.len() < BATCH_LIMIT {
                    return Ok(());
                }
                file.write_all(pending_text.as_bytes())
            } else if !pending_text.is_empty() {
                // Keep order with what a worker left in the batch.
                pending_text.push_str(line);
                file.write_all(pending_text.as_bytes())
            } else {
                file.write_all(line.as_bytes())
            }
        } else {
            self.encoding.encode(line, self.errors, bytes)?;
            *bytes_emitted += bytes.len() as u64;
            if batching() {
                pending.extend_from_slice(bytes);
                if pending.len() < BATCH_LIMIT {
                    return Ok(());
                }
                file.write_all(pending)
            } else if !pending.is_empty() {
                pending.extend_from_slice(bytes);
                file.write_all(pending)
            } else {
                file.write_all(bytes)
            }
        };
        pending.clear();
        pending_text.clear();
        res.map_err(|e| HandlerError::io(format!("cannot write {}", self.base.display()), e))
    }

    /// Writes out a worker's batch.
    pub(crate) fn flush_pending(&self, st: &mut FileState) -> Result<(), HandlerError> {
        write_pending(st, &self.base)
    }

    /// The stream position (`stream.tell()`), counting a worker's unwritten batch.
    pub(crate) fn tell(&self, st: &mut FileState) -> Result<u64, HandlerError> {
        let pending = (st.pending.len() + st.pending_text.len()) as u64;
        match st.file.as_mut() {
            Some(f) => f
                .stream_position()
                .map(|p| p + pending)
                .map_err(|e| HandlerError::io(format!("cannot tell {}", self.base.display()), e)),
            None => Ok(0),
        }
    }

    /// Closes the stream (flushing a batch first), without marking the handler closed.
    pub(crate) fn close_stream(&self, st: &mut FileState) -> Result<(), HandlerError> {
        let res = self.flush_pending(st);
        st.file = None;
        res
    }

    /// Bytes of the lines handed to the file so far.
    pub(crate) fn bytes_emitted(&self) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bytes_emitted
    }

    /// CPython's `flush()`: the OS already has every line unless a worker batched some.
    pub(crate) fn flush(&self) -> Result<(), HandlerError> {
        let mut st = self.lock();
        self.flush_pending(&mut st)
    }

    /// CPython's `close()`: flush, close the stream, mark closed. Idempotent.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        if let Err(e) = self.close_stream(&mut st) {
            eprintln!(
                "--- Logging error ---\nclosing {} failed: {e}",
                self.base.display()
            );
        }
        st.closed = true;
    }

    /// The plain `FileHandler.emit`.
    pub(crate) fn emit_plain(
        &self,
        st: &mut FileState,
        record: &LogRecord,
        formatter: &Formatter,
    ) -> Result<(), HandlerError> {
        self.ensure_open(st)?;
        if self.encoding == Encoding::Utf8 && batching() {
            // Straight into the batch: the line is not copied a second time.
            let start = st.pending_text.len();
            format_into(formatter, record, &mut st.pending_text)?;
            st.pending_text.push_str(&self.terminator);
            st.bytes_emitted += (st.pending_text.len() - start) as u64;
            if st.pending_text.len() < BATCH_LIMIT {
                return Ok(());
            }
            return self.flush_pending(st);
        }
        self.format_line(st, record, formatter)?;
        self.write_line(st)
    }
}

/// Writes out a batch held in `st` (the file at `base`).
fn write_pending(st: &mut FileState, base: &Path) -> Result<(), HandlerError> {
    if st.pending.is_empty() && st.pending_text.is_empty() {
        return Ok(());
    }
    let res = match st.file.as_mut() {
        Some(f) => f
            .write_all(&st.pending)
            .and_then(|()| f.write_all(st.pending_text.as_bytes())),
        None => Ok(()),
    };
    st.pending.clear();
    st.pending_text.clear();
    res.map_err(|e| HandlerError::io(format!("cannot write {}", base.display()), e))
}

/// CPython's `logging.FileHandler(filename, mode='a', encoding=None, delay=False, errors=None)`.
///
/// The path is made absolute when the handler is built (`os.path.abspath`). An emit after
/// `close()` reopens the file, except in mode `'w'` (where CPython drops the record silently
/// and logwire reports it as an error instead).
pub struct FileHandler {
    core: FileCore,
}

impl FileHandler {
    /// Opens `filename` (unless `options.delay`).
    pub fn new(filename: impl AsRef<Path>, options: FileOptions) -> Result<Self, HandlerError> {
        Ok(FileHandler {
            core: FileCore::new(filename.as_ref(), &options)?,
        })
    }

    /// Sets the terminator written after each record (`'\n'` by default).
    pub fn with_terminator(mut self, terminator: impl Into<String>) -> Self {
        self.core.terminator = terminator.into();
        self
    }

    /// The absolute path written to (CPython's `baseFilename`).
    pub fn base_filename(&self) -> &Path {
        &self.core.base
    }

    /// Whether the file is open now (`stream is not None`).
    pub fn is_open(&self) -> bool {
        self.core.lock().file.is_some()
    }
}

impl Emitter for FileHandler {
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.core.bytes_emitted())
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        self.core.emit_plain(&mut st, record, formatter)
    }
    fn flush(&self) -> Result<(), HandlerError> {
        self.core.flush()
    }
    fn close(&self) {
        self.core.close();
    }
    fn kind(&self) -> &'static str {
        "logging.FileHandler"
    }
}

/// CPython's `logging.handlers.WatchedFileHandler(filename, mode='a', encoding=None,
/// delay=False, errors=None)`: before each record, the path is stat'ed; if the file was
/// moved or deleted (device or inode changed, or missing) the handler reopens it, so
/// `logrotate`-style external rotation loses nothing.
pub struct WatchedFileHandler {
    core: FileCore,
}

#[cfg(unix)]
fn dev_ino(md: &std::fs::Metadata) -> (i128, i128) {
    use std::os::unix::fs::MetadataExt;
    (md.dev().into(), md.ino().into())
}

impl WatchedFileHandler {
    /// Opens `filename` (unless `options.delay`) and remembers its device and inode.
    pub fn new(filename: impl AsRef<Path>, options: FileOptions) -> Result<Self, HandlerError> {
        let h = WatchedFileHandler {
            core: FileCore::new(filename.as_ref(), &options)?,
        };
        {
            let mut st = h.core.lock();
            Self::stat_stream(&mut st)?;
        }
        Ok(h)
    }

    /// The absolute path written to.
    pub fn base_filename(&self) -> &Path {
        &self.core.base
    }

    fn stat_stream(st: &mut FileState) -> Result<(), HandlerError> {
        if let Some(f) = &st.file {
            let md = f
                .metadata()
                .map_err(|e| HandlerError::io("cannot fstat log file", e))?;
            (st.dev, st.ino) = dev_ino(&md);
        }
        Ok(())
    }

    /// CPython's `reopenIfNeeded`.
    fn reopen_if_needed(&self, st: &mut FileState) -> Result<(), HandlerError> {
        if st.file.is_none() {
            return Ok(());
        }
        let stat = self.core.loc.dir().and_then(|d| d.stat(&self.core.base));
        let reopen = match stat {
            Ok(f) => (i128::from(f.dev), i128::from(f.ino)) != (st.dev, st.ino),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(HandlerError::io(
                    format!("cannot stat {}", self.core.base.display()),
                    e,
                ));
            }
        };
        if reopen {
            self.core.close_stream(st)?;
            st.file = Some(self.core.open()?);
            Self::stat_stream(st)?;
        }
        Ok(())
    }
}

impl Emitter for WatchedFileHandler {
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.core.bytes_emitted())
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        self.reopen_if_needed(&mut st)?;
        if st.file.is_none() {
            self.core.ensure_open(&mut st)?;
            // CPython leaves dev/ino at -1 after a delayed open (one spurious reopen later).
            Self::stat_stream(&mut st)?;
        }
        self.core.format_line(&mut st, record, formatter)?;
        self.core.write_line(&mut st)
    }
    fn flush(&self) -> Result<(), HandlerError> {
        self.core.flush()
    }
    fn close(&self) {
        self.core.close();
    }
    fn kind(&self) -> &'static str {
        "logging.handlers.WatchedFileHandler"
    }
}
