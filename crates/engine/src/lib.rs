//! Python's logging model in Rust: records, levels, the logger tree, formatters, filters and
//! handlers, with CPython's semantics.
//!
//! Programs usually start from the `logwire` crate, which re-exports all of this and sets it
//! up from a config file in one line (`logwire::init_file("logging.yaml")?`). Built by hand,
//! with the builders for the types that have many settings:
//!
//! ```
//! use logwire_engine::handler::{CaptureBuffer, RotatingFileHandler, StreamHandler};
//! use logwire_engine::{Formatter, Handler, LoggerTree, level};
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

pub mod filter;
pub mod format;
pub mod handler;
pub mod level;
pub mod origin;
pub mod record;
pub mod tree;
pub mod value;

pub use filter::{Filter, NameFilter};
pub use format::Formatter;
pub use handler::{Emitter, Handler, HandlerError, HandlerStats};
pub use record::{Args, LogRecord};
pub use tree::{Logger, LoggerNode, LoggerTree, ShutdownGuard, Snapshot, TargetLoggers, TreeDraft};
pub use value::{PyObject, Value};
