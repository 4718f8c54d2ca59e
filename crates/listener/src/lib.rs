//! The secure config listener: CPython's `logging.config.listen(port, verify)` without its
//! remote code execution, its spin on a truncated frame, its hang on stop, and its
//! half-applied configs.
//!
//! Also here: [`ConfigGate`], the same checks without a socket (for configs that arrive over
//! another transport), and the push client ([`signed_push_frame`] / [`plain_push_frame`],
//! then [`PushClient::push`]), which is what `logwire send-config` runs. Features: `tls`
//! (default on) adds mutual TLS ([`TlsServer`], [`TlsClient`]) through rustls. Errors:
//! [`ListenerError`] is the crate's top error; [`PushError`], [`ApplyError`] and `TlsError`
//! are the seams' own and convert into it.
//!
//! # Protocol (design.md, "Wire formats")
//! One config per connection: a 4-byte big-endian length, then either a plain config (UTF-8
//! dictConfig JSON if the first non-blank character is `{`, else fileConfig INI) or a signed
//! `LWC1` envelope carrying one. The listener answers every config it read with a
//! length-prefixed JSON status, `{"status": "applied"|"rejected", "reason": "...", "seq": n}`,
//! then closes. CPython senders never read it, and nothing breaks.
//!
//! # Checks, in order
//! length ≤ cap (before the body is read) → non-empty → the caller's verify hook, if any
//! (CPython's meaning: bytes in, bytes to apply or a rejection out) → for `LWC1`: magic, alg,
//! reserved → key known and of that alg → exact length → signature (constant time) → time
//! window (300 s future allowance, expiry, 7-day lifetime; from an injectable [`EnvelopeClock`]) →
//! audience → seq strictly above the last applied for that key → UTF-8 → parse → validate
//! against the pushed-config content policy → build → swap (all atomic: a failure changes
//! nothing) → persist the seq (temp file + fsync + rename) → reply. Verify-to-persist runs
//! under one lock, so racing pushes are applied one at a time.
//!
//! # Secure by default
//! * With keys, plain frames are rejected (unless [`ListenerOptions::allow_unsigned`]), and a
//!   state directory is required so the ratchet survives restarts.
//! * Without keys the listener refuses to start, unless every address is a Unix socket in a
//!   directory only this user can write (the socket itself is 0600 and peers are checked by
//!   uid), or unsigned configs are allowed explicitly.
//! * Configs are data: `'()'`, `'.'`, unknown classes and `ext://` other than the standard
//!   streams are rejected; file handlers may only write beneath
//!   [`ListenerOptions::file_root`]; network handlers only reach loopback and
//!   [`ListenerOptions::allowed_destinations`].
//!
//! # TLS
//! With [`ListenerOptions::tls`], every TCP address speaks mutual TLS ([`TlsServer`]): the
//! client must present a certificate chained to the configured CA bundle, or the handshake
//! fails and nothing is read. TLS is transport security on top of, not instead of, the
//! checks above: inside TLS a listener with keys still rejects unsigned and badly signed
//! configs. Unix sockets stay plain (the kernel vouches for the peer's uid).
//!
//! # Bounds
//! Size cap (1 MiB), header deadline (10 s from accept; with TLS it covers the handshake
//! too), body deadline (30 s from the prefix), a cap on connections served at once (64; a
//! TLS handshake holds a slot). When the slots are full, a newcomer sheds the oldest
//! connection that has sent nothing, and only when every slot is sending is it closed at once
//! and counted; peers whose credentials are known (Unix uid, verified TLS client
//! certificate) have 8 more slots of their own (see `slots`).
//! End of stream mid-frame closes that connection and nothing else; nothing spins.
//! [`ListenerHandle::stop`] returns at once and never waits for a client.
//!
//! ```
//! use logwire_engine::LoggerTree;
//! use logwire_listener::{ConfigListener, ListenerOptions};
//! use logwire_wire::{sign_config_frame, ConfigReply, SystemEnvelopeClock, EnvelopeClock};
//! use std::io::{Read, Write};
//!
//! let signer = logwire_wire::generate_ed25519().unwrap();
//! let state = tempfile::tempdir().unwrap();
//! let tree = LoggerTree::new();
//! let options = ListenerOptions::new()
//!     .tcp("127.0.0.1:0".parse().unwrap())
//!     .key(signer.verify_key())
//!     .state_dir(state.path());
//! let listener = ConfigListener::new(tree.clone(), options)
//!     .on_event(|e| eprintln!("config listener: {e}"))
//!     .start()
//!     .unwrap();
//!
//! let now = SystemEnvelopeClock.now_ms();
//! let config = br#"{"version": 1, "root": {"level": "ERROR"}}"#;
//! let frame = sign_config_frame(&signer, 1, now, now + 300_000, None, config).unwrap();
//! let mut s = std::net::TcpStream::connect(listener.tcp_addr().unwrap()).unwrap();
//! s.write_all(&frame).unwrap();
//! let mut reply = Vec::new();
//! s.read_to_end(&mut reply).unwrap();
//! assert_eq!(ConfigReply::parse(&reply[4..]).unwrap(), ConfigReply::applied(1));
//! assert_eq!(tree.root().effective_level(), 40);
//! listener.stop_and_join();
//! ```

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums)]

