//! [`DeliveryQueue`]: the bounded queue and background thread behind [`SMTPHandler`] and
//! [`HTTPHandler`], where every record is its own transaction (one mail, one request).
//!
//! Contract, the same as the socket senders' ([`super::buffer`]) where it applies:
//! * the logging call never touches the network: it renders the message and queues the
//!   bytes; a worker thread delivers them one at a time, in order;
//! * the queue is bounded in **bytes** ([`DEFAULT_QUEUE_BYTES`]): a record that does not fit
//!   is refused at once with an error (the handler's error path prints it as CPython's
//!   `handleError` would) and counted — never waited for, never dropped silently;
//! * a delivery that fails (refused, timed out, a hostile reply) is counted and reported on
//!   stderr at once in `handleError`'s shape with the record's message and arguments, as
//!   CPython's `emit` would report it; the next `flush()` also returns an error naming how
//!   many failed since the last flush. There is no retry: CPython makes one attempt per
//!   record, and a mail or request that may have been half-accepted is not safe to repeat;
//! * `flush()` waits (bounded) until the queue is empty; `close()` delivers what is queued
//!   within its bound, then gives up the rest, counted and reported. A delivery still in
//!   flight then ends by its own deadline (each client bounds its whole session), so no
//!   thread outlives its deadline.
//!
//! [`SMTPHandler`]: super::SMTPHandler
//! [`HTTPHandler`]: super::HTTPHandler

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The default bound on queued message bytes (4 MiB: thousands of typical log mails).
pub const DEFAULT_QUEUE_BYTES: usize = 4 * 1024 * 1024;
/// The largest queue bound accepted.
pub const MAX_QUEUE_BYTES: usize = 1024 * 1024 * 1024;

/// One delivery: the bytes to send, plus what an error report shows of the record.
pub(crate) struct Job {
    pub(crate) payload: Vec<u8>,
    /// `repr(record.msg)`.
    pub(crate) msg_repr: String,
    /// `repr(record.args)`.
    pub(crate) args_repr: String,
}

/// Something that delivers one payload in one bounded transaction.
pub(crate) trait Deliver: Send + Sync + 'static {
    fn deliver(&self, payload: &[u8]) -> Result<(), String>;
}

/// Counters of the delivery queue behind an [`SMTPHandler`](crate::SMTPHandler) or an
/// [`HTTPHandler`](crate::HTTPHandler).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryStats {
    /// Records queued.
    pub enqueued: u64,
    /// Records delivered (the server accepted the mail / answered 2xx).
    pub delivered: u64,
    /// Deliveries that failed (each reported on stderr).
    pub failed: u64,
    /// Records refused because the queue was full.
    pub refused_full: u64,
    /// Records still queued when `close()` gave up.
    pub abandoned: u64,
    /// Bytes queued now.
    pub queued_bytes: u64,
    /// The last delivery error, if any.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    bytes: usize,
    in_flight: bool,
    /// Bumped by `close()`: a worker of an older generation stops after its current job.
    generation: u64,
    worker_running: bool,
    failed_since_flush: u64,
    last_error: Option<String>,
}

struct Shared {
    kind: &'static str,
    state: Mutex<State>,
    changed: Condvar,
    enqueued: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    refused_full: AtomicU64,
    abandoned: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A constructor argument the handler refuses, as CPython's would (an empty recipient list,
/// a line break in a header value, a URL with a space …): the reason, for the config error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidArgument(String);

impl From<String> for InvalidArgument {
    fn from(reason: String) -> Self {
        InvalidArgument(reason)
    }
}

impl From<&str> for InvalidArgument {
    fn from(reason: &str) -> Self {
        InvalidArgument(reason.to_owned())
    }
}

/// Why a record was not queued or a flush did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The queue holds too many bytes to take this record.
    #[error(
        "send queue full ({queued} of {capacity} bytes queued, record of {len} bytes): record \
         dropped"
    )]
    Full {
        /// Bytes queued.
        queued: usize,
        /// The bound.
        capacity: usize,
        /// The refused record's size.
        len: usize,
    },
    /// `flush()` ran out of time with records still queued.
    #[error("flush timed out after {0:?} with {1} records still queued")]
    FlushTimeout(Duration, usize),
    /// Deliveries failed since the last flush (each was reported when it failed).
    #[error("{count} records could not be delivered since the last flush; last error: {last}")]
    Failed {
        /// How many.
        count: u64,
        /// The last error.
        last: String,
    },
    /// The worker thread could not be started.
    #[error("cannot start the sender thread: {0}")]
    Spawn(String),
}

