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
//! (constant time) before returning the payload. [`RecordKeys`] does the same with each key
//! keyed once (for a receiver checking many records), and splits the check in two when the
//! tag is verified on one thread and the record read on another: [`RecordKeys::check_tag`]
//! returns a [`TagChecked`] that [`open_checked`] takes instead of computing the MAC again.
//! Replays are the receiver's business via [`ReplayTracker`]: per (key_id, epoch) the highest
//! seq and a sliding window of seen seqs (in the `replay` submodule: the format here is
//! stateless, the replay state is not).
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

use std::collections::HashMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::frame;
use crate::hex;
use crate::key::{Alg, KeyId, KeyRing, SigningKey, VerifyKey};

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
#[non_exhaustive]
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
///
/// Keys the HMAC anew for each call; to check many records with the same keys, build
/// [`RecordKeys`] once and use [`RecordKeys::open`] (the same checks, the same errors).
pub fn open_record<'a>(bytes: &'a [u8], keys: &KeyRing) -> Result<RecordEnvelope<'a>, RecordError> {
    let head = parse_header(bytes)?;
    let key = keys.get(&head.key_id).ok_or(RecordError::UnknownKey {
        key_id: head.key_id,
    })?;
    if key.alg() != Alg::HmacSha256 {
        return Err(RecordError::AlgMismatch {
            key_id: head.key_id,
            key_alg: key.alg(),
        });
    }
    let (signed, tag) = split_tag(bytes, &head)?;
    if !key.verify_parts(SIGNING_CONTEXT, signed, tag) {
        return Err(RecordError::BadTag);
    }
    envelope(bytes, &head)
}

/// The fixed header's checked fields (everything but the tag, the epoch and the seq).
struct Header {
    key_id: KeyId,
    format: PayloadFormat,
    flags: u8,
    /// The payload length `N`.
    n: u32,
}

/// Checks magic, algorithm, format, flags and the reserved byte, in that order.
fn parse_header(bytes: &[u8]) -> Result<Header, RecordError> {
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
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[40..44]);
    Ok(Header {
        key_id: KeyId(id),
        format,
        flags,
        n: u32::from_be_bytes(n),
    })
}

/// Checks the exact length `44 + N + 32` and splits off the tag.
fn split_tag<'a>(bytes: &'a [u8], head: &Header) -> Result<(&'a [u8], &'a [u8]), RecordError> {
    let expected = HEADER_LEN as u64 + u64::from(head.n) + TAG_LEN as u64;
    if expected != bytes.len() as u64 {
        return Err(RecordError::BadLength {
            expected,
            actual: bytes.len(),
        });
    }
    Ok(bytes.split_at(HEADER_LEN + head.n as usize))
}

/// The envelope of a record whose header, length and tag were checked.
fn envelope<'a>(bytes: &'a [u8], head: &Header) -> Result<RecordEnvelope<'a>, RecordError> {
    let mut epoch = [0u8; 16];
    epoch.copy_from_slice(&bytes[16..32]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[32..40]);
    let seq = u64::from_be_bytes(seq);
    if seq == 0 {
        return Err(RecordError::ZeroSeq);
    }
    Ok(RecordEnvelope {
        key_id: head.key_id,
        epoch: Epoch(epoch),
        seq,
        format: head.format,
        ack_requested: head.flags & FLAG_ACK_REQUESTED != 0,
        payload: &bytes[HEADER_LEN..HEADER_LEN + head.n as usize],
    })
}

/// The keys of a [`KeyRing`] made ready for checking many records: each HMAC key is keyed
/// once, with [`SIGNING_CONTEXT`] absorbed, and that state is cloned per record.
///
/// Why: keying HMAC-SHA256 costs two SHA-256 compressions (the inner and outer key blocks),
/// of the ~16 a 700-byte record takes; a collector checks every record with one of a few
/// keys. The ring is copied: a key removed from the ring later is still here (build anew
/// after a change). Holds key material (the keyed states): never printed by `Debug`.
#[derive(Clone, Default)]
pub struct RecordKeys {
    keys: HashMap<KeyId, ReadyKey>,
}

#[derive(Clone)]
enum ReadyKey {
    /// Keyed, with the context absorbed.
    Hmac(Hmac<Sha256>),
    /// A key of another algorithm (records refuse it with [`RecordError::AlgMismatch`]).
    Other(Alg),
}

/// Proof that [`RecordKeys::check_tag`] verified the tag of an envelope of this length:
/// [`open_checked`] then reads its fields without computing the MAC again. Only
/// `check_tag` makes one.
///
/// Why: a collector verifies tags on the task that read the bytes (spread over its
/// connections' threads) and decodes the records on its dispatcher thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagChecked {
    len: u32,
}

impl RecordKeys {
    /// Keys every HMAC key of `ring` once.
    pub fn new(ring: &KeyRing) -> Self {
        let keys = ring
            .iter()
            .map(|(id, key)| {
                let ready = match key {
                    VerifyKey::Hmac(k) => {
                        // HMAC takes keys of any length; the error branch cannot happen.
                        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(k.as_bytes())
                            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
                        mac.update(SIGNING_CONTEXT);
                        ReadyKey::Hmac(mac)
                    }
                    other => ReadyKey::Other(other.alg()),
                };
                (*id, ready)
            })
            .collect();
        RecordKeys { keys }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// As [`open_record`] with the ring these keys came from: the same checks, in the same
    /// order, with the same errors.
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<RecordEnvelope<'a>, RecordError> {
        let (head, _) = self.verify(bytes)?;
        envelope(bytes, &head)
    }

    /// Checks the header, the key, the length and the tag (constant time) of an envelope, not
    /// its seq; [`open_checked`] reads the rest. Every error [`RecordKeys::open`] can return
    /// but [`RecordError::ZeroSeq`].
    pub fn check_tag(&self, bytes: &[u8]) -> Result<TagChecked, RecordError> {
        let (_, len) = self.verify(bytes)?;
        Ok(TagChecked { len })
    }

    fn verify(&self, bytes: &[u8]) -> Result<(Header, u32), RecordError> {
        let head = parse_header(bytes)?;
        let key_id = head.key_id;
        let mac = match self.keys.get(&key_id) {
            None => return Err(RecordError::UnknownKey { key_id }),
            Some(ReadyKey::Other(key_alg)) => {
                return Err(RecordError::AlgMismatch {
                    key_id,
                    key_alg: *key_alg,
                });
            }
            Some(ReadyKey::Hmac(mac)) => mac,
        };
        let (signed, tag) = split_tag(bytes, &head)?;
        let mut mac = mac.clone();
        mac.update(signed);
        if mac.verify_slice(tag).is_err() {
            return Err(RecordError::BadTag);
        }
        // The exact length was checked: 44 + N + 32 with N a u32 fits a u32 only if it does.
        let len = u32::try_from(bytes.len()).map_err(|_| RecordError::BadTag)?;
        Ok((head, len))
    }
}

impl fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordKeys")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The fields of an envelope whose tag [`RecordKeys::check_tag`] verified (`checked`), without
/// computing the MAC again. The header is read again (cheap) and the seq checked; bytes of
/// another length than the ones checked are refused as [`RecordError::BadTag`].
pub fn open_checked(bytes: &[u8], checked: TagChecked) -> Result<RecordEnvelope<'_>, RecordError> {
    if bytes.len() != checked.len as usize {
        return Err(RecordError::BadTag);
    }
    let head = parse_header(bytes)?;
    split_tag(bytes, &head)?;
    envelope(bytes, &head)
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
