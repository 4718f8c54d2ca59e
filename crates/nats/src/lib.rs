//! Records and config pushes through NATS JetStream.
//!
//! Two halves, one concern each: `records` (the `logwire.NATSHandler` kind that publishes
//! records as JSON with end-to-end acknowledgement, and the durable pull consumer behind
//! `serve --nats-source`) and `config_kv` (signed `LWC1` frames in a JetStream key-value
//! bucket: `send-config --to nats://…` and `serve --listen nats://…`).

mod config_kv;
mod records;

pub use config_kv::{
    BUCKET_HISTORY, ConfigKvError, KvConfigListener, KvEvent, KvListenerHandle, KvTarget,
    ListenerReply, MAX_BACKOFF, MAX_REPLIES, MAX_REPLY_BYTES, MIN_BACKOFF, NatsConnect, PushReport,
    push_config, reply_subject,
};
