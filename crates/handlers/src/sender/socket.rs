//! [`SocketHandler`] and [`DatagramHandler`].

use super::NetSender;
use super::backoff::Backoff;
use super::buffer::{
    BufferPolicy, DEFAULT_BUFFER_CAPACITY, DEFAULT_UNACKED_WINDOW, Framing, NoticeFn, SendError,
    SendStats, SenderConfig, Signer,
};
use super::conn::Endpoint;
use super::encode::{RecordLayout, pickle_record};
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
use logwire_wire::{Epoch, PayloadFormat, SigningKey};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The largest UDP payload over IPv4 (65535 − 8 − 20): a bigger datagram fails with
/// `EMSGSIZE` in CPython.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// The logger name of the in-band drop notice.
pub(crate) const NOTICE_LOGGER: &str = "logwire.sender";

/// Options of [`SocketHandler`] and [`DatagramHandler`] beyond CPython's `host, port`.
#[derive(Clone)]
pub struct SocketOptions {
    /// Records buffered while the destination is away (1 ..= `MAX_BUFFER_CAPACITY`).
    pub capacity: usize,
    /// What a full buffer does.
    pub policy: BufferPolicy,
    /// The reconnect schedule (`retryStart`, `retryFactor`, `retryMax`).
    pub backoff: Backoff,
    /// Seal every frame as `LWR1` with this HMAC key and wait for `LWA1` acks
    /// ([`SocketHandler`] only).
    pub signing_key: Option<SigningKey>,
    /// Signed frames sent and kept until acknowledged, at most.
    pub unacked_window: usize,
    /// A full unacked window with no ack for this long ends the connection (then every
    /// unacked frame is resent on a new one).
    pub ack_timeout: Duration,
    /// Per-address connect timeout (CPython: 1 s).
    pub connect_timeout: Duration,
    /// A write that makes no progress for this long ends the connection.
    pub send_timeout: Duration,
    /// How long `flush()` waits for delivery.
    pub flush_timeout: Duration,
    /// How long `close()` waits for delivery before giving up (and reporting) the rest.
    pub close_timeout: Duration,
    /// Which Python's record attributes to send.
    pub layout: RecordLayout,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            capacity: DEFAULT_BUFFER_CAPACITY,
            policy: BufferPolicy::Block,
            backoff: Backoff::default(),
            signing_key: None,
            unacked_window: DEFAULT_UNACKED_WINDOW,
            ack_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(1),
            send_timeout: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
            layout: RecordLayout::default(),
        }
    }
}

/// Named setters, so a program sets what differs from the defaults in one chain:
///
/// ```
/// use logwire_handlers::{BufferPolicy, SocketOptions};
/// use std::time::Duration;
///
/// let key = logwire_wire::generate_hmac().unwrap();
/// let options = SocketOptions::default()
///     .signing_key(key) // LWR1 frames, acknowledged and resent: lossless
///     .capacity(50_000)
///     .policy(BufferPolicy::Block)
///     .close_timeout(Duration::from_secs(10));
/// assert!(options.signing_key.is_some());
/// ```
impl SocketOptions {
    /// Seals frames with this HMAC key and keeps them until acknowledged.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Records buffered while the destination is away.
    pub fn capacity(mut self, records: usize) -> Self {
        self.capacity = records;
        self
    }

