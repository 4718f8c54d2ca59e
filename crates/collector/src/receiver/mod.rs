//! Receivers for CPython `SocketHandler`/`DatagramHandler` traffic (TCP, UDP, Unix stream and
//! Unix datagram sockets, IPv4 and IPv6): the collector behind `logwire serve`.
//!
//! A [`Collector`] binds any number of [`ListenAddr`]s and routes every received record
//! through its own [`LoggerTree`] with CPython's `Logger.handle` semantics, by record name
//! (what the logging cookbook's receiver does). What it accepts:
//!
//! * plain pickled record dicts (`SocketHandler.makePickle`, any protocol), parsed by the
//!   bounded pickle parser, never unpickled: no code from the wire ever runs;
//! * plain JSON objects with the same keys (first byte `{`);
//! * signed `LWR1` envelopes (HMAC-SHA256, see `design.md`), verified before the payload is
//!   looked at. With keys configured, plain frames are rejected unless
//!   [`ReceiverOptions::allow_unsigned`]. A signed record seen again (same key, epoch and
//!   seq) is stored once; if it asked for an ack, the stream gets a cumulative `LWA1` ack only
//!   after the record was handed to its handlers and they were flushed.
//!
//! # Bounds and deadlines (defaults in [`ReceiverOptions::default`])
//!
//! * Frame cap (1 MiB), checked on the 4-byte prefix before any of the body is read; the
//!   buffer grows with the bytes that arrive, never with the announced length. A frame over
//!   the cap is counted `too_large` and its body skipped (read and dropped as it arrives,
//!   nothing buffered, under the body deadline): the sender's next records on the connection
//!   are still read. At most 64 MiB of skipped frames per connection
//!   (`MAX_SKIPPED_PER_CONNECTION`); a prefix past what is left of that (a 4 GiB length)
//!   closes the connection at once.
//! * Header deadline (10 s): the first byte of the first frame after connect. CPython's
//!   `SocketHandler` connects when it has a record to send, so a silent new connection is
//!   not a logging client.
//! * No deadline between frames by default ([`ReceiverOptions::idle_timeout`]).
//!   `SocketHandler` keeps its connection for the life of the process, and when a collector
//!   closes a quiet connection the *next* record the application logs is lost silently
//!   (CPython's first `sendall` after the close succeeds into the void). TCP keepalive
//!   ([`TCP_KEEPALIVE`]) finds dead peers instead; the connection cap bounds what quiet
//!   connections can cost.
//! * Body deadline (30 s): a frame must be complete this long after its first byte arrived
//!   (slowloris); it applies to a skipped oversized frame too.
//! * Connection cap (1024; `logwire serve` sizes it from its open-file limit, which it raises
//!   to the hard limit). At the cap, the oldest connection that has not sent a complete frame
//!   is shed to make room (counted `shed`): a `SocketHandler` sends as soon as it connects,
//!   and refusing a real sender loses its record. With none to shed, the new connection is
//!   closed at once and counted `refused`. At most 64 connections from one remote IP address
//!   (loopback and Unix peers are exempt: all local processes share their address), so one
//!   address cannot take every slot.
//! * An idle connection holds no read buffer: after 1 s between frames its buffers are freed
//!   and it waits for its next byte with a one-byte read (10 000 idle connections: about
//!   7 KB each, `crates/cli/tests/hostile_connection_slots.rs`).
//! * In-flight budget (64 MiB): a frame larger than one read (128 KiB) reserves its length
//!   from a global budget before its body is buffered.
//! * Record budget: a mapped record holds at most 8 bytes per payload byte + 1 KiB
//!   ([`MapLimits::record_budget`]), so memo-shared strs cannot multiply a frame; and the cost
//!   of mapping a frame is linear in its bytes whatever its shape (many, long or repeated
//!   keys; `crates/record/tests/it/record_cost.rs`).
//! * Queue budget (64 MiB, [`ReceiverOptions::queue_bytes`]): records (by what they hold) and
//!   reads waiting for the dispatcher thread, over all connections. A connection takes what a
//!   read's records may hold at most ([`MapLimits::records_budget`]) before it maps them, and
//!   gives back the rest once they are built. When handlers stall (a stdout nobody reads),
//!   receivers wait for it and stop reading, and TCP pushes back on the senders: memory stays
//!   bounded, nothing is dropped. A connection waiting for the budget still sends the batches
//!   it has ready (from decode threads), which may be what holds it.
//! * Datagrams: `SO_RCVBUF` of 8 MiB asked for (the kernel default holds ~92 records; the
//!   kernel caps the value at `net.core.rmem_max`).
//!
//! A rejected frame whose framing is intact (bad pickle, bad tag, wrong field type, a
//! zero-length frame) is logged on stderr (rate-limited), counted and skipped: the
//! connection's other frames are still read. EOF in the middle of a frame drops that frame
//! only. Records are handed to handlers on one dedicated thread fed by a bounded channel (see
//! [`dispatch`](self)), so slow handlers push back on the senders (TCP flow control) instead of
//! growing memory. Counters reconcile, in total and per listener: see [`ReceiverStats`] and
//! [`ListenerCounts::outcomes`].
//!
//! Inside, modules run one way (none imports one after it in this list): `work` (the units
//! of work and the queue's byte budget) ← `stream`/`datagram` (a connection: `conn_state` is
//! its state machine) → `parallel` (the offload policy: `who_judges` is the one place that
//! decides who judges a read) → `ingest` (the judge: verify, dedupe against `seqs::SeenSeqs`,
//! map) → `dispatch` (store, flush, ack from `seqs::StoredSeqs`). `stats` and `seqs` are
//! leaves.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use logwire_engine::{Handler, LoggerTree, StreamHandler};
//! use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions};
//! use std::sync::Arc;
//!
//! let tree = LoggerTree::new();
//! tree.root().add_handler(Arc::new(Handler::new(StreamHandler::stdout())));
//! let running = Collector::new(tree, ReceiverOptions::default())
//!     .start(&[ListenAddr::Tcp("127.0.0.1:9020".parse()?), ListenAddr::Udp("127.0.0.1:9021".parse()?)])
//!     .await?;
//! for addr in running.local_addrs() {
//!     eprintln!("listening on {addr}");
//! }
//! // … later: stop accepting, drain, flush.
//! let stats = running.shutdown().await;
//! assert!(stats.reconciles());
//! # Ok(()) }
//! ```

