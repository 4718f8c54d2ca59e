//! The integration tests of the config listener and push client: one binary (each test binary links the whole
//! dependency tree, so one per crate keeps builds small), one module per former test file.

#[allow(dead_code)] // each test module uses part of the helpers
mod common_listen;
#[allow(dead_code)] // each test module uses part of the helpers
mod common_tls;

mod listen_cpython;
mod listen_hostile;
mod listen_idle_cpu;
mod listen_signed;
mod listen_slots;
mod listen_tls;
mod listen_tls_cpython;
mod listen_tls_deadlines;
mod push_client;
