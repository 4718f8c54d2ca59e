//! The signed config envelope `LWC1`, carried inside the 4-byte length prefix.
//!
//! ```text
//! off  len  field
//! 0    4    magic "LWC1"
//! 4    1    alg: 1 = Ed25519, 2 = HMAC-SHA256
//! 5    3    reserved, zero
//! 8    8    key_id
//! 16   8    seq            u64 BE
//! 24   8    issued_at_ms   i64 BE
//! 32   8    expires_at_ms  i64 BE
//! 40   16   audience       SHA-256(name)[..16], all zero = any listener
//! 56   4    N              u32 BE
//! 60   N    payload
//! 60+N S    signature over b"logwire/config/v1\0" || bytes[0 .. 60+N]
//! ```
//!
//! [`ConfigVerifier::verify`] checks, in this order and before anything reads the
//! payload: magic, alg, reserved → key known and of that alg → exact length → signature
//! (constant time) → time window → audience. The seq ratchet comes next and belongs to the
//! listener, which persists it; [`SeqRatchet`] is the in-memory check it can use.
//!
//! Audience rule: a frame addressed to *any* listener (all-zero audience) is accepted
//! everywhere. A frame addressed to a named audience is accepted only by a listener
//! configured with that same audience; a listener with *no* audience rejects it, because
//! the sender meant it for specific hosts and accepting it elsewhere is exactly the
//! cross-host replay the audience exists to stop.
//!
//! ```
//! use logwire_wire::{sign_config, Audience, EnvelopeError, ConfigVerifier, FixedClock, KeyRing, generate_hmac};
//!
//! let signer = generate_hmac().unwrap();
//! let ring: KeyRing = [signer.verify_key()].into_iter().collect();
//! let t = 1_763_750_000_000;
//! let env = sign_config(&signer, 7, t, t + 3_600_000, Some("payments-prod"), b"{}").unwrap();
//!
//! let clock = FixedClock(t + 1_000);
//! let ok = ConfigVerifier::new(&ring, &clock)
//!     .with_audience(Audience::for_name("payments-prod"))
//!     .verify(&env)
//!     .unwrap();
//! assert_eq!((ok.seq, ok.payload), (7, &b"{}"[..]));
//!
//! let elsewhere = ConfigVerifier::new(&ring, &clock).with_audience(Audience::for_name("web"));
//! assert!(matches!(elsewhere.verify(&env), Err(EnvelopeError::WrongAudience { .. })));
//! ```

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::frame::{self, FrameError};
use crate::hex;
use crate::key::{Alg, KeyId, KeyRing, SigningKey};

/// The magic bytes.
pub const MAGIC: [u8; 4] = *b"LWC1";
/// Fixed header length before the payload.
pub const HEADER_LEN: usize = 60;
/// Domain separation prefixed to the signed bytes.
pub const SIGNING_CONTEXT: &[u8] = b"logwire/config/v1\0";
/// How far in the future `issued_at_ms` may be (clock skew allowance).
pub const MAX_FUTURE_SKEW_MS: i64 = 300_000;
/// Longest allowed `expires_at_ms - issued_at_ms`.
pub const MAX_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// True if `bytes` starts with the `LWC1` magic (plain configs start with `{` or INI text).
pub fn is_config_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// A source of the current time in unix milliseconds, injectable for tests.
pub trait EnvelopeClock {
    /// Now, in unix milliseconds.
    fn now_ms(&self) -> i64;
}

impl<C: EnvelopeClock + ?Sized> EnvelopeClock for std::sync::Arc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

impl<C: EnvelopeClock + ?Sized> EnvelopeClock for Box<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEnvelopeClock;

impl EnvelopeClock for SystemEnvelopeClock {
    fn now_ms(&self) -> i64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        }
    }
}

/// A clock stuck at a given unix millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl EnvelopeClock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// The 16-byte audience: the first 16 bytes of SHA-256 of a listener group's name, or
/// all zero for "any listener".
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Audience(pub [u8; 16]);

impl Audience {
    /// Any listener.
    pub const ANY: Audience = Audience([0; 16]);

