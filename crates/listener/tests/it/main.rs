//! The integration tests of the config listener and push client: one binary (each test binary links the whole
//! dependency tree, so one per crate keeps builds small), one module per former test file.

mod common_listen;
#[cfg(feature = "tls")]
mod common_tls;

mod listen_cpython;
mod listen_hostile;
mod listen_idle_cpu;
mod listen_signed;
#[cfg(feature = "tls")]
mod listen_slots;
#[cfg(feature = "tls")]
mod listen_tls;
#[cfg(feature = "tls")]
mod listen_tls_cpython;
#[cfg(feature = "tls")]
mod listen_tls_deadlines;
mod push_client;
