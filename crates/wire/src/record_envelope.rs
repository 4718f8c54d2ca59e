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
//! [`ReplayTracker`]: per (key_id, epoch) the highest seq and a sliding window of seen seqs.
//!
//! ```
//! use logwire_wire::record_envelope::{open_record, seal_record, Epoch, PayloadFormat};
//! use logwire_wire::{key, KeyRing, ReplayTracker, ReplayVerdict};
//!
//! let key = key::generate_hmac().unwrap();
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

use crate::frame;
use crate::hex;
use crate::key::{Alg, KeyId, KeyRing, SigningKey};

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

/// The verdict on a record's seq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Not seen before: hand it to the handlers.
    New,
    /// Already seen within the window: ack again, do not store twice.
    Duplicate,
    /// Below the window (or seq 0): reject and count.
    TooOld,
}

/// Seqs remembered below the highest one.
pub const REPLAY_WINDOW: u64 = 4096;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;

/// Highest seq plus a sliding bitmap of the last [`REPLAY_WINDOW`] seqs (RFC 6479 style:
/// bit `seq % REPLAY_WINDOW`, cleared as the window slides), for one (key_id, epoch).
///
/// It also tracks the *contiguous* point for cumulative acks: every seq `1..=contiguous`
/// has been marked, or has slid out of the window unseen and been counted as missing.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: u64,
    bits: Box<[u64; WORDS]>,
    contiguous: u64,
    missing: u64,
}

impl fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("highest", &self.highest)
            .field("contiguous", &self.contiguous)
            .field("missing", &self.missing)
            .finish_non_exhaustive()
    }
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// A window that has seen nothing.
    pub fn new() -> Self {
        Self {
            highest: 0,
            bits: Box::new([0; WORDS]),
            contiguous: 0,
            missing: 0,
        }
    }

    fn bit(seq: u64) -> (usize, u64) {
        let i = seq % REPLAY_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// A window for an epoch first seen at `first_seq`: everything below it counts as
    /// handled. A receiver that restarts meets a sender's stream in the middle (the sender
    /// resends from its oldest unacknowledged record, so everything earlier was acknowledged
    /// by the receiver's previous run); starting at 0 instead would hold the cumulative ack
    /// below the first seq forever.
    pub fn starting_at(first_seq: u64) -> Self {
        let base = first_seq.saturating_sub(1);
        Self {
            highest: base,
            bits: Box::new([0; WORDS]),
            contiguous: base,
            missing: 0,
        }
    }

    fn is_set(&self, seq: u64) -> bool {
        let (w, m) = Self::bit(seq);
        self.bits[w] & m != 0
    }

    /// Classifies `seq` without recording it.
    pub fn check(&self, seq: u64) -> ReplayVerdict {
        // Subtraction from the top, so seqs near u64::MAX cannot overflow.
        if seq == 0 || (seq < self.highest && self.highest - seq >= REPLAY_WINDOW) {
            ReplayVerdict::TooOld
        } else if seq <= self.contiguous && !self.is_set(seq) {
            // Below the start of a window opened mid-stream (or given up as missing).
            ReplayVerdict::TooOld
        } else if seq > self.highest {
            ReplayVerdict::New
        } else if self.is_set(seq) {
            ReplayVerdict::Duplicate
        } else {
            ReplayVerdict::New
        }
    }

    /// Classifies `seq` and, if new, records it.
    pub fn mark(&mut self, seq: u64) -> ReplayVerdict {
        let verdict = self.check(seq);
        if verdict != ReplayVerdict::New {
            return verdict;
        }
        if seq > self.highest {
            self.slide_to(seq);
        }
        let (w, m) = Self::bit(seq);
        self.bits[w] |= m;
        self.advance_contiguous();
        verdict
    }

    /// Moves the top of the window to `seq`, clearing the bits of seqs it now covers and
    /// counting seqs that fall out of the window unseen as missing.
    fn slide_to(&mut self, seq: u64) {
        // Lowest seq still inside the window once `seq` is the highest.
        let floor = seq.saturating_sub(REPLAY_WINDOW - 1).max(1);
        if self.contiguous + 1 < floor {
            // Seqs in contiguous+1 .. floor are leaving: unseen ones are missing. Those at or
            // below the old highest are in the bitmap; those above it were never seen.
            let old_top = self.highest.min(floor - 1);
            let mut q = self.contiguous + 1;
            while q <= old_top {
                if !self.is_set(q) {
                    self.missing += 1;
                }
                q += 1;
            }
            let never_seen_from = (self.contiguous + 1).max(self.highest + 1);
            self.missing += floor.saturating_sub(never_seen_from);
            self.contiguous = floor - 1;
        }
        let gap = seq - self.highest;
        if gap >= REPLAY_WINDOW {
            self.bits.fill(0);
        } else {
            for s in self.highest + 1..=seq {
                let (w, m) = Self::bit(s);
                self.bits[w] &= !m;
            }
        }
        self.highest = seq;
    }

    fn advance_contiguous(&mut self) {
        while self.contiguous < self.highest && self.is_set(self.contiguous + 1) {
            self.contiguous += 1;
        }
    }

    /// The highest seq marked (0 if none).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Every seq up to this one has been marked or given up as missing: the value for a
    /// cumulative ack.
    pub fn contiguous(&self) -> u64 {
        self.contiguous
    }

    /// Seqs that slid out of the window without ever being seen.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// The window's complete state, to persist it (see [`ReplayWindow::from_state`]).
    pub fn state(&self) -> WindowState {
        WindowState {
            highest: self.highest,
            contiguous: self.contiguous,
            missing: self.missing,
            bits: self.bits.to_vec(),
        }
    }

    /// Rebuilds a window from [`ReplayWindow::state`]; `None` if the state is one no live
    /// window can reach (a contiguous point above the highest seq or more than a window
    /// below it, more seqs missing than lie below the contiguous point, or a bitmap of the
    /// wrong size). Those bounds are what keep `mark`'s loops within one window and its
    /// counters from overflowing, so a state read from a file must meet them.
    pub fn from_state(state: &WindowState) -> Option<Self> {
        let bits: [u64; WORDS] = state.bits.as_slice().try_into().ok()?;
        let reachable = state.contiguous <= state.highest
            && state.highest - state.contiguous <= REPLAY_WINDOW
            && state.missing <= state.contiguous;
        reachable.then(|| Self {
            highest: state.highest,
            bits: Box::new(bits),
            contiguous: state.contiguous,
            missing: state.missing,
        })
    }
}

