//! Framing, the signed LWC1/LWR1 envelopes, acknowledgements and key files.
#![forbid(unsafe_code)]
