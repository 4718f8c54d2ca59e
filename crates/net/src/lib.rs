//! Record receivers and senders wire-compatible with CPython's `SocketHandler`,
//! `DatagramHandler` and `SysLogHandler`, and the secure config listener.
//!
//! Everything that reads bytes from a peer is bounded: frame sizes are checked before a body
//! is read, headers and bodies have deadlines, connections are capped, and a record is never
//! unpickled — the pickle *parser* in `logwire-pickle` turns it into plain data.

pub mod kinds;
pub mod listener;
pub mod receiver;
pub mod record_map;
pub mod sender;
mod state_file;
pub mod syslog;