mod conn_state;
mod datagram;
mod dispatch;
mod ingest;
mod parallel;
mod replay_journal;
mod seqs;
mod stats;
mod stream;
mod work;

pub use replay_journal::JournalError;
use replay_journal::ReplayJournal;

pub use dispatch::{MAX_REMOTE_LOGGERS, MAX_REMOTE_NAME_LEN};

pub use stats::{ListenerCounts, OutcomeCounts, ReceiverStats, RejectReason};

use logwire_engine::LoggerTree;
use logwire_record::MapLimits;
use logwire_wire::{KeyRing, ReplayTracker};
use stats::Counters;
use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// CPython's `DEFAULT_TCP_LOGGING_PORT`.
pub const DEFAULT_TCP_PORT: u16 = 9020;
/// CPython's `DEFAULT_UDP_LOGGING_PORT`.
pub const DEFAULT_UDP_PORT: u16 = 9021;

/// Epochs (sender starts) remembered per key for replay protection; the least recently used
/// is forgotten beyond this.
const REPLAY_EPOCHS_PER_KEY: usize = 1024;

/// TCP keepalive of accepted connections: first probe after this much silence, then every
/// 10 s, 6 times. A peer that vanished (a crashed
/// host, a dropped NAT entry) is found in about two minutes of silence, without closing a
/// quiet but live `SocketHandler` connection.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const TCP_KEEPALIVE_PROBES: u32 = 6;

/// Listen backlog of stream sockets.
const STREAM_BACKLOG: i32 = 4096;