mod config_gate;
mod conn;
mod error;
mod gate;
mod options;
mod push;
mod seq_store;
mod slots;
mod stats;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
mod tls_client;
mod unix;

pub use config_gate::ConfigGate;
pub use conn::EventCallback;
pub use error::{ApartError, ListenerError};
pub use gate::{ApplyError, Outcome, VerifyHook};
pub use options::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_CONFIG_PORT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONFIG_BYTES,
    DEFAULT_MAX_CONNECTIONS, ListenerAddr, ListenerOptions,
};
pub use push::{
    DEFAULT_PUSH_TIMEOUT, DEFAULT_PUSH_TTL, PushAddr, PushClient, PushError, SignOptions,
    plain_push_frame, signed_push_frame,
};
pub use seq_store::SeqStore;
pub use stats::{ListenerEvent, ListenerStats};
#[cfg(feature = "tls")]
pub use tls::{TlsError, TlsFailure, TlsServer};
#[cfg(feature = "tls")]
pub use tls_client::{TlsClient, TlsClientStream};

use conn::Shared;
use gate::Gate;
use logwire_config::{Configurator, ContentPolicy, HandlerRegistry, StreamFactory};
use logwire_engine::LoggerTree;
use logwire_wire::{Audience, EnvelopeClock, SystemEnvelopeClock};
use stats::Counters;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A config listener, not yet started. See the [module docs](self).
pub struct ConfigListener {
    tree: LoggerTree,
    options: ListenerOptions,
    registry: Option<HandlerRegistry>,
    streams: Option<Arc<dyn StreamFactory>>,
    hook: Option<VerifyHook>,
    clock: Arc<dyn EnvelopeClock + Send + Sync>,
    events: Option<EventCallback>,
    keep_existing_loggers: bool,
    /// Sockets bound by someone else (systemd socket activation), served as well as the
    /// addresses of the options.
    inherited: Vec<InheritedListener>,
}

/// A listening socket the config listener takes instead of binding one (systemd socket
/// activation). It must already listen.
#[derive(Debug)]
#[non_exhaustive]
pub enum InheritedListener {
    /// A TCP listener (mutual TLS applies as on bound TCP addresses).
    Tcp(std::net::TcpListener),
    /// A Unix stream listener. Its file is left in place at stop (its binder owns it).
    Unix(std::os::unix::net::UnixListener),
}