/// The bounded queue and its worker thread.
pub(crate) struct DeliveryQueue {
    shared: Arc<Shared>,
    deliver: Arc<dyn Deliver>,
    capacity: usize,
    flush_timeout: Duration,
    close_timeout: Duration,
}

impl DeliveryQueue {
    pub(crate) fn new(
        kind: &'static str,
        deliver: Arc<dyn Deliver>,
        capacity: usize,
        flush_timeout: Duration,
        close_timeout: Duration,
    ) -> Self {
        DeliveryQueue {
            shared: Arc::new(Shared {
                kind,
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
                enqueued: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                refused_full: AtomicU64::new(0),
                abandoned: AtomicU64::new(0),
            }),
            deliver,
            capacity,
            flush_timeout,
            close_timeout,
        }
    }

    /// Queues one job; starts the worker if none runs (the first emit, or after `close()`,
    /// as CPython's handlers work again after `close()`).
    /// A handler's `emit`: queues `payload` for `record`, with the record's reprs kept for the
    /// report of a failed delivery; a refusal is the handler's error.
    pub(crate) fn submit(
        &self,
        payload: Vec<u8>,
        record: &logwire_engine::LogRecord,
    ) -> Result<(), logwire_engine::HandlerError> {
        let (msg_repr, args_repr) = record_reprs(record);
        self.push(Job {
            payload,
            msg_repr,
            args_repr,
        })
        .map_err(handler_error)
    }

    /// A handler's `flush`: [`flush`](Self::flush) with its error as the handler's.
    pub(crate) fn flush_handler(&self) -> Result<(), logwire_engine::HandlerError> {
        self.flush().map_err(handler_error)
    }

