//! Counters of a running collector, and the [`ReceiverStats`] snapshot.
//!
//! Every frame that is read to its end (or cut short) is counted once as *received*, and then
//! exactly once more under its outcome: *stored* (handed to the handlers), *rejected* (by
//! reason), *duplicate* (a signed record seen before) or *dropped* (accepted but lost inside
//! the collector, e.g. because the dispatcher stopped). Records accepted but not yet handed to
//! the handlers are *pending*, so at any instant
//! `received = stored + rejected + duplicates + dropped + pending`, and once the collector
//! has stopped `pending` is 0.
//!
//! The same record outcomes are kept per listener ([`ListenerCounts::outcomes`]): every batch
//! and judged read carries the index of the listener it came in on ([`ListenerId`]), and each
//! count goes to the collector's total and to that listener's with the same ordering, so each
//! listener reconciles on its own and the listeners sum to the totals. Cost: one more atomic
//! add per counter touched per batch (not per record).

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

/// Which listener a unit of work came in on: its index among the collector's listeners
/// ([`RunningCollector::local_addrs`](super::RunningCollector::local_addrs) order). Carried
/// by every batch and judged read, so outcomes are counted per listener as well as in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListenerId(pub(crate) usize);

/// Record outcomes: the collector's totals ([`Counters::total`]) and each listener's, counted
/// together with the same orderings, so a snapshot of either reconciles the same way.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    received: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
}

impl Outcomes {
    fn snapshot(&self) -> OutcomeCounts {
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
        OutcomeCounts {
            stored,
            pending,
            duplicates,
            dropped,
            rejected,
            received: load(&self.received),
        }
    }
}

/// The live counters (shared by every task of a collector).
///
/// The record outcomes (`received` … `rejected`) are counted through the methods taking a
/// [`ListenerId`], which count the collector's total and the listener's together.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// The record outcomes of every listener together.
    total: Outcomes,
    /// The same outcomes per listener, by [`ListenerId`].
    per_listener: Box<[Outcomes]>,
    pub(crate) bytes: AtomicU64,
    pub(crate) connections_accepted: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_shed: AtomicU64,
    pub(crate) connections_timed_out: AtomicU64,
    pub(crate) acks_sent: AtomicU64,
    pub(crate) journal_errors: AtomicU64,
    pub(crate) sync_failures: AtomicU64,
    pub(crate) at_ancestor: AtomicU64,
    pub(crate) parallel_reads: AtomicU64,
    pub(crate) dispatcher_reads: AtomicU64,
}

impl Counters {
    /// Counters for a collector with `listeners` listeners.
    pub(crate) fn new(listeners: usize) -> Self {
        Counters {
            per_listener: (0..listeners).map(|_| Outcomes::default()).collect(),
            ..Counters::default()
        }
    }

    /// Adds `n` to a total and to the same counter of listener `l` (if there is one: a
    /// counter set made for no listeners, in unit tests, counts totals only).
    fn add(&self, l: ListenerId, n: u64, order: Ordering, which: impl Fn(&Outcomes) -> &AtomicU64) {
        if n == 0 {
            return;
        }
        which(&self.total).fetch_add(n, order);
        if let Some(o) = self.per_listener.get(l.0) {
            which(o).fetch_add(n, order);
        }
    }

