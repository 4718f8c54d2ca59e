//! [`RecordSource`]: a durable pull consumer that hands a stream's records to a logger tree
//! (contracts in the parent module).
//!
//! Budgets: a fetch asks for at most `batch` messages; the consumer has at most
//! `max_ack_pending` unacknowledged messages (what one source holds in memory and the server
//! redelivers after a crash); every payload larger than `max_message` is refused before it is
//! parsed, only a JSON object is parsed, and parsing is the collector's bounded
//! `RecordMapper` (depth, values, bytes). Logger names are bounded as in the collector
//! ([`MAX_REMOTE_LOGGERS`] nodes, names over [`MAX_REMOTE_NAME_LEN`] bytes make none). The
//! journal (see `journal`) is keyed on stream sequences above the consumer's ack floor.

use super::journal::Journal;
use crate::{ConnectionProblems, NatsConnect, NatsError};
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures_util::StreamExt;
use logwire_collector::receiver::{MAX_REMOTE_LOGGERS, MAX_REMOTE_NAME_LEN, escape_control};
use logwire_engine::LoggerTree;
use logwire_record::{Format, MapLimits, RecordMapper};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Settings of a [`RecordSource`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SourceOptions {
    /// Servers and credentials.
    pub connect: NatsConnect,
    /// The stream to read (it must exist; the source waits for it).
    pub stream: String,
    /// The durable consumer's name (created if missing: explicit acks, deliver all).
    pub durable: String,
    /// Where the journal of stored records lives; without one a restart forgets it and a
    /// redelivered record is stored again.
    pub state_dir: Option<PathBuf>,
    /// Messages per fetch.
    pub batch: usize,
    /// Unacknowledged messages the server lets this consumer have.
    pub max_ack_pending: i64,
    /// Largest message accepted, in bytes.
    pub max_message: usize,
    /// The record mapper's limits.
    pub map_limits: MapLimits,
}

impl SourceOptions {
    /// Options with defaults: batches of 256, 2048 pending, 1 MiB messages.
    pub fn new(
        connect: NatsConnect,
        stream: impl Into<String>,
        durable: impl Into<String>,
    ) -> Self {
        SourceOptions {
            connect,
            stream: stream.into(),
            durable: durable.into(),
            state_dir: None,
            batch: 256,
            max_ack_pending: 2048,
            max_message: 1 << 20,
            map_limits: MapLimits::default(),
        }
    }
}

/// Counters of a [`RecordSource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceStats {
    /// Messages fetched.
    pub received: u64,
    /// Records handed to the handlers (a message may carry several).
    pub stored: u64,
    /// Messages the journal knew (acked, not stored again).
    pub duplicates: u64,
    /// Records refused (a line that is not a record, or a whole message too large or
    /// empty): reported on stderr. A message none of whose lines is a record is terminated
    /// (left in the stream, not redelivered).
    pub rejected: u64,
    /// Journal write failures (acks withheld: the messages come back).
    pub journal_errors: u64,
    /// Stored sequences the journal forgot for its bound (a redelivery of one is stored again).
    pub forgotten: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    stored: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    journal_errors: AtomicU64,
    forgotten: AtomicU64,
}

/// A running stream source.
#[derive(Debug)]
pub struct RecordSource {
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), NatsError>>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters").finish_non_exhaustive()
    }
}

impl std::fmt::Display for SourceStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received={} stored={} duplicates={} rejected={} journal_errors={} forgotten={}",
            self.received,
            self.stored,
            self.duplicates,
            self.rejected,
            self.journal_errors,
            self.forgotten
        )
    }
}

/// What the blocking part of a batch owns (moved to a blocking thread and back).
struct Store {
    tree: LoggerTree,
    mapper: RecordMapper,
    journal: Journal,
    budget: usize,
}

