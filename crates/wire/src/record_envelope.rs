//! The HMAC-sealed record envelope `LWR1`, and replay windows.
//!
//! ```text
//! off  len  field
//! 0    4    magic "LWR1"
//! 4    1    alg: 2 = HMAC-SHA256
//! 5    1    payload format: 1 = pickle record dict, 2 = JSON object
//! 6    1    flags: bit 0 = ack requested; other bits zero
//! 7    1    reserved, zero
//! 8    8    key_id
//! 16   16   epoch          random per sender start
//! 32   8    seq            u64 BE, 1, 2, 3 … within an epoch
//! 40   4    N              u32 BE
//! 44   N    payload
//! 44+N 32   tag = HMAC-SHA256(key, b"logwire/record/v1\0" || bytes[0 .. 44+N])
//! ```
//!
//! [`open_record`] checks the header, finds the key, checks the exact length and the tag
//! (constant time) before returning the payload. Replays are the receiver's business via
//! [`ReplayTracker`]: per (key_id, epoch) the highest seq and a sliding window of seen seqs
//! (in the `replay` submodule: the format here is stateless, the replay state is not).
//!
//! ```
//! use logwire_wire::{open_record, seal_record, Epoch, PayloadFormat, KeyRing, ReplayTracker, ReplayVerdict, generate_hmac};
//!
//! let key = generate_hmac().unwrap();
//! let ring: KeyRing = [key.verify_key()].into_iter().collect();
//! let epoch = Epoch::random();
//! let env = seal_record(&key, epoch, 1, PayloadFormat::Json, true, br#"{"msg":"hi"}"#).unwrap();
//!
//! let rec = open_record(&env, &ring).unwrap();
//! assert!(rec.ack_requested);
//! let mut replay = ReplayTracker::new(16);
//! assert_eq!(replay.mark(rec.key_id, rec.epoch, rec.seq), ReplayVerdict::New);
//! assert_eq!(replay.mark(rec.key_id, rec.epoch, rec.seq), ReplayVerdict::Duplicate);
//! ```

use std::fmt;

use crate::frame;
use crate::hex;
use crate::key::{Alg, KeyId, KeyRing, SigningKey};

mod replay;

pub use replay::{REPLAY_WINDOW, ReplayTracker, ReplayVerdict, ReplayWindow, WindowState};

/// The magic bytes.
pub const MAGIC: [u8; 4] = *b"LWR1";
/// Fixed header length before the payload.
pub const HEADER_LEN: usize = 44;
/// HMAC-SHA256 tag length.
pub const TAG_LEN: usize = 32;
/// Domain separation prefixed to the MACed bytes.
pub const SIGNING_CONTEXT: &[u8] = b"logwire/record/v1\0";
/// Flag bit: the sender asks for an `LWA1` ack.
pub const FLAG_ACK_REQUESTED: u8 = 0x01;

/// True if `bytes` starts with the `LWR1` magic.
pub fn is_record_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// A sender epoch: 16 random bytes chosen at each sender start.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(pub [u8; 16]);

impl Epoch {
    /// A fresh random epoch.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        hex::parse_hex::<16>(s).map(Self)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write_hex(f, &self.0)
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Epoch({self})")
    }
}

/// What the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// A pickled record dict (wire value 1).
    Pickle,
    /// A JSON object (wire value 2).
    Json,
}

impl PayloadFormat {
    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            PayloadFormat::Pickle => 1,
            PayloadFormat::Json => 2,
        }
    }

    /// Decodes a wire byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(PayloadFormat::Pickle),
            2 => Some(PayloadFormat::Json),
            _ => None,
        }
    }
}

/// Why a record envelope was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Does not start with `LWR1`.
    #[error("not an LWR1 envelope (bad magic)")]
    BadMagic,
    /// Shorter than the fixed 44-byte header.
    #[error("record envelope of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    Truncated {
        /// Envelope length.
        len: usize,
    },
    /// The alg byte is not 2 (records are HMAC-SHA256 only).
    #[error("unsupported record algorithm {0} (only 2 = HMAC-SHA256)")]
    UnknownAlg(u8),
    /// The payload format byte is not 1 or 2.
    #[error("unknown record payload format {0}")]
    UnknownFormat(u8),
    /// Flag bits other than bit 0 are set.
    #[error("reserved flag bits set: {0:#04x}")]
    ReservedFlags(u8),
    /// The reserved byte is not zero.
    #[error("reserved header byte is not zero")]
    ReservedNonZero,
    /// No key with this id.
    #[error("unknown key id {key_id}")]
    UnknownKey {
        /// The frame's key id.
        key_id: KeyId,
    },
    /// The key with this id is not an HMAC key.
    #[error("key {key_id} is a {key_alg} key; records need an HMAC-SHA256 key")]
    AlgMismatch {
        /// The frame's key id.
        key_id: KeyId,
        /// Algorithm of the key.
        key_alg: Alg,
    },
    /// The envelope is not exactly `44 + N + 32` bytes.
    #[error("record envelope length {actual} does not match the expected {expected} bytes")]
    BadLength {
        /// `44 + N + 32`.
        expected: u64,
        /// Actual length.
        actual: usize,
    },
    /// The tag does not verify.
    #[error("bad record tag")]
    BadTag,
    /// Seq 0 (seqs start at 1).
    #[error("record seq 0 is invalid (seqs start at 1)")]
    ZeroSeq,
    /// Sealing: the key is not an HMAC key.
    #[error("records are sealed with an HMAC key, not {0}")]
    NotHmacKey(Alg),
    /// Sealing: payload too large for the 32-bit length.
    #[error("payload of {len} bytes is too large for an envelope")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
    },
}

