//! SysLogHandler: CPython's message format over UDP, TCP and Unix sockets, and RFC 5424.