/// Where a collector listens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenAddr {
    /// A TCP listener (`SocketHandler(host, port)`); port 0 picks a free port.
    Tcp(SocketAddr),
    /// A UDP socket (`DatagramHandler(host, port)`).
    Udp(SocketAddr),
    /// A Unix stream socket (`SocketHandler(path, None)`).
    Unix(PathBuf),
    /// A Unix datagram socket (`DatagramHandler(path, None)`).
    UnixDatagram(PathBuf),
}

impl fmt::Display for ListenAddr {
    /// `tcp 127.0.0.1:9020`, `udp [::1]:9021`, `unix /run/log.sock`, `unix-dgram /run/log.dgram`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "tcp {a}"),
            ListenAddr::Udp(a) => write!(f, "udp {a}"),
            ListenAddr::Unix(p) => write!(f, "unix {}", p.display()),
            ListenAddr::UnixDatagram(p) => write!(f, "unix-dgram {}", p.display()),
        }
    }
}

/// A socket bound by someone else, for [`Collector::start_with`]: systemd's socket
/// activation (`LISTEN_FDS`) hands a service sockets it bound (and, for streams, listens
/// on) before the service started. The collector takes it as it is: no options are set on
/// it but non-blocking mode and, for datagrams, the receive buffer asked for; a Unix socket
/// file stays where it is when the collector stops (it belongs to whoever bound it).
#[derive(Debug)]
#[non_exhaustive]
pub enum InheritedSocket {
    /// A listening TCP socket.
    Tcp(std::net::TcpListener),
    /// A bound UDP socket.
    Udp(std::net::UdpSocket),
    /// A listening Unix stream socket.
    Unix(std::os::unix::net::UnixListener),
    /// A bound Unix datagram socket.
    UnixDatagram(std::os::unix::net::UnixDatagram),
}

impl InheritedSocket {
    /// Where it listens, as [`RunningCollector::local_addrs`] reports it (an unnamed Unix
    /// socket is reported as `inherited`).
    fn listen_addr(&self) -> std::io::Result<ListenAddr> {
        let unix_path =
            |p: Option<&Path>| p.map_or_else(|| PathBuf::from("inherited"), Path::to_owned);
        Ok(match self {
            InheritedSocket::Tcp(l) => ListenAddr::Tcp(l.local_addr()?),
            InheritedSocket::Udp(s) => ListenAddr::Udp(s.local_addr()?),
            InheritedSocket::Unix(l) => ListenAddr::Unix(unix_path(l.local_addr()?.as_pathname())),
            InheritedSocket::UnixDatagram(s) => {
                ListenAddr::UnixDatagram(unix_path(s.local_addr()?.as_pathname()))
            }
        })
    }

    fn into_bound(self, opts: &ReceiverOptions) -> Result<(Bound, ListenAddr), ReceiverError> {
        let addr = self.listen_addr().map_err(|source| ReceiverError::Bind {
            addr: ListenAddr::Unix(PathBuf::from("inherited")),
            source,
        })?;
        let err = |source| ReceiverError::Bind {
            addr: addr.clone(),
            source,
        };
        let bound = match self {
            InheritedSocket::Tcp(l) => {
                l.set_nonblocking(true).map_err(err)?;
                Bound::Tcp(Arc::new(tokio::net::TcpListener::from_std(l).map_err(err)?))
            }
            InheritedSocket::Udp(s) => {
                let _ = socket2::SockRef::from(&s).set_recv_buffer_size(opts.datagram_recv_buffer);
                s.set_nonblocking(true).map_err(err)?;
                Bound::Datagram(datagram::DatagramSocket::Udp(
                    tokio::net::UdpSocket::from_std(s).map_err(err)?,
                ))
            }
            InheritedSocket::Unix(l) => {
                l.set_nonblocking(true).map_err(err)?;
                let path = match &addr {
                    ListenAddr::Unix(p) => p.clone(),
                    _ => PathBuf::from("inherited"),
                };
                Bound::Unix(
                    Arc::new(tokio::net::UnixListener::from_std(l).map_err(err)?),
                    path,
                )
            }
            InheritedSocket::UnixDatagram(s) => {
                let _ = socket2::SockRef::from(&s).set_recv_buffer_size(opts.datagram_recv_buffer);
                s.set_nonblocking(true).map_err(err)?;
                Bound::Datagram(datagram::DatagramSocket::Unix(
                    tokio::net::UnixDatagram::from_std(s).map_err(err)?,
                ))
            }
        };
        Ok((bound, addr))
    }
}

