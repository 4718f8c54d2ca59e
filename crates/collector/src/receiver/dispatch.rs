//! The dispatcher: one dedicated thread that hands records to the logger tree's handlers.
//!
//! Handlers do blocking I/O (files, stdout, sockets), so they never run on a tokio worker:
//! connection tasks send *batches* (one per socket read) over a bounded channel; when the
//! channel is full the tasks wait, which stops reading and lets TCP's own flow control push
//! back on the senders instead of growing memory. A batch holds records judged already, or a
//! bulk read's frames for this thread to judge itself ([`ReadFrames`], see `parallel`): then
//! each record is handled on the core that mapped it. The thread drains whatever is queued,
//! hands each record to `getLogger(record.name).handle(record)` (the cookbook receiver's
//! routing), flushes the handlers once per drain, and only then writes the cumulative `LWA1`
//! acks: an ack promises the record is in its handlers and flushed. A drain with no signed
//! record owes no ack and no journal line: it only hands off (`LoggerTree::hand_off`), which
//! for local handlers is the same flush and for a remote one does not wait for its peer.

use super::ingest::{Origin, Shared, Tally};
use super::replay_journal::ReplayJournal;
use super::seqs::StoredSeqs;
use super::stats::{Counters, ListenerId};
use super::work::{AckRoute, Batch, ReadFrames, Signed, Work};
use logwire_engine::SnapshotCache;
use logwire_engine::{LogRecord, Logger, LoggerTree};
use logwire_record::MappedRecord;
use logwire_wire::payloads;
use logwire_wire::{Epoch, KeyId, RecordAck};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Logger-tree nodes that remote names may make, **placeholders included**: a name of `D`
/// dotted parts can make `D` nodes (its logger and a placeholder per missing prefix), so
/// counting loggers alone let 10 000 names of 125 parts make 1.25 million nodes. Beyond
/// this, a record whose name has no logger enters at the logger of its longest existing
/// prefix (the same handlers: a fresh logger has none of its own), counted in
/// `ReceiverStats::at_ancestor`. Making a node costs time and memory linear in the name (see
/// `logwire_engine::tree`), so the whole budget costs a few megabytes (~300 bytes a node).
pub const MAX_REMOTE_LOGGERS: usize = 10_000;

/// Longest remote logger name that gets a logger of its own, in bytes (the same cap as a
/// logger name in a pushed config). Creating a logger also creates a placeholder for every
/// dotted prefix, so an unbounded name (a frame may be 1 MiB of dots) would cost memory and
/// time quadratic in its length; longer names enter at their nearest existing ancestor.
pub const MAX_REMOTE_NAME_LEN: usize = 256;

/// Starts the dispatcher thread; it ends when every sender is dropped and the queue is
/// drained, after a final flush. `handled` holds the seqs earlier runs stored (from
/// `journal`, which then records this run's).
pub(crate) fn start(
    tree: LoggerTree,
    shared: Arc<Shared>,
    capacity: usize,
    stored: StoredSeqs,
    journal: Option<ReplayJournal>,
    output_closed: Option<Arc<AtomicBool>>,
) -> std::io::Result<(mpsc::Sender<Batch>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<Batch>(capacity.max(1));
    let handle = std::thread::Builder::new()
        .name("logwire-dispatch".into())
        .spawn(move || {
            // Handlers keep a drain's lines in memory and write them at the flush that ends
            // the drain (one write per burst, not per record); acks follow that flush.
            logwire_engine::batch_writes_on_this_thread(true);
            let mut d = Dispatcher::new(tree, shared, stored, journal);
            d.output_closed = output_closed;
            d.run(rx)
        })?;
    Ok((tx, handle))
}

struct Dispatcher {
    tree: LoggerTree,
    /// The tree's state, reloaded only when it changes (a config reload, a new logger).
    snap: SnapshotCache,
    /// The judge of the reads connections hand this thread (see `parallel`).
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    /// Seqs handed to handlers: the cumulative acks (see `seqs`).
    stored: StoredSeqs,
    /// Persists `stored` (see `replay_journal`): written after the flush, before the acks.
    journal: Option<ReplayJournal>,
    /// See `ReceiverOptions::output_closed`.
    output_closed: Option<Arc<AtomicBool>>,
    /// Nodes remote names may still make (see [`MAX_REMOTE_LOGGERS`]).
    budget: usize,
    /// The last logger used, by name: consecutive records from one logger skip the lookup.
    /// A logger stays valid across tree changes (it is found again in each snapshot).
    last: Option<Logger>,
    acks: HashMap<(u64, KeyId, Epoch), AckRoute>,
    handled_since_flush: u64,
    /// A signed record was stored since the last flush: its seq goes to the journal and its
    /// ack may follow, so the flush must wait until the handlers confirm (`sync`); a drain of
    /// unsigned records only hands off (see `flush_and_ack`).
    signed_since_flush: bool,
    /// An output failed to confirm records (its `sync` failed): from then on this
    /// dispatcher acknowledges and journals nothing (see `flush_and_ack`).
    unconfirmed: bool,
    /// Records whose handlers ran, handed back to the mappers for reuse after each drain.
    /// Boxed: the boxes themselves are what gets reused.
    #[allow(clippy::vec_box)]
    spent: Vec<Box<MappedRecord>>,
    /// What `spent` holds ([`MappedRecord::cost_bytes`]).
    spent_bytes: usize,
}

