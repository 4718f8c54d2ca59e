//! The collector's per-record decode cost (pickle parse + record mapping), without sockets or
//! handlers, on a file of length-prefixed frames (as `SocketHandler` sends them): for
//! `callgrind_receive.py` and the decode-only line of `receive_vs_cookbook.py`, which count
//! or time one process. The criterion bench `pickle_parse` measures the same thing.
//!
//! `cargo run --release -p logwire-bench --example decode_frames -- FRAMES_FILE [ROUNDS]`
//! prints `{"frames": …, "decoded": …, "best_seconds": …, "ns_per_record": …, …}`.

use logwire_record::{Format, RecordMapper, RecordPool};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), rounds) = (args.next(), args.next()) else {
        eprintln!("usage: decode_frames FRAMES_FILE [ROUNDS]");
        return ExitCode::from(2);
    };
    let rounds: u32 = rounds.and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("decode_frames: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let scan = logwire_wire::scan_frames(&data, usize::MAX, |_| false);
    let frames: Vec<&[u8]> = logwire_wire::payloads(&data[..scan.end]).collect();
    let mut mapper = RecordMapper::default();
    let (mut best, mut ok) = (f64::INFINITY, 0usize);
    // As in the collector: records go back for reuse once a burst of them is done.
    let mut spent = Vec::with_capacity(256);
    for _ in 0..rounds {
        let start = Instant::now();
        ok = 0;
        for f in &frames {
            if let Ok(r) = mapper.map_reusable(f, Format::Sniff) {
                ok += 1;
                spent.push(std::hint::black_box(r));
                if spent.len() == 256 {
                    RecordPool::recycle(&mut spent);
                }
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let n = frames.len().max(1) as f64;
    println!(
        "{{\"frames\": {}, \"decoded\": {ok}, \"best_seconds\": {best:.6}, \"ns_per_record\": {:.1}, \"records_per_second\": {:.0}}}",
        frames.len(),
        best * 1e9 / n,
        n / best
    );
    ExitCode::SUCCESS
}