/// Limits, deadlines and keys of a collector. See the module docs for the defaults' reasons.
#[derive(Clone, Debug)]
pub struct ReceiverOptions {
    /// Largest frame payload accepted (prefix excluded).
    pub max_frame: usize,
    /// Deadline for the first byte after a connection is accepted.
    pub header_timeout: Duration,
    /// Deadline for the first byte of the next frame, between frames. `None` (the default):
    /// an established connection is never closed for being quiet, TCP keepalive
    /// ([`TCP_KEEPALIVE`]) finds dead peers.
    pub idle_timeout: Option<Duration>,
    /// Deadline for a whole frame once its first byte arrived.
    pub body_timeout: Duration,
    /// Stream connections open at once, over all stream listeners.
    pub max_connections: usize,
    /// Stream connections open at once from one remote IP address (0: no limit), so one
    /// address cannot hold every slot. Loopback and Unix-socket peers are not limited per
    /// address: every local process shares it.
    pub max_connections_per_peer: usize,
    /// Bytes of large partial frames buffered at once, over all connections.
    pub inflight_bytes: usize,
    /// Batches (one per socket read) queued for the dispatcher thread.
    pub queue_batches: usize,
    /// Bytes of records (and of reads for the dispatcher to judge) queued for the dispatcher
    /// thread, over all connections: past it, receivers stop reading (backpressure).
    pub queue_bytes: usize,
    /// Who judges a stream read holding many plain frames.
    pub bulk_decode: BulkDecode,
    /// `SO_RCVBUF` asked for on datagram sockets.
    pub datagram_recv_buffer: usize,
    /// HMAC keys for `LWR1` records. Empty: signed records are rejected (`unknown_key`).
    pub keys: KeyRing,
    /// With keys configured, also accept plain (unsigned) frames.
    pub allow_unsigned: bool,
    /// Log rejected frames on stderr (rate-limited to 20 lines a second).
    pub log_rejects: bool,
    /// Budgets of the record parsers.
    pub map_limits: MapLimits,
    /// Where to keep the replay journal (which signed records were stored), so that a
    /// restarted collector stores a resent record once. `None`: in memory only, and records
    /// stored but not yet acknowledged when the process stops are stored again when resent.
    pub state_dir: Option<PathBuf>,
    /// Set (by the application) once the output can no longer write any record, e.g. a
    /// stdout whose reader is gone (`logwire serve | head -1`). From then on the dispatcher
    /// hands no record to the handlers and counts each one `dropped`, the record whose write
    /// failed included (the flag is read after each record), and acknowledges none: no
    /// counter calls a record stored that was not written.
    pub output_closed: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Put the sender's address (`127.0.0.1:40312`, `unix:/run/app/log.sock`, a datagram's
    /// source) in every record's extra field of this name, replacing one the sender set, so
    /// that outputs can show who sent it. `None` (the default): records are as sent.
    pub peer_field: Option<&'static str>,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions {
            max_frame: 1 << 20,
            header_timeout: Duration::from_secs(10),
            idle_timeout: None,
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_peer: 64,
            inflight_bytes: 64 << 20,
            queue_batches: 256,
            queue_bytes: 64 << 20,
            bulk_decode: BulkDecode::Auto,
            datagram_recv_buffer: 8 << 20,
            keys: KeyRing::new(),
            allow_unsigned: false,
            log_rejects: true,
            map_limits: MapLimits::default(),
            state_dir: None,
            output_closed: None,
            peer_field: None,
        }
    }
}