impl std::fmt::Debug for ConfigListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigListener")
            .field("options", &self.options)
            .field("verify_hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl ConfigListener {
    /// A listener that will reconfigure `tree`.
    pub fn new(tree: LoggerTree, options: ListenerOptions) -> Self {
        ConfigListener {
            tree,
            options,
            registry: None,
            streams: None,
            hook: None,
            clock: Arc::new(SystemEnvelopeClock),
            events: None,
            keep_existing_loggers: false,
            inherited: Vec::new(),
        }
    }

    /// Also serves these already listening sockets (systemd socket activation). With any,
    /// no default address is added when the options name none. A keyless listener that
    /// refuses unsigned configs takes only a Unix socket owned by this process's uid with
    /// mode 0600 or stricter (as systemd's `SocketUser=`/`SocketMode=0600` make it).
    pub fn inherited(mut self, sockets: Vec<InheritedListener>) -> Self {
        self.inherited.extend(sockets);
        self
    }

    /// Pushed configs never disable loggers they do not name (their
    /// `disable_existing_loggers` is ignored): for a collector, whose existing loggers are
    /// the ones remote record names created. See `Configurator::keep_existing_loggers`.
    pub fn keep_existing_loggers(mut self, keep: bool) -> Self {
        self.keep_existing_loggers = keep;
        self
    }

    /// The handler classes pushed configs may use (default: the built-in handlers plus
    /// `SocketHandler`, `DatagramHandler` and `SysLogHandler`).
    pub fn registry(mut self, registry: HandlerRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Where `ext://sys.stdout`/`ext://sys.stderr` handlers write (tests capture them).
    pub fn streams(mut self, streams: Arc<dyn StreamFactory>) -> Self {
        self.streams = Some(streams);
        self
    }

    /// A verify hook with CPython's meaning; it runs on the received bytes before the
    /// built-in checks (see the [module docs](self)). It does not replace keys: a keyless
    /// listener still needs [`ListenerOptions::allow_unsigned`] or an owner-only socket.
    pub fn verify_hook(
        mut self,
        hook: impl Fn(Vec<u8>) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The clock for envelope time checks (default: the system clock).
    pub fn clock(mut self, clock: impl EnvelopeClock + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Called for every applied or rejected config and every dropped connection;
    /// `Display` of the event is a log line.
    pub fn on_event(mut self, callback: impl Fn(&ListenerEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(callback));
        self
    }

    /// The checks and state shared by [`start`](Self::start) and [`gate`](Self::gate): a
    /// state directory for keys, the seq store, the pushed-config policy, the file root apart
    /// from the state, and the configurator.
    pub(crate) fn build_gate(self) -> Result<(Gate, ListenerOptions), ListenerError> {
        let o = self.options;
        if !o.keys.is_empty() && o.state_dir.is_none() {
            return Err(ListenerError::NoStateDir);
        }
        let store = o.state_dir.as_ref().map(SeqStore::open).transpose()?;
        let policy = ContentPolicy::pushed(o.file_root.as_deref(), o.allowed_destinations.clone())?;
        if let (Some(state), Some(root)) = (&o.state_dir, &o.file_root) {
            check_apart(state, root)?;
        }
        let registry = self
            .registry
            .unwrap_or_else(logwire_handlers::standard_registry);
        let mut configurator =
            Configurator::new(registry, policy).keep_existing_loggers(self.keep_existing_loggers);
        if let Some(s) = self.streams {
            configurator = configurator.with_streams(s);
        }
        let gate = Gate {
            allow_plain: o.keys.is_empty() || o.allow_unsigned,
            keys: o.keys.clone(),
            audience: o.audience.as_deref().map(Audience::for_name),
            clock: self.clock,
            hook: self.hook,
            configurator,
            tree: self.tree,
            store: Mutex::new(store),
        };
        Ok((gate, o))
    }

    /// Checks the options, binds every address and starts serving on a thread of its own.
    /// Refuses a file root that contains the state directory or lies inside it: a pushed
    /// file handler could otherwise overwrite the seq ratchet (a replay door, or a listener
    /// that no longer starts).
    /// When this returns `Ok` the listener is bound and ready (CPython's `ready` event).
    pub fn start(mut self) -> Result<ListenerHandle, ListenerError> {
        let o = &mut self.options;
        if o.addrs.is_empty() && self.inherited.is_empty() {
            o.addrs.push(ListenerAddr::Tcp(SocketAddr::from((
                [127, 0, 0, 1],
                DEFAULT_CONFIG_PORT,
            ))));
        }
        if o.keys.is_empty() && !o.allow_unsigned {
            let uid = unix::own_uid().map_err(ListenerError::Runtime)?;
            for a in &o.addrs {
                let why = match a {
                    ListenerAddr::Tcp(t) => Some(format!("{t} is a TCP address")),
                    ListenerAddr::Unix(p) => unix::not_owner_only(p),
                };
                if let Some(why) = why {
                    return Err(ListenerError::Unprotected { why });
                }
            }
            for l in &self.inherited {
                if let Some(why) = unix::inherited_not_owner_only(l, uid) {
                    return Err(ListenerError::Unprotected { why });
                }
            }
            match &o.peer_uids {
                None => o.peer_uids = Some(vec![uid]),
                Some(u) if u.iter().all(|&x| x == uid) => {}
                Some(_) => {
                    return Err(ListenerError::Unprotected {
                        why: "peer uids other than the owner's are allowed".into(),
                    });
                }
            }
        }
        let events = self.events.take();
        let inherited = std::mem::take(&mut self.inherited);
        let (gate, o) = self.build_gate()?;
        let shared = Arc::new(Shared {
            gate,
            counters: Counters::default(),
            events,
            max_config_bytes: o.max_config_bytes,
            header_timeout: o.header_timeout,
            body_timeout: o.body_timeout,
            peer_uids: o.peer_uids.clone(),
        });

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .thread_name("logwire-config-apply")
            .build()
            .map_err(ListenerError::Runtime)?;
        let slots = slots::Slots::new(o.max_connections);
        let mut bound = Vec::new();
        let mut unix_paths = Vec::new();
        let mut loops: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> =
            Vec::new();
        {
            let _enter = runtime.enter();
            for a in &o.addrs {
                match a {
                    ListenerAddr::Tcp(addr) => {
                        let bind_err = |source| ListenerError::Bind {
                            addr: addr.to_string(),
                            source,
                        };
                        let l = std::net::TcpListener::bind(addr).map_err(bind_err)?;
                        l.set_nonblocking(true).map_err(bind_err)?;
                        let local = l.local_addr().map_err(bind_err)?;
                        let l = tokio::net::TcpListener::from_std(l).map_err(bind_err)?;
                        bound.push(ListenerAddr::Tcp(local));
                        loops.push(Box::pin(conn::accept_tcp(
                            l,
                            shared.clone(),
                            slots.clone(),
                            conn::acceptor(&o),
                        )));
                    }
                    ListenerAddr::Unix(path) => {
                        let bind_err = |source| ListenerError::Bind {
                            addr: path.display().to_string(),
                            source,
                        };
                        let (l, ino) = unix::bind(path)?;
                        unix_paths.push((path.clone(), ino));
                        l.set_nonblocking(true).map_err(bind_err)?;
                        let l = tokio::net::UnixListener::from_std(l).map_err(bind_err)?;
                        bound.push(ListenerAddr::Unix(path.clone()));
                        loops.push(Box::pin(conn::accept_unix(
                            l,
                            shared.clone(),
                            slots.clone(),
                        )));
                    }
                }
            }
            for l in inherited {
                let taken_err = |source| ListenerError::Bind {
                    addr: "a socket passed by systemd".into(),
                    source,
                };
                match l {
                    InheritedListener::Tcp(l) => {
                        l.set_nonblocking(true).map_err(taken_err)?;
                        let local = l.local_addr().map_err(taken_err)?;
                        let l = tokio::net::TcpListener::from_std(l).map_err(taken_err)?;
                        bound.push(ListenerAddr::Tcp(local));
                        loops.push(Box::pin(conn::accept_tcp(
                            l,
                            shared.clone(),
                            slots.clone(),
                            conn::acceptor(&o),
                        )));
                    }
                    InheritedListener::Unix(l) => {
                        l.set_nonblocking(true).map_err(taken_err)?;
                        let path = l
                            .local_addr()
                            .ok()
                            .and_then(|a| a.as_pathname().map(PathBuf::from))
                            .unwrap_or_default();
                        let l = tokio::net::UnixListener::from_std(l).map_err(taken_err)?;
                        bound.push(ListenerAddr::Unix(path));
                        loops.push(Box::pin(conn::accept_unix(
                            l,
                            shared.clone(),
                            slots.clone(),
                        )));
                    }
                }
            }
        }
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let cleanup_paths = unix_paths.clone();
        let thread = std::thread::Builder::new()
            .name("logwire-config-listener".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for l in loops {
                        set.spawn(l);
                    }
                    let _ = stop_rx.wait_for(|stopped| *stopped).await;
                    // Dropping the accept loops drops their connection sets: every client
                    // task is aborted wherever it waits.
                    set.abort_all();
                });
                // Do not wait for anything still running (an apply finishes on its own).
                runtime.shutdown_background();
                for (p, ino) in &cleanup_paths {
                    unix::unlink_if_ours(p, *ino);
                }
            })
            .map_err(|e| {
                for (p, ino) in &unix_paths {
                    unix::unlink_if_ours(p, *ino);
                }
                ListenerError::Runtime(e)
            })?;
        Ok(ListenerHandle {
            stop: Arc::new(stop_tx),
            thread: Some(thread),
            bound,
            shared,
        })
    }
}

