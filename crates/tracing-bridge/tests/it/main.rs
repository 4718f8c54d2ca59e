//! The integration tests of `logwire-tracing`, one binary: each module is one former test
//! file. The layer is installed per test with `tracing::subscriber::with_default`, which is
//! thread-local, so these tests share a process safely.

mod tracing_routes_into_the_tree;
