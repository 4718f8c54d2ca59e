//! Senders: CPython's `SocketHandler` and `DatagramHandler`, wire-compatible, that buffer
//! instead of dropping.
//!
//! The contract is documented on [`SocketHandler`], the public face of this module.

pub(crate) mod backoff;
pub(crate) mod buffer;
mod conn;
#[cfg(feature = "smtp-http")]
mod deliver;
mod encode;
#[cfg(feature = "smtp-http")]
mod http;
#[cfg(feature = "smtp-http")]
mod smtp;
mod socket;
#[cfg(feature = "smtp-http")]
mod tls_client;

pub use backoff::{
    Backoff, BackoffError, DEFAULT_RETRY_FACTOR, DEFAULT_RETRY_MAX, DEFAULT_RETRY_START,
};
pub use buffer::{
    BufferPolicy, DEFAULT_BUFFER_CAPACITY, DEFAULT_UNACKED_WINDOW, Framing, MAX_BUFFER_CAPACITY,
    SendBuffer, SendError, SendStats,
};
pub use conn::Endpoint;
#[cfg(feature = "smtp-http")]
pub use deliver::{
    DEFAULT_QUEUE_BYTES, DeliveryError, DeliveryStats, InvalidArgument, MAX_QUEUE_BYTES,
};
pub use encode::{RecordLayout, make_pickle, pickle_record, record_dict, to_pickle_value};
// For the registry kinds: `logwire check` refuses what the constructors refuse.
#[cfg(all(feature = "smtp-http", feature = "config"))]
pub(crate) use http::check_request_target;
#[cfg(feature = "smtp-http")]
pub use http::{
    HTTPHandler, HostPortError, HttpMethod, HttpOptions, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS,
    map_log_record, split_host_port, urlencode,
};
#[cfg(all(feature = "smtp-http", feature = "config"))]
pub(crate) use smtp::check_message_fields;
#[cfg(feature = "smtp-http")]
pub use smtp::{
    Credentials, MAX_REPLY_LINE, MAX_REPLY_LINES, SMTP_PORT, SMTPHandler, SmtpOptions, dot_stuff,
};
pub use socket::{DatagramHandler, MAX_UDP_PAYLOAD, SocketHandler, SocketOptions};
#[cfg(feature = "smtp-http")]
pub use tls_client::{TlsClientConfig, TlsConfigError};

use buffer::{Counters, SenderConfig};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A handler's sender: the current [`SendBuffer`] (restarted after `close()`, as CPython
/// handlers reopen their socket on the next emit), the backoff and the counters.
pub(crate) struct NetSender {
    config: SenderConfig,
    backoff: Arc<Mutex<Backoff>>,
    counters: Arc<Counters>,
    current: Mutex<Arc<SendBuffer>>,
    flush_timeout: Duration,
    close_timeout: Duration,
}

impl std::fmt::Debug for NetSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetSender")
            .field("kind", &self.config.kind)
            .field("endpoint", &self.config.endpoint)
            .finish_non_exhaustive()
    }
}

impl NetSender {
    pub(crate) fn start(
        config: SenderConfig,
        backoff: Backoff,
        flush_timeout: Duration,
        close_timeout: Duration,
    ) -> Result<Self, SendError> {
        if config.capacity == 0 || config.capacity > MAX_BUFFER_CAPACITY {
            return Err(SendError::Invalid(format!(
                "buffer capacity must be 1 to {MAX_BUFFER_CAPACITY}, got {}",
                config.capacity
            )));
        }
        if let Some(s) = &config.signer {
            if !matches!(s.key, logwire_wire::SigningKey::Hmac(_)) {
                return Err(SendError::NotHmacKey);
            }
            if s.window == 0 || s.window > MAX_BUFFER_CAPACITY {
                return Err(SendError::Invalid(format!(
                    "unacked window must be 1 to {MAX_BUFFER_CAPACITY}, got {}",
                    s.window
                )));
            }
        }
        let backoff = Arc::new(Mutex::new(backoff));
        let counters = Arc::new(Counters::default());
        let first = SendBuffer::start(config.clone(), Arc::clone(&backoff), Arc::clone(&counters))
            .map_err(SendError::Spawn)?;
        Ok(NetSender {
            config,
            backoff,
            counters,
            current: Mutex::new(Arc::new(first)),
            flush_timeout,
            close_timeout,
        })
    }

    fn lock_current(&self) -> MutexGuard<'_, Arc<SendBuffer>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live buffer, restarted if the handler was closed.
    pub(crate) fn buffer(&self) -> Result<Arc<SendBuffer>, SendError> {
        let mut cur = self.lock_current();
        if cur.is_closed() {
            let fresh = SendBuffer::start(
                self.config.clone(),
                Arc::clone(&self.backoff),
                Arc::clone(&self.counters),
            )
            .map_err(SendError::Spawn)?;
            *cur = Arc::new(fresh);
        }
        Ok(Arc::clone(&cur))
    }

    pub(crate) fn push(&self, payload: Vec<u8>) -> Result<(), SendError> {
        // A close() racing with this emit may still report Closed: the record is refused
        // loudly, never lost silently.
        self.buffer()?.push(payload)
    }

    pub(crate) fn flush(&self) -> Result<(), SendError> {
        let cur = Arc::clone(&self.lock_current());
        if cur.is_closed() {
            return Ok(());
        }
        cur.flush(self.flush_timeout)
    }

    pub(crate) fn close(&self) {
        let cur = Arc::clone(&self.lock_current());
        cur.close(self.close_timeout);
    }

    pub(crate) fn stats(&self) -> SendStats {
        let mut s = self.lock_current().stats();
        let c = self.counters.snapshot();
        s.enqueued = c.enqueued;
        s
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    pub(crate) fn backoff(&self) -> MutexGuard<'_, Backoff> {
        self.backoff.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn epoch(&self) -> Option<logwire_wire::Epoch> {
        self.config
            .signer
            .as_ref()
            .map(|_| self.lock_current().epoch())
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.config.endpoint
    }
}