    /// What a full buffer does.
    pub fn policy(mut self, policy: BufferPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The reconnect schedule.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long `flush()` waits for delivery.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// How long `close()` waits for delivery before giving up the rest (and reporting it).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Which Python's record attributes to send.
    pub fn layout(mut self, layout: RecordLayout) -> Self {
        self.layout = layout;
        self
    }
}

impl std::fmt::Debug for SocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketOptions")
            .field("capacity", &self.capacity)
            .field("policy", &self.policy)
            .field("backoff", &self.backoff)
            .field("signed", &self.signing_key.as_ref().map(SigningKey::key_id))
            .field("unacked_window", &self.unacked_window)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// The drop notice as a pickled record: a WARNING from `logwire.sender`.
fn pickle_notice(layout: RecordLayout) -> NoticeFn {
    Arc::new(move |n| {
        let record = LogRecord::new(
            NOTICE_LOGGER,
            logwire_engine::level::WARNING,
            "",
            0,
            format!("{n} records dropped (send buffer full)"),
        );
        pickle_record(&record, layout).ok()
    })
}

/// CPython's `address = host if port is None else (host, port)`.
fn endpoint(host: String, port: Option<u16>, datagram: bool) -> Endpoint {
    match (port, datagram) {
        (Some(port), false) => Endpoint::Tcp { host, port },
        (Some(port), true) => Endpoint::Udp { host, port },
        (None, false) => Endpoint::UnixStream(PathBuf::from(host)),
        (None, true) => Endpoint::UnixDatagram(PathBuf::from(host)),
    }
}

fn start(kind: &'static str, endpoint: Endpoint, o: SocketOptions) -> Result<NetSender, SendError> {
    let signer = o.signing_key.map(|key| Signer {
        key,
        format: PayloadFormat::Pickle,
        window: o.unacked_window,
        ack_timeout: o.ack_timeout,
    });
    let config = SenderConfig {
        kind,
        endpoint,
        framing: Framing::LengthPrefix,
        signer,
        capacity: o.capacity,
        policy: o.policy,
        connect_timeout: o.connect_timeout,
        send_timeout: o.send_timeout,
        notice: pickle_notice(o.layout),
    };
    NetSender::start(config, o.backoff, o.flush_timeout, o.close_timeout)
}

fn to_handler_error(e: SendError) -> HandlerError {
    match e {
        SendError::Closed => HandlerError::Closed,
        other => HandlerError::Invalid(other.to_string()),
    }
}

macro_rules! common_methods {
    () => {
        /// Counters: enqueued, delivered, dropped (by cause), reconnects, buffered now …
        pub fn stats(&self) -> SendStats {
            self.sender.stats()
        }

        /// Where records go.
        pub fn endpoint(&self) -> &Endpoint {
            self.sender.endpoint()
        }

        /// The reconnect schedule (a copy; change it with [`Self::set_backoff`] or the
        /// `set_retry_*` methods).
        pub fn backoff(&self) -> Backoff {
            self.sender.backoff().clone()
        }

        /// Replaces the reconnect settings, keeping the schedule in progress.
        pub fn set_backoff(
            &self,
            retry_start: f64,
            retry_factor: f64,
            retry_max: f64,
        ) -> Result<(), super::BackoffError> {
            self.sender
                .backoff()
                .set(retry_start, retry_factor, retry_max)
        }

        /// CPython's `handler.retryStart = x`.
        pub fn set_retry_start(&self, seconds: f64) -> Result<(), super::BackoffError> {
            let mut b = self.sender.backoff();
            let (f, m) = (b.retry_factor(), b.retry_max());
            b.set(seconds, f, m)
        }

        /// CPython's `handler.retryFactor = x`.
        pub fn set_retry_factor(&self, factor: f64) -> Result<(), super::BackoffError> {
            let mut b = self.sender.backoff();
            let (s, m) = (b.retry_start(), b.retry_max());
            b.set(s, factor, m)
        }

        /// CPython's `handler.retryMax = x`.
        pub fn set_retry_max(&self, seconds: f64) -> Result<(), super::BackoffError> {
            let mut b = self.sender.backoff();
            let (s, f) = (b.retry_start(), b.retry_factor());
            b.set(s, f, seconds)
        }

        /// The record layout sent.
        pub fn layout(&self) -> RecordLayout {
            self.layout
        }

        /// CPython's `makePickle(record)`: the frame a plain (unsigned) sender writes.
        pub fn make_pickle(&self, record: &LogRecord) -> Result<Vec<u8>, SendError> {
            Ok(super::encode::make_pickle(record, self.layout)?)
        }
    };
}

/// CPython's `logging.handlers.SocketHandler`: pickled records over TCP or a Unix stream
/// socket, buffered through outages, optionally sealed and acknowledged.
///
/// What is the same as CPython: the constructor (`host, port`; no port means a Unix
/// socket), the frames (`makePickle`: 4-byte length + protocol 1 pickle, see [`pickle_record`]),
/// one record per datagram with the prefix included, and the reconnect schedule
/// (`retryStart` 1.0, `retryFactor` 2.0, `retryMax` 30.0, see [`Backoff`]).
///
/// What differs, so that records are not lost silently (see [`SendBuffer`](crate::SendBuffer)):
/// * the logging call never touches the network: it encodes the record and hands the bytes
///   to a background thread through a bounded buffer;
/// * records logged while the destination is away stay buffered and go out on reconnect,
///   in order; a full buffer blocks the caller or drops the oldest record, counted, followed
///   by an in-band `N records dropped` notice;
/// * with a signing key ([`SocketOptions::signing_key`]), frames are sealed as `LWR1`, kept
///   until a logwire receiver acknowledges them, and resent after a reconnect: no loss, and
///   no duplicates once the receiver deduplicates by (key, epoch, seq);
/// * `flush()` waits (bounded) for delivery; `close()` delivers what is buffered (bounded)
///   and reports what it had to give up.
///
/// ```no_run
/// use logwire_engine::{Handler, LogRecord};
/// use logwire_handlers::SocketHandler;
///
/// let handler = Handler::new(SocketHandler::new("localhost", Some(9020)).unwrap());
/// handler.handle(&LogRecord::new("app", 40, "app.rs", 1, "disk full"));
/// handler.flush(); // waits until the record is written (at most 5 s by default)
/// handler.close();
/// ```
#[derive(Debug)]
pub struct SocketHandler {
    sender: NetSender,
    layout: RecordLayout,
}

impl SocketHandler {
    /// CPython's `SocketHandler(host, port)`: TCP to `(host, port)`, or the Unix stream
    /// socket at path `host` when `port` is `None`. Does not connect yet.
    pub fn new(host: impl Into<String>, port: Option<u16>) -> Result<Self, SendError> {
        Self::with_options(host, port, SocketOptions::default())
    }

