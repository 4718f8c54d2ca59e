//! [`LogRecord`]: every attribute CPython's `LogRecord` has, plus typed extra fields.

use crate::level;
use crate::value::Value;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The `args` of a record: what `msg % args` is formatted with.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Args {
    /// No arguments (`None` or an empty tuple): `msg` is used as it is.
    #[default]
    None,
    /// Positional arguments: `msg % (a, b)`.
    Tuple(Vec<Value>),
    /// A mapping: `msg % {'k': v}` (CPython unwraps a 1-tuple holding a non-empty mapping).
    Mapping(Vec<(String, Value)>),
}

/// One logging event, with CPython's attribute names and meanings.
///
/// `message` and `asctime` are not stored: formatters derive them, as CPython's `Formatter`
/// does. Extra fields (CPython's `extra=`) live in [`LogRecord::extra`] and formatters can
/// reference them by name like any other attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// Logger name (`root` for the root logger).
    pub name: String,
    /// The message, or a `%`-format string when `args` is set.
    pub msg: String,
    /// Arguments merged into `msg` by [`LogRecord::get_message`].
    pub args: Args,
    /// The level's name.
    pub levelname: String,
    /// The level's number.
    pub levelno: i32,
    /// Full path of the source file.
    pub pathname: String,
    /// Base name of `pathname`.
    pub filename: String,
    /// `filename` without its extension.
    pub module: String,
    /// Formatted exception text, if any.
    pub exc_text: Option<String>,
    /// Stack text, if any (`Stack (most recent call last):` …).
    pub stack_info: Option<String>,
    /// Source line number.
    pub lineno: i64,
    /// Function name.
    pub func_name: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created: f64,
    /// Milliseconds part of `created`, whole milliseconds as a float (CPython 3.13 semantics).
    pub msecs: f64,
    /// Milliseconds since the logging system started.
    pub relative_created: f64,
    /// Thread identifier.
    pub thread: Option<u64>,
    /// Thread name.
    pub thread_name: Option<String>,
    /// Process name.
    pub process_name: Option<String>,
    /// Process id.
    pub process: Option<u32>,
    /// asyncio task name (CPython 3.12+); `None` outside a task.
    pub task_name: Option<String>,
    /// Extra fields, in insertion order; names never collide with the attributes above.
    pub extra: Vec<(String, Value)>,
}

/// The instant and wall-clock time the logging system started (CPython's `_startTime`).
fn start_time() -> &'static (Instant, f64) {
    static START: OnceLock<(Instant, f64)> = OnceLock::new();
    START.get_or_init(|| (Instant::now(), now_secs()))
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// CPython 3.13's `msecs` for a `created` time: whole milliseconds, as a float.
pub fn msecs_of(created: f64) -> f64 {
    let frac = created - created.floor();
    let ms = (frac * 1000.0).floor();
    if ms >= 1000.0 { 0.0 } else { ms }
}

impl LogRecord {
    /// A record as `Logger.makeRecord` builds one: time, thread and process filled in now.
    pub fn new(
        name: &str,
        levelno: i32,
        pathname: &str,
        lineno: i64,
        msg: impl Into<String>,
    ) -> Self {
        let created = now_secs();
        let (start_instant, start_wall) = *start_time();
        let _ = start_instant;
        let thread = std::thread::current();
        let filename = basename(pathname).to_owned();
        let module = module_of(&filename);
        LogRecord {
            name: name.to_owned(),
            msg: msg.into(),
            args: Args::None,
            levelname: level::level_name(levelno),
            levelno,
            pathname: pathname.to_owned(),
            filename,
            module,
            exc_text: None,
            stack_info: None,
            lineno,
            func_name: None,
            created,
            msecs: msecs_of(created),
            relative_created: (created - start_wall) * 1000.0,
            thread: Some(current_thread_id()),
            thread_name: Some(match thread.name() {
                Some("main") | None if is_main_thread() => "MainThread".to_owned(),
                Some(n) => n.to_owned(),
                None => format!("Thread-{}", current_thread_id()),
            }),
            process_name: Some("MainProcess".to_owned()),
            process: Some(std::process::id()),
            task_name: None,
            extra: Vec::new(),
        }
    }

