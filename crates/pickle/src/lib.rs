//! A bounded pickle parser (never an unpickler) and a protocol-1 encoder byte-identical to CPython's SocketHandler.
#![forbid(unsafe_code)]
