//! [`NatsHandler`]: the emitter behind `logwire.NATSHandler` (contracts in the parent module).
//!
//! `emit` runs on the caller's thread (the collector's dispatcher) and only queues; one worker
//! thread of its own, with a single-threaded tokio runtime, connects, creates the stream and
//! publishes. They share one mutex-guarded state: the queue of messages not yet sent, the
//! seqs not yet acknowledged, and the bytes both hold (the bound `emit` waits on).
//!
//! Batching: `emit` appends an *unsigned* record to the newest queued message while that one
//! is unsent, unsigned and for the same subject (their JSON objects, one per line), up to
//! `batch_records` records and `max_message` bytes (at most 256 KiB); otherwise it queues a
//! new message. JetStream's cost is per message, on the server and in the client, so one
//! message per record held the stream to ~0.1 M records/s. The JSON is written into a
//! per-thread buffer and copied once into its message. A message is *sealed* once it has been sent: a retry sends the same
//! records under the same `Nats-Msg-Id` (`lwu.<instance>.<first seq>+<count>`, unique because
//! each record is in exactly one sealed message), so the stream's duplicate window still
//! drops a republished batch. Signed records stay one per message: a sender resends them
//! after a collector restart, to a collector that would batch them differently, and only a
//! per-record id (`lw1.<key>.<epoch>.<seq>`) lets the stream drop those duplicates.

use super::json::{MsgId, write_record_json};
use super::subject::SubjectTemplate;
use crate::{ConnectionProblems, NatsConnect};
use async_nats::jetstream::{self, message::PublishMessage};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
use logwire_wire::Epoch;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Default bound of the records waiting for JetStream, in bytes of their JSON.
pub const DEFAULT_BUFFER_BYTES: usize = 64 << 20;
/// Default number of publishes awaiting their ack at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4096;
/// Default largest message: NATS's default `max_payload` (1 MiB).
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;
/// Default most records per message (unsigned records only; see the module docs).
pub const DEFAULT_BATCH_RECORDS: usize = 256;
/// Most bytes a batch of records makes, whatever `max_message` allows: a consumer fetches
/// whole messages, so this bounds what one fetched message costs it.
const BATCH_BYTES: usize = 256 << 10;

/// Settings of a [`NatsHandler`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NatsHandlerOptions {
    /// Servers and credentials.
    pub connect: NatsConnect,
    /// Where records go.
    pub subject: SubjectTemplate,
    /// The stream to create (file storage, the subject's filter) if it does not exist; with
    /// `None` an existing stream must hold the subject.
    pub stream: Option<String>,
    /// Bound of the records not yet acknowledged, in bytes.
    pub buffer_bytes: usize,
    /// Publishes awaiting their ack at once.
    pub max_in_flight: usize,
    /// Largest JSON message; a larger record is refused at `emit`.
    pub max_message: usize,
    /// Most unsigned records one message carries (1: one message per record).
    pub batch_records: usize,
    /// How long one publish waits for its ack before it is sent again.
    pub ack_timeout: Duration,
    /// How long `close` waits for unacknowledged records.
    pub close_timeout: Duration,
}