impl RecordSource {
    /// Opens the journal and starts consuming on the current tokio runtime. The connection
    /// and the stream are waited for in the background.
    pub fn start(tree: LoggerTree, options: SourceOptions) -> Result<Self, NatsError> {
        for (what, name) in [("stream", &options.stream), ("durable", &options.durable)] {
            let ok = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(NatsError::Config(format!(
                    "{what} name {name:?}: 1 to 64 letters, digits, '-' or '_'"
                )));
            }
        }
        options.connect.check_files()?;
        let journal = match &options.state_dir {
            Some(d) => Journal::open(d, &format!("{}.{}", options.stream, options.durable))?,
            None => Journal::in_memory(),
        };
        let counters = Arc::new(Counters::default());
        let (stop, stop_rx) = watch::channel(false);
        let store = Store {
            tree,
            mapper: RecordMapper::new(options.map_limits.clone()),
            journal,
            budget: MAX_REMOTE_LOGGERS,
        };
        let task = tokio::spawn(run(options, store, Arc::clone(&counters), stop_rx));
        Ok(RecordSource {
            counters,
            stop,
            task,
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> SourceStats {
        let c = &self.counters;
        SourceStats {
            received: c.received.load(Ordering::Relaxed),
            stored: c.stored.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            journal_errors: c.journal_errors.load(Ordering::Relaxed),
            forgotten: c.forgotten.load(Ordering::Relaxed),
        }
    }

    /// Whether the source stopped by itself (an error it cannot recover from).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops after the batch in hand (stored, synced and acked) and returns the counters, or
    /// the error that stopped it earlier.
    pub async fn shutdown(self) -> Result<SourceStats, NatsError> {
        let _ = self.stop.send(true);
        let stats = self.stats();
        match self.task.await {
            Ok(Ok(())) => Ok(stats),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(NatsError::JetStream(format!("source task failed: {e}"))),
        }
    }
}

async fn run(
    options: SourceOptions,
    mut store: Store,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), NatsError> {
    let problems = ConnectionProblems::new("logwire nats source", |_| {});
    let client = options.connect.connect_reporting(Some(problems)).await?;
    let js = jetstream::new(client);
    let mut consumer = loop {
        match open_consumer(&js, &options).await {
            Ok(c) => break c,
            Err(e) => {
                eprintln!("logwire nats source: waiting for {}: {e}", options.stream);
                tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut delay = Duration::from_millis(50);
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let fetched = consumer
            .fetch()
            .max_messages(options.batch.max(1))
            .expires(Duration::from_millis(500))
            .messages()
            .await;
        let mut messages = match fetched {
            Ok(m) => m,
            Err(e) => {
                eprintln!("logwire nats source: fetch: {e}");
                tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let mut batch = Vec::new();
        while let Some(m) = messages.next().await {
            match m {
                Ok(m) => batch.push(m),
                Err(e) => {
                    eprintln!("logwire nats source: fetch: {e}");
                    break;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        delay = Duration::from_millis(50);
        counters
            .received
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let max_message = options.max_message;
        let counters2 = Arc::clone(&counters);
        let (back, batch, verdicts, committed) = tokio::task::spawn_blocking(move || {
            // The batch's output is kept in memory and written by the sync that ends it: one
            // write per handler, right before the journal's, so a kill between a record's
            // write and its journal line (a duplicate after redelivery) is a window of two
            // adjacent system calls, not of a whole batch.
            logwire_engine::batch_writes_on_this_thread(true);
            let verdicts = store_batch(&mut store, &batch, max_message, &counters2);
            logwire_engine::batch_writes_on_this_thread(false);
            counters2
                .forgotten
                .store(store.journal.forgotten(), Ordering::Relaxed);
            let committed = match store.journal.commit() {
                Ok(()) => true,
                Err(e) => {
                    counters2.journal_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "logwire nats source: cannot write the journal, withholding acks: {e}"
                    );
                    false
                }
            };
            (store, batch, verdicts, committed)
        })
        .await
        .map_err(|e| NatsError::JetStream(format!("store task failed: {e}")))?;
        store = back;
        if !committed {
            // The messages come back after ack_wait and are stored again: duplicates, not loss.
            continue;
        }
        for (m, keep) in batch.iter().zip(verdicts) {
            let kind = if keep { AckKind::Ack } else { AckKind::Term };
            if let Err(e) = m.ack_with(kind).await {
                // A lost ack means a redelivery, which the journal drops.
                eprintln!("logwire nats source: ack: {e}");
            }
        }
        // What the server has taken as acknowledged no longer needs remembering.
        if let Ok(info) = consumer.info().await {
            store.journal.raise_floor(info.ack_floor.stream_sequence);
        }
    }
}

async fn open_consumer(
    js: &jetstream::Context,
    options: &SourceOptions,
) -> Result<PullConsumer, String> {
    let stream = js
        .get_stream(&options.stream)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .get_or_create_consumer(
            &options.durable,
            jetstream::consumer::pull::Config {
                durable_name: Some(options.durable.clone()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                // A consumer killed mid-batch holds its messages this long; a redelivery that
                // overtakes a slow sync is dropped by the journal.
                ack_wait: Duration::from_secs(10),
                max_ack_pending: options.max_ack_pending,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// Stores a batch: returns per message whether it is acked (stored or known) or terminated
/// (refused). Ends with the handlers' `sync()`; if that fails, returns no verdict at all
/// (nothing is acked: the batch comes back).
fn store_batch(
    store: &mut Store,
    batch: &[jetstream::Message],
    max_message: usize,
    counters: &Counters,
) -> Vec<bool> {
    let mut verdicts = Vec::with_capacity(batch.len());
    let mut stored = 0;
    for m in batch {
        let stream_seq = m.info().map_or(0, |i| i.stream_sequence);
        if !store.journal.note(stream_seq) {
            // Stored (or refused) before: acked again, not stored twice.
            counters.duplicates.fetch_add(1, Ordering::Relaxed);
            verdicts.push(true);
            continue;
        }
        if m.payload.len() > max_message {
            reject(
                counters,
                stream_seq,
                "",
                &format!(
                    "{} bytes, over the {max_message}-byte limit",
                    m.payload.len()
                ),
            );
            verdicts.push(false);
            continue;
        }
        // One record per line (a publisher batch), or one object: each line is judged on
        // its own, so one bad line costs only itself. A message none of whose lines is a
        // record is refused.
        let (mut kept, mut refused) = (0u64, Vec::new());
        for (i, line) in records_of(&m.payload).enumerate() {
            if !payload_is_json_object(line) {
                refused.push((i, "not a JSON object".to_owned()));
                continue;
            }
            let record = match store.mapper.map(line, Format::Json) {
                Ok(r) => r,
                Err(e) => {
                    refused.push((i, e.to_string()));
                    continue;
                }
            };
            let logger = if record.name.len() <= MAX_REMOTE_NAME_LEN {
                store
                    .tree
                    .get_logger_within(&record.name, &mut store.budget)
            } else {
                None
            }
            .unwrap_or_else(|| store.tree.nearest_logger(&record.name));
            logger.handle(&record);
            kept += 1;
        }
        // Each refused line is counted; the first few of a message are described, the rest
        // summed up (a 1 MiB message of junk lines would otherwise print half a million).
        for (line, why) in refused.iter().take(REFUSALS_DESCRIBED) {
            let place = if kept + refused.len() as u64 > 1 {
                format!(" line {}", line + 1)
            } else {
                String::new()
            };
            reject(counters, stream_seq, &place, why);
        }
        if let Some(more) = refused
            .len()
            .checked_sub(REFUSALS_DESCRIBED)
            .filter(|&n| n > 0)
        {
            counters.rejected.fetch_add(more as u64, Ordering::Relaxed);
            eprintln!(
                "logwire nats source: message {stream_seq}: {more} more line(s) refused (not records)"
            );
        }
        if kept == 0 && refused.is_empty() {
            reject(counters, stream_seq, "", "no record in it (empty)");
        }
        stored += kept;
        verdicts.push(kept > 0);
    }
    if stored > 0 {
        if !store.tree.sync() {
            // The handlers could not confirm the batch: nothing of it is acked or journaled,
            // so the server redelivers it (after `ack_wait`) and it is stored again.
            store.journal.abandon();
            eprintln!(
                "logwire nats source: the outputs could not confirm a batch of {} message(s); \
                 not acknowledged, the server delivers it again",
                batch.len()
            );
            return Vec::new();
        }
        counters.stored.fetch_add(stored, Ordering::Relaxed);
    }
    verdicts
}

/// Refused lines of one message described one by one on stderr; the others are counted.
const REFUSALS_DESCRIBED: usize = 3;

/// The records of a message: its lines, without empty ones (a trailing newline, or `\r\n`
/// line ends, are not records). JSON text has no raw line break inside a value, so a line
/// is a whole object or garbage.
fn records_of(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    payload
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// JSON only: the stream is records as JSON, and the mapper also reads pickles.
fn payload_is_json_object(p: &[u8]) -> bool {
    p.first() == Some(&b'{')
}

/// Counts and reports a refused record (`place`: " line N" of a batch, or empty).
fn reject(counters: &Counters, stream_seq: u64, place: &str, why: &str) {
    counters.rejected.fetch_add(1, Ordering::Relaxed);
    eprintln!(
        "logwire nats source: message {stream_seq}{place} refused (left in the stream, not redelivered): {}",
        escape_control(why, false)
    );
}
