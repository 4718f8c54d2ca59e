//! The push client: what `logwire send-config` does, as a library. Two steps, apart so that
//! a transport other than a socket (a message bus) can reuse the first:
//!
//! 1. [`signed_push_frame`] signs a config into a length-prefixed `LWC1` frame (or
//!    [`plain_push_frame`] frames it unsigned, as CPython's cookbook sender does);
//! 2. [`PushClient::push`] connects (TCP, Unix socket, or TCP with mutual TLS), sends the
//!    frame and reads the listener's one reply.
//!
//! Blocking, std sockets only. Bounded: connecting, writing and reading each have the
//! client's timeout, the whole reply read has it as a deadline, and a reply is at most
//! [`MAX_CONFIG_REPLY_BYTES`] (its prefix is checked before the body is read, by
//! [`logwire_wire::read_frame`]).
//!
//! A listener that refuses a frame on its length prefix replies and closes without reading
//! the body, so a failed write is not the end: the reply is read anyway, and only if there
//! is none does the write error matter ([`PushError::NoReply`]). CPython's
//! `logging.config.listen()` never replies: against it every push ends in `NoReply`, even
//! when the config was applied.
//!
//! ```
//! use logwire_engine::LoggerTree;
//! use logwire_listener::{ConfigListener, ListenerOptions, PushClient, SignOptions, signed_push_frame};
//! use logwire_wire::{ConfigStatus};
//!
//! let signer = logwire_wire::generate_ed25519().unwrap();
//! let state = tempfile::tempdir().unwrap();
//! let tree = LoggerTree::new();
//! let options = ListenerOptions::new()
//!     .tcp("127.0.0.1:0".parse().unwrap())
//!     .key(signer.verify_key())
//!     .state_dir(state.path());
//! let listener = ConfigListener::new(tree.clone(), options).start().unwrap();
//!
//! let config = br#"{"version": 1, "root": {"level": "ERROR"}}"#;
//! let frame = signed_push_frame(&signer, config, &SignOptions::new().seq(7)).unwrap();
//! let to = listener.tcp_addr().unwrap().to_string();
//! let reply = PushClient::new(&to).push(&frame).unwrap();
//! assert_eq!((reply.status, reply.seq), (ConfigStatus::Applied, 7));
//! assert_eq!(tree.root().effective_level(), 40);
//! listener.stop_and_join();
//! ```

#[cfg(feature = "tls")]
use crate::{TlsClient, TlsError, TlsFailure};
use logwire_wire::{
    ConfigReply, EnvelopeClock, EnvelopeError, FrameError, FrameReadError, MAX_CONFIG_REPLY_BYTES,
    SigningKey, SystemEnvelopeClock, read_frame, sign_config_frame, try_encode_frame,
};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a signed config stays valid by default (the listener allows at most 7 days).
pub const DEFAULT_PUSH_TTL: Duration = Duration::from_secs(300);

/// The default timeout of a [`PushClient`] (connecting, each write and read, and the reply
/// as a whole).
pub const DEFAULT_PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// What goes into a signed push besides the key and the config.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    seq: Option<u64>,
    ttl: Option<Duration>,
    audience: Option<String>,
    now_ms: Option<i64>,
}

impl SignOptions {
    /// Seq: the current Unix time in milliseconds; valid for [`DEFAULT_PUSH_TTL`]; any
    /// audience.
    pub fn new() -> Self {
        SignOptions::default()
    }

    /// The sequence number; it must exceed the last one the listener applied for this key.
    pub fn seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// How long the config stays valid from its issue time.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Only listeners configured with this audience name accept the config.
    pub fn audience(mut self, name: impl Into<String>) -> Self {
        self.audience = Some(name.into());
        self
    }

    /// The issue time, in Unix milliseconds (default: now, from the system clock).
    pub fn issued_at_ms(mut self, now_ms: i64) -> Self {
        self.now_ms = Some(now_ms);
        self
    }
}