/// Who judges (parses, maps and dedupes) a stream read that holds many plain frames: at
/// least 32 complete unsigned frames, at most 256 KiB of them. Other reads are judged by their
/// connection's task. Whatever judges them, a connection's records reach the handlers in the
/// order they were sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkDecode {
    /// The dispatcher thread, frame by frame, each record handled as soon as it is mapped;
    /// decode threads (one per core beyond two) only while the dispatcher's queue is backed
    /// up. Records mapped where they are handled never cross cores, which on two cores beats
    /// spreading the decoding (see `crates/bench/README-receive.md`, round 8).
    #[default]
    Auto,
    /// Always the dispatcher thread.
    Dispatcher,
    /// Decode threads, at most this many busy at once over all connections; a read that
    /// finds none free is judged by its connection's task.
    Threads(usize),
}

/// Why a collector could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: ListenAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A Unix socket path is taken by something that is not a stale socket.
    #[error("cannot listen on {}: {reason}", path.display())]
    UnixPath {
        /// The path.
        path: PathBuf,
        /// Why it was refused.
        reason: UnixPathError,
    },
    /// The dispatcher thread could not be started.
    #[error("cannot start the dispatcher thread: {0}")]
    Dispatcher(std::io::Error),
    /// The replay journal in [`ReceiverOptions::state_dir`] could not be opened.
    #[error("replay journal: {0}")]
    Journal(#[from] JournalError),
}

