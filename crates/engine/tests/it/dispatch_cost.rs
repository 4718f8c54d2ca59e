//! The collector dispatcher's per-record path, isolated: `Logger::handle` of received
//! access-log records into a batching `FileHandler` with the receive benchmark's format
//! (`crates/bench/scripts/receive_vs_cookbook.py`), flushed every 100 records.
//!
//! Count its instructions with callgrind (the host is noisy; instructions are not):
//!
//! ```text
//! cargo test --release -p logwire-engine --test it --no-run
//! DISPATCH_COST_N=20000 valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='*dispatch_cost::handle_all*' target/release/deps/it-* \
//!     --ignored --exact dispatch_cost::handle_cost --test-threads=1
//! ```
//!
//! The harness checks the lines it wrote, so the loop measured is the correct one; a small
//! run of the same loop and checks is an ordinary test. (The glob also matches older
//! builds' binaries and the `.d` file: run the newest binary.)

use logwire_engine::{
    FileHandler, FileOptions, Formatter, Handler, LogRecord, LoggerTree, Style, Value,
    batch_writes_on_this_thread, level,
};
use std::sync::Arc;

const FORMAT: &str = "%(asctime)s %(levelname)s %(name)s %(message)s rid=%(request_id)s";

/// Records as `makeLogRecord` leaves them on the receiving side: `msg` already merged with
/// its arguments, three extra fields, the sender's `created`.
fn records(n: usize) -> Vec<LogRecord> {
    (0..n)
        .map(|i| {
            let mut r = LogRecord::new(
                "app.http.access",
                level::INFO,
                "/srv/app/access.py",
                42,
                format!(
                    "request GET /api/v1/items/{i} -> 200 in {:.3} ms",
                    12.5 + (i % 100) as f64
                ),
            );
            // A millisecond apart, so a new second every 1000 records.
            r.set_created(1_763_712_180.0 + i as f64 / 1000.0);
            r.set_extra("request_id", format!("req-{i:08}"));
            r.set_extra("user_id", Value::Int(1000 + (i % 977) as i64));
            r.set_extra("client_ip", format!("10.0.{}.{}", i % 256, i % 199));
            r
        })
        .collect()
}

#[inline(never)]
fn handle_all(tree: &LoggerTree, records: &[LogRecord]) {
    let mut snap = tree.snapshot_cache();
    let mut last: Option<logwire_engine::Logger> = None;
    for (i, r) in records.iter().enumerate() {
        // The dispatcher's cache of the last logger by name, and its snapshot cache.
        let logger = match &last {
            Some(l) if l.name() == r.name => l,
            _ => last.insert(tree.get_logger(&r.name)),
        };
        logger.handle_in(snap.current(), r);
        if i % 100 == 99 {
            tree.flush();
        }
    }
    tree.flush();
}

#[test]
#[ignore = "a cost harness: run it under callgrind (see the module docs)"]
fn handle_cost() {
    let n = std::env::var("DISPATCH_COST_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    handle_and_check(n);
}

/// The measured loop writes the lines it should (run on every `cargo test`, small).
#[test]
fn the_measured_loop_writes_every_line() {
    handle_and_check(2_500);
}

fn handle_and_check(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.log");
    let tree = LoggerTree::new();
    let formatter = Formatter::new(Some(FORMAT), None, Style::Percent, true, vec![])
        .unwrap()
        .with_time_zone(jiff::tz::TimeZone::UTC);
    let handler = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap())
        .with_formatter(Arc::new(formatter));
    tree.root().add_handler(Arc::new(handler));
    tree.root().set_level(level::DEBUG);
    let recs = records(n);
    batch_writes_on_this_thread(true);
    handle_all(&tree, &recs);
    batch_writes_on_this_thread(false);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n);
    assert_eq!(
        lines[0],
        "2025-11-21 08:03:00,000 INFO app.http.access request GET /api/v1/items/0 -> 200 in 12.500 ms rid=req-00000000"
    );
    let last = n - 1;
    assert!(
        lines[last].ends_with(&format!(" rid=req-{last:08}")),
        "{}",
        lines[last]
    );
}