    /// The audience for a listener group name.
    pub fn for_name(name: &str) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(&Sha256::digest(name.as_bytes())[..16]);
        Self(a)
    }

    /// True for the all-zero "any listener" audience.
    pub fn is_any(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_any() {
            f.write_str("any")
        } else {
            hex::write_hex(f, &self.0)
        }
    }
}

impl fmt::Debug for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Audience({self})")
    }
}

/// Why a config envelope was rejected. The `Display` text is meant to be sent back to the
/// pusher as the reply's `reason`; it names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Does not start with `LWC1`.
    #[error("not an LWC1 envelope (bad magic)")]
    BadMagic,
    /// The alg byte is not 1 or 2.
    #[error("unknown signature algorithm {0}")]
    UnknownAlg(u8),
    /// Reserved bytes 5..8 are not zero.
    #[error("reserved header bytes are not zero")]
    ReservedNonZero,
    /// Shorter than the fixed 60-byte header.
    #[error("envelope of {len} bytes is shorter than the {HEADER_LEN}-byte header")]
    Truncated {
        /// Envelope length.
        len: usize,
    },
    /// No key with this id in the key ring.
    #[error("unknown key id {key_id}")]
    UnknownKey {
        /// The frame's key id.
        key_id: KeyId,
    },
    /// The key with this id is for another algorithm.
    #[error("key {key_id} is a {key_alg} key but the envelope says {frame_alg}")]
    AlgMismatch {
        /// The frame's key id.
        key_id: KeyId,
        /// Algorithm in the frame.
        frame_alg: Alg,
        /// Algorithm of the key.
        key_alg: Alg,
    },
    /// The envelope is not exactly `60 + N + S` bytes.
    #[error("envelope length {actual} does not match the expected {expected} bytes")]
    BadLength {
        /// `60 + N + S`.
        expected: u64,
        /// Actual length.
        actual: usize,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `expires_at_ms <= issued_at_ms`.
    #[error("expires_at ({expires_at_ms}) is not after issued_at ({issued_at_ms})")]
    BadTimeWindow {
        /// Issued at, unix ms.
        issued_at_ms: i64,
        /// Expires at, unix ms.
        expires_at_ms: i64,
    },
    /// `expires_at_ms - issued_at_ms` exceeds 7 days.
    #[error("lifetime of {lifetime_ms} ms exceeds the maximum of 7 days")]
    LifetimeTooLong {
        /// `expires_at_ms - issued_at_ms`.
        lifetime_ms: i64,
    },
    /// Issued more than 300 s in the future.
    #[error(
        "issued_at ({issued_at_ms}) is more than 300 s ahead of the listener's clock ({now_ms})"
    )]
    NotYetValid {
        /// Issued at, unix ms.
        issued_at_ms: i64,
        /// The listener's now.
        now_ms: i64,
    },
    /// Now is past `expires_at_ms`.
    #[error("expired at {expires_at_ms} (listener's clock is {now_ms})")]
    Expired {
        /// Expires at, unix ms.
        expires_at_ms: i64,
        /// The listener's now.
        now_ms: i64,
    },
    /// Addressed to an audience this listener is not.
    #[error("addressed to audience {frame}, this listener is {listener}")]
    WrongAudience {
        /// The frame's audience.
        frame: Audience,
        /// The listener's audience, `None` if it has none.
        listener: AudienceLabel,
    },
    /// The seq is not greater than the last one applied for this key.
    #[error("seq {seq} is not greater than the last applied seq {last} for key {key_id}")]
    SeqNotIncreasing {
        /// The frame's key id.
        key_id: KeyId,
        /// The frame's seq.
        seq: u64,
        /// The last applied seq.
        last: u64,
    },
    /// A payload too long for the 32-bit length field (signing only).
    #[error("payload of {len} bytes is too large for an envelope")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
    },
}

/// A listener's audience as shown in [`EnvelopeError::WrongAudience`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudienceLabel(pub Option<Audience>);

impl fmt::Display for AudienceLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("configured with no audience"),
        }
    }
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

