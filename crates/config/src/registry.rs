//! The handler registry: Python class names mapped to built-in constructors.
//!
//! Nothing is imported or evaluated: a class name is a key in this table, and a name that is
//! not in it is an error. A Rust program can [`HandlerRegistry::register`] its own kinds
//! under names of its choosing; the network handlers of `logwire-collector` register themselves
//! the same way.
//!
//! A kind works in two steps so that a whole configuration can be checked before anything
//! exists: [`HandlerKind::prepare`] validates the bound arguments against the content policy
//! without side effects and returns a [`HandlerPlan`]; [`HandlerPlan::build`] then opens files
//! or sockets.

use crate::error::{ConfigErrors, PlanError};
use crate::model::{ConfigValue, StdStream};
use crate::policy::{ContentPolicy, FileAccess};
use logwire_engine::{
    Emitter, FileHandler, FileMode, FileOpenPolicy, FileOptions, Handler, MemoryHandler,
    NullHandler, OverflowPolicy, QueueHandler, QueueOptions, RotatingFileHandler, StreamHandler,
    TimedRotatingFileHandler, TimedRotation, WatchedFileHandler, level,
};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// One constructor parameter, in CPython's order (fileConfig passes `args` positionally).
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// The Python parameter name.
    pub name: &'static str,
    /// Whether it has no default.
    pub required: bool,
}

impl Param {
    /// A parameter without a default.
    pub const fn required(name: &'static str) -> Param {
        Param {
            name,
            required: true,
        }
    }

    /// A parameter with a default.
    pub const fn optional(name: &'static str) -> Param {
        Param {
            name,
            required: false,
        }
    }
}

const fn req(name: &'static str) -> Param {
    Param::required(name)
}
const fn opt(name: &'static str) -> Param {
    Param::optional(name)
}

/// Constructor arguments bound to parameter names, with typed getters that report errors
/// at the argument's place.
#[derive(Debug)]
pub struct BoundArgs {
    place: String,
    values: Vec<(&'static str, ConfigValue)>,
    /// Accepted values whose meaning may surprise (see [`BoundArgs::warnings`]).
    warnings: std::cell::RefCell<Vec<crate::error::ConfigError>>,
}

impl BoundArgs {
    /// The place of argument `name` (`handlers.h1.filename`).
    pub fn place_of(&self, name: &str) -> String {
        format!("{}.{name}", self.place)
    }

