//! `StreamHandler` (stdout, stderr or any writer), `NullHandler`, and [`CaptureBuffer`], a
//! shared in-memory writer for capturing output in tests.
//!
//! ```
//! use logwire_engine::{CaptureBuffer, StreamHandler, Handler, LogRecord};
//! let out = CaptureBuffer::new();
//! let h = Handler::new(StreamHandler::new(out.clone()).with_terminator("!\n"));
//! h.handle(&LogRecord::new("app", 30, "x.rs", 1, "Exclamation"));
//! assert_eq!(out.contents(), "Exclamation!\n");
//! ```

use super::util::{batching, format_into};
use super::{Emitter, HandlerError};
use crate::format::Formatter;
use crate::record::LogRecord;
use std::io::Write;
use std::sync::{Arc, Mutex};

struct StreamState {
    stream: Box<dyn Write + Send>,
    line: String,
    /// Bytes written, counted under this lock (no atomic per record).
    bytes_emitted: u64,
}

/// CPython's `logging.StreamHandler(stream=None)`: writes `format(record) + terminator` in
/// one write, then flushes. The stream is never closed (it may be stdout or stderr).
pub struct StreamHandler {
    terminator: String,
    target: &'static str,
    state: Mutex<StreamState>,
}

impl StreamHandler {
    /// A handler writing to `stream`.
    pub fn new(stream: impl Write + Send + 'static) -> Self {
        Self::boxed(Box::new(stream), "")
    }

    fn boxed(stream: Box<dyn Write + Send>, target: &'static str) -> Self {
        StreamHandler {
            terminator: "\n".to_owned(),
            target,
            state: Mutex::new(StreamState {
                stream,
                line: String::new(),
                bytes_emitted: 0,
            }),
        }
    }

    /// A handler writing to the process's stderr (CPython's default stream).
    pub fn stderr() -> Self {
        Self::boxed(Box::new(std::io::stderr()), "<stderr>")
    }

    /// A handler writing to the process's stdout.
    pub fn stdout() -> Self {
        Self::boxed(Box::new(std::io::stdout()), "<stdout>")
    }

    /// Sets the terminator (CPython's `terminator` attribute, `'\n'` by default).
    pub fn with_terminator(mut self, terminator: impl Into<String>) -> Self {
        self.terminator = terminator.into();
        self
    }

    /// The terminator written after each record.
    pub fn terminator(&self) -> &str {
        &self.terminator
    }

    /// `<stdout>`, `<stderr>`, or empty for another writer (CPython's `stream.name`).
    pub fn stream_name(&self) -> &'static str {
        self.target
    }

    /// CPython's `setStream`: flushes the old stream and returns it.
    pub fn set_stream(&self, stream: Box<dyn Write + Send>) -> Box<dyn Write + Send> {
        let mut st = self.lock();
        let _ = st.stream.flush();
        std::mem::replace(&mut st.stream, stream)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Emitter for StreamHandler {
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.lock().bytes_emitted)
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.line.clear();
        format_into(formatter, record, &mut st.line)?;
        st.line.push_str(&self.terminator);
        st.stream
            .write_all(st.line.as_bytes())
            .map_err(|e| HandlerError::io("cannot write to stream", e))?;
        st.bytes_emitted += st.line.len() as u64;
        if batching() {
            // A queue worker flushes once the queue runs empty.
            return Ok(());
        }
        st.stream
            .flush()
            .map_err(|e| HandlerError::io("cannot flush stream", e))
    }
    fn flush(&self) -> Result<(), HandlerError> {
        let mut st = self.lock();
        st.stream
            .flush()
            .map_err(|e| HandlerError::io("cannot flush stream", e))
    }
    fn close(&self) {
        // CPython does not close the stream; flushing loses nothing.
        let _ = self.flush();
    }
    fn kind(&self) -> &'static str {
        "logging.StreamHandler"
    }
}

/// CPython's `logging.NullHandler()`: does nothing (libraries add it to stay quiet).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullHandler;

impl Emitter for NullHandler {
    fn emit(&self, _record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "logging.NullHandler"
    }
}

/// An in-memory writer whose clones share one buffer: give one to a [`StreamHandler`] and
/// read what was written through another (CPython tests use `io.StringIO` the same way).
#[derive(Clone, Debug, Default)]
pub struct CaptureBuffer {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CaptureBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Empties the buffer (`StringIO.truncate(0)`).
    pub fn clear(&self) {
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Write for CaptureBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps a copy of every record it is given; its clones share the records. For tests of code
/// that logs (and for bridges' own tests): attach it, log, then read [`RecordCollector::records`].
///
/// ```
/// use logwire_engine::{RecordCollector, Handler, LoggerTree};
/// use std::sync::Arc;
/// let tree = LoggerTree::new();
/// let seen = RecordCollector::new();
/// tree.root().add_handler(Arc::new(Handler::new(seen.clone())));
/// tree.get_logger("app").warning("disk almost full");
/// assert_eq!(seen.records()[0].msg, "disk almost full");
/// ```
#[derive(Clone, Debug, Default)]
pub struct RecordCollector {
    records: Arc<Mutex<Vec<LogRecord>>>,
}

impl RecordCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies of every record received so far, in order.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the records received so far.
    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Emitter for RecordCollector {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "logwire.RecordCollector"
    }
}
