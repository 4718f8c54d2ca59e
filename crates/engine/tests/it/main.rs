//! The integration tests of `logwire-engine`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).
//! Kept as binaries of their own, for the reason at the top of each: `tests/tree_creation_cost.rs`, `tests/shutdown_flushes_everything.rs`.

mod common;
mod dispatch_cost;
mod format_asctime_reuse;
mod format_cpython;
mod format_error_cpython;
mod format_error_text_bounded;
mod format_golden;
mod format_proptest;
mod format_render_bound;
mod handler_confined;
mod handler_file;
mod handler_file_batching;
mod handler_memory_queue;
mod handler_rotating;
mod handler_stats;
mod tree_atomic_swap;
mod tree_filters;
mod tree_handle;
mod tree_levels;
mod tree_placeholders;
mod tree_record_reuse;
mod tree_snapshot_cache;
