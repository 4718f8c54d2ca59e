//! `RotatingFileHandler` (by size) and the `namer`/`rotator` hooks both rotating handlers
//! share (CPython's `BaseRotatingHandler`).

use super::confined::DirRef;
use super::file::{FileCore, FileMode, FileOptions, FileState};
use super::{Emitter, HandlerError};
use crate::format::Formatter;
use crate::record::LogRecord;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// CPython's `namer`: maps a default rotated file name to the one used.
pub type Namer = Arc<dyn Fn(&Path) -> PathBuf + Send + Sync>;
/// CPython's `rotator`: moves the current file (`source`) to its rotated name (`dest`).
pub type Rotator = Arc<dyn Fn(&Path, &Path) -> std::io::Result<()> + Send + Sync>;

/// The `namer`/`rotator` hooks (CPython's `BaseRotatingHandler`), both unset by default.
#[derive(Clone, Default)]
pub(crate) struct RotationHooks {
    pub(crate) namer: Option<Namer>,
    pub(crate) rotator: Option<Rotator>,
}

impl RotationHooks {
    /// `rotation_filename()`.
    pub(crate) fn name(&self, default: PathBuf) -> PathBuf {
        match &self.namer {
            Some(n) => n(&default),
            None => default,
        }
    }

    /// `rotate()`: the rotator, or a rename if the source exists (it may not, with delay).
    /// A rotator hook gets plain paths, so it is refused for a file confined beneath a root.
    pub(crate) fn rotate(
        &self,
        dir: &DirRef<'_>,
        source: &Path,
        dest: &Path,
    ) -> Result<(), HandlerError> {
        let res = match &self.rotator {
            Some(_) if matches!(dir, DirRef::Confined { .. }) => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "a rotator hook cannot move a file confined beneath a file root",
            )),
            Some(r) => r(source, dest),
            None if dir.exists(source) => dir.rename(source, dest),
            None => Ok(()),
        };
        res.map_err(|e| {
            HandlerError::io(
                format!("cannot rotate {} to {}", source.display(), dest.display()),
                e,
            )
        })
    }
}

/// `base` + `suffix`, on the raw OS string.
pub(crate) fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = OsString::from(base.as_os_str());
    s.push(suffix);
    PathBuf::from(s)
}

fn remove(dir: &DirRef<'_>, path: &Path) -> Result<(), HandlerError> {
    dir.remove(path)
        .map_err(|e| HandlerError::io(format!("cannot remove {}", path.display()), e))
}

/// The directory of a handler's file, for a rollover (see `confined`).
pub(crate) fn dir_of(core: &FileCore) -> Result<DirRef<'_>, HandlerError> {
    core.loc
        .dir()
        .map_err(|e| HandlerError::io(format!("cannot reach {}", core.base.display()), e))
}

/// CPython 3.13's `logging.handlers.RotatingFileHandler(filename, mode='a', maxBytes=0,
/// backupCount=0, encoding=None, delay=False, errors=None)`.
///
/// A record rolls the file over when `tell() + len(format(record) + "\n") >= maxBytes`
/// (the length counted in characters and `tell()` in bytes, exactly as CPython does), never
/// when the file is empty (gh-116263) and never for a file that is not regular (bpo-45401).
/// Rollover renames `base.N-1` → `base.N` … `base` → `base.1`; with `backupCount == 0` the
/// file is only reopened (in append mode), so it keeps growing. `maxBytes > 0` forces mode
/// `'a'`.
pub struct RotatingFileHandler {
    core: FileCore,
    max_bytes: u64,
    backup_count: u32,
    hooks: RotationHooks,
}

impl RotatingFileHandler {
    /// Builds the handler; `max_bytes == 0` never rolls over. (CPython's negative values
    /// behave as 0.)
    pub fn new(
        filename: impl AsRef<Path>,
        max_bytes: u64,
        backup_count: u32,
        mut options: FileOptions,
    ) -> Result<Self, HandlerError> {
        if max_bytes > 0 {
            options.mode = FileMode::Append;
        }
        Ok(RotatingFileHandler {
            core: FileCore::new(filename.as_ref(), &options)?,
            max_bytes,
            backup_count,
            hooks: RotationHooks::default(),
        })
    }

    /// Sets CPython's `namer` hook (applied to every rotated name).
    pub fn with_namer(mut self, namer: impl Fn(&Path) -> PathBuf + Send + Sync + 'static) -> Self {
        self.hooks.namer = Some(Arc::new(namer));
        self
    }

    /// Sets CPython's `rotator` hook (moves `base` to `base.1`).
    pub fn with_rotator(
        mut self,
        rotator: impl Fn(&Path, &Path) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.rotator = Some(Arc::new(rotator));
        self
    }

    /// The absolute path written to.
    pub fn base_filename(&self) -> &Path {
        &self.core.base
    }

    /// CPython's `shouldRollover(record)` (opens the file if delayed, as CPython does).
    pub fn should_rollover(
        &self,
        record: &LogRecord,
        formatter: &Formatter,
    ) -> Result<bool, HandlerError> {
        let mut st = self.core.lock();
        Ok(self.should_rollover_locked(&mut st, record, formatter)?.0)
    }