    /// Turns this record into a fresh one from logger `name`, reusing its string buffers so
    /// that the hot path of [`crate::Logger`] allocates nothing once warm. Every attribute is
    /// reset exactly as [`LogRecord::new`] would set it.
    pub(crate) fn refill(
        &mut self,
        name: &str,
        levelno: i32,
        pathname: &'static str,
        lineno: i64,
        msg: String,
    ) {
        let created = now_secs();
        self.name.clear();
        self.name.push_str(name);
        self.msg = msg;
        self.args = Args::None;
        level::write_level_name(levelno, &mut self.levelname);
        self.levelno = levelno;
        if self.pathname != pathname {
            self.pathname.clear();
            self.pathname.push_str(pathname);
            self.filename.clear();
            self.filename.push_str(basename(pathname));
            self.module = module_of(&self.filename);
        }
        self.exc_text = None;
        self.stack_info = None;
        self.lineno = lineno;
        self.func_name = None;
        self.set_created(created);
        self.task_name = None;
        self.extra.clear();
        // thread, threadName, processName and process are per thread/process: a record reused
        // on the same thread already holds them.
    }

    /// Approximate bytes this record holds: its own size plus its text, what a queue bounded
    /// in bytes counts (the text dominates; values in `args`/`extra` count their text).
    pub fn approx_bytes(&self) -> usize {
        fn opt(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::len)
        }
        let args = match &self.args {
            Args::None => 0,
            Args::Tuple(v) => v.iter().map(Value::approx_bytes).sum(),
            Args::Mapping(m) => m.iter().map(|(k, v)| k.len() + v.approx_bytes()).sum(),
        };
        std::mem::size_of::<LogRecord>()
            + self.name.len()
            + self.msg.len()
            + self.levelname.len()
            + self.pathname.len()
            + self.filename.len()
            + self.module.len()
            + opt(&self.exc_text)
            + opt(&self.stack_info)
            + opt(&self.func_name)
            + opt(&self.thread_name)
            + opt(&self.process_name)
            + opt(&self.task_name)
            + args
            + self
                .extra
                .iter()
                .map(|(k, v)| k.len() + v.approx_bytes())
                .sum::<usize>()
    }

    /// CPython's `makeLogRecord({})`: every attribute at its default, time and ids filled in.
    pub fn empty() -> Self {
        LogRecord::new("", 0, "", 0, "")
    }

    /// Sets the creation time, keeping `msecs` and `relativeCreated` consistent with it.
    pub fn set_created(&mut self, created: f64) {
        self.created = created;
        self.msecs = msecs_of(created);
        self.relative_created = (created - start_time().1) * 1000.0;
    }

    /// `msg % args` as CPython's `getMessage` computes it. A record whose arguments do not
    /// fit its format string gives the error text instead of panicking.
    pub fn get_message(&self) -> String {
        match &self.args {
            Args::None => self.msg.clone(),
            args => crate::format::percent::format_message(&self.msg, args)
                .unwrap_or_else(|e| format!("{} (message formatting failed: {e})", self.msg)),
        }
    }

    /// An extra field by name.
    pub fn extra(&self, key: &str) -> Option<&Value> {
        self.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets (or replaces) an extra field.
    pub fn set_extra(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        match self.extra.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((key, value)),
        }
    }

    /// Sets an extra field that came from outside CPython's `extra=` rules (a `log`
    /// key-value, a `tracing` field): a name that would shadow a `LogRecord` attribute (CPython
    /// raises `KeyError` for those) is stored with a trailing `_` instead (`name` → `name_`).
    pub fn set_foreign_extra(&mut self, key: &str, value: Value) {
        if Attribute::of(key).is_some() {
            self.set_extra(format!("{key}_"), value);
        } else {
            self.set_extra(key, value);
        }
    }

    /// Any attribute by its CPython name (`levelname`, `funcName`, `msecs`, an extra field …)
    /// as a [`Value`]. `message` and `asctime` are not attributes here: formatters add them.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        let attribute = Attribute::of(key);
        if let Some(text) = attribute.and_then(|a| self.text_attribute(a)) {
            return Some(text.map_or(Value::None, |s| Value::Str(s.to_owned())));
        }
        Some(match attribute {
            Some(Attribute::Args) => match &self.args {
                Args::None => Value::None,
                Args::Tuple(v) => Value::Tuple(v.clone()),
                Args::Mapping(m) => Value::Dict(
                    m.iter()
                        .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                        .collect(),
                ),
            },
            Some(Attribute::Levelno) => Value::Int(self.levelno.into()),
            Some(Attribute::ExcInfo) => Value::None,
            Some(Attribute::Lineno) => Value::Int(self.lineno),
            Some(Attribute::Created) => Value::Float(self.created),
            Some(Attribute::Msecs) => Value::Float(self.msecs),
            Some(Attribute::RelativeCreated) => Value::Float(self.relative_created),
            Some(Attribute::Thread) => self.thread.map_or(Value::None, |t| {
                i64::try_from(t).map_or_else(|_| Value::BigInt(t.to_string()), Value::Int)
            }),
            Some(Attribute::Process) => self.process.map_or(Value::None, |p| Value::Int(p.into())),
            // The text attributes were answered above.
            Some(_) | None => return self.extra(key).cloned(),
        })
    }

    /// A text attribute, borrowed: `Some(Some(text))`, or `Some(None)` for an optional one
    /// that is not set (`None` in Python); `None` when `attribute` is not text (a number,
    /// `args`, `exc_info`) or is `message`/`asctime`, which only formatting sets.
    pub fn text_attribute(&self, attribute: Attribute) -> Option<Option<&str>> {
        Some(match attribute {
            Attribute::Name => Some(&self.name),
            Attribute::Msg => Some(&self.msg),
            Attribute::Levelname => Some(&self.levelname),
            Attribute::Pathname => Some(&self.pathname),
            Attribute::Filename => Some(&self.filename),
            Attribute::Module => Some(&self.module),
            Attribute::ExcText => self.exc_text.as_deref(),
            Attribute::StackInfo => self.stack_info.as_deref(),
            Attribute::FuncName => self.func_name.as_deref(),
            Attribute::ThreadName => self.thread_name.as_deref(),
            Attribute::ProcessName => self.process_name.as_deref(),
            Attribute::TaskName => self.task_name.as_deref(),
            _ => return None,
        })
    }
}

