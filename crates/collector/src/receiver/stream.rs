//! Stream receivers: TCP (`SocketHandler(host, port)`) and Unix stream sockets
//! (`SocketHandler(path, None)`), many length-prefixed frames per connection.
//!
//! Per connection: a read buffer that grows only with bytes that arrived (an announced
//! length is checked against the cap before anything of the body is read, and is never
//! preallocated) and is freed after [`BUFFER_RELEASE`] between frames; deadlines (first byte
//! after connect, between frames only if asked, whole frame once it started); oversized frames
//! skipped as they arrive, up to `conn_state::MAX_SKIPPED_PER_CONNECTION`; a global in-flight
//! byte budget for large partial frames; a place in [`Unproven`] until its first complete
//! frame (shed at the connection cap); and a writer task for `LWA1` acks. A read with many
//! frames is judged by the dispatcher thread itself or on a decode thread, in read order (see
//! [`super::parallel`]).
//!
//! The connection's decisions are an explicit state machine (`conn_state`: phases, deadlines,
//! named exits); [`serve_connection`] runs the I/O around it.

use super::conn_state::{ConnState, Deadlines, Exit, Next, Wake};
use super::ingest::{Origin, Shared, Tally};
use super::parallel::{BufferPool, InOrder, Judge, who_judges};
use super::stats::ListenerId;
use super::stats::RejectReason;
use super::work::{AckRoute, Batch, ReadFrames, Work};
use logwire_record::RecordMapper;
use logwire_wire::RecordAck;
use logwire_wire::is_record_envelope;
use logwire_wire::{FrameScan, PREFIX_LEN, payloads};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

/// Bytes read per `read` call (and the buffer size kept per connection). 128 KiB rather than
/// 64: a busy `SocketHandler` stream then costs half the reads, batches and dispatcher wake-ups
/// (1.09-1.14x records/s and 2-9 % less CPU per record over four A/B sets of
/// `crates/bench/scripts/receive_ab.py`, round 5 of `crates/bench/README-receive.md`); an
/// idle connection's buffer is never touched, so it costs address space, not memory (and one
/// that a large frame grew is shrunk back once the frame is judged).
pub(crate) const READ_CHUNK: usize = 128 * 1024;

/// How long a connection waits between frames before it gives its read buffers back: an idle
/// connection then holds none, and waits for its next first byte with a one-byte read (one
/// more syscall when it wakes). A busy connection reads again long before this.
const BUFFER_RELEASE: Duration = Duration::from_secs(1);

/// Of every `.1` signed frames in a bulk read, the first `.0` have their tags verified on
/// the connection's task and the others on the dispatcher. Measured with one busy signed
/// connection (perf, 2 vCPUs): with the MAC keyed once per key and one hash lookup per
/// replay mark, the dispatcher's own share fell to about the task's, so half the tags each
/// keeps both busy (4/8: 1.40 M records/s; 5/8: 1.25 M; 3/8: 1.37 M).
const TAGS_CHECKED_HERE: (usize, usize) = (4, 8);

/// What the accept loops share.
pub(crate) struct StreamContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) dispatch: mpsc::Sender<Batch>,
    pub(crate) active: Arc<AtomicUsize>,
    pub(crate) inflight: Arc<Semaphore>,
    /// Decode threads free for reads with many frames (see [`super::parallel`]).
    pub(crate) decode_workers: Arc<Semaphore>,
    /// Read buffers reused across connections (see [`BufferPool`]).
    pub(crate) buffers: Arc<BufferPool>,
    pub(crate) next_conn: Arc<AtomicU64>,
    pub(crate) per_peer: Arc<PeerTable>,
    pub(crate) unproven: Arc<Unproven>,
    pub(crate) stop: watch::Receiver<bool>,
    /// The counters of the listener this context accepts for (one context per listener).
    pub(crate) listener: Arc<super::stats::PerListener>,
    /// That listener's index, carried with every batch (per-listener outcomes).
    pub(crate) listener_id: ListenerId,
}

