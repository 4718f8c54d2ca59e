//! Hostile inputs for LWR1 record envelopes, and replay windows.

use hmac::{KeyInit, Mac};
use logwire_wire::{
    Epoch, KeyRing, PayloadFormat, REPLAY_WINDOW, RecordError, RecordKeys, ReplayTracker,
    ReplayVerdict, ReplayWindow, SigningKey, open_checked, open_record, seal_record,
};

const KEY: [u8; 32] = [3; 32];

fn key() -> SigningKey {
    SigningKey::Hmac(logwire_wire::HmacKey::from_bytes(&KEY).unwrap())
}

fn ring() -> KeyRing {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    [key().verify_key(), ed.verify_key()].into_iter().collect()
}

const EPOCH: Epoch = Epoch([0xAB; 16]);

fn sealed(seq: u64, ack: bool) -> Vec<u8> {
    seal_record(&key(), EPOCH, seq, PayloadFormat::Pickle, ack, b"}q\x00.").unwrap()
}

/// Rewrites header bytes then recomputes the tag independently, so only the targeted check
/// can fire.
fn remac(mut env: Vec<u8>, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    env.truncate(env.len() - 32);
    edit(&mut env);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(b"logwire/record/v1\0");
    mac.update(&env);
    env.extend_from_slice(&mac.finalize().into_bytes());
    env
}