/// A [`ReplayWindow`]'s state as plain data, for persisting replay protection across
/// restarts: a restarted receiver that forgot which seqs it stored would store resent
/// records twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowState {
    /// The highest seq marked.
    pub highest: u64,
    /// The cumulative-ack point.
    pub contiguous: u64,
    /// Seqs given up as missing.
    pub missing: u64,
    /// The bitmap: [`REPLAY_WINDOW`] / 64 words, bit `seq % REPLAY_WINDOW`.
    pub bits: Vec<u64>,
}

#[derive(Debug, Clone)]
struct TrackedEpoch {
    window: ReplayWindow,
    last_used: u64,
}

/// Replay windows for many (key_id, epoch) pairs, with at most `max_epochs_per_key`
/// epochs tracked per key: a new epoch beyond that evicts the least recently used one,
/// so a flood of epochs costs bounded memory.
///
/// A record from an evicted epoch is seen as new again; only a key holder can make
/// valid epochs, and the cap should exceed the number of live senders per key.
#[derive(Debug, Clone)]
pub struct ReplayTracker {
    max_epochs_per_key: usize,
    keys: HashMap<KeyId, HashMap<Epoch, TrackedEpoch>>,
    clock: u64,
    evicted: u64,
}

impl ReplayTracker {
    /// A tracker keeping at most `max_epochs_per_key` epochs (at least 1) per key.
    pub fn new(max_epochs_per_key: usize) -> Self {
        Self {
            max_epochs_per_key: max_epochs_per_key.max(1),
            keys: HashMap::new(),
            clock: 0,
            evicted: 0,
        }
    }

    /// Classifies a seq without recording it.
    pub fn check(&self, key_id: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        match self.window(key_id, epoch) {
            Some(w) => w.check(seq),
            None => ReplayWindow::starting_at(seq).check(seq),
        }
    }

    /// Classifies a seq and records it if new; call only for records whose tag verified.
    pub fn mark(&mut self, key_id: KeyId, epoch: Epoch, seq: u64) -> ReplayVerdict {
        if seq == 0 {
            return ReplayVerdict::TooOld;
        }
        let now = self.make_room(key_id, epoch);
        let epochs = self.keys.entry(key_id).or_default();
        let tracked = epochs.entry(epoch).or_insert_with(|| TrackedEpoch {
            window: ReplayWindow::starting_at(seq),
            last_used: now,
        });
        tracked.last_used = now;
        tracked.window.mark(seq)
    }

    /// Ticks the LRU clock and, if `epoch` is new for a key at its cap, evicts the key's
    /// least recently used epoch. Returns the new clock value.
    fn make_room(&mut self, key_id: KeyId, epoch: Epoch) -> u64 {
        self.clock += 1;
        let epochs = self.keys.entry(key_id).or_default();
        if !epochs.contains_key(&epoch) && epochs.len() >= self.max_epochs_per_key {
            // Linear scan is fine: the cap is small.
            if let Some(oldest) = epochs
                .iter()
                .min_by_key(|(_, t)| t.last_used)
                .map(|(e, _)| *e)
            {
                epochs.remove(&oldest);
                self.evicted += 1;
            }
        }
        self.clock
    }

