//! Number rendering shared by the `%` and `{` styles: integers in any base (including
//! arbitrary-size ones kept as decimal text), floats with CPython's `e`/`f`/`g`/`repr`
//! layouts, digit grouping, and a borrowed view of values.

use crate::value::{Value, write_float_repr, write_str_repr};
use std::fmt::Write;

/// The largest field width or precision a format may ask for (CPython has no limit; a
/// remote format string must not be able to allocate gigabytes).
pub const MAX_WIDTH: usize = 4096;

/// Python refuses to convert integers longer than this to text (`sys.int_info.str_digits_check_threshold`'s default).
pub(crate) const MAX_INT_DIGITS: usize = 4300;

/// A borrowed view of a value: record fields are rendered without building [`Value`]s.
#[derive(Clone, Copy, Debug)]
pub(crate) enum V<'a> {
    None,
    Bool(bool),
    Int(i64),
    /// Decimal text, `-` then digits.
    Big(&'a str),
    Float(f64),
    Str(&'a str),
    /// bytes, list, tuple, dict.
    Other(&'a Value),
}

impl<'a> V<'a> {
    pub(crate) fn of(v: &'a Value) -> V<'a> {
        match v {
            Value::None => V::None,
            Value::Bool(b) => V::Bool(*b),
            Value::Int(n) => V::Int(*n),
            Value::BigInt(s) => V::Big(s),
            Value::Float(x) => V::Float(*x),
            Value::Str(s) => V::Str(s),
            other => V::Other(other),
        }
    }

    pub(crate) fn opt_str(s: &'a Option<String>) -> V<'a> {
        s.as_deref().map_or(V::None, V::Str)
    }

    /// Python's type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            V::None => "NoneType",
            V::Bool(_) => "bool",
            V::Int(_) | V::Big(_) => "int",
            V::Float(_) => "float",
            V::Str(_) => "str",
            V::Other(Value::Bytes(_)) => "bytes",
            V::Other(Value::List(_)) => "list",
            V::Other(Value::Tuple(_)) => "tuple",
            V::Other(Value::Dict(_)) => "dict",
            V::Other(_) => "object",
        }
    }

    /// `str(value)`.
    pub(crate) fn write_str(&self, out: &mut String) {
        match self {
            V::None => out.push_str("None"),
            V::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            V::Int(n) => {
                let _ = write!(out, "{n}");
            }
            V::Big(s) | V::Str(s) => out.push_str(s),
            V::Float(x) => write_float_repr(*x, out),
            V::Other(v) => v.write_py_str(out),
        }
    }

    /// `repr(value)`, or `ascii(value)` when `ascii`.
    pub(crate) fn write_repr(&self, out: &mut String, ascii: bool) {
        match self {
            V::Str(s) => write_str_repr(s, out, ascii),
            V::Other(v) if ascii => out.push_str(&v.py_ascii()),
            V::Other(v) => v.write_py_repr(out),
            other => other.write_str(out),
        }
    }

    /// The value as an integer, if it is one (bool counts, as in Python).
    pub(crate) fn as_int(&self) -> Option<Int<'a>> {
        match *self {
            V::Bool(b) => Some(Int::small(b.into())),
            V::Int(n) => Some(Int::small(n.into())),
            V::Big(s) => Some(Int::big(s)),
            _ => None,
        }
    }
}

/// An integer's sign and magnitude.
#[derive(Clone, Debug)]
pub(crate) struct Int<'a> {
    pub(crate) neg: bool,
    pub(crate) mag: Mag<'a>,
}

#[derive(Clone, Debug)]
pub(crate) enum Mag<'a> {
    Small(u128),
    /// Decimal digits without sign (no leading zeros unless the value is zero).
    Dec(std::borrow::Cow<'a, str>),
}

