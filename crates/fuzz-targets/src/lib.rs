//! One function per parser of outside bytes. Each drives its parser with arbitrary bytes and
//! asserts the parser's *budgets*, not only "no panic": decoded sizes within the configured
//! limits, buffers within their caps, outputs bounded relative to the input, tampered
//! envelopes rejected, replay windows never accepting a seq twice.
//!
//! A broken budget panics with a message saying which, so the three callers report it the same
//! way: the cargo-fuzz targets in `fuzz/fuzz_targets/` (libFuzzer turns the panic into a crash
//! file), the corpus replay test and the proptest mirrors in this crate's `tests/` (stable, part
//! of `cargo test --workspace`).
//!
//! ```
//! // Every target accepts any bytes; only a broken budget or a parser bug panics.
//! for (_name, target) in logwire_fuzz_targets::TARGETS {
//!     target(b"\x00\x00\x00\x05hello");
//!     target(b"");
//! }
//! ```

#![forbid(unsafe_code)]

mod config_text;
mod envelope;
mod format;
mod frame;
mod pickle;

pub use config_text::{config_ini, config_json, config_toml, config_yaml, py_literal};
pub use envelope::{config_envelope, record_envelope};
pub use format::{format_string, strftime};
pub use frame::frame_decoder;
pub use pickle::{pickle_decoder, record_map};

/// A fuzz target: drives one parser with arbitrary bytes and asserts its budgets.
pub type Target = fn(&[u8]);

/// Every target by its cargo-fuzz name (also the name of its corpus directory).
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decoder", frame_decoder),
    ("pickle_decoder", pickle_decoder),
    ("config_envelope", config_envelope),
    ("record_envelope", record_envelope),
    ("config_json", config_json),
    ("config_yaml", config_yaml),
    ("config_toml", config_toml),
    ("config_ini", config_ini),
    ("py_literal", py_literal),
    ("format_string", format_string),
    ("strftime", strftime),
    ("record_map", record_map),
];

/// Splits `data` at its first `0xFF` byte (never part of UTF-8 text, so the fuzzer can place
/// field separators without disturbing the text on either side).
fn split_ff(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Reads a big-endian `u64` from up to 8 leading bytes, returning the rest.
fn take_u64(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(8);
    let mut b = [0u8; 8];
    b[8 - n..].copy_from_slice(&data[..n]);
    (u64::from_be_bytes(b), &data[n..])
}
