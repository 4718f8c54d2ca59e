//! Records through JetStream: the `logwire.NATSHandler` kind (publisher) and the durable pull
//! consumer behind `serve --nats-source` (source).
//!
//! # Publisher ([`NatsHandler`])
//! * Each record becomes one JSON object with CPython's `LogRecord` attribute names (see
//!   [`record_json`]), published to a subject made from a [`SubjectTemplate`] (`{name}`,
//!   `{levelname}`). A message holds one record, or — for unsigned records, when several
//!   for one subject are queued before the worker sends — up to `batch_records` of them, one JSON object
//!   per line (NDJSON: `[json.loads(l) for l in m.data.splitlines()]` in Python; Vector's
//!   `newline_delimited` framing). `Nats-Msg-Id` comes from the records' identity ([`MsgId`]):
//!   a signed record's key id, epoch and seq (read from `logwire_engine::origin`, which the
//!   collector sets; a signed record is always a message of its own), otherwise this
//!   handler's random instance id and the sequence of the message's first record, with
//!   `+<count>` for a batch. JetStream drops a message whose id it stored within the stream's
//!   duplicate window (2 minutes by default): a signed record resent after a collector
//!   restart, or any message republished after a lost ack, is stored once.
//! * Publishes are asynchronous, at most `max_in_flight` awaiting their ack; a failed or timed
//!   out publish is retried with the same id, forever (never dropped).
//! * `emit` only queues: records wait in a buffer bounded in **bytes** (their JSON), counted
//!   from `emit` until JetStream acknowledged them. When it is full — NATS unreachable, or
//!   slower than the senders — `emit` blocks (counted in [`NatsHandlerStats::blocked`]): the
//!   collector's dispatcher stops, its queue fills and the senders are slowed. Nothing is
//!   dropped; a record larger than `max_message` is refused at `emit` with an error (reported
//!   by `handleError` and counted), never queued.
//! * `sync()` returns once every record emitted before it was acknowledged by JetStream. The
//!   collector calls it before sending `LWA1` acks, so a signed sender's record is acknowledged
//!   only when it is in the stream; after a drain of unsigned records it calls `hand_off()`,
//!   which does not wait (many drains in flight instead of one round trip each). `close()` waits up to `close_timeout` for the rest and
//!   reports on stderr how many records it could not deliver.
//!
//! # Source ([`RecordSource`])
//! A durable pull consumer (explicit acks, `max_ack_pending` bounded) fetches batches, maps
//! each line of a message (one JSON object each) with the collector's bounded `RecordMapper`
//! (the payload is capped at `max_message` bytes first), skips messages its journal says were stored, hands the rest to
//! the tree, calls the handlers' `sync()`, commits the journal, and only then acks the
//! messages. A consumer killed after storing and before acking gets those messages again and
//! its journal drops them; see `journal` for the one remaining window.

mod journal;
mod json;
mod kind;
mod publisher;
mod source;
mod subject;

pub use journal::JournalError;
pub use json::{MsgId, record_json, write_record_json};
pub use kind::{HANDLER_CLASS, register};
pub use publisher::{
    DEFAULT_BATCH_RECORDS, DEFAULT_BUFFER_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_MESSAGE,
    NatsHandler, NatsHandlerOptions, NatsHandlerStats,
};
pub use source::{RecordSource, SourceOptions, SourceStats};
pub use subject::{SubjectError, SubjectTemplate};