/// An *unverified* view of an envelope's header, borrowed from the frame. Nothing in it
/// may be trusted until [`ConfigVerifier::verify`] succeeds; it exists so a listener can,
/// for instance, echo the claimed seq in a rejection.
#[derive(Debug, Clone, Copy)]
pub struct ConfigEnvelope<'a> {
    bytes: &'a [u8],
    alg: Alg,
}

impl<'a> ConfigEnvelope<'a> {
    /// Checks magic, alg, reserved bytes and that the fixed header is complete.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            // A 1-3 byte prefix of the magic is still "not LWC1" as far as anyone can tell.
            return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
                EnvelopeError::Truncated { len: bytes.len() }
            } else {
                EnvelopeError::BadMagic
            });
        }
        let Some(&alg_byte) = bytes.get(4) else {
            return Err(EnvelopeError::Truncated { len: bytes.len() });
        };
        let alg = Alg::from_byte(alg_byte).ok_or(EnvelopeError::UnknownAlg(alg_byte))?;
        let reserved = bytes
            .get(5..8)
            .ok_or(EnvelopeError::Truncated { len: bytes.len() })?;
        if reserved != [0, 0, 0] {
            return Err(EnvelopeError::ReservedNonZero);
        }
        if bytes.len() < HEADER_LEN {
            return Err(EnvelopeError::Truncated { len: bytes.len() });
        }
        Ok(Self { bytes, alg })
    }

    /// The claimed algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The claimed key id.
    pub fn key_id(&self) -> KeyId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.bytes[8..16]);
        KeyId(id)
    }

    /// The claimed seq.
    pub fn seq(&self) -> u64 {
        be_u64(self.bytes, 16)
    }

    /// The claimed issue time.
    pub fn issued_at_ms(&self) -> i64 {
        be_u64(self.bytes, 24) as i64
    }

    /// The claimed expiry time.
    pub fn expires_at_ms(&self) -> i64 {
        be_u64(self.bytes, 32) as i64
    }

    /// The claimed audience.
    pub fn audience(&self) -> Audience {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.bytes[40..56]);
        Audience(a)
    }

    /// The claimed payload length N.
    pub fn payload_len(&self) -> u32 {
        let mut n = [0u8; 4];
        n.copy_from_slice(&self.bytes[56..60]);
        u32::from_be_bytes(n)
    }

    /// The length the whole envelope must have: `60 + N + S`.
    pub fn expected_len(&self) -> u64 {
        HEADER_LEN as u64 + u64::from(self.payload_len()) + self.alg.signature_len() as u64
    }
}

/// A config envelope that passed every check up to (not including) the seq ratchet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedConfig<'a> {
    /// The signing key's id.
    pub key_id: KeyId,
    /// The algorithm.
    pub alg: Alg,
    /// The sequence number, to be checked against the listener's ratchet.
    pub seq: u64,
    /// Issue time, unix ms.
    pub issued_at_ms: i64,
    /// Expiry time, unix ms.
    pub expires_at_ms: i64,
    /// The audience the frame was addressed to.
    pub audience: Audience,
    /// The config text (UTF-8 is the listener's check; these are the signed bytes).
    pub payload: &'a [u8],
}

/// Verifies config envelopes against a key ring, a clock and the listener's audience.
#[derive(Clone, Copy)]
pub struct ConfigVerifier<'k> {
    keys: &'k KeyRing,
    clock: &'k dyn EnvelopeClock,
    audience: Option<Audience>,
}

