//! A log facade backend that routes into the logwire logger tree.
