//! Handlers: where records go.
//!
//! A [`Handler`] carries what every CPython handler has (a name, a level, filters and a
//! formatter) around an [`Emitter`], the part that differs per kind (a stream, a file, a
//! rotating file, a queue …). Errors while emitting never reach the logging call: they are
//! reported on stderr as CPython's `Handler.handleError` does, and counted.

use crate::filter::Filter;
use crate::format::Formatter;
use crate::level;
use crate::record::LogRecord;
use crate::value::Value;
use std::fmt;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Why a handler could not emit, flush or be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the handler was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A constructor argument is invalid (`when='X'`, a negative capacity …).
    #[error("{0}")]
    Invalid(String),
    /// The handler was closed.
    #[error("handler is closed")]
    Closed,
    /// A confined handler's file name is not a file beneath its root.
    #[error(transparent)]
    FileRoot(#[from] FileRootError),
    /// The formatter raised (a field missing from the record, a value its spec cannot
    /// format). As in CPython, nothing is written for the record on this handler and the
    /// error is reported by `handleError`.
    #[error("{0}")]
    Format(#[from] crate::format::FormatError),
}

impl HandlerError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HandlerError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The kind-specific part of a handler: writes formatted records somewhere.
///
/// Implementations do their own locking; `emit` may be called from many threads at once.
pub trait Emitter: Send + Sync {
    /// Writes one record, formatted with `formatter`.
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError>;
    /// CPython's `flush()`: the logging meaning, which for a `MemoryHandler` hands its
    /// buffer to the target.
    fn flush(&self) -> Result<(), HandlerError> {
        Ok(())
    }
    /// Makes what this emitter has written so far durable at its destination (handed to
    /// the OS, or to the sender's connection) without changing what logging would do next:
    /// what a collector calls before it acknowledges records. The default is [`flush`], right
    /// for every kind whose `flush()` only pushes written bytes out; a `MemoryHandler`
    /// overrides it to keep its buffer (its `capacity` and `flushLevel` decide when records
    /// leave it) and sync its target.
    ///
    /// [`flush`]: Emitter::flush
    fn sync(&self) -> Result<(), HandlerError> {
        self.flush()
    }
    /// Passes on what this emitter holds back from a drain of records (lines kept in memory
    /// for one write, records waiting for a publisher) without waiting for a remote peer to
    /// confirm them: what a collector calls after a drain that has nothing to acknowledge,
    /// where [`sync`] would cost a round trip per drain. The default is [`sync`], right for
    /// every kind whose durability is local; a kind that confirms remotely (JetStream's acks)
    /// overrides it.
    ///
    /// [`sync`]: Emitter::sync
    fn hand_off(&self) -> Result<(), HandlerError> {
        self.sync()
    }
    /// Flushes and releases resources; later emits may fail or reopen, per kind.
    fn close(&self) {}
    /// The program must stop now (a second signal): a `close` or `sync` that waits for a
    /// remote peer to confirm what it holds (JetStream's acks) returns without waiting, and
    /// reports what was not confirmed as it would at its timeout. Called from any thread,
    /// also while another is in `close`. The default does nothing: a kind whose close only
    /// writes locally has nothing to cut short.
    fn stop_waiting(&self) {}
    /// Bytes this emitter has emitted so far (lines handed to its file or stream, records
    /// put on its queue), for metrics per output; `None` for kinds that do not count them.
    /// Implementations count under the lock their `emit` already holds, so counting costs no
    /// extra atomic per record; reading takes that lock once.
    fn bytes_emitted(&self) -> Option<u64> {
        None
    }
    /// The CPython class this emitter implements, for diagnostics (`logging.StreamHandler`).
    fn kind(&self) -> &'static str;
}

/// What a handler has done so far: a snapshot for metrics per output
/// ([`Handler::stats`]). The counters only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandlerStats {
    /// Records that passed the handler's filters and were given to its emitter (an emit that
    /// failed counts here and in `errors`).
    pub records: u64,
    /// Bytes the emitter emitted ([`Emitter::bytes_emitted`]); `None` when its kind does
    /// not count them.
    pub bytes: Option<u64>,
    /// Emit, flush and sync errors reported ([`Handler::handle_error`]).
    pub errors: u64,
}

