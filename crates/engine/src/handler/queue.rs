//! `QueueHandler`: CPython's `QueueHandler` and `QueueListener` as one handler. The logging
//! call only prepares and enqueues a copy of the record; a worker thread hands records to
//! the target handlers.
//!
//! Cost contract: the record is formatted once (`prepare()`, skipped for the default
//! `%(message)s` formatter when there is nothing to merge) and copied once into one text
//! buffer; buffers return to the caller through a pool, so a warm queue allocates nothing
//! per record and frees nothing on another thread. Budget: at most `capacity` records and
//! `max_bytes` bytes wait at once (a burst of large records is bounded by its bytes).
//!
//! ```
//! use logwire_engine::{CaptureBuffer, QueueHandler, QueueOptions, StreamHandler, Handler, LogRecord};
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
use crate::value::Value;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The default queue capacity.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// The largest queue capacity accepted.
pub const MAX_QUEUE_CAPACITY: usize = 10_000_000;
/// The default bound on the bytes of the records in the queue (16 MiB).
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;
/// The largest byte bound accepted (1 GiB).
pub const MAX_QUEUE_BYTES: usize = 1 << 30;
/// Records kept for reuse: enough for the worker to hand them back in bursts; a record whose
/// buffers grew past [`RECYCLE_LIMIT`] is freed instead, so the pool stays small.
const POOL_SIZE: usize = 1024;
/// The largest record (in bytes, [`LogRecord::approx_bytes`]) put back into the pool.
const RECYCLE_LIMIT: usize = 16 << 10;
/// The logger name of the in-band "N records dropped" notice.
pub const DROP_NOTICE_LOGGER: &str = "logwire.queue";

/// What the logging call does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Bytes the queued records may hold together ([`LogRecord::approx_bytes`]; 1 ..=
    /// [`MAX_QUEUE_BYTES`], default [`DEFAULT_QUEUE_BYTES`]): the bound that keeps a burst
    /// of large records from holding `capacity` times their size. A record larger than the
    /// whole bound is still accepted when the queue is empty, so nothing is unloggable.
    pub max_bytes: usize,
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
            max_bytes: DEFAULT_QUEUE_BYTES,
            policy: OverflowPolicy::Block,
            respect_handler_level: false,
            close_targets: false,
        }
    }
}

/// A record as it waits in the queue: CPython's prepared copy (`msg` formatted, `args`,
/// `exc_text` and `stack_info` cleared), with all its text in one buffer. One allocation per
/// record when cold and none once the pool is warm (a boxed `LogRecord` copy needs one per
/// string); the worker copies it into one reused `LogRecord` to hand to the targets.
#[derive(Default)]
struct Prepared {
    /// `name`, `msg`, `levelname`, `pathname`, `filename`, `module`, then the optional
    /// `funcName`, `threadName`, `processName`, `taskName` (empty when absent).
    text: String,
    /// Where each of the ten texts ends in `text`.
    ends: [usize; 10],
    /// Which of the four optional texts are present (bit 0 = `funcName` …).
    present: u8,
    levelno: i32,
    lineno: i64,
    created: f64,
    msecs: f64,
    relative_created: f64,
    thread: Option<u64>,
    process: Option<u32>,
    extra: Vec<(String, Value)>,
}

impl Prepared {
    /// CPython's `prepare` into this (reused) buffer: `msg` is `record` formatted by
    /// `formatter`. With the default `%(message)s` formatter and nothing to merge (no args,
    /// exception or stack), the formatted text is `msg` itself and the formatter is skipped.
    fn fill(&mut self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let text = &mut self.text;
        text.clear();
        // One allocation for a cold buffer: the texts' total (the formatted message may add
        // to it), not a growth step per field.
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        text.reserve(
            record.name.len()
                + record.msg.len()
                + record.levelname.len()
                + record.pathname.len()
                + record.filename.len()
                + record.module.len()
                + opt(&record.func_name)
                + opt(&record.thread_name)
                + opt(&record.process_name)
                + opt(&record.task_name),
        );
        let mut i = 0;
        let mut end = |text: &String, ends: &mut [usize; 10]| {
            ends[i] = text.len();
            i += 1;
        };
        text.push_str(&record.name);
        end(text, &mut self.ends);
        let plain = matches!(record.args, Args::None)
            && record.exc_text.is_none()
            && record.stack_info.is_none()
            && formatter.is_message_only();
        if plain {
            text.push_str(&record.msg);
        } else {
            formatter.try_format_into(record, text)?;
        }
        end(text, &mut self.ends);
        for s in [
            &record.levelname,
            &record.pathname,
            &record.filename,
            &record.module,
        ] {
            text.push_str(s);
            end(text, &mut self.ends);
        }
        self.present = 0;
        for (bit, s) in [
            &record.func_name,
            &record.thread_name,
            &record.process_name,
            &record.task_name,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(s) = s {
                text.push_str(s);
                self.present |= 1 << bit;
            }
            end(text, &mut self.ends);
        }
        self.levelno = record.levelno;
        self.lineno = record.lineno;
        self.created = record.created;
        self.msecs = record.msecs;
        self.relative_created = record.relative_created;
        self.thread = record.thread;
        self.process = record.process;
        self.extra.clone_from(&record.extra);
        Ok(())
    }

