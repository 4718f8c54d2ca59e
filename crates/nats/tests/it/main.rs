//! The integration tests of `logwire-nats`, one binary: each module is one former test file
//! (one binary links the crate once instead of once per file).

mod config_kv;
