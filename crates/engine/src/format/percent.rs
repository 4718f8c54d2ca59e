//! Python's printf-style `%` operator: `msg % args` for [`LogRecord::get_message`] and the
//! conversion specifiers of `%`-style formatters.
//!
//! ```
//! use logwire_engine::{Args, Value, format_message};
//! let args = Args::Tuple(vec![Value::Int(42), Value::from("x")]);
//! assert_eq!(format_message("%05d|%-3s|", &args).unwrap(), "00042|x  |");
//! ```
//!
//! [`LogRecord::get_message`]: crate::record::LogRecord::get_message

use super::FormatError;
use super::num::{FloatKind, Int, MAX_WIDTH, V, char_len, push_n, take_chars, write_float_body};
use crate::record::Args;
use crate::value::Value;

/// A width or precision: absent, a number, or `*` (taken from the arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    None,
    Num(usize),
    Star,
}

/// One parsed conversion specifier (everything after a `%`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    /// `%(key)` mapping key.
    pub(crate) key: Option<String>,
    pub(crate) left: bool,
    pub(crate) zero: bool,
    pub(crate) space: bool,
    pub(crate) plus: bool,
    pub(crate) alt: bool,
    pub(crate) width: Count,
    pub(crate) prec: Count,
    /// The conversion character (`d`, `s`, …).
    pub(crate) conv: char,
}

impl Spec {
    /// True for a bare `%s`-like spec that just copies `str(value)`.
    pub(crate) fn is_plain_str(&self) -> bool {
        self.conv == 's' && self.width == Count::None && self.prec == Count::None
    }
}

/// One piece of a `%` format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Lit(&'a str),
    /// `%%`
    Percent,
    Conv(Spec),
}

/// Parses `fmt` into pieces, with Python's errors for malformed specifiers and our caps on
/// width and precision.
pub(crate) fn parse(fmt: &str) -> Result<Vec<Piece<'_>>, FormatError> {
    Pieces { fmt, i: 0 }.collect()
}

/// The pieces of a `%` format, parsed lazily (messages are formatted without collecting).
struct Pieces<'a> {
    fmt: &'a str,
    i: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Result<Piece<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.fmt.as_bytes();
        if self.i >= b.len() {
            return None;
        }
        if b[self.i] != b'%' {
            let start = self.i;
            let end = memchr_percent(&b[start..]).map_or(b.len(), |n| start + n);
            self.i = end;
            return Some(Ok(Piece::Lit(&self.fmt[start..end])));
        }
        match parse_spec(self.fmt, self.i + 1) {
            Ok((piece, next)) => {
                self.i = next;
                Some(Ok(piece))
            }
            Err(e) => {
                self.i = b.len();
                Some(Err(e))
            }
        }
    }
}

fn memchr_percent(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'%')
}

