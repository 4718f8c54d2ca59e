//! [`ListenerOptions`]: everything a config listener is told, as plain data a CLI can build
//! from its flags.

use super::ListenerError;
#[cfg(feature = "tls")]
use super::tls::TlsServer;
use logwire_config::Destination;
use logwire_wire::{KeyRing, VerifyKey};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// CPython's `logging.config.DEFAULT_LOGGING_CONFIG_PORT`.
pub const DEFAULT_CONFIG_PORT: u16 = 9030;
/// Default cap on one config frame (checked on the length prefix, before the body is read).
pub const DEFAULT_MAX_CONFIG_BYTES: usize = 1 << 20;
/// Default time a new connection has to deliver its 4-byte length prefix.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time the body has to arrive once its prefix is known.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of connections served at once; more are closed immediately.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// One address a config listener binds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerAddr {
    /// A TCP address; port 0 picks a free port (read it back from the handle).
    Tcp(SocketAddr),
    /// A Unix stream socket path (created 0600).
    Unix(PathBuf),
}

impl std::fmt::Display for ListenerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenerAddr::Tcp(a) => write!(f, "tcp {a}"),
            ListenerAddr::Unix(p) => write!(f, "unix {}", p.display()),
        }
    }
}

/// What a [`ConfigListener`](super::ConfigListener) does. Build it with the methods (each
/// takes and returns `self`), e.g. from parsed command-line flags:
///
/// ```
/// use logwire_listener::ListenerOptions;
/// use std::time::Duration;
///
/// let options = ListenerOptions::new()
///     .tcp("127.0.0.1:0".parse().unwrap())
///     .audience("payments-prod")
///     .state_dir("/var/lib/myapp/logwire")
///     .file_root("/var/log/myapp")
///     .header_timeout(Duration::from_secs(5));
/// assert_eq!(options.max_config_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Addresses to bind; empty means TCP `127.0.0.1:9030` (CPython's `listen()` default).
    pub addrs: Vec<ListenerAddr>,
    /// Keys that may sign configs (Ed25519 public keys and HMAC keys).
    pub keys: KeyRing,
    /// Accept plain (unsigned) configs even though the listener is reachable by others or
    /// has keys. Off by default.
    pub allow_unsigned: bool,
    /// This listener's audience name; frames addressed to another audience are rejected.
    pub audience: Option<String>,
    /// Where the per-key seq ratchet is persisted (required with keys).
    pub state_dir: Option<PathBuf>,
    /// Largest config frame accepted.
    pub max_config_bytes: usize,
    /// Deadline for the 4-byte prefix, from accept.
    pub header_timeout: Duration,
    /// Deadline for the body, from the end of the prefix.
    pub body_timeout: Duration,
    /// Connections served at once; excess connections are closed at once and counted.
    pub max_connections: usize,
    /// Pushed file handlers may only write beneath this directory (none at all without it).
    pub file_root: Option<PathBuf>,
    /// Network destinations pushed handlers may send to, besides loopback.
    pub allowed_destinations: Vec<Destination>,
    /// Unix peers allowed to connect, by uid (SO_PEERCRED). `None`: any peer the socket's
    /// 0600 mode lets in; for a keyless owner-only listener it defaults to the owner.
    pub peer_uids: Option<Vec<u32>>,
    /// Mutual TLS on every TCP address (Unix sockets stay plain: the kernel names the peer).
    /// The handshake counts against the header deadline and the connection cap.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsServer>,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ListenerOptions {
    /// Defaults: no address yet (TCP 127.0.0.1:9030 if none is added), no keys, unsigned
    /// configs refused, 1 MiB cap, 10 s header and 30 s body deadlines, 64 connections.
    pub fn new() -> Self {
        ListenerOptions {
            addrs: Vec::new(),
            keys: KeyRing::new(),
            allow_unsigned: false,
            audience: None,
            state_dir: None,
            max_config_bytes: DEFAULT_MAX_CONFIG_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            file_root: None,
            allowed_destinations: Vec::new(),
            peer_uids: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Adds a TCP address.
    pub fn tcp(mut self, addr: SocketAddr) -> Self {
        self.addrs.push(ListenerAddr::Tcp(addr));
        self
    }

    /// Adds a Unix stream socket path.
    pub fn unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.addrs.push(ListenerAddr::Unix(path.into()));
        self
    }

    /// Adds a verification key.
    pub fn key(mut self, key: VerifyKey) -> Self {
        self.keys.insert(key);
        self
    }

    /// Loads verification key files (`ed25519-public:` or `hmac:`; private keys are refused).
    pub fn key_files<P: AsRef<Path>>(
        mut self,
        paths: impl IntoIterator<Item = P>,
    ) -> Result<Self, ListenerError> {
        for p in paths {
            let p = p.as_ref();
            let key = VerifyKey::load(p).map_err(|source| ListenerError::Key {
                path: p.to_path_buf(),
                source,
            })?;
            self.keys.insert(key);
        }
        Ok(self)
    }

    /// Accepts unsigned configs (see [`ListenerOptions::allow_unsigned`]).
    pub fn allow_unsigned(mut self, allow: bool) -> Self {
        self.allow_unsigned = allow;
        self
    }

    /// Sets the listener's audience name.
    pub fn audience(mut self, name: impl Into<String>) -> Self {
        self.audience = Some(name.into());
        self
    }

    /// Sets the seq state directory (created 0700 if missing).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// Sets the config size cap.
    pub fn max_config_bytes(mut self, bytes: usize) -> Self {
        self.max_config_bytes = bytes;
        self
    }

    /// Sets the header deadline.
    pub fn header_timeout(mut self, d: Duration) -> Self {
        self.header_timeout = d;
        self
    }

    /// Sets the body deadline.
    pub fn body_timeout(mut self, d: Duration) -> Self {
        self.body_timeout = d;
        self
    }

    /// Sets the concurrent-connection cap (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets the directory pushed file handlers may write beneath.
    pub fn file_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.file_root = Some(dir.into());
        self
    }

    /// Allows pushed network handlers to send to `dest`.
    pub fn allow_destination(mut self, dest: Destination) -> Self {
        self.allowed_destinations.push(dest);
        self
    }

    /// Speaks mutual TLS on every TCP address (see [`TlsServer`]).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: TlsServer) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Restricts Unix-socket peers to these uids.
    pub fn peer_uids(mut self, uids: Vec<u32>) -> Self {
        self.peer_uids = Some(uids);
        self
    }
}
