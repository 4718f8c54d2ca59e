//! A `log` facade backend that routes records into a logwire logger tree.
//!
//! Rust targets become logger names (`my_app::db` → `my_app.db`), `file`/`line`/
//! `module_path` become `pathname`/`lineno`/`module`, `log` key-values become typed extra
//! fields, and Rust's TRACE becomes level 5, named `TRACE`. The `log` crate's global max level
//! follows the configured tree after every change, so a call that no logger would accept is
//! rejected by the `log` macros themselves, before any argument is formatted.
//!
//! ```
//! use logwire_engine::{level, LoggerTree};
//!
//! let tree = LoggerTree::new();
//! tree.root().set_level(level::INFO);
//! logwire_log::LogBridge::install(tree.clone()).expect("no other logger installed");
//! log::info!(target: "my_app::db", "connected to {}", "db1");
//! assert_eq!(log::max_level(), log::LevelFilter::Info);
//! ```

use logwire_engine::{LoggerTree, TargetLoggers, Value, level};

/// Maps a `log` level to a logwire (CPython) level number.
pub fn to_python_level(level: log::Level) -> i32 {
    match level {
        log::Level::Error => level::ERROR,
        log::Level::Warn => level::WARNING,
        log::Level::Info => level::INFO,
        log::Level::Debug => level::DEBUG,
        log::Level::Trace => level::TRACE,
    }
}

/// The most verbose `log` level that a tree whose lowest threshold is `min` could accept.
pub fn max_level_for_threshold(min: i32) -> log::LevelFilter {
    match min {
        m if m <= level::TRACE => log::LevelFilter::Trace,
        m if m <= level::DEBUG => log::LevelFilter::Debug,
        m if m <= level::INFO => log::LevelFilter::Info,
        m if m <= level::WARNING => log::LevelFilter::Warn,
        m if m <= level::ERROR => log::LevelFilter::Error,
        _ => log::LevelFilter::Off,
    }
}

/// The `log::Log` implementation. One per process (the `log` crate allows only one).
pub struct LogBridge {
    loggers: TargetLoggers,
}

impl std::fmt::Debug for LogBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBridge")
            .field("tree", self.loggers.tree())
            .finish_non_exhaustive()
    }
}

impl LogBridge {
    /// A bridge into `tree` (not installed).
    pub fn new(tree: LoggerTree) -> Self {
        LogBridge {
            loggers: TargetLoggers::new(tree),
        }
    }

    /// Installs a bridge into `tree` as the `log` crate's logger, registers the `TRACE` level
    /// name, and makes `log::max_level()` follow the tree from now on.
    pub fn install(tree: LoggerTree) -> Result<(), log::SetLoggerError> {
        level::register_trace_level();
        log::set_boxed_logger(Box::new(LogBridge::new(tree.clone())))?;
        tree.on_change(|snap| log::set_max_level(max_level_for_threshold(snap.min_threshold())));
        Ok(())
    }

    /// Installs a bridge into the process-wide tree ([`LoggerTree::global`]).
    pub fn install_global() -> Result<(), log::SetLoggerError> {
        Self::install(LoggerTree::global().clone())
    }
}

/// Collects `log` key-values as typed extra fields.
struct ExtraCollector<'a>(&'a mut logwire_engine::LogRecord);

impl<'kvs> log::kv::VisitSource<'kvs> for ExtraCollector<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let v = if let Some(b) = value.to_bool() {
            Value::Bool(b)
        } else if let Some(i) = value.to_i64() {
            Value::Int(i)
        } else if let Some(u) = value.to_u64() {
            Value::BigInt(u.to_string())
        } else if let Some(f) = value.to_f64() {
            Value::Float(f)
        } else if let Some(s) = value.to_borrowed_str() {
            Value::Str(s.to_owned())
        } else {
            Value::Str(value.to_string())
        };
        self.0.set_foreign_extra(key.as_str(), v);
        Ok(())
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.loggers
            .get(metadata.target())
            .is_enabled_for(to_python_level(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = to_python_level(record.level());
        let logger = self.loggers.get(record.target());
        if !logger.is_enabled_for(level) {
            return;
        }
        let msg = match record.args().as_str() {
            Some(s) => s.to_owned(),
            None => record.args().to_string(),
        };
        let mut rec = logger.make_record(
            level,
            msg,
            record.file().unwrap_or(""),
            record.line().map_or(0, i64::from),
        );
        if let Some(m) = record.module_path() {
            rec.module = TargetLoggers::logger_name(m);
        }
        let _ = record.key_values().visit(&mut ExtraCollector(&mut rec));
        logger.handle(&rec);
    }

    fn flush(&self) {
        self.loggers.tree().flush();
    }
}
