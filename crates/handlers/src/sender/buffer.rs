//! [`SendBuffer`]: the bounded buffer between the logging call and the network, and the
//! background thread that empties it.
//!
//! The contract is documented on [`SendBuffer`], the public face of this module.

use super::backoff::Backoff;
use super::conn::{Conn, Endpoint, is_message_too_long};
use logwire_wire::{Epoch, FrameDecoder, PayloadFormat, RecordAck, SigningKey, seal_record_frame};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The default number of records buffered.
pub const DEFAULT_BUFFER_CAPACITY: usize = 10_000;
/// The largest buffer capacity accepted.
pub const MAX_BUFFER_CAPACITY: usize = 10_000_000;
/// The default number of sent-but-unacked signed frames kept for resending.
pub const DEFAULT_UNACKED_WINDOW: usize = 1024;
/// Frames written in one write call at most (fewer system calls under load).
const BATCH_FRAMES: usize = 256;
/// Bytes written in one write call at most.
const BATCH_BYTES: usize = 256 * 1024;
/// The largest ack frame body accepted from a receiver.
const MAX_ACK_FRAME: usize = 1024;

/// What the logging call does when the buffer is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BufferPolicy {
    /// Wait for space (for the sender thread to send, not for a network round trip):
    /// nothing is lost, the caller is slowed down while the destination is away.
    #[default]
    Block,
    /// Never wait: drop the oldest buffered record, count it, and send the in-band notice
    /// `N records dropped` ahead of the next record.
    DropOldest,
}

impl BufferPolicy {
    /// Parses `block` or `drop_oldest` (also `drop-oldest`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "block" => Some(BufferPolicy::Block),
            "drop_oldest" | "drop-oldest" => Some(BufferPolicy::DropOldest),
            _ => None,
        }
    }
}

/// How payloads are framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// CPython's 4-byte big-endian length prefix (also inside each datagram).
    LengthPrefix,
    /// RFC 6587 octet counting: `MSG-LEN SP MSG`.
    OctetCounting,
    /// No framing (CPython's `SysLogHandler` over TCP; one message per datagram).
    None,
}

impl Framing {
    /// The framed form of `payload`, appended to `out`.
    pub fn frame_into(self, payload: &[u8], out: &mut Vec<u8>) {
        match self {
            Framing::LengthPrefix => {
                let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Framing::OctetCounting => {
                out.extend_from_slice(payload.len().to_string().as_bytes());
                out.push(b' ');
            }
            Framing::None => {}
        }
        out.extend_from_slice(payload);
    }

    /// The number of bytes framing adds to a payload of `len` bytes.
    pub fn overhead(self, len: usize) -> usize {
        match self {
            Framing::LengthPrefix => 4,
            Framing::OctetCounting => len.to_string().len() + 1,
            Framing::None => 0,
        }
    }
}

/// Why a record could not be handed to the sender, or a flush did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The handler was closed.
    #[error("handler is closed")]
    Closed,
    /// A record larger than one datagram may be.
    #[error(
        "record of {len} bytes exceeds the datagram limit of {max} bytes (CPython fails with \
         EMSGSIZE); record dropped"
    )]
    TooLarge {
        /// The framed record's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The record could not be pickled.
    #[error("record could not be encoded: {0}")]
    Encode(#[from] logwire_pickle::EncodeError),
    /// `flush()` gave up waiting.
    #[error("flush timed out: {pending} records not yet delivered to {endpoint}")]
    FlushTimeout {
        /// Records still buffered or unacknowledged.
        pending: u64,
        /// Where they are going.
        endpoint: String,
    },
    /// A signing key that cannot seal records (only HMAC keys can).
    #[error("signing key is not an HMAC key: records are sealed with HMAC-SHA256")]
    NotHmacKey,
    /// An option is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The sender thread could not be started.
    #[error("could not start the sender thread: {0}")]
    Spawn(#[source] std::io::Error),
}

/// Counters of one sender, since the handler was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Records accepted by `emit`.
    pub enqueued: u64,
    /// Frames written to a socket (resends and drop notices included).
    pub frames_written: u64,
    /// Records whose delivery is done: written (unsigned) or acknowledged (signed).
    pub delivered: u64,
    /// Records acknowledged by the receiver (signed only).
    pub acked: u64,
    /// Frames written again after a reconnect (signed only).
    pub resent: u64,
    /// Records dropped because the buffer was full (`DropOldest`).
    pub dropped_overflow: u64,
    /// Records dropped because they do not fit a datagram.
    pub dropped_too_large: u64,
    /// Records still buffered or unacked when `close()` gave up waiting.
    pub lost_at_close: u64,
    /// In-band `N records dropped` notices sent.
    pub drop_notices: u64,
    /// Successful connects.
    pub connects: u64,
    /// Failed connect attempts.
    pub connect_failures: u64,
    /// Connections lost while sending (write errors, peer closed, ack timeout).
    pub disconnects: u64,
    /// Records in the buffer now.
    pub buffered: u64,
    /// Signed frames sent and not yet acknowledged now.
    pub unacked: u64,
}

impl SendStats {
    /// Every record dropped, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_overflow + self.dropped_too_large + self.lost_at_close
    }
}