/// A handler: name, level, filters and formatter around an [`Emitter`].
pub struct Handler {
    name: Option<String>,
    level: AtomicI32,
    formatter: Option<Arc<Formatter>>,
    filters: Vec<Arc<dyn Filter>>,
    emitter: Box<dyn Emitter>,
    errors: AtomicU64,
    /// Records that passed the filters and were given to the emitter (for metrics per output).
    handled: AtomicU64,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handler")
            .field("kind", &self.emitter.kind())
            .field("name", &self.name)
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

fn default_formatter() -> &'static Formatter {
    static DEFAULT: OnceLock<Formatter> = OnceLock::new();
    DEFAULT.get_or_init(Formatter::default)
}

impl Handler {
    /// A handler at level NOTSET with no name, filters or formatter (CPython's defaults:
    /// records are formatted as `%(message)s`).
    pub fn new(emitter: impl Emitter + 'static) -> Self {
        Handler {
            name: None,
            level: AtomicI32::new(level::NOTSET),
            formatter: None,
            filters: Vec::new(),
            emitter: Box::new(emitter),
            errors: AtomicU64::new(0),
            handled: AtomicU64::new(0),
        }
    }

    /// A handler around an already boxed emitter (what a registry of kinds produces).
    pub fn from_boxed(emitter: Box<dyn Emitter>) -> Self {
        Handler {
            name: None,
            level: AtomicI32::new(level::NOTSET),
            formatter: None,
            filters: Vec::new(),
            emitter,
            errors: AtomicU64::new(0),
            handled: AtomicU64::new(0),
        }
    }

    /// Sets the handler's name (dictConfig/fileConfig use the handler id).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the level.
    pub fn with_level(self, level: i32) -> Self {
        self.level.store(level, Ordering::Relaxed);
        self
    }

    /// Sets the formatter: a shared `Arc<Formatter>`, or a `Formatter` of its own.
    pub fn with_formatter(mut self, formatter: impl Into<Arc<Formatter>>) -> Self {
        self.formatter = Some(formatter.into());
        self
    }

    /// Adds a filter.
    pub fn with_filter(mut self, filter: Arc<dyn Filter>) -> Self {
        self.filters.push(filter);
        self
    }

    /// The handler's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The handler's level: records below it are not emitted.
    pub fn level(&self) -> i32 {
        self.level.load(Ordering::Relaxed)
    }

    /// Changes the level of a live handler (an incremental config does only this).
    pub fn set_level(&self, level: i32) {
        self.level.store(level, Ordering::Relaxed);
    }