/// Signs `config` (dictConfig JSON or fileConfig INI bytes, sent as they are) into a
/// length-prefixed `LWC1` frame, ready for [`PushClient::push`] or another transport (the
/// frame's body, after the 4-byte prefix, is what [`ConfigGate::apply_frame`] takes).
///
/// [`ConfigGate::apply_frame`]: crate::ConfigGate::apply_frame
pub fn signed_push_frame(
    key: &SigningKey,
    config: &[u8],
    options: &SignOptions,
) -> Result<Vec<u8>, PushError> {
    let now = options
        .now_ms
        .unwrap_or_else(|| SystemEnvelopeClock.now_ms());
    let seq = options.seq.unwrap_or(now.max(0) as u64);
    let ttl = options.ttl.unwrap_or(DEFAULT_PUSH_TTL);
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    sign_config_frame(
        key,
        seq,
        now,
        now.saturating_add(ttl_ms),
        options.audience.as_deref(),
        config,
    )
    .map_err(PushError::Sign)
}

/// Frames `config` unsigned, exactly as CPython's cookbook sender does. Only listeners that
/// allow unsigned configs accept it.
pub fn plain_push_frame(config: &[u8]) -> Result<Vec<u8>, PushError> {
    try_encode_frame(config).map_err(PushError::Frame)
}

/// Why a push got no reply (a reply that rejects the config is not an error: see
/// [`ConfigReply::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The config could not be signed (too large, bad audience, …).
    #[error("cannot sign the config: {0}")]
    Sign(#[source] EnvelopeError),
    /// The config is too large for a frame.
    #[error("cannot frame the config: {0}")]
    Frame(#[source] FrameError),
    /// No connection could be made.
    #[error("cannot reach the listener at {to}: {source}")]
    Connect {
        /// The address as given.
        to: String,
        /// The last connect error.
        #[source]
        source: io::Error,
    },
    /// TLS was asked for on a Unix socket address (Unix sockets stay plain).
    #[error("TLS needs a HOST:PORT address (Unix sockets are plain), not {to}")]
    TlsNeedsTcp {
        /// The address as given.
        to: String,
    },
    /// The TLS handshake failed.
    #[cfg(feature = "tls")]
    #[error("TLS with the listener at {to} as {server_name} failed: {source}")]
    Tls {
        /// The address as given.
        to: String,
        /// The name the listener's certificate had to carry.
        server_name: String,
        /// The handshake error (see [`TlsError::failure`]); boxed, as rustls' errors are
        /// large and every push result carries this type.
        #[source]
        source: Box<TlsError>,
    },
    /// The listener closed the connection without a reply (CPython's listener never
    /// replies).
    #[error("the listener at {to} closed the connection without a reply{}", send_failure(.send_error))]
    NoReply {
        /// The address as given.
        to: String,
        /// Why sending failed, if it did.
        send_error: Option<io::Error>,
    },
    /// Plain bytes went to a TLS listener, which answered with a TLS alert.
    #[error("the listener at {to} speaks TLS and answered with a TLS alert")]
    SpeaksTls {
        /// The address as given.
        to: String,
    },
    /// The reply could not be read (cut short, over the cap, deadline, a read error; under
    /// TLS a refused client certificate shows here, see [`PushError::tls_failure`]).
    #[error("no reply from the listener at {to}: {source}")]
    Reply {
        /// The address as given.
        to: String,
        /// What went wrong.
        #[source]
        source: FrameReadError,
    },
    /// A whole reply arrived but is not a logwire reply.
    #[error("the listener at {to} sent something that is not a logwire reply: {why}")]
    BadReply {
        /// The address as given.
        to: String,
        /// What is wrong with it.
        why: String,
    },
}

fn send_failure(e: &Option<io::Error>) -> String {
    e.as_ref()
        .map(|e| format!(" (sending failed: {e})"))
        .unwrap_or_default()
}

impl PushError {
    /// What went wrong with TLS, when the push used TLS and TLS is what failed (a handshake
    /// error, or a refused client certificate reported on the first read).
    #[cfg(feature = "tls")]
    pub fn tls_failure(&self) -> Option<TlsFailure> {
        match self {
            PushError::Tls { source, .. } => Some(source.failure()),
            PushError::Reply {
                source: FrameReadError::Io(e),
                ..
            } => Some(TlsFailure::of_io(e)),
            _ => None,
        }
    }
}

/// Where a push goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushAddr {
    /// `HOST:PORT` (resolved at connect time; every address is tried in turn).
    Tcp(String),
    /// A Unix stream socket.
    Unix(PathBuf),
}