    /// The raw value; `None` when absent or Python `None`.
    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| **v != ConfigValue::None)
    }

    /// Records a warning at argument `name`: the value is accepted, but its Python meaning
    /// may not be what the author meant (`logwire check` prints it).
    pub fn warn(&self, name: &str, message: impl Into<String>) {
        self.warnings
            .borrow_mut()
            .push(crate::error::ConfigError::new(self.place_of(name), message));
    }

    /// The warnings recorded so far.
    pub fn warnings(&self) -> Vec<crate::error::ConfigError> {
        self.warnings.borrow().clone()
    }

    fn wrong(&self, name: &str, want: &str, got: &ConfigValue, errs: &mut ConfigErrors) {
        errs.push(
            self.place_of(name),
            format!("expected {want}, found {}", got.type_name()),
        );
    }

    /// A string argument.
    pub fn str(&self, name: &str, errs: &mut ConfigErrors) -> Option<String> {
        match self.get(name)? {
            ConfigValue::Str(s) => Some(s.clone()),
            other => {
                self.wrong(name, "a string", other, errs);
                None
            }
        }
    }

    /// An integer argument (bounded to `min..=max`).
    pub fn int(&self, name: &str, min: i64, max: i64, errs: &mut ConfigErrors) -> Option<i64> {
        match self.get(name)? {
            ConfigValue::Int(i) if (min..=max).contains(i) => Some(*i),
            ConfigValue::Int(i) => {
                errs.push(
                    self.place_of(name),
                    format!("{i} is out of range ({min} to {max})"),
                );
                None
            }
            ConfigValue::BigInt(s) => {
                errs.push(
                    self.place_of(name),
                    format!("{s} is out of range ({min} to {max})"),
                );
                None
            }
            other => {
                self.wrong(name, "an integer", other, errs);
                None
            }
        }
    }

    /// `backupCount`: an integer, or a string of one. CPython stores a string as it is
    /// (configs from environment variables have them) and only compares it at rollover,
    /// where `'31' > 0` raises TypeError on every rollover; logwire reads the number the
    /// author meant, and warns that CPython would fail.
    pub fn backup_count(&self, max: i64, errs: &mut ConfigErrors) -> Option<i64> {
        const NAME: &str = "backupCount";
        if let Some(ConfigValue::Str(s)) = self.get(NAME)
            && let Ok(n) = s.trim().parse::<i64>()
        {
            if n > max {
                errs.push(
                    self.place_of(NAME),
                    format!("{n} is out of range ({} to {max})", i64::MIN),
                );
                return None;
            }
            self.warn(
                NAME,
                format!(
                    "'{s}' is a string: logwire reads it as {n}, but CPython keeps the string \
                     and fails at every rollover ('>' not supported between 'str' and 'int'); \
                     write {n}"
                ),
            );
            return Some(n);
        }
        self.int(NAME, i64::MIN, max, errs)
    }

    /// A number argument (integers accepted: Python's `retryStart = 2` is fine).
    pub fn float(&self, name: &str, errs: &mut ConfigErrors) -> Option<f64> {
        match self.get(name)? {
            ConfigValue::Float(f) => Some(*f),
            ConfigValue::Int(i) => Some(*i as f64),
            other => {
                self.wrong(name, "a number", other, errs);
                None
            }
        }
    }

    /// A boolean argument, read by its Python truth as CPython's handlers read theirs
    /// (`if self.delay:`): `"True"` and `"False"` are both true. A string that reads as false
    /// to a person gets a warning.
    pub fn bool(&self, name: &str, _errs: &mut ConfigErrors) -> Option<bool> {
        let v = self.get(name)?;
        if let ConfigValue::Str(s) = v
            && crate::dict::looks_false(s)
        {
            self.warn(
                name,
                format!(
                    "'{s}' is a non-empty string, so Python (and logwire) read it as true; \
                     write False to mean false"
                ),
            );
        }
        Some(config_truth(v))
    }

    /// A level argument: a number or a registered level name.
    pub fn level(&self, name: &str, errs: &mut ConfigErrors) -> Option<i32> {
        match self.get(name)? {
            ConfigValue::Int(i) => i32::try_from(*i).ok().or_else(|| {
                errs.push(self.place_of(name), format!("level {i} is out of range"));
                None
            }),
            ConfigValue::Str(s) => crate::dict::parse_level_name(s, &self.place_of(name), errs),
            other => {
                self.wrong(name, "a level name or number", other, errs);
                None
            }
        }
    }

    /// A list of handler ids.
    pub fn ids(&self, name: &str, errs: &mut ConfigErrors) -> Vec<String> {
        match self.get(name) {
            None => Vec::new(),
            Some(ConfigValue::List(items) | ConfigValue::Tuple(items)) => items
                .iter()
                .filter_map(|v| match v {
                    ConfigValue::Str(s) => Some(s.clone()),
                    other => {
                        self.wrong(name, "handler ids", other, errs);
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.wrong(name, "a list of handler ids", other, errs);
                Vec::new()
            }
        }
    }
}

/// Python's truth of a configuration value.
fn config_truth(v: &ConfigValue) -> bool {
    match v {
        ConfigValue::None => false,
        ConfigValue::Bool(b) => *b,
        ConfigValue::Int(i) => *i != 0,
        ConfigValue::BigInt(_) | ConfigValue::Stream(_) => true,
        ConfigValue::Float(f) => *f != 0.0,
        ConfigValue::Str(s) => !s.is_empty(),
        ConfigValue::Bytes(b) => !b.is_empty(),
        ConfigValue::List(l) | ConfigValue::Tuple(l) => !l.is_empty(),
        ConfigValue::Map(m) => !m.is_empty(),
    }
}

/// Binds positional and keyword arguments to `params` as a Python call would, reporting
/// what Python's `TypeError` would report.
pub fn bind(
    params: &[Param],
    args: &[ConfigValue],
    kwargs: &[(String, ConfigValue)],
    place: &str,
    errs: &mut ConfigErrors,
) -> BoundArgs {
    let mut values: Vec<(&'static str, ConfigValue)> = Vec::new();
    if args.len() > params.len() {
        errs.push(
            format!("{place}.args"),
            format!(
                "takes at most {} positional arguments but {} were given",
                params.len(),
                args.len()
            ),
        );
    }
    for (p, v) in params.iter().zip(args) {
        values.push((p.name, v.clone()));
    }
    for (k, v) in kwargs {
        match params.iter().find(|p| p.name == k) {
            None => errs.push(
                format!("{place}.{k}"),
                format!("unexpected keyword argument '{k}'"),
            ),
            Some(p) if values.iter().any(|(n, _)| *n == p.name) => errs.push(
                format!("{place}.{k}"),
                format!("got multiple values for argument '{k}'"),
            ),
            Some(p) => values.push((p.name, v.clone())),
        }
    }
    for p in params.iter().filter(|p| p.required) {
        if !values.iter().any(|(n, _)| *n == p.name) {
            errs.push(format!("{place}.{}", p.name), "missing required argument");
        }
    }
    BoundArgs {
        place: place.to_owned(),
        values,
        warnings: Default::default(),
    }
}

/// What a kind may consult while preparing: the content policy.
#[derive(Debug)]
pub struct PrepareContext<'a> {
    /// The policy the configuration is checked against.
    pub policy: &'a ContentPolicy,
}

impl PrepareContext<'_> {
    /// A file argument resolved under the policy (errors reported at `args.place_of(name)`).
    pub fn file(&self, args: &BoundArgs, name: &str, errs: &mut ConfigErrors) -> Option<PathBuf> {
        let raw = args.str(name, errs)?;
        match self.policy.resolve_file(&raw) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(args.place_of(name), e.to_string());
                None
            }
        }
    }

    /// How files are opened under the policy.
    pub fn open_policy(&self) -> FileOpenPolicy {
        match &self.policy.files {
            FileAccess::Beneath(root) => FileOpenPolicy::beneath(Arc::clone(root)),
            _ if self.policy.no_follow() => FileOpenPolicy::no_follow(),
            _ => FileOpenPolicy::default(),
        }
    }
}

