//! Benchmarks: logwire against log4rs, fern, tracing-subscriber and CPython.
