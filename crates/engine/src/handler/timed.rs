//! `TimedRotatingFileHandler`: CPython 3.13's time-based rotation, with an injectable clock
//! and time zone.

use super::confined::DirRef;
use super::file::{FileCore, FileOptions, FileState};
use super::rotating::{RotationHooks, dir_of, with_suffix};
use super::{Emitter, HandlerError};
use crate::format::Formatter;
use crate::record::LogRecord;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const MIDNIGHT: i64 = 24 * 60 * 60;

/// Where "now" comes from: whole seconds since the Unix epoch (`int(time.time())`).
pub trait RolloverClock: Send + Sync {
    /// The current time in whole seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRolloverClock;

impl RolloverClock for SystemRolloverClock {
    fn now(&self) -> i64 {
        crate::record::now_secs().floor() as i64
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: i64) -> Self {
        ManualClock {
            now: AtomicI64::new(now),
        }
    }
    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }
    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl RolloverClock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A rollover schedule (CPython's `when`, upper-cased).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `S`: seconds.
    Seconds,
    /// `M`: minutes.
    Minutes,
    /// `H`: hours.
    Hours,
    /// `D`: days (counted from the start time, not from midnight).
    Days,
    /// `MIDNIGHT`: at midnight, or at `atTime`.
    Midnight,
    /// `W0`–`W6`: weekly on that day (0 = Monday), at midnight or `atTime`.
    Weekday(u8),
}

impl When {
    /// Parses CPython's `when` (case-insensitive), with CPython's error messages.
    pub fn parse(when: &str) -> Result<Self, HandlerError> {
        let w = when.to_uppercase();
        Ok(match w.as_str() {
            "S" => When::Seconds,
            "M" => When::Minutes,
            "H" => When::Hours,
            "D" => When::Days,
            "MIDNIGHT" => When::Midnight,
            _ if w.starts_with('W') => {
                if w.chars().count() != 2 {
                    return Err(HandlerError::Invalid(format!(
                        "You must specify a day for weekly rollover from 0 to 6 (0 is Monday): {w}"
                    )));
                }
                match w.as_bytes()[1] {
                    d @ b'0'..=b'6' => When::Weekday(d - b'0'),
                    _ => {
                        return Err(HandlerError::Invalid(format!(
                            "Invalid day specified for weekly rollover: {w}"
                        )));
                    }
                }
            }
            _ => {
                return Err(HandlerError::Invalid(format!(
                    "Invalid rollover interval specified: {w}"
                )));
            }
        })
    }

    /// Seconds in one unit.
    fn unit(self) -> i64 {
        match self {
            When::Seconds => 1,
            When::Minutes => 60,
            When::Hours => 3600,
            When::Days | When::Midnight => MIDNIGHT,
            When::Weekday(_) => 7 * MIDNIGHT,
        }
    }

    /// The date pattern of rotated names: `d` is an ASCII digit, anything else is literal.
    fn pattern(self) -> &'static str {
        match self {
            When::Seconds => "dddd-dd-dd_dd-dd-dd",
            When::Minutes => "dddd-dd-dd_dd-dd",
            When::Hours => "dddd-dd-dd_dd",
            _ => "dddd-dd-dd",
        }
    }

    fn aligned(self) -> bool {
        matches!(self, When::Midnight | When::Weekday(_))
    }
}

/// The rotation parameters of a [`TimedRotatingFileHandler`] (CPython's `when`, `interval`,
/// `backupCount`, `utc`, `atTime`), plus the clock and local time zone it uses.
#[derive(Clone)]
pub struct TimedRotation {
    /// `when=` (`'h'` by default).
    pub when: String,
    /// `interval=`: units between rollovers (1 by default).
    pub interval: u32,
    /// `backupCount=`: rotated files kept (0 keeps all).
    pub backup_count: u32,
    /// `utc=`: name and schedule rollovers in UTC instead of local time.
    pub utc: bool,
    /// `atTime=`: time of day for `MIDNIGHT` and `W0`–`W6` (sub-seconds ignored).
    pub at_time: Option<jiff::civil::Time>,
    /// The clock (the system clock by default).
    pub clock: Arc<dyn RolloverClock>,
    /// The local time zone when `utc` is false (`TimeZone::system()` by default).
    pub time_zone: TimeZone,
}

