//! Benchmarks: logwire against log4rs, fern, tracing-subscriber and CPython.
//!
//! `cargo bench -p logwire-bench` runs the criterion benches in `benches/`; the figures and
//! ratios are recorded in this crate's README.md. Nothing here is a test: no wall-clock time is
//! ever asserted.

/// The message every bench writes: an access-log line like the one in the performance notes.
pub fn message(i: u64) -> String {
    format!(
        "request GET /api/v1/items/{i} -> 200 in {:.3} ms",
        (i % 997) as f64 / 7.0
    )
}

/// Records written per bench iteration.
pub const RECORDS: u64 = 100_000;
