//! `MemoryHandler`: buffers records and hands them to a target handler in bursts.

use super::{Emitter, Handler, HandlerError};
use crate::format::Formatter;
use crate::level;
use crate::record::LogRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The largest `capacity` a [`MemoryHandler`] accepts: the buffer is memory.
pub const MAX_MEMORY_CAPACITY: usize = 1_000_000;

struct MemoryState {
    buffer: Vec<LogRecord>,
    target: Option<Arc<Handler>>,
}

/// CPython's `logging.handlers.MemoryHandler(capacity, flushLevel=ERROR, target=None,
/// flushOnClose=True)`.
///
/// Records are buffered; the buffer is flushed (each record passed to `target.handle`, which
/// applies the target's filters but not its level, as in CPython) when it holds `capacity`
/// records or a record at `flushLevel` or above arrives. Without a target the buffer is kept
/// (CPython) but, unlike CPython, bounded: once it holds `capacity` records further records
/// are refused with an error (reported by the handler, counted in [`dropped`]), never
/// dropped silently. `close()` flushes iff `flushOnClose`, then forgets the target.
///
/// [`dropped`]: MemoryHandler::dropped
pub struct MemoryHandler {
    capacity: usize,
    flush_level: i32,
    flush_on_close: bool,
    dropped: AtomicU64,
    state: Mutex<MemoryState>,
}

impl MemoryHandler {
    /// Builds the handler; `capacity` must be 1 ..= [`MAX_MEMORY_CAPACITY`].
    pub fn new(
        capacity: usize,
        flush_level: i32,
        target: Option<Arc<Handler>>,
        flush_on_close: bool,
    ) -> Result<Self, HandlerError> {
        if capacity > MAX_MEMORY_CAPACITY {
            return Err(HandlerError::Invalid(format!(
                "MemoryHandler capacity {capacity} is too large (at most {MAX_MEMORY_CAPACITY})"
            )));
        }
        Ok(MemoryHandler {
            capacity,
            flush_level,
            flush_on_close,
            dropped: AtomicU64::new(0),
            state: Mutex::new(MemoryState {
                buffer: Vec::with_capacity(capacity.min(1024)),
                target,
            }),
        })
    }

    /// CPython's defaults: `flushLevel=ERROR`, no target, `flushOnClose=True`.
    pub fn with_capacity(capacity: usize) -> Result<Self, HandlerError> {
        Self::new(capacity, level::ERROR, None, true)
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CPython's `setTarget`.
    pub fn set_target(&self, target: Option<Arc<Handler>>) {
        self.lock().target = target;
    }

    /// The current target.
    pub fn target(&self) -> Option<Arc<Handler>> {
        self.lock().target.clone()
    }

    /// `capacity`.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// `flushLevel`.
    pub fn flush_level(&self) -> i32 {
        self.flush_level
    }

    /// `flushOnClose`.
    pub fn flush_on_close(&self) -> bool {
        self.flush_on_close
    }

    /// Records waiting in the buffer.
    pub fn buffered(&self) -> usize {
        self.lock().buffer.len()
    }

    /// Records refused because the buffer was full and there was no target.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn flush_locked(st: &mut MemoryState) {
        if let Some(target) = st.target.clone() {
            for r in st.buffer.drain(..) {
                target.handle(&r);
            }
            // CPython's stream targets flush per record; here a file target on a queue
            // worker may batch, so push the burst out.
            target.flush();
        }
    }
}

impl Emitter for MemoryHandler {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        let mut st = self.lock();
        if st.target.is_none() && st.buffer.len() >= self.capacity.max(1) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(HandlerError::Invalid(format!(
                "MemoryHandler has no target and its buffer is full ({} records): record refused",
                st.buffer.len()
            )));
        }
        st.buffer.push(record.clone());
        if st.buffer.len() >= self.capacity || record.levelno >= self.flush_level {
            Self::flush_locked(&mut st);
        }
        Ok(())
    }
    fn flush(&self) -> Result<(), HandlerError> {
        Self::flush_locked(&mut self.lock());
        Ok(())
    }
    /// Durability only: the buffer stays (capacity and flushLevel decide when it empties,
    /// as in CPython); what already went to the target is synced.
    fn sync(&self) -> Result<(), HandlerError> {
        let target = self.lock().target.clone();
        if let Some(t) = target {
            t.sync();
        }
        Ok(())
    }
    /// As `sync`, passing on to the target without waiting for a remote confirmation.
    fn hand_off(&self) -> Result<(), HandlerError> {
        let target = self.lock().target.clone();
        if let Some(t) = target {
            t.hand_off();
        }
        Ok(())
    }
    /// Passed on to the target (which a tree also tells directly when it is one of its
    /// handlers: telling twice is harmless).
    fn stop_waiting(&self) {
        let target = self.lock().target.clone();
        if let Some(t) = target {
            t.stop_waiting();
        }
    }
    fn close(&self) {
        let mut st = self.lock();
        if self.flush_on_close {
            Self::flush_locked(&mut st);
        }
        if self.flush_on_close && !st.buffer.is_empty() {
            // No target to flush to: say what is lost rather than lose it silently.
            eprintln!(
                "--- Logging error ---\nMemoryHandler closed without a target: {} buffered \
                 records discarded",
                st.buffer.len()
            );
        }
        st.target = None;
        // flushOnClose=False asks for what is left to be discarded, as in CPython.
        st.buffer.clear();
    }
    fn kind(&self) -> &'static str {
        "logging.handlers.MemoryHandler"
    }
}

/// Builds a [`MemoryHandler`] by named settings; start with [`MemoryHandler::builder`].
/// Defaults are CPython's: `flushLevel=ERROR`, no target, `flushOnClose=True`.
///
/// ```
/// use logwire_engine::{MemoryHandler, StreamHandler, Handler, level};
/// use std::sync::Arc;
///
/// let console = Arc::new(Handler::new(StreamHandler::stderr()));
/// let buffered = MemoryHandler::builder(500)
///     .flush_level(level::CRITICAL)
///     .target(console)
///     .build()
///     .unwrap();
/// assert_eq!(buffered.capacity(), 500);
/// assert!(buffered.flush_on_close());
/// ```
#[derive(Debug)]
#[must_use = "call `build` to get the handler"]
pub struct MemoryBuilder {
    capacity: usize,
    flush_level: i32,
    target: Option<Arc<Handler>>,
    flush_on_close: bool,
}

impl MemoryBuilder {
    /// Records at or above this level flush the buffer at once.
    pub fn flush_level(mut self, level: i32) -> Self {
        self.flush_level = level;
        self
    }

    /// Where buffered records go.
    pub fn target(mut self, target: Arc<Handler>) -> Self {
        self.target = Some(target);
        self
    }

    /// Whether `close()` hands what is buffered to the target first.
    pub fn flush_on_close(mut self, flush: bool) -> Self {
        self.flush_on_close = flush;
        self
    }

    /// The handler; a capacity above [`MAX_MEMORY_CAPACITY`] is an error.
    pub fn build(self) -> Result<MemoryHandler, HandlerError> {
        MemoryHandler::new(
            self.capacity,
            self.flush_level,
            self.target,
            self.flush_on_close,
        )
    }
}

impl MemoryHandler {
    /// A [`MemoryBuilder`] holding up to `capacity` records.
    pub fn builder(capacity: usize) -> MemoryBuilder {
        MemoryBuilder {
            capacity,
            flush_level: level::ERROR,
            target: None,
            flush_on_close: true,
        }
    }
}