impl fmt::Debug for ConfigVerifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigVerifier")
            .field("keys", &self.keys.len())
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl<'k> ConfigVerifier<'k> {
    /// A verifier for a listener without an audience (it accepts only all-zero audiences).
    pub fn new(keys: &'k KeyRing, clock: &'k dyn EnvelopeClock) -> Self {
        Self {
            keys,
            clock,
            audience: None,
        }
    }

    /// Sets the listener's audience: frames for it and for "any" are accepted.
    pub fn with_audience(mut self, audience: Audience) -> Self {
        self.audience = Some(audience);
        self
    }

    /// Sets or clears the listener's audience.
    pub fn audience(mut self, audience: Option<Audience>) -> Self {
        self.audience = audience;
        self
    }

    /// Runs every check in the design's order and returns the verified fields.
    pub fn verify<'a>(&self, bytes: &'a [u8]) -> Result<VerifiedConfig<'a>, EnvelopeError> {
        let env = ConfigEnvelope::parse(bytes)?;
        let key_id = env.key_id();
        let key = self
            .keys
            .get(&key_id)
            .ok_or(EnvelopeError::UnknownKey { key_id })?;
        if key.alg() != env.alg() {
            return Err(EnvelopeError::AlgMismatch {
                key_id,
                frame_alg: env.alg(),
                key_alg: key.alg(),
            });
        }
        let expected = env.expected_len();
        if expected != bytes.len() as u64 {
            return Err(EnvelopeError::BadLength {
                expected,
                actual: bytes.len(),
            });
        }
        let signed_len = HEADER_LEN + env.payload_len() as usize;
        let (signed, signature) = bytes.split_at(signed_len);
        if !key.verify_parts(SIGNING_CONTEXT, signed, signature) {
            return Err(EnvelopeError::BadSignature);
        }
        let issued_at_ms = env.issued_at_ms();
        let expires_at_ms = env.expires_at_ms();
        check_time_window(issued_at_ms, expires_at_ms, self.clock.now_ms())?;
        let audience = env.audience();
        if !audience.is_any() && self.audience != Some(audience) {
            return Err(EnvelopeError::WrongAudience {
                frame: audience,
                listener: AudienceLabel(self.audience),
            });
        }
        Ok(VerifiedConfig {
            key_id,
            alg: env.alg(),
            seq: env.seq(),
            issued_at_ms,
            expires_at_ms,
            audience,
            payload: &signed[HEADER_LEN..],
        })
    }
}

/// Verifies one envelope (a convenience over [`ConfigVerifier`]).
pub fn verify_config<'a>(
    bytes: &'a [u8],
    keys: &KeyRing,
    clock: &dyn EnvelopeClock,
    audience: Option<Audience>,
) -> Result<VerifiedConfig<'a>, EnvelopeError> {
    ConfigVerifier::new(keys, clock)
        .audience(audience)
        .verify(bytes)
}

/// The time checks: the window's own shape first (clock independent), then the clock.
fn check_time_window(
    issued_at_ms: i64,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<(), EnvelopeError> {
    if expires_at_ms <= issued_at_ms {
        return Err(EnvelopeError::BadTimeWindow {
            issued_at_ms,
            expires_at_ms,
        });
    }
    // i128 so hostile extremes cannot overflow.
    let lifetime = i128::from(expires_at_ms) - i128::from(issued_at_ms);
    if lifetime > i128::from(MAX_LIFETIME_MS) {
        return Err(EnvelopeError::LifetimeTooLong {
            lifetime_ms: i64::try_from(lifetime).unwrap_or(i64::MAX),
        });
    }
    if i128::from(issued_at_ms) > i128::from(now_ms) + i128::from(MAX_FUTURE_SKEW_MS) {
        return Err(EnvelopeError::NotYetValid {
            issued_at_ms,
            now_ms,
        });
    }
    if now_ms > expires_at_ms {
        return Err(EnvelopeError::Expired {
            expires_at_ms,
            now_ms,
        });
    }
    Ok(())
}

/// Builds and signs an envelope addressed to `audience` (`Audience::ANY` for any).
///
/// The time window is written as given, not checked, so tests can make invalid frames.
pub fn sign_config_to(
    key: &SigningKey,
    seq: u64,
    issued_at_ms: i64,
    expires_at_ms: i64,
    audience: Audience,
    payload: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let n = u32::try_from(payload.len())
        .ok()
        .filter(|n| (*n as usize) <= u32::MAX as usize - HEADER_LEN - 64)
        .ok_or(EnvelopeError::PayloadTooLarge { len: payload.len() })?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + key.alg().signature_len());
    out.extend_from_slice(&MAGIC);
    out.push(key.alg().to_byte());
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&key.key_id().0);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&issued_at_ms.to_be_bytes());
    out.extend_from_slice(&expires_at_ms.to_be_bytes());
    out.extend_from_slice(&audience.0);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(payload);
    let sig = key.sign_parts(SIGNING_CONTEXT, &out);
    out.extend_from_slice(&sig);
    Ok(out)
}

