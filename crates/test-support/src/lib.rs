//! Test plumbing shared by logwire's integration tests, so that each piece exists once:
//!
//! * [`python`]: running a CPython oracle. Tests that need python3 fail without it unless
//!   `LOGWIRE_SKIP_PYTHON_GOLDEN=1`; that rule lives here only.
//! * [`nats`]: a real `nats-server` with JetStream on loopback (killable, restartable).
//! * [`process`]: child processes: signals, exits awaited with a deadline, pipes drained on
//!   their own threads.
//! * [`serve`]: the built `logwire serve` in a child process and what it bound, read from its
//!   `listening on …` lines. The binary's path comes from the caller
//!   (`env!("CARGO_BIN_EXE_logwire")` exists only in the cli crate's tests).
//! * [`wait`]: bounded polling and free loopback ports.
//!
//! A dev-dependency only: nothing here is part of logwire.

pub mod nats;
#[cfg(feature = "engine")]
pub mod pinned_records;
pub mod process;
pub mod python;
pub mod serve;
pub mod tls;
pub mod wait;