    fn sub(&self, l: ListenerId, n: u64, which: impl Fn(&Outcomes) -> &AtomicU64) {
        if n == 0 {
            return;
        }
        which(&self.total).fetch_sub(n, Ordering::Relaxed);
        if let Some(o) = self.per_listener.get(l.0) {
            which(o).fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Frames read to their end (or cut short), before their outcome is counted.
    pub(crate) fn add_received(&self, l: ListenerId, n: u64) {
        self.add(l, n, Ordering::Relaxed, |o| &o.received);
    }

    /// Records accepted and now queued for the handlers (after `add_received`).
    pub(crate) fn add_pending(&self, l: ListenerId, n: u64) {
        self.add(l, n, Ordering::Release, |o| &o.pending);
    }

    /// Queued records that left the queue (before `add_stored` / `add_dropped`).
    pub(crate) fn sub_pending(&self, l: ListenerId, n: u64) {
        self.sub(l, n, |o| &o.pending);
    }

    pub(crate) fn add_stored(&self, l: ListenerId, n: u64) {
        self.add(l, n, Ordering::Release, |o| &o.stored);
    }

    pub(crate) fn add_dropped(&self, l: ListenerId, n: u64) {
        self.add(l, n, Ordering::Release, |o| &o.dropped);
    }

    pub(crate) fn add_duplicates(&self, l: ListenerId, n: u64) {
        self.add(l, n, Ordering::Release, |o| &o.duplicates);
    }

    /// One frame received and rejected.
    pub(crate) fn reject(&self, l: ListenerId, reason: RejectReason) {
        self.add_received(l, 1);
        let i = reason.index();
        self.add(l, 1, Ordering::Release, |o| &o.rejected[i]);
    }

    /// The outcomes of listener `l` (all zero for an unknown index).
    pub(crate) fn listener_outcomes(&self, l: ListenerId) -> OutcomeCounts {
        self.per_listener
            .get(l.0)
            .map_or_else(OutcomeCounts::default, Outcomes::snapshot)
    }

    pub(crate) fn snapshot(&self) -> ReceiverStats {
        let load = |a: &AtomicU64| a.load(Ordering::Acquire);
        // The outcomes first (see `Outcomes::snapshot` for their order).
        let outcomes = self.total.snapshot();
        ReceiverStats {
            outcomes,
            bytes_received: load(&self.bytes),
            connections_accepted: load(&self.connections_accepted),
            connections_refused: load(&self.connections_refused),
            connections_shed: load(&self.connections_shed),
            connections_timed_out: load(&self.connections_timed_out),
            acks_sent: load(&self.acks_sent),
            journal_errors: load(&self.journal_errors),
            sync_failures: load(&self.sync_failures),
            at_ancestor: load(&self.at_ancestor),
            parallel_reads: load(&self.parallel_reads),
            dispatcher_reads: load(&self.dispatcher_reads),
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
    /// This listener's counts, with its record outcomes from `counters`.
    pub(crate) fn snapshot(&self, id: ListenerId, counters: &Counters) -> ListenerCounts {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ListenerCounts {
            outcomes: counters.listener_outcomes(id),
            connections_accepted: load(&self.connections_accepted),
            connections_refused: load(&self.connections_refused),
            connections_open: load(&self.connections_open),
            bytes_received: load(&self.bytes),
            datagrams: load(&self.datagrams),
        }
    }
}

/// What one listener took in, and what became of its frames ([`ListenerCounts::outcomes`]).
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
    /// The records that came in on this listener and what became of them (they reconcile
    /// like the collector's totals: see [`OutcomeCounts::reconciles`]).
    pub outcomes: OutcomeCounts,
}

/// What became of the frames one listener received: the record counters of
/// [`ReceiverStats`] for that listener alone. Summed over all listeners they give the
/// collector's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeCounts {
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
}

impl OutcomeCounts {
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

/// A snapshot of a collector's counters. See the module docs for how they reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// The record outcomes (`stats.stored`, `stats.rejected_total()` … through `Deref`).
    pub outcomes: OutcomeCounts,
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
    /// Flushes after which an output could not confirm its records (its `sync` failed):
    /// from the first on, the collector acknowledges and journals nothing until restarted.
    pub sync_failures: u64,
    /// Records stored through the nearest existing ancestor of their logger name, because
    /// remote names had made as many logger-tree nodes as they may (`MAX_REMOTE_LOGGERS`)
    /// or the name was longer than `MAX_REMOTE_NAME_LEN`.
    pub at_ancestor: u64,
    /// Reads whose frames were decoded on a worker thread (large reads of plain frames).
    pub parallel_reads: u64,
    /// Reads whose frames the dispatcher judged itself (large reads of plain frames).
    pub dispatcher_reads: u64,
}

/// The outcome counts are read as the stats' own (`stats.stored`, `stats.reconciles()`): one
/// definition of them, of how they add up, for the totals and for each listener.
impl std::ops::Deref for ReceiverStats {
    type Target = OutcomeCounts;
    fn deref(&self) -> &OutcomeCounts {
        &self.outcomes
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
        if self.sync_failures > 0 {
            write!(f, " sync_failures={}", self.sync_failures)?;
        }
        if self.at_ancestor > 0 {
            write!(f, " at_ancestor={}", self.at_ancestor)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each listener's outcomes reconcile on their own (pending included) and add up to the
    /// collector's totals; an index no listener has counts in the totals only.
    #[test]
    fn outcomes_per_listener_reconcile_and_sum_to_the_totals() {
        let c = Counters::new(2);
        let (a, b) = (ListenerId(0), ListenerId(1));
        c.add_received(a, 10);
        c.add_pending(a, 8);
        c.add_duplicates(a, 2);
        c.sub_pending(a, 6);
        c.add_stored(a, 5);
        c.add_dropped(a, 1);
        c.reject(b, RejectReason::BadPickle);
        c.reject(b, RejectReason::TooLarge);
        c.add_received(b, 3);
        c.add_pending(b, 3);
        c.sub_pending(b, 3);
        c.add_stored(b, 3);
        c.reject(ListenerId(7), RejectReason::Empty);

        let oa = c.listener_outcomes(a);
        assert_eq!(
            (
                oa.received,
                oa.stored,
                oa.pending,
                oa.duplicates,
                oa.dropped
            ),
            (10, 5, 2, 2, 1)
        );
        assert_eq!(oa.rejected_total(), 0);
        let ob = c.listener_outcomes(b);
        assert_eq!((ob.received, ob.stored, ob.pending), (5, 3, 0));
        assert_eq!(ob.rejected(RejectReason::BadPickle), 1);
        assert_eq!(ob.rejected(RejectReason::TooLarge), 1);
        assert!(oa.reconciles() && ob.reconciles(), "{oa:?} {ob:?}");
        assert_eq!(c.listener_outcomes(ListenerId(7)), OutcomeCounts::default());

        let total = c.snapshot();
        assert!(total.reconciles(), "{total}");
        assert_eq!(total.received, oa.received + ob.received + 1);
        assert_eq!(total.stored, oa.stored + ob.stored);
        assert_eq!(total.rejected(RejectReason::Empty), 1);
    }
}
