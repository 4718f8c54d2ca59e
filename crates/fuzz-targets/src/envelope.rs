//! The signed envelopes `LWC1` (configs) and `LWR1` (records), and the replay window.
//!
//! The key ring holds the keys of the shared test vectors, so the checked-in vector frames
//! verify and the fuzzer starts from valid envelopes. Raw mode feeds the bytes as they are
//! (everything before the signature check); signed mode builds a correctly signed envelope
//! from fuzzer-chosen fields, so the checks after the signature (time window, audience, seq)
//! run too, and then tampers with one byte, which must be rejected.

use logwire_wire::{
    Audience, ConfigEnvelope, ConfigVerifier, EnvelopeError, Epoch, FixedClock, HmacKey, KeyRing,
    MAX_CONFIG_FUTURE_SKEW_MS, MAX_CONFIG_LIFETIME_MS, PayloadFormat, REPLAY_WINDOW, RecordError,
    ReplayTracker, ReplayVerdict, SigningKey,
};

use crate::{split_ff, take_u64};

/// `issued_at_ms` of the vector frames, so they are within their window.
const NOW_MS: i64 = 1_763_750_000_000 + 1_000;
/// The audience the vectors' Ed25519 frame is addressed to.
const AUDIENCE: &str = "payments-prod";

fn hmac_key() -> SigningKey {
    let bytes: Vec<u8> = (0u8..32).collect();
    SigningKey::Hmac(HmacKey::from_bytes(&bytes).expect("32-byte HMAC key"))
}

fn ed25519_key() -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = 100 + i as u8;
    }
    SigningKey::ed25519_from_seed(&seed)
}

fn ring() -> KeyRing {
    [hmac_key().verify_key(), ed25519_key().verify_key()]
        .into_iter()
        .collect()
}

/// Strips a length prefix when it announces exactly the rest (vector frames carry one).
fn unframe(data: &[u8]) -> &[u8] {
    logwire_wire::split_datagram(data).unwrap_or(data)
}

/// What the config checks after the signature should decide, written from the design's rules.
fn expected_window(issued: i64, expires: i64, now: i64) -> bool {
    expires > issued
        && i128::from(expires) - i128::from(issued) <= i128::from(MAX_CONFIG_LIFETIME_MS)
        && i128::from(issued) <= i128::from(now) + i128::from(MAX_CONFIG_FUTURE_SKEW_MS)
        && now <= expires
}

/// The `LWC1` config envelope: [`ConfigEnvelope::parse`] and [`ConfigVerifier::verify`].
///
/// Byte 0 bit 0 picks raw or signed mode. In raw mode nothing but a vector-signed envelope
/// may verify, and a parsed header's claimed length is consistent. In signed mode the verdict
/// must match the design's time-window and audience rules exactly, the verified payload is the
/// signed one, and any single flipped byte or a truncation is rejected.
pub fn config_envelope(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = ring();
    let clock = FixedClock(NOW_MS);
    let verifier = ConfigVerifier::new(&keys, &clock).with_audience(Audience::for_name(AUDIENCE));
    if mode & 1 == 0 {
        let bytes = unframe(rest);
        if let Ok(env) = ConfigEnvelope::parse(bytes) {
            assert!(env.expected_len() >= logwire_wire::CONFIG_HEADER_LEN as u64);
        }
        if let Ok(v) = verifier.verify(bytes) {
            assert_eq!(
                v.payload.len() as u64
                    + logwire_wire::CONFIG_HEADER_LEN as u64
                    + v.alg.signature_len() as u64,
                bytes.len() as u64
            );
        }
        return;
    }
    // Signed mode: seq, issued offset, lifetime, then audience choice, tamper position, payload.
    let (seq, rest) = take_u64(rest);
    let (issued_off, rest) = take_u64(rest);
    let (lifetime, rest) = take_u64(rest);
    let (tamper, payload) = take_u64(rest);
    // Offsets around now, with the extremes reachable too.
    // Near now (within ±24 days, which covers every rule's edge) or anywhere at all.
    let issued = if mode & 2 != 0 {
        issued_off as i64
    } else {
        NOW_MS + i64::from(issued_off as i32)
    };
    let expires = if mode & 4 != 0 {
        lifetime as i64
    } else {
        issued.saturating_add(i64::from(lifetime as i32))
    };
    let audience = match (mode >> 3) & 3 {
        0 => Audience::ANY,
        1 => Audience::for_name(AUDIENCE),
        _ => Audience::for_name("someone-else"),
    };
    let key = if mode & 0x20 != 0 {
        ed25519_key()
    } else {
        hmac_key()
    };
    let Ok(env) = logwire_wire::sign_config_to(&key, seq, issued, expires, audience, payload)
    else {
        return;
    };
    let want_ok =
        expected_window(issued, expires, NOW_MS) && audience != Audience::for_name("someone-else");
    match verifier.verify(&env) {
        Ok(v) => {
            assert!(
                want_ok,
                "accepted an envelope the rules reject: issued {issued} expires {expires}"
            );
            assert_eq!(
                (v.seq, v.issued_at_ms, v.expires_at_ms, v.payload),
                (seq, issued, expires, payload)
            );
        }
        Err(e) => {
            assert!(!want_ok, "rejected a valid envelope: {e}");
            assert!(
                matches!(
                    e,
                    EnvelopeError::BadTimeWindow { .. }
                        | EnvelopeError::LifetimeTooLong { .. }
                        | EnvelopeError::NotYetValid { .. }
                        | EnvelopeError::Expired { .. }
                        | EnvelopeError::WrongAudience { .. }
                ),
                "a signed envelope failed a check before the signature: {e}"
            );
        }
    }
    let mut tampered = env.clone();
    let at = (tamper as usize) % tampered.len();
    tampered[at] ^= 1 << ((tamper >> 32) % 8);
    assert!(
        verifier.verify(&tampered).is_err(),
        "a flipped bit at {at} still verified"
    );
    let cut = (tamper >> 40) as usize % env.len();
    assert!(
        verifier.verify(&env[..cut]).is_err(),
        "a truncated envelope verified"
    );
}