impl NatsHandlerOptions {
    /// Options with the defaults above.
    pub fn new(connect: NatsConnect, subject: SubjectTemplate) -> Self {
        NatsHandlerOptions {
            connect,
            subject,
            stream: None,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_message: DEFAULT_MAX_MESSAGE,
            batch_records: DEFAULT_BATCH_RECORDS,
            ack_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of a [`NatsHandler`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsHandlerStats {
    /// Records queued by `emit`.
    pub queued: u64,
    /// Records JetStream acknowledged (stored, or recognised as duplicates).
    pub acked: u64,
    /// Of those, acknowledged as duplicates (dropped by the stream's `Nats-Msg-Id` window).
    pub duplicates: u64,
    /// Messages JetStream acknowledged (a message carries one or more records).
    pub messages: u64,
    /// Publishes sent again after an error or a timeout.
    pub retries: u64,
    /// `emit` calls that had to wait for room in the buffer.
    pub blocked: u64,
    /// Records refused at `emit` (larger than `max_message`).
    pub refused: u64,
    /// Records still unacknowledged when the handler closed, and records emitted after it
    /// closed (reported on stderr, the latter once).
    pub undelivered: u64,
    /// Bytes waiting now (queued or in flight).
    pub buffered_bytes: u64,
    /// The most bytes ever waiting.
    pub peak_buffered_bytes: u64,
}

/// One message: a record, or a batch of unsigned records that `emit` appends to while it is
/// the newest queued and unsent.
struct Msg {
    /// The handler seq of its first record (its identity in `State::unacked`).
    first: u64,
    /// Records in it.
    count: usize,
    subject: String,
    /// The `Nats-Msg-Id` the record came with (a signed record's); `None` for records whose
    /// id is this handler's own, made from `first` and `count` when the message is sealed.
    fixed_id: Option<String>,
    /// One JSON object per record, one per line.
    payload: Vec<u8>,
    /// Bytes counted in `State::bytes` for it.
    charge: usize,
    /// Sent at least once: its records and id are fixed (see the module docs).
    sealed: Option<(String, Bytes)>,
}

impl Msg {
    /// Whether an unsigned record for `subject`, `len` bytes of JSON, may join this message.
    fn can_take(&self, subject: &str, len: usize, records: usize, bytes: usize) -> bool {
        self.sealed.is_none()
            && self.fixed_id.is_none()
            && self.count < records
            && self.payload.len() + 1 + len <= bytes
            && self.subject == subject
    }

    /// Fixes its id and payload (idempotent): from now on it is resent as it is.
    fn seal(&mut self, instance: Epoch) -> (String, Bytes) {
        if self.sealed.is_none() {
            let id = match &self.fixed_id {
                Some(id) => id.clone(),
                None if self.count > 1 => MsgId::Batch {
                    instance,
                    first: self.first,
                    count: self.count as u64,
                }
                .header(),
                None => MsgId::Local {
                    instance,
                    seq: self.first,
                }
                .header(),
            };
            let mut payload = std::mem::take(&mut self.payload);
            trim(&mut payload);
            self.sealed = Some((id, Bytes::from(payload)));
        }
        self.sealed.clone().expect("sealed above")
    }
}

/// Payload buffers kept for new batches (see `State::spare`).
const SPARE_BUFFERS: usize = 8;

/// Gives back most of a payload's room when it holds under a quarter of it: a recycled
/// batch buffer then never holds more than about four times its records' bytes.
fn trim(payload: &mut Vec<u8>) {
    if payload.len() < payload.capacity() / 4 {
        payload.shrink_to_fit();
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Msg>,
    /// Emptied payloads of acknowledged batches, at most `SPARE_BUFFERS`, for the next
    /// batches: a fresh 100-KiB buffer per message cost a page fault and a zeroed page per
    /// 4 KiB, 15 % of the dispatcher's time at 650 k records/s.
    spare: Vec<Vec<u8>>,
    /// Messages not yet acknowledged: their first record's seq → their record count.
    unacked: BTreeMap<u64, usize>,
    bytes: usize,
    peak: usize,
    next_seq: u64,
    /// Bytes queued since the worker was last woken (see `publish`).
    unannounced: usize,
    closing: bool,
    stopped: bool,
    /// Set by `stop_waiting`: waits for acks end at once, and the worker stops as soon as
    /// the handler closes, with publishes still in flight.
    hurry: bool,
    last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    queued: AtomicU64,
    acked: AtomicU64,
    duplicates: AtomicU64,
    messages: AtomicU64,
    retries: AtomicU64,
    blocked: AtomicU64,
    refused: AtomicU64,
    undelivered: AtomicU64,
    /// Records emitted after the handler closed (part of `undelivered`).
    after_close: AtomicU64,
}

struct Shared {
    state: Mutex<State>,
    /// Emitters waiting for room, `sync` and `close` waiting for acks.
    changed: Condvar,
    /// Wakes the worker when records are queued or the handler closes.
    wake: tokio::sync::Notify,
    counters: Counters,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Publishes records to JetStream (see the `records` module docs).
pub struct NatsHandler {
    shared: Arc<Shared>,
    options: NatsHandlerOptions,
    /// Most records and bytes of one batch (see the module docs).
    batch_records: usize,
    batch_bytes: usize,
    close_started: std::sync::atomic::AtomicBool,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The subject last rendered and the record fields it came from: a burst of one
    /// logger's records (the usual case) renders it once.
    last_subject: Mutex<RenderedSubject>,
}

/// See `NatsHandler::last_subject`; empty until the first record.
#[derive(Default)]
struct RenderedSubject {
    name: String,
    levelname: String,
    subject: String,
}

impl std::fmt::Debug for NatsHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsHandler")
            .field("servers", &self.options.connect.servers)
            .field("subject", &self.options.subject)
            .finish_non_exhaustive()
    }
}

impl NatsHandler {
    /// Starts the handler's worker thread (which connects in the background: building never
    /// waits for NATS).
    pub fn start(options: NatsHandlerOptions) -> Result<Self, HandlerError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_seq: 1,
                ..State::default()
            }),
            changed: Condvar::new(),
            wake: tokio::sync::Notify::new(),
            counters: Counters::default(),
        });
        let instance = Epoch::random();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HandlerError::io("cannot start the NATS handler's runtime", e))?;
        let worker = {
            let shared = Arc::clone(&shared);
            let options = options.clone();
            std::thread::Builder::new()
                .name("logwire-nats-pub".into())
                .spawn(move || runtime.block_on(run(shared, options, instance)))
                .map_err(|e| HandlerError::io("cannot start the NATS handler's thread", e))?
        };
        Ok(NatsHandler {
            shared,
            batch_records: options.batch_records.max(1),
            batch_bytes: options.max_message.min(BATCH_BYTES),
            close_started: std::sync::atomic::AtomicBool::new(false),
            options,
            last_subject: Mutex::default(),
            worker: Mutex::new(Some(worker)),
        })
    }

    /// The handler's counters.
    pub fn stats(&self) -> NatsHandlerStats {
        let c = &self.shared.counters;
        let s = self.shared.lock();
        NatsHandlerStats {
            queued: c.queued.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            blocked: c.blocked.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            undelivered: c.undelivered.load(Ordering::Relaxed),
            buffered_bytes: s.bytes as u64,
            peak_buffered_bytes: s.peak as u64,
        }
    }

    /// The last problem met while connecting or publishing (a refused TLS handshake or
    /// credential, a failed publish), if any: the text `close` reports.
    pub fn last_error(&self) -> Option<String> {
        self.shared.lock().last_error.clone()
    }

    /// Queues one record under an explicit identity (what `emit` does with the record's own).
    pub fn publish(&self, record: &LogRecord, id: Option<MsgId>) -> Result<(), HandlerError> {
        thread_local! {
            /// The record's JSON, written here first (no allocation per record once warm).
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|json| {
            json.clear();
            write_record_json(record, json);
            let result = self.queue(record, id, json);
            if json.capacity() > BATCH_BYTES {
                // A huge record's buffer is not kept for the thread's lifetime.
                *json = Vec::new();
            }
            result
        })
    }

    fn queue(
        &self,
        record: &LogRecord,
        id: Option<MsgId>,
        json: &[u8],
    ) -> Result<(), HandlerError> {
        if json.len() > self.options.max_message {
            self.shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(HandlerError::Invalid(format!(
                "record of {} bytes as JSON is larger than the NATS message limit ({} bytes); not published",
                json.len(),
                self.options.max_message
            )));
        }
        let mut rendered = self.last_subject.lock().unwrap_or_else(|e| e.into_inner());
        if rendered.subject.is_empty()
            || rendered.name != record.name
            || rendered.levelname != record.levelname
        {
            rendered.subject = self.options.subject.render(&record.name, &record.levelname);
            rendered.name.clone_from(&record.name);
            rendered.levelname.clone_from(&record.levelname);
        }
        let subject = rendered.subject.as_str();
        let len = json.len() + subject.len();
        let mut s = self.shared.lock();
        // Wait for room; a record alone in the buffer always fits (it is below max_message).
        let mut waited = false;
        while !s.closing && s.bytes > 0 && s.bytes + len > self.options.buffer_bytes {
            if !waited {
                waited = true;
                self.shared.counters.blocked.fetch_add(1, Ordering::Relaxed);
            }
            s = self
                .shared
                .changed
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        }
        if s.closing {
            // Counted, and reported once: a collector draining its queue into a closed
            // handler would otherwise print one error per record. `sync` fails from now on,
            // so none of these is acknowledged to a signed sender.
            let c = &self.shared.counters;
            c.undelivered.fetch_add(1, Ordering::Relaxed);
            return if c.after_close.fetch_add(1, Ordering::Relaxed) == 0 {
                Err(HandlerError::Invalid(
                    "closed: this record and any emitted after it are not published (counted in undelivered)"
                        .into(),
                ))
            } else {
                Ok(())
            };
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        s.bytes += len;
        s.peak = s.peak.max(s.bytes);
        let (records, bytes) = (self.batch_records, self.batch_bytes);
        let joined = match s.queue.back_mut() {
            Some(open) if id.is_none() && open.can_take(subject, json.len(), records, bytes) => {
                open.payload.push(b'\n');
                open.payload.extend_from_slice(json);
                open.count += 1;
                open.charge += len;
                Some(open.first)
            }
            _ => None,
        };
        match joined {
            Some(first) => *s.unacked.entry(first).or_default() += 1,
            None => {
                s.unacked.insert(seq, 1);
                // The message behind which this one queues takes no more records.
                if let Some(prev) = s.queue.back_mut() {
                    trim(&mut prev.payload);
                }
                let mut payload = match id {
                    None => s.spare.pop().unwrap_or_default(),
                    Some(_) => Vec::new(),
                };
                payload.extend_from_slice(json);
                s.queue.push_back(Msg {
                    first: seq,
                    count: 1,
                    subject: subject.to_owned(),
                    fixed_id: id.map(|id| id.header()),
                    payload,
                    charge: len,
                    sealed: None,
                });
            }
        }
        // A thread that emits in bursts (a collector's dispatcher) ends each with a hand-off
        // or sync, which wakes the worker: records queued meanwhile go out as batches, and
        // a burst's worth of bytes wakes it early. Any other caller wakes it per record.
        s.unannounced += len;
        let wake = !logwire_engine::writes_batched_on_this_thread() || s.unannounced >= BATCH_BYTES;
        if wake {
            s.unannounced = 0;
        }
        drop(s);
        self.shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        if wake {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Wakes the worker for what was queued without waking it (see `publish`).
    fn announce(&self) {
        self.shared.lock().unannounced = 0;
        self.shared.wake.notify_one();
    }

    /// Waits until every record queued before this call is acknowledged, or `limit` passes;
    /// returns how many are still waiting (0: all delivered).
    pub fn wait_acked(&self, limit: Option<Duration>) -> usize {
        self.announce();
        let deadline = limit.map(|l| Instant::now() + l);
        let mut s = self.shared.lock();
        let target = s.next_seq - 1;
        loop {
            // O(log n) per wake (every ack wakes waiters); the count only when returning.
            let done = s
                .unacked
                .first_key_value()
                .is_none_or(|(&first, _)| first > target);
            if done || s.stopped || s.hurry {
                return if done { 0 } else { waiting(&s, target) };
            }
            s = match deadline {
                None => self
                    .shared
                    .changed
                    .wait(s)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return waiting(&s, target);
                    }
                    self.shared
                        .changed
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

impl Emitter for NatsHandler {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        let id = logwire_engine::current_origin().map(MsgId::of_origin);
        self.publish(record, id)
    }

    /// Waits up to `close_timeout` for JetStream to acknowledge every record emitted so far
    /// (logging's `flush()`, also called at shutdown, which must end).
    fn flush(&self) -> Result<(), HandlerError> {
        match self.wait_acked(Some(self.options.close_timeout)) {
            0 => Ok(()),
            n => Err(HandlerError::Invalid(format!(
                "{n} record(s) not yet acknowledged by JetStream (still queued)"
            ))),
        }
    }

    /// Waits, without limit, until JetStream acknowledged every record emitted so far: the
    /// collector acks signed records only after this, so an ack means "in the stream", and
    /// while NATS is away the collector's dispatcher waits here (backpressure).
    fn sync(&self) -> Result<(), HandlerError> {
        let n = self.wait_acked(None);
        let after_close = self.shared.counters.after_close.load(Ordering::Relaxed);
        if n == 0 && after_close == 0 {
            return Ok(());
        }
        // Only a closed handler stops waiting, or refuses records.
        Err(HandlerError::Invalid(format!(
            "closed with {} record(s) not published to JetStream",
            n as u64 + after_close
        )))
    }

    /// Waits up to `close_timeout` for the records in hand, then stops the worker and reports
    /// what was not delivered. A second call (serve closes its outputs early when a drain
    /// is stuck, then again at the end) returns at once.
    fn close(&self) {
        if self.close_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let left = self.wait_acked(Some(self.options.close_timeout));
        {
            let mut s = self.shared.lock();
            s.closing = true;
            if left > 0 {
                self.shared
                    .counters
                    .undelivered
                    .fetch_add(left as u64, Ordering::Relaxed);
                eprintln!(
                    "logwire.NATSHandler: closing with {left} record(s) not acknowledged by JetStream{}",
                    s.last_error
                        .as_deref()
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                );
            }
        }
        self.shared.changed.notify_all();
        self.shared.wake.notify_one();
        if let Some(w) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = w.join();
        }
    }

    /// Ends any wait for acks now and from now on: `close` then reports what JetStream has
    /// not acknowledged at once, instead of after `close_timeout`.
    fn stop_waiting(&self) {
        self.shared.lock().hurry = true;
        self.shared.changed.notify_all();
        self.shared.wake.notify_one();
    }

    /// Wakes the worker for the burst just emitted and returns: only `sync` waits for
    /// JetStream's acks.
    fn hand_off(&self) -> Result<(), HandlerError> {
        self.announce();
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "logwire.NATSHandler"
    }
}

impl Drop for NatsHandler {
    fn drop(&mut self) {
        // A handler dropped without close() stops its worker; what it still held is
        // reported (close() reported and counted it already if it ran).
        let mut s = self.shared.lock();
        if !s.closing && !s.unacked.is_empty() {
            eprintln!(
                "logwire.NATSHandler: dropped with {} record(s) not acknowledged by JetStream",
                s.unacked.values().sum::<usize>()
            );
        }
        let after_close = self.shared.counters.after_close.load(Ordering::Relaxed);
        if after_close > 0 {
            eprintln!(
                "logwire.NATSHandler: {after_close} record(s) emitted after close were not published"
            );
        }
        s.closing = true;
        drop(s);
        self.shared.wake.notify_one();
    }
}

/// The worker: connect, make sure the stream exists, publish until closed.
async fn run(shared: Arc<Shared>, options: NatsHandlerOptions, instance: Epoch) {
    let note_error = |e: String| {
        shared.lock().last_error = Some(e);
    };
    let problems = {
        let shared = Arc::clone(&shared);
        ConnectionProblems::new("logwire.NATSHandler", move |e| {
            shared.lock().last_error = Some(e.to_owned());
        })
    };
    let client = loop {
        match options
            .connect
            .connect_reporting(Some(problems.clone()))
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                // Only a bad setting fails here (the connection itself is retried inside).
                eprintln!("logwire.NATSHandler: {e}");
                note_error(e.to_string());
                if closed_wait(&shared, Duration::from_secs(1)).await {
                    return stop(&shared);
                }
            }
        }
    };
    let js = jetstream::ContextBuilder::new()
        .timeout(options.ack_timeout)
        .max_ack_inflight(options.max_in_flight.max(1))
        .backpressure_on_inflight(true)
        .build(client.clone());
    if let Some(stream) = &options.stream {
        let mut delay = Duration::from_millis(50);
        loop {
            let config = jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![options.subject.filter()],
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            };
            // A request to a server that never answers (refused credentials, TLS) takes
            // the whole request timeout: `close` does not wait for it.
            let created = tokio::select! {
                r = js.get_or_create_stream(config) => r,
                () = async { while !closed_wait(&shared, Duration::from_secs(3600)).await {} } => {
                    return stop(&shared);
                }
            };
            match created {
                Ok(_) => break,
                Err(e) => {
                    note_error(format!("stream {stream}: {e}"));
                    if closed_wait(&shared, delay).await {
                        return stop(&shared);
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
    let mut in_flight = FuturesUnordered::new();
    let mut backoff = Duration::ZERO;
    loop {
        // Send what is queued, up to the in-flight bound, while connected (a publish sent
        // while disconnected would only wait in the client's buffer and time out).
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        let mut ready = VecDeque::new();
        if connected && backoff.is_zero() {
            let room = options.max_in_flight.saturating_sub(in_flight.len());
            let mut s = shared.lock();
            let n = s.queue.len().min(room);
            ready.extend(s.queue.drain(..n));
        }
        while let Some(mut msg) = ready.pop_front() {
            let (id, payload) = msg.seal(instance);
            let publish = PublishMessage::build().payload(payload).message_id(&id);
            match js.send_publish(msg.subject.clone(), publish).await {
                Ok(ack) => in_flight.push(async move { (msg, ack.await) }),
                Err(e) => {
                    note_error(e.to_string());
                    shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                    // Back to the queue, in their order, ahead of newer records.
                    let mut s = shared.lock();
                    while let Some(m) = ready.pop_back() {
                        s.queue.push_front(m);
                    }
                    s.queue.push_front(msg);
                    backoff = Duration::from_millis(50);
                    break;
                }
            }
        }
        let (closing, empty, hurry) = {
            let s = shared.lock();
            (s.closing, s.unacked.is_empty(), s.hurry)
        };
        if closing && (empty || in_flight.is_empty() || hurry) {
            return stop(&shared);
        }
        let pause = if !backoff.is_zero() {
            backoff
        } else if !connected {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            Some((msg, result)) = in_flight.next() => match result {
                Ok(ack) => {
                    let records = msg.count as u64;
                    shared.counters.acked.fetch_add(records, Ordering::Relaxed);
                    shared.counters.messages.fetch_add(1, Ordering::Relaxed);
                    if ack.duplicate {
                        shared.counters.duplicates.fetch_add(records, Ordering::Relaxed);
                    }
                    let mut s = shared.lock();
                    s.unacked.remove(&msg.first);
                    s.bytes -= msg.charge;
                    recycle(&mut s, msg);
                    drop(s);
                    shared.changed.notify_all();
                    backoff = Duration::ZERO;
                }
                Err(e) => {
                    // Sent again with the same Nats-Msg-Id: if the first did arrive, the
                    // stream drops the second.
                    note_error(e.to_string());
                    shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                    shared.lock().queue.push_front(msg);
                    backoff = (backoff * 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
                }
            },
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(pause) => {
                if !backoff.is_zero() {
                    backoff = Duration::ZERO;
                }
            }
        }
    }
}

/// Keeps an acknowledged batch's payload for a later batch, if the client let go of it.
fn recycle(s: &mut State, msg: Msg) {
    if msg.fixed_id.is_some() || s.spare.len() >= SPARE_BUFFERS {
        return;
    }
    if let Some((_, payload)) = msg.sealed
        && let Ok(b) = payload.try_into_mut()
    {
        let mut v = Vec::from(b);
        v.clear();
        s.spare.push(v);
    }
}

/// Records of messages not yet acknowledged whose first record is at or below `target`.
fn waiting(s: &State, target: u64) -> usize {
    s.unacked.range(..=target).map(|(_, n)| n).sum()
}

/// Waits `d` or until the handler closes; true if it closed.
async fn closed_wait(shared: &Shared, d: Duration) -> bool {
    if shared.lock().closing {
        return true;
    }
    let _ = tokio::time::timeout(d, shared.wake.notified()).await;
    shared.lock().closing
}

fn stop(shared: &Shared) {
    shared.lock().stopped = true;
    shared.changed.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked_batch(first: u64, payload: Vec<u8>) -> Msg {
        let mut msg = Msg {
            first,
            count: 2,
            subject: "logs.a".into(),
            fixed_id: None,
            payload,
            charge: 0,
            sealed: None,
        };
        msg.seal(Epoch([1; 16]));
        msg
    }

    /// An acknowledged batch's buffer comes back empty with its room, at most
    /// `SPARE_BUFFERS` of them; a signed record's message gives none.
    #[test]
    fn acked_batches_leave_their_buffers_for_the_next() {
        let mut s = State::default();
        for i in 0..SPARE_BUFFERS as u64 + 3 {
            let mut payload = Vec::with_capacity(100_000);
            payload.resize(90_000, b'x');
            recycle(&mut s, acked_batch(i, payload));
        }
        assert_eq!(s.spare.len(), SPARE_BUFFERS);
        assert!(
            s.spare
                .iter()
                .all(|v| v.is_empty() && v.capacity() >= 90_000)
        );

        let mut s = State::default();
        let mut signed = acked_batch(1, vec![b'x'; 1000]);
        signed.fixed_id = Some("lw1.x".into());
        recycle(&mut s, signed);
        assert!(s.spare.is_empty());
    }

    /// A message holding a quarter of its buffer or less is sealed with the rest given
    /// back, so a recycled 256 KiB buffer never stays behind one small record.
    #[test]
    fn a_small_message_in_a_large_buffer_is_trimmed_at_seal() {
        let mut payload = Vec::with_capacity(BATCH_BYTES);
        payload.extend_from_slice(b"{\"msg\":\"x\"}");
        let mut msg = acked_batch(1, Vec::new());
        msg.sealed = None;
        msg.payload = payload;
        msg.seal(Epoch([1; 16]));
        let (_, bytes) = msg.sealed.take().expect("sealed");
        let v = Vec::from(bytes.try_into_mut().unwrap_or_else(|_| panic!("unique")));
        assert!(v.capacity() < BATCH_BYTES / 4, "{}", v.capacity());

        let mut full = Vec::with_capacity(1000);
        full.resize(600, b'x');
        trim(&mut full);
        assert_eq!(
            full.capacity(),
            1000,
            "a buffer over a quarter full is kept"
        );
    }
}