impl Default for TimedRotation {
    fn default() -> Self {
        TimedRotation {
            when: "h".to_owned(),
            interval: 1,
            backup_count: 0,
            utc: false,
            at_time: None,
            clock: Arc::new(SystemRolloverClock),
            time_zone: TimeZone::system(),
        }
    }
}

impl TimedRotation {
    /// A rotation for `when`, other parameters at CPython's defaults.
    pub fn new(when: impl Into<String>) -> Self {
        TimedRotation {
            when: when.into(),
            ..Self::default()
        }
    }
}

/// Broken-down time: CPython's `time.localtime`/`gmtime` fields the handler reads.
struct Tm {
    hour: i64,
    minute: i64,
    second: i64,
    /// 0 = Monday.
    wday: i64,
    isdst: bool,
    text: [i64; 6],
}

/// CPython 3.13's `logging.handlers.TimedRotatingFileHandler(filename, when='h', interval=1,
/// backupCount=0, encoding=None, delay=False, utc=False, atTime=None, errors=None)`.
///
/// The current file is renamed to `base.<start of interval>` (`%Y-%m-%d_%H-%M-%S`,
/// `%Y-%m-%d_%H-%M`, `%Y-%m-%d_%H` or `%Y-%m-%d`), old files beyond `backupCount` (those whose
/// suffix is exactly such a date) are deleted, and the next rollover time is computed as
/// CPython's `computeRollover` does, DST adjustments included. The file is always opened in
/// append mode. When the rotated name exists already (another process rotated), no rollover
/// happens (3.13); unlike CPython, the handler then reopens the base file and schedules the
/// next rollover instead of retrying on every record.
pub struct TimedRotatingFileHandler {
    core: FileCore,
    when: When,
    interval: i64,
    backup_count: u32,
    utc: bool,
    at_time: Option<jiff::civil::Time>,
    clock: Arc<dyn RolloverClock>,
    tz: TimeZone,
    hooks: RotationHooks,
}

