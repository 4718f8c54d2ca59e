//! Registry kinds for the network handlers (`logging.handlers.SocketHandler`, …).