    /// The CPython class name of this handler's kind.
    pub fn kind(&self) -> &'static str {
        self.emitter.kind()
    }

    /// The formatter used for records (the default `%(message)s` one when none is set).
    pub fn formatter(&self) -> &Formatter {
        self.formatter
            .as_deref()
            .unwrap_or_else(|| default_formatter())
    }

    /// The emitter, for kind-specific inspection in tests and tools.
    pub fn emitter(&self) -> &dyn Emitter {
        self.emitter.as_ref()
    }

    /// How many emit errors this handler has reported.
    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// How many records passed this handler's filters and were given to its emitter (an emit
    /// that failed counts here and in [`Handler::error_count`]).
    pub fn handled_count(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// A snapshot of this handler's counters, for metrics per output. Costs two atomic loads
    /// and, for kinds that count bytes, one uncontended lock of the emitter: read it at a
    /// metrics scrape, not per record. The record count is one relaxed atomic add per record
    /// (the emitters are called from many threads with no lock in common at this level);
    /// bytes are counted by the emitter under the lock it holds anyway.
    pub fn stats(&self) -> HandlerStats {
        HandlerStats {
            records: self.handled_count(),
            bytes: self.emitter.bytes_emitted(),
            errors: self.error_count(),
        }
    }

    /// Applies the handler's filters only.
    pub fn filter(&self, record: &LogRecord) -> bool {
        self.filters.iter().all(|f| f.filter(record))
    }

    /// CPython's `Handler.handle`: filters, then emit. Returns whether the record passed the
    /// filters. The level check is the caller's (as in `Logger.callHandlers`).
    pub fn handle(&self, record: &LogRecord) -> bool {
        if !self.filter(record) {
            return false;
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.emitter.emit(record, self.formatter()) {
            self.handle_error(record, &e);
        }
        true
    }

    /// Flushes the emitter, reporting errors like an emit error.
    pub fn flush(&self) {
        if let Err(e) = self.emitter.flush() {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "--- Logging error ---\nflush of {} failed: {e}",
                self.describe()
            );
        }
    }

    /// Makes written output durable without logging's `flush()` ([`Emitter::sync`]),
    /// reporting errors like an emit error. False if it failed: what was written may not be
    /// at its destination (a collector then withholds its acks).
    pub fn sync(&self) -> bool {
        match self.emitter.sync() {
            Ok(()) => true,
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "--- Logging error ---\nsync of {} failed: {e}",
                    self.describe()
                );
                false
            }
        }
    }

    /// Passes on held-back output without waiting for remote confirmation
    /// ([`Emitter::hand_off`]), reporting errors like an emit error.
    pub fn hand_off(&self) {
        if let Err(e) = self.emitter.hand_off() {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "--- Logging error ---\nhand-off of {} failed: {e}",
                self.describe()
            );
        }
    }

    /// Flushes and closes the emitter.
    pub fn close(&self) {
        self.emitter.close();
    }

    /// See [`Emitter::stop_waiting`].
    pub fn stop_waiting(&self) {
        self.emitter.stop_waiting();
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("{} '{n}'", self.emitter.kind()),
            None => self.emitter.kind().to_owned(),
        }
    }

    /// CPython's `handleError`: a report on stderr, never a panic or an error to the caller.
    pub fn handle_error(&self, record: &LogRecord, error: &HandlerError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        // CPython's last two lines show `record.msg` and `record.args` by repr().
        let args = match &record.args {
            crate::record::Args::None => "()".to_owned(),
            crate::record::Args::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(Value::py_repr).collect();
                match parts.len() {
                    1 => format!("({},)", parts[0]),
                    _ => format!("({})", parts.join(", ")),
                }
            }
            crate::record::Args::Mapping(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", Value::Str(k.clone()).py_repr(), v.py_repr()))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
        };
        eprintln!(
            "--- Logging error ---\n{} could not emit a record: {error}\nMessage: {}\nArguments: {args}",
            self.describe(),
            Value::Str(record.msg.clone()).py_repr(),
        );
    }
}

mod confined;
mod file;
mod memory;
mod queue;
mod rotating;
mod stream;
mod timed;
mod util;

pub use confined::{FileRoot, FileRootError};
pub use file::{
    FileHandler, FileMode, FileOpenPolicy, FileOptions, WatchedFileHandler, truncate_for_write,
};
pub use memory::{MAX_MEMORY_CAPACITY, MemoryBuilder, MemoryHandler};
pub use queue::{
    DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_CAPACITY, DROP_NOTICE_LOGGER, MAX_QUEUE_BYTES,
    MAX_QUEUE_CAPACITY, OverflowPolicy, QueueHandler, QueueOptions,
};
pub use rotating::{Namer, RotatingFileBuilder, RotatingFileHandler, Rotator};
pub use stream::{CaptureBuffer, NullHandler, RecordCollector, StreamHandler};
pub use timed::{
    ManualClock, RolloverClock, SystemRolloverClock, TimedRotatingBuilder,
    TimedRotatingFileHandler, TimedRotation, When,
};
pub use util::{EncodeErrors, Encoding, abspath};

/// Lets the file and stream handlers called on *this thread* keep their output in memory
/// (up to 64 KiB per handler) until they are flushed, as a [`QueueHandler`] worker does. For
/// a thread that hands records to handlers in bursts and flushes after each burst, such as a
/// collector's dispatcher: one `write` per burst instead of one per record. A thread that
/// turns it on must flush ([`LoggerTree::flush`](crate::LoggerTree::flush)) after each burst.
pub fn batch_writes_on_this_thread(on: bool) {
    util::set_batching(on);
}

/// Whether [`batch_writes_on_this_thread`] is on for the calling thread: an emitter that
/// hands records to a worker of its own may then wake it once per burst (at the flush,
/// sync or hand-off that ends it) instead of once per record.
pub fn writes_batched_on_this_thread() -> bool {
    util::batching()
}