impl PushAddr {
    /// `unix:PATH` for a Unix socket, anything else `HOST:PORT`.
    pub fn parse(to: &str) -> Self {
        match to.strip_prefix("unix:") {
            Some(path) => PushAddr::Unix(PathBuf::from(path)),
            None => PushAddr::Tcp(to.to_owned()),
        }
    }

    fn describe(&self) -> String {
        match self {
            PushAddr::Tcp(a) => a.clone(),
            PushAddr::Unix(p) => format!("unix:{}", p.display()),
        }
    }
}

/// Sends pushes to one listener: connect, send one frame, read the one reply (see the
/// crate docs for the two steps of a push).
#[derive(Debug, Clone)]
pub struct PushClient {
    addr: PushAddr,
    timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<(TlsClient, Option<String>)>,
}

impl PushClient {
    /// A client for the listener at `to` (`HOST:PORT`, or `unix:PATH`).
    pub fn new(to: &str) -> Self {
        PushClient::to(PushAddr::parse(to))
    }

    /// A client for the listener at `addr`.
    pub fn to(addr: PushAddr) -> Self {
        PushClient {
            addr,
            timeout: DEFAULT_PUSH_TIMEOUT,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The timeout for connecting, for each write and read, and for the reply as a whole
    /// (at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Speaks TLS to the listener; its certificate must name `server_name` (default: the
    /// host of the address).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, client: TlsClient, server_name: Option<String>) -> Self {
        self.tls = Some((client, server_name));
        self
    }

    /// Sends one frame (from [`signed_push_frame`] or [`plain_push_frame`]) and returns the
    /// listener's reply, applied or rejected.
    pub fn push(&self, frame: &[u8]) -> Result<ConfigReply, PushError> {
        let to = self.addr.describe();
        let mut conn = self.connect(&to)?;
        let deadline = Instant::now() + self.timeout;
        let send_error = conn.write_all(frame).and_then(|()| conn.flush()).err();
        match read_frame(&mut conn, MAX_CONFIG_REPLY_BYTES, Some(deadline)) {
            Ok(Some(body)) => ConfigReply::parse(&body).map_err(|e| PushError::BadReply {
                to,
                why: e.to_string(),
            }),
            Ok(None) => Err(PushError::NoReply { to, send_error }),
            // 0x15 0x03: a TLS alert record, a TLS listener's answer to plain bytes.
            Err(FrameReadError::Frame(FrameError::TooLarge { len, .. }))
                if len >> 16 == 0x1503 && !self.uses_tls() =>
            {
                Err(PushError::SpeaksTls { to })
            }
            Err(source) => Err(PushError::Reply { to, source }),
        }
    }

    fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }

    fn connect(&self, to: &str) -> Result<Box<dyn ReadWrite>, PushError> {
        let connect_err = |source| PushError::Connect {
            to: to.to_owned(),
            source,
        };
        let tcp = match &self.addr {
            PushAddr::Unix(path) => {
                if self.uses_tls() {
                    return Err(PushError::TlsNeedsTcp { to: to.to_owned() });
                }
                let s = UnixStream::connect(path).map_err(connect_err)?;
                s.set_read_timeout(Some(self.timeout))
                    .and_then(|()| s.set_write_timeout(Some(self.timeout)))
                    .map_err(connect_err)?;
                return Ok(Box::new(s));
            }
            PushAddr::Tcp(addr) => connect_tcp(addr, self.timeout).map_err(connect_err)?,
        };
        #[cfg(feature = "tls")]
        if let Some((client, name)) = &self.tls {
            let name = name.clone().unwrap_or_else(|| host_of(to).to_owned());
            return match client.connect(tcp, &name) {
                Ok(s) => Ok(Box::new(s)),
                Err(source) => Err(PushError::Tls {
                    to: to.to_owned(),
                    server_name: name,
                    source: Box::new(source),
                }),
            };
        }
        Ok(Box::new(tcp))
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn connect_tcp(to: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in to.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                // One small frame and a reply: do not wait for more to fill a segment.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("the address resolves to nothing")))
}

/// The host part of HOST:PORT (brackets of an IPv6 literal removed), for TLS name checks.
#[cfg(feature = "tls")]
fn host_of(to: &str) -> &str {
    let host = to.rsplit_once(':').map_or(to, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}
