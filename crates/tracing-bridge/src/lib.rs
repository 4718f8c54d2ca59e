//! A tracing Layer that routes events into the logwire logger tree.
