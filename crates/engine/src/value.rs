//! Typed values: the extra fields of a record and the `args` of a message.
//!
//! A [`Value`] is plain data with Python's shapes (str, int, float, bool, None, bytes, list,
//! tuple, dict). It never refers to code. Formatting follows Python's `str()` and `repr()`,
//! so `%(extra)s` and `{extra!r}` print what CPython would print for the same data.

/// A plain-data value with Python semantics for `str()`, `repr()` and `%` formatting.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `bool`.
    Bool(bool),
    /// A Python `int` that fits in 64 bits.
    Int(i64),
    /// A Python `int` outside the 64-bit range, kept as its decimal text (`-` then digits).
    BigInt(String),
    /// Python `float`.
    Float(f64),
    /// Python `str`.
    Str(String),
    /// Python `bytes`.
    Bytes(Vec<u8>),
    /// Python `list` (also used for sets, which have no order of their own).
    List(Vec<Value>),
    /// Python `tuple`.
    Tuple(Vec<Value>),
    /// Python `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
