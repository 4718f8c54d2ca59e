//! Writes N formatted records to a file through logwire's direct FileHandler path: a target
//! for `valgrind --tool=callgrind` (instruction counts are repeatable on a noisy machine).
//!
//! `cargo build --release -p logwire-bench --example profile_file_direct`
//! `valgrind --tool=callgrind target/release/examples/profile_file_direct 20000`

use logwire_engine::{FileHandler, FileOptions, Formatter, Handler, LoggerTree, Style, level};
use std::sync::Arc;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = LoggerTree::new();
    let fmt = Formatter::new(
        Some("%(asctime)s %(levelname)s %(name)s: %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .expect("format");
    let file = FileHandler::new(dir.path().join("p.log"), FileOptions::default()).expect("file");
    tree.root()
        .add_handler(Arc::new(Handler::new(file).with_formatter(Arc::new(fmt))));
    tree.root().set_level(level::INFO);
    let log = tree.get_logger("bench.app");
    for i in 0..n {
        log.info(logwire_bench::message(i));
    }
    tree.shutdown();
}