/// Where the standard streams go (tests capture them).
pub trait StreamFactory: Send + Sync {
    /// A writer for `stream`.
    fn open(&self, stream: StdStream) -> Box<dyn Write + Send>;
}

/// The process's real stdout and stderr.
#[derive(Debug, Default)]
pub struct ProcessStreams;

impl StreamFactory for ProcessStreams {
    fn open(&self, stream: StdStream) -> Box<dyn Write + Send> {
        match stream {
            StdStream::Stdout => Box::new(std::io::stdout()),
            StdStream::Stderr => Box::new(std::io::stderr()),
        }
    }
}

/// What a plan may use while building: handlers built before it, and the streams.
pub struct BuildContext<'a> {
    /// Handlers built so far, by id.
    pub handlers: &'a HashMap<String, Arc<Handler>>,
    /// The standard streams.
    pub streams: &'a dyn StreamFactory,
}

/// A validated handler, ready to build.
pub trait HandlerPlan: Send + Sync {
    /// Ids of handlers this one sends to (built first; cycles are an error).
    fn handler_refs(&self) -> Vec<String> {
        Vec::new()
    }
    /// Files this handler will write, for reporting.
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Creates the emitter (opens files, prepares sockets). Must not destroy anything: a
    /// later handler of the same configuration may still fail.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError>;
    /// Called once every handler of the configuration was built, just before the swap: the
    /// place for destructive steps such as truncating a mode `'w'` file.
    fn commit(&self) -> Result<(), PlanError> {
        Ok(())
    }
}

/// A handler class: its parameters and how to check them.
pub trait HandlerKind: Send + Sync {
    /// Constructor parameters in CPython's order.
    fn params(&self) -> &'static [Param];
    /// Validates the bound arguments (no side effects) into a plan, or reports errors.
    fn prepare(
        &self,
        args: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>>;
}

/// Maps Python class names to handler kinds.
#[derive(Clone)]
pub struct HandlerRegistry {
    kinds: HashMap<String, Arc<dyn HandlerKind>>,
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.kinds.keys().collect();
        names.sort();
        f.debug_struct("HandlerRegistry")
            .field("kinds", &names)
            .finish()
    }
}