/// Builds and signs an envelope; `audience` is a listener group name, `None` for any.
pub fn sign_config(
    key: &SigningKey,
    seq: u64,
    issued_at_ms: i64,
    expires_at_ms: i64,
    audience: Option<&str>,
    payload: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let audience = audience.map_or(Audience::ANY, Audience::for_name);
    sign_config_to(key, seq, issued_at_ms, expires_at_ms, audience, payload)
}

/// As [`sign_config`], with the 4-byte length prefix in front: ready to write to a socket.
pub fn sign_config_frame(
    key: &SigningKey,
    seq: u64,
    issued_at_ms: i64,
    expires_at_ms: i64,
    audience: Option<&str>,
    payload: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    let env = sign_config(key, seq, issued_at_ms, expires_at_ms, audience, payload)?;
    frame::try_encode_frame(&env).map_err(|e| match e {
        FrameError::PayloadTooLarge { len } => EnvelopeError::PayloadTooLarge { len },
        _ => EnvelopeError::PayloadTooLarge { len: env.len() },
    })
}

/// The per-key "strictly greater seq" ratchet, in memory. The listener persists it
/// (fsync before replying) and loads it back with [`SeqRatchet::from_entries`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRatchet {
    last: HashMap<KeyId, u64>,
}

impl SeqRatchet {
    /// An empty ratchet: any seq is accepted for a key seen for the first time.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ratchet restored from persisted `(key_id, last_applied_seq)` pairs.
    pub fn from_entries(entries: impl IntoIterator<Item = (KeyId, u64)>) -> Self {
        Self {
            last: entries.into_iter().collect(),
        }
    }

    /// The last applied seq for a key.
    pub fn last(&self, key_id: &KeyId) -> Option<u64> {
        self.last.get(key_id).copied()
    }

    /// Checks that `seq` is strictly greater than the last applied for `key_id`.
    pub fn check(&self, key_id: KeyId, seq: u64) -> Result<(), EnvelopeError> {
        match self.last(&key_id) {
            Some(last) if seq <= last => Err(EnvelopeError::SeqNotIncreasing { key_id, seq, last }),
            _ => Ok(()),
        }
    }

    /// Records `seq` as applied (after a successful swap); fails like [`check`](Self::check).
    pub fn advance(&mut self, key_id: KeyId, seq: u64) -> Result<(), EnvelopeError> {
        self.check(key_id, seq)?;
        self.last.insert(key_id, seq);
        Ok(())
    }

    /// Forgets a key's seq (the local-only admin reset after a key leak and rotation).
    pub fn reset(&mut self, key_id: &KeyId) -> Option<u64> {
        self.last.remove(key_id)
    }

    /// All `(key_id, last_seq)` pairs, for persisting.
    pub fn entries(&self) -> impl Iterator<Item = (KeyId, u64)> + '_ {
        self.last.iter().map(|(k, v)| (*k, *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_plausible() {
        let now = SystemEnvelopeClock.now_ms();
        // After 2024-01-01 and before 2200.
        assert!(now > 1_704_067_200_000 && now < 7_258_118_400_000, "{now}");
        let shared: std::sync::Arc<dyn EnvelopeClock> = std::sync::Arc::new(FixedClock(5));
        assert_eq!(shared.now_ms(), 5);
    }

    #[test]
    fn audience_hash_is_sha256_prefix() {
        // sha256("payments-prod")[..16], as in the shared vectors' ed25519-json frame.
        let a = Audience::for_name("payments-prod");
        assert_eq!(a.to_string(), "3af9dcdb5de57e1fb5307822596e94a9");
    }
}
