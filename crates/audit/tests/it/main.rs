//! The integration tests of `logwire-audit`, one binary: each module is one former
//! test file (one binary links the crate once instead of once per file).

mod corpus;
mod fix;
mod rules;