#[test]
fn round_trip_and_independent_tag() {
    let env = sealed(5, true);
    // Our tag equals an independent HMAC over context || header || payload.
    assert_eq!(remac(env.clone(), |_| {}), env);
    let rec = open_record(&env, &ring()).unwrap();
    assert_eq!((rec.seq, rec.epoch, rec.ack_requested), (5, EPOCH, true));
    assert_eq!(rec.format, PayloadFormat::Pickle);
    assert_eq!(rec.payload, b"}q\x00.");
    assert!(
        !open_record(&sealed(5, false), &ring())
            .unwrap()
            .ack_requested
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let env = sealed(1, false);
    for i in 0..env.len() {
        for bit in 0..8 {
            let mut bad = env.clone();
            bad[i] ^= 1 << bit;
            assert!(open_record(&bad, &ring()).is_err(), "byte {i} bit {bit}");
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let env = sealed(1, false);
    for len in 0..env.len() {
        assert!(open_record(&env[..len], &ring()).is_err(), "len {len}");
    }
    let mut long = env;
    long.push(0);
    assert!(matches!(
        open_record(&long, &ring()),
        Err(RecordError::BadLength { .. })
    ));
}

#[test]
fn header_fields_are_checked() {
    let base = sealed(1, false);
    let r = ring();
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        open_record(&remac(base.clone(), edit), &r).map(|rec| rec.format)
    };
    assert_eq!(with(&|e| e[0] = b'P'), Err(RecordError::BadMagic));
    assert_eq!(with(&|e| e[4] = 1), Err(RecordError::UnknownAlg(1)));
    assert_eq!(with(&|e| e[5] = 3), Err(RecordError::UnknownFormat(3)));
    assert_eq!(with(&|e| e[5] = 0), Err(RecordError::UnknownFormat(0)));
    for bit in 1..8 {
        assert_eq!(
            with(&|e| e[6] = 1 << bit),
            Err(RecordError::ReservedFlags(1 << bit))
        );
    }
    assert_eq!(with(&|e| e[7] = 1), Err(RecordError::ReservedNonZero));
    assert_eq!(with(&|e| e[32..40].fill(0)), Err(RecordError::ZeroSeq));
    assert!(matches!(
        with(&|e| e[8..16].fill(9)),
        Err(RecordError::UnknownKey { .. })
    ));
    // An Ed25519 key's id: records need HMAC.
    let ed_id = SigningKey::ed25519_from_seed(&[1; 32]).key_id();
    assert!(matches!(
        with(&|e| e[8..16].copy_from_slice(&ed_id.0)),
        Err(RecordError::AlgMismatch { .. })
    ));
    assert!(matches!(
        with(&|e| e[43] ^= 1),
        Err(RecordError::BadLength { .. })
    ));
    assert!(matches!(
        with(&|e| e[40..44].fill(0xFF)),
        Err(RecordError::BadLength { .. })
    ));
    // JSON format with the right tag is fine.
    assert_eq!(with(&|e| e[5] = 2), Ok(PayloadFormat::Json));
}

/// The keyed-once path ([`RecordKeys`]) and the split check (tag on one thread, fields on
/// another) give the same result and the same error as `open_record` for every bit flip,
/// truncation and header edit.
#[test]
fn keyed_once_agrees_with_open_record() {
    let r = ring();
    let ready = RecordKeys::new(&r);
    let base = sealed(7, true);
    let mut cases = vec![base.clone()];
    for i in 0..base.len() {
        for bit in 0..8 {
            let mut bad = base.clone();
            bad[i] ^= 1 << bit;
            cases.push(bad);
        }
    }
    cases.extend((0..base.len()).map(|len| base[..len].to_vec()));
    cases.push(remac(base.clone(), |e| e[32..40].fill(0)));
    cases.push(remac(base.clone(), |e| e[5] = 2));
    let ed_id = SigningKey::ed25519_from_seed(&[1; 32]).key_id();
    cases.push(remac(base.clone(), |e| e[8..16].copy_from_slice(&ed_id.0)));
    let mut accepted = 0;
    for (i, env) in cases.iter().enumerate() {
        let want = open_record(env, &r);
        assert_eq!(ready.open(env), want, "case {i}");
        let split = ready.check_tag(env).and_then(|c| open_checked(env, c));
        assert_eq!(split, want, "case {i} (split)");
        accepted += usize::from(want.is_ok());
    }
    assert_eq!(accepted, 2, "the original and the JSON-format remac");
}

/// A tag check vouches only for bytes of the length it checked: anything else is refused.
#[test]
fn a_tag_check_is_not_reused_for_other_bytes() {
    let ready = RecordKeys::new(&ring());
    let a = sealed(1, false);
    let checked = ready.check_tag(&a).unwrap();
    let mut longer = a.clone();
    longer.push(0);
    assert_eq!(open_checked(&longer, checked), Err(RecordError::BadTag));
    assert_eq!(
        open_checked(&a[..a.len() - 1], checked),
        Err(RecordError::BadTag)
    );
    // Bytes of the same length are the caller's contract (same frame); the fields are read
    // from them.
    assert_eq!(open_checked(&a, checked).map(|r| r.seq), Ok(1));
    // No key: nothing verifies.
    let none = RecordKeys::new(&KeyRing::new());
    assert!(none.is_empty());
    assert!(matches!(
        none.check_tag(&a),
        Err(RecordError::UnknownKey { .. })
    ));
}

#[test]
fn a_config_signature_is_not_a_record_tag() {
    // Same key, same bytes, other domain: must not verify.
    let env = sealed(1, false);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(b"logwire/config/v1\0");
    mac.update(&env[..env.len() - 32]);
    let mut forged = env[..env.len() - 32].to_vec();
    forged.extend_from_slice(&mac.finalize().into_bytes());
    assert_eq!(open_record(&forged, &ring()), Err(RecordError::BadTag));
}

#[test]
fn sealing_refuses_bad_inputs() {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    assert!(matches!(
        seal_record(&ed, EPOCH, 1, PayloadFormat::Json, false, b"{}"),
        Err(RecordError::NotHmacKey(_))
    ));
    assert_eq!(
        seal_record(&key(), EPOCH, 0, PayloadFormat::Json, false, b"{}"),
        Err(RecordError::ZeroSeq)
    );
}

#[test]
fn replay_window_basics() {
    let mut w = ReplayWindow::new();
    assert_eq!(w.mark(0), ReplayVerdict::TooOld);
    assert_eq!(w.mark(1), ReplayVerdict::New);
    assert_eq!(w.mark(1), ReplayVerdict::Duplicate);
    assert_eq!(w.mark(3), ReplayVerdict::New);
    assert_eq!(w.contiguous(), 1);
    assert_eq!(w.check(2), ReplayVerdict::New);
    assert_eq!(w.mark(2), ReplayVerdict::New); // out of order, within the window
    assert_eq!(w.contiguous(), 3);
    assert_eq!(w.mark(2), ReplayVerdict::Duplicate);
    assert_eq!(w.highest(), 3);
    assert_eq!(w.missing(), 0);
}

#[test]
fn replay_window_slides() {
    let mut w = ReplayWindow::new();
    assert_eq!(w.mark(1), ReplayVerdict::New);
    let top = 1 + REPLAY_WINDOW;
    assert_eq!(w.mark(top), ReplayVerdict::New);
    // 1 is now exactly out of the window; 2 is the lowest seq still inside.
    assert_eq!(w.check(1), ReplayVerdict::TooOld);
    assert_eq!(w.check(top - REPLAY_WINDOW + 1), ReplayVerdict::New);
    // Seqs 2 ..= top-W were never seen and have left the window... none yet (top-W = 1).
    assert_eq!(w.missing(), 0);
    assert_eq!(w.contiguous(), 1);
    // A big jump: everything in between is missing, bitmap reset, old seqs too old.
    let far = top + 10 * REPLAY_WINDOW;
    assert_eq!(w.mark(far), ReplayVerdict::New);
    assert_eq!(w.check(top), ReplayVerdict::TooOld);
    assert_eq!(w.contiguous(), far - REPLAY_WINDOW);
    // Seen: 1, top. Given up: everything else up to far - W.
    assert_eq!(w.missing(), far - REPLAY_WINDOW - 2);
    // The window holds only `far`.
    assert_eq!(w.check(far - 1), ReplayVerdict::New);
    assert_eq!(w.check(far), ReplayVerdict::Duplicate);
    // Huge seqs do not overflow.
    assert_eq!(w.mark(u64::MAX), ReplayVerdict::New);
    assert_eq!(w.mark(u64::MAX), ReplayVerdict::Duplicate);
    assert_eq!(w.check(u64::MAX - REPLAY_WINDOW), ReplayVerdict::TooOld);
    assert_eq!(w.check(u64::MAX - REPLAY_WINDOW + 1), ReplayVerdict::New);
}

#[test]
fn replay_window_reuses_bits_correctly() {
    // Every seq marked once in order over several window lengths: never a false duplicate,
    // and every seq just below the window is too old.
    let mut w = ReplayWindow::new();
    for s in 1..=3 * REPLAY_WINDOW {
        assert_eq!(w.mark(s), ReplayVerdict::New, "{s}");
        if s > REPLAY_WINDOW {
            assert_eq!(w.check(s - REPLAY_WINDOW), ReplayVerdict::TooOld);
            assert_eq!(w.check(s - REPLAY_WINDOW + 1), ReplayVerdict::Duplicate);
        }
    }
    assert_eq!(w.contiguous(), 3 * REPLAY_WINDOW);
    assert_eq!(w.missing(), 0);
}

#[test]
fn replay_window_gap_accounting() {
    let mut w = ReplayWindow::new();
    for s in [1, 2, 4, 5] {
        w.mark(s);
    }
    assert_eq!(w.contiguous(), 2);
    // Slide so that 3 leaves the window: it is missing, contiguous jumps past it.
    w.mark(5 + REPLAY_WINDOW);
    assert_eq!(w.missing(), 1);
    assert_eq!(w.contiguous(), 5);
}

#[test]
fn tracker_separates_epochs_and_keys_and_evicts_lru() {
    let k1 = key().key_id();
    let k2 = SigningKey::ed25519_from_seed(&[1; 32]).key_id();
    let e = |b: u8| Epoch([b; 16]);
    let mut t = ReplayTracker::new(3);
    assert_eq!(t.mark(k1, e(1), 1), ReplayVerdict::New);
    assert_eq!(t.mark(k1, e(1), 1), ReplayVerdict::Duplicate);
    assert_eq!(t.check(k1, e(1), 1), ReplayVerdict::Duplicate);
    assert_eq!(t.mark(k1, e(2), 1), ReplayVerdict::New);
    assert_eq!(t.mark(k2, e(1), 1), ReplayVerdict::New);
    assert_eq!(t.mark(k1, e(3), 1), ReplayVerdict::New);
    assert_eq!(t.epochs_tracked(k1), 3);
    // Touch epoch 1 so epoch 2 is the least recently used.
    assert_eq!(t.mark(k1, e(1), 2), ReplayVerdict::New);
    assert_eq!(t.mark(k1, e(4), 1), ReplayVerdict::New);
    assert_eq!(t.epochs_tracked(k1), 3);
    assert_eq!(t.evicted(), 1);
    assert!(t.window(k1, e(2)).is_none());
    assert_eq!(t.window(k1, e(1)).unwrap().contiguous(), 2);
    // The other key's epochs are untouched.
    assert_eq!(t.epochs_tracked(k2), 1);
    assert_eq!(t.mark(k1, e(1), 0), ReplayVerdict::TooOld);
    t.forget_key(k1);
    assert_eq!(t.epochs_tracked(k1), 0);
}

#[test]
fn epoch_flood_stays_bounded() {
    let k1 = key().key_id();
    let mut t = ReplayTracker::new(8);
    for i in 0..1000u32 {
        let mut epoch = [0u8; 16];
        epoch[..4].copy_from_slice(&i.to_be_bytes());
        t.mark(k1, Epoch(epoch), 1);
    }
    assert_eq!(t.epochs_tracked(k1), 8);
    assert_eq!(t.evicted(), 992);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let want = open_record(&bytes, &ring());
            prop_assert_eq!(RecordKeys::new(&ring()).open(&bytes), want);
        }

        #[test]
        fn plausible_headers_never_panic(
            head in proptest::collection::vec(any::<u8>(), 36),
            n in any::<u32>(),
            tail in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut env = b"LWR1".to_vec();
            env.extend_from_slice(&head);
            env[8..16].copy_from_slice(&key().key_id().0);
            env.extend_from_slice(&n.to_be_bytes());
            env.extend_from_slice(&tail);
            prop_assert!(open_record(&env, &ring()).is_err());
        }

        #[test]
        fn window_agrees_with_a_set(seqs in proptest::collection::vec(1u64..20_000, 0..300)) {
            let mut w = ReplayWindow::new();
            let mut seen = std::collections::BTreeSet::new();
            let mut highest = 0u64;
            for s in seqs {
                let expected = if s + REPLAY_WINDOW <= highest {
                    ReplayVerdict::TooOld
                } else if seen.contains(&s) {
                    ReplayVerdict::Duplicate
                } else {
                    ReplayVerdict::New
                };
                prop_assert_eq!(w.mark(s), expected);
                if expected == ReplayVerdict::New {
                    seen.insert(s);
                    highest = highest.max(s);
                }
                prop_assert!(w.contiguous() <= w.highest());
                // Every seq up to `contiguous` is either seen or counted missing, once.
                let seen_below = seen.range(..=w.contiguous()).count() as u64;
                prop_assert_eq!(seen_below + w.missing(), w.contiguous());
            }
        }
    }
}
