//! Records through JetStream (filled in by the records work).
