//! Error types for decoding and encoding.

use std::fmt;

/// Why a pickle was rejected, and where.
///
/// `offset` is the byte offset in the input of the opcode being executed (or, for errors found
/// while expanding the result after `STOP`, the offset of the `STOP` opcode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset into the input.
    pub offset: usize,
    /// The reason.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

/// The reason a pickle was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input is larger than [`DecodeLimits::max_input_len`](crate::DecodeLimits::max_input_len).
    InputTooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A byte that is not a pickle opcode.
    UnknownOpcode(u8),
    /// A real opcode this parser refuses (out-of-band buffers).
    UnsupportedOpcode {
        /// The opcode byte.
        opcode: u8,
        /// Its name in `pickletools`.
        name: &'static str,
    },
    /// `PROTO` announced a protocol above 5.
    UnsupportedProtocol(u8),
    /// The input ended inside an opcode or its argument.
    Truncated,
    /// The input ended without a `STOP` opcode.
    MissingStop,
    /// Bytes follow the `STOP` opcode.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// An opcode needed more values than the stack holds (above the current mark).
    StackUnderflow,
    /// An opcode needed a `MARK` and there is none.
    MarkMissing,
    /// `STOP` found more or fewer than exactly one value on the stack, or a mark still open.
    BadStopStack,
    /// Nesting deeper than [`DecodeLimits::max_depth`](crate::DecodeLimits::max_depth).
    DepthLimit {
        /// The limit.
        limit: usize,
    },
    /// More values than [`DecodeLimits::max_nodes`](crate::DecodeLimits::max_nodes), counted
    /// after memo expansion (or values pushed while parsing).
    NodeLimit {
        /// The limit.
        limit: usize,
    },
    /// More memo entries than [`DecodeLimits::max_memo`](crate::DecodeLimits::max_memo).
    MemoLimit {
        /// The limit.
        limit: usize,
    },
    /// A `GET` of a memo key that was never `PUT`.
    MemoKeyMissing(u64),
    /// A string/bytes argument longer than [`DecodeLimits::max_str_len`](crate::DecodeLimits::max_str_len).
    StringTooLong {
        /// Declared length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// Total string/bytes size of the expanded result exceeds
    /// [`DecodeLimits::max_expanded_bytes`](crate::DecodeLimits::max_expanded_bytes).
    ExpandedBytesLimit {
        /// The limit.
        limit: usize,
    },
    /// An integer with more decimal digits than [`DecodeLimits::max_long_digits`](crate::DecodeLimits::max_long_digits).
    LongTooLong {
        /// The limit.
        limit: usize,
    },
    /// A text argument (`INT`, `LONG`, `FLOAT`, `PUT`, `GET`, `STRING`, …) that does not parse.
    BadText(&'static str),
    /// A `str` argument that is not valid UTF-8 (or, for `UNICODE`, a bad escape).
    BadUtf8,
    /// A protocol 0/1 `STRING`/`BINSTRING` with non-ASCII bytes (CPython 3's default
    /// `encoding='ASCII'` rejects these too).
    NonAsciiString,
    /// The structure contains itself (a cycle through the memo).
    Cycle,
    /// An opcode found a value of the wrong type (e.g. `APPEND` onto a dict).
    TypeMismatch(&'static str),
    /// [`decode_record_dict`](crate::decode_record_dict): the top level is not a dict.
    NotADict {
        /// The Python type name found.
        found: String,
    },
    /// [`decode_record_dict`](crate::decode_record_dict): a top-level key is not a str.
    NonStrKey {
        /// The Python type name found.
        found: String,
    },
    /// [`decode_record_dict`](crate::decode_record_dict): a top-level key appears twice.
    DuplicateKey(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self {
            InputTooLarge { len, limit } => {
                write!(f, "input of {len} bytes exceeds the limit of {limit}")
            }
            UnknownOpcode(op) => write!(f, "unknown opcode 0x{op:02x}"),
            UnsupportedOpcode { opcode, name } => {
                write!(f, "unsupported opcode {name} (0x{opcode:02x})")
            }
            UnsupportedProtocol(p) => write!(f, "unsupported pickle protocol {p}"),
            Truncated => f.write_str("input truncated inside an opcode"),
            MissingStop => f.write_str("input ended without STOP"),
            TrailingBytes { count } => write!(f, "{count} trailing bytes after STOP"),
            StackUnderflow => f.write_str("stack underflow"),
            MarkMissing => f.write_str("no MARK on the stack"),
            BadStopStack => f.write_str("STOP with not exactly one value on the stack"),
            DepthLimit { limit } => write!(f, "nesting deeper than {limit}"),
            NodeLimit { limit } => write!(f, "more than {limit} values"),
            MemoLimit { limit } => write!(f, "more than {limit} memo entries"),
            MemoKeyMissing(k) => write!(f, "memo key {k} not found"),
            StringTooLong { len, limit } => {
                write!(f, "string of {len} bytes exceeds the limit of {limit}")
            }
            ExpandedBytesLimit { limit } => {
                write!(f, "expanded strings exceed the limit of {limit} bytes")
            }
            LongTooLong { limit } => write!(f, "integer with more than {limit} digits"),
            BadText(what) => write!(f, "malformed {what} argument"),
            BadUtf8 => f.write_str("invalid UTF-8 in a str"),
            NonAsciiString => f.write_str("non-ASCII bytes in a protocol 0/1 STRING"),
            Cycle => f.write_str("recursive structure (cycle through the memo)"),
            TypeMismatch(what) => write!(f, "type mismatch: {what}"),
            NotADict { found } => write!(f, "top-level value is a {found}, not a dict"),
            NonStrKey { found } => write!(f, "top-level dict key is a {found}, not a str"),
            DuplicateKey(k) => write!(f, "top-level dict key {k:?} appears twice"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pickle rejected at byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A [`PickleValue::BigInt`](crate::PickleValue::BigInt) that is not decimal integer text.
    #[error("BigInt {0:?} is not a decimal integer")]
    BadBigInt(String),
    /// Something exceeds what protocol 1 can express (a str over 4 GiB, 2^32 memo entries).
    #[error("{0} too large for pickle protocol 1")]
    TooLarge(&'static str),
    /// The pickle does not fit a 4-byte length prefix.
    #[error("pickle of {0} bytes does not fit a 4-byte frame length")]
    FrameTooLarge(usize),
}
