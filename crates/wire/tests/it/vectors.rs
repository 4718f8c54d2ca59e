//! The independent implementation's vectors (`testdata/vectors/envelopes.json`, a copy of
//! shared/vectors/envelopes.json that `testdata_matches_shared` keeps in step).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use logwire_wire::{
    Alg, Audience, ConfigVerifier, EnvelopeError, Epoch, FixedClock, KeyId, KeyRing, PayloadFormat,
    RecordError, SigningKey, VerifyKey, split_datagram,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vectors/envelopes.json"
    );
    let text = std::fs::read_to_string(path).expect("read testdata/vectors/envelopes.json");
    serde_json::from_str(&text).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

struct Keys {
    hmac: SigningKey,
    ed: SigningKey,
    ring: KeyRing,
}

fn keys(v: &Value) -> Keys {
    let k = &v["keys"];
    let hmac =
        SigningKey::from_file_text(&format!("hmac:{}", k["hmac_key"].as_str().unwrap())).unwrap();
    let ed = SigningKey::from_file_text(&format!(
        "ed25519-private:{}",
        k["ed25519_seed"].as_str().unwrap()
    ))
    .unwrap();
    let ring: KeyRing = [hmac.verify_key(), ed.verify_key()].into_iter().collect();
    Keys { hmac, ed, ring }
}

#[test]
fn key_ids_and_public_key_match() {
    let v = vectors();
    let k = keys(&v);
    let hmac_id = KeyId::from_hex(v["keys"]["hmac_key_id_hex"].as_str().unwrap()).unwrap();
    let ed_id = KeyId::from_hex(v["keys"]["ed25519_key_id_hex"].as_str().unwrap()).unwrap();
    assert_eq!(k.hmac.key_id(), hmac_id);
    assert_eq!(k.ed.key_id(), ed_id);
    assert_eq!(k.hmac.key_id().to_string(), v["keys"]["hmac_key_id_hex"]);

    let public = VerifyKey::from_file_text(&format!(
        "ed25519-public:{}",
        v["keys"]["ed25519_public"].as_str().unwrap()
    ))
    .unwrap();
    assert_eq!(public, k.ed.verify_key());
    assert_eq!(public.key_id(), ed_id);
}

#[test]
fn config_frames_verify_and_reproduce() {
    let v = vectors();
    let k = keys(&v);
    let frames = v["config_frames"].as_array().unwrap();
    assert!(!frames.is_empty());
    for f in frames {
        let name = f["name"].as_str().unwrap();
        let frame = b64(&f["frame"]);
        let env = split_datagram(&frame).unwrap();
        let issued = f["issued_at_ms"].as_i64().unwrap();
        let expires = f["expires_at_ms"].as_i64().unwrap();
        let seq = f["seq"].as_u64().unwrap();
        let payload = b64(&f["payload"]);
        let audience = f["audience"].as_str();
        let signer = match f["alg"].as_u64().unwrap() {
            1 => &k.ed,
            2 => &k.hmac,
            other => panic!("{name}: alg {other}"),
        };

        for now in [issued, issued + 1, expires, issued - 300_000] {
            let clock = FixedClock(now);
            let verifier =
                ConfigVerifier::new(&k.ring, &clock).audience(audience.map(Audience::for_name));
            let ok = verifier
                .verify(env)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ok.payload, payload.as_slice(), "{name}");
            assert_eq!(ok.seq, seq, "{name}");
            assert_eq!(ok.key_id, signer.key_id(), "{name}");
            assert_eq!(ok.alg.to_byte() as u64, f["alg"].as_u64().unwrap());
            assert_eq!((ok.issued_at_ms, ok.expires_at_ms), (issued, expires));
        }

        // Outside the window.
        let late = FixedClock(expires + 1);
        assert!(matches!(
            logwire_wire::verify_config(env, &k.ring, &late, audience.map(Audience::for_name)),
            Err(EnvelopeError::Expired { .. })
        ));
        let early = FixedClock(issued - 300_001);
        assert!(matches!(
            logwire_wire::verify_config(env, &k.ring, &early, audience.map(Audience::for_name)),
            Err(EnvelopeError::NotYetValid { .. })
        ));
        // Audience rules.
        let clock = FixedClock(issued);
        let other = logwire_wire::verify_config(
            env,
            &k.ring,
            &clock,
            Some(Audience::for_name("someone-else")),
        );
        let none = logwire_wire::verify_config(env, &k.ring, &clock, None);
        if audience.is_some() {
            assert!(
                matches!(other, Err(EnvelopeError::WrongAudience { .. })),
                "{name}"
            );
            assert!(
                matches!(none, Err(EnvelopeError::WrongAudience { .. })),
                "{name}"
            );
        } else {
            assert!(other.is_ok() && none.is_ok(), "{name}");
        }

        // Byte-for-byte reproduction (Ed25519 and HMAC are deterministic).
        let ours =
            logwire_wire::sign_config_frame(signer, seq, issued, expires, audience, &payload)
                .unwrap();
        assert_eq!(ours, frame, "{name}: signing must reproduce the vector");
    }
}

