//! [`ListenerStats`] counters and the [`ListenerEvent`]s passed to the event callback.

use logwire_wire::KeyId;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of a listener (cheap to read at any time through
/// [`ListenerHandle::stats`](super::ListenerHandle::stats)).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connections: AtomicU64,
    pub(crate) refused_over_cap: AtomicU64,
    pub(crate) refused_peer: AtomicU64,
    pub(crate) shed_idle: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) reply_failed: AtomicU64,
    pub(crate) tls_failed: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ListenerStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ListenerStats {
            connections: g(&self.connections),
            refused_over_cap: g(&self.refused_over_cap),
            refused_peer: g(&self.refused_peer),
            shed_idle: g(&self.shed_idle),
            applied: g(&self.applied),
            rejected: g(&self.rejected),
            too_large: g(&self.too_large),
            truncated: g(&self.truncated),
            timed_out: g(&self.timed_out),
            reply_failed: g(&self.reply_failed),
            tls_failed: g(&self.tls_failed),
        }
    }
}

/// A snapshot of a listener's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Connections accepted and served (not counting refused ones).
    pub connections: u64,
    /// Connections closed at once because the connection cap was reached.
    pub refused_over_cap: u64,
    /// Unix connections closed at once because the peer's uid is not allowed.
    pub refused_peer: u64,
    /// Connections that had sent nothing, closed to give their slot to a newcomer while every
    /// slot was taken.
    pub shed_idle: u64,
    /// Configs applied.
    pub applied: u64,
    /// Configs answered "rejected" (too large, empty, bad signature, replay, invalid, …).
    pub rejected: u64,
    /// Of the rejected: length prefixes over the cap.
    pub too_large: u64,
    /// Connections that ended in the middle of a frame (nothing applied).
    pub truncated: u64,
    /// Connections closed by the header or body deadline.
    pub timed_out: u64,
    /// Replies that could not be written (the peer had gone).
    pub reply_failed: u64,
    /// TLS handshakes that failed (no or untrusted client certificate, not TLS at all).
    /// Handshakes cut off by the header deadline count as `timed_out`.
    pub tls_failed: u64,
}

impl fmt::Display for ListenerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connections={} applied={} rejected={} too_large={} truncated={} timed_out={} \
             refused_over_cap={} refused_peer={} shed_idle={} reply_failed={} tls_failed={}",
            self.connections,
            self.applied,
            self.rejected,
            self.too_large,
            self.truncated,
            self.timed_out,
            self.refused_over_cap,
            self.refused_peer,
            self.shed_idle,
            self.reply_failed,
            self.tls_failed
        )
    }
}

/// Something the listener did, passed to the event callback. `Display` gives the log line,
/// e.g. `applied seq 7 from key a08fc3e14d5bc5b3` or `rejected: bad signature (seq 7, peer
/// 127.0.0.1:40312)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerEvent {
    /// A config was applied.
    Applied {
        /// Its seq (0 for unsigned configs).
        seq: u64,
        /// The key that signed it (`None`: unsigned).
        key_id: Option<KeyId>,
        /// Who sent it.
        peer: String,
    },
    /// A config was answered "rejected".
    Rejected {
        /// The claimed seq, if one could be read (0 otherwise).
        seq: u64,
        /// Why, as sent in the reply.
        reason: String,
        /// Who sent it.
        peer: String,
    },
    /// A connection was closed without a config being processed (deadline, truncated
    /// frame, cap reached, peer not allowed).
    Dropped {
        /// Why.
        reason: String,
        /// Who it was.
        peer: String,
    },
}

impl fmt::Display for ListenerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenerEvent::Applied {
                seq,
                key_id: Some(k),
                peer,
            } => write!(f, "applied seq {seq} from key {k} (peer {peer})"),
            ListenerEvent::Applied {
                key_id: None, peer, ..
            } => write!(f, "applied unsigned config (peer {peer})"),
            ListenerEvent::Rejected { seq, reason, peer } => {
                write!(f, "rejected: {reason} (seq {seq}, peer {peer})")
            }
            ListenerEvent::Dropped { reason, peer } => {
                write!(f, "connection dropped: {reason} (peer {peer})")
            }
        }
    }
}
