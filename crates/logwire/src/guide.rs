//! The Rust guide (`docs/rust-guide.md`), included here so that its examples are compiled and
//! run as doc tests: a guide whose code has stopped working fails `cargo test -p logwire`.
#![doc = include_str!("../../../docs/rust-guide.md")]