    /// What [`LogRecord::approx_bytes`] says of the prepared record.
    fn approx_bytes(&self) -> usize {
        std::mem::size_of::<LogRecord>()
            + self.text.len()
            + self
                .extra
                .iter()
                .map(|(k, v)| k.len() + v.approx_bytes())
                .sum::<usize>()
    }

    /// Makes `out` the prepared record, reusing its buffers.
    fn copy_into(&self, out: &mut LogRecord) {
        let mut start = 0;
        let mut next = |i: usize| {
            let s = &self.text[start..self.ends[i]];
            start = self.ends[i];
            s
        };
        fn set(dst: &mut String, s: &str) {
            dst.clear();
            dst.push_str(s);
        }
        set(&mut out.name, next(0));
        set(&mut out.msg, next(1));
        set(&mut out.levelname, next(2));
        set(&mut out.pathname, next(3));
        set(&mut out.filename, next(4));
        set(&mut out.module, next(5));
        for (bit, dst) in [
            &mut out.func_name,
            &mut out.thread_name,
            &mut out.process_name,
            &mut out.task_name,
        ]
        .into_iter()
        .enumerate()
        {
            let s = next(6 + bit);
            if self.present & (1 << bit) == 0 {
                *dst = None;
            } else if let Some(d) = dst {
                set(d, s);
            } else {
                *dst = Some(s.to_owned());
            }
        }
        out.args = Args::None;
        out.exc_text = None;
        out.stack_info = None;
        out.levelno = self.levelno;
        out.lineno = self.lineno;
        out.created = self.created;
        out.msecs = self.msecs;
        out.relative_created = self.relative_created;
        out.thread = self.thread;
        out.process = self.process;
        out.extra.clone_from(&self.extra);
    }
}

enum Msg {
    /// A prepared record and the bytes it holds in the budget.
    Record(Box<Prepared>, usize),
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
    /// Bytes of the records in the queue now, and the bound on them.
    bytes: AtomicUsize,
    max_bytes: usize,
    /// Bytes of all records accepted, for [`Handler::stats`](super::Handler::stats).
    bytes_enqueued: AtomicU64,
    /// Callers waiting for bytes to free up ([`OverflowPolicy::Block`]); the worker takes
    /// the lock and wakes them only when this is non-zero, so the common case costs a load.
    waiters: AtomicUsize,
    space: Mutex<()>,
    space_freed: Condvar,
    /// Emptied records for the logging call to refill ([`LogRecord`]'s strings keep their
    /// buffers): the queue allocates nothing per record once warm, and memory is not
    /// allocated on one thread and freed on another.
    free_tx: Sender<Box<Prepared>>,
    free_rx: Receiver<Box<Prepared>>,
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

