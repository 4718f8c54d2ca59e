//! Network handlers wire-compatible with CPython's `logging.handlers`: [`SocketHandler`],
//! [`DatagramHandler`] and [`SysLogHandler`], and (feature `config`, on by default) their
//! registry kinds, so that dictConfig/fileConfig files can name them.
//!
//! Std threads only: a program that wants a `SocketHandler` and nothing else builds this
//! crate with `default-features = false` and compiles neither tokio, rustls nor
//! `logwire-config` (`cargo tree -p logwire-handlers --no-default-features`; the crate's
//! `tests/it/deps.rs` checks it).
//!
//! The contract every handler keeps: the logging call never touches the network (the record
//! is encoded and handed to a background thread through a bounded [`SendBuffer`]), records
//! logged while the peer is away stay buffered and go out on reconnect, in order, and what
//! had to be given up is counted ([`SendStats`]) and announced in-band.

#![forbid(unsafe_code)]
#![warn(clippy::exhaustive_enums)]

mod error;
#[cfg(feature = "config")]
mod kinds;
mod sender;
mod syslog;

pub use error::Error;
#[cfg(feature = "config")]
pub use kinds::{configurator, register_network_handlers, standard_registry};
pub use sender::{
    Backoff, BackoffError, BufferPolicy, DEFAULT_BUFFER_CAPACITY, DEFAULT_RETRY_FACTOR,
    DEFAULT_RETRY_MAX, DEFAULT_RETRY_START, DEFAULT_UNACKED_WINDOW, DatagramHandler, Endpoint,
    Framing, MAX_BUFFER_CAPACITY, MAX_UDP_PAYLOAD, RecordLayout, SendBuffer, SendError, SendStats,
    SocketHandler, SocketOptions, make_pickle, pickle_record, record_dict, to_pickle_value,
};
#[cfg(feature = "smtp-http")]
pub use sender::{
    Credentials, DEFAULT_QUEUE_BYTES, DeliveryError, DeliveryStats, HTTPHandler, HostPortError,
    HttpMethod, HttpOptions, InvalidArgument, MAX_QUEUE_BYTES, MAX_REPLY_LINE, MAX_REPLY_LINES,
    MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, SMTP_PORT, SMTPHandler, SmtpOptions, TlsClientConfig,
    TlsConfigError, dot_stuff, map_log_record, split_host_port, urlencode,
};
pub use syslog::{
    FACILITY_NAMES, LOG_ALERT, LOG_CRIT, LOG_DEBUG, LOG_EMERG, LOG_ERR, LOG_INFO, LOG_LOCAL0,
    LOG_NOTICE, LOG_USER, LOG_WARNING, PRIORITY_NAMES, SYSLOG_PORT, SocketType, SysLogHandler,
    SyslogAddress, SyslogFormat, SyslogMessage, SyslogOptions, encode_priority, facility_from_name,
    local_hostname, map_priority, priority_from_name, rfc3339_micros,
};
