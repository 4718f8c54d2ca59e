//! Counters of a running collector, and the [`ReceiverStats`] snapshot.
//!
//! Every frame that is read to its end (or cut short) is counted once as *received*, and then
//! exactly once more under its outcome: *stored* (handed to the handlers), *rejected* (by
//! reason), *duplicate* (a signed record seen before) or *dropped* (accepted but lost inside
//! the collector, e.g. because the dispatcher stopped). Records accepted but not yet handed to
//! the handlers are *pending*, so at any instant
//! `received = stored + rejected + duplicates + dropped + pending`, and once the collector
//! has stopped `pending` is 0.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a frame or a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// The length prefix announced more than the frame cap: the body is skipped, or, past
    /// the connection's cap on skipped bytes, the connection is closed.
    TooLarge,
    /// The stream ended, or the body deadline passed, part-way through a frame.
    Truncated,
    /// A zero-length frame.
    Empty,
    /// A datagram shorter than its prefix or whose prefix disagrees with its length.
    BadDatagram,
    /// The pickle parser refused the payload (bombs, cycles, garbage, not a dict …).
    BadPickle,
    /// The JSON payload did not parse or broke a cap.
    BadJson,
    /// A known attribute had the wrong type or range.
    BadRecord,
    /// An `LWR1` envelope with a bad header, length or seq.
    BadEnvelope,
    /// An `LWR1` envelope whose HMAC tag did not verify.
    BadTag,
    /// An `LWR1` envelope for a key this collector does not have.
    UnknownKey,
    /// A plain (unsigned) frame while keys are configured and unsigned input is not allowed.
    Unsigned,
    /// A signed record below its epoch's replay window.
    ReplayTooOld,
}

impl RejectReason {
    /// Every reason, in a fixed order (for tables and stats lines).
    pub const ALL: [RejectReason; 12] = [
        RejectReason::TooLarge,
        RejectReason::Truncated,
        RejectReason::Empty,
        RejectReason::BadDatagram,
        RejectReason::BadPickle,
        RejectReason::BadJson,
        RejectReason::BadRecord,
        RejectReason::BadEnvelope,
        RejectReason::BadTag,
        RejectReason::UnknownKey,
        RejectReason::Unsigned,
        RejectReason::ReplayTooOld,
    ];

    /// The snake_case name used in stats output (`too_large`, `bad_pickle`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::Truncated => "truncated",
            RejectReason::Empty => "empty",
            RejectReason::BadDatagram => "bad_datagram",
            RejectReason::BadPickle => "bad_pickle",
            RejectReason::BadJson => "bad_json",
            RejectReason::BadRecord => "bad_record",
            RejectReason::BadEnvelope => "bad_envelope",
            RejectReason::BadTag => "bad_tag",
            RejectReason::UnknownKey => "unknown_key",
            RejectReason::Unsigned => "unsigned",
            RejectReason::ReplayTooOld => "replay_too_old",
        }
    }

    fn index(self) -> usize {
        RejectReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(0)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The live counters (shared by every task of a collector).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) rejected: [AtomicU64; RejectReason::ALL.len()],
    pub(crate) bytes: AtomicU64,
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_shed: AtomicU64,
    pub(crate) connections_timed_out: AtomicU64,
    pub(crate) acks_sent: AtomicU64,
    pub(crate) journal_errors: AtomicU64,
    pub(crate) at_ancestor: AtomicU64,
    pub(crate) parallel_reads: AtomicU64,
    pub(crate) dispatcher_reads: AtomicU64,
}

impl Counters {
    pub(crate) fn reject(&self, reason: RejectReason) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.rejected[reason.index()].fetch_add(1, Ordering::Release);
    }

    pub(crate) fn snapshot(&self) -> ReceiverStats {
        let load = |a: &AtomicU64| a.load(Ordering::Acquire);
        // Outcomes first, `received` last: a frame in flight between the two reads makes
        // `received` larger, never smaller, than the sum of outcomes. Every outcome is
        // counted (Release) after what it moves from (`received`, or `pending` for a stored
        // or dropped record), so an outcome read here brings that earlier count with it.
        let stored = load(&self.stored);
        let pending = load(&self.pending);
        let duplicates = load(&self.duplicates);
        let dropped = load(&self.dropped);
        let rejected = RejectReason::ALL
            .iter()
            .map(|r| (*r, load(&self.rejected[r.index()])))
            .collect();
        ReceiverStats {
            stored,
            pending,
            duplicates,
            dropped,
            rejected,
            bytes_received: load(&self.bytes),
            connections_accepted: load(&self.connections_accepted),
            connections_refused: load(&self.connections_refused),
            connections_shed: load(&self.connections_shed),
            connections_timed_out: load(&self.connections_timed_out),
            acks_sent: load(&self.acks_sent),
            journal_errors: load(&self.journal_errors),
            at_ancestor: load(&self.at_ancestor),
            parallel_reads: load(&self.parallel_reads),
            dispatcher_reads: load(&self.dispatcher_reads),
            received: load(&self.received),
        }
    }
}

