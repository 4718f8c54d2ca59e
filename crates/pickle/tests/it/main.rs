//! The integration tests of `logwire-pickle`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).
//! `speed` is an ignored timing (meaningful only in release), run by hand; it belongs to the
//! benchmark work (issue 15's move of timings into `crates/bench`).

mod common;
mod compat_names;
mod cpython_compat;
mod differential_cpython;
mod hostile;
mod props;
mod record_template;
mod record_visitor;
mod speed;