/// A record envelope whose tag verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordEnvelope<'a> {
    /// The sender key's id.
    pub key_id: KeyId,
    /// The sender's epoch.
    pub epoch: Epoch,
    /// Seq within the epoch (≥ 1).
    pub seq: u64,
    /// Payload format.
    pub format: PayloadFormat,
    /// The sender asked for an ack.
    pub ack_requested: bool,
    /// The payload bytes.
    pub payload: &'a [u8],
}

/// Checks an `LWR1` envelope (without the length prefix) and returns its fields.
pub fn open_record<'a>(bytes: &'a [u8], keys: &KeyRing) -> Result<RecordEnvelope<'a>, RecordError> {
    if bytes.len() < 4 || bytes[..4] != MAGIC {
        return Err(if !bytes.is_empty() && MAGIC.starts_with(bytes) {
            RecordError::Truncated { len: bytes.len() }
        } else {
            RecordError::BadMagic
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(RecordError::Truncated { len: bytes.len() });
    }
    if bytes[4] != Alg::HmacSha256.to_byte() {
        return Err(RecordError::UnknownAlg(bytes[4]));
    }
    let format = PayloadFormat::from_byte(bytes[5]).ok_or(RecordError::UnknownFormat(bytes[5]))?;
    let flags = bytes[6];
    if flags & !FLAG_ACK_REQUESTED != 0 {
        return Err(RecordError::ReservedFlags(flags));
    }
    if bytes[7] != 0 {
        return Err(RecordError::ReservedNonZero);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[8..16]);
    let key_id = KeyId(id);
    let key = keys
        .get(&key_id)
        .ok_or(RecordError::UnknownKey { key_id })?;
    if key.alg() != Alg::HmacSha256 {
        return Err(RecordError::AlgMismatch {
            key_id,
            key_alg: key.alg(),
        });
    }
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[40..44]);
    let n = u32::from_be_bytes(n);
    let expected = HEADER_LEN as u64 + u64::from(n) + TAG_LEN as u64;
    if expected != bytes.len() as u64 {
        return Err(RecordError::BadLength {
            expected,
            actual: bytes.len(),
        });
    }
    let (signed, tag) = bytes.split_at(HEADER_LEN + n as usize);
    if !key.verify_parts(SIGNING_CONTEXT, signed, tag) {
        return Err(RecordError::BadTag);
    }
    let mut epoch = [0u8; 16];
    epoch.copy_from_slice(&bytes[16..32]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[32..40]);
    let seq = u64::from_be_bytes(seq);
    if seq == 0 {
        return Err(RecordError::ZeroSeq);
    }
    Ok(RecordEnvelope {
        key_id,
        epoch: Epoch(epoch),
        seq,
        format,
        ack_requested: flags & FLAG_ACK_REQUESTED != 0,
        payload: &signed[HEADER_LEN..],
    })
}

/// Builds and MACs an `LWR1` envelope (without the length prefix).
pub fn seal_record(
    key: &SigningKey,
    epoch: Epoch,
    seq: u64,
    format: PayloadFormat,
    ack_requested: bool,
    payload: &[u8],
) -> Result<Vec<u8>, RecordError> {
    let SigningKey::Hmac(_) = key else {
        return Err(RecordError::NotHmacKey(key.alg()));
    };
    if seq == 0 {
        return Err(RecordError::ZeroSeq);
    }
    let n = u32::try_from(payload.len())
        .ok()
        .filter(|n| (*n as usize) <= u32::MAX as usize - HEADER_LEN - TAG_LEN)
        .ok_or(RecordError::PayloadTooLarge { len: payload.len() })?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TAG_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(Alg::HmacSha256.to_byte());
    out.push(format.to_byte());
    out.push(if ack_requested { FLAG_ACK_REQUESTED } else { 0 });
    out.push(0);
    out.extend_from_slice(&key.key_id().0);
    out.extend_from_slice(&epoch.0);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(payload);
    let tag = key.sign_parts(SIGNING_CONTEXT, &out);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// As [`seal_record`], with the 4-byte length prefix in front (also the datagram form).
pub fn seal_record_frame(
    key: &SigningKey,
    epoch: Epoch,
    seq: u64,
    format: PayloadFormat,
    ack_requested: bool,
    payload: &[u8],
) -> Result<Vec<u8>, RecordError> {
    let env = seal_record(key, epoch, seq, format, ack_requested, payload)?;
    frame::try_encode_frame(&env).map_err(|_| RecordError::PayloadTooLarge { len: payload.len() })
}