/// The `LWR1` record envelope ([`logwire_wire::open_record`]) and the replay tracker.
///
/// Raw mode: only vector-sealed bytes may open, and an opened payload spans exactly the
/// claimed length. Signed mode: a sealed record opens to its own fields, a flipped bit or a
/// cut is rejected; then the remaining bytes are a sequence of seqs for the
/// [`ReplayTracker`], which must never accept one seq twice, never keep more epochs than
/// its cap and never call a seq above everything seen a duplicate.
pub fn record_envelope(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let keys = ring();
    if mode & 1 == 0 {
        let bytes = unframe(rest);
        if let Ok(r) = logwire_wire::open_record(bytes, &keys) {
            assert_eq!(
                r.payload.len() + logwire_wire::RECORD_HEADER_LEN + logwire_wire::RECORD_TAG_LEN,
                bytes.len()
            );
            assert_ne!(r.seq, 0);
        }
        return;
    }
    let (head, seqs) = split_ff(rest);
    let (seq, head) = take_u64(head);
    let (tamper, payload) = take_u64(head);
    let format = if mode & 2 != 0 {
        PayloadFormat::Json
    } else {
        PayloadFormat::Pickle
    };
    let mut epoch = [0u8; 16];
    epoch[0] = mode;
    let epoch = Epoch(epoch);
    match logwire_wire::seal_record(&hmac_key(), epoch, seq, format, mode & 4 != 0, payload) {
        Ok(env) => {
            let r = logwire_wire::open_record(&env, &keys).expect("a sealed record opens");
            assert_eq!(
                (r.seq, r.epoch, r.format, r.payload),
                (seq, epoch, format, payload)
            );
            assert_eq!(r.ack_requested, mode & 4 != 0);
            let mut tampered = env.clone();
            let at = (tamper as usize) % tampered.len();
            tampered[at] ^= 1 << ((tamper >> 32) % 8);
            assert!(
                logwire_wire::open_record(&tampered, &keys).is_err(),
                "flipped bit at {at} opened"
            );
            let cut = (tamper >> 40) as usize % env.len();
            assert!(
                logwire_wire::open_record(&env[..cut], &keys).is_err(),
                "a cut record opened"
            );
        }
        Err(RecordError::ZeroSeq) => assert_eq!(seq, 0),
        Err(e) => panic!("sealing failed: {e}"),
    }
    replay(mode, seqs);
}

/// Feeds (epoch, seq) pairs to a tracker: 1 byte epoch choice, then a seq step.
fn replay(mode: u8, mut data: &[u8]) {
    const MAX_EPOCHS: usize = 3;
    let mut tracker = ReplayTracker::new(MAX_EPOCHS);
    let key_id = hmac_key().key_id();
    let mut accepted = std::collections::HashSet::new();
    let mut highest = std::collections::HashMap::new();
    let mut seq = u64::from(mode);
    while data.len() >= 3 && accepted.len() < 10_000 {
        let e = data[0] % 5;
        let step = i16::from_be_bytes([data[1], data[2]]);
        data = &data[3..];
        // Mostly small moves; a step of i16::MIN jumps far (beyond the window).
        seq = if step == i16::MIN {
            seq.wrapping_add(REPLAY_WINDOW * 1000)
        } else {
            seq.wrapping_add_signed(i64::from(step))
        };
        let mut ep = [0u8; 16];
        ep[0] = e;
        let epoch = Epoch(ep);
        let peek = tracker.check(key_id, epoch, seq);
        let verdict = tracker.mark(key_id, epoch, seq);
        assert_eq!(peek, verdict, "check and mark disagree for seq {seq}");
        assert!(
            tracker.epochs_tracked(key_id) <= MAX_EPOCHS,
            "epochs beyond the cap"
        );
        let top = highest.entry(e).or_insert(0u64);
        match verdict {
            ReplayVerdict::New => {
                assert!(seq != 0);
                // An evicted epoch starts afresh, so uniqueness holds per epoch lifetime; the
                // tracker evicted nothing yet means it must hold globally.
                assert!(
                    accepted.insert((e, seq)) || tracker.evicted() > 0,
                    "seq {seq} of epoch {e} accepted twice"
                );
                *top = (*top).max(seq);
            }
            ReplayVerdict::Duplicate => {
                assert!(
                    seq <= *top || tracker.evicted() > 0,
                    "seq {seq} above the highest called duplicate"
                );
            }
            ReplayVerdict::TooOld => {}
        }
        if let Some(w) = tracker.window(key_id, epoch) {
            assert!(
                w.contiguous() <= w.highest(),
                "contiguous point above the highest seq"
            );
        }
    }
}