/// A running listener. Dropping it stops the listener (without waiting).
pub struct ListenerHandle {
    stop: Arc<watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
    bound: Vec<ListenerAddr>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ListenerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("bound", &self.bound)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Stops a listener from anywhere (cloneable, cheap).
#[derive(Clone, Debug)]
pub struct ListenerStopper(Arc<watch::Sender<bool>>);

impl ListenerStopper {
    /// Stops the listener; returns at once.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl ListenerHandle {
    /// The bound addresses, TCP ports resolved (port 0 → the port picked).
    pub fn local_addrs(&self) -> &[ListenerAddr] {
        &self.bound
    }

    /// The first bound TCP address.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.bound.iter().find_map(|a| match a {
            ListenerAddr::Tcp(t) => Some(*t),
            ListenerAddr::Unix(_) => None,
        })
    }

    /// The first bound Unix socket path.
    pub fn unix_path(&self) -> Option<PathBuf> {
        self.bound.iter().find_map(|a| match a {
            ListenerAddr::Unix(p) => Some(p.clone()),
            ListenerAddr::Tcp(_) => None,
        })
    }

    /// True while the listener is bound and serving (not stopped).
    pub fn ready(&self) -> bool {
        !*self.stop.borrow() && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The counters now.
    pub fn stats(&self) -> ListenerStats {
        self.shared.counters.snapshot()
    }

    /// Reads the counters from anywhere, for as long as the reader lives (a metrics
    /// endpoint); the listener may have stopped by then.
    pub fn stats_reader(&self) -> impl Fn() -> ListenerStats + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.counters.snapshot()
    }

    /// A handle that can stop the listener from another thread.
    pub fn stopper(&self) -> ListenerStopper {
        ListenerStopper(self.stop.clone())
    }

    /// Stops accepting and aborts every connection; returns at once, whatever clients do.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until the listener has stopped (after [`stop`](Self::stop), from here or a
    /// [`ListenerStopper`]). It never waits for a client.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// [`stop`](Self::stop) then [`join`](Self::join).
    pub fn stop_and_join(self) {
        self.stop();
        self.join();
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Refuses a state directory and a file root that overlap (one inside the other, or the
/// same), compared as canonical paths (both exist by now: the state directory was opened).
pub fn check_apart(
    state_dir: &std::path::Path,
    file_root: &std::path::Path,
) -> Result<(), ApartError> {
    let canon = |p: &std::path::Path| {
        p.canonicalize().map_err(|source| ApartError::Unresolvable {
            path: p.to_path_buf(),
            source,
        })
    };
    let (state, root) = (canon(state_dir)?, canon(file_root)?);
    if state.starts_with(&root) || root.starts_with(&state) {
        return Err(ApartError::Overlap { root, state });
    }
    Ok(())
}
