//! `QueueHandler`: CPython's `QueueHandler` and `QueueListener` as one handler. The logging
//! call only prepares and enqueues a copy of the record; a worker thread hands records to
//! the target handlers.
//!
//! ```
//! use logwire_engine::handler::{CaptureBuffer, QueueHandler, QueueOptions, StreamHandler};
//! use logwire_engine::{Handler, LogRecord};
//! use std::sync::Arc;
//! let out = CaptureBuffer::new();
//! let target = Arc::new(Handler::new(StreamHandler::new(out.clone())));
//! let queue = Handler::new(QueueHandler::new(vec![target], QueueOptions::default()).unwrap());
//! queue.handle(&LogRecord::new("app", 20, "x.rs", 1, "queued"));
//! queue.flush(); // waits until the worker has handled and flushed it
//! assert_eq!(out.contents(), "queued\n");
//! queue.close();
//! ```

use super::util::set_batching;
use super::{Emitter, Handler, HandlerError};
use crate::format::Formatter;
use crate::level;
use crate::record::{Args, LogRecord};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// The default queue capacity.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// The largest queue capacity accepted.
pub const MAX_QUEUE_CAPACITY: usize = 10_000_000;
/// The logger name of the in-band "N records dropped" notice.
pub const DROP_NOTICE_LOGGER: &str = "logwire.queue";

/// What the logging call does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Wait for space: nothing is lost, the caller may be slowed down.
    #[default]
    Block,
    /// Never wait: the record is dropped and counted, and once space returns the targets get
    /// one WARNING record `"N records dropped"` from logger `logwire.queue`.
    Drop,
}

/// The parameters of a [`QueueHandler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// Records the queue holds (1 ..= [`MAX_QUEUE_CAPACITY`]; default
    /// [`DEFAULT_QUEUE_CAPACITY`]).
    pub capacity: usize,
    /// What happens when it is full.
    pub policy: OverflowPolicy,
    /// CPython's `respect_handler_level`: skip targets whose level is above the record's.
    pub respect_handler_level: bool,
    /// Close the targets on `close()`. CPython's `QueueListener.stop()` does not (targets are
    /// handlers in their own right, closed at shutdown); off by default.
    pub close_targets: bool,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            capacity: DEFAULT_QUEUE_CAPACITY,
            policy: OverflowPolicy::Block,
            respect_handler_level: false,
            close_targets: false,
        }
    }
}

enum Msg {
    Record(Box<LogRecord>),
    /// The in-band "N records dropped" notice.
    Notice(u64),
    /// Handle everything before this, flush the targets, then answer.
    Flush(Sender<()>),
}

struct Shared {
    targets: Vec<Arc<Handler>>,
    respect_handler_level: bool,
    enqueued: AtomicU64,
    handled: AtomicU64,
    dropped: AtomicU64,
    /// Drops not yet announced in-band.
    unannounced: AtomicU64,
}

impl Shared {
    fn handle(&self, record: &LogRecord) {
        for h in &self.targets {
            if self.respect_handler_level && record.levelno < h.level() {
                continue;
            }
            // A panicking target must not kill the worker (and with it the queue).
            if catch_unwind(AssertUnwindSafe(|| h.handle(record))).is_err() {
                eprintln!(
                    "--- Logging error ---\nqueue target {h:?} panicked while handling a record"
                );
            }
        }
    }

    fn announce_drops(&self) {
        let n = self.unannounced.swap(0, Ordering::AcqRel);
        if n > 0 {
            self.handle(&drop_notice(n));
        }
    }

    /// Makes what the targets were handed durable ([`Handler::sync`]): not their logging
    /// `flush()`, which would empty a MemoryHandler target whenever the queue ran empty.
    fn flush_targets(&self) {
        for h in &self.targets {
            if catch_unwind(AssertUnwindSafe(|| h.sync())).is_err() {
                eprintln!("--- Logging error ---\nqueue target {h:?} panicked while flushing");
            }
        }
    }

    fn process(&self, msg: Msg) {
        match msg {
            Msg::Record(r) => {
                self.handle(&r);
                self.handled.fetch_add(1, Ordering::Release);
            }
            Msg::Notice(n) => self.handle(&drop_notice(n)),
            Msg::Flush(ack) => {
                self.announce_drops();
                self.flush_targets();
                let _ = ack.send(());
            }
        }
    }

    /// The worker: handles records in order, in batches; flushes targets when the queue
    /// runs empty. Ends when every sender is gone and the queue is drained.
    fn run(&self, rx: Receiver<Msg>) {
        set_batching(true);
        while let Ok(msg) = rx.recv() {
            self.process(msg);
            while let Ok(msg) = rx.try_recv() {
                self.process(msg);
            }
            self.announce_drops();
            self.flush_targets();
        }
        self.announce_drops();
        self.flush_targets();
    }
}

fn drop_notice(n: u64) -> LogRecord {
    LogRecord::new(
        DROP_NOTICE_LOGGER,
        level::WARNING,
        "",
        0,
        format!("{n} records dropped"),
    )
}

