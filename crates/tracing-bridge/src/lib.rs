//! A `tracing` Layer that routes events into a logwire logger tree.
//!
//! Event targets become logger names (`my_app::db` → `my_app.db`), the `message` field becomes
//! the record's message, every other field becomes a typed extra field, `file`/`line`/
//! `module_path` become `pathname`/`lineno`/`module`, and TRACE becomes level 5, named
//! `TRACE`. After every change to the tree the layer asks tracing to re-evaluate its
//! per-callsite interest, so reconfiguration takes effect for callsites already seen.
//!
//! ```
//! use logwire_engine::{level, LoggerTree};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let tree = LoggerTree::new();
//! tree.root().set_level(level::INFO);
//! let subscriber = tracing_subscriber::registry().with(logwire_tracing::LogwireLayer::new(tree));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(target: "my_app::db", rows = 3, "query done");
//! });
//! ```

use logwire_engine::{LogRecord, LoggerTree, TargetLoggers, Value, level};
use tracing_core::field::{Field, Visit};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Maps a `tracing` level to a logwire (CPython) level number.
pub fn to_python_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => level::ERROR,
        Level::WARN => level::WARNING,
        Level::INFO => level::INFO,
        Level::DEBUG => level::DEBUG,
        Level::TRACE => level::TRACE,
    }
}

/// The layer. Add it to a `tracing_subscriber::Registry`.
pub struct LogwireLayer {
    loggers: TargetLoggers,
}

impl std::fmt::Debug for LogwireLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogwireLayer")
            .field("tree", self.loggers.tree())
            .finish_non_exhaustive()
    }
}

impl LogwireLayer {
    /// A layer routing into `tree`; registers the `TRACE` level name.
    pub fn new(tree: LoggerTree) -> Self {
        level::register_trace_level();
        tree.on_change(|_| tracing_core::callsite::rebuild_interest_cache());
        LogwireLayer {
            loggers: TargetLoggers::new(tree),
        }
    }

    /// A layer routing into the process-wide tree.
    pub fn global() -> Self {
        Self::new(LoggerTree::global().clone())
    }
}

/// Fills a record from an event's fields.
struct FieldVisitor<'a> {
    record: &'a mut LogRecord,
}

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message" {
            self.record.msg = match value {
                Value::Str(s) => s,
                other => other.py_str(),
            };
            return;
        }
        self.record.set_foreign_extra(name, value);
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::Float(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).map_or_else(|_| Value::BigInt(value.to_string()), Value::Int);
        self.put(field, v);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
}

impl<S: Subscriber> Layer<S> for LogwireLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        if !metadata.is_event() {
            return true;
        }
        self.loggers.tree().snapshot().min_threshold() <= to_python_level(metadata.level())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = to_python_level(meta.level());
        let logger = self.loggers.get(meta.target());
        if !logger.is_enabled_for(level) {
            return;
        }
        let mut record = logger.make_record(
            level,
            String::new(),
            meta.file().unwrap_or(""),
            meta.line().map_or(0, i64::from),
        );
        if let Some(m) = meta.module_path() {
            record.module = TargetLoggers::logger_name(m);
        }
        event.record(&mut FieldVisitor {
            record: &mut record,
        });
        logger.handle(&record);
    }
}
