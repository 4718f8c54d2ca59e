#![no_main]
//! cargo-fuzz target: see `logwire_fuzz_targets::py_literal` for what it asserts.

use libfuzzer_sys::fuzz_target;

/// Rust heap cap for one run: far above the parser's own budgets, so hitting it is a finding.
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, 64 << 20);

fuzz_target!(|data: &[u8]| {
    logwire_fuzz_targets::py_literal(data);
});