impl Default for HandlerRegistry {
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl HandlerRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        HandlerRegistry {
            kinds: HashMap::new(),
        }
    }

    /// The engine's handlers under their CPython names.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        r.register("logging.StreamHandler", StreamKind);
        r.register("logging.FileHandler", FileKind::Plain);
        r.register("logging.NullHandler", NullKind);
        r.register("logging.handlers.WatchedFileHandler", FileKind::Watched);
        r.register("logging.handlers.RotatingFileHandler", RotatingKind);
        r.register("logging.handlers.TimedRotatingFileHandler", TimedKind);
        r.register("logging.handlers.MemoryHandler", MemoryKind);
        r.register("logging.handlers.QueueHandler", QueueKind);
        r
    }

    /// Registers (or replaces) a kind under a full dotted name, e.g. `myapp.AuditHandler`.
    pub fn register(&mut self, name: &str, kind: impl HandlerKind + 'static) {
        self.kinds.insert(name.to_owned(), Arc::new(kind));
    }

    /// Looks a class name up. `dict` selects dictConfig's rules (full dotted names only);
    /// fileConfig also accepts the names its `eval` namespace gives (`StreamHandler`,
    /// `handlers.RotatingFileHandler`).
    pub fn lookup(&self, class: &str, dict: bool) -> Option<(String, Arc<dyn HandlerKind>)> {
        if let Some(k) = self.kinds.get(class) {
            return Some((class.to_owned(), Arc::clone(k)));
        }
        if dict {
            return None;
        }
        let full = format!("logging.{class}");
        self.kinds.get(&full).map(|k| (full, Arc::clone(k)))
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

// ---- built-in kinds ------------------------------------------------------------------------

fn built(
    e: Result<impl Emitter + 'static, logwire_engine::HandlerError>,
) -> Result<Box<dyn Emitter>, PlanError> {
    Ok(Box::new(e?))
}

struct StreamKind;
struct StreamPlan(StdStream);

impl HandlerKind for StreamKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[opt("stream")];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        _: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let _ = errs;
        let s = match a.get("stream") {
            None => StdStream::Stderr,
            Some(ConfigValue::Stream(s)) => *s,
            Some(other) => {
                // CPython stores any object and fails at the first write ('str' object has
                // no attribute 'write'), reporting every record by handleError: the same
                // here, with a warning (Sanic's early default config had "sys.stdout").
                let py_type = python_type(other);
                a.warn(
                    "stream",
                    format!(
                        "{} is not a stream: CPython accepts it and fails on every record \
                         ('{py_type}' object has no attribute 'write'); write \
                         \"ext://sys.stdout\" or \"ext://sys.stderr\"",
                        other.type_name()
                    ),
                );
                return Some(Box::new(NotAStreamPlan(py_type)));
            }
        };
        Some(Box::new(StreamPlan(s)))
    }
}

impl HandlerPlan for StreamPlan {
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        Ok(Box::new(StreamHandler::new(ctx.streams.open(self.0))))
    }
}

/// A StreamHandler whose `stream` is not a stream: every record fails, as in CPython.
struct NotAStreamPlan(&'static str);

impl HandlerPlan for NotAStreamPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        Ok(Box::new(NotAStream(self.0)))
    }
}

struct NotAStream(&'static str);

impl Emitter for NotAStream {
    fn emit(
        &self,
        _: &logwire_engine::LogRecord,
        _: &logwire_engine::Formatter,
    ) -> Result<(), logwire_engine::HandlerError> {
        Err(logwire_engine::HandlerError::Invalid(format!(
            "'{}' object has no attribute 'write'",
            self.0
        )))
    }
    fn kind(&self) -> &'static str {
        "logging.StreamHandler"
    }
}

/// Python's type name of a configuration value.
fn python_type(v: &ConfigValue) -> &'static str {
    match v {
        ConfigValue::None => "NoneType",
        ConfigValue::Bool(_) => "bool",
        ConfigValue::Int(_) | ConfigValue::BigInt(_) => "int",
        ConfigValue::Float(_) => "float",
        ConfigValue::Str(_) => "str",
        ConfigValue::Bytes(_) => "bytes",
        ConfigValue::List(_) => "list",
        ConfigValue::Tuple(_) => "tuple",
        ConfigValue::Map(_) => "dict",
        ConfigValue::Stream(_) => "TextIOWrapper",
    }
}

struct NullKind;
struct NullPlan;