/// One of CPython's own `LogRecord` attributes, named as in [`STANDARD_ATTRIBUTES`] (in the
/// same order); any other name is an extra field. The one place a name is told from an
/// attribute: formatters, [`LogRecord::attribute`] and the receivers' record mapping use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attribute {
    /// `name`
    Name,
    /// `msg`
    Msg,
    /// `args`
    Args,
    /// `levelname`
    Levelname,
    /// `levelno`
    Levelno,
    /// `pathname`
    Pathname,
    /// `filename`
    Filename,
    /// `module`
    Module,
    /// `exc_info`
    ExcInfo,
    /// `exc_text`
    ExcText,
    /// `stack_info`
    StackInfo,
    /// `lineno`
    Lineno,
    /// `funcName`
    FuncName,
    /// `created`
    Created,
    /// `msecs`
    Msecs,
    /// `relativeCreated`
    RelativeCreated,
    /// `thread`
    Thread,
    /// `threadName`
    ThreadName,
    /// `processName`
    ProcessName,
    /// `process`
    Process,
    /// `taskName`
    TaskName,
    /// `message`
    Message,
    /// `asctime`
    Asctime,
}

impl Attribute {
    /// The attribute named `name`, or `None` for an extra field's name.
    pub fn of(name: &str) -> Option<Attribute> {
        Some(match name {
            "name" => Attribute::Name,
            "msg" => Attribute::Msg,
            "args" => Attribute::Args,
            "levelname" => Attribute::Levelname,
            "levelno" => Attribute::Levelno,
            "pathname" => Attribute::Pathname,
            "filename" => Attribute::Filename,
            "module" => Attribute::Module,
            "exc_info" => Attribute::ExcInfo,
            "exc_text" => Attribute::ExcText,
            "stack_info" => Attribute::StackInfo,
            "lineno" => Attribute::Lineno,
            "funcName" => Attribute::FuncName,
            "created" => Attribute::Created,
            "msecs" => Attribute::Msecs,
            "relativeCreated" => Attribute::RelativeCreated,
            "thread" => Attribute::Thread,
            "threadName" => Attribute::ThreadName,
            "processName" => Attribute::ProcessName,
            "process" => Attribute::Process,
            "taskName" => Attribute::TaskName,
            "message" => Attribute::Message,
            "asctime" => Attribute::Asctime,
            _ => return None,
        })
    }

    /// Its CPython name.
    pub fn name(self) -> &'static str {
        STANDARD_ATTRIBUTES[self as usize]
    }
}

/// The names of CPython's own `LogRecord` attributes (those an extra field may not shadow).
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "taskName",
    "message",
    "asctime",
];

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn module_of(filename: &str) -> String {
    match filename.rfind('.') {
        Some(i) => filename[..i].to_owned(),
        None => filename.to_owned(),
    }
}

/// A stable numeric id for the current thread (CPython's `threading.get_ident()` analogue).
pub fn current_thread_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// Whether the current thread is the process's main thread (named `MainThread`, as in CPython).
fn is_main_thread() -> bool {
    std::thread::current().name() == Some("main")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every standard name is one attribute, in the list's order (which `name` relies on),
    /// and nothing else is.
    #[test]
    fn attributes_and_their_names_agree() {
        for (i, name) in STANDARD_ATTRIBUTES.iter().enumerate() {
            let attr = Attribute::of(name).expect(name);
            assert_eq!(attr as usize, i, "{name}");
            assert_eq!(attr.name(), *name);
        }
        for other in ["", "Name", "request_id", "exc_info_", "remote_args"] {
            assert_eq!(Attribute::of(other), None, "{other}");
        }
    }
}