/// Connections that have not sent a complete frame yet, oldest first. At the connection cap
/// the oldest of them is shed to make room, rather than refusing the new connection: a
/// `SocketHandler` sends its record as soon as it connects, so a connection that has sent
/// nothing for a while is not a logging client, and refusing a real sender loses its record
/// (2 000 idle connections once filled the cap and a CPython record was lost). Connections
/// that sent a frame are never shed.
#[derive(Debug, Default)]
pub(crate) struct Unproven {
    /// By connection number (given in accept order, so the first is the oldest).
    waiting: Mutex<BTreeMap<u64, Arc<Notify>>>,
}

/// A connection's entry in [`Unproven`], removed when it proves itself or ends.
pub(crate) struct ShedHandle {
    table: Arc<Unproven>,
    conn: u64,
    notify: Arc<Notify>,
}

impl Unproven {
    pub(crate) fn enter(self: &Arc<Self>, conn: u64) -> ShedHandle {
        let notify = Arc::new(Notify::new());
        self.lock().insert(conn, Arc::clone(&notify));
        ShedHandle {
            table: Arc::clone(self),
            conn,
            notify,
        }
    }

    /// Tells the oldest connection that has not sent a complete frame to close; false if
    /// there is none.
    pub(crate) fn shed_oldest(&self) -> bool {
        match self.lock().pop_first() {
            Some((_, notify)) => {
                notify.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Notify>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShedHandle {
    /// The connection sent a complete frame: it is never shed.
    pub(crate) fn prove(&self) {
        self.table.lock().remove(&self.conn);
    }

    /// Resolves once the connection is shed.
    pub(crate) async fn notified(&self) {
        self.notify.notified().await
    }
}

impl Drop for ShedHandle {
    fn drop(&mut self) {
        self.prove();
    }
}

/// Open connections per remote IP address, so that one address cannot take every slot of
/// the connection cap. Loopback peers are not counted: every local process shares the
/// address, so a per-address cap there would be a cap on the whole machine.
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Holds one slot of a [`PeerTable`]; gives it back when dropped.
pub(crate) struct PeerSlot {
    table: Arc<PeerTable>,
    ip: Option<IpAddr>,
}

impl PeerTable {
    /// A table allowing `limit` connections per non-loopback address (0: no limit).
    pub(crate) fn new(limit: usize) -> Self {
        PeerTable {
            limit,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for a peer, or `None` if its address is at the limit.
    pub(crate) fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<PeerSlot> {
        let counted = ip.filter(|ip| self.limit > 0 && !ip.to_canonical().is_loopback());
        if let Some(ip) = counted {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(ip).or_insert(0);
            if *n >= self.limit {
                return None;
            }
            *n += 1;
        }
        Some(PeerSlot {
            table: Arc::clone(self),
            ip: counted,
        })
    }

    /// Addresses holding at least one counted connection.
    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    // No entry outlives its connections: the table stays as small as the
                    // set of connected addresses.
                    open.remove(&ip);
                }
            }
        }
    }
}

impl Clone for StreamContext {
    fn clone(&self) -> Self {
        StreamContext {
            shared: Arc::clone(&self.shared),
            dispatch: self.dispatch.clone(),
            active: Arc::clone(&self.active),
            inflight: Arc::clone(&self.inflight),
            decode_workers: Arc::clone(&self.decode_workers),
            buffers: Arc::clone(&self.buffers),
            next_conn: Arc::clone(&self.next_conn),
            per_peer: Arc::clone(&self.per_peer),
            unproven: Arc::clone(&self.unproven),
            stop: self.stop.clone(),
            listener: Arc::clone(&self.listener),
            listener_id: self.listener_id,
        }
    }
}

/// Accepts connections from `accept` (stream, peer label, peer IP if any) until stopped,
/// then waits for the connections to drain.
pub(crate) async fn accept_loop<S, F, Fut>(ctx: StreamContext, mut accept: F)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<(S, String, Option<IpAddr>)>>,
{
    let mut conns = JoinSet::new();
    let mut stop = ctx.stop.clone();
    loop {
        tokio::select! {
            _ = super::stopped(&mut stop) => break,
            res = accept() => match res {
                Ok((stream, peer, ip)) => {
                    let counters = &ctx.shared.counters;
                    let Some(slot) = ctx.per_peer.admit(ip) else {
                        counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        ctx.listener.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    };
                    // At the cap, a connection that never sent a frame makes room (it closes
                    // as soon as its task runs); with none, the new one is refused.
                    if ctx.active.load(Ordering::Relaxed) >= ctx.shared.options.max_connections
                        && !ctx.unproven.shed_oldest()
                    {
                        counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        ctx.listener.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    }
                    counters.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    ctx.listener.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    ctx.listener.connections_open.fetch_add(1, Ordering::Relaxed);
                    ctx.active.fetch_add(1, Ordering::Relaxed);
                    let c = ctx.clone();
                    conns.spawn(async move {
                        serve_connection(&c, stream, &peer).await;
                        c.active.fetch_sub(1, Ordering::Relaxed);
                        c.listener.connections_open.fetch_sub(1, Ordering::Relaxed);
                        drop(slot);
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on a failing accept.
                    eprintln!("logwire: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    while conns.join_next().await.is_some() {}
}

/// Reads frames from one connection until EOF, a fatal framing error, a deadline or stop.
///
/// The connection's decisions (deadlines, oversized frames, why it ends) are its
/// [`ConnState`]'s; this runs the I/O around it: each turn takes the complete frames in the
/// buffer ([`Connection::take_frames`]), makes room for more ([`Connection::make_room`]),
/// waits for one [`Wake`] and applies what the state machine makes of it.
async fn serve_connection<S>(ctx: &StreamContext, stream: S, peer: &str)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    let (ack_tx, ack_rx) = mpsc::channel::<RecordAck>(1024);
    let writer_task = tokio::spawn(write_acks(writer, ack_rx));
    let opts = &ctx.shared.options;
    let mut c = Connection {
        ctx,
        reader,
        peer: Arc::from(peer),
        route: AckRoute { conn, tx: ack_tx },
        mapper: RecordMapper::new(opts.map_limits.clone()),
        order: InOrder::new(
            Arc::clone(&ctx.decode_workers),
            opts.map_limits.clone(),
            Arc::clone(&ctx.buffers),
        ),
        // No buffer until the first byte arrives (see `BUFFER_RELEASE`).
        buf: Vec::new(),
        shed: ctx.unproven.enter(conn),
        stop: ctx.stop.clone(),
        inflight: None,
        state: ConnState::new(Deadlines {
            header: opts.header_timeout,
            idle: opts.idle_timeout,
            body: opts.body_timeout,
        }),
    };
    let exit = c.run().await;
    c.account(exit);
    c.order.put_back(std::mem::take(&mut c.buf));
    drop(c.inflight.take());
    // Whatever is still decoding was read in full: it goes out (or, with the dispatcher
    // gone, is counted dropped), in order.
    while let Some(batch) = c.order.next().await {
        let _ = send_batch(ctx, batch).await;
    }
    drop(c);
    // The writer ends once the dispatcher has dropped its copies of the route (after the
    // last ack for this connection was queued).
    let _ = writer_task.await;
}

/// One connection's I/O side: what [`ConnState`] decides about is done here.
struct Connection<'a, R> {
    ctx: &'a StreamContext,
    reader: R,
    peer: Arc<str>,
    route: AckRoute,
    /// Maps the reads this task judges itself.
    mapper: RecordMapper,
    /// Batches not yet sent, in read order (see `parallel`).
    order: InOrder,
    buf: Vec<u8>,
    shed: ShedHandle,
    stop: watch::Receiver<bool>,
    /// The in-flight budget held for a large partial frame.
    inflight: Option<OwnedSemaphorePermit>,
    state: ConnState,
}

impl<R: AsyncRead + Unpin> Connection<'_, R> {
    fn origin(&self) -> Origin<'_> {
        Origin {
            peer: &self.peer,
            listener: self.ctx.listener_id,
        }
    }

    /// Turns until the connection ends.
    async fn run(&mut self) -> Exit {
        loop {
            if let Err(exit) = self.take_frames().await {
                return exit;
            }
            if let Err(exit) = self.make_room().await {
                return exit;
            }
            let wake = self.wait().await;
            let next = self.state.on_wake(wake, Instant::now());
            match next {
                Next::Continue => {}
                Next::Send(batch) => {
                    if send_batch(self.ctx, batch).await.is_err() {
                        return Exit::DispatcherGone;
                    }
                }
                Next::ReleaseBuffers => {
                    self.order.put_back(std::mem::take(&mut self.buf));
                    self.order.release_buffers();
                }
                Next::End(exit) => return exit,
            }
        }
    }

    /// The counters and reject-log lines of an exit. A partial frame in the buffer is lost
    /// (counted truncated), except where the exit was already counted as a reject.
    fn account(&self, exit: Exit) {
        let shared = &*self.ctx.shared;
        let counters = &*shared.counters;
        let partial = !self.buf.is_empty();
        let truncated = |detail: &dyn std::fmt::Display| {
            if partial {
                shared.reject(self.origin(), RejectReason::Truncated, detail);
            }
        };
        match exit {
            Exit::Closed => truncated(&format_args!(
                "stream ended after {} bytes of a frame",
                self.buf.len()
            )),
            Exit::ReadFailed => truncated(&"connection error inside a frame"),
            Exit::TimedOut => {
                counters
                    .connections_timed_out
                    .fetch_add(1, Ordering::Relaxed);
                truncated(&"frame deadline passed");
            }
            Exit::NoInflightBudget => {
                counters
                    .connections_timed_out
                    .fetch_add(1, Ordering::Relaxed);
                shared.reject(
                    self.origin(),
                    RejectReason::Truncated,
                    &"no in-flight budget before the body deadline",
                );
            }
            Exit::Shed => {
                // Never sent a complete frame, and the connection cap was reached: this slot
                // goes to a new connection (see `Unproven`).
                counters.connections_shed.fetch_add(1, Ordering::Relaxed);
                truncated(&"shed at the connection cap");
            }
            // Counted as a `TooLarge` reject when the frame was seen.
            Exit::TooMuchSkipped => {}
            // Stopping or gone: what was read in full is sent or counted dropped.
            Exit::Drained | Exit::DispatcherGone => {}
        }
    }

    /// Drops what arrived of an oversized body, takes the complete frames in the buffer to
    /// whoever judges them (see [`who_judges`]), and starts skipping an oversized frame.
    async fn take_frames(&mut self) -> Result<(), Exit> {
        let max_frame = self.ctx.shared.options.max_frame;
        loop {
            // Nothing of an oversized body is kept: what arrived of it is dropped at once.
            let dropped = self.state.skip(self.buf.len());
            self.buf.drain(..dropped);
            let scan = logwire_wire::scan_frames(&self.buf, max_frame, is_record_envelope);
            if scan.frames > 0 {
                if self.state.frames_taken() {
                    self.shed.prove();
                }
                self.inflight = None;
                self.judge(&scan).await?;
            }
            // While skipping, the buffer is empty here: a prefix over the cap is a new one.
            let Some(len) = scan.too_large else {
                return Ok(());
            };
            // The frames before it are taken: `buf` starts with its prefix.
            let outcome = if self.state.may_skip(len) {
                "skipped"
            } else {
                "connection closed"
            };
            self.ctx.shared.reject(
                self.origin(),
                RejectReason::TooLarge,
                &format_args!(
                    "frame length {len} exceeds the cap of {max_frame} bytes ({outcome})"
                ),
            );
            self.state.oversized(len, Instant::now())?;
            self.buf.drain(..PREFIX_LEN);
            // Its body may be in the buffer already, and frames after it.
        }
    }

    /// Hands a read's complete frames (`..scan.end`) to the judge [`who_judges`] picks.
    async fn judge(&mut self, scan: &FrameScan) -> Result<(), Exit> {
        let ctx = self.ctx;
        let shared = &*ctx.shared;
        let opts = &shared.options;
        let judge = loop {
            match who_judges(opts.bulk_decode, scan, &ctx.dispatch, &self.order) {
                Judge::Wait => {
                    // Every decode thread is busy: send the oldest batch, then look again
                    // (each turn sends one of at most `MAX_QUEUED` queued batches).
                    if let Some(batch) = self.order.next().await {
                        send_batch(ctx, batch)
                            .await
                            .map_err(|()| Exit::DispatcherGone)?;
                    }
                }
                Judge::Dispatcher(None) => {
                    // This connection's reads fill the dispatcher's slots: send what is
                    // queued here (some of them may be among it), then wait for one.
                    self.send_queued().await?;
                    match self.order.dispatcher_slot().await {
                        Some(slot) => break Judge::Dispatcher(Some(slot)),
                        None => return Err(Exit::DispatcherGone),
                    }
                }
                judge => break judge,
            }
        };
        match judge {
            Judge::Thread(worker) => self.judge_on_thread(worker, scan).await,
            Judge::Dispatcher(Some(slot)) => self.judge_on_dispatcher(slot, scan).await,
            Judge::Here | Judge::Dispatcher(None) | Judge::Wait => self.judge_here(scan).await,
        }
    }

    /// What the records of a read may hold at most is taken from the queue's budget before
    /// they are built (and the rest given back once they are), so a connection waiting for
    /// the queue holds no records outside it.
    async fn reserve_for(
        &mut self,
        scan: &FrameScan,
    ) -> Result<Option<OwnedSemaphorePermit>, Exit> {
        let most = (self.ctx.shared.options.map_limits).records_budget(scan.end, scan.frames);
        reserve_sending(self.ctx, &mut self.order, most)
            .await
            .map_err(|()| Exit::DispatcherGone)
    }

    /// Judges the read on a decode thread; the batch takes its place in `order`.
    async fn judge_on_thread(
        &mut self,
        worker: OwnedSemaphorePermit,
        scan: &FrameScan,
    ) -> Result<(), Exit> {
        let reserved = self.reserve_for(scan).await?;
        let frames = take_frames(&mut self.buf, scan.end, &mut self.order);
        let shared = Arc::clone(&self.ctx.shared);
        let (peer, route) = (Arc::clone(&self.peer), self.route.clone());
        let (count, listener) = (scan.frames, self.ctx.listener_id);
        shared
            .counters
            .parallel_reads
            .fetch_add(1, Ordering::Relaxed);
        self.order.spawn(worker, frames, move |frames, mapper| {
            let from = Origin {
                peer: &peer,
                listener,
            };
            let mut batch = judge_frames(&shared, frames, count, mapper, from, Some(&route));
            shared.queue.settle(reserved, &mut batch);
            batch
        });
        Ok(())
    }

    /// Hands the read's frames, unjudged, to the dispatcher (see `parallel`).
    async fn judge_on_dispatcher(
        &mut self,
        slot: OwnedSemaphorePermit,
        scan: &FrameScan,
    ) -> Result<(), Exit> {
        let frames = take_frames(&mut self.buf, scan.end, &mut self.order);
        // Signed frames: verify most of their tags here, the rest on the dispatcher (an
        // unverified frame is verified when judged; see `ReadFrames::tags`): the HMAC is
        // most of a signed record's cost, and split this way one busy connection keeps its
        // task and the dispatcher about equally loaded (see `TAGS_CHECKED_HERE`).
        let tags = if scan.special > 0 {
            let shared = &*self.ctx.shared;
            payloads(&frames)
                .enumerate()
                .map(|(i, p)| {
                    (i % TAGS_CHECKED_HERE.1 < TAGS_CHECKED_HERE.0)
                        .then(|| shared.check_tag(p))
                        .flatten()
                })
                .collect()
        } else {
            Vec::new()
        };
        let read = ReadFrames {
            frames,
            count: scan.frames,
            tags,
            peer: Arc::clone(&self.peer),
            route: self.route.clone(),
            side: self.order.dispatcher_side(),
            slot,
        };
        let counters = &self.ctx.shared.counters;
        counters.dispatcher_reads.fetch_add(1, Ordering::Relaxed);
        let mut batch = Batch::with_capacity(self.ctx.listener_id, 1);
        batch.push(Work::Frames(Box::new(read)));
        self.queue_or_send(batch).await
    }

    /// Judges the read on this task.
    async fn judge_here(&mut self, scan: &FrameScan) -> Result<(), Exit> {
        let reserved = self.reserve_for(scan).await?;
        let shared = &*self.ctx.shared;
        let from = Origin {
            peer: &self.peer,
            listener: self.ctx.listener_id,
        };
        let frames = &self.buf[..scan.end];
        let route = Some(&self.route);
        let mut batch = judge_frames(shared, frames, scan.frames, &mut self.mapper, from, route);
        shared.queue.settle(reserved, &mut batch);
        drain_frames(&mut self.buf, scan.end);
        self.queue_or_send(batch).await
    }

    /// Sends a batch now, or queues it behind older ones still decoding (read order).
    async fn queue_or_send(&mut self, batch: Batch) -> Result<(), Exit> {
        if !self.order.is_empty() {
            self.order.push_ready(batch);
            return Ok(());
        }
        send_batch(self.ctx, batch)
            .await
            .map_err(|()| Exit::DispatcherGone)
    }

    /// Sends every queued batch, oldest first.
    async fn send_queued(&mut self) -> Result<(), Exit> {
        while let Some(batch) = self.order.next().await {
            send_batch(self.ctx, batch)
                .await
                .map_err(|()| Exit::DispatcherGone)?;
        }
        Ok(())
    }

    /// Before reading more: a connection queues a bounded number of batches (past it, wait
    /// for the oldest), and a large partial frame reserves its bytes from the global
    /// in-flight budget before its body is read.
    async fn make_room(&mut self) -> Result<(), Exit> {
        while self.order.is_full() {
            if let Some(batch) = self.order.next().await {
                send_batch(self.ctx, batch)
                    .await
                    .map_err(|()| Exit::DispatcherGone)?;
            }
        }
        let now = Instant::now();
        self.state.buffered(self.buf.len(), now);
        if self.inflight.is_none()
            && let Some(len) = logwire_wire::peek_length(&self.buf)
            && len as usize > READ_CHUNK
        {
            let opts = &self.ctx.shared.options;
            let want = u32::try_from((len as usize).min(opts.inflight_bytes)).unwrap_or(u32::MAX);
            let deadline = self
                .state
                .body_deadline()
                .unwrap_or(now + opts.body_timeout);
            let budget = Arc::clone(&self.ctx.inflight).acquire_many_owned(want);
            match timeout_at(deadline, budget).await {
                Ok(Ok(p)) => self.inflight = Some(p),
                _ => return Err(Exit::NoInflightBudget),
            }
        }
        Ok(())
    }

    /// Waits for the next thing to do: bytes, a decoded batch, a deadline, a stop, a shed,
    /// or quiet enough to give the buffers back.
    async fn wait(&mut self) -> Wake<Batch> {
        let deadline = self.state.deadline(Instant::now());
        // Between frames with no buffer (see `BUFFER_RELEASE`): wait for one byte first.
        let bufferless = self.buf.capacity() == 0;
        let release =
            self.state.between_frames(self.buf.len()) && !bufferless && self.order.is_empty();
        // Grow with what arrives, a chunk at a time: never the announced length.
        if !bufferless && self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        let mut one = [0u8; 1];
        let read_more = async {
            let read = async {
                if bufferless {
                    self.reader.read(&mut one).await
                } else {
                    self.reader.read_buf(&mut self.buf).await
                }
            };
            match deadline {
                Some(d) => timeout_at(d, read).await,
                None => Ok(read.await),
            }
        };
        let proven = self.state.proven();
        let draining = self.state.draining();
        let wake = tokio::select! {
            biased;
            // A batch decoded meanwhile goes out as soon as it is the oldest; `read_buf` is
            // cancel-safe, so the read is simply asked for again.
            done = self.order.next(), if !self.order.is_empty() => Wake::Decoded(done),
            r = read_more => match r {
                Ok(Ok(n)) => Wake::Read(n),
                Ok(Err(_)) => Wake::ReadFailed,
                Err(_) => Wake::Deadline,
            },
            _ = tokio::time::sleep(BUFFER_RELEASE), if release => Wake::Release,
            _ = self.shed.notified(), if !proven => Wake::Shed,
            _ = super::stopped(&mut self.stop), if !draining => Wake::Stop,
        };
        if let Wake::Read(n) = wake
            && n > 0
        {
            if bufferless {
                self.buf = self.order.take_buffer(READ_CHUNK);
                self.buf.push(one[0]);
            }
            let counters = &self.ctx.shared.counters;
            counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
            self.ctx
                .listener
                .bytes
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        wake
    }
}

/// Drops the judged frames (`..end`) from a connection's buffer. A buffer a large frame grew
/// (up to the frame cap) goes back to [`READ_CHUNK`]: the in-flight budget paid for it only
/// while the frame was read, and an idle connection must not keep it for its whole idle
/// timeout.
fn drain_frames(buf: &mut Vec<u8>, end: usize) {
    buf.drain(..end);
    if buf.capacity() > 2 * READ_CHUNK {
        buf.shrink_to(READ_CHUNK);
    }
}

/// The complete frames at the front of `buf` (up to `end`), leaving with the buffer that holds
/// them (no copy): only the partial frame after them moves, to a fresh buffer.
fn take_frames(buf: &mut Vec<u8>, end: usize, order: &mut InOrder) -> Vec<u8> {
    let mut rest = order.take_buffer(READ_CHUNK);
    rest.extend_from_slice(&buf[end..]);
    let mut frames = std::mem::replace(buf, rest);
    frames.truncate(end);
    frames
}

/// Judges complete frames (prefixes included, as [`logwire_wire::scan_frames`] found them) into a
/// batch.
fn judge_frames(
    shared: &Shared,
    frames: &[u8],
    count: usize,
    mapper: &mut RecordMapper,
    from: Origin<'_>,
    route: Option<&AckRoute>,
) -> Batch {
    let mut batch = Batch::with_capacity(from.listener, count);
    let mut tally = Tally::new(from.listener);
    for payload in payloads(frames) {
        let outcome = shared.judge(payload, mapper, from, route);
        tally.push(outcome, &mut batch);
    }
    tally.publish(&shared.counters);
    batch
}

/// Reserves `bytes` of the queue's budget (see [`QueueBudget::reserve`]), sending this
/// connection's finished batches meanwhile: they may hold the budget it waits for, and only
/// this task sends them. `Err` if the dispatcher is gone.
///
/// [`QueueBudget::reserve`]: super::work::QueueBudget::reserve
async fn reserve_sending(
    ctx: &StreamContext,
    order: &mut InOrder,
    bytes: usize,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ()> {
    let reserve = ctx.shared.queue.reserve(bytes);
    tokio::pin!(reserve);
    loop {
        tokio::select! {
            biased;
            permit = &mut reserve => return Ok(permit),
            done = order.next(), if !order.is_empty() => {
                if let Some(batch) = done {
                    send_batch(ctx, batch).await?;
                }
            }
        }
    }
}

/// Sends a batch to the dispatcher (an empty one is not sent); if the dispatcher is gone, its
/// records are counted dropped.
async fn send_batch(ctx: &StreamContext, mut batch: Batch) -> Result<(), ()> {
    if batch.is_empty() {
        return Ok(());
    }
    // Waits while the queue's byte budget is spent: the connection stops reading.
    ctx.shared.queue.charge(&mut batch).await;
    let (mut records, mut unjudged) = (0, 0);
    for work in batch.iter() {
        match work {
            Work::Record(..) => records += 1,
            Work::Frames(read) => unjudged += read.count as u64,
            Work::AckOnly(_) | Work::Charge(_) => {}
        }
    }
    let listener = batch.listener;
    if ctx.dispatch.send(batch).await.is_err() {
        // Frames nobody judged are counted received and dropped: they may have held records.
        let c = &ctx.shared.counters;
        c.add_received(listener, unjudged);
        c.sub_pending(listener, records);
        c.add_dropped(listener, records + unjudged);
        return Err(());
    }
    Ok(())
}

async fn write_acks<W: AsyncWrite + Unpin>(mut writer: W, mut rx: mpsc::Receiver<RecordAck>) {
    while let Some(ack) = rx.recv().await {
        if writer.write_all(&ack.encode_frame()).await.is_err() {
            // The peer is gone; keep draining so the dispatcher never blocks on us.
            while rx.recv().await.is_some() {}
            return;
        }
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_grown_by_a_large_frame_is_given_back() {
        let mut buf = vec![7u8; 1 << 20];
        // The large frame, then the start of the next one.
        drain_frames(&mut buf, (1 << 20) - 10);
        assert_eq!(buf, [7u8; 10]);
        assert!(buf.capacity() <= READ_CHUNK, "{}", buf.capacity());
        // A usual buffer keeps its capacity (no reallocation per read).
        let mut usual = Vec::with_capacity(READ_CHUNK);
        usual.extend_from_slice(&[1u8; 100]);
        drain_frames(&mut usual, 60);
        assert_eq!(usual.capacity(), READ_CHUNK);
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let t = Arc::new(PeerTable::new(2));
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let s1 = t.admit(Some(a)).unwrap();
        let s2 = t.admit(Some(a)).unwrap();
        assert!(t.admit(Some(a)).is_none(), "third from one address");
        let _b = t.admit(Some(b)).expect("another address still gets in");
        drop(s1);
        let s3 = t.admit(Some(a)).expect("a freed slot is reusable");
        drop((s2, s3));
        assert_eq!(t.addresses(), 1, "only b is left in the table");
    }

    #[test]
    fn loopback_and_unix_peers_are_not_counted() {
        let t = Arc::new(PeerTable::new(1));
        let held: Vec<_> = ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"]
            .iter()
            .flat_map(|ip| {
                let ip: IpAddr = ip.parse().unwrap();
                [t.admit(Some(ip)).unwrap(), t.admit(Some(ip)).unwrap()]
            })
            .chain([t.admit(None).unwrap(), t.admit(None).unwrap()])
            .collect();
        assert_eq!(held.len(), 10);
        assert_eq!(t.addresses(), 0);
        let unlimited = Arc::new(PeerTable::new(0));
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let _many: Vec<_> = (0..100)
            .map(|_| unlimited.admit(Some(ip)).unwrap())
            .collect();
    }
}
