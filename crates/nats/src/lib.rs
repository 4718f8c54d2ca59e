//! Records and config pushes through NATS JetStream.
//!
//! Two halves, one concern each: `records` (the `logwire.NATSHandler` kind that publishes
//! records as JSON with end-to-end acknowledgement, and the durable pull consumer behind
//! `serve --nats-source`) and `config_kv` (signed `LWC1` frames in a JetStream key-value
//! bucket: `send-config --to nats://…` and `serve --listen nats://…`). Both connect through
//! [`NatsConnect`].
//!
//! ```no_run
//! use logwire_config::HandlerRegistry;
//! // The CLI composes its registry this way, so `serve --config` and pushed configs both
//! // know `logwire.NATSHandler`.
//! let mut registry = HandlerRegistry::with_builtins();
//! logwire_nats::register(&mut registry);
//! ```

mod config_kv;
mod connect;
mod records;

pub use config_kv::{
    BUCKET_HISTORY, ConfigKvError, KvConfigListener, KvEvent, KvListenerHandle, KvTarget,
    ListenerReply, MAX_BACKOFF, MAX_REPLIES, MAX_REPLY_BYTES, MIN_BACKOFF, PushReport, ReplyError,
    push_config, reply_subject,
};
pub use connect::{ConnectionProblems, DEFAULT_PORT, MAX_CREDENTIAL_FILE, NatsConnect, host_port};
pub use records::{
    DEFAULT_BATCH_RECORDS, DEFAULT_BUFFER_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_MESSAGE,
    HANDLER_CLASS, JournalError, MsgId, NatsHandler, NatsHandlerOptions, NatsHandlerStats,
    RecordSource, SourceOptions, SourceStats, SubjectError, SubjectTemplate, record_json, register,
    write_record_json,
};

/// Why a NATS handler, source or config channel could not be set up or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// A setting is invalid (a server URL, a subject, a credentials file).
    #[error("{0}")]
    Config(String),
    /// The client could not be set up.
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    /// A JetStream request failed (stream or consumer lookup, creation, fetch).
    #[error("JetStream: {0}")]
    JetStream(String),
    /// The consumer's journal of stored records failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A subject template was refused.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// A message on a reply subject is not a listener's reply.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// A key-value config push or listener failed.
    #[error(transparent)]
    ConfigKv(#[from] ConfigKvError),
}