/// Why a Unix socket path was refused ([`ReceiverError::UnixPath`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnixPathError {
    /// The path could not be examined.
    #[error("{0}")]
    Inspect(#[source] std::io::Error),
    /// A socket file left by an earlier run could not be removed.
    #[error("cannot remove stale socket: {0}")]
    RemoveStale(#[source] std::io::Error),
    /// Something other than a socket is there (it is never deleted).
    #[error("it exists and is {kind}, not a socket")]
    NotASocket {
        /// The file type in words ("a regular file").
        kind: &'static str,
    },
}

/// A collector not yet started: a tree to route records into, and options.
#[derive(Debug)]
pub struct Collector {
    tree: LoggerTree,
    options: ReceiverOptions,
}

impl Collector {
    /// A collector routing received records into `tree`.
    pub fn new(tree: LoggerTree, options: ReceiverOptions) -> Self {
        Collector { tree, options }
    }

    /// Binds every address (all or nothing) and starts receiving. Must be called inside a
    /// tokio runtime.
    pub async fn start(self, addrs: &[ListenAddr]) -> Result<RunningCollector, ReceiverError> {
        self.start_with(addrs, Vec::new()).await
    }

    /// As [`Collector::start`], also receiving on sockets bound by someone else (systemd
    /// socket activation); they come after `addrs` in [`RunningCollector::local_addrs`].
    pub async fn start_with(
        self,
        addrs: &[ListenAddr],
        inherited: Vec<InheritedSocket>,
    ) -> Result<RunningCollector, ReceiverError> {
        // Before binding: a journal that cannot be read must stop the start, not be ignored.
        let (journal, stored) = match &self.options.state_dir {
            Some(dir) => {
                let keys = &self.options.keys;
                let (j, t) = ReplayJournal::open(dir, REPLAY_EPOCHS_PER_KEY, keys.len(), |k| {
                    keys.get(k).is_some()
                })?;
                (Some(j), t)
            }
            None => (None, ReplayTracker::new(REPLAY_EPOCHS_PER_KEY)),
        };
        let stored = seqs::StoredSeqs::new(stored);
        let mut bound = Vec::new();
        let mut sockets = Vec::new();
        let mut unix_paths = Vec::new();
        for addr in addrs {
            let socket = bind(addr, &self.options).inspect_err(|_| {
                for p in &unix_paths {
                    let _ = std::fs::remove_file(p);
                }
            })?;
            if let ListenAddr::Unix(p) | ListenAddr::UnixDatagram(p) = addr {
                unix_paths.push(p.clone());
            }
            bound.push(socket.local_addr(addr));
            sockets.push(socket);
        }
        for socket in inherited {
            let (socket, addr) = socket.into_bound(&self.options).inspect_err(|_| {
                for p in &unix_paths {
                    let _ = std::fs::remove_file(p);
                }
            })?;
            bound.push(addr);
            sockets.push(socket);
        }
        let counters = Arc::new(Counters::new(sockets.len()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(ingest::Shared::new(
            self.options.clone(),
            Arc::clone(&counters),
            &stored,
        ));
        let (dispatch_tx, dispatcher) = dispatch::start(
            self.tree.clone(),
            Arc::clone(&shared),
            self.options.queue_batches,
            stored,
            journal,
            self.options.output_closed.clone(),
        )
        .map_err(ReceiverError::Dispatcher)?;
        let ctx = stream::StreamContext {
            shared: Arc::clone(&shared),
            dispatch: dispatch_tx.clone(),
            active: Arc::new(AtomicUsize::new(0)),
            inflight: Arc::new(Semaphore::new(
                self.options.inflight_bytes.min(Semaphore::MAX_PERMITS),
            )),
            decode_workers: parallel::decode_workers(self.options.bulk_decode),
            buffers: Arc::new(parallel::BufferPool::new(stream::READ_CHUNK)),
            next_conn: Arc::new(AtomicU64::new(1)),
            per_peer: Arc::new(stream::PeerTable::new(
                self.options.max_connections_per_peer,
            )),
            unproven: Arc::default(),
            stop: stop_rx.clone(),
            listener: Arc::default(),
            listener_id: stats::ListenerId::default(),
        };
        let mut per_listener = Vec::with_capacity(sockets.len());
        let mut tasks = JoinSet::new();
        for (index, (socket, addr)) in sockets.into_iter().zip(&bound).enumerate() {
            let counts = Arc::new(stats::PerListener::default());
            per_listener.push((addr.clone(), Arc::clone(&counts)));
            let mut ctx = ctx.clone();
            ctx.listener = counts;
            ctx.listener_id = stats::ListenerId(index);
            match socket {
                Bound::Tcp(l) => {
                    tasks.spawn(stream::accept_loop(ctx, move || {
                        let l = Arc::clone(&l);
                        async move {
                            l.accept().await.map(|(s, a)| {
                                let keepalive = socket2::TcpKeepalive::new()
                                    .with_time(TCP_KEEPALIVE)
                                    .with_interval(TCP_KEEPALIVE_INTERVAL)
                                    .with_retries(TCP_KEEPALIVE_PROBES);
                                // Best effort: without it a dead peer's slot is held until
                                // a send to it fails.
                                let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&keepalive);
                                (s, a.to_string(), Some(a.ip()))
                            })
                        }
                    }));
                }
                Bound::Unix(l, path) => {
                    let peer = format!("unix:{}", path.display());
                    tasks.spawn(stream::accept_loop(ctx, move || {
                        let l = Arc::clone(&l);
                        let peer = peer.clone();
                        async move { l.accept().await.map(|(s, _)| (s, peer, None)) }
                    }));
                }
                Bound::Datagram(s) => {
                    tasks.spawn(datagram::recv_loop(
                        Arc::clone(&shared),
                        dispatch_tx.clone(),
                        stop_rx.clone(),
                        s,
                        Arc::clone(&ctx.listener),
                        ctx.listener_id,
                    ));
                }
            }
        }
        Ok(RunningCollector {
            addrs: bound,
            handle: StatsHandle {
                counters: Arc::clone(&counters),
                shared,
                active: Arc::clone(&ctx.active),
                listeners: Arc::new(per_listener),
            },
            counters,
            tree: self.tree,
            stop: stop_tx,
            tasks,
            dispatcher: Some(dispatcher),
            unix_paths,
        })
    }
}

/// A started collector. Dropping it without [`RunningCollector::shutdown`] stops the tasks
/// abruptly (no drain).
#[derive(Debug)]
pub struct RunningCollector {
    addrs: Vec<ListenAddr>,
    counters: Arc<Counters>,
    handle: StatsHandle,
    tree: LoggerTree,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    dispatcher: Option<std::thread::JoinHandle<()>>,
    unix_paths: Vec<PathBuf>,
}

/// Reads a running collector's counters and gauges from anywhere (a periodic stats line, a
/// metrics endpoint).
#[derive(Clone)]
pub struct StatsHandle {
    counters: Arc<Counters>,
    shared: Arc<ingest::Shared>,
    active: Arc<AtomicUsize>,
    listeners: Arc<Vec<(ListenAddr, Arc<stats::PerListener>)>>,
}

impl fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsHandle")
            .field("stats", &self.snapshot())
            .finish_non_exhaustive()
    }
}

