//! Decode speed of a typical SocketHandler record. Ignored by default (meaningful only in
//! release): `cargo test --release -p logwire-pickle --test it speed -- --ignored --nocapture`.

use std::time::Instant;

use crate::common::{python, unhex};
use logwire_pickle::{DecodeLimits, PickleDecoder, encode_record_protocol1};

#[test]
#[ignore]
fn decode_speed_of_a_typical_record() {
    let script = "import logging, logging.handlers
r = logging.getLogger('svc.api.handlers').makeRecord('svc.api.handlers', logging.INFO,
    '/srv/app/service/api/handlers.py', 214, 'request %s %s finished in %.3f ms',
    ('GET', '/v1/items/42', 12.5), None, 'handle_request',
    {'request_id': '6f1c2a9e-4b7d-4c1e-9a2f-0d3b5e7c9a11', 'user': 'alice', 'status': 200})
print(logging.handlers.SocketHandler('localhost', None).makePickle(r)[4:].hex())
";
    let record = unhex(python(script, "").trim());
    let mut decoder = PickleDecoder::new(DecodeLimits::default());
    let fields = decoder.decode_record_dict(&record).unwrap();
    let n: u32 = std::env::var("LOGWIRE_SPEED_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let t = Instant::now();
    for _ in 0..n {
        let f = decoder
            .decode_record_dict(std::hint::black_box(&record))
            .unwrap();
        std::hint::black_box(f);
    }
    let per = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(encode_record_protocol1(std::hint::black_box(&fields)).unwrap());
    }
    let enc = t.elapsed() / n;
    println!(
        "record of {} bytes, {} fields: decode {per:?}, encode {enc:?}",
        record.len(),
        fields.len()
    );
}

#[test]
fn encoder_is_reusable() {
    let mut e = logwire_pickle::Protocol1Encoder::default();
    let v = logwire_pickle::PickleValue::List(vec![logwire_pickle::PickleValue::Bytes(vec![])]);
    e.encode_value(&v).unwrap();
    let first = e.into_bytes();
    let mut e = logwire_pickle::Protocol1Encoder::default();
    e.encode_value(&v).unwrap();
    e.encode_value(&v).unwrap();
    let both = e.into_bytes();
    assert_eq!(both, [first.clone(), first].concat());
}
