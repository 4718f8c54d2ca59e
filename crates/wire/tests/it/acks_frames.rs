//! Acks, config replies and framing under hostile input.

use logwire_wire::{
    AckError, ConfigReply, ConfigStatus, Epoch, FrameDecoder, FrameError, MAX_REASON_BYTES,
    RecordAck, encode_frame, split_datagram,
};

#[test]
fn record_ack_layout() {
    let ack = RecordAck {
        epoch: Epoch::from_hex("00112233445566778899aabbccddeeff").unwrap(),
        seq: 0x0102,
    };
    let body = ack.encode();
    assert_eq!(&body[..4], b"LWA1");
    assert_eq!(body[4], 0x00);
    assert_eq!(body[19], 0xff);
    assert_eq!(&body[20..], &[0, 0, 0, 0, 0, 0, 1, 2]);
    let framed = ack.encode_frame();
    assert_eq!(&framed[..4], &[0, 0, 0, 28]);
    assert_eq!(RecordAck::parse(split_datagram(&framed).unwrap()), Ok(ack));
}

#[test]
fn record_ack_rejects_garbage() {
    let body = RecordAck {
        epoch: Epoch([1; 16]),
        seq: 9,
    }
    .encode();
    for len in 0..body.len() {
        assert!(RecordAck::parse(&body[..len]).is_err());
    }
    let mut long = body.to_vec();
    long.push(0);
    assert!(RecordAck::parse(&long).is_err());
    let mut bad = body;
    bad[3] = b'2';
    assert_eq!(
        RecordAck::parse(&bad),
        Err(AckError::BadRecordAck { len: 28 })
    );
}

#[test]
fn config_reply_round_trip_and_shape() {
    for reply in [
        ConfigReply::applied(7),
        ConfigReply::rejected(0, "bad signature"),
        ConfigReply::rejected(u64::MAX, "quotes \" and \\ and \n and ünïcode"),
    ] {
        let json = reply.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["status"], reply.status.as_str());
        assert_eq!(v["reason"], reply.reason.as_str());
        assert_eq!(v["seq"], reply.seq);
        let framed = reply.encode_frame();
        assert_eq!(
            ConfigReply::parse(split_datagram(&framed).unwrap()),
            Ok(reply)
        );
    }
}

#[test]
fn config_reply_parsing_is_lenient_where_harmless() {
    let r = ConfigReply::parse(br#"{"status": "applied"}"#).unwrap();
    assert_eq!(
        (r.status, r.reason.as_str(), r.seq),
        (ConfigStatus::Applied, "", 0)
    );
    let r = ConfigReply::parse(br#"{"status":"rejected","reason":null,"seq":null,"x":1}"#).unwrap();
    assert_eq!(r.status, ConfigStatus::Rejected);
}

#[test]
fn config_reply_rejects_garbage() {
    for body in [
        &b""[..],
        b"[]",
        b"\"applied\"",
        b"{}",
        br#"{"status": "ok"}"#,
        br#"{"status": 1}"#,
        br#"{"status": "applied", "seq": -1}"#,
        br#"{"status": "applied", "seq": 1.5}"#,
        br#"{"status": "applied", "reason": 5}"#,
        b"{\"status\": \"applied\"",
        b"\xff\xfe",
    ] {
        assert!(
            matches!(ConfigReply::parse(body), Err(AckError::BadReply(_))),
            "{body:?}"
        );
    }
    let huge = vec![b' '; 64 * 1024];
    assert!(matches!(
        ConfigReply::parse(&huge),
        Err(AckError::ReplyTooLarge { .. })
    ));
    // Deep nesting is bounded by the size cap and serde_json's recursion limit.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(ConfigReply::parse(deep.as_bytes()).is_err());
}

#[test]
fn long_reasons_are_cut_at_a_char_boundary() {
    let reason = "é".repeat(MAX_REASON_BYTES);
    let reply = ConfigReply::rejected(1, reason);
    let back = ConfigReply::parse(reply.to_json().as_bytes()).unwrap();
    assert!(back.reason.len() <= MAX_REASON_BYTES);
    assert!(back.reason.len() >= MAX_REASON_BYTES - 1);
    assert!(back.reason.chars().all(|c| c == 'é'));
}

#[test]
fn decoder_with_max_length_errors_before_buffering() {
    let mut d = FrameDecoder::new(256 * 1024);
    let err = d.push(&[0xFF, 0xFF, 0xFF, 0xFF]).unwrap_err();
    assert!(matches!(
        err,
        FrameError::TooLarge {
            len: 0xFFFF_FFFF,
            ..
        }
    ));
    assert!(err.to_string().contains("exceeds the cap"));
    assert!(d.pop().is_none());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = RecordAck::parse(&bytes);
            let _ = ConfigReply::parse(&bytes);
            let _ = split_datagram(&bytes);
            let mut d = FrameDecoder::new(64);
            let _ = d.push(&bytes);
            while d.pop().is_some() {}
            let _ = d.finish();
        }

        #[test]
        fn decoder_reassembles_any_split(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..8),
            cuts in proptest::collection::vec(1usize..40, 0..20),
        ) {
            let wire: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p)).collect();
            let mut d = FrameDecoder::new(50);
            let mut rest = &wire[..];
            let mut out = Vec::new();
            for c in cuts.iter().cycle().take(wire.len() + 1) {
                if rest.is_empty() { break; }
                let n = (*c).min(rest.len());
                d.push(&rest[..n]).unwrap();
                rest = &rest[n..];
                while let Some(f) = d.pop() { out.push(f); }
            }
            d.push(rest).unwrap();
            while let Some(f) = d.pop() { out.push(f); }
            prop_assert_eq!(out, payloads);
            prop_assert!(d.finish().is_ok());
        }
    }
}
