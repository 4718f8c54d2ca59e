//! The wire layer of logwire: framing, the signed `LWC1` config and `LWR1` record
//! envelopes, acknowledgements, and key files.
//!
//! Everything here is pure logic over byte slices (no sockets): the network layer reads
//! bytes, hands them to these parsers, and writes what these encoders produce. Every parser
//! is bounded, never panics on hostile input, and verifies signatures *before* anything
//! looks at a payload.
//!
//! - [`frame`]: the 4-byte big-endian length prefix CPython uses, with a bounded
//!   incremental [`FrameDecoder`].
//! - [`key`]: key files (`<kind>:<base64>`), key ids, generation, 0600 writing.
//! - [`config_envelope`]: `LWC1` signed configs (Ed25519 or HMAC-SHA256), with the
//!   design's check order, time window and audience.
//! - [`record_envelope`]: `LWR1` HMAC-sealed records and replay windows.
//! - [`ack`]: record acks (`LWA1`) and the JSON config reply.
//!
//! ```
//! use logwire_wire::{config_envelope, key, ConfigVerifier, FixedClock, KeyRing};
//!
//! let signer = key::generate_ed25519().unwrap();
//! let mut ring = KeyRing::new();
//! ring.insert(signer.verify_key());
//!
//! let now = 1_763_750_000_000;
//! let env = config_envelope::sign_config(&signer, 1, now, now + 60_000, None, b"{}").unwrap();
//! let clock = FixedClock(now);
//! let verified = ConfigVerifier::new(&ring, &clock).verify(&env).unwrap();
//! assert_eq!(verified.payload, b"{}");
//! ```
#![forbid(unsafe_code)]

pub mod ack;
pub mod config_envelope;
pub mod frame;
mod frame_io;
pub mod key;
pub mod record_envelope;
pub mod state_file;

mod hex;

pub use ack::{AckError, ConfigReply, ConfigStatus, RecordAck};
pub use config_envelope::{
    Audience, ConfigEnvelope, ConfigVerifier, EnvelopeClock, EnvelopeError, FixedClock, SeqRatchet,
    SystemEnvelopeClock, VerifiedConfig,
};
pub use frame::{FrameDecoder, FrameError, FrameHeader};
pub use frame_io::{FrameReadError, read_frame};
pub use key::{Alg, HmacKey, KeyError, KeyId, KeyRing, SigningKey, VerifyKey};
pub use record_envelope::{
    Epoch, PayloadFormat, RecordEnvelope, RecordError, ReplayTracker, ReplayVerdict, ReplayWindow,
    WindowState,
};