    /// Takes `size` bytes of the budget; with `wait`, waits until they fit (a record larger
    /// than the whole budget fits an empty queue). Returns false if they do not fit now and
    /// `wait` is off.
    fn reserve(&self, size: usize, wait: bool) -> bool {
        let fits = |cur: usize| cur == 0 || cur.saturating_add(size) <= self.max_bytes;
        let take = || {
            self.bytes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                    fits(cur).then(|| cur + size)
                })
                .is_ok()
        };
        if take() {
            return true;
        }
        if !wait {
            return false;
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = self.space.lock().unwrap_or_else(|e| e.into_inner());
        while !take() {
            // The worker wakes us after freeing bytes; the timeout is only a backstop.
            guard = self
                .space_freed
                .wait_timeout(guard, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        true
    }

    fn release(&self, size: usize) {
        self.bytes.fetch_sub(size, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // Taking the lock orders this wake after a waiter's last check.
            let _guard = self.space.lock().unwrap_or_else(|e| e.into_inner());
            self.space_freed.notify_all();
        }
    }

    /// `scratch` is the worker's one record, refilled from each [`Prepared`]: handing records
    /// to the targets allocates nothing once its buffers have grown.
    fn process(&self, msg: Msg, scratch: &mut LogRecord) {
        match msg {
            Msg::Record(r, size) => {
                r.copy_into(scratch);
                self.handle(scratch);
                self.handled.fetch_add(1, Ordering::Release);
                self.release(size);
                if size <= RECYCLE_LIMIT {
                    let _ = self.free_tx.try_send(r);
                }
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
        let mut scratch = LogRecord::empty();
        while let Ok(msg) = rx.recv() {
            self.process(msg, &mut scratch);
            while let Ok(msg) = rx.try_recv() {
                self.process(msg, &mut scratch);
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
/// it; it does no I/O. The queue is bounded in records ([`QueueOptions::capacity`]) and in
/// bytes ([`QueueOptions::max_bytes`]); see [`OverflowPolicy`] for what happens when full. A worker thread passes
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
        if options.max_bytes == 0 || options.max_bytes > MAX_QUEUE_BYTES {
            return Err(HandlerError::Invalid(format!(
                "queue byte bound {} is out of range (1 to {MAX_QUEUE_BYTES})",
                options.max_bytes
            )));
        }
        let (free_tx, free_rx) = crossbeam_channel::bounded(POOL_SIZE.min(options.capacity));
        let shared = Arc::new(Shared {
            targets,
            respect_handler_level: options.respect_handler_level,
            enqueued: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            unannounced: AtomicU64::new(0),
            bytes: AtomicUsize::new(0),
            max_bytes: options.max_bytes,
            bytes_enqueued: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            space: Mutex::new(()),
            space_freed: Condvar::new(),
            free_tx,
            free_rx,
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

    /// Bytes of the records in the queue now ([`QueueOptions::max_bytes`] bounds it).
    pub fn queued_bytes(&self) -> usize {
        self.shared.bytes.load(Ordering::Acquire)
    }

    /// Bytes of all records accepted so far ([`LogRecord::approx_bytes`] of each).
    pub fn bytes_enqueued(&self) -> u64 {
        self.shared.bytes_enqueued.load(Ordering::Relaxed)
    }

    /// CPython's `prepare`, into a buffer the worker handed back when there is one.
    fn prepare(
        &self,
        record: &LogRecord,
        formatter: &Formatter,
    ) -> Result<Box<Prepared>, HandlerError> {
        let mut prepared = self.shared.free_rx.try_recv().unwrap_or_default();
        prepared.fill(record, formatter)?;
        Ok(prepared)
    }

    fn is_worker_thread(&self) -> bool {
        self.worker_id == std::thread::current().id()
    }
}

impl Emitter for QueueHandler {
    /// Bytes of the prepared records accepted ([`LogRecord::approx_bytes`]).
    fn bytes_emitted(&self) -> Option<u64> {
        Some(self.bytes_enqueued())
    }
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let prepared = self.prepare(record, formatter)?;
        let size = prepared.approx_bytes();
        let guard = self.tx.read().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Err(HandlerError::Closed);
        };
        let s = &self.shared;
        match self.policy {
            OverflowPolicy::Block => {
                // The worker never waits for itself: a target logging back into this queue
                // from the worker goes over the byte bound rather than deadlock.
                if !s.reserve(size, !self.is_worker_thread()) {
                    s.bytes.fetch_add(size, Ordering::SeqCst);
                }
                s.enqueued.fetch_add(1, Ordering::AcqRel);
                s.bytes_enqueued.fetch_add(size as u64, Ordering::Relaxed);
                if tx.send(Msg::Record(prepared, size)).is_err() {
                    s.enqueued.fetch_sub(1, Ordering::AcqRel);
                    s.release(size);
                    return Err(HandlerError::Closed);
                }
            }
            OverflowPolicy::Drop => {
                // Space may be back: announce earlier drops in-band, in order.
                let n = s.unannounced.swap(0, Ordering::AcqRel);
                if n > 0 && tx.try_send(Msg::Notice(n)).is_err() {
                    s.unannounced.fetch_add(n, Ordering::AcqRel);
                }
                if !s.reserve(size, false) {
                    s.dropped.fetch_add(1, Ordering::AcqRel);
                    s.unannounced.fetch_add(1, Ordering::AcqRel);
                    let _ = s.free_tx.try_send(prepared);
                    return Ok(());
                }
                s.enqueued.fetch_add(1, Ordering::AcqRel);
                match tx.try_send(Msg::Record(prepared, size)) {
                    Ok(()) => {
                        s.bytes_enqueued.fetch_add(size as u64, Ordering::Relaxed);
                    }
                    Err(TrySendError::Full(_)) => {
                        s.enqueued.fetch_sub(1, Ordering::AcqRel);
                        s.release(size);
                        s.dropped.fetch_add(1, Ordering::AcqRel);
                        s.unannounced.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        s.enqueued.fetch_sub(1, Ordering::AcqRel);
                        s.release(size);
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