/// Parses the specifier starting just after a `%` at byte `start`.
fn parse_spec(fmt: &str, start: usize) -> Result<(Piece<'_>, usize), FormatError> {
    let b = fmt.as_bytes();
    let mut i = start;
    if i >= b.len() {
        return Err(FormatError::Value("incomplete format".into()));
    }
    if b[i] == b'%' {
        return Ok((Piece::Percent, i + 1));
    }
    let mut spec = Spec {
        key: None,
        left: false,
        zero: false,
        space: false,
        plus: false,
        alt: false,
        width: Count::None,
        prec: Count::None,
        conv: 's',
    };
    if b[i] == b'(' {
        // Python counts nested parentheses in the key.
        let mut depth = 1;
        let key_start = i + 1;
        i += 1;
        while i < b.len() && depth > 0 {
            match b[i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        if depth > 0 {
            return Err(FormatError::Value("incomplete format key".into()));
        }
        spec.key = Some(fmt[key_start..i - 1].to_owned());
    }
    while i < b.len() {
        match b[i] {
            b'-' => spec.left = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            b'0' => spec.zero = true,
            _ => break,
        }
        i += 1;
    }
    (spec.width, i) = parse_count(b, i, false)?;
    if i < b.len() && b[i] == b'.' {
        (spec.prec, i) = parse_count(b, i + 1, true)?;
        if spec.prec == Count::None {
            spec.prec = Count::Num(0);
        }
    }
    while i < b.len() && matches!(b[i], b'h' | b'l' | b'L') {
        i += 1;
    }
    let Some(c) = fmt[i.min(fmt.len())..].chars().next() else {
        return Err(FormatError::Value("incomplete format".into()));
    };
    if !"diouxXeEfFgGcrsa".contains(c) {
        let index = fmt[..i].chars().count();
        let shown = if (' '..='~').contains(&c) {
            c.to_string()
        } else {
            "?".into()
        };
        return Err(FormatError::Value(format!(
            "unsupported format character '{shown}' (0x{:x}) at index {index}",
            c as u32
        )));
    }
    spec.conv = c;
    Ok((Piece::Conv(spec), i + c.len_utf8()))
}

fn parse_count(b: &[u8], mut i: usize, is_prec: bool) -> Result<(Count, usize), FormatError> {
    if i < b.len() && b[i] == b'*' {
        return Ok((Count::Star, i + 1));
    }
    let start = i;
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(usize::from(b[i] - b'0'));
        i += 1;
    }
    if i == start {
        return Ok((Count::None, i));
    }
    check_cap(n, is_prec)?;
    Ok((Count::Num(n), i))
}

/// Rejects widths and precisions above [`MAX_WIDTH`].
pub(crate) fn check_cap(n: usize, is_prec: bool) -> Result<(), FormatError> {
    if n > MAX_WIDTH {
        return Err(if is_prec {
            FormatError::PrecisionTooLarge(n)
        } else {
            FormatError::WidthTooLarge(n)
        });
    }
    Ok(())
}

/// CPython's `msg % args`, as `LogRecord.getMessage` applies it.
///
/// With [`Args::None`] the message is returned unchanged (CPython only applies `%` when
/// `args` is truthy, so `%%` stays `%%`). Positional arguments fill `%s`-like specifiers and
/// `*` widths; a mapping fills `%(key)s`. Errors carry Python's messages (`not enough
/// arguments for format string`, `%d format: a real number is required, not str`, …).
/// Widths and precisions above [`MAX_WIDTH`] are errors, so a message cannot allocate
/// unbounded memory.
pub fn format_message(msg: &str, args: &Args) -> Result<String, FormatError> {
    let mut out = String::with_capacity(msg.len() + 16);
    match args {
        Args::None => out.push_str(msg),
        Args::Tuple(items) if items.is_empty() => out.push_str(msg),
        Args::Mapping(m) if m.is_empty() => out.push_str(msg),
        Args::Tuple(items) => format_positional(msg, items, &mut out)?,
        Args::Mapping(map) => format_mapping(msg, map, &mut out)?,
    }
    Ok(out)
}

fn format_positional(msg: &str, items: &[Value], out: &mut String) -> Result<(), FormatError> {
    let mut next = 0;
    let mut take = |out_of_args: &mut bool| -> Option<&Value> {
        let v = items.get(next);
        next += 1;
        if v.is_none() {
            *out_of_args = true;
        }
        v
    };
    let not_enough = || FormatError::Type("not enough arguments for format string".into());
    for piece in (Pieces { fmt: msg, i: 0 }) {
        match piece? {
            Piece::Lit(s) => out.push_str(s),
            Piece::Percent => out.push('%'),
            Piece::Conv(mut spec) => {
                if spec.key.is_some() {
                    return Err(FormatError::Type("format requires a mapping".into()));
                }
                let mut missing = false;
                if spec.width == Count::Star {
                    let w = take(&mut missing).ok_or_else(not_enough)?;
                    let w = star_value(w)?;
                    if w < 0 {
                        spec.left = true;
                    }
                    let w = w.unsigned_abs() as usize;
                    check_cap(w, false)?;
                    spec.width = Count::Num(w);
                }
                if spec.prec == Count::Star {
                    let p = take(&mut missing).ok_or_else(not_enough)?;
                    let p = star_value(p)?.max(0) as usize;
                    check_cap(p, true)?;
                    spec.prec = Count::Num(p);
                }
                let v = take(&mut missing).ok_or_else(not_enough)?;
                write_conv(&spec, V::of(v), out)?;
            }
        }
    }
    if next < items.len() {
        return Err(FormatError::Type(
            "not all arguments converted during string formatting".into(),
        ));
    }
    Ok(())
}

fn format_mapping(msg: &str, map: &[(String, Value)], out: &mut String) -> Result<(), FormatError> {
    // As in CPython, a non-tuple argument is itself the single positional argument, once, and
    // only before any `%(key)` lookup.
    let mut whole_used = false;
    let mut key_used = false;
    for piece in (Pieces { fmt: msg, i: 0 }) {
        match piece? {
            Piece::Lit(s) => out.push_str(s),
            Piece::Percent => out.push('%'),
            Piece::Conv(spec) => {
                if spec.width == Count::Star || spec.prec == Count::Star {
                    return Err(FormatError::Type(
                        "not enough arguments for format string".into(),
                    ));
                }
                match &spec.key {
                    Some(k) => {
                        key_used = true;
                        let v = map
                            .iter()
                            .find(|(name, _)| name == k)
                            .map(|(_, v)| v)
                            .ok_or_else(|| FormatError::Key(super::quote_for_error(k)))?;
                        write_conv(&spec, V::of(v), out)?;
                    }
                    None => {
                        if whole_used || key_used {
                            return Err(FormatError::Type(
                                "not enough arguments for format string".into(),
                            ));
                        }
                        whole_used = true;
                        let dict = Value::Dict(
                            map.iter()
                                .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                                .collect(),
                        );
                        write_conv(&spec, V::of(&dict), out)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn star_value(v: &Value) -> Result<i64, FormatError> {
    match v {
        Value::Int(n) => Ok(*n),
        Value::Bool(b) => Ok((*b).into()),
        Value::BigInt(_) => Err(FormatError::Value(format!(
            "field width {} exceeds the limit of {MAX_WIDTH}",
            v.py_str()
        ))),
        _ => Err(FormatError::Type("* wants int".into())),
    }
}

/// Writes one conversion of `v` (width and precision already resolved to numbers).
pub(crate) fn write_conv(spec: &Spec, v: V<'_>, out: &mut String) -> Result<(), FormatError> {
    let width = match spec.width {
        Count::Num(n) => n,
        _ => 0,
    };
    let prec = match spec.prec {
        Count::Num(n) => Some(n),
        _ => None,
    };
    match spec.conv {
        's' | 'r' | 'a' => {
            if spec.conv == 's' && width == 0 && prec.is_none() {
                v.write_str(out);
                return Ok(());
            }
            let mut s = String::new();
            match spec.conv {
                's' => v.write_str(&mut s),
                'r' => v.write_repr(&mut s, false),
                _ => v.write_repr(&mut s, true),
            }
            let s = match prec {
                Some(p) => take_chars(&s, p),
                None => &s,
            };
            pad_str(out, s, width, spec.left);
        }
        'c' => {
            let c = match v {
                V::Str(s) if s.chars().count() == 1 => s.chars().next().unwrap_or(' '),
                _ => match v.as_int() {
                    Some(n) => n.to_code_point().and_then(char::from_u32).ok_or_else(|| {
                        FormatError::Overflow("%c arg not in range(0x110000)".into())
                    })?,
                    None => return Err(FormatError::Type("%c requires int or char".into())),
                },
            };
            let mut buf = [0u8; 4];
            pad_str(out, c.encode_utf8(&mut buf), width, spec.left);
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            // Fast path: a plain `%d` of a machine integer.
            if let (V::Int(n), 'd' | 'i' | 'u', 0, None, false, false) =
                (v, spec.conv, width, prec, spec.plus, spec.space)
            {
                let _ = std::fmt::Write::write_fmt(out, format_args!("{n}"));
                return Ok(());
            }
            let n = match v {
                V::Float(x) if matches!(spec.conv, 'd' | 'i' | 'u') => {
                    Int::from_float(x).map_err(FormatError::Value)?
                }
                _ => match v.as_int() {
                    Some(n) => n,
                    None if matches!(spec.conv, 'd' | 'i' | 'u') => {
                        return Err(FormatError::Type(format!(
                            "%{} format: a real number is required, not {}",
                            spec.conv,
                            v.type_name()
                        )));
                    }
                    None => {
                        return Err(FormatError::Type(format!(
                            "%{} format: an integer is required, not {}",
                            spec.conv,
                            v.type_name()
                        )));
                    }
                },
            };
            let (base, upper, prefix) = match spec.conv {
                'o' => (8, false, "0o"),
                'x' => (16, false, "0x"),
                'X' => (16, true, "0X"),
                _ => (10, false, ""),
            };
            let mut digits = String::new();
            n.write_digits(base, upper, &mut digits)
                .map_err(FormatError::Value)?;
            if let Some(p) = prec
                && digits.len() < p
            {
                digits.insert_str(0, &"0".repeat(p - digits.len()));
            }
            let sign = sign_of(n.neg, spec);
            let prefix = if spec.alt { prefix } else { "" };
            pad_number(out, sign, prefix, &digits, width, spec.left, spec.zero);
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let x = match v {
                V::Float(x) => x,
                _ => match v.as_int() {
                    Some(n) => n.to_f64().map_err(FormatError::Overflow)?,
                    None => {
                        return Err(FormatError::Type(format!(
                            "must be real number, not {}",
                            v.type_name()
                        )));
                    }
                },
            };
            let upper = spec.conv.is_ascii_uppercase();
            let mut body = String::new();
            if x.is_finite() {
                let kind = match spec.conv.to_ascii_lowercase() {
                    'e' => FloatKind::Exp,
                    'f' => FloatKind::Fixed,
                    _ => FloatKind::General,
                };
                write_float_body(x, kind, prec.unwrap_or(6), spec.alt, false, &mut body);
            } else {
                body.push_str(if x.is_nan() { "nan" } else { "inf" });
            }
            if upper {
                body.make_ascii_uppercase();
            }
            let neg = x.is_sign_negative() && !x.is_nan();
            pad_number(
                out,
                sign_of(neg, spec),
                "",
                &body,
                width,
                spec.left,
                spec.zero,
            );
        }
        _ => {}
    }
    Ok(())
}

fn sign_of(neg: bool, spec: &Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn pad_str(out: &mut String, s: &str, width: usize, left: bool) {
    let len = char_len(s);
    if len >= width {
        out.push_str(s);
    } else if left {
        out.push_str(s);
        push_n(out, ' ', width - len);
    } else {
        push_n(out, ' ', width - len);
        out.push_str(s);
    }
}

fn pad_number(
    out: &mut String,
    sign: &str,
    prefix: &str,
    body: &str,
    width: usize,
    left: bool,
    zero: bool,
) {
    let len = sign.len() + prefix.len() + body.len();
    let fill = width.saturating_sub(len);
    if left {
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(body);
        push_n(out, ' ', fill);
    } else if zero {
        out.push_str(sign);
        out.push_str(prefix);
        push_n(out, '0', fill);
        out.push_str(body);
    } else {
        push_n(out, ' ', fill);
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(body);
    }
}