    pub(crate) fn push(&self, job: Job) -> Result<(), DeliveryError> {
        let mut st = self.shared.lock();
        let len = job.payload.len();
        if st.bytes + len > self.capacity {
            self.shared.refused_full.fetch_add(1, Ordering::Relaxed);
            return Err(DeliveryError::Full {
                queued: st.bytes,
                capacity: self.capacity,
                len,
            });
        }
        if !st.worker_running {
            let shared = Arc::clone(&self.shared);
            let deliver = Arc::clone(&self.deliver);
            let generation = st.generation;
            std::thread::Builder::new()
                .name(format!("logwire-{}", short_kind(self.shared.kind)))
                .spawn(move || run(shared, deliver, generation))
                .map_err(|e| DeliveryError::Spawn(e.to_string()))?;
            st.worker_running = true;
        }
        st.bytes += len;
        st.queue.push_back(job);
        self.shared.enqueued.fetch_add(1, Ordering::Relaxed);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Waits until nothing is queued or in flight (at most `flush_timeout`), then reports
    /// the deliveries that failed since the last flush.
    pub(crate) fn flush(&self) -> Result<(), DeliveryError> {
        let deadline = Instant::now() + self.flush_timeout;
        let mut st = self.shared.lock();
        while (!st.queue.is_empty() || st.in_flight) && st.worker_running {
            let now = Instant::now();
            if now >= deadline {
                return Err(DeliveryError::FlushTimeout(
                    self.flush_timeout,
                    st.queue.len() + usize::from(st.in_flight),
                ));
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let count = std::mem::take(&mut st.failed_since_flush);
        if count > 0 {
            return Err(DeliveryError::Failed {
                count,
                last: st.last_error.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Delivers what is queued within `close_timeout`, then gives up the rest (counted and
    /// reported) and stops the worker.
    pub(crate) fn close(&self) {
        let deadline = Instant::now() + self.close_timeout;
        let mut st = self.shared.lock();
        while (!st.queue.is_empty() || st.in_flight) && st.worker_running {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let left = st.queue.len();
        st.queue.clear();
        st.bytes = 0;
        st.generation += 1;
        st.worker_running = false;
        // A delivery still in flight belongs to the old worker now; it ends by its deadline.
        st.in_flight = false;
        self.shared.changed.notify_all();
        drop(st);
        if left > 0 {
            self.shared
                .abandoned
                .fetch_add(left as u64, Ordering::Relaxed);
            eprintln!(
                "--- Logging error ---\n{} closed with {left} records not delivered within {:?}; \
                 they are lost",
                self.shared.kind, self.close_timeout
            );
        }
    }

    pub(crate) fn stats(&self) -> DeliveryStats {
        let st = self.shared.lock();
        DeliveryStats {
            enqueued: self.shared.enqueued.load(Ordering::Relaxed),
            delivered: self.shared.delivered.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            refused_full: self.shared.refused_full.load(Ordering::Relaxed),
            abandoned: self.shared.abandoned.load(Ordering::Relaxed),
            queued_bytes: st.bytes as u64,
            last_error: st.last_error.clone(),
        }
    }
}

impl Drop for DeliveryQueue {
    fn drop(&mut self) {
        // Never wait on the network in a destructor (close() is the bounded, delivering
        // stop): stop the worker, and say what is given up so that it is not lost silently.
        let mut st = self.shared.lock();
        st.generation += 1;
        let left = st.queue.len();
        st.queue.clear();
        st.bytes = 0;
        self.shared.changed.notify_all();
        drop(st);
        if left > 0 {
            self.shared
                .abandoned
                .fetch_add(left as u64, Ordering::Relaxed);
            eprintln!(
                "--- Logging error ---\n{} dropped without close() with {left} records not \
                 delivered; they are lost",
                self.shared.kind
            );
        }
    }
}

fn short_kind(kind: &str) -> &str {
    kind.rsplit('.').next().unwrap_or(kind)
}

fn run(shared: Arc<Shared>, deliver: Arc<dyn Deliver>, generation: u64) {
    loop {
        let job = {
            let mut st = shared.lock();
            loop {
                if st.generation != generation {
                    return;
                }
                if let Some(job) = st.queue.pop_front() {
                    st.bytes -= job.payload.len();
                    st.in_flight = true;
                    break job;
                }
                st = shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = deliver.deliver(&job.payload);
        let mut st = shared.lock();
        if st.generation == generation {
            st.in_flight = false;
        }
        match result {
            Ok(()) => {
                shared.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                st.failed_since_flush += 1;
                // CPython's handleError: the error, then the record's msg and args.
                eprintln!(
                    "--- Logging error ---\n{} could not deliver a record: {e}\nMessage: {}\nArguments: {}",
                    shared.kind, job.msg_repr, job.args_repr
                );
                st.last_error = Some(e);
            }
        }
        shared.changed.notify_all();
    }
}

/// `repr(record.msg)` and `repr(record.args)` for error reports.
pub(crate) fn record_reprs(record: &logwire_engine::LogRecord) -> (String, String) {
    (
        logwire_engine::Value::Str(record.msg.clone()).py_repr(),
        args_value(&record.args).py_repr(),
    )
}

/// `record.args` as the Python value CPython keeps: `()` for none, the tuple, or the dict.
pub(crate) fn args_value(args: &logwire_engine::Args) -> logwire_engine::Value {
    use logwire_engine::{Args, Value};
    match args {
        Args::None => Value::Tuple(vec![]),
        Args::Tuple(items) => Value::Tuple(items.clone()),
        Args::Mapping(items) => Value::Dict(
            items
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                .collect(),
        ),
    }
}

/// A queue's refusal or failed flush, as the handler reports it.
pub(crate) fn handler_error(e: DeliveryError) -> logwire_engine::HandlerError {
    logwire_engine::HandlerError::Invalid(e.to_string())
}
