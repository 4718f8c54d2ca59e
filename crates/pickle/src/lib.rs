//! A bounded pickle *parser* (never an unpickler) and a protocol 1 encoder byte-identical to
//! CPython's `SocketHandler.makePickle`.
//!
//! # Decoding
//!
//! [`PickleDecoder`] reads pickles of any protocol (0–5) as data. It runs an iterative stack
//! machine over an opcode allow-list, with budgets for input size, nesting depth, values
//! (counted after memo expansion), memo entries, string length and integer digits
//! ([`DecodeLimits`]). Objects that would need code to rebuild (`GLOBAL`, `REDUCE`, `NEWOBJ`,
//! `BUILD`, …) are never resolved: they become an inert [`PickleValue::Opaque`] naming the
//! class, so a record with, say, a `pathlib.Path` in an `extra` field still decodes, with
//! `<pathlib.PosixPath>` in that field. The few reductions CPython itself writes for plain
//! data (bytes in protocols < 3, sets before protocol 4, bytearray) are recognised by name and
//! rebuilt as data. A fixed allow-list of standard-library value types (`datetime.datetime`,
//! `date`, `time`, `timedelta`, `timezone`, `decimal.Decimal`, `uuid.UUID`) is recognised by
//! its pickled state and becomes [`PickleValue::Known`], carrying the `str()` and `repr()`
//! CPython's receiver would print; the class name is only compared with the list. Nothing is imported or called: this is pure Rust data. It never panics on
//! any input.
//!
//! Choices where CPython has options or Rust cannot represent a value:
//! * protocol 0/1 py2 strings (`STRING`, `BINSTRING`, `SHORT_BINSTRING`) are decoded as ASCII,
//!   like CPython 3's default `encoding='ASCII'`; non-ASCII is an error
//!   ([`DecodeErrorKind::NonAsciiString`]), as it is in CPython;
//! * lone surrogates (which CPython writes with `surrogatepass`, e.g. for `surrogateescape`d
//!   file names) become U+FFFD instead of failing the record;
//! * `STOP` must leave exactly one value and no open mark, and nothing may follow it.
//!
//! # Encoding
//!
//! [`encode_record_protocol1`] writes what `pickle.dumps(d, 1)` writes for a record dict, and
//! [`encode_socket_frame`] adds the 4-byte length prefix. See [`Protocol1Encoder`] for how CPython's
//! identity-based memo is modelled.
//!
//! # Example
//!
//! ```
//! use logwire_pickle::{DecodeLimits, PickleValue, decode_record_dict, encode_record_protocol1};
//!
//! let fields = vec![
//!     ("msg".to_owned(), PickleValue::Str("hello".into())),
//!     ("levelno".to_owned(), PickleValue::Int(20)),
//! ];
//! let bytes = encode_record_protocol1(&fields).unwrap();
//! // Exactly what CPython's pickle.dumps({'msg': 'hello', 'levelno': 20}, 1) produces.
//! assert_eq!(
//!     bytes,
//!     b"}q\x00(X\x03\x00\x00\x00msgq\x01X\x05\x00\x00\x00helloq\x02X\x07\x00\x00\x00levelnoq\x03K\x14u."
//! );
//! assert_eq!(decode_record_dict(&bytes, &DecodeLimits::default()).unwrap(), fields);
//!
//! // A hostile pickle: os.system('echo pwned') via REDUCE. Nothing runs; the value is inert.
//! let evil = b"}(X\x03\x00\x00\x00msgcos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85Ru.";
//! let record = decode_record_dict(evil, &DecodeLimits::default()).unwrap();
//! assert_eq!(record[0].1.placeholder().as_deref(), Some("<os.system>"));
//! ```
#![forbid(unsafe_code)]

mod compat_names;
mod decode;
mod encode;
mod error;
mod flat;
mod stdtypes;
mod template;
mod text;
mod value;

pub use decode::{DecodeLimits, HARD_MAX_DEPTH, PickleDecoder, decode, decode_record_dict};
pub use encode::{
    Protocol1Encoder, encode_protocol1, encode_record_protocol1, encode_socket_frame,
};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use template::RecordTemplate;
pub use value::{FieldValue, PickleValue};