    /// The window for a (key_id, epoch), if tracked.
    pub fn window(&self, key_id: KeyId, epoch: Epoch) -> Option<&ReplayWindow> {
        self.keys.get(&key_id)?.get(&epoch).map(|t| &t.window)
    }

    /// Number of epochs tracked for a key.
    pub fn epochs_tracked(&self, key_id: KeyId) -> usize {
        self.keys.get(&key_id).map_or(0, HashMap::len)
    }

    /// How many epochs have been evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Every tracked window, in no particular order.
    pub fn windows(&self) -> impl Iterator<Item = (KeyId, Epoch, &ReplayWindow)> {
        self.keys
            .iter()
            .flat_map(|(k, epochs)| epochs.iter().map(move |(e, t)| (*k, *e, &t.window)))
    }

    /// Puts a window back (replacing any tracked for the same key and epoch), evicting the
    /// least recently used epoch of the key if it is at its cap.
    pub fn restore(&mut self, key_id: KeyId, epoch: Epoch, window: ReplayWindow) {
        let now = self.make_room(key_id, epoch);
        self.keys.entry(key_id).or_default().insert(
            epoch,
            TrackedEpoch {
                window,
                last_used: now,
            },
        );
    }

    /// Drops every window of a key (e.g. when it is removed from the key ring).
    pub fn forget_key(&mut self, key_id: KeyId) {
        self.keys.remove(&key_id);
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;

    #[test]
    fn a_window_opened_mid_stream_acks_from_its_first_seq() {
        // A receiver restarted while seqs 1..=100 were already acknowledged by its previous
        // run: the sender resends from 101.
        let mut t = ReplayTracker::new(4);
        let (k, e) = (KeyId([1; 8]), Epoch([2; 16]));
        assert_eq!(t.mark(k, e, 101), ReplayVerdict::New);
        assert_eq!(t.mark(k, e, 102), ReplayVerdict::New);
        assert_eq!(t.window(k, e).unwrap().contiguous(), 102);
        assert_eq!(t.mark(k, e, 101), ReplayVerdict::Duplicate);
        assert_eq!(
            t.mark(k, e, 50),
            ReplayVerdict::TooOld,
            "below the window's start"
        );
        assert_eq!(t.window(k, e).unwrap().missing(), 0);
    }

    #[test]
    fn a_restored_tracker_judges_like_the_original() {
        let mut t = ReplayTracker::new(4);
        let (k, e) = (KeyId([3; 8]), Epoch([4; 16]));
        // A window opened mid-stream, with a gap and a run above it.
        for seq in (200..=260).chain(270..=280) {
            t.mark(k, e, seq);
        }
        let mut restored = ReplayTracker::new(4);
        for (key, epoch, w) in t.windows() {
            restored.restore(key, epoch, ReplayWindow::from_state(&w.state()).unwrap());
        }
        for seq in [1, 150, 199, 200, 230, 260, 261, 265, 270, 280, 281, 9000] {
            assert_eq!(restored.check(k, e, seq), t.check(k, e, seq), "seq {seq}");
        }
        assert_eq!(restored.window(k, e).unwrap().contiguous(), 260);
        let mut bad = t.window(k, e).unwrap().state();
        bad.contiguous = bad.highest + 1;
        assert!(ReplayWindow::from_state(&bad).is_none());
        bad.contiguous = 0;
        bad.bits.pop();
        assert!(ReplayWindow::from_state(&bad).is_none());
    }

    /// States a live window never reaches would let `mark` walk ~2^64 seqs (a contiguous
    /// point far below the highest, every bit set) or overflow `missing`: refused.
    #[test]
    fn unreachable_states_are_refused() {
        let full = WindowState {
            highest: u64::MAX - 1,
            contiguous: 0,
            missing: 0,
            bits: vec![u64::MAX; WORDS],
        };
        assert!(
            ReplayWindow::from_state(&full).is_none(),
            "gap over a window"
        );
        let edge = WindowState {
            contiguous: full.highest - REPLAY_WINDOW,
            ..full.clone()
        };
        assert!(
            ReplayWindow::from_state(&edge).is_some(),
            "exactly a window"
        );
        let overcounted = WindowState {
            missing: edge.contiguous + 1,
            ..edge.clone()
        };
        assert!(
            ReplayWindow::from_state(&overcounted).is_none(),
            "missing > contiguous"
        );
        let mut w = ReplayWindow::from_state(&edge).unwrap();
        assert_eq!(w.mark(u64::MAX), ReplayVerdict::New);
    }
}