impl<'a> Int<'a> {
    pub(crate) fn small(n: i128) -> Int<'a> {
        Int {
            neg: n < 0,
            mag: Mag::Small(n.unsigned_abs()),
        }
    }

    pub(crate) fn big(s: &'a str) -> Int<'a> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        let neg = neg && digits != "0";
        if digits.len() <= 38
            && let Ok(v) = digits.parse::<u128>()
        {
            return Int {
                neg,
                mag: Mag::Small(v),
            };
        }
        Int {
            neg,
            mag: Mag::Dec(std::borrow::Cow::Borrowed(digits)),
        }
    }

    /// `int(x)` for a float: truncation toward zero.
    pub(crate) fn from_float(x: f64) -> Result<Int<'static>, String> {
        if x.is_nan() {
            return Err("cannot convert float NaN to integer".into());
        }
        if x.is_infinite() {
            return Err("cannot convert float infinity to integer".into());
        }
        let t = x.trunc();
        if t.abs() < 1e38 {
            return Ok(Int::small(t as i128));
        }
        // Exact decimal expansion of a large integral float.
        let s = format!("{:.0}", t.abs());
        Ok(Int {
            neg: t < 0.0,
            mag: Mag::Dec(std::borrow::Cow::Owned(s)),
        })
    }

    /// The value as a float (`float(int)`), or Python's OverflowError text.
    pub(crate) fn to_f64(&self) -> Result<f64, String> {
        let m = match &self.mag {
            Mag::Small(v) => *v as f64,
            Mag::Dec(d) => d.parse::<f64>().unwrap_or(f64::INFINITY),
        };
        if m.is_infinite() {
            return Err("int too large to convert to float".into());
        }
        Ok(if self.neg { -m } else { m })
    }

    /// The value as a `char` code point, for `%c` / `{:c}`.
    pub(crate) fn to_code_point(&self) -> Option<u32> {
        match (&self.mag, self.neg) {
            (Mag::Small(v), false) if *v < 0x110000 => Some(*v as u32),
            _ => None,
        }
    }

    /// Appends the magnitude's digits in `base` (2, 8, 10 or 16).
    pub(crate) fn write_digits(
        &self,
        base: u32,
        upper: bool,
        out: &mut String,
    ) -> Result<(), String> {
        match &self.mag {
            Mag::Small(v) => {
                let _ = match (base, upper) {
                    (2, _) => write!(out, "{v:b}"),
                    (8, _) => write!(out, "{v:o}"),
                    (16, false) => write!(out, "{v:x}"),
                    (16, true) => write!(out, "{v:X}"),
                    _ => write!(out, "{v}"),
                };
            }
            Mag::Dec(d) => {
                if d.len() > MAX_INT_DIGITS {
                    return Err(format!(
                        "Exceeds the limit ({MAX_INT_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit"
                    ));
                }
                if base == 10 {
                    out.push_str(d);
                } else {
                    out.push_str(&dec_to_base(d, base, upper));
                }
            }
        }
        Ok(())
    }
}

/// Converts decimal digits to another base (schoolbook, on base-1e9 limbs; inputs are
/// bounded by [`MAX_INT_DIGITS`]).
fn dec_to_base(dec: &str, base: u32, upper: bool) -> String {
    // Most significant limb first.
    let bytes = dec.as_bytes();
    let mut limbs: Vec<u32> = Vec::with_capacity(bytes.len() / 9 + 1);
    let first = bytes.len() % 9;
    let mut i = 0;
    if first > 0 {
        limbs.push(parse_limb(&bytes[..first]));
        i = first;
    }
    while i < bytes.len() {
        limbs.push(parse_limb(&bytes[i..i + 9]));
        i += 9;
    }
    let digit_chars: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut rev = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in limbs.iter_mut() {
            let cur = rem * 1_000_000_000 + u64::from(*l);
            *l = (cur / u64::from(base)) as u32;
            rem = cur % u64::from(base);
        }
        rev.push(digit_chars[rem as usize]);
        while limbs.first() == Some(&0) && limbs.len() > 1 {
            limbs.remove(0);
        }
    }
    if rev.is_empty() {
        rev.push(b'0');
    }
    rev.reverse();
    String::from_utf8(rev).unwrap_or_default()
}

fn parse_limb(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, d| {
        acc * 10 + u32::from(d.wrapping_sub(b'0') % 10)
    })
}