/// Bytes of spent records the dispatcher keeps until the end of a drain (see `process`).
const SPENT_BYTES_HELD: usize = 4 << 20;

impl Dispatcher {
    fn new(
        tree: LoggerTree,
        shared: Arc<Shared>,
        stored: StoredSeqs,
        journal: Option<ReplayJournal>,
    ) -> Self {
        Dispatcher {
            snap: tree.snapshot_cache(),
            tree,
            counters: Arc::clone(&shared.counters),
            shared,
            stored,
            journal,
            output_closed: None,
            budget: MAX_REMOTE_LOGGERS,
            last: None,
            acks: HashMap::new(),
            handled_since_flush: 0,
            signed_since_flush: false,
            unconfirmed: false,
            spent: Vec::new(),
            spent_bytes: 0,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Batch>) {
        while let Some(batch) = rx.blocking_recv() {
            self.process(batch);
            // Drain what queued up meanwhile, then flush once for all of it.
            let mut drained = 0;
            while drained < 256 {
                match rx.try_recv() {
                    Ok(batch) => self.process(batch),
                    Err(_) => break,
                }
                drained += 1;
            }
            self.flush_and_ack();
        }
        self.flush_and_ack();
    }

    fn process(&mut self, batch: Batch) {
        let (listener, batch) = batch.into_parts();
        // Records judged by the connection (counted `pending` there), and all records stored
        // or dropped (see `ReceiverOptions::output_closed`).
        let (mut from_pending, mut stored, mut dropped) = (0, 0, 0);
        for work in batch {
            match work {
                Work::Record(rec, signed) => {
                    if self.store(&rec, signed) {
                        stored += 1;
                    } else {
                        dropped += 1;
                    }
                    self.spent_bytes += rec.cost_bytes();
                    self.spent.push(rec);
                    from_pending += 1;
                }
                Work::AckOnly(s) => self.ack_later(s),
                Work::Frames(read) => {
                    let (s, d) = self.judge_read(*read, listener);
                    stored += s;
                    dropped += d;
                }
                // Last in the batch: everything before it is handled.
                Work::Charge(permit) => drop(permit),
            }
        }
        // Once per batch (one socket read), not per record. `pending` first, `stored` after
        // it with Release: a stats read in between sees `received` larger than the outcomes,
        // never smaller (see `Outcomes::snapshot`).
        self.counters.sub_pending(listener, from_pending);
        self.counters.add_stored(listener, stored);
        self.handled_since_flush += stored;
        self.counters.add_dropped(listener, dropped);
        // The batch's queue charge is given back now, its records' memory only when they
        // are recycled: large ones go at once, not at the end of a drain of 256 batches
        // (256 records of 1 MB held 250 MB outside the queue's budget).
        if self.spent_bytes > SPENT_BYTES_HELD {
            logwire_record::RecordPool::recycle(&mut self.spent);
            self.spent_bytes = 0;
        }
    }

    /// Whether the output can no longer write (see `ReceiverOptions::output_closed`).
    fn output_closed(&self) -> bool {
        self.output_closed
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Acquire))
    }

    /// Judges a read's frames and stores each record as soon as it is mapped; returns the
    /// records stored and dropped, with `received` already counted (the caller counts the
    /// outcomes after it).
    fn judge_read(&mut self, read: ReadFrames, listener: ListenerId) -> (u64, u64) {
        let shared = Arc::clone(&self.shared);
        let ReadFrames {
            frames,
            count: _,
            tags,
            peer,
            route,
            side,
            slot,
        } = read;
        let (mut tally, mut stored, mut dropped) = (Tally::new(listener), 0, 0);
        // Only this thread locks it, and a connection's reads come here one after another.
        let mut mapper = side.mapper.lock().unwrap_or_else(|e| e.into_inner());
        let from = Origin {
            peer: &peer,
            listener,
        };
        for (i, payload) in payloads(&frames).enumerate() {
            let checked = tags.get(i).copied().flatten();
            let outcome = shared.judge_checked(payload, checked, &mut mapper, from, Some(&route));
            match tally.count(outcome) {
                Some(Work::Record(rec, signed)) => {
                    if self.store(&rec, signed) {
                        stored += 1;
                    } else {
                        dropped += 1;
                    }
                    mapper.give_back(rec);
                }
                Some(Work::AckOnly(s)) => self.ack_later(s),
                Some(Work::Frames(_) | Work::Charge(_)) | None => {}
            }
        }
        tally.publish_handled(&self.counters);
        drop(mapper);
        side.give_back(frames);
        drop(slot);
        (stored, dropped)
    }

    /// Hands a record to its handlers and notes its envelope facts (seq handled, ack owed).
    /// False if the output is closed (before, or by this record's write): the record is not
    /// stored, and neither marked handled nor acknowledged.
    fn store(&mut self, rec: &LogRecord, signed: Option<Signed>) -> bool {
        if self.output_closed() {
            return false;
        }
        // Handlers that need the record's identity (the JetStream publisher) read it here.
        let origin = signed.as_ref().map(|s| logwire_engine::RecordOrigin {
            key_id: s.key_id.0,
            epoch: s.epoch.0,
            seq: s.seq,
        });
        logwire_engine::with_origin(origin, || self.handle(rec));
        if self.output_closed() {
            return false;
        }
        if let Some(s) = signed {
            self.signed_since_flush = true;
            if self.stored.mark_stored(s.key_id, s.epoch, s.seq)
                && let Some(j) = &mut self.journal
            {
                j.note(s.key_id, s.epoch, s.seq);
            }
            self.ack_later(s);
        }
        true
    }

    /// Owes the sender an ack after the next flush, if it asked for one.
    fn ack_later(&mut self, s: Signed) {
        if let Some(route) = s.ack {
            self.acks.insert((route.conn, s.key_id, s.epoch), route);
        }
    }

    /// `getLogger(record.name).handle(record)`, without letting remote names grow the tree
    /// past [`MAX_REMOTE_LOGGERS`].
    fn handle(&mut self, rec: &LogRecord) {
        if let Some(l) = &self.last
            && l.name() == rec.name
        {
            l.handle_in(self.snap.current(), rec);
            return;
        }
        // A name over the length cap may still use a logger that exists; it makes none.
        let mut none_for_long_names = 0;
        let budget = if rec.name.len() <= MAX_REMOTE_NAME_LEN {
            &mut self.budget
        } else {
            &mut none_for_long_names
        };
        let own = self.tree.get_logger_within(&rec.name, budget);
        let logger = own.unwrap_or_else(|| {
            self.counters.at_ancestor.fetch_add(1, Ordering::Relaxed);
            self.tree.nearest_logger(&rec.name)
        });
        logger.handle_in(self.snap.current(), rec);
        // Only cache exact-name loggers; the fallback must be looked up again next time.
        self.last = (logger.name() == rec.name).then_some(logger);
    }

    fn flush_and_ack(&mut self) {
        let signed = std::mem::take(&mut self.signed_since_flush);
        if std::mem::take(&mut self.handled_since_flush) > 0 {
            if signed {
                // Durability before the ack, not logging's flush(): a MemoryHandler keeps its
                // buffer until its capacity or flushLevel says otherwise, as in CPython.
                if !self.tree.sync() {
                    self.counters.sync_failures.fetch_add(1, Ordering::Relaxed);
                    if !self.unconfirmed {
                        eprintln!(
                            "logwire: an output could not confirm its records; acknowledging \
                             nothing more until restarted (senders keep and resend them)"
                        );
                    }
                    self.unconfirmed = true;
                }
            } else {
                // Nobody waits for these records' confirmation: pass them on, and let a
                // remote handler (JetStream) keep many drains in flight instead of one
                // round trip per drain.
                self.tree.hand_off();
            }
        }
        logwire_record::RecordPool::recycle(&mut self.spent);
        self.spent_bytes = 0;
        if self.unconfirmed {
            // A handler could not confirm (a full disk, JetStream closed with records
            // unacknowledged). The cumulative ack points and the ingest window already count
            // those records as stored, so no later ack or journal line could tell them
            // apart: none is written. Senders keep them and resend them to the next
            // collector, which stores them (duplicates at worst, never a lost record).
            self.acks.clear();
            if let Some(j) = &mut self.journal {
                j.abandon();
            }
            return;
        }
        // An ack promises the record is stored, also to a restarted collector: the journal
        // line goes first. If it cannot be written, no ack: the sender resends (and a record
        // stored twice beats one acknowledged and forgotten).
        if let Some(j) = &mut self.journal
            && let Err(e) = j.commit(self.stored.tracker())
        {
            self.counters.journal_errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("logwire: cannot write the replay journal, withholding acks: {e}");
            self.acks.clear();
            return;
        }
        for ((_, key_id, epoch), route) in self.acks.drain() {
            let seq = self.stored.ack_point(key_id, epoch);
            if seq == 0 {
                continue;
            }
            // A full ack queue means the peer is not reading; acks are cumulative, so a
            // later one covers this one.
            if route.tx.try_send(RecordAck { epoch, seq }).is_ok() {
                self.counters.acks_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
