//! Judging a stream connection's bulk reads off its task, in read order: on the dispatcher
//! thread itself, or on decode threads.
//!
//! Why: a connection's task used to judge (parse + map) every frame it read itself, and then
//! the records crossed to the dispatcher's core to be handled, and back to be refilled. One
//! busy `SocketHandler` connection, the usual case of a single application logging a lot, is
//! most of a collector's work, and moving each record's cache lines between cores cost about
//! a third of its CPU.
//!
//! How: the connection task still reads and splits frames (cheap: length prefixes only). When
//! one read yields many complete plain frames ([`PARALLEL_MIN_FRAMES`]), the buffer holding
//! them leaves the task without being copied, in one of two ways ([`BulkDecode`]):
//!
//! * **to the dispatcher** (the default while it keeps up), which judges the frames one by
//!   one and hands each record to its handlers at once, then back to the same mapper: the
//!   next frame refills a record still in that core's cache, and records never cross cores.
//!   The connection's mapper for these reads and the buffers handed back are its
//!   [`DispatcherSide`].
//! * **to a decode thread** (a blocking-pool thread) that judges them with its own
//!   [`RecordMapper`] into a batch of records, while the task goes on reading. This spreads
//!   the decoding over cores, which pays only when there are cores to spare beyond the
//!   dispatcher's and the readers' (with [`BulkDecode::Auto`]: more than two, and only while
//!   the dispatcher's queue is backed up).
//!
//! [`InOrder`] keeps the connection's batches, decoding or ready, in read order, and the task
//! sends them to the dispatcher strictly in that order; so records of one connection still
//! reach the handlers in the order they were sent, as with CPython's cookbook receiver.
//!
//! Bounds: decode threads busy at once, over all connections, are limited by a semaphore
//! ([`decode_workers`]); a connection that gets none hands the read to the dispatcher
//! ([`BulkDecode::Auto`]), or waits for its oldest batch, or with none queued judges the read
//! itself ([`BulkDecode::Threads`]). A connection has at most [`MAX_QUEUED`] reads at the
//! dispatcher not yet judged (a slot each), and queues at most [`MAX_QUEUED`] batches, each
//! from one read of at most [`PARALLEL_MAX_BYTES`]; when either is full the task waits (for a
//! slot, or for its oldest batch, which it sends), and a send waits while the dispatcher's
//! channel is full, so a slow dispatcher still stops the reading (TCP flow control) instead of
//! growing memory.
//!
//! What stays inline: reads with few frames (no hand-off latency for light traffic) and reads
//! holding a large frame. Reads holding a signed `LWR1` frame take the bulk path to the
//! dispatcher (never a decode thread), so the ingest `SeenSeqs` still marks one connection's
//! seqs in the order they were sent (see [`who_judges`], the one place that decides); the
//! connection's task verifies most of their tags first and leaves the rest to the
//! dispatcher (`stream::TAGS_CHECKED_HERE`), so the HMAC (most of a signed record's cost) is
//! spread over the connection's thread and the dispatcher's core.

use super::BulkDecode;
use super::work::{Batch, DispatcherSide};
use logwire_record::{MapLimits, RecordMapper};
use logwire_wire::FrameScan;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

/// Fewest complete frames in one read for it to be decoded on a worker thread: below this the
/// hand-off costs more than it saves (a worker's wake-up is worth a few records' decoding).
pub(crate) const PARALLEL_MIN_FRAMES: usize = 32;

/// Most bytes of complete frames handed to a worker at once; a read holding more (a large
/// frame) is judged inline, so queued batches never pin more than this per read.
pub(crate) const PARALLEL_MAX_BYTES: usize = 256 * 1024;

/// Batches one connection keeps queued (decoding or done, not yet sent).
pub(crate) const MAX_QUEUED: usize = 8;

/// Batches waiting in the dispatcher's queue from which, with [`BulkDecode::Auto`], a bulk
/// read goes to a decode thread (if one is free) instead of to the dispatcher.
pub(crate) const DISPATCHER_BACKLOG: usize = 16;

