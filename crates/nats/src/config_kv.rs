//! Config pushes through a JetStream key-value bucket: one signed `LWC1` frame, every
//! listener.
//!
//! # Channel
//! A target is `nats://[USER:PASS@|TOKEN@]HOST[:PORT]/BUCKET/KEY` ([`KvTarget`]). The sender
//! ([`push_config`]) puts the frame body (the `LWC1` envelope, without the socket's 4-byte
//! length prefix) as the key's next revision; the bucket is created when missing (file
//! storage, [`BUCKET_HISTORY`] revisions kept, values capped at
//! [`logwire_listener::DEFAULT_MAX_CONFIG_BYTES`]). Each listener
//! ([`KvConfigListener`]) watches the key and hands every new revision to the socket
//! listener's own gate ([`logwire_listener::ConfigGate`]): signature, time window,
//! audience, seq ratchet, content policy, atomic apply, persisted ratchet — the checks of a
//! socket push, in the same code.
//!
//! # Replies
//! After each revision a listener publishes one JSON object ([`ListenerReply`]: `listener`,
//! `audience`, `status`, `reason`, `seq`, `revision`) on core NATS subject
//! `logwire.config.reply.<BUCKET>.<KEY>` ([`reply_subject`]). The sender subscribes before
//! its put and keeps the replies that name its revision, one per listener name. Replies are
//! reports, not proofs: anyone allowed to publish there can forge one, so restrict that
//! subject with NATS permissions where it matters. The config itself is only ever trusted
//! for its signature.
//!
//! # Late starters, reconnects, replays
//! The watcher starts at the key's latest revision (`DeliverPolicy::LastPerSubject`), so a
//! listener that starts after a push applies the latest value once; after a reconnect it
//! skips revisions it has already processed. A replayed old frame (someone re-puts old
//! bytes) is a new revision whose seq is not above the ratchet: rejected, and reported.
//!
//! # Bounds
//! A value is bounded before it reaches the client by the bucket's max value size (1 MiB,
//! set at creation) and the server's `max_payload`, and checked again against the listener's
//! cap before the gate runs. A reply is read only up to [`MAX_REPLY_BYTES`] and at most
//! [`MAX_REPLIES`] listeners are tracked per push. The watcher reconnects with a doubling
//! backoff ([`MIN_BACKOFF`] to [`MAX_BACKOFF`]); every NATS failure is an event, never a panic.

mod connect;
mod error;
mod listener;
mod push;
mod reply;
mod target;

use crate::NatsConnect;
pub use error::ConfigKvError;
pub use listener::{KvConfigListener, KvEvent, KvListenerHandle, MAX_BACKOFF, MIN_BACKOFF};
pub use push::{PushReport, push_config};
pub use reply::{ListenerReply, MAX_REPLIES, MAX_REPLY_BYTES, ReplyError, reply_subject};
pub use target::KvTarget;

/// Revisions a bucket created by logwire keeps (for inspection; listeners use the latest).
pub const BUCKET_HISTORY: i64 = 5;
