//! Typed values: the extra fields of a record and the `args` of a message.
//!
//! A [`Value`] is plain data with Python's shapes (str, int, float, bool, None, bytes, list,
//! tuple, dict, set, frozenset), plus [`Value::Object`]: a standard-library value (a
//! `datetime`, a `Decimal` …) carried as the `str()` and `repr()` CPython would print for it.
//! It never refers to code. Formatting follows Python's `str()` and `repr()`,
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
    /// Python `list`.
    List(Vec<Value>),
    /// Python `tuple`.
    Tuple(Vec<Value>),
    /// Python `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// Python `set`, in the order the sender iterated it.
    Set(Vec<Value>),
    /// Python `frozenset`, in the order the sender iterated it.
    FrozenSet(Vec<Value>),
    /// A value of another type, known only by what Python prints for it: a standard-library
    /// value type recognised from its pickled state (`datetime.datetime`, `decimal.Decimal`,
    /// `uuid.UUID` …). Nothing was constructed; `str()` and `repr()` give the texts.
    /// Boxed: records carry many values, and this one is rare and three strings wide.
    Object(Box<PyObject>),
}

/// The texts of a [`Value::Object`].
#[derive(Clone, Debug, PartialEq)]
pub struct PyObject {
    /// The class (`datetime.datetime`).
    pub class: String,
    /// `str(obj)`.
    pub str: String,
    /// `repr(obj)`.
    pub repr: String,
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

/// Containers nested deeper than this print as `...` (Python prints `[...]` only for cycles;
/// plain data cannot cycle, but a bounded depth keeps rendering off the stack's edge).
const MAX_REPR_DEPTH: usize = 200;

impl Value {
    /// Approximate bytes this value holds (its size plus its text and items), for budgets
    /// counted in bytes such as a queue's. Nested values are bounded by whoever built them
    /// (the pickle decoder's depth and size budgets), so the recursion is too.
    pub fn approx_bytes(&self) -> usize {
        let items = match self {
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
            Value::BigInt(s) | Value::Str(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => {
                v.iter().map(Value::approx_bytes).sum()
            }
            Value::Dict(m) => m
                .iter()
                .map(|(k, v)| k.approx_bytes() + v.approx_bytes())
                .sum(),
            Value::Object(o) => o.class.len() + o.str.len() + o.repr.len(),
        };
        std::mem::size_of::<Value>() + items
    }

    /// Python's `str(value)`.
    ///
    /// ```
    /// use logwire_engine::Value;
    /// assert_eq!(Value::List(vec!["a".into(), Value::Int(1)]).py_str(), "['a', 1]");
    /// assert_eq!(Value::Float(1e16).py_str(), "1e+16");
    /// ```
    pub fn py_str(&self) -> String {
        let mut out = String::new();
        self.write_py_str(&mut out);
        out
    }

    /// Python's `repr(value)`.
    ///
    /// ```
    /// use logwire_engine::Value;
    /// assert_eq!(Value::from("it's").py_repr(), "\"it's\"");
    /// assert_eq!(Value::Bytes(vec![0, b'a']).py_repr(), "b'\\x00a'");
    /// ```
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_py_repr(&mut out);
        out
    }

    /// Python's `ascii(value)`: `repr` with every non-ASCII character escaped.
    pub fn py_ascii(&self) -> String {
        let mut out = String::new();
        self.write_repr_depth(&mut out, 0, true);
        out
    }

    /// Appends Python's `str(value)` to `out`.
    pub fn write_py_str(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Object(o) => out.push_str(&o.str),
            other => other.write_repr_depth(out, 0, false),
        }
    }

    /// Appends Python's `repr(value)` to `out`.
    pub fn write_py_repr(&self, out: &mut String) {
        self.write_repr_depth(out, 0, false);
    }

    fn write_repr_depth(&self, out: &mut String, depth: usize, ascii: bool) {
        if depth > MAX_REPR_DEPTH {
            out.push_str("...");
            return;
        }
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            Value::BigInt(s) => out.push_str(s),
            Value::Float(x) => write_float_repr(*x, out),
            Value::Str(s) => write_str_repr(s, out, ascii),
            Value::Bytes(b) => write_bytes_repr(b, out),
            Value::List(items) => {
                out.push('[');
                write_items(items, out, depth, ascii);
                out.push(']');
            }
            Value::Tuple(items) => {
                out.push('(');
                write_items(items, out, depth, ascii);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::Dict(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr_depth(out, depth + 1, ascii);
                    out.push_str(": ");
                    v.write_repr_depth(out, depth + 1, ascii);
                }
                out.push('}');
            }
            Value::Set(items) if items.is_empty() => out.push_str("set()"),
            Value::Set(items) => {
                out.push('{');
                write_items(items, out, depth, ascii);
                out.push('}');
            }
            Value::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
            Value::FrozenSet(items) => {
                out.push_str("frozenset({");
                write_items(items, out, depth, ascii);
                out.push_str("})");
            }
            Value::Object(o) if ascii => {
                // ascii(): the repr with non-ASCII characters escaped.
                for c in o.repr.chars() {
                    if c.is_ascii() {
                        out.push(c);
                    } else {
                        push_hex_escape(out, c as u32);
                    }
                }
            }
            Value::Object(o) => out.push_str(&o.repr),
        }
    }
}