/// The semaphore bounding decode threads over all connections: with [`BulkDecode::Auto`],
/// one per core beyond the two that the dispatcher and the connection tasks keep busy.
pub(crate) fn decode_workers(bulk: BulkDecode) -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(match bulk {
        BulkDecode::Auto => cores.saturating_sub(2),
        BulkDecode::Dispatcher => 0,
        BulkDecode::Threads(n) => n,
    }))
}

/// Read buffers kept for reuse by every connection of a collector, at most [`POOLED_BUFFERS`].
///
/// Why: a buffer's memory is page-faulted in by the first read into it (the kernel copies
/// into fresh pages). A long busy connection reuses its own few buffers, but many short or
/// concurrent ones (64 `SocketHandler` processes starting at once) each faulted in up to
/// [`MAX_QUEUED`] + 1 fresh buffers, and the faults cost about a tenth of the collector's
/// CPU in that case (perf: `exc_page_fault` + `clear_page` under `recvfrom`). Buffers a
/// connection no longer needs (it ended, or went idle: see `stream::BUFFER_RELEASE`) come
/// here and the next connection takes them, warm. Idle connections still hold none; the pool
/// is the collector's, bounded, and holds buffers of at most twice the read size.
#[derive(Debug)]
pub(crate) struct BufferPool {
    bufs: Mutex<Vec<Vec<u8>>>,
    /// The read size: a pooled buffer is shrunk to it if it grew past twice that.
    chunk: usize,
}

/// Buffers the [`BufferPool`] keeps at most (4 MiB at 128 KiB reads).
pub(crate) const POOLED_BUFFERS: usize = 32;

impl BufferPool {
    pub(crate) fn new(chunk: usize) -> Self {
        BufferPool {
            bufs: Mutex::default(),
            chunk,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.bufs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pooled buffer, empty, if there is one.
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.lock().pop()
    }

    /// Keeps `buf` for another read, if the pool is not full.
    pub(crate) fn put(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 {
            return;
        }
        buf.clear();
        if buf.capacity() > 2 * self.chunk {
            buf.shrink_to(self.chunk);
        }
        let mut bufs = self.lock();
        if bufs.len() < POOLED_BUFFERS {
            bufs.push(buf);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// One connection's batches not yet sent to the dispatcher, oldest first, and the mappers and
/// buffers its workers hand back (reused, so a busy connection neither allocates buffers nor
/// builds parser state per read).
pub(crate) struct InOrder {
    queue: VecDeque<Pending>,
    workers: Arc<Semaphore>,
    limits: MapLimits,
    spare_mappers: Vec<RecordMapper>,
    spare_bufs: Vec<Vec<u8>>,
    /// Where buffers come from when this connection has none spare, and go when it ends.
    pool: Arc<BufferPool>,
    /// What this connection shares with the dispatcher for the reads it hands it.
    dispatcher_side: Arc<DispatcherSide>,
    /// One permit per read of this connection at the dispatcher, not yet judged: at most
    /// [`MAX_QUEUED`], so a connection keeps a few buffers busy there, not a queue's worth.
    dispatcher_slots: Arc<Semaphore>,
}

impl Drop for InOrder {
    /// The connection ended: its spare buffers go to the pool for the next one.
    fn drop(&mut self) {
        self.release_buffers();
    }
}

enum Pending {
    /// Judged inline while older batches were still decoding.
    Ready(Batch),
    /// On a worker thread.
    Decoding(JoinHandle<Decoded>),
}

/// What a worker hands back: the batch, and its mapper and buffer for reuse.
struct Decoded {
    batch: Batch,
    mapper: RecordMapper,
    buf: Vec<u8>,
}

impl InOrder {
    pub(crate) fn new(workers: Arc<Semaphore>, limits: MapLimits, pool: Arc<BufferPool>) -> Self {
        InOrder {
            queue: VecDeque::new(),
            workers,
            pool,
            spare_mappers: Vec::new(),
            spare_bufs: Vec::new(),
            dispatcher_side: Arc::new(DispatcherSide::new(
                RecordMapper::new(limits.clone()),
                MAX_QUEUED,
            )),
            dispatcher_slots: Arc::new(Semaphore::new(MAX_QUEUED)),
            limits,
        }
    }

    /// A slot for one more read at the dispatcher, if this connection has fewer than
    /// [`MAX_QUEUED`] there.
    pub(crate) fn try_dispatcher_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.dispatcher_slots).try_acquire_owned().ok()
    }

    /// Waits for a slot at the dispatcher. Send every batch queued here first: some of them
    /// may be the reads holding the slots.
    pub(crate) async fn dispatcher_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.dispatcher_slots)
            .acquire_owned()
            .await
            .ok()
    }