impl HandlerKind for NullKind {
    fn params(&self) -> &'static [Param] {
        // Handler.__init__(level=NOTSET): fileConfig configs pass it (`args=(0,)`). A
        // NullHandler writes nothing at any level, so it is only checked.
        const P: &[Param] = &[opt("level")];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        _: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let _ = a.level("level", errs);
        Some(Box::new(NullPlan))
    }
}

impl HandlerPlan for NullPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        Ok(Box::new(NullHandler))
    }
}

/// The file arguments every file handler shares.
fn file_options(
    a: &BoundArgs,
    ctx: &PrepareContext<'_>,
    errs: &mut ConfigErrors,
) -> Option<FileOptions> {
    file_options_with_mode(a, ctx, true, errs)
}

/// [`file_options`]; `read_mode: false` when the class replaces `mode` by `'a'` unread.
fn file_options_with_mode(
    a: &BoundArgs,
    ctx: &PrepareContext<'_>,
    read_mode: bool,
    errs: &mut ConfigErrors,
) -> Option<FileOptions> {
    let mode = if read_mode { a.str("mode", errs) } else { None };
    let mode = mode.unwrap_or_else(|| "a".into());
    let encoding = a.str("encoding", errs);
    let delay = a.bool("delay", errs).unwrap_or(false);
    let errors = a.str("errors", errs);
    match FileOptions::from_python(&mode, encoding.as_deref(), delay, errors.as_deref()) {
        Ok(o) => Some(o.open_policy(ctx.open_policy())),
        Err(e) => {
            errs.push(a.place.clone(), e.to_string());
            None
        }
    }
}

enum FileKind {
    Plain,
    Watched,
}
struct FilePlan {
    watched: bool,
    path: PathBuf,
    options: FileOptions,
}

impl HandlerKind for FileKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("filename"),
            opt("mode"),
            opt("encoding"),
            opt("delay"),
            opt("errors"),
        ];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let path = ctx.file(a, "filename", errs);
        let options = file_options(a, ctx, errs);
        Some(Box::new(FilePlan {
            watched: matches!(self, FileKind::Watched),
            path: path?,
            options: options?,
        }))
    }
}

impl HandlerPlan for FilePlan {
    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        // Mode 'w' truncates; that waits for `commit`, so a configuration that fails later
        // leaves the file as it was. O_APPEND writes land at the (new) end after truncation.
        let options = non_truncating(&self.options);
        if self.watched {
            built(WatchedFileHandler::new(&self.path, options))
        } else {
            built(FileHandler::new(&self.path, options))
        }
    }
    fn commit(&self) -> Result<(), PlanError> {
        truncate_if_write_mode(&self.path, &self.options)
    }
}

/// The options with mode `'w'` replaced by `'a'` (the truncation happens at commit).
fn non_truncating(options: &FileOptions) -> FileOptions {
    let mut o = options.clone();
    if o.mode == FileMode::Write {
        o.mode = FileMode::Append;
    }
    o
}

/// Truncates `path` if the handler was configured with mode `'w'`, without following a
/// symlink when the policy says so.
fn truncate_if_write_mode(path: &std::path::Path, options: &FileOptions) -> Result<(), PlanError> {
    if options.mode != FileMode::Write {
        return Ok(());
    }
    Ok(logwire_engine::truncate_for_write(
        path,
        &options.open_policy,
    )?)
}

struct RotatingKind;
struct RotatingPlan {
    path: PathBuf,
    max_bytes: u64,
    backup_count: u32,
    options: FileOptions,
}

impl HandlerKind for RotatingKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("filename"),
            opt("mode"),
            opt("maxBytes"),
            opt("backupCount"),
            opt("encoding"),
            opt("delay"),
            opt("errors"),
        ];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let path = ctx.file(a, "filename", errs);
        // CPython treats negative sizes and counts as 0.
        let max_bytes = a
            .int("maxBytes", i64::MIN, i64::MAX, errs)
            .unwrap_or(0)
            .max(0) as u64;
        let min = ctx.policy.limits.min_rotation_bytes;
        if max_bytes > 0 && max_bytes < min {
            errs.push(
                a.place_of("maxBytes"),
                format!(
                    "maxBytes {max_bytes} is below the minimum of {min}: a file that fills with \
                     every record would rename up to backupCount files per record (use 0 to \
                     never roll over)"
                ),
            );
        }
        // CPython: `if maxBytes > 0: mode = 'a'`, whatever mode said (even a wrong type).
        let options = file_options_with_mode(a, ctx, max_bytes == 0, errs);
        let cap = i64::from(ctx.policy.limits.max_backup_count);
        let backup_count = a.backup_count(cap, errs).unwrap_or(0).max(0) as u32;
        Some(Box::new(RotatingPlan {
            path: path?,
            max_bytes,
            backup_count,
            options: options?,
        }))
    }
}

