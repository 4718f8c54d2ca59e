//! Python's logging model in Rust: records, levels, the logger tree, formatters, filters and
//! handlers, with CPython's semantics.
//!
//! Programs usually start from the `logwire` crate, which re-exports all of this and sets it
//! up from a config file in one line (`logwire::init_file("logging.yaml")?`). Built by hand,
//! with the builders for the types that have many settings:
//!
//! ```
//! use logwire_engine::{CaptureBuffer, Formatter, Handler, LoggerTree, RotatingFileHandler, StreamHandler, level};
//! use std::sync::Arc;
//!
//! let tree = LoggerTree::new();
//! let _guard = tree.shutdown_guard(); // flushes and closes every handler when dropped
//! let fmt = Arc::new(Formatter::builder().format("%(levelname)s %(name)s: %(message)s").build().unwrap());
//! let out = CaptureBuffer::new();
//! let dir = tempfile::tempdir().unwrap();
//! let file = RotatingFileHandler::builder(dir.path().join("app.log")).max_bytes(1 << 20).backup_count(3).build().unwrap();
//! tree.root().add_handler(Arc::new(Handler::new(StreamHandler::new(out.clone())).with_formatter(Arc::clone(&fmt))));
//! tree.root().add_handler(Arc::new(Handler::new(file).with_formatter(fmt)));
//! tree.root().set_level(level::INFO);
//! tree.get_logger("app.db").info("connected");
//! assert_eq!(out.contents(), "INFO app.db: connected\n");
//! ```

//!
//! # One path per name
//! Every public item is re-exported here, at the crate root, and nowhere else; the modules
//! are private. One namespace is public on purpose:
//! - [`level`]: the nine level numbers and the level-name registry. They are many short
//!   names that read well only qualified (`level::INFO`, `level::ERROR`; a root `ERROR` would
//!   read as an error type), the way Python writes `logging.INFO`. Nothing in it is
//!   re-exported at the root.

mod filter;
mod format;
mod handler;
pub mod level;
mod origin;
mod record;
mod tree;
mod value;

pub use filter::{Filter, NameFilter};
pub use format::{
    DEFAULT_TIME_FORMAT, DatefmtError, FormatError, Formatter, FormatterBuilder, JsonOptions,
    MAX_FORMAT_LEN, MAX_WIDTH, RESERVED_ATTRS, RenderBound, Style, Tm, check_strftime,
    format_message, gmtime, localtime, strftime, strftime_into, strftime_limit, strftime_max_len,
};
pub use handler::{
    CaptureBuffer, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_CAPACITY, DROP_NOTICE_LOGGER, Emitter,
    EncodeErrors, Encoding, FileHandler, FileMode, FileOpenPolicy, FileOptions, FileRoot,
    FileRootError, Handler, HandlerError, HandlerStats, MAX_MEMORY_CAPACITY, MAX_QUEUE_BYTES,
    MAX_QUEUE_CAPACITY, ManualClock, MemoryBuilder, MemoryHandler, Namer, NullHandler,
    OverflowPolicy, QueueHandler, QueueOptions, RecordCollector, RolloverClock,
    RotatingFileBuilder, RotatingFileHandler, Rotator, StreamHandler, SystemRolloverClock,
    TimedRotatingBuilder, TimedRotatingFileHandler, TimedRotation, WatchedFileHandler, When,
    abspath, batch_writes_on_this_thread, truncate_for_write, writes_batched_on_this_thread,
};
pub use origin::{RecordOrigin, current_origin, with_origin};
pub use record::{
    Args, Attribute, LogRecord, STANDARD_ATTRIBUTES, current_thread_id, msecs_of, now_secs,
};
pub use tree::{
    Logger, LoggerNode, LoggerTree, ShutdownGuard, Snapshot, SnapshotCache, TargetLoggers,
    TreeDraft,
};
pub use value::{PyObject, Value};
