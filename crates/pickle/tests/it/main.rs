//! The integration tests of `logwire-pickle`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).
//! The parser's speed is measured by the criterion bench `pickle_parse` in `crates/bench`.

mod common;
mod compat_names;
mod cpython_compat;
mod differential_cpython;
mod hostile;
mod props;
mod record_template;
mod record_visitor;