/// Counters shared by every [`SendBuffer`] a handler starts (it may restart after close).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    enqueued: AtomicU64,
    frames_written: AtomicU64,
    delivered: AtomicU64,
    acked: AtomicU64,
    resent: AtomicU64,
    dropped_overflow: AtomicU64,
    dropped_too_large: AtomicU64,
    lost_at_close: AtomicU64,
    drop_notices: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    disconnects: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn note_too_large(&self) {
        bump(&self.dropped_too_large, 1);
    }

    pub(crate) fn snapshot(&self) -> SendStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SendStats {
            enqueued: g(&self.enqueued),
            frames_written: g(&self.frames_written),
            delivered: g(&self.delivered),
            acked: g(&self.acked),
            resent: g(&self.resent),
            dropped_overflow: g(&self.dropped_overflow),
            dropped_too_large: g(&self.dropped_too_large),
            lost_at_close: g(&self.lost_at_close),
            drop_notices: g(&self.drop_notices),
            connects: g(&self.connects),
            connect_failures: g(&self.connect_failures),
            disconnects: g(&self.disconnects),
            buffered: 0,
            unacked: 0,
        }
    }
}

/// Seals frames as `LWR1`.
#[derive(Clone)]
pub(crate) struct Signer {
    pub(crate) key: SigningKey,
    pub(crate) format: PayloadFormat,
    pub(crate) window: usize,
    /// A full window with no ack for this long means the connection is dead.
    pub(crate) ack_timeout: Duration,
}

/// Makes the payload of the in-band drop notice.
pub(crate) type NoticeFn = Arc<dyn Fn(u64) -> Option<Vec<u8>> + Send + Sync>;

/// Everything a sender thread needs.
#[derive(Clone)]
pub(crate) struct SenderConfig {
    pub(crate) kind: &'static str,
    pub(crate) endpoint: Endpoint,
    pub(crate) framing: Framing,
    pub(crate) signer: Option<Signer>,
    pub(crate) capacity: usize,
    pub(crate) policy: BufferPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) notice: NoticeFn,
}

struct Item {
    payload: Vec<u8>,
    /// A record from `emit` (counted for flush/delivery), not a drop notice.
    counted: bool,
}

struct Unacked {
    seq: u64,
    frame: Vec<u8>,
    counted: bool,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Item>,
    unannounced_drops: u64,
    window: VecDeque<Unacked>,
    /// Generation of the current connection; a reader that saw its connection end sets
    /// `broken` to its generation.
    conn_gen: u64,
    broken: Option<u64>,
    last_ack: Option<Instant>,
    /// Records accepted and records whose fate is settled (delivered or dropped): a flush
    /// waits until `settled` reaches the `accepted` it saw.
    accepted: u64,
    settled: u64,
    /// No more records; drain what is there.
    closing: bool,
    /// Exit now.
    stop: bool,
}

