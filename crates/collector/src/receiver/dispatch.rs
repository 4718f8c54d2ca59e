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
//! acks: an ack promises the record is in its handlers and flushed.

use super::ingest::{Shared, Tally};
use super::parallel::DispatcherSide;
use super::replay_journal::ReplayJournal;
use super::stats::Counters;
use super::stream::payloads;
use logwire_engine::tree::SnapshotCache;
use logwire_engine::{LogRecord, Logger, LoggerTree};
use logwire_record::MappedRecord;
use logwire_wire::{Epoch, KeyId, RecordAck, ReplayTracker, ReplayVerdict};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

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

/// Where acks for one stream connection are written.
#[derive(Clone, Debug)]
pub(crate) struct AckRoute {
    /// Identifies the connection (acks are coalesced per connection).
    pub(crate) conn: u64,
    pub(crate) tx: mpsc::Sender<RecordAck>,
}

/// A verified record's envelope facts.
#[derive(Clone, Debug)]
pub(crate) struct Signed {
    pub(crate) key_id: KeyId,
    pub(crate) epoch: Epoch,
    pub(crate) seq: u64,
    /// Set when the record asked for an ack and came over a stream.
    pub(crate) ack: Option<AckRoute>,
}

/// One item of a batch.
pub(crate) enum Work {
    /// A record to hand to the handlers.
    Record(Box<MappedRecord>, Option<Signed>),
    /// A duplicate that asked for an ack: ack again, store nothing.
    AckOnly(Signed),
    /// A read's frames, not yet judged: the dispatcher judges them itself (see [`ReadFrames`]).
    Frames(Box<ReadFrames>),
    /// The batch's share of the queue's byte budget (see [`charge`]), last in its batch:
    /// given back once the dispatcher is done with the items before it.
    Charge(OwnedSemaphorePermit),
}

/// The bytes queued between the receivers and the dispatcher, over all of them
/// ([`ReceiverOptions::queue_bytes`](super::ReceiverOptions::queue_bytes)). Records are
/// charged what they hold ([`MappedRecord::cost_bytes`]), a read's frames for the dispatcher
/// to judge their bytes. So a stalled handler (a stdout nobody reads) stops the receivers,
/// and TCP pushes back on the senders, once this many bytes wait, not once a number of
/// batches does: a batch may hold one record of megabytes or a thousand small ones.
#[derive(Clone, Debug)]
pub(crate) struct QueueBudget {
    sem: Arc<Semaphore>,
    size: u32,
}

impl QueueBudget {
    pub(crate) fn new(bytes: usize) -> Self {
        let size = bytes.clamp(1, u32::MAX as usize) as u32;
        QueueBudget {
            sem: Arc::new(Semaphore::new(size as usize)),
            size,
        }
    }

    /// What a batch is charged.
    fn cost(batch: &Batch) -> usize {
        batch
            .iter()
            .map(|w| match w {
                Work::Record(rec, _) => rec.cost_bytes(),
                Work::Frames(read) => read.frames.len(),
                Work::AckOnly(_) | Work::Charge(_) => 0,
            })
            .sum()
    }

    /// Bytes charged now: records and reads waiting for the dispatcher, and reservations of
    /// records being built (a gauge for metrics; it moves while it is read).
    pub(crate) fn in_use(&self) -> usize {
        (self.size as usize).saturating_sub(self.sem.available_permits())
    }

    /// Takes the batch's share of the budget and puts it last in the batch; waits while the
    /// budget is spent. A batch larger than the whole budget waits for all of it. A batch
    /// already charged (see [`QueueBudget::settle`]) is left as it is.
    pub(crate) async fn charge(&self, batch: &mut Batch) {
        if matches!(batch.last(), Some(Work::Charge(_))) {
            return;
        }
        if let Some(permit) = self.reserve(Self::cost(batch)).await {
            batch.push(Work::Charge(permit));
        }
    }

    /// Takes `bytes` of the budget (at most all of it) before records are built: what they
    /// can hold at most, so that records waiting for the queue are inside the budget too.
    /// Waits while the budget is spent (the connection stops reading). `None` for 0 bytes.
    pub(crate) async fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let want = bytes.min(self.size as usize) as u32;
        if want == 0 {
            return None;
        }
        Arc::clone(&self.sem).acquire_many_owned(want).await.ok()
    }

    /// Charges a batch built under `reserved` (see [`QueueBudget::reserve`]) what it holds,
    /// and gives the rest of the reservation back.
    pub(crate) fn settle(&self, reserved: Option<OwnedSemaphorePermit>, batch: &mut Batch) {
        let Some(mut permit) = reserved else {
            return;
        };
        let keep = Self::cost(batch).min(permit.num_permits());
        drop(permit.split(permit.num_permits() - keep));
        if keep > 0 && !batch.is_empty() {
            batch.push(Work::Charge(permit));
        }
    }
}