impl TimedRotatingFileHandler {
    /// Builds the handler; an invalid `when` fails with CPython's `ValueError` text.
    pub fn new(
        filename: impl AsRef<Path>,
        rotation: TimedRotation,
        mut options: FileOptions,
    ) -> Result<Self, HandlerError> {
        let when = When::parse(&rotation.when)?;
        options.mode = super::file::FileMode::Append;
        let core = FileCore::new(filename.as_ref(), &options)?;
        let h = TimedRotatingFileHandler {
            core,
            when,
            interval: when.unit() * i64::from(rotation.interval),
            backup_count: rotation.backup_count,
            utc: rotation.utc,
            at_time: rotation.at_time,
            clock: rotation.clock,
            tz: if rotation.utc {
                TimeZone::UTC
            } else {
                rotation.time_zone
            },
            hooks: RotationHooks::default(),
        };
        // CPython starts counting from the file's mtime when it exists.
        let mtime = dir_of(&h.core)
            .ok()
            .and_then(|d| d.stat(&h.core.base).ok())
            .and_then(|f| f.modified);
        let start = match mtime {
            Some(mtime) => match mtime.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_secs() as i64,
                Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
            },
            None => h.clock.now(),
        };
        let at = h.compute_rollover(start);
        h.core.lock().rollover_at = at;
        Ok(h)
    }

    /// Sets CPython's `namer` hook.
    pub fn with_namer(mut self, namer: impl Fn(&Path) -> PathBuf + Send + Sync + 'static) -> Self {
        self.hooks.namer = Some(Arc::new(namer));
        self
    }

    /// Sets CPython's `rotator` hook.
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

    /// The rollover interval in seconds.
    pub fn interval(&self) -> i64 {
        self.interval
    }

    /// When the next rollover is due (CPython's `rolloverAt`).
    pub fn rollover_at(&self) -> i64 {
        self.core.lock().rollover_at
    }

    fn tm(&self, t: i64) -> Tm {
        let ts = Timestamp::from_second(t).unwrap_or(Timestamp::UNIX_EPOCH);
        let info = self.tz.to_offset_info(ts);
        let dt = info.offset().to_datetime(ts);
        Tm {
            hour: dt.hour().into(),
            minute: dt.minute().into(),
            second: dt.second().into(),
            wday: dt.weekday().to_monday_zero_offset().into(),
            isdst: info.dst().is_dst(),
            text: [
                dt.year().into(),
                dt.month().into(),
                dt.day().into(),
                dt.hour().into(),
                dt.minute().into(),
                dt.second().into(),
            ],
        }
    }

    fn isdst(&self, t: i64) -> bool {
        !self.utc && self.tm(t).isdst
    }

    /// CPython 3.13's `computeRollover(currentTime)`.
    pub fn compute_rollover(&self, current: i64) -> i64 {
        let mut result = current + self.interval;
        if !self.when.aligned() {
            return result;
        }
        let t = self.tm(current);
        let rotate_ts = match self.at_time {
            None => MIDNIGHT,
            Some(at) => {
                (i64::from(at.hour()) * 60 + i64::from(at.minute())) * 60 + i64::from(at.second())
            }
        };
        let mut r = rotate_ts - ((t.hour * 60 + t.minute) * 60 + t.second);
        let mut current_day = t.wday;
        if r <= 0 {
            // The rotation time has passed today: it is tomorrow.
            r += MIDNIGHT;
            current_day = (current_day + 1) % 7;
        }
        result = current + r;
        if let When::Weekday(dow) = self.when {
            let dow = i64::from(dow);
            if current_day != dow {
                let days_to_wait = if current_day < dow {
                    dow - current_day
                } else {
                    6 - current_day + dow + 1
                };
                result += days_to_wait * MIDNIGHT;
            }
            result += self.interval - MIDNIGHT * 7;
        } else {
            result += self.interval - MIDNIGHT;
        }
        if !self.utc {
            let dst_now = t.isdst;
            if dst_now != self.isdst(result) {
                let addend = if !dst_now {
                    // DST starts before the rollover: an hour earlier, unless that hour is
                    // itself before the change.
                    if !self.isdst(result - 3600) { 0 } else { -3600 }
                } else {
                    3600
                };
                result += addend;
            }
        }
        result
    }

    fn suffix(&self, tm: &Tm) -> String {
        let [y, mo, d, h, mi, s] = tm.text;
        match self.when {
            When::Seconds => format!("{y:04}-{mo:02}-{d:02}_{h:02}-{mi:02}-{s:02}"),
            When::Minutes => format!("{y:04}-{mo:02}-{d:02}_{h:02}-{mi:02}"),
            When::Hours => format!("{y:04}-{mo:02}-{d:02}_{h:02}"),
            _ => format!("{y:04}-{mo:02}-{d:02}"),
        }
    }

    /// The name the current file gets when it rolls over with the clock at `current`
    /// (`baseFilename + "." + strftime(suffix, start of interval)`, DST-adjusted, namer
    /// applied).
    fn rollover_name(&self, rollover_at: i64, current: i64) -> PathBuf {
        let t = rollover_at - self.interval;
        let mut tm = self.tm(t);
        if !self.utc {
            let dst_now = self.isdst(current);
            if dst_now != tm.isdst {
                tm = self.tm(t + if dst_now { 3600 } else { -3600 });
            }
        }
        self.hooks.name(with_suffix(
            &self.core.base,
            &format!(".{}", self.suffix(&tm)),
        ))
    }

    /// CPython's `shouldRollover`, at the clock's time.
    fn should_rollover_locked(&self, st: &mut FileState) -> bool {
        let t = self.clock.now();
        if t >= st.rollover_at {
            // #89564: never rotate a device or FIFO; look again next interval.
            if dir_of(&self.core).is_ok_and(|d| d.exists_not_regular(&self.core.base)) {
                st.rollover_at = self.compute_rollover(t);
                return false;
            }
            return true;
        }
        false
    }

    /// CPython's `shouldRollover(record)`.
    pub fn should_rollover(&self) -> bool {
        let mut st = self.core.lock();
        self.should_rollover_locked(&mut st)
    }

    /// CPython's `doRollover()`.
    pub fn do_rollover(&self) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        self.do_rollover_locked(&mut st)
    }

    fn do_rollover_locked(&self, st: &mut FileState) -> Result<(), HandlerError> {
        let current = self.clock.now();
        let dfn = self.rollover_name(st.rollover_at, current);
        // One directory handle for the whole rollover (see `confined`): the rename and the
        // deletions happen in the file's directory as it is now, never through a symlink.
        let dir = dir_of(&self.core)?;
        if dir.exists(&dfn) {
            // Already rolled over (by another process): keep the file it left, and look
            // again next interval rather than at every record as CPython 3.13 does.
            st.rollover_at = self.compute_rollover(current);
            if st.file.is_some() {
                self.core.close_stream(st)?;
                st.file = Some(self.core.open()?);
            }
            return Ok(());
        }
        self.core.close_stream(st)?;
        self.hooks.rotate(&dir, &self.core.base, &dfn)?;
        if self.backup_count > 0 {
            for f in self.files_to_delete_in(&dir)? {
                dir.remove(&f)
                    .map_err(|e| HandlerError::io(format!("cannot remove {}", f.display()), e))?;
            }
        }
        if !self.core.delay {
            st.file = Some(self.core.open()?);
        }
        st.rollover_at = self.compute_rollover(current);
        Ok(())
    }

    /// CPython 3.13's `getFilesToDelete()`: rotated files of this handler beyond
    /// `backupCount`, oldest first. Without a namer, a file qualifies when its name is
    /// `basename + "." + <date>` exactly; with one, when some date inside its name maps
    /// through the namer back to it.
    pub fn files_to_delete(&self) -> Result<Vec<PathBuf>, HandlerError> {
        self.files_to_delete_in(&dir_of(&self.core)?)
    }

    /// [`Self::files_to_delete`] in the directory handle of a rollover: the names listed are
    /// those of the directory the deletions will act on.
    fn files_to_delete_in(&self, handle: &DirRef<'_>) -> Result<Vec<PathBuf>, HandlerError> {
        use std::os::unix::ffi::OsStrExt;
        let base = &self.core.base;
        let dir = base.parent().unwrap_or(Path::new("/"));
        let base_name = base.file_name().map(|n| n.as_bytes()).unwrap_or_default();
        let pattern = self.when.pattern().as_bytes();
        let entries = handle
            .names(base)
            .map_err(|e| HandlerError::io(format!("cannot list {}", dir.display()), e))?;
        let mut result = Vec::new();
        for entry in entries {
            let name = entry.as_bytes();
            let hit = match &self.hooks.namer {
                None => {
                    name.len() == base_name.len() + 1 + pattern.len()
                        && name.starts_with(base_name)
                        && name[base_name.len()] == b'.'
                        && matches_at(name, base_name.len() + 1, pattern)
                }
                Some(namer) => (0..name.len()).any(|i| {
                    matches_at(name, i, pattern) && {
                        let date = std::str::from_utf8(&name[i..i + pattern.len()]).unwrap_or("");
                        let dfn = namer(&with_suffix(base, &format!(".{date}")));
                        dfn.file_name().map(|n| n.as_bytes()) == Some(name)
                    }
                }),
            };
            if hit {
                result.push(dir.join(&entry));
            }
        }
        let keep = self.backup_count as usize;
        if result.len() < keep {
            return Ok(Vec::new());
        }
        result.sort();
        result.truncate(result.len() - keep);
        Ok(result)
    }
}

