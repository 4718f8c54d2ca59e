//! Received payloads (pickle or JSON record dicts) to `LogRecord`, with `makeLogRecord` semantics.
