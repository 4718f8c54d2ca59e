//! The collector's pipeline, frames in → records out: CPython-made frames written to a running
//! `Collector` over loopback TCP, through its connection tasks, judge and dispatcher, into a
//! `LoggerTree` whose root has a `NullHandler` (so the handlers' own cost is not measured).
//! An iteration ends when the collector has stored every record it was sent.
//!
//! Cases (issue 15's scale targets; compare their records/s, not absolute times, on a shared
//! machine): one connection of plain frames; the same records signed (`LWR1`, HMAC-SHA256);
//! the same records spread over 64 connections at once (as 64 CPython processes would open).
//!
//! `cargo bench -p logwire-bench --bench collector_pipeline`

mod common;
use common as frames;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions, RunningCollector};
use logwire_engine::handler::NullHandler;
use logwire_engine::{Handler, LoggerTree};
use logwire_wire::key::{SigningKey, generate_hmac};
use logwire_wire::record_envelope::{PayloadFormat, seal_record_frame};
use logwire_wire::{Epoch, KeyRing};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

const RECORDS: usize = 20_000;
const FAN_IN: usize = 64;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn collector(keys: KeyRing) -> (RunningCollector, SocketAddr) {
    let tree = LoggerTree::new();
    tree.root().set_level(0);
    tree.root().add_handler(Arc::new(Handler::new(NullHandler)));
    let opts = ReceiverOptions {
        keys,
        // The plain cases send unsigned frames to the same collector.
        allow_unsigned: true,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let tcp = ListenAddr::Tcp("127.0.0.1:0".parse().unwrap());
    let running = Collector::new(tree, opts).start(&[tcp]).await.unwrap();
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!()
    };
    (running, addr)
}

/// Writes each part over its own connection, all at once, and waits until the collector
/// stored `expect` more records; the time from the first write to the last record stored.
async fn deliver(
    running: &RunningCollector,
    addr: SocketAddr,
    parts: &[Vec<u8>],
    expect: u64,
) -> Duration {
    let stats = running.stats_handle();
    let target = stats.snapshot().stored + expect;
    let mut conns = Vec::with_capacity(parts.len());
    for _ in parts {
        conns.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let start = Instant::now();
    let writers: Vec<_> = conns
        .into_iter()
        .zip(parts.iter().cloned())
        .map(|(mut s, part)| {
            tokio::spawn(async move {
                s.write_all(&part).await.unwrap();
                s.shutdown().await.unwrap();
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    // Bounded: a record rejected (or lost) must fail the bench, not hang it.
    while stats.snapshot().stored < target {
        let s = stats.snapshot();
        assert!(
            s.rejected_total() == 0 && start.elapsed() < Duration::from_secs(120),
            "records missing: {s}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

/// Splits frames into `n` parts of whole frames, as even as can be.
fn split(frames: &[u8], n: usize) -> Vec<Vec<u8>> {
    let all: Vec<&[u8]> = frames::payloads(frames);
    let per = all.len().div_ceil(n);
    all.chunks(per)
        .map(|c| {
            c.iter()
                .flat_map(|p| logwire_wire::frame::encode_frame(p))
                .collect()
        })
        .collect()
}

fn sign(key: &SigningKey, frames: &[u8], epoch: Epoch) -> Vec<u8> {
    frames::payloads(frames)
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            seal_record_frame(key, epoch, i as u64 + 1, PayloadFormat::Pickle, false, p).unwrap()
        })
        .collect()
}

fn pipeline(c: &mut Criterion) {
    let rt = runtime();
    let wire = frames::cpython_frames(RECORDS);
    let key = generate_hmac().unwrap();
    let keys: KeyRing = [key.verify_key()].into_iter().collect();
    let (running, addr) = rt.block_on(collector(keys));
    let n = RECORDS as u64;
    let mut g = c.benchmark_group("collector");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);

    let one = vec![wire.clone()];
    let fan_in = split(&wire, FAN_IN);
    g.bench_function("plain, 1 connection", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    t += deliver(&running, addr, &one, n).await;
                }
                t
            })
        })
    });
    g.bench_function("plain, 64 connections", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    t += deliver(&running, addr, &fan_in, n).await;
                }
                t
            })
        })
    });
    g.bench_function("signed, 1 connection", |b| {
        b.iter_custom(|iters| {
            let mut t = Duration::ZERO;
            for _ in 0..iters {
                // A fresh epoch each time: the same seqs again would be duplicates.
                let signed = vec![sign(&key, &wire, Epoch::random())];
                t += rt.block_on(deliver(&running, addr, &signed, n));
            }
            t
        })
    });
    g.finish();
    let stats = rt.block_on(running.shutdown());
    assert!(stats.reconciles() && stats.rejected_total() == 0, "{stats}");
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
