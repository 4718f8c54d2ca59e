//! The wire layer of logwire: framing, the signed `LWC1` config and `LWR1` record
//! envelopes, acknowledgements, and key files.
//!
//! Everything here is pure logic over byte slices (no sockets): the network layer reads
//! bytes, hands them to these parsers, and writes what these encoders produce. Every parser
//! is bounded, never panics on hostile input, and verifies signatures *before* anything
//! looks at a payload.
//!
//! - framing: the 4-byte big-endian length prefix CPython uses ([`encode_frame`],
//!   [`read_frame`]), with a bounded incremental [`FrameDecoder`].
//! - keys: key files (`<kind>:<base64>`), key ids, generation, 0600 writing ([`KeyRing`],
//!   [`read_key_file`], [`generate_ed25519`]).
//! - `LWC1` signed configs (Ed25519 or HMAC-SHA256), with the design's check order, time
//!   window and audience ([`sign_config`], [`ConfigVerifier`]).
//! - `LWR1` HMAC-sealed records and replay windows ([`seal_record`], [`open_record`],
//!   [`ReplayTracker`]).
//! - acks: record acks (`LWA1`, [`RecordAck`]) and the JSON config reply ([`ConfigReply`]).
//!
//! # One path per name
//! Every public item is re-exported here, at the crate root, and nowhere else; the modules
//! are private. The constants both envelopes have (magic, header length, signing context)
//! carry a `CONFIG_`/`RECORD_` prefix here. One namespace is public on purpose:
//! [`state_file`], the few helpers for the private files under a state directory, which a
//! user rarely needs and whose names (`read_small`, `private_file`) read well only qualified.
//!
//! ```
//! use logwire_wire::{ConfigVerifier, FixedClock, KeyRing, generate_ed25519, sign_config};
//!
//! let signer = generate_ed25519().unwrap();
//! let mut ring = KeyRing::new();
//! ring.insert(signer.verify_key());
//!
//! let now = 1_763_750_000_000;
//! let env = sign_config(&signer, 1, now, now + 60_000, None, b"{}").unwrap();
//! let clock = FixedClock(now);
//! let verified = ConfigVerifier::new(&ring, &clock).verify(&env).unwrap();
//! assert_eq!(verified.payload, b"{}");
//! ```
#![forbid(unsafe_code)]

mod ack;
mod config_envelope;
mod frame;
mod frame_io;
mod key;
mod record_envelope;
pub mod state_file;

mod hex;

pub use ack::{
    AckError, ConfigReply, ConfigStatus, MAX_CONFIG_REPLY_BYTES, MAX_REASON_BYTES, RECORD_ACK_LEN,
    RECORD_ACK_MAGIC, RecordAck,
};
pub use config_envelope::{
    Audience, AudienceLabel, ConfigEnvelope, ConfigVerifier, EnvelopeClock, EnvelopeError,
    FixedClock, HEADER_LEN as CONFIG_HEADER_LEN, MAGIC as CONFIG_MAGIC,
    MAX_FUTURE_SKEW_MS as MAX_CONFIG_FUTURE_SKEW_MS, MAX_LIFETIME_MS as MAX_CONFIG_LIFETIME_MS,
    SIGNING_CONTEXT as CONFIG_SIGNING_CONTEXT, SeqRatchet, SystemEnvelopeClock, VerifiedConfig,
    is_config_envelope, sign_config, sign_config_frame, sign_config_to, verify_config,
};
pub use frame::{
    FrameDecoder, FrameError, FrameHeader, FrameScan, PREFIX_LEN, check_length, encode_frame,
    payloads, peek_length, scan_frames, split_datagram, try_encode_frame,
};
pub use frame_io::{FrameReadError, read_frame};
pub use key::{
    Alg, GENERATED_HMAC_KEY_LEN, HmacKey, KeyError, KeyId, KeyRing, MAX_HMAC_KEY_LEN,
    MAX_KEY_FILE_BYTES, MIN_HMAC_KEY_LEN, SigningKey, VerifyKey, generate_ed25519, generate_hmac,
    read_key_file, write_key_file,
};
pub use record_envelope::{
    Epoch, FLAG_ACK_REQUESTED, HEADER_LEN as RECORD_HEADER_LEN, MAGIC as RECORD_MAGIC,
    PayloadFormat, REPLAY_WINDOW, RecordEnvelope, RecordError, RecordKeys, ReplayTracker,
    ReplayVerdict, ReplayWindow, SIGNING_CONTEXT as RECORD_SIGNING_CONTEXT,
    TAG_LEN as RECORD_TAG_LEN, TagChecked, WindowState, is_record_envelope, open_checked,
    open_record, seal_record, seal_record_frame,
};
