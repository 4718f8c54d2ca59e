//! The pickle parser and the collector's per-record decode (parse + map to a `LogRecord`),
//! without sockets or handlers, on records CPython's `SocketHandler` made. Replaces the
//! ignored timing test `crates/pickle/tests/speed.rs` and `logwire serve --bench-decode`.
//!
//! `cargo bench -p logwire-bench --bench pickle_parse`

mod common;
use common as frames;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logwire_pickle::{DecodeLimits, PickleDecoder, encode_record_protocol1};
use logwire_record::{Format, RecordMapper, RecordPool};
use std::hint::black_box;

const RECORDS: usize = 1_000;

fn parse(c: &mut Criterion) {
    let wire = frames::cpython_frames(RECORDS);
    let payloads = frames::payloads(&wire);
    let mut g = c.benchmark_group("pickle");
    g.throughput(Throughput::Elements(payloads.len() as u64));

    let mut decoder = PickleDecoder::new(DecodeLimits::default());
    g.bench_function("decode_record_dict", |b| {
        b.iter(|| {
            for p in &payloads {
                black_box(decoder.decode_record_dict(black_box(p)).unwrap());
            }
        })
    });

    let fields = decoder.decode_record_dict(payloads[0]).unwrap();
    g.bench_function("encode_record_protocol1", |b| {
        b.iter(|| {
            for _ in 0..payloads.len() {
                black_box(encode_record_protocol1(black_box(&fields)).unwrap());
            }
        })
    });

    // The collector's decode: parse + map, records given back for reuse in bursts of 256 as
    // the dispatcher does.
    let mut mapper = RecordMapper::default();
    let mut spent = Vec::with_capacity(256);
    g.bench_function("map (parse + map)", |b| {
        b.iter(|| {
            for p in &payloads {
                spent.push(black_box(mapper.map_reusable(p, Format::Sniff).unwrap()));
                if spent.len() == 256 {
                    RecordPool::recycle(&mut spent);
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
