//! The integration tests of `logwire-wire`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).

mod acks_frames;
mod config_hostile;
mod keys;
mod record_hostile;
mod vectors;