fn write_items(items: &[Value], out: &mut String, depth: usize, ascii: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        item.write_repr_depth(out, depth + 1, ascii);
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, laid out as CPython's
/// `float_repr_style = 'short'` does (scientific below 1e-4 and from 1e16 on).
pub(crate) fn write_float_repr(x: f64, out: &mut String) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    // zmij gives the shortest round-trip digits, as repr does (`{:e}` and its allocations
    // had been an eighth of the JSON formatter's time); only the layout differs. Its text
    // ("544431068535091.6", "2.98e-8", "1e+16") is taken apart into the significant digits
    // and the decimal point's position relative to them.
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(x.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut all = StackText::default();
    let _ = std::fmt::Write::write_str(&mut all, int_part);
    let _ = std::fmt::Write::write_str(&mut all, frac_part);
    let all = all.as_str();
    let significant = all.trim_start_matches('0');
    let leading_zeros = (all.len() - significant.len()) as i32;
    let digits = match significant.trim_end_matches('0') {
        "" => "0", // zero: repr writes "0.0"
        d => d,
    };
    // Position of the decimal point relative to the digits.
    let decpt = if digits == "0" {
        1
    } else {
        int_part.len() as i32 + exp - leading_zeros
    };
    if (-4 < decpt) && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(digits);
        } else {
            let d = decpt as usize;
            if digits.len() <= d {
                out.push_str(digits);
                for _ in digits.len()..d {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..d]);
                out.push('.');
                out.push_str(&digits[d..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let ea = e.unsigned_abs();
        if ea < 10 {
            out.push('0');
        }
        use std::fmt::Write;
        let _ = write!(out, "{ea}");
    }
}

/// Text of at most 40 bytes on the stack (an f64's shortest digits are at most 17, and
/// zmij writes at most 24 bytes).
struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 40],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are appended.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Python's `repr(str)` (or `ascii(str)` when `ascii`): quotes chosen as CPython does,
/// non-printable characters escaped.
pub(crate) fn write_str_repr(s: &str, out: &mut String, ascii: bool) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..'\x7f').contains(&c) => out.push(c),
            c if c.is_ascii() => push_hex_escape(out, c as u32),
            c if !ascii && is_printable(c) => out.push(c),
            c => push_hex_escape(out, c as u32),
        }
    }
    out.push(quote);
}

fn push_hex_escape(out: &mut String, cp: u32) {
    use std::fmt::Write;
    let _ = if cp <= 0xff {
        write!(out, "\\x{cp:02x}")
    } else if cp <= 0xffff {
        write!(out, "\\u{cp:04x}")
    } else {
        write!(out, "\\U{cp:08x}")
    };
}

/// Python's `str.isprintable` for one non-ASCII character: false for the categories Cc, Cf,
/// Cs, Co, Zl, Zp and Zs. Unassigned code points (Cn) are not tabulated here and count as
/// printable, except the noncharacters.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    if c.is_control() {
        return false;
    }
    !matches!(cp,
        0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2
        | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..=0x10ffff)
        && (cp & 0xfffe) != 0xfffe
        && !(0xfdd0..=0xfdef).contains(&cp)
}

/// Python's `repr(bytes)`.
pub(crate) fn write_bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push('b');
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => push_hex_escape(out, c.into()),
        }
    }
    out.push(quote as char);
}

#[cfg(test)]
mod tests {
    use super::write_float_repr;

    /// `repr(float)` as CPython 3 writes it (the expected texts are its output), at the
    /// edges of the fixed and scientific layouts and of f64's range.
    #[test]
    fn floats_are_written_as_python_repr() {
        for (x, repr) in [
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e-5, "1e-05"),
            (123456789.123, "123456789.123"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.0001, "0.0001"),
            (1000000000000000.5, "1000000000000000.5"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
            (3.9086341857910156, "3.9086341857910156"),
            (1796672761.860311, "1796672761.860311"),
            (1234567890123456.8, "1234567890123456.8"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e22, "1e+22"),
            (1e-7, "1e-07"),
            (0.5, "0.5"),
            (123.0, "123.0"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (5.444310685350916e14, "544431068535091.6"),
            (2.9802322387695312e-8, "2.9802322387695312e-08"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            let mut out = String::new();
            write_float_repr(x, &mut out);
            assert_eq!(out, repr);
        }
    }

    /// Over a million bit patterns of every exponent: the text reads back as the same float,
    /// with as many significant digits as Rust's own shortest form (`{:e}`).
    #[test]
    fn floats_round_trip_with_the_shortest_digits() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..1_000_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from_bits(state);
            if !x.is_finite() {
                continue;
            }
            let mut out = String::new();
            write_float_repr(x, &mut out);
            assert_eq!(out.parse::<f64>().ok(), Some(x), "{out}");
            let sci = format!("{:e}", x.abs());
            let shortest = sci.split('e').next().unwrap().replace('.', "").len();
            let mantissa = out.trim_start_matches('-').split('e').next().unwrap();
            let digits = mantissa.replace('.', "");
            let digits = digits.trim_start_matches('0').trim_end_matches('0');
            assert_eq!(digits.len().max(1), shortest, "{x:e} written {out}");
        }
    }
}