impl StatsHandle {
    /// The counters now.
    pub fn snapshot(&self) -> ReceiverStats {
        self.counters.snapshot()
    }

    /// Stream connections open now, over all stream listeners.
    pub fn connections_open(&self) -> usize {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of the queue budget ([`ReceiverOptions::queue_bytes`]) in use now: records and
    /// reads waiting for the dispatcher thread, and what connections reserved for records
    /// they are building. Near the budget, receivers stop reading (backpressure).
    pub fn queue_bytes(&self) -> usize {
        self.shared.queue.in_use()
    }

    /// What each listener took in, in [`RunningCollector::local_addrs`] order.
    pub fn per_listener(&self) -> Vec<(ListenAddr, ListenerCounts)> {
        self.listeners
            .iter()
            .enumerate()
            .map(|(i, (a, c))| (a.clone(), c.snapshot(stats::ListenerId(i), &self.counters)))
            .collect()
    }

    /// The queue budget ([`ReceiverOptions::queue_bytes`]).
    pub fn queue_bytes_limit(&self) -> usize {
        self.shared.options.queue_bytes
    }
}

impl RunningCollector {
    /// The bound addresses, in the order given to [`Collector::start`], with real ports.
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.addrs
    }

    /// The counters now.
    pub fn stats(&self) -> ReceiverStats {
        self.counters.snapshot()
    }

    /// A handle for reading the counters while the collector runs.
    pub fn stats_handle(&self) -> StatsHandle {
        self.handle.clone()
    }

    /// The tree records are routed into (reconfigure it with `logwire-config` at any time).
    pub fn tree(&self) -> &LoggerTree {
        &self.tree
    }

    /// Stops accepting, reads what connections and sockets already hold (a stream is read
    /// until it has been quiet for 100 ms, 2 s at most), hands every accepted record to the
    /// handlers, flushes them and returns the final counters.
    pub async fn shutdown(mut self) -> ReceiverStats {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Some(d) = self.dispatcher.take() {
            // Every sender is gone now: the dispatcher drains, flushes and ends.
            let _ = tokio::task::spawn_blocking(move || d.join()).await;
        }
        // Durable, not logging-flushed: the tree's owner decides when to shut it down (and
        // a MemoryHandler's buffer is its business then).
        self.tree.sync();
        for p in &self.unix_paths {
            let _ = std::fs::remove_file(p);
        }
        self.counters.snapshot()
    }
}