/// Whether `pattern` (`d` = ASCII digit) matches `s` at `i`, with no digit just before or
/// after (CPython's `(?<!\d)…(?!\d)`).
fn matches_at(s: &[u8], i: usize, pattern: &[u8]) -> bool {
    let end = i + pattern.len();
    if end > s.len() {
        return false;
    }
    let body = s[i..end].iter().zip(pattern).all(|(&c, &p)| {
        if p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        }
    });
    body && (i == 0 || !s[i - 1].is_ascii_digit()) && s.get(end).is_none_or(|c| !c.is_ascii_digit())
}

impl Emitter for TimedRotatingFileHandler {
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.core.bytes_emitted())
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let mut st = self.core.lock();
        if self.should_rollover_locked(&mut st) {
            self.do_rollover_locked(&mut st)?;
        }
        self.core.emit_plain(&mut st, record, formatter)
    }
    fn flush(&self) -> Result<(), HandlerError> {
        self.core.flush()
    }
    fn close(&self) {
        self.core.close();
    }
    fn kind(&self) -> &'static str {
        "logging.handlers.TimedRotatingFileHandler"
    }
}

/// Builds a [`TimedRotatingFileHandler`] by named settings; start with
/// [`TimedRotatingFileHandler::builder`]. Defaults are CPython's (`interval=1`,
/// `backupCount=0`, local time, no `atTime`) and [`FileOptions::default`].
///
/// ```
/// use logwire_engine::TimedRotatingFileHandler;
///
/// let dir = tempfile::tempdir().unwrap();
/// let daily = TimedRotatingFileHandler::builder(dir.path().join("app.log"), "midnight")
///     .backup_count(7)
///     .utc(true)
///     .build()
///     .unwrap();
/// assert_eq!(daily.interval(), 24 * 60 * 60);
///
/// // CPython's ValueError for an unknown `when`, as an error.
/// assert!(TimedRotatingFileHandler::builder(dir.path().join("x.log"), "fortnight").build().is_err());
/// ```
#[must_use = "call `build` to get the handler"]
pub struct TimedRotatingBuilder {
    filename: std::path::PathBuf,
    rotation: TimedRotation,
    options: FileOptions,
}

