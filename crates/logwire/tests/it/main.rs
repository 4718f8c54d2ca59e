//! The integration tests of `logwire`, one binary: each module is one former test file (one
//! binary links the crate once instead of once per file). All of them work on private trees.
//! Kept as binaries of their own, for the reason at the top of each, because they install
//! process-wide state a process can install once: `tests/init_file.rs` (the global tree, the
//! `log` logger and the global `tracing` subscriber), `tests/log_bridge.rs` (the `log`
//! logger), `tests/tracing_layer.rs` (the global `tracing` subscriber), `tests/sighup.rs`
//! (a SIGHUP handler).

mod builder;
mod listener;
mod nats;
