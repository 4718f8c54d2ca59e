//! The units of work that flow one way through the collector: a connection (`stream`,
//! `datagram`) reads, the offload policy (`parallel`) picks who judges a read, the judge
//! (`ingest`) turns a frame into an outcome, and the dispatcher (`dispatch`) stores it. Every
//! one of those modules depends on this one and none of them on a module after it in that
//! order, so who judges a read can be changed in `parallel` alone.
//!
//! Budgets: a batch is charged against [`QueueBudget`] (bytes, not batches) before it enters
//! the dispatcher's channel; a connection has at most `parallel::MAX_QUEUED` unjudged reads at
//! the dispatcher ([`ReadFrames::slot`]) and keeps at most as many spare buffers
//! ([`DispatcherSide::give_back`]).

use super::stats::ListenerId;
use logwire_record::{MappedRecord, RecordMapper};
use logwire_wire::RecordAck;
use logwire_wire::TagChecked;
use logwire_wire::{Epoch, KeyId};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

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
                Work::Frames(read) => read.cost_bytes(),
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
    pub(crate) frames: Vec<u8>,
    /// Complete frames in `frames`.
    pub(crate) count: usize,
    /// The tags the connection's task verified, by frame index (empty if the read holds no
    /// signed frame; `None` for a frame that is not signed or did not verify): the HMAC, the
    /// bulk of a signed record's cost, runs on the connections' threads, and the dispatcher
    /// only maps. At most one per frame (bytes charged with the read, see `cost_bytes`).
    pub(crate) tags: Vec<Option<TagChecked>>,
    pub(crate) peer: Arc<str>,
    pub(crate) route: AckRoute,
    /// The connection's mapper for such reads, and where the buffer goes back.
    pub(crate) side: Arc<DispatcherSide>,
    /// Held until the read is judged (the connection's reads at the dispatcher are bounded).
    pub(crate) slot: OwnedSemaphorePermit,
}

impl ReadFrames {
    /// What the read is charged against the [`QueueBudget`]: its bytes and its tag checks.
    fn cost_bytes(&self) -> usize {
        self.frames.len() + self.tags.len() * std::mem::size_of::<Option<TagChecked>>()
    }
}

/// The work from one read (or one datagram), so that the channel carries one message per
/// read, with the listener it came in on (every item of a batch came in on one listener).
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) listener: ListenerId,
    items: Vec<Work>,
}

impl Batch {
    pub(crate) fn with_capacity(listener: ListenerId, n: usize) -> Self {
        Batch {
            listener,
            items: Vec::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, work: Work) {
        self.items.push(work);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Work> {
        self.items.iter()
    }

    fn last(&self) -> Option<&Work> {
        self.items.last()
    }

    /// The items, and the listener they came in on.
    pub(crate) fn into_parts(self) -> (ListenerId, Vec<Work>) {
        (self.listener, self.items)
    }
}

impl Extend<Work> for Batch {
    fn extend<I: IntoIterator<Item = Work>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

/// What a connection shares with the dispatcher for the reads it hands it to judge: one
/// mapper (so its template keeps the connection's layout from read to read, and the records
/// it refills stay on the dispatcher's core), and the read buffers handed back.
pub(crate) struct DispatcherSide {
    pub(crate) mapper: Mutex<RecordMapper>,
    spent_bufs: Mutex<Vec<Vec<u8>>>,
    /// Most buffers kept for reuse (as many as the connection may have at the dispatcher).
    keep: usize,
}

impl DispatcherSide {
    pub(crate) fn new(mapper: RecordMapper, keep: usize) -> Self {
        DispatcherSide {
            mapper: Mutex::new(mapper),
            spent_bufs: Mutex::default(),
            keep,
        }
    }

    /// The buffers handed back so far (the connection reuses them).
    pub(crate) fn take_spent(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.spent_bufs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Hands a read's buffer back to its connection.
    pub(crate) fn give_back(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut bufs = self.spent_bufs.lock().unwrap_or_else(|e| e.into_inner());
        // No more than a connection keeps itself: a burst that queued many reads at the
        // dispatcher must not leave as many idle buffers behind.
        if bufs.len() < self.keep {
            bufs.push(buf);
        }
    }
}