#[test]
fn record_frames_verify_and_reproduce() {
    let v = vectors();
    let k = keys(&v);
    let frames = v["record_frames"].as_array().unwrap();
    assert!(!frames.is_empty());
    for f in frames {
        let name = f["name"].as_str().unwrap();
        let frame = b64(&f["frame"]);
        let env = split_datagram(&frame).unwrap();
        let rec = logwire_wire::open_record(env, &k.ring).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The keyed-once path and the split check (tag, then fields) read the same record.
        let ready = logwire_wire::RecordKeys::new(&k.ring);
        assert_eq!(ready.open(env), Ok(rec), "{name}");
        let checked = ready
            .check_tag(env)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(logwire_wire::open_checked(env, checked), Ok(rec), "{name}");
        let epoch = Epoch::from_hex(f["epoch_hex"].as_str().unwrap()).unwrap();
        let format = PayloadFormat::from_byte(f["format"].as_u64().unwrap() as u8).unwrap();
        let payload = b64(&f["payload"]);
        assert_eq!(rec.key_id, k.hmac.key_id());
        assert_eq!(rec.epoch, epoch);
        assert_eq!(rec.seq, f["seq"].as_u64().unwrap());
        assert_eq!(rec.format, format);
        assert_eq!(rec.ack_requested, f["ack_requested"].as_bool().unwrap());
        assert_eq!(rec.payload, payload.as_slice());

        let ours = logwire_wire::seal_record_frame(
            &k.hmac,
            epoch,
            rec.seq,
            format,
            rec.ack_requested,
            &payload,
        )
        .unwrap();
        assert_eq!(ours, frame, "{name}: sealing must reproduce the vector");
    }
}

#[test]
fn must_reject_vectors_are_rejected_for_the_stated_reason() {
    let v = vectors();
    let k = keys(&v);
    let cases = v["must_reject"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let why = c["why"].as_str().unwrap().to_lowercase();
        let frame = b64(&c["frame"]);
        let env = split_datagram(&frame).unwrap();
        if logwire_wire::is_config_envelope(env) {
            // Any time and audience: the signature check comes first.
            let clock = FixedClock(1_763_750_000_000);
            let err = ConfigVerifier::new(&k.ring, &clock)
                .verify(env)
                .expect_err(name);
            if why.contains("signature") {
                assert_eq!(err, EnvelopeError::BadSignature, "{name}");
            }
        } else {
            let err = logwire_wire::open_record(env, &k.ring).expect_err(name);
            let ready = logwire_wire::RecordKeys::new(&k.ring);
            assert_eq!(
                ready.open(env),
                Err(err.clone()),
                "{name}: same error keyed once"
            );
            if err != RecordError::ZeroSeq {
                assert_eq!(ready.check_tag(env), Err(err.clone()), "{name}: tag check");
            }
            if why.contains("signature") || why.contains("tag") {
                assert_eq!(err, RecordError::BadTag, "{name}");
            }
        }
    }
}

#[test]
fn vector_alg_bytes_match_our_numbering() {
    assert_eq!(Alg::Ed25519.to_byte(), 1);
    assert_eq!(Alg::HmacSha256.to_byte(), 2);
}

#[test]
fn vector_frames_come_through_the_stream_decoder() {
    use logwire_wire::FrameDecoder;
    let v = vectors();
    let frames: Vec<Vec<u8>> = ["config_frames", "record_frames"]
        .iter()
        .flat_map(|k| v[*k].as_array().unwrap().iter().map(|f| b64(&f["frame"])))
        .collect();
    let wire = frames.concat();
    let mut d = FrameDecoder::new(64 * 1024);
    for chunk in wire.chunks(13) {
        d.push(chunk).unwrap();
    }
    d.finish().unwrap();
    for f in &frames {
        assert_eq!(d.pop().unwrap(), f[4..]);
    }
    assert!(d.pop().is_none());
    // The record frames also work as datagrams; a cap below their size stops them early.
    let mut small = FrameDecoder::new(100);
    assert!(small.push(&frames[1]).is_err());
}

/// The repository carries its own copy of the vectors, so a clean clone tests on its own;
/// where the shared original sits next to the repository, the copy must not have drifted.
#[test]
fn testdata_matches_shared() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let copy = std::fs::read(root.join("testdata/vectors/envelopes.json")).unwrap();
    match std::fs::read(root.join("../shared/vectors/envelopes.json")) {
        Ok(shared) => assert!(
            copy == shared,
            "testdata/vectors/envelopes.json differs from shared/"
        ),
        Err(e) => eprintln!("no shared/ next to the repository ({e}): the copy is the reference"),
    }
}