    /// Whether some of this connection's reads wait at the dispatcher, not yet judged.
    pub(crate) fn has_reads_at_dispatcher(&self) -> bool {
        self.dispatcher_slots.available_permits() < MAX_QUEUED
    }

    /// This connection's part of a read it hands the dispatcher (see [`DispatcherSide`]).
    pub(crate) fn dispatcher_side(&self) -> Arc<DispatcherSide> {
        Arc::clone(&self.dispatcher_side)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.queue.len() >= MAX_QUEUED
    }

    /// A decode thread, if one is free and this connection may queue another batch.
    pub(crate) fn try_worker(&self) -> Option<OwnedSemaphorePermit> {
        if self.is_full() {
            return None;
        }
        Arc::clone(&self.workers).try_acquire_owned().ok()
    }

    /// Gives the read buffers kept for reuse to the pool (the connection is idle, or ending:
    /// it keeps none).
    pub(crate) fn release_buffers(&mut self) {
        let spent = self.dispatcher_side.take_spent();
        for buf in std::mem::take(&mut self.spare_bufs)
            .into_iter()
            .chain(spent)
        {
            self.pool.put(buf);
        }
    }

    /// Gives one buffer to the pool (the connection's own read buffer, when it is released).
    pub(crate) fn put_back(&self, buf: Vec<u8>) {
        self.pool.put(buf);
    }

