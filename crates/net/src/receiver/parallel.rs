//! Decoding one stream connection's frames on more than one core, in read order.
//!
//! Why: a connection's task used to judge (parse + map) every frame it read itself, so one
//! busy `SocketHandler` connection, the usual case of a single application logging a lot,
//! could use one core at most, and decoding is most of the collector's work (≈ 80 % of its
//! CPU against ≈ 17 % for the dispatcher's handlers, see `crates/bench/README-receive.md`).
//!
//! How: the connection task still reads and splits frames (cheap: length prefixes only). When
//! one read yields many complete plain frames ([`PARALLEL_MIN_FRAMES`]), the buffer holding
//! them is handed, without copying, to a blocking-pool thread that judges them with its own
//! [`RecordMapper`] into a batch, while the task goes on reading. [`InOrder`] keeps this
//! connection's batches, decoding or done, in read order, and the task sends them to the
//! dispatcher strictly in that order; so records of one connection still reach the handlers
//! in the order they were sent, as with CPython's cookbook receiver.
//!
//! Bounds: decode threads busy at once, over all connections, are limited by a semaphore
//! ([`decode_workers`]: one per core); a connection that gets none decodes inline, as before.
//! A connection queues at most [`MAX_QUEUED`] batches, each from one read of at most
//! [`PARALLEL_MAX_BYTES`]; when the queue is full the task waits for its oldest batch and sends
//! it, and a send waits while the dispatcher's channel is full, so a slow dispatcher still
//! stops the reading (TCP flow control) instead of growing memory.
//!
//! What stays inline: reads with few frames (no hand-off latency for light traffic), reads
//! holding a large frame, and reads holding any signed `LWR1` frame, so the ingest replay
//! tracker marks a connection's signed frames in the order they were sent, exactly as before.

use super::dispatch::Batch;
use crate::record_map::{MapLimits, RecordMapper};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

/// Fewest complete frames in one read for it to be decoded on a worker thread: below this the
/// hand-off costs more than it saves (a worker's wake-up is worth a few records' decoding).
pub(crate) const PARALLEL_MIN_FRAMES: usize = 32;

/// Most bytes of complete frames handed to a worker at once; a read holding more (a large
/// frame) is judged inline, so queued batches never pin more than this per read.
pub(crate) const PARALLEL_MAX_BYTES: usize = 256 * 1024;

/// Batches one connection keeps queued (decoding or done, not yet sent).
pub(crate) const MAX_QUEUED: usize = 8;

/// The semaphore bounding decode threads over all connections: one per core.
pub(crate) fn decode_workers() -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(cores))
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
    pub(crate) fn new(workers: Arc<Semaphore>, limits: MapLimits) -> Self {
        InOrder {
            queue: VecDeque::new(),
            workers,
            limits,
            spare_mappers: Vec::new(),
            spare_bufs: Vec::new(),
        }
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

    /// An empty read buffer (one a worker handed back, or a new one of `capacity`).
    pub(crate) fn take_buffer(&mut self, capacity: usize) -> Vec<u8> {
        match self.spare_bufs.pop() {
            Some(mut buf) => {
                // A buffer that once held a large frame must not keep that size outside the
                // in-flight budget while it waits to be reused.
                buf.shrink_to(capacity);
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
            Err(_) => Batch::new(),
        }
    }
}
