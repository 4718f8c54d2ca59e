//! Received record payloads (the pickled or JSON dicts of CPython's `SocketHandler` and
//! `DatagramHandler`) to [`LogRecord`](logwire_engine::LogRecord)s, with `makeLogRecord`
//! semantics and a cost bounded per payload byte.
//!
//! Pure: no I/O, no threads, no async. The collector (`logwire-collector`) frames, authenticates
//! and queues; this crate only maps one payload to one record. The contract (what is checked,
//! what is kept as data, what is never done — `msg % args` for one) is in the docs of
//! [`RecordMapper`].
//!
//! One entry point, [`RecordMapper::map`]; the collector's allocation-free path is
//! [`RecordMapper::map_reusable`] with [`RecordPool::recycle`].

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums)]

mod mapper;

pub use mapper::{
    Format, MapError, MapLimits, MappedRecord, NODE_BYTES, REMOTE_ARGS_FIELD, RecordMapper,
    RecordPool,
};