impl std::fmt::Debug for TimedRotatingBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedRotatingBuilder")
            .field("filename", &self.filename)
            .field("when", &self.rotation.when)
            .finish_non_exhaustive()
    }
}

impl TimedRotatingBuilder {
    /// Units of `when` between rollovers.
    pub fn interval(mut self, interval: u32) -> Self {
        self.rotation.interval = interval;
        self
    }

    /// Rotated files kept (0 keeps all).
    pub fn backup_count(mut self, count: u32) -> Self {
        self.rotation.backup_count = count;
        self
    }

    /// Schedule and name rollovers in UTC instead of local time.
    pub fn utc(mut self, utc: bool) -> Self {
        self.rotation.utc = utc;
        self
    }

    /// The time of day for `midnight` and `W0`–`W6`.
    pub fn at_time(mut self, at: jiff::civil::Time) -> Self {
        self.rotation.at_time = Some(at);
        self
    }

    /// The clock (tests use a [`ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn RolloverClock>) -> Self {
        self.rotation.clock = clock;
        self
    }

    /// The local time zone, instead of the system's.
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.rotation.time_zone = tz;
        self
    }

    /// Encoding, `delay` and open policy (the mode is always append).
    pub fn options(mut self, options: FileOptions) -> Self {
        self.options = options;
        self
    }

    /// Opens (or, with `delay`, prepares) the file; an unknown `when` is an error.
    pub fn build(self) -> Result<TimedRotatingFileHandler, HandlerError> {
        TimedRotatingFileHandler::new(self.filename, self.rotation, self.options)
    }
}

impl TimedRotatingFileHandler {
    /// A [`TimedRotatingBuilder`] for `filename`, rolling over by `when` (CPython's `'S'`,
    /// `'M'`, `'H'`, `'D'`, `'midnight'`, `'W0'`–`'W6'`).
    pub fn builder(filename: impl AsRef<Path>, when: impl Into<String>) -> TimedRotatingBuilder {
        TimedRotatingBuilder {
            filename: filename.as_ref().to_path_buf(),
            rotation: TimedRotation::new(when),
            options: FileOptions::default(),
        }
    }
}