impl HandlerPlan for RotatingPlan {
    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        built(RotatingFileHandler::new(
            &self.path,
            self.max_bytes,
            self.backup_count,
            non_truncating(&self.options),
        ))
    }
    fn commit(&self) -> Result<(), PlanError> {
        // CPython forces mode 'a' when maxBytes > 0.
        if self.max_bytes > 0 {
            Ok(())
        } else {
            truncate_if_write_mode(&self.path, &self.options)
        }
    }
}

struct TimedKind;
struct TimedPlan {
    path: PathBuf,
    rotation: TimedRotation,
    options: FileOptions,
}

/// `atTime` as `HH:MM[:SS]` text: JSON/YAML/TOML cannot carry CPython's `datetime.time`.
fn parse_at_time(s: &str) -> Option<jiff::civil::Time> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<i8>().ok());
    jiff::civil::Time::new(n(0)?, n(1)?, n(2)?, 0).ok()
}

impl HandlerKind for TimedKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("filename"),
            opt("when"),
            opt("interval"),
            opt("backupCount"),
            opt("encoding"),
            opt("delay"),
            opt("utc"),
            opt("atTime"),
            opt("errors"),
        ];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let path = ctx.file(a, "filename", errs);
        let options = file_options(a, ctx, errs);
        let when = a.str("when", errs).unwrap_or_else(|| "h".into());
        if let Err(e) = logwire_engine::When::parse(&when) {
            errs.push(a.place_of("when"), e.to_string());
        }
        let interval = a.int("interval", 1, i64::from(u32::MAX), errs).unwrap_or(1) as u32;
        let cap = i64::from(ctx.policy.limits.max_backup_count);
        let backup_count = a.backup_count(cap, errs).unwrap_or(0).max(0) as u32;
        let utc = a.bool("utc", errs).unwrap_or(false);
        let at_time = match a.str("atTime", errs) {
            None => None,
            Some(s) => match parse_at_time(&s) {
                Some(t) => Some(t),
                None => {
                    errs.push(
                        a.place_of("atTime"),
                        format!("'{s}' is not a time of day (HH:MM or HH:MM:SS)"),
                    );
                    None
                }
            },
        };
        let mut rotation = TimedRotation::new(when);
        rotation.interval = interval;
        rotation.backup_count = backup_count;
        rotation.utc = utc;
        rotation.at_time = at_time;
        Some(Box::new(TimedPlan {
            path: path?,
            rotation,
            options: options?,
        }))
    }
}

impl HandlerPlan for TimedPlan {
    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        built(TimedRotatingFileHandler::new(
            &self.path,
            self.rotation.clone(),
            self.options.clone(),
        ))
    }
}

struct MemoryKind;
struct MemoryPlan {
    capacity: usize,
    flush_level: i32,
    target: Option<String>,
    flush_on_close: bool,
}

impl HandlerKind for MemoryKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("capacity"),
            opt("flushLevel"),
            opt("target"),
            opt("flushOnClose"),
        ];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        _: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let max = logwire_engine::MAX_MEMORY_CAPACITY as i64;
        let capacity = a.int("capacity", 0, max, errs)? as usize;
        let flush_level = a.level("flushLevel", errs).unwrap_or(level::ERROR);
        let target = a.str("target", errs);
        let flush_on_close = a.bool("flushOnClose", errs).unwrap_or(true);
        Some(Box::new(MemoryPlan {
            capacity,
            flush_level,
            target,
            flush_on_close,
        }))
    }
}

impl HandlerPlan for MemoryPlan {
    fn handler_refs(&self) -> Vec<String> {
        self.target.iter().cloned().collect()
    }
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        let target = match &self.target {
            None => None,
            Some(id) => Some(Arc::clone(ctx.handlers.get(id).ok_or_else(|| {
                PlanError::NotBuilt {
                    role: "target",
                    id: id.clone(),
                }
            })?)),
        };
        built(MemoryHandler::new(
            self.capacity,
            self.flush_level,
            target,
            self.flush_on_close,
        ))
    }
}

