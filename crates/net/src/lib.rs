//! Record receivers and senders (Socket, Datagram, SysLog) and the secure config listener.
