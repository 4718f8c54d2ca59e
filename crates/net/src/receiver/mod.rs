//! Receivers for CPython SocketHandler/DatagramHandler traffic (TCP, UDP, Unix).
