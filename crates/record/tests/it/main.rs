//! The integration tests of the record mapping: one binary (each test binary links the whole
//! dependency tree, so one per crate keeps builds small), one module per former test file.

mod extras_stdtypes_cpython;
mod record_cost;
mod record_reuse;
