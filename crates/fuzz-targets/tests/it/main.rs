//! The integration tests of `logwire-fuzz-targets`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).

mod corpus_replay;
mod props;