/// Float presentation types handled by [`write_float_body`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatKind {
    /// `e`
    Exp,
    /// `f`
    Fixed,
    /// `g`
    General,
    /// `repr()` layout (no precision)
    Repr,
}

/// Appends the digits of `|x|` (finite) in CPython's layout for `kind`. `alt` is the `#`
/// flag; `add_dot_0` is CPython's `Py_DTSF_ADD_DOT_0` (the `{}` style's "no type" rule).
pub(crate) fn write_float_body(
    x: f64,
    kind: FloatKind,
    prec: usize,
    alt: bool,
    add_dot_0: bool,
    out: &mut String,
) {
    let x = x.abs();
    match kind {
        FloatKind::Repr => {
            let start = out.len();
            write_float_repr(x, out);
            if alt && !out[start..].contains('.') {
                // `#` keeps a decimal point even in exponent form (`1.e+16`).
                let at = out[start..].find('e').map_or(out.len(), |i| start + i);
                out.insert(at, '.');
            }
        }
        FloatKind::Fixed => {
            let _ = write!(out, "{x:.prec$}");
            if alt && prec == 0 {
                out.push('.');
            }
        }
        FloatKind::Exp => {
            let s = format!("{x:.prec$e}");
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            out.push_str(m);
            if alt && prec == 0 {
                out.push('.');
            }
            push_exponent(out, e.parse().unwrap_or(0));
        }
        FloatKind::General => {
            let p = prec.max(1);
            let s = format!("{:.*e}", p - 1, x);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let exp: i64 = e.parse().unwrap_or(0);
            let start = out.len();
            // With CPython's ADD_DOT_0 (no presentation type) one digit is kept for ".0".
            let limit = if add_dot_0 { p as i64 - 1 } else { p as i64 };
            let use_exp = exp < -4 || exp >= limit;
            if use_exp {
                out.push_str(m);
            } else {
                let decimals = (p as i64 - 1 - exp).max(0) as usize;
                let _ = write!(out, "{x:.decimals$}");
            }
            if !alt {
                if out[start..].contains('.') {
                    let trimmed = out[start..]
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .len();
                    out.truncate(start + trimmed);
                }
                if add_dot_0 && !use_exp && !out[start..].contains('.') {
                    out.push_str(".0");
                }
            } else if !out[start..].contains('.') {
                out.push('.');
            }
            if use_exp {
                push_exponent(out, exp);
            }
        }
    }
}

fn push_exponent(out: &mut String, e: i64) {
    out.push('e');
    out.push(if e < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", e.unsigned_abs());
}

/// CPython's `_PyUnicode_InsertThousandsGrouping`: groups `digits` by `group` with `sep`,
/// padding with zeros (and separators) up to `min_width` characters.
pub(crate) fn write_grouped(
    digits: &str,
    group: usize,
    sep: char,
    min_width: usize,
    out: &mut String,
) {
    let mut groups: Vec<String> = Vec::new();
    let mut remaining = digits.len() as isize;
    let mut min_width = min_width as isize;
    let bytes = digits.as_bytes();
    loop {
        let l = (group as isize).min(remaining.max(min_width).max(1));
        let n_zeros = (l - remaining).max(0);
        let n_chars = remaining.min(l).max(0);
        let mut g = String::with_capacity(l as usize);
        for _ in 0..n_zeros {
            g.push('0');
        }
        let end = remaining as usize;
        let begin = (remaining - n_chars) as usize;
        if n_chars > 0 {
            g.push_str(std::str::from_utf8(&bytes[begin..end]).unwrap_or(""));
        }
        groups.push(g);
        remaining -= n_chars;
        min_width -= l;
        if remaining <= 0 && min_width <= 0 {
            break;
        }
        min_width -= 1; // the separator's width
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(g);
    }
}

/// Appends `n` copies of `c`.
pub(crate) fn push_n(out: &mut String, c: char, n: usize) {
    out.extend(std::iter::repeat_n(c, n));
}

/// Number of characters (code points) in `s`, fast for ASCII.
pub(crate) fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The first `n` characters of `s`.
pub(crate) fn take_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
