//! Stream receivers: TCP (`SocketHandler(host, port)`) and Unix stream sockets
//! (`SocketHandler(path, None)`), many length-prefixed frames per connection.
//!
//! Per connection: a read buffer that grows only with bytes that arrived (an announced
//! length is checked against the cap before anything of the body is read, and is never
//! preallocated), deadlines (first byte after connect, idle between frames, whole frame once
//! it started), a global in-flight byte budget for large partial frames, and a writer task
//! for `LWA1` acks.

use super::dispatch::{AckRoute, Batch};
use super::ingest::{Shared, push_outcome};
use super::stats::RejectReason;
use crate::record_map::RecordMapper;
use logwire_wire::RecordAck;
use logwire_wire::frame::PREFIX_LEN;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

/// Bytes read per `read` call (and the buffer size kept per connection).
const READ_CHUNK: usize = 64 * 1024;

/// How long a stopping collector keeps reading a connection that still delivers data, per
/// read; bounded overall by [`DRAIN_TOTAL`].
const DRAIN_QUIET: Duration = Duration::from_millis(100);
const DRAIN_TOTAL: Duration = Duration::from_secs(2);

/// What the accept loops share.
pub(crate) struct StreamContext {
    pub(crate) shared: Arc<Shared>,
    pub(crate) dispatch: mpsc::Sender<Batch>,
    pub(crate) active: Arc<AtomicUsize>,
    pub(crate) inflight: Arc<Semaphore>,
    pub(crate) next_conn: Arc<AtomicU64>,
    pub(crate) per_peer: Arc<PeerTable>,
    pub(crate) stop: watch::Receiver<bool>,
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
            next_conn: Arc::clone(&self.next_conn),
            per_peer: Arc::clone(&self.per_peer),
            stop: self.stop.clone(),
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
                    if ctx.active.load(Ordering::Relaxed) >= ctx.shared.options.max_connections {
                        counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    }
                    let Some(slot) = ctx.per_peer.admit(ip) else {
                        counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    };
                    counters.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    ctx.active.fetch_add(1, Ordering::Relaxed);
                    let c = ctx.clone();
                    conns.spawn(async move {
                        serve_connection(&c, stream, &peer).await;
                        c.active.fetch_sub(1, Ordering::Relaxed);
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
async fn serve_connection<S>(ctx: &StreamContext, stream: S, peer: &str)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let conn = ctx.next_conn.fetch_add(1, Ordering::Relaxed);
    let (ack_tx, ack_rx) = mpsc::channel::<RecordAck>(1024);
    let route = AckRoute { conn, tx: ack_tx };
    let writer_task = tokio::spawn(write_acks(writer, ack_rx));

    let shared = &*ctx.shared;
    let opts = &shared.options;
    let counters = &*shared.counters;
    let mut mapper = RecordMapper::new(opts.map_limits.clone());
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut stop = ctx.stop.clone();
    let mut first = true;
    let mut frame_started: Option<Instant> = None;
    let mut permit: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut draining: Option<Instant> = None;

    'conn: loop {
        // Split every complete frame out of the buffer.
        let mut pos = 0;
        let mut batch: Batch = Vec::new();
        let mut fatal = false;
        while buf.len() - pos >= PREFIX_LEN {
            let len = u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
            let Ok(len) = logwire_wire::frame::check_length(len, opts.max_frame) else {
                shared.reject(
                    peer,
                    RejectReason::TooLarge,
                    &format_args!(
                        "frame length {len} exceeds the cap of {} bytes",
                        opts.max_frame
                    ),
                );
                fatal = true;
                break;
            };
            if buf.len() - pos - PREFIX_LEN < len {
                break;
            }
            let payload = &buf[pos + PREFIX_LEN..pos + PREFIX_LEN + len];
            let outcome = shared.judge(payload, &mut mapper, peer, Some(&route));
            push_outcome(outcome, &mut batch, counters);
            pos += PREFIX_LEN + len;
            frame_started = None;
            permit = None;
        }
        if !batch.is_empty() && send_batch(ctx, batch).await.is_err() {
            break 'conn;
        }
        if fatal {
            break 'conn;
        }
        buf.drain(..pos);
        if !buf.is_empty() && frame_started.is_none() {
            frame_started = Some(Instant::now());
        }
        // A large partial frame: reserve its bytes from the global budget before reading it.
        if permit.is_none() && buf.len() >= PREFIX_LEN {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len > READ_CHUNK {
                let want = u32::try_from(len.min(opts.inflight_bytes)).unwrap_or(u32::MAX);
                let deadline = frame_started.unwrap_or_else(Instant::now) + opts.body_timeout;
                match timeout_at(deadline, Arc::clone(&ctx.inflight).acquire_many_owned(want)).await
                {
                    Ok(Ok(p)) => permit = Some(p),
                    _ => {
                        shared.reject(
                            peer,
                            RejectReason::Truncated,
                            &"no in-flight budget before the body deadline",
                        );
                        counters
                            .connections_timed_out
                            .fetch_add(1, Ordering::Relaxed);
                        break 'conn;
                    }
                }
            }
        }

        let deadline = match (frame_started, first) {
            (Some(t), _) => t + opts.body_timeout,
            (None, true) => Instant::now() + opts.header_timeout,
            (None, false) => Instant::now() + opts.idle_timeout,
        };
        let deadline = match draining {
            Some(end) => deadline.min(end).min(Instant::now() + DRAIN_QUIET),
            None => deadline,
        };
        // Grow with what arrives, a chunk at a time: never the announced length.
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            biased;
            r = timeout_at(deadline, reader.read_buf(&mut buf)) => r,
            _ = super::stopped(&mut stop), if draining.is_none() => {
                draining = Some(Instant::now() + DRAIN_TOTAL);
                continue 'conn;
            }
        };
        match read {
            Ok(Ok(0)) => {
                if !buf.is_empty() {
                    let detail = format_args!("stream ended after {} bytes of a frame", buf.len());
                    shared.reject(peer, RejectReason::Truncated, &detail);
                }
                break 'conn;
            }
            Ok(Ok(n)) => {
                counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                first = false;
            }
            Ok(Err(_)) => {
                // Reset by peer and the like: a partial frame is lost, as on EOF.
                if !buf.is_empty() {
                    shared.reject(
                        peer,
                        RejectReason::Truncated,
                        &"connection error inside a frame",
                    );
                }
                break 'conn;
            }
            Err(_) => {
                if draining.is_some() {
                    break 'conn;
                }
                counters
                    .connections_timed_out
                    .fetch_add(1, Ordering::Relaxed);
                if !buf.is_empty() {
                    shared.reject(peer, RejectReason::Truncated, &"frame deadline passed");
                }
                break 'conn;
            }
        }
    }
    drop(permit);
    drop(route);
    // The writer ends once the dispatcher has dropped its copies of the route (after the
    // last ack for this connection was queued).
    let _ = writer_task.await;
}

async fn send_batch(ctx: &StreamContext, batch: Batch) -> Result<(), ()> {
    let n = batch
        .iter()
        .filter(|w| matches!(w, super::dispatch::Work::Record(..)))
        .count() as u64;
    if ctx.dispatch.send(batch).await.is_err() {
        let c = &ctx.shared.counters;
        c.pending.fetch_sub(n, Ordering::Relaxed);
        c.dropped.fetch_add(n, Ordering::Relaxed);
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
