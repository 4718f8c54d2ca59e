//! The integration tests of `logwire-nats`, one binary (each test binary links the whole
//! dependency tree), one module per former test file. Every test runs a real
//! `nats-server -js` on loopback with its store in a temp dir.

mod config_kv;
mod connect_auth;
mod records_publish;
mod records_source;
