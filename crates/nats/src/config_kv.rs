//! Config pushes through a JetStream key-value bucket (filled in by the config work).
