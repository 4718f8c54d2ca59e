//! The integration tests of `logwire-pickle`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).
//! `tests/speed.rs` stays a binary of its own: it belongs to the benchmark work (issue 15's
//! move of timings into `crates/bench`), not to this crate's test suite.

// Shared with `tests/speed.rs`, which stays a binary of its own.
#[path = "../common/mod.rs"]
mod common;
mod compat_names;
mod cpython_compat;
mod differential_cpython;
mod hostile;
mod props;
mod record_template;
mod record_visitor;