struct QueueKind;
struct QueuePlan {
    targets: Vec<String>,
    options: QueueOptions,
}

impl HandlerKind for QueueKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            opt("queue"),
            opt("handlers"),
            opt("respect_handler_level"),
            opt("listener"),
            opt("capacity"),
            opt("overflow"),
            opt("max_bytes"),
        ];
        P
    }
    fn prepare(
        &self,
        a: &BoundArgs,
        _: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        // Python 3.12's dictConfig keys, by name (nothing is imported): `queue` naming the
        // standard FIFO queues (or `{'()': 'queue.Queue', 'maxsize': N}`) and `listener`
        // naming `logging.handlers.QueueListener` are what the built-in queue and worker
        // are; anything else would be code.
        const QUEUES: &[&str] = &["queue.Queue", "queue.SimpleQueue"];
        let mut maxsize = None;
        match a.get("queue") {
            None => {}
            Some(ConfigValue::Str(s)) if QUEUES.contains(&s.as_str()) => {}
            Some(ConfigValue::Map(m))
                if m.iter().any(|(k, v)| {
                    k == "()" && matches!(v, ConfigValue::Str(s) if QUEUES.contains(&s.as_str()))
                }) =>
            {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("()", _) => {}
                        ("maxsize", ConfigValue::Int(n)) => maxsize = Some(*n),
                        _ => errs.push(
                            format!("{}.{k}", a.place_of("queue")),
                            "only maxsize is supported for the built-in queue",
                        ),
                    }
                }
            }
            Some(_) => errs.push(
                a.place_of("queue"),
                "custom queue objects are not supported: logwire's queue is built in \
                 (queue.Queue, queue.SimpleQueue, or use capacity and overflow)",
            ),
        }
        match a.get("listener") {
            None => {}
            Some(ConfigValue::Str(s)) if s == "logging.handlers.QueueListener" => {}
            Some(_) => errs.push(
                a.place_of("listener"),
                "custom listeners are not supported: logwire's worker is built in \
                 (logging.handlers.QueueListener)",
            ),
        }
        let targets = a.ids("handlers", errs);
        let max = logwire_engine::MAX_QUEUE_CAPACITY as i64;
        let mut options = QueueOptions::default();
        // queue.Queue(maxsize): a positive bound is the capacity (and put() blocks when
        // full, as `overflow: block` does); 0 or less is CPython's unbounded queue, which
        // logwire keeps bounded at its default capacity.
        if let Some(n) = maxsize.filter(|n| *n > 0) {
            if n > max {
                errs.push(
                    format!("{}.maxsize", a.place_of("queue")),
                    format!("{n} is out of range (1 to {max})"),
                );
            } else {
                options.capacity = n as usize;
            }
        }
        if let Some(c) = a.int("capacity", 1, max, errs) {
            options.capacity = c as usize;
        }
        // logwire's bound on the queued records' bytes (the records' text), beside capacity.
        let max_bytes = logwire_engine::MAX_QUEUE_BYTES as i64;
        if let Some(b) = a.int("max_bytes", 1, max_bytes, errs) {
            options.max_bytes = b as usize;
        }
        options.respect_handler_level = a.bool("respect_handler_level", errs).unwrap_or(false);
        match a.str("overflow", errs).as_deref() {
            None | Some("block") => options.policy = OverflowPolicy::Block,
            Some("drop") => options.policy = OverflowPolicy::Drop,
            Some(other) => errs.push(
                a.place_of("overflow"),
                format!("'{other}': expected 'block' or 'drop'"),
            ),
        }
        Some(Box::new(QueuePlan { targets, options }))
    }
}

impl HandlerPlan for QueuePlan {
    fn handler_refs(&self) -> Vec<String> {
        self.targets.clone()
    }
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        let mut targets = Vec::new();
        for id in &self.targets {
            targets.push(Arc::clone(ctx.handlers.get(id).ok_or_else(|| {
                PlanError::NotBuilt {
                    role: "handler",
                    id: id.clone(),
                }
            })?));
        }
        built(QueueHandler::new(targets, self.options))
    }
}