    /// As [`SocketHandler::new`], with logwire's options.
    pub fn with_options(
        host: impl Into<String>,
        port: Option<u16>,
        options: SocketOptions,
    ) -> Result<Self, SendError> {
        let layout = options.layout;
        let sender = start(
            "logging.handlers.SocketHandler",
            endpoint(host.into(), port, false),
            options,
        )?;
        Ok(SocketHandler { sender, layout })
    }

    /// The epoch of signed frames (a fresh one each time the sender restarts), if signing.
    pub fn epoch(&self) -> Option<Epoch> {
        self.sender.epoch()
    }

    common_methods!();
}

impl Emitter for SocketHandler {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        let payload = pickle_record(record, self.layout).map_err(|e| to_handler_error(e.into()))?;
        self.sender.push(payload).map_err(to_handler_error)
    }

    fn flush(&self) -> Result<(), HandlerError> {
        self.sender.flush().map_err(to_handler_error)
    }

    fn close(&self) {
        self.sender.close();
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.SocketHandler"
    }
}

/// CPython's `logging.handlers.DatagramHandler`: one pickled record per UDP (or Unix)
/// datagram, 4-byte length prefix included. Records too large for a datagram are dropped,
/// counted and reported (CPython fails with `EMSGSIZE`).
#[derive(Debug)]
pub struct DatagramHandler {
    sender: NetSender,
    layout: RecordLayout,
}

impl DatagramHandler {
    /// CPython's `DatagramHandler(host, port)`: UDP to `(host, port)`, or the Unix datagram
    /// socket at path `host` when `port` is `None`.
    pub fn new(host: impl Into<String>, port: Option<u16>) -> Result<Self, SendError> {
        Self::with_options(host, port, SocketOptions::default())
    }

    /// As [`DatagramHandler::new`], with logwire's options (`signing_key` is refused:
    /// acknowledgements need a stream).
    pub fn with_options(
        host: impl Into<String>,
        port: Option<u16>,
        options: SocketOptions,
    ) -> Result<Self, SendError> {
        if options.signing_key.is_some() {
            return Err(SendError::Invalid(
                "DatagramHandler cannot sign: acknowledged, signed records need SocketHandler"
                    .into(),
            ));
        }
        let layout = options.layout;
        let sender = start(
            "logging.handlers.DatagramHandler",
            endpoint(host.into(), port, true),
            options,
        )?;
        Ok(DatagramHandler { sender, layout })
    }

    common_methods!();
}

impl Emitter for DatagramHandler {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        let payload = pickle_record(record, self.layout).map_err(|e| to_handler_error(e.into()))?;
        let len = payload.len() + 4;
        if matches!(self.sender.endpoint(), Endpoint::Udp { .. }) && len > MAX_UDP_PAYLOAD {
            self.sender.counters().note_too_large();
            return Err(to_handler_error(SendError::TooLarge {
                len,
                max: MAX_UDP_PAYLOAD,
            }));
        }
        self.sender.push(payload).map_err(to_handler_error)
    }

    fn flush(&self) -> Result<(), HandlerError> {
        self.sender.flush().map_err(to_handler_error)
    }

    fn close(&self) {
        self.sender.close();
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.DatagramHandler"
    }
}