/// A read's complete frames (prefixes included) for the dispatcher to judge and handle one by
/// one, with the connection's mapper: each record is handled where it was mapped and refilled
/// by the next frame while still in this core's cache, instead of crossing to the dispatcher's
/// core and back (see `parallel`'s docs for when a connection sends these).
pub(crate) struct ReadFrames {
    pub(crate) shared: Arc<Shared>,
    pub(crate) frames: Vec<u8>,
    /// Complete frames in `frames`.
    pub(crate) count: usize,
    pub(crate) peer: Arc<str>,
    pub(crate) route: AckRoute,
    /// The connection's mapper for such reads, and where the buffer goes back.
    pub(crate) side: Arc<DispatcherSide>,
    /// Held until the read is judged (the connection's reads at the dispatcher are bounded).
    pub(crate) slot: OwnedSemaphorePermit,
}

/// A batch from one read; `Vec` so that the channel carries one message per read.
pub(crate) type Batch = Vec<Work>;

/// Starts the dispatcher thread; it ends when every sender is dropped and the queue is
/// drained, after a final flush. `handled` holds the seqs earlier runs stored (from
/// `journal`, which then records this run's).
pub(crate) fn start(
    tree: LoggerTree,
    counters: Arc<Counters>,
    capacity: usize,
    handled: ReplayTracker,
    journal: Option<ReplayJournal>,
    output_closed: Option<Arc<AtomicBool>>,
) -> std::io::Result<(mpsc::Sender<Batch>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel::<Batch>(capacity.max(1));
    let handle = std::thread::Builder::new()
        .name("logwire-dispatch".into())
        .spawn(move || {
            // Handlers keep a drain's lines in memory and write them at the flush that ends
            // the drain (one write per burst, not per record); acks follow that flush.
            logwire_engine::handler::batch_writes_on_this_thread(true);
            let mut d = Dispatcher::new(tree, counters, handled, journal);
            d.output_closed = output_closed;
            d.run(rx)
        })?;
    Ok((tx, handle))
}

struct Dispatcher {
    tree: LoggerTree,
    /// The tree's state, reloaded only when it changes (a config reload, a new logger).
    snap: SnapshotCache,
    counters: Arc<Counters>,
    /// Seqs handed to handlers, per (key, epoch): the cumulative ack is its contiguous point.
    handled: ReplayTracker,
    /// Persists `handled` (see `replay_journal`): written after the flush, before the acks.
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
        counters: Arc<Counters>,
        handled: ReplayTracker,
        journal: Option<ReplayJournal>,
    ) -> Self {
        Dispatcher {
            snap: tree.snapshot_cache(),
            tree,
            counters,
            handled,
            journal,
            output_closed: None,
            budget: MAX_REMOTE_LOGGERS,
            last: None,
            acks: HashMap::new(),
            handled_since_flush: 0,
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
                    let (s, d) = self.judge_read(*read);
                    stored += s;
                    dropped += d;
                }
                // Last in the batch: everything before it is handled.
                Work::Charge(permit) => drop(permit),
            }
        }
        // Once per batch (one socket read), not per record. `pending` first, `stored` after
        // it with Release: a stats read in between sees `received` larger than the outcomes,
        // never smaller (see `Counters::snapshot`).
        if from_pending > 0 {
            self.counters
                .pending
                .fetch_sub(from_pending, Ordering::Relaxed);
        }
        if stored > 0 {
            self.counters.stored.fetch_add(stored, Ordering::Release);
            self.handled_since_flush += stored;
        }
        if dropped > 0 {
            self.counters.dropped.fetch_add(dropped, Ordering::Release);
        }
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
    fn judge_read(&mut self, read: ReadFrames) -> (u64, u64) {
        let ReadFrames {
            shared,
            frames,
            count: _,
            peer,
            route,
            side,
            slot,
        } = read;
        let (mut tally, mut stored, mut dropped) = (Tally::default(), 0, 0);
        // Only this thread locks it, and a connection's reads come here one after another.
        let mut mapper = side.mapper.lock().unwrap_or_else(|e| e.into_inner());
        for payload in payloads(&frames) {
            match tally.count(shared.judge(payload, &mut mapper, &peer, Some(&route))) {
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
        let origin = signed
            .as_ref()
            .map(|s| logwire_engine::origin::RecordOrigin {
                key_id: s.key_id.0,
                epoch: s.epoch.0,
                seq: s.seq,
            });
        logwire_engine::origin::with_origin(origin, || self.handle(rec));
        if self.output_closed() {
            return false;
        }
        if let Some(s) = signed {
            if self.handled.mark(s.key_id, s.epoch, s.seq) == ReplayVerdict::New
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
        if std::mem::take(&mut self.handled_since_flush) > 0 {
            // Durability before the ack, not logging's flush(): a MemoryHandler keeps its
            // buffer until its capacity or flushLevel says otherwise, as in CPython.
            self.tree.sync();
        }
        logwire_record::RecordPool::recycle(&mut self.spent);
        self.spent_bytes = 0;
        // An ack promises the record is stored, also to a restarted collector: the journal
        // line goes first. If it cannot be written, no ack: the sender resends (and a record
        // stored twice beats one acknowledged and forgotten).
        if let Some(j) = &mut self.journal
            && let Err(e) = j.commit(&self.handled)
        {
            self.counters.journal_errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("logwire: cannot write the replay journal, withholding acks: {e}");
            self.acks.clear();
            return;
        }
        for ((_, key_id, epoch), route) in self.acks.drain() {
            let seq = self
                .handled
                .window(key_id, epoch)
                .map_or(0, |w| w.contiguous());
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
