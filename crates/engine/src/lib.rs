//! Python's logging model in Rust: records, levels, the logger tree, formatters, filters and
//! handlers, with CPython's semantics.

pub mod filter;
pub mod format;
pub mod handler;
pub mod level;
pub mod record;
pub mod tree;
pub mod value;

pub use filter::{Filter, NameFilter};
pub use format::Formatter;
pub use handler::{Emitter, Handler, HandlerError};
pub use record::{Args, LogRecord};
pub use tree::{Logger, LoggerNode, LoggerTree, ShutdownGuard, Snapshot, TargetLoggers, TreeDraft};
pub use value::{PyObject, Value};
