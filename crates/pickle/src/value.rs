//! The decoded value model: plain owned data, nothing callable.

use std::fmt;

/// A value decoded from (or to be encoded into) a pickle.
///
/// This is plain data: memo sharing in the pickle is expanded (and counted against
/// [`DecodeLimits::max_nodes`](crate::DecodeLimits::max_nodes)), and anything that would need
/// code to reconstruct becomes an inert [`PickleValue::Opaque`].
///
/// Containers keep the order of the pickle stream. `Dict` is a list of pairs and `Set` /
/// `FrozenSet` are lists of elements: a hostile pickle may repeat a key or element, which
/// Python would collapse (last value wins for dicts). [`decode_record_dict`](crate::decode_record_dict)
/// rejects repeated keys at the top level.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in an `i64`.
    Int(i64),
    /// An `int` outside the `i64` range, as canonical decimal text (`-` sign, no leading zeros).
    BigInt(String),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `bytearray`.
    ByteArray(Vec<u8>),
    /// A `list`.
    List(Vec<PickleValue>),
    /// A `tuple`.
    Tuple(Vec<PickleValue>),
    /// A `set`, elements in stream order.
    Set(Vec<PickleValue>),
    /// A `frozenset`, elements in stream order.
    FrozenSet(Vec<PickleValue>),
    /// A `dict`, pairs in stream (insertion) order.
    Dict(Vec<(PickleValue, PickleValue)>),
    /// An object the pickle would have built by importing and calling something
    /// (`GLOBAL`/`REDUCE`/`NEWOBJ`/`BUILD`/…). Never resolved: only the dotted class name is
    /// kept, e.g. `datetime.datetime`. Its arguments and state are discarded.
    Opaque {
        /// `module.qualname` as `pickle.loads` would resolve it: as named in the pickle, with
        /// the Python 2 names of protocols 0–2 mapped as CPython's `_compat_pickle` maps them
        /// (`__builtin__.xrange` is `builtins.range`).
        class: String,
    },
    /// A standard-library value type on a fixed allow-list (`datetime.datetime`, `date`,
    /// `time`, `timedelta`, `timezone`, `decimal.Decimal`, `uuid.UUID`), recognised by its
    /// pickled state. Nothing was constructed: `str` and `repr` are what CPython prints for
    /// the object `pickle.loads` would build.
    Known {
        /// The class (`datetime.datetime`).
        class: String,
        /// `str(obj)`.
        str: String,
        /// `repr(obj)`.
        repr: String,
    },
}

impl PickleValue {
    /// The text an [`Opaque`](PickleValue::Opaque) value stands in for, e.g.
    /// `<datetime.datetime>`; `None` for any other variant.
    pub fn placeholder(&self) -> Option<String> {
        match self {
            PickleValue::Opaque { class } => Some(format!("<{class}>")),
            _ => None,
        }
    }

    /// The Python type name of this value (`"dict"`, `"str"`, …; the class for opaque values).
    pub fn type_name(&self) -> &str {
        match self {
            PickleValue::None => "NoneType",
            PickleValue::Bool(_) => "bool",
            PickleValue::Int(_) | PickleValue::BigInt(_) => "int",
            PickleValue::Float(_) => "float",
            PickleValue::Str(_) => "str",
            PickleValue::Bytes(_) => "bytes",
            PickleValue::ByteArray(_) => "bytearray",
            PickleValue::List(_) => "list",
            PickleValue::Tuple(_) => "tuple",
            PickleValue::Set(_) => "set",
            PickleValue::FrozenSet(_) => "frozenset",
            PickleValue::Dict(_) => "dict",
            PickleValue::Opaque { class } | PickleValue::Known { class, .. } => class,
        }
    }

    /// The string inside a [`Str`](PickleValue::Str), if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PickleValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A Python-`repr`-like rendering, e.g. `{'msg': 'hi', 'n': [1, 2.5, None]}`.
///
/// Opaque values render as their placeholder (`<datetime.datetime>`). Recursion depth is that
/// of the value, which the decoder bounds by [`DecodeLimits::max_depth`](crate::DecodeLimits::max_depth).
impl fmt::Display for PickleValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, items: &[PickleValue]) -> fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        }
        match self {
            PickleValue::None => f.write_str("None"),
            PickleValue::Bool(true) => f.write_str("True"),
            PickleValue::Bool(false) => f.write_str("False"),
            PickleValue::Int(i) => write!(f, "{i}"),
            PickleValue::BigInt(s) => f.write_str(s),
            PickleValue::Float(x) => {
                if x.is_nan() {
                    f.write_str("nan")
                } else if x.is_infinite() {
                    f.write_str(if *x > 0.0 { "inf" } else { "-inf" })
                } else if x.fract() == 0.0 && x.abs() < 1e16 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            PickleValue::Str(s) => write!(f, "'{}'", s.escape_debug()),
            PickleValue::Bytes(b) => write!(f, "b'{}'", b.escape_ascii()),
            PickleValue::ByteArray(b) => write!(f, "bytearray(b'{}')", b.escape_ascii()),
            PickleValue::List(v) => {
                f.write_str("[")?;
                seq(f, v)?;
                f.write_str("]")
            }
            PickleValue::Tuple(v) => {
                f.write_str("(")?;
                seq(f, v)?;
                f.write_str(if v.len() == 1 { ",)" } else { ")" })
            }
            PickleValue::Set(v) if v.is_empty() => f.write_str("set()"),
            PickleValue::Set(v) => {
                f.write_str("{")?;
                seq(f, v)?;
                f.write_str("}")
            }
            PickleValue::FrozenSet(v) => {
                f.write_str("frozenset({")?;
                seq(f, v)?;
                f.write_str("})")
            }
            PickleValue::Dict(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            PickleValue::Opaque { class } => write!(f, "<{class}>"),
            PickleValue::Known { repr, .. } => f.write_str(repr),
        }
    }
}

/// One top-level value of a record, as [`PickleDecoder::decode_record_with`](crate::PickleDecoder::decode_record_with)
/// hands it over: the common scalars and strs without allocation (strs borrowed from the
/// decoder), anything else as an owned [`PickleValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in an `i64`.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(&'a str),
    /// Any other value (never one of the variants above).
    Other(PickleValue),
}

impl From<FieldValue<'_>> for PickleValue {
    /// The owned value (a borrowed str is copied).
    fn from(v: FieldValue<'_>) -> Self {
        match v {
            FieldValue::None => PickleValue::None,
            FieldValue::Bool(b) => PickleValue::Bool(b),
            FieldValue::Int(i) => PickleValue::Int(i),
            FieldValue::Float(x) => PickleValue::Float(x),
            FieldValue::Str(s) => PickleValue::Str(s.to_owned()),
            FieldValue::Other(v) => v,
        }
    }
}
