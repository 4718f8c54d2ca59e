//! Senders: SocketHandler and DatagramHandler that buffer instead of dropping.
