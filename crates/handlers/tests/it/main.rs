//! The integration tests of the senders, syslog and registry kinds: one binary (each test binary links the whole
//! dependency tree, so one per crate keeps builds small), one module per former test file.

mod common_send;

mod deps;
mod http_handler;
mod recording_peer;
mod send_cpython;
mod send_datagram;
mod send_registry;
mod send_signed;
mod send_socket;
mod smtp_handler;
mod syslog_output;
mod syslog_rsyslog;