/// The live counters of one listener (the record counters are the collector's, see
/// [`Counters`]).
#[derive(Debug, Default)]
pub(crate) struct PerListener {
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) datagrams: AtomicU64,
}

impl PerListener {
    pub(crate) fn snapshot(&self) -> ListenerCounts {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ListenerCounts {
            connections_accepted: load(&self.connections_accepted),
            connections_refused: load(&self.connections_refused),
            connections_open: load(&self.connections_open),
            bytes_received: load(&self.bytes),
            datagrams: load(&self.datagrams),
        }
    }
}

/// What one listener took in. Frames are judged (stored, rejected …) by the collector as a
/// whole, so their outcomes are in [`ReceiverStats`], not here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerCounts {
    /// Stream connections accepted (0 for datagram sockets).
    pub connections_accepted: u64,
    /// Stream connections refused at once (the connection cap, or the per-address cap).
    pub connections_refused: u64,
    /// Stream connections open now.
    pub connections_open: u64,
    /// Bytes read from senders.
    pub bytes_received: u64,
    /// Datagrams received (0 for stream listeners).
    pub datagrams: u64,
}

/// A snapshot of a collector's counters. See the module docs for how they reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Frames (records) received: every frame read to its end or cut short.
    pub received: u64,
    /// Records handed to the handlers.
    pub stored: u64,
    /// Records accepted and waiting for the handlers.
    pub pending: u64,
    /// Signed records already stored (same key, epoch and seq), stored once.
    pub duplicates: u64,
    /// Records accepted but lost inside the collector.
    pub dropped: u64,
    /// Rejected frames, by reason (every reason listed, zeros included).
    pub rejected: Vec<(RejectReason, u64)>,
    /// Payload bytes read from peers (prefixes included).
    pub bytes_received: u64,
    /// Stream connections accepted.
    pub connections_accepted: u64,
    /// Stream connections closed at once because the connection cap was reached (and no
    /// connection could be shed), or their address held its share of it.
    pub connections_refused: u64,
    /// Stream connections closed at the connection cap to make room for a new one, because
    /// they had not sent a complete frame.
    pub connections_shed: u64,
    /// Stream connections closed by a header, idle or body deadline.
    pub connections_timed_out: u64,
    /// `LWA1` acks written.
    pub acks_sent: u64,
    /// Failed writes of the replay journal (acks were withheld each time).
    pub journal_errors: u64,
    /// Records stored through the nearest existing ancestor of their logger name, because
    /// remote names had made as many logger-tree nodes as they may (`MAX_REMOTE_LOGGERS`)
    /// or the name was longer than `MAX_REMOTE_NAME_LEN`.
    pub at_ancestor: u64,
    /// Reads whose frames were decoded on a worker thread (large reads of plain frames).
    pub parallel_reads: u64,
    /// Reads whose frames the dispatcher judged itself (large reads of plain frames).
    pub dispatcher_reads: u64,
}

impl ReceiverStats {
    /// All rejected frames.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, n)| n).sum()
    }

    /// Rejected frames for one reason.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// Whether the counters add up: `received = stored + rejected + duplicates + dropped +
    /// pending`.
    pub fn reconciles(&self) -> bool {
        self.received
            == self.stored + self.rejected_total() + self.duplicates + self.dropped + self.pending
    }
}

impl fmt::Display for ReceiverStats {
    /// One line: `received=… stored=… duplicates=… dropped=… rejected=… (bad_pickle=2 …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received={} stored={} pending={} duplicates={} dropped={} rejected={}",
            self.received,
            self.stored,
            self.pending,
            self.duplicates,
            self.dropped,
            self.rejected_total()
        )?;
        let nonzero: Vec<_> = self.rejected.iter().filter(|(_, n)| *n > 0).collect();
        if !nonzero.is_empty() {
            f.write_str(" (")?;
            for (i, (r, n)) in nonzero.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{r}={n}")?;
            }
            f.write_str(")")?;
        }
        write!(
            f,
            " connections={} refused={} shed={} timed_out={} acks={}",
            self.connections_accepted,
            self.connections_refused,
            self.connections_shed,
            self.connections_timed_out,
            self.acks_sent
        )?;
        if self.journal_errors > 0 {
            write!(f, " journal_errors={}", self.journal_errors)?;
        }
        if self.at_ancestor > 0 {
            write!(f, " at_ancestor={}", self.at_ancestor)?;
        }
        Ok(())
    }
}