impl Drop for RunningCollector {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for p in &self.unix_paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

enum Bound {
    Tcp(Arc<tokio::net::TcpListener>),
    Unix(Arc<tokio::net::UnixListener>, PathBuf),
    Datagram(datagram::DatagramSocket),
}

impl Bound {
    fn local_addr(&self, asked: &ListenAddr) -> ListenAddr {
        match (self, asked) {
            (Bound::Tcp(l), _) => l
                .local_addr()
                .map_or_else(|_| asked.clone(), ListenAddr::Tcp),
            (Bound::Datagram(datagram::DatagramSocket::Udp(s)), _) => s
                .local_addr()
                .map_or_else(|_| asked.clone(), ListenAddr::Udp),
            _ => asked.clone(),
        }
    }
}

fn bind(addr: &ListenAddr, opts: &ReceiverOptions) -> Result<Bound, ReceiverError> {
    let err = |source| ReceiverError::Bind {
        addr: addr.clone(),
        source,
    };
    match addr {
        ListenAddr::Tcp(a) => {
            let domain = if a.is_ipv6() {
                socket2::Domain::IPV6
            } else {
                socket2::Domain::IPV4
            };
            let s =
                socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))
                    .map_err(err)?;
            // As socketserver's allow_reuse_address: a restarted collector can bind at once.
            s.set_reuse_address(true).map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            s.bind(&(*a).into()).map_err(err)?;
            // std's backlog is 128: a burst of reconnecting senders would overflow it and
            // wait out SYN retransmits. The kernel caps this at net.core.somaxconn.
            s.listen(STREAM_BACKLOG).map_err(err)?;
            let l: std::net::TcpListener = s.into();
            Ok(Bound::Tcp(Arc::new(
                tokio::net::TcpListener::from_std(l).map_err(err)?,
            )))
        }
        ListenAddr::Udp(a) => {
            let domain = if a.is_ipv6() {
                socket2::Domain::IPV6
            } else {
                socket2::Domain::IPV4
            };
            let s =
                socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
                    .map_err(err)?;
            // Best effort: the kernel caps it at net.core.rmem_max.
            let _ = s.set_recv_buffer_size(opts.datagram_recv_buffer);
            s.set_nonblocking(true).map_err(err)?;
            s.bind(&(*a).into()).map_err(err)?;
            let s = tokio::net::UdpSocket::from_std(s.into()).map_err(err)?;
            Ok(Bound::Datagram(datagram::DatagramSocket::Udp(s)))
        }
        ListenAddr::Unix(p) => {
            clear_stale_socket(p)?;
            let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
                .map_err(err)?;
            s.set_nonblocking(true).map_err(err)?;
            s.bind(&socket2::SockAddr::unix(p).map_err(err)?)
                .map_err(err)?;
            s.listen(STREAM_BACKLOG).map_err(err)?;
            let l: std::os::unix::net::UnixListener = s.into();
            let l = tokio::net::UnixListener::from_std(l).map_err(err)?;
            Ok(Bound::Unix(Arc::new(l), p.clone()))
        }
        ListenAddr::UnixDatagram(p) => {
            clear_stale_socket(p)?;
            let s = std::os::unix::net::UnixDatagram::bind(p).map_err(err)?;
            let _ = socket2::SockRef::from(&s).set_recv_buffer_size(opts.datagram_recv_buffer);
            s.set_nonblocking(true).map_err(err)?;
            let s = tokio::net::UnixDatagram::from_std(s).map_err(err)?;
            Ok(Bound::Datagram(datagram::DatagramSocket::Unix(s)))
        }
    }
}

/// Removes a socket file left by a previous run; refuses anything else (a regular file, a
/// symlink someone planted …) rather than delete it.
fn clear_stale_socket(path: &Path) -> Result<(), ReceiverError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ReceiverError::UnixPath {
            path: path.to_owned(),
            reason: UnixPathError::Inspect(e),
        }),
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| ReceiverError::UnixPath {
                path: path.to_owned(),
                reason: UnixPathError::RemoveStale(e),
            })
        }
        Ok(m) => Err(ReceiverError::UnixPath {
            path: path.to_owned(),
            reason: UnixPathError::NotASocket {
                kind: describe_file_type(&m.file_type()),
            },
        }),
    }
}

/// A file type in words, for errors ("a regular file").
fn describe_file_type(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "something else"
    }
}

/// Escapes what could forge or hide log lines in text output (CWE-117/150): C0 controls,
/// DEL, C1 controls (U+0085 included), the line/paragraph separators U+2028/U+2029 and bidi
/// overrides become `\xNN`/`\uNNNN` escapes; a backslash stays as it is. With
/// `keep_newlines`, `\n` is kept (for multi-line tracebacks the caller then indents).
///
/// ```
/// use logwire_collector::receiver::escape_control;
/// assert_eq!(escape_control("a\nb\x1b[2J\u{2028}", false), "a\\nb\\x1b[2J\\u2028");
/// assert_eq!(escape_control("plain", false), "plain");
/// ```
pub fn escape_control(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    fn bad(c: char, keep_newlines: bool) -> bool {
        matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            && !(keep_newlines && c == '\n')
    }
    if !text.chars().any(|c| bad(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !bad(c, keep_newlines) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Resolves once the stop flag is set (the watch guard is dropped inside, so the future
/// stays `Send`).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.map(|_| ());
}

pub(crate) fn escape_text(text: &str) -> Cow<'_, str> {
    escape_control(text, false)
}
