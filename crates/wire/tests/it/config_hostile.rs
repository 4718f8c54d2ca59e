//! Hostile inputs for LWC1 config envelopes.

use logwire_wire::{
    Audience, ConfigEnvelope, ConfigVerifier, EnvelopeError, FixedClock, KeyRing,
    MAX_CONFIG_FUTURE_SKEW_MS, MAX_CONFIG_LIFETIME_MS, SeqRatchet, SigningKey, sign_config,
    sign_config_to,
};

const T: i64 = 1_763_750_000_000;
const HOUR: i64 = 3_600_000;

fn ed() -> SigningKey {
    SigningKey::ed25519_from_seed(&[42; 32])
}

fn hmac() -> SigningKey {
    SigningKey::from_file_text("hmac:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
}

fn ring() -> KeyRing {
    [ed().verify_key(), hmac().verify_key()]
        .into_iter()
        .collect()
}

fn verify(env: &[u8], now: i64, audience: Option<&str>) -> Result<u64, EnvelopeError> {
    let ring = ring();
    let clock = FixedClock(now);
    ConfigVerifier::new(&ring, &clock)
        .audience(audience.map(Audience::for_name))
        .verify(env)
        .map(|v| v.seq)
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for key in [ed(), hmac()] {
        let env = sign_config(&key, 9, T, T + HOUR, Some("grp"), br#"{"version": 1}"#).unwrap();
        assert_eq!(verify(&env, T, Some("grp")), Ok(9));
        for i in 0..env.len() {
            for bit in 0..8 {
                let mut bad = env.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    verify(&bad, T, Some("grp")).is_err(),
                    "{:?}: flip of byte {i} bit {bit} accepted",
                    key.alg()
                );
            }
        }
    }
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    for key in [ed(), hmac()] {
        let env = sign_config(&key, 1, T, T + HOUR, None, b"[loggers]\nkeys=root\n").unwrap();
        for len in 0..env.len() {
            assert!(verify(&env[..len], T, None).is_err(), "truncated to {len}");
        }
        let mut long = env.clone();
        long.push(0);
        assert!(matches!(
            verify(&long, T, None),
            Err(EnvelopeError::BadLength { .. })
        ));
    }
}

#[test]
fn header_checks_come_in_order() {
    let env = sign_config(&hmac(), 1, T, T + HOUR, None, b"{}").unwrap();
    let with = |at: usize, b: u8| {
        let mut e = env.clone();
        e[at] = b;
        verify(&e, T, None)
    };
    assert_eq!(with(0, b'X'), Err(EnvelopeError::BadMagic));
    assert_eq!(with(4, 3), Err(EnvelopeError::UnknownAlg(3)));
    assert_eq!(with(4, 0), Err(EnvelopeError::UnknownAlg(0)));
    for at in 5..8 {
        assert_eq!(with(at, 1), Err(EnvelopeError::ReservedNonZero));
    }
    // Unknown key id.
    assert!(matches!(
        with(8, env[8] ^ 0xFF),
        Err(EnvelopeError::UnknownKey { .. })
    ));
    // A wrong N: the exact-length check fires before the signature check.
    assert!(matches!(with(59, 3), Err(EnvelopeError::BadLength { .. })));
    assert!(matches!(
        with(56, 0xFF),
        Err(EnvelopeError::BadLength { .. })
    ));
    // Payload and signature bytes: the signature check.
    assert_eq!(with(60, b'['), Err(EnvelopeError::BadSignature));
    assert_eq!(
        with(env.len() - 1, env[env.len() - 1] ^ 1),
        Err(EnvelopeError::BadSignature)
    );
    assert_eq!(verify(b"", T, None), Err(EnvelopeError::BadMagic));
    assert_eq!(
        verify(b"{\"version\": 1}", T, None),
        Err(EnvelopeError::BadMagic)
    );
    assert_eq!(
        verify(b"LW", T, None),
        Err(EnvelopeError::Truncated { len: 2 })
    );
    assert_eq!(
        verify(&env[..59], T, None),
        Err(EnvelopeError::Truncated { len: 59 })
    );
}

#[test]
fn wrong_alg_for_the_key_is_rejected() {
    // HMAC key's frame relabelled as Ed25519, and the reverse.
    let mut env = sign_config(&hmac(), 1, T, T + HOUR, None, b"{}").unwrap();
    env[4] = 1;
    assert!(matches!(
        verify(&env, T, None),
        Err(EnvelopeError::AlgMismatch { .. })
    ));
    let mut env = sign_config(&ed(), 1, T, T + HOUR, None, b"{}").unwrap();
    env[4] = 2;
    let err = verify(&env, T, None).unwrap_err();
    assert!(matches!(err, EnvelopeError::AlgMismatch { .. }));
    assert!(err.to_string().contains("Ed25519"), "{err}");
}

#[test]
fn unknown_key_is_rejected_and_rotation_works() {
    let stranger = SigningKey::ed25519_from_seed(&[7; 32]);
    let env = sign_config(&stranger, 1, T, T + HOUR, None, b"{}").unwrap();
    let err = verify(&env, T, None).unwrap_err();
    assert_eq!(
        err,
        EnvelopeError::UnknownKey {
            key_id: stranger.key_id()
        }
    );
    assert!(err.to_string().contains(&stranger.key_id().to_string()));

    // Two keys at once, then the old one removed.
    let mut ring = ring();
    ring.insert(stranger.verify_key());
    let clock = FixedClock(T);
    assert!(ConfigVerifier::new(&ring, &clock).verify(&env).is_ok());
    ring.remove(&stranger.key_id());
    assert!(ConfigVerifier::new(&ring, &clock).verify(&env).is_err());
}

#[test]
fn an_unsigned_key_of_the_right_id_cannot_substitute() {
    // A frame signed by another Ed25519 key but carrying our key id fails the signature.
    let other = SigningKey::ed25519_from_seed(&[8; 32]);
    let mut env = sign_config(&other, 1, T, T + HOUR, None, b"{}").unwrap();
    env[8..16].copy_from_slice(&ed().key_id().0);
    assert_eq!(verify(&env, T, None), Err(EnvelopeError::BadSignature));
}

#[test]
fn time_window() {
    let k = ed();
    let sign =
        |issued: i64, expires: i64| sign_config(&k, 1, issued, expires, None, b"{}").unwrap();

    // Expired: now past expires_at (equal is still valid).
    let env = sign(T, T + HOUR);
    assert!(verify(&env, T + HOUR, None).is_ok());
    assert!(matches!(
        verify(&env, T + HOUR + 1, None),
        Err(EnvelopeError::Expired { .. })
    ));
    // Future-dated: up to 300 s of skew is fine, beyond is not.
    assert!(verify(&env, T - MAX_CONFIG_FUTURE_SKEW_MS, None).is_ok());
    assert!(matches!(
        verify(&env, T - MAX_CONFIG_FUTURE_SKEW_MS - 1, None),
        Err(EnvelopeError::NotYetValid { .. })
    ));
    // Lifetime: exactly 7 days is fine, a millisecond more is not.
    assert!(verify(&sign(T, T + MAX_CONFIG_LIFETIME_MS), T, None).is_ok());
    assert!(matches!(
        verify(&sign(T, T + MAX_CONFIG_LIFETIME_MS + 1), T, None),
        Err(EnvelopeError::LifetimeTooLong { .. })
    ));
    // expires <= issued.
    for expires in [T, T - 1, i64::MIN] {
        assert!(matches!(
            verify(&sign(T, expires), T, None),
            Err(EnvelopeError::BadTimeWindow { .. })
        ));
    }
    // Extremes do not overflow.
    assert!(matches!(
        verify(&sign(i64::MIN, i64::MAX), T, None),
        Err(EnvelopeError::LifetimeTooLong { .. })
    ));
    assert!(matches!(
        verify(&sign(i64::MAX - 1, i64::MAX), i64::MIN, None),
        Err(EnvelopeError::NotYetValid { .. })
    ));
    assert!(matches!(
        verify(&sign(i64::MIN, i64::MIN + 1), i64::MAX, None),
        Err(EnvelopeError::Expired { .. })
    ));
}

#[test]
fn audience() {
    let k = hmac();
    let named = sign_config(&k, 1, T, T + HOUR, Some("payments-prod"), b"{}").unwrap();
    let any = sign_config(&k, 1, T, T + HOUR, None, b"{}").unwrap();
    assert!(verify(&named, T, Some("payments-prod")).is_ok());
    let err = verify(&named, T, Some("payments-dev")).unwrap_err();
    assert!(matches!(err, EnvelopeError::WrongAudience { .. }));
    // A listener without an audience refuses frames meant for a named audience.
    let err = verify(&named, T, None).unwrap_err();
    assert!(err.to_string().contains("no audience"), "{err}");
    assert!(verify(&any, T, None).is_ok());
    assert!(verify(&any, T, Some("payments-prod")).is_ok());
    assert_eq!(
        ConfigEnvelope::parse(&named).unwrap().audience(),
        Audience::for_name("payments-prod")
    );
    assert!(Audience::ANY.is_any());
    // Explicit all-zero audience is the same as None.
    let zero = sign_config_to(&k, 1, T, T + HOUR, Audience::ANY, b"{}").unwrap();
    assert_eq!(zero, any);
}

#[test]
fn unverified_view_exposes_the_claimed_seq() {
    let env = sign_config(&ed(), 77, T, T + HOUR, None, b"{}").unwrap();
    let view = ConfigEnvelope::parse(&env).unwrap();
    assert_eq!(view.seq(), 77);
    assert_eq!(view.payload_len(), 2);
    assert_eq!(view.expected_len(), env.len() as u64);
    assert!(logwire_wire::is_config_envelope(&env));
    assert!(!logwire_wire::is_config_envelope(b"{}"));
}

#[test]
fn seq_ratchet() {
    let id = ed().key_id();
    let other = hmac().key_id();
    let mut r = SeqRatchet::new();
    assert!(r.check(id, 0).is_ok());
    r.advance(id, 5).unwrap();
    assert!(matches!(
        r.check(id, 5),
        Err(EnvelopeError::SeqNotIncreasing { last: 5, .. })
    ));
    assert!(r.advance(id, 4).is_err());
    assert_eq!(r.last(&id), Some(5));
    r.advance(id, 6).unwrap();
    // Per key.
    r.advance(other, 1).unwrap();
    let restored = SeqRatchet::from_entries(r.entries());
    assert_eq!(restored, r);
    assert_eq!(r.reset(&id), Some(6));
    assert!(r.check(id, 1).is_ok());
}

#[test]
fn errors_have_readable_reasons() {
    let reasons = [
        EnvelopeError::BadMagic.to_string(),
        EnvelopeError::BadSignature.to_string(),
        EnvelopeError::UnknownAlg(9).to_string(),
    ];
    assert!(reasons.iter().all(|r| !r.is_empty()));
    assert_eq!(EnvelopeError::BadSignature.to_string(), "bad signature");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = verify(&bytes, T, Some("x"));
            let _ = ConfigEnvelope::parse(&bytes);
        }

        #[test]
        fn arbitrary_bodies_after_a_plausible_header_never_panic(
            alg in 0u8..4,
            tail in proptest::collection::vec(any::<u8>(), 0..200),
            n in any::<u32>(),
            use_known_key in any::<bool>(),
        ) {
            let mut env = b"LWC1".to_vec();
            env.push(alg);
            env.extend_from_slice(&[0, 0, 0]);
            let id = if use_known_key { ed().key_id().0 } else { [1; 8] };
            env.extend_from_slice(&id);
            env.extend_from_slice(&[0; 48]);
            env[56..60].copy_from_slice(&n.to_be_bytes());
            env.extend_from_slice(&tail);
            prop_assert!(verify(&env, T, None).is_err());
        }
    }
}