/// CPython's `QueueHandler(queue)` with its `QueueListener(queue, *handlers,
/// respect_handler_level)`, started at construction.
///
/// `emit` runs CPython's `prepare` (a copy of the record whose `msg` is the record formatted
/// with this handler's formatter; `args`, `exc_text` and `stack_info` cleared) and enqueues
/// it; it does no I/O. The queue is bounded; see [`OverflowPolicy`]. A worker thread passes
/// each record to every target's `handle` (applying the target's level only with
/// `respect_handler_level`, as CPython), letting file and stream targets batch their writes
/// until the queue runs empty. `flush()` returns once everything enqueued before it is
/// handled and flushed; `close()` (also run on drop) drains the queue, flushes the targets
/// and joins the worker: nothing enqueued is lost. Emits after `close()` fail with
/// [`HandlerError::Closed`].
pub struct QueueHandler {
    shared: Arc<Shared>,
    policy: OverflowPolicy,
    capacity: usize,
    close_targets: bool,
    tx: RwLock<Option<Sender<Msg>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    worker_id: std::thread::ThreadId,
}

impl QueueHandler {
    /// Builds the handler and starts its worker.
    pub fn new(targets: Vec<Arc<Handler>>, options: QueueOptions) -> Result<Self, HandlerError> {
        if options.capacity == 0 || options.capacity > MAX_QUEUE_CAPACITY {
            return Err(HandlerError::Invalid(format!(
                "queue capacity {} is out of range (1 to {MAX_QUEUE_CAPACITY})",
                options.capacity
            )));
        }
        let shared = Arc::new(Shared {
            targets,
            respect_handler_level: options.respect_handler_level,
            enqueued: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            unannounced: AtomicU64::new(0),
        });
        let (tx, rx) = crossbeam_channel::bounded(options.capacity);
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("logwire-queue".to_owned())
            .spawn(move || worker_shared.run(rx))
            .map_err(|e| HandlerError::io("cannot start the queue worker thread", e))?;
        Ok(QueueHandler {
            worker_id: worker.thread().id(),
            shared,
            policy: options.policy,
            capacity: options.capacity,
            close_targets: options.close_targets,
            tx: RwLock::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Records accepted into the queue.
    pub fn enqueued(&self) -> u64 {
        self.shared.enqueued.load(Ordering::Acquire)
    }

    /// Records the worker has passed to the targets.
    pub fn handled(&self) -> u64 {
        self.shared.handled.load(Ordering::Acquire)
    }

    /// Records dropped because the queue was full ([`OverflowPolicy::Drop`]).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Acquire)
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The overflow policy.
    pub fn policy(&self) -> OverflowPolicy {
        self.policy
    }

    /// The target handlers.
    pub fn targets(&self) -> &[Arc<Handler>] {
        &self.shared.targets
    }

    /// Messages waiting in the queue now.
    pub fn queued(&self) -> usize {
        self.tx
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, Sender::len)
    }

    /// CPython's `prepare`: a copy with the message merged by `formatter`.
    fn prepare(record: &LogRecord, formatter: &Formatter) -> Result<LogRecord, HandlerError> {
        let msg = formatter.try_format(record)?;
        Ok(LogRecord {
            msg,
            args: Args::None,
            exc_text: None,
            stack_info: None,
            ..record.clone()
        })
    }

    fn is_worker_thread(&self) -> bool {
        self.worker_id == std::thread::current().id()
    }
}

impl Emitter for QueueHandler {
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let prepared = Box::new(Self::prepare(record, formatter)?);
        let guard = self.tx.read().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Err(HandlerError::Closed);
        };
        let s = &self.shared;
        match self.policy {
            OverflowPolicy::Block => {
                s.enqueued.fetch_add(1, Ordering::AcqRel);
                if tx.send(Msg::Record(prepared)).is_err() {
                    s.enqueued.fetch_sub(1, Ordering::AcqRel);
                    return Err(HandlerError::Closed);
                }
            }
            OverflowPolicy::Drop => {
                // Space may be back: announce earlier drops in-band, in order.
                let n = s.unannounced.swap(0, Ordering::AcqRel);
                if n > 0 && tx.try_send(Msg::Notice(n)).is_err() {
                    s.unannounced.fetch_add(n, Ordering::AcqRel);
                }
                s.enqueued.fetch_add(1, Ordering::AcqRel);
                match tx.try_send(Msg::Record(prepared)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        s.enqueued.fetch_sub(1, Ordering::AcqRel);
                        s.dropped.fetch_add(1, Ordering::AcqRel);
                        s.unannounced.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        s.enqueued.fetch_sub(1, Ordering::AcqRel);
                        return Err(HandlerError::Closed);
                    }
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), HandlerError> {
        if self.is_worker_thread() {
            // A target flushing its own queue from the worker would wait for itself.
            return Ok(());
        }
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(1);
        {
            let guard = self.tx.read().unwrap_or_else(|e| e.into_inner());
            let Some(tx) = guard.as_ref() else {
                return Ok(());
            };
            if tx.send(Msg::Flush(ack_tx)).is_err() {
                return Err(HandlerError::Closed);
            }
        }
        ack_rx.recv().map_err(|_| HandlerError::Closed)
    }

    fn close(&self) {
        // Dropping the only sender lets the worker drain what is queued and stop.
        let tx = self.tx.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(tx);
        if self.is_worker_thread() {
            return;
        }
        // Joined under the lock, so a concurrent close() returns only once all is drained.
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = worker.take()
            && w.join().is_err()
        {
            eprintln!("--- Logging error ---\nthe queue worker thread panicked");
        }
        if self.close_targets {
            for h in &self.shared.targets {
                h.close();
            }
        }
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.QueueHandler"
    }
}

impl Drop for QueueHandler {
    fn drop(&mut self) {
        self.close();
    }
}