struct Shared {
    config: SenderConfig,
    backoff: Arc<Mutex<Backoff>>,
    counters: Arc<Counters>,
    epoch: Epoch,
    state: Mutex<State>,
    /// The sender thread waits here.
    work: Condvar,
    /// Blocked emitters and flushers wait here.
    progress: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (plain counters and queues).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The bounded buffer of one handler and its sender thread.
///
/// The logging call only encodes the record and pushes the bytes here; it never waits on
/// the network. A sender thread connects (with CPython's [`Backoff`] schedule), writes
/// frames in order, and on any failure reconnects and carries on with what is still
/// buffered, so an outage delays records instead of losing them. When the buffer is full the
/// [`BufferPolicy`] decides: the caller waits for space, or the oldest record is dropped and
/// counted; after drops, the next frame sent is an in-band notice `N records dropped` so the
/// receiving side learns about the gap.
///
/// With a signing key, every frame is sealed as `LWR1` with seq 1, 2, 3 … of a random epoch
/// and asks for an ack. Sent frames stay in an *unacked window* until a cumulative `LWA1`
/// ack releases them; after a reconnect, every unacked frame is resent in order (the
/// receiver stores each (key, epoch, seq) once). Seqs are given when a frame enters the
/// window, never before, so drops (which happen only in the buffer) never leave holes in
/// the seq sequence that a cumulative ack could not cross. When the window is full the
/// thread stops taking from the buffer, so the buffer's policy bounds memory for both.
pub struct SendBuffer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for SendBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBuffer")
            .field("endpoint", &self.shared.config.endpoint)
            .field("epoch", &self.shared.epoch)
            .finish_non_exhaustive()
    }
}