    /// An empty read buffer (one a worker handed back, or a new one of `capacity`).
    pub(crate) fn take_buffer(&mut self, capacity: usize) -> Vec<u8> {
        if self.spare_bufs.is_empty() {
            // The ones the dispatcher handed back.
            self.spare_bufs = self.dispatcher_side.take_spent();
        }
        match self.spare_bufs.pop().or_else(|| self.pool.take()) {
            Some(mut buf) => {
                // A buffer that once held a large frame must not keep that size outside the
                // in-flight budget while it waits to be reused.
                buf.shrink_to(capacity);
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Queues a batch judged inline behind the ones still decoding.
    pub(crate) fn push_ready(&mut self, batch: Batch) {
        self.queue.push_back(Pending::Ready(batch));
    }

    /// Judges `frames` (complete frames, prefixes included) on a worker thread with `judge`,
    /// holding `worker` until done; the batch takes its place behind the ones queued before.
    pub(crate) fn spawn<F>(&mut self, worker: OwnedSemaphorePermit, frames: Vec<u8>, judge: F)
    where
        F: FnOnce(&[u8], &mut RecordMapper) -> Batch + Send + 'static,
    {
        let mut mapper = self
            .spare_mappers
            .pop()
            .unwrap_or_else(|| RecordMapper::new(self.limits.clone()));
        let handle = tokio::task::spawn_blocking(move || {
            let batch = judge(&frames, &mut mapper);
            // Free the thread for the next read (of any connection) before the batch is sent.
            drop(worker);
            Decoded {
                batch,
                mapper,
                buf: frames,
            }
        });
        self.queue.push_back(Pending::Decoding(handle));
    }

    /// Waits for the oldest batch (`None` when nothing is queued). Cancel-safe: a batch is
    /// only taken off the queue once it is done.
    pub(crate) async fn next(&mut self) -> Option<Batch> {
        if let Pending::Decoding(h) = self.queue.front_mut()? {
            let res = h.await;
            self.queue.pop_front();
            return Some(self.finish(res));
        }
        match self.queue.pop_front() {
            Some(Pending::Ready(b)) => Some(b),
            _ => None,
        }
    }

    fn finish(&mut self, res: Result<Decoded, tokio::task::JoinError>) -> Batch {
        match res {
            Ok(mut d) => {
                d.buf.clear();
                self.spare_bufs.push(d.buf);
                self.spare_mappers.push(d.mapper);
                d.batch
            }
            // The judges never panic (bounded parsers); if one did, fail as the inline path
            // would, on the connection's task.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is being torn down (no drain then).
            Err(_) => Batch::default(),
        }
    }
}

/// Who judges a read: decided here and nowhere else (see the module docs).
pub(crate) enum Judge {
    /// The connection's task, now.
    Here,
    /// The dispatcher thread (a bulk read), with a slot there if one was free.
    Dispatcher(Option<OwnedSemaphorePermit>),
    /// A decode thread (a bulk read).
    Thread(OwnedSemaphorePermit),
    /// Every decode thread is busy, likely with this connection's older reads: wait for the
    /// oldest batch instead of decoding on a third thread, then look again.
    Wait,
}

/// Picks who judges the complete frames `scan` found in a read of a connection whose queued
/// batches are `order`, given the dispatcher's channel `dispatch`.
///
/// Signed `LWR1` frames are marked in the ingest `SeenSeqs` (see `seqs`), which must see one connection's
/// seqs in the order they were sent (a seq marked far ahead of older unjudged ones could push
/// those below the window). So a read holding any is never judged on a decode thread (those
/// run side by side), and is judged here only when none of this connection's older reads is
/// still waiting to be judged; otherwise it follows them to the dispatcher, which judges one
/// connection's reads in order. Signed bulk reads thus take the same bulk path as plain ones;
/// most of their tags are verified on the connection's task before the read leaves it
/// (`ReadFrames::tags`), and the dispatcher verifies the rest, maps them and marks their seqs.
pub(crate) fn who_judges(
    bulk: BulkDecode,
    scan: &FrameScan,
    dispatch: &mpsc::Sender<Batch>,
    order: &InOrder,
) -> Judge {
    let dispatcher = || Judge::Dispatcher(order.try_dispatcher_slot());
    let signed = scan.special > 0;
    let bulk_read = scan.frames >= PARALLEL_MIN_FRAMES && scan.end <= PARALLEL_MAX_BYTES;
    if !bulk_read {
        let older_unjudged = !order.is_empty() || order.has_reads_at_dispatcher();
        return if signed && older_unjudged && scan.end <= PARALLEL_MAX_BYTES {
            dispatcher()
        } else {
            Judge::Here
        };
    }
    if signed {
        return dispatcher();
    }
    match bulk {
        BulkDecode::Dispatcher => dispatcher(),
        BulkDecode::Auto => {
            let queued = dispatch.max_capacity() - dispatch.capacity();
            match order.try_worker() {
                Some(worker) if queued >= DISPATCHER_BACKLOG => Judge::Thread(worker),
                _ => dispatcher(),
            }
        }
        BulkDecode::Threads(_) => match order.try_worker() {
            Some(worker) => Judge::Thread(worker),
            None if !order.is_empty() => Judge::Wait,
            None => Judge::Here,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Arc<BufferPool> {
        Arc::new(BufferPool::new(1024))
    }

    /// Buffers outlive their connection in the pool, shrunk, and no more than the bound.
    #[test]
    fn buffers_go_to_the_pool_and_come_back() {
        let pool = pool();
        let mut a = InOrder::new(
            Arc::new(Semaphore::new(0)),
            Default::default(),
            Arc::clone(&pool),
        );
        let mut big = a.take_buffer(1024);
        big.resize(10_000, 7);
        a.put_back(big);
        assert_eq!(pool.len(), 1);
        drop(a);
        let mut b = InOrder::new(
            Arc::new(Semaphore::new(0)),
            Default::default(),
            Arc::clone(&pool),
        );
        let reused = b.take_buffer(1024);
        assert!(reused.is_empty() && reused.capacity() >= 1024);
        assert!(
            reused.capacity() <= 2 * 1024,
            "shrunk: {}",
            reused.capacity()
        );
        assert_eq!(pool.len(), 0);
        for _ in 0..POOLED_BUFFERS + 5 {
            pool.put(vec![0u8; 16]);
        }
        assert_eq!(pool.len(), POOLED_BUFFERS);
        b.release_buffers();
    }

    fn scan(end: usize, frames: usize, special: usize) -> FrameScan {
        let mut s = FrameScan::default();
        (s.end, s.frames, s.special) = (end, frames, special);
        s
    }

    /// `Auto` sends bulk reads to the dispatcher, and to a free decode thread only once the
    /// dispatcher's queue is backed up; `Threads` uses threads, then waits, then judges here.
    #[tokio::test]
    async fn who_judges_a_bulk_read() {
        let (tx, _rx) = mpsc::channel::<Batch>(64);
        let with_threads =
            |n| InOrder::new(Arc::new(Semaphore::new(n)), Default::default(), pool());
        let (one, none) = (with_threads(1), with_threads(0));
        let bulk = scan(32 * 100, PARALLEL_MIN_FRAMES, 0);
        let auto = |order: &InOrder| who_judges(BulkDecode::Auto, &bulk, &tx, order);
        assert!(matches!(auto(&one), Judge::Dispatcher(Some(_))));
        for _ in 0..DISPATCHER_BACKLOG {
            tx.try_send(Batch::default()).unwrap();
        }
        assert!(matches!(auto(&one), Judge::Thread(_)));
        assert!(matches!(auto(&none), Judge::Dispatcher(Some(_))));
        let dispatcher = who_judges(BulkDecode::Dispatcher, &bulk, &tx, &one);
        assert!(matches!(dispatcher, Judge::Dispatcher(Some(_))));
        let threads = |order: &InOrder| who_judges(BulkDecode::Threads(1), &bulk, &tx, order);
        assert!(matches!(threads(&one), Judge::Thread(_)));
        assert!(matches!(threads(&none), Judge::Here));
    }

    /// A read holding a signed frame never goes to a decode thread, and follows this
    /// connection's unjudged reads to the dispatcher even when it is small.
    #[tokio::test]
    async fn signed_reads_stay_in_order() {
        let (tx, _rx) = mpsc::channel::<Batch>(64);
        let order = InOrder::new(Arc::new(Semaphore::new(4)), Default::default(), pool());
        let signed_bulk = scan(32 * 100, PARALLEL_MIN_FRAMES, 1);
        for mode in [
            BulkDecode::Auto,
            BulkDecode::Threads(4),
            BulkDecode::Dispatcher,
        ] {
            for _ in 0..DISPATCHER_BACKLOG {
                let _ = tx.try_send(Batch::default());
            }
            let judge = who_judges(mode, &signed_bulk, &tx, &order);
            assert!(matches!(judge, Judge::Dispatcher(Some(_))), "{mode:?}");
        }
        let signed_small = scan(300, 1, 1);
        let alone = who_judges(BulkDecode::Auto, &signed_small, &tx, &order);
        assert!(
            matches!(alone, Judge::Here),
            "nothing older: judged at once"
        );
        let held = order.try_dispatcher_slot().expect("a slot");
        let behind = who_judges(BulkDecode::Auto, &signed_small, &tx, &order);
        assert!(
            matches!(behind, Judge::Dispatcher(Some(_))),
            "behind an unjudged read"
        );
        let plain_small = scan(300, 1, 0);
        let plain = who_judges(BulkDecode::Auto, &plain_small, &tx, &order);
        assert!(
            matches!(plain, Judge::Here),
            "plain frames have no replay state"
        );
        drop(held);
    }
}