    /// Returns whether to roll over, and whether `st.line` now holds the formatted record
    /// (CPython formats twice; once is enough).
    fn should_rollover_locked(
        &self,
        st: &mut FileState,
        record: &LogRecord,
        formatter: &Formatter,
    ) -> Result<(bool, bool), HandlerError> {
        if st.file.is_none() {
            st.file = Some(self.core.open()?);
        }
        if self.max_bytes == 0 {
            return Ok((false, false));
        }
        let pos = self.core.tell(st)?;
        if pos == 0 {
            return Ok((false, false));
        }
        self.core.format_line(st, record, formatter)?;
        // CPython: len("%s\n" % msg) in characters, whatever the handler's terminator.
        let len = st
            .line
            .strip_suffix(self.core.terminator.as_str())
            .unwrap_or(&st.line);
        let chars = len.chars().count() as u64 + 1;
        if pos + chars >= self.max_bytes {
            let dir = dir_of(&self.core)?;
            return Ok((!dir.exists_not_regular(&self.core.base), true));
        }
        Ok((false, true))
    }

    /// CPython's `doRollover()`.
    pub fn do_rollover(&self) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        self.do_rollover_locked(&mut st)
    }

    fn do_rollover_locked(&self, st: &mut FileState) -> Result<(), HandlerError> {
        self.core.close_stream(st)?;
        let base = &self.core.base;
        if self.backup_count > 0 {
            // One directory handle for the whole rollover: every rename below happens in
            // the directory as it is now (see `confined`).
            let dir = dir_of(&self.core)?;
            for i in (1..self.backup_count).rev() {
                let sfn = self.hooks.name(with_suffix(base, &format!(".{i}")));
                let dfn = self.hooks.name(with_suffix(base, &format!(".{}", i + 1)));
                if dir.exists(&sfn) {
                    if dir.exists(&dfn) {
                        remove(&dir, &dfn)?;
                    }
                    dir.rename(&sfn, &dfn).map_err(|e| {
                        HandlerError::io(format!("cannot rename {}", sfn.display()), e)
                    })?;
                }
            }
            let dfn = self.hooks.name(with_suffix(base, ".1"));
            if dir.exists(&dfn) {
                remove(&dir, &dfn)?;
            }
            self.hooks.rotate(&dir, base, &dfn)?;
        }
        if !self.core.delay {
            st.file = Some(self.core.open()?);
        }
        Ok(())
    }
}

impl Emitter for RotatingFileHandler {
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.core.bytes_emitted())
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        let mut formatted = false;
        if self.max_bytes > 0 {
            let (roll, f) = self.should_rollover_locked(&mut st, record, formatter)?;
            formatted = f;
            if roll {
                self.do_rollover_locked(&mut st)?;
            }
        }
        self.core.ensure_open(&mut st)?;
        if !formatted {
            self.core.format_line(&mut st, record, formatter)?;
        }
        self.core.write_line(&mut st)
    }
    fn flush(&self) -> Result<(), HandlerError> {
        self.core.flush()
    }
    fn close(&self) {
        self.core.close();
    }
    fn kind(&self) -> &'static str {
        "logging.handlers.RotatingFileHandler"
    }
}

/// Builds a [`RotatingFileHandler`] by named settings; start with
/// [`RotatingFileHandler::builder`]. Defaults are CPython's: `maxBytes=0` (never rolls
/// over), `backupCount=0`, and [`FileOptions::default`] (append, UTF-8, opened now).
///
/// ```
/// use logwire_engine::{FileOptions, RotatingFileHandler, Formatter, Handler};
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = RotatingFileHandler::builder(dir.path().join("app.log"))
///     .max_bytes(1 << 20)
///     .backup_count(3)
///     .options(FileOptions::default().delay(true))
///     .build()
///     .unwrap();
/// let handler = Handler::new(file).with_formatter(Formatter::percent("%(message)s").unwrap());
/// # drop(handler);
/// ```
#[derive(Debug)]
#[must_use = "call `build` to get the handler"]
pub struct RotatingFileBuilder {
    filename: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    options: FileOptions,
}

impl RotatingFileBuilder {
    /// Rolls over before a record would take the file past `bytes` (0: never).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How many rolled-over files (`app.log.1` …) are kept.
    pub fn backup_count(mut self, count: u32) -> Self {
        self.backup_count = count;
        self
    }

    /// Mode, encoding, `delay` and open policy.
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens (or, with `delay`, prepares) the file.
    pub fn build(self) -> Result<RotatingFileHandler, HandlerError> {
        RotatingFileHandler::new(
            self.filename,
            self.max_bytes,
            self.backup_count,
            self.options,
        )
    }
}

impl RotatingFileHandler {
    /// A [`RotatingFileBuilder`] for `filename`.
    pub fn builder(filename: impl AsRef<Path>) -> RotatingFileBuilder {
        RotatingFileBuilder {
            filename: filename.as_ref().to_path_buf(),
            max_bytes: 0,
            backup_count: 0,
            options: FileOptions::default(),
        }
    }
}