impl SendBuffer {
    /// Starts the sender thread. Nothing connects until there is something to send.
    pub(crate) fn start(
        config: SenderConfig,
        backoff: Arc<Mutex<Backoff>>,
        counters: Arc<Counters>,
    ) -> std::io::Result<SendBuffer> {
        let shared = Arc::new(Shared {
            config,
            backoff,
            counters,
            epoch: Epoch::random(),
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("logwire-send {}", shared.config.endpoint))
            .spawn(move || run(worker))?;
        Ok(SendBuffer {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The epoch signed frames carry.
    pub fn epoch(&self) -> Epoch {
        self.shared.epoch
    }

    /// Whether `close()` was called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closing
    }

    /// Hands a payload to the sender thread, applying the overflow policy.
    pub fn push(&self, payload: Vec<u8>) -> Result<(), SendError> {
        let sh = &self.shared;
        let mut st = sh.lock();
        loop {
            if st.closing {
                return Err(SendError::Closed);
            }
            if st.queue.len() < sh.config.capacity {
                break;
            }
            match sh.config.policy {
                BufferPolicy::Block => {
                    st = sh.progress.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                BufferPolicy::DropOldest => {
                    // The oldest *record*: a pending drop notice is kept (it is about
                    // earlier drops and would be re-made anyway).
                    if let Some(pos) = st.queue.iter().position(|i| i.counted) {
                        st.queue.remove(pos);
                        st.unannounced_drops += 1;
                        st.settled += 1;
                        bump(&sh.counters.dropped_overflow, 1);
                    }
                    break;
                }
            }
        }
        st.queue.push_back(Item {
            payload,
            counted: true,
        });
        st.accepted += 1;
        bump(&sh.counters.enqueued, 1);
        drop(st);
        sh.work.notify_one();
        Ok(())
    }

    /// Records accepted but not yet delivered (buffered, in flight or unacked).
    pub fn pending(&self) -> u64 {
        let st = self.shared.lock();
        st.accepted - st.settled
    }

    /// Counters, with the current buffer and window sizes.
    pub fn stats(&self) -> SendStats {
        let st = self.shared.lock();
        let mut s = self.shared.counters.snapshot();
        s.buffered = st.queue.iter().filter(|i| i.counted).count() as u64;
        s.unacked = st.window.len() as u64;
        s
    }

    /// Waits until every record accepted before this call is delivered (written, or acked
    /// when signing), at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), SendError> {
        let sh = &self.shared;
        let deadline = Instant::now() + timeout;
        let mut st = sh.lock();
        let target = st.accepted;
        sh.work.notify_one();
        while st.settled < target {
            let now = Instant::now();
            if now >= deadline || st.stop {
                return Err(SendError::FlushTimeout {
                    pending: target - st.settled,
                    endpoint: sh.config.endpoint.to_string(),
                });
            }
            st = sh
                .progress
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }

    /// Stops accepting records, waits up to `timeout` for the buffer (and the unacked
    /// window) to be delivered, then stops the thread and closes the connection. Returns
    /// how many records were given up (also counted as `lost_at_close`).
    pub fn close(&self, timeout: Duration) -> u64 {
        let sh = &self.shared;
        {
            let mut st = sh.lock();
            if st.stop {
                return 0;
            }
            st.closing = true;
        }
        sh.work.notify_all();
        sh.progress.notify_all();
        let flushed = self.flush(timeout);
        let lost = {
            let mut st = sh.lock();
            st.stop = true;
            let lost = st.accepted - st.settled;
            st.settled = st.accepted;
            lost
        };
        sh.work.notify_all();
        sh.progress.notify_all();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
        if lost > 0 {
            bump(&sh.counters.lost_at_close, lost);
            let why = flushed.err().map(|e| e.to_string()).unwrap_or_default();
            eprintln!(
                "--- Logging error ---\n{} to {}: {lost} records not delivered at close ({why})",
                sh.config.kind, sh.config.endpoint
            );
        }
        lost
    }
}

impl Drop for SendBuffer {
    fn drop(&mut self) {
        // Never wait on the network in a destructor: stop right away.
        {
            let mut st = self.shared.lock();
            st.closing = true;
            st.stop = true;
        }
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
    }
}

/// One live connection and its reader thread.
struct Live {
    conn: Conn,
    gen_id: u64,
    reader: Option<JoinHandle<()>>,
    /// Signed: the seq of the next window frame to write on this connection.
    next_write_seq: u64,
}

impl Live {
    fn end(mut self) {
        self.conn.shutdown();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// What the sender thread does next, decided under the lock.
enum Step {
    /// Nothing to do until woken or until this instant.
    Wait(Option<Instant>),
    Connect,
    /// Write these frames (already framed), then account for them.
    Write(Batch),
    /// Drop the connection (peer closed, ack timeout).
    Disconnect,
    Exit,
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Datagram boundaries (end offsets) when sending datagrams.
    ends: Vec<usize>,
    /// Unsigned: the items written, to put back if writing fails.
    items: Vec<Item>,
    /// Signed: how many window frames are (re)written and the seq after the last.
    signed_upto: Option<u64>,
    resent: u64,
    frames: u64,
}

fn run(shared: Arc<Shared>) {
    let sh = &shared;
    let mut live: Option<Live> = None;
    let mut next_seq: u64 = 1;
    loop {
        let step = decide(sh, &mut live, &mut next_seq);
        match step {
            Step::Exit => break,
            Step::Wait(until) => {
                let st = sh.lock();
                if st.stop || has_work(sh, &st, live.as_ref()) {
                    continue;
                }
                match until {
                    Some(t) => {
                        let d = t.saturating_duration_since(Instant::now());
                        if !d.is_zero() {
                            drop(sh.work.wait_timeout(st, d));
                        }
                    }
                    None => drop(sh.work.wait(st)),
                }
            }
            Step::Connect => connect(sh, &mut live),
            Step::Disconnect => {
                if let Some(l) = live.take() {
                    bump(&sh.counters.disconnects, 1);
                    l.end();
                }
            }
            Step::Write(batch) => write(sh, &mut live, batch),
        }
    }
    if let Some(l) = live.take() {
        l.end();
    }
}

/// Whether there is something the thread could do now.
fn has_work(sh: &Shared, st: &State, live: Option<&Live>) -> bool {
    let queued = !st.queue.is_empty() || st.unannounced_drops > 0;
    match (&sh.config.signer, live) {
        (_, Some(l)) if st.broken == Some(l.gen_id) => true,
        (Some(s), Some(l)) => {
            st.window.back().is_some_and(|u| u.seq >= l.next_write_seq)
                || (queued && st.window.len() < s.window)
        }
        (Some(_), None) => queued || !st.window.is_empty(),
        (None, _) => queued,
    }
}

fn decide(sh: &Shared, live: &mut Option<Live>, next_seq: &mut u64) -> Step {
    let mut st = sh.lock();
    if st.stop {
        return Step::Exit;
    }
    if let Some(l) = live.as_ref()
        && st.broken == Some(l.gen_id)
    {
        return Step::Disconnect;
    }
    if !has_work(sh, &st, live.as_ref()) {
        // Signed: an ack that never comes (half-open connection) ends the connection.
        if let (Some(signer), Some(_)) = (&sh.config.signer, live.as_ref())
            && !st.window.is_empty()
        {
            let since = st.last_ack.unwrap_or_else(Instant::now);
            if since.elapsed() >= signer.ack_timeout {
                return Step::Disconnect;
            }
            return Step::Wait(Some(since + signer.ack_timeout));
        }
        return Step::Wait(None);
    }
    let Some(l) = live.as_mut() else {
        let backoff = sh.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        return if backoff.may_attempt(now) {
            Step::Connect
        } else {
            Step::Wait(backoff.retry_time())
        };
    };
    let datagram = l.conn.is_datagram();
    let mut batch = Batch::default();
    let push_bytes = |batch: &mut Batch, framed: &dyn Fn(&mut Vec<u8>)| {
        framed(&mut batch.bytes);
        batch.ends.push(batch.bytes.len());
        batch.frames += 1;
    };
    let full = |b: &Batch| {
        b.frames as usize >= BATCH_FRAMES
            || b.bytes.len() >= BATCH_BYTES
            || (datagram && b.frames > 0)
    };

    if st.unannounced_drops > 0 {
        let n = std::mem::take(&mut st.unannounced_drops);
        if let Some(payload) = (sh.config.notice)(n) {
            st.queue.push_front(Item {
                payload,
                counted: false,
            });
            bump(&sh.counters.drop_notices, 1);
        }
    }
    match &sh.config.signer {
        None => {
            let framing = sh.config.framing;
            while !full(&batch) {
                let Some(item) = st.queue.pop_front() else {
                    break;
                };
                push_bytes(&mut batch, &|out: &mut Vec<u8>| {
                    framing.frame_into(&item.payload, out)
                });
                batch.items.push(item);
            }
        }
        Some(signer) => {
            // First whatever of the window this connection has not carried yet (a resend
            // after a reconnect), then new records while the window has room.
            let mut upto = l.next_write_seq;
            for u in st.window.iter().filter(|u| u.seq >= l.next_write_seq) {
                if full(&batch) {
                    break;
                }
                push_bytes(&mut batch, &|out: &mut Vec<u8>| {
                    out.extend_from_slice(&u.frame)
                });
                upto = u.seq + 1;
            }
            // Window frames this connection has not carried were sent on an earlier one:
            // they are resends. Frames sealed just now (below) are not.
            batch.resent = upto.saturating_sub(l.next_write_seq);
            while !full(&batch) && st.window.len() < signer.window {
                let Some(item) = st.queue.pop_front() else {
                    break;
                };
                match seal_record_frame(
                    &signer.key,
                    sh.epoch,
                    *next_seq,
                    signer.format,
                    true,
                    &item.payload,
                ) {
                    Ok(frame) => {
                        push_bytes(&mut batch, &|out: &mut Vec<u8>| {
                            out.extend_from_slice(&frame)
                        });
                        if st.window.is_empty() {
                            st.last_ack = Some(Instant::now());
                        }
                        st.window.push_back(Unacked {
                            seq: *next_seq,
                            frame,
                            counted: item.counted,
                        });
                        *next_seq += 1;
                        upto = *next_seq;
                    }
                    Err(e) => {
                        eprintln!(
                            "--- Logging error ---\n{}: record could not be sealed: {e}",
                            sh.config.kind
                        );
                        if item.counted {
                            st.settled += 1;
                            bump(&sh.counters.dropped_too_large, 1);
                        }
                    }
                }
            }
            batch.signed_upto = Some(upto);
        }
    }
    drop(st);
    // Blocked emitters may now have space.
    sh.progress.notify_all();
    Step::Write(batch)
}

fn connect(sh: &Arc<Shared>, live: &mut Option<Live>) {
    let cfg = &sh.config;
    match Conn::open(&cfg.endpoint, cfg.connect_timeout, cfg.send_timeout) {
        Ok(conn) => {
            sh.backoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .succeeded();
            bump(&sh.counters.connects, 1);
            let (gen_id, first_unacked) = {
                let mut st = sh.lock();
                st.conn_gen += 1;
                st.last_ack = Some(Instant::now());
                (st.conn_gen, st.window.front().map_or(0, |u| u.seq))
            };
            let reader = match conn.reader() {
                Ok(Some(r)) => spawn_reader(sh, r, gen_id),
                Ok(None) => None,
                Err(e) => {
                    eprintln!(
                        "--- Logging error ---\n{} to {}: {e}",
                        cfg.kind, cfg.endpoint
                    );
                    None
                }
            };
            *live = Some(Live {
                conn,
                gen_id,
                reader,
                next_write_seq: first_unacked,
            });
        }
        Err(_) => {
            // Silent, as CPython: the records stay buffered and the backoff paces retries.
            bump(&sh.counters.connect_failures, 1);
            sh.backoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .failed(Instant::now());
        }
    }
}

fn write(sh: &Shared, live: &mut Option<Live>, batch: Batch) {
    let Some(l) = live.as_mut() else { return };
    let result = if l.conn.is_datagram() {
        let mut start = 0;
        let mut res = Ok(());
        for &end in &batch.ends {
            if let Err(e) = l.conn.send(&batch.bytes[start..end]) {
                res = Err(e);
                break;
            }
            start = end;
        }
        res
    } else {
        l.conn.send(&batch.bytes)
    };
    match result {
        Ok(()) => {
            bump(&sh.counters.frames_written, batch.frames);
            bump(&sh.counters.resent, batch.resent);
            if let Some(upto) = batch.signed_upto {
                l.next_write_seq = l.next_write_seq.max(upto);
            } else {
                let n = batch.items.iter().filter(|i| i.counted).count() as u64;
                bump(&sh.counters.delivered, n);
                sh.lock().settled += n;
                sh.progress.notify_all();
            }
        }
        Err(e) if is_message_too_long(&e) && batch.items.len() == 1 => {
            // One datagram that can never be sent: drop it, counted, with a clear error.
            let item = &batch.items[0];
            if item.counted {
                sh.counters.note_too_large();
                sh.lock().settled += 1;
                sh.progress.notify_all();
            }
            eprintln!(
                "--- Logging error ---\n{} to {}: record of {} bytes dropped: {e}",
                sh.config.kind,
                sh.config.endpoint,
                batch.bytes.len()
            );
        }
        Err(_) => {
            // Keep every record: unsigned ones go back to the front of the buffer (a partial
            // frame the peer got is dropped by it at EOF), signed ones are still in the
            // window and are resent on the next connection.
            if batch.signed_upto.is_none() {
                let mut st = sh.lock();
                for item in batch.items.into_iter().rev() {
                    st.queue.push_front(item);
                }
            }
            bump(&sh.counters.disconnects, 1);
            if let Some(l) = live.take() {
                l.end();
            }
            if sh.config.endpoint.is_datagram() {
                // No connection to re-establish: pace the retries instead of spinning.
                sh.backoff
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .failed(Instant::now());
            }
        }
    }
}

/// Reads what the peer sends on a stream connection: acks (signed), or nothing until EOF.
/// Either way, the end of the stream marks the connection broken so that the sender thread
/// reconnects before writing into a socket nobody reads.
fn spawn_reader(
    sh: &Arc<Shared>,
    mut r: Box<dyn Read + Send>,
    gen_id: u64,
) -> Option<JoinHandle<()>> {
    let sh = Arc::clone(sh);
    std::thread::Builder::new()
        .name("logwire-send-acks".into())
        .spawn(move || {
            let mut dec = FrameDecoder::new(MAX_ACK_FRAME);
            let mut buf = [0u8; 4096];
            let signed = sh.config.signer.is_some();
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if !signed {
                    continue; // a CPython receiver sends nothing; anything else is ignored
                }
                if dec.push(&buf[..n]).is_err() {
                    break;
                }
                while let Some(body) = dec.pop() {
                    match RecordAck::parse(&body) {
                        Ok(ack) if ack.epoch == sh.epoch => release(&sh, ack.seq),
                        // An ack for another epoch (a previous run of this handler): harmless.
                        Ok(_) => {}
                        Err(_) => {}
                    }
                }
            }
            sh.lock().broken = Some(gen_id);
            sh.work.notify_all();
        })
        .ok()
}

/// A cumulative ack: frames up to `seq` are done.
fn release(sh: &Shared, seq: u64) {
    let mut st = sh.lock();
    let mut n = 0;
    let mut counted = 0;
    while st.window.front().is_some_and(|u| u.seq <= seq) {
        if let Some(u) = st.window.pop_front() {
            n += 1;
            counted += u64::from(u.counted);
        }
    }
    if n > 0 {
        st.last_ack = Some(Instant::now());
        st.settled += counted;
        bump(&sh.counters.acked, counted);
        bump(&sh.counters.delivered, counted);
    }
    drop(st);
    if n > 0 {
        sh.work.notify_all();
        sh.progress.notify_all();
    }
}
