//! The `{` style: `str.format` replacement fields with plain attribute names, conversions
//! `!r`/`!s`/`!a` and the format-spec mini-language, applied to values as Python does.
//!
//! Unlike CPython, attribute and index traversal (`{name.__class__}`, `{args[0]}`) and
//! positional fields (`{}`, `{0}`) are rejected when the formatter is built: a format string
//! may come from the network and must not walk objects.

use super::num::{
    FloatKind, MAX_WIDTH, V, char_len, push_n, take_chars, write_float_body, write_grouped,
};
use super::percent::check_cap;
use super::{FormatError, quote_for_error};

/// A parsed format spec (`[[fill]align][sign][z][#][0][width][grouping][.precision][type]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FmtSpec {
    pub(crate) fill: Option<char>,
    pub(crate) align: Option<char>,
    pub(crate) sign: Option<char>,
    pub(crate) z: bool,
    pub(crate) alt: bool,
    pub(crate) zero: bool,
    pub(crate) width: Option<usize>,
    pub(crate) grouping: Option<char>,
    pub(crate) prec: Option<usize>,
    pub(crate) ty: Option<char>,
    /// The spec was empty: `format(v, '')` is `str(v)` for every type.
    pub(crate) empty: bool,
}

/// A spec as written: either known at construction, or containing nested `{name}` fields
/// resolved per record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpecSrc {
    Static(FmtSpec),
    /// Alternating literal text and nested field names: `lit, name, lit, name, …, lit`.
    Dynamic(Vec<String>),
}

/// One replacement field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) conv: Option<char>,
    pub(crate) spec: SpecSrc,
}

/// A piece of a `{`-style format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Field(Field),
}

fn inv(msg: impl Into<String>) -> FormatError {
    FormatError::InvalidFormat(msg.into())
}

/// CPython's `\w` for `str` patterns (close enough: alphanumerics and `_`).
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// CPython's `StrFormatStyle.field_spec`: `^(\d+|\w+)(\.\w+|\[[^]]+\])*$`.
fn field_spec_matches(name: &str) -> bool {
    let b: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < b.len() && is_word(b[i]) {
        i += 1;
    }
    if i == 0 {
        return false;
    }
    while i < b.len() {
        match b[i] {
            '.' => {
                let s = i + 1;
                i += 1;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                if i == s {
                    return false;
                }
            }
            '[' => {
                let s = i + 1;
                i += 1;
                while i < b.len() && b[i] != ']' {
                    i += 1;
                }
                if i == s || i >= b.len() {
                    return false;
                }
                i += 1;
            }
            _ => return false,
        }
    }
    true
}

/// CPython's `StrFormatStyle.fmt_spec` (compiled with `re.I`):
/// `^(.?[<>=^])?[+ -]?#?0?(\d+|{\w+})?[,_]?(\.(\d+|{\w+}))?[bcdefgnosx%]?$`.
fn fmt_spec_matches(spec: &str) -> bool {
    let c: Vec<char> = spec.chars().collect();
    let is_align = |ch: char| matches!(ch, '<' | '>' | '=' | '^');
    let mut starts = vec![];
    if c.len() >= 2 && is_align(c[1]) {
        starts.push(2);
    }
    if !c.is_empty() && is_align(c[0]) {
        starts.push(1);
    }
    starts.push(0);
    starts.into_iter().any(|s| rest_matches(&c, s))
}

fn rest_matches(c: &[char], mut i: usize) -> bool {
    let at = |i: usize| c.get(i).copied();
    if matches!(at(i), Some('+' | ' ' | '-')) {
        i += 1;
    }
    if at(i) == Some('#') {
        i += 1;
    }
    if at(i) == Some('0') {
        i += 1;
    }
    let count = |i: &mut usize| {
        if at(*i).is_some_and(|ch| ch.is_ascii_digit()) {
            while at(*i).is_some_and(|ch| ch.is_ascii_digit()) {
                *i += 1;
            }
            true
        } else if at(*i) == Some('{') {
            let mut j = *i + 1;
            while at(j).is_some_and(is_word) {
                j += 1;
            }
            if j > *i + 1 && at(j) == Some('}') {
                *i = j + 1;
                true
            } else {
                false
            }
        } else {
            false
        }
    };
    count(&mut i);
    if matches!(at(i), Some(',' | '_')) {
        i += 1;
    }
    if at(i) == Some('.') {
        let mut j = i + 1;
        if count(&mut j) {
            i = j;
        }
    }
    if at(i).is_some_and(|ch| "bcdefgnosx%".contains(ch.to_ascii_lowercase())) {
        i += 1;
    }
    i == c.len()
}

/// Parses a `{`-style format string. With `validate`, CPython's `StrFormatStyle.validate`
/// rules and messages apply first; our own restrictions (no traversal, no positional
/// fields, spec syntax, width caps) apply always.
pub(crate) fn parse(fmt: &str, validate: bool) -> Result<Vec<Piece>, FormatError> {
    let raw = parse_markup(fmt)?;
    if validate {
        let mut any = false;
        for (_, field) in &raw {
            if let Some((name, conv, spec)) = field {
                if !name.is_empty() {
                    if !field_spec_matches(name) {
                        return Err(inv(format!(
                            "invalid field name/expression: {}",
                            quote_for_error(name)
                        )));
                    }
                    any = true;
                }
                if let Some(c) = conv
                    && !matches!(c, 'r' | 's' | 'a')
                {
                    return Err(inv(format!(
                        "invalid conversion: {}",
                        quote_for_error(&c.to_string())
                    )));
                }
                if !spec.is_empty() && !fmt_spec_matches(spec) {
                    return Err(inv(format!("bad specifier: {}", quote_for_error(spec))));
                }
            }
        }
        if !any {
            return Err(inv("no fields"));
        }
    }
    let mut pieces = Vec::new();
    for (lit, field) in raw {
        if !lit.is_empty() {
            match pieces.last_mut() {
                Some(Piece::Lit(s)) => s.push_str(&lit),
                _ => pieces.push(Piece::Lit(lit)),
            }
        }
        let Some((name, conv, spec)) = field else {
            continue;
        };
        check_name(&name)?;
        if let Some(c) = conv
            && !matches!(c, 'r' | 's' | 'a')
        {
            return Err(inv(format!(
                "invalid conversion: {}",
                quote_for_error(&c.to_string())
            )));
        }
        let spec = if spec.contains('{') {
            SpecSrc::Dynamic(parse_nested(&spec)?)
        } else {
            SpecSrc::Static(parse_spec(&spec)?)
        };
        pieces.push(Piece::Field(Field { name, conv, spec }));
    }
    Ok(pieces)
}

/// Our restriction on field names: a plain attribute name, nothing else.
fn check_name(name: &str) -> Result<(), FormatError> {
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
        return Err(inv(format!(
            "positional fields are not supported, name the record attribute: {}",
            quote_for_error(name)
        )));
    }
    if name.contains(['.', '[']) {
        return Err(inv(format!(
            "attribute and index lookups are not supported in field names: {}",
            quote_for_error(name)
        )));
    }
    Ok(())
}

type RawField = (String, Option<char>, String);

/// CPython's `MarkupIterator`: literal text and raw fields, with its error messages.
fn parse_markup(fmt: &str) -> Result<Vec<(String, Option<RawField>)>, FormatError> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '}' {
            if chars.get(i + 1) == Some(&'}') {
                lit.push('}');
                i += 2;
                continue;
            }
            return Err(inv("Single '}' encountered in format string"));
        }
        if c != '{' {
            lit.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            lit.push('{');
            i += 2;
            continue;
        }
        if i + 1 >= chars.len() {
            return Err(inv("Single '{' encountered in format string"));
        }
        // Find the matching '}' (nested braces belong to the spec).
        let start = i + 1;
        let mut depth = 1;
        let mut j = start;
        while j < chars.len() {
            match chars[j] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        if depth > 0 {
            return Err(inv("expected '}' before end of string"));
        }
        let field = parse_field(&chars[start..j])?;
        out.push((std::mem::take(&mut lit), Some(field)));
        i = j + 1;
    }
    if !lit.is_empty() {
        out.push((lit, None));
    }
    Ok(out)
}

fn parse_field(c: &[char]) -> Result<RawField, FormatError> {
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '{' => return Err(inv("unexpected '{' in field name")),
            '[' => {
                while i < c.len() && c[i] != ']' {
                    i += 1;
                }
                if i >= c.len() {
                    return Err(inv("Missing ']' in format string"));
                }
                i += 1;
            }
            ':' | '!' => break,
            _ => i += 1,
        }
    }
    let name: String = c[..i].iter().collect();
    let mut conv = None;
    if i < c.len() && c[i] == '!' {
        if i + 1 >= c.len() {
            return Err(inv("end of string while looking for conversion specifier"));
        }
        conv = Some(c[i + 1]);
        i += 2;
        if i < c.len() && c[i] != ':' {
            return Err(inv("expected ':' after conversion specifier"));
        }
    }
    let spec: String = if i < c.len() {
        c[i + 1..].iter().collect()
    } else {
        String::new()
    };
    Ok((name, conv, spec))
}

/// Splits a spec with nested fields into literal text and plain field names.
fn parse_nested(spec: &str) -> Result<Vec<String>, FormatError> {
    let mut parts = vec![String::new()];
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) if is_word(ch) => name.push(ch),
                        _ => {
                            return Err(inv(format!(
                                "nested fields in a format spec must be plain names: {}",
                                quote_for_error(spec)
                            )));
                        }
                    }
                }
                check_name(&name)?;
                parts.push(name);
                parts.push(String::new());
            }
            '}' => return Err(inv(format!("bad specifier: {}", quote_for_error(spec)))),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    Ok(parts)
}

/// CPython's `parse_internal_render_format_spec`, without the type-dependent checks (those
/// run when a value is formatted).
pub(crate) fn parse_spec(spec: &str) -> Result<FmtSpec, FormatError> {
    let c: Vec<char> = spec.chars().collect();
    let mut f = FmtSpec {
        empty: c.is_empty(),
        ..FmtSpec::default()
    };
    let is_align = |ch: char| matches!(ch, '<' | '>' | '=' | '^');
    let mut i = 0;
    if c.len() >= 2 && is_align(c[1]) {
        f.fill = Some(c[0]);
        f.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        f.align = Some(c[0]);
        i = 1;
    }
    if i < c.len() && matches!(c[i], '+' | '-' | ' ') {
        f.sign = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == 'z' {
        f.z = true;
        i += 1;
    }
    if i < c.len() && c[i] == '#' {
        f.alt = true;
        i += 1;
    }
    if f.fill.is_none() && i < c.len() && c[i] == '0' {
        f.zero = true;
        i += 1;
    }
    f.width = get_integer(&c, &mut i, false)?;
    if i < c.len() && c[i] == ',' {
        f.grouping = Some(',');
        i += 1;
    }
    if i < c.len() && c[i] == '_' {
        if f.grouping.is_some() {
            return Err(FormatError::Value(
                "Cannot specify both ',' and '_'.".into(),
            ));
        }
        f.grouping = Some('_');
        i += 1;
    }
    if i < c.len() && c[i] == ',' && f.grouping == Some('_') {
        return Err(FormatError::Value(
            "Cannot specify both ',' and '_'.".into(),
        ));
    }
    if i < c.len() && c[i] == '.' {
        i += 1;
        f.prec = get_integer(&c, &mut i, true)?;
        if f.prec.is_none() {
            return Err(FormatError::Value(
                "Format specifier missing precision".into(),
            ));
        }
    }
    if c.len() - i > 1 {
        return Err(inv(format!("bad specifier: {}", quote_for_error(spec))));
    }
    if i < c.len() {
        f.ty = Some(c[i]);
    }
    Ok(f)
}

fn get_integer(c: &[char], i: &mut usize, is_prec: bool) -> Result<Option<usize>, FormatError> {
    let start = *i;
    let mut n: usize = 0;
    while *i < c.len() && c[*i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(c[*i] as usize - '0' as usize);
        *i += 1;
    }
    if *i == start {
        return Ok(None);
    }
    check_cap(n, is_prec)?;
    Ok(Some(n))
}

/// The grouping check CPython makes once the default type is known.
fn check_grouping(f: &FmtSpec, ty: char) -> Result<Option<(char, usize)>, FormatError> {
    let Some(g) = f.grouping else { return Ok(None) };
    match ty {
        'd' | 'e' | 'f' | 'g' | 'E' | 'G' | '%' | 'F' | '\0' => Ok(Some((g, 3))),
        'b' | 'o' | 'x' | 'X' if g == '_' => Ok(Some((g, 4))),
        _ => Err(FormatError::Value(format!(
            "Cannot specify '{g}' with '{ty}'."
        ))),
    }
}

/// `format(value, spec)` with an optional `!r`/`!s`/`!a` conversion first.
pub(crate) fn write_field(
    v: V<'_>,
    conv: Option<char>,
    f: &FmtSpec,
    out: &mut String,
) -> Result<(), FormatError> {
    match conv {
        Some(c @ ('r' | 'a')) => {
            let mut s = String::new();
            v.write_repr(&mut s, c == 'a');
            write_value(V::Str(&s), f, out)
        }
        Some(_) => {
            if let V::Str(_) = v {
                return write_value(v, f, out);
            }
            let mut s = String::new();
            v.write_str(&mut s);
            write_value(V::Str(&s), f, out)
        }
        None => write_value(v, f, out),
    }
}

/// `format(value, spec)` for one value.
pub(crate) fn write_value(v: V<'_>, f: &FmtSpec, out: &mut String) -> Result<(), FormatError> {
    if f.empty {
        v.write_str(out);
        return Ok(());
    }
    match v {
        V::Str(s) => write_str(s, f, out),
        V::Float(x) => write_float(x, f, out),
        V::Bool(_) | V::Int(_) | V::Big(_) => write_int(v, f, out),
        other => Err(FormatError::Type(format!(
            "unsupported format string passed to {}.__format__",
            other.type_name()
        ))),
    }
}

fn write_str(s: &str, f: &FmtSpec, out: &mut String) -> Result<(), FormatError> {
    let ty = f.ty.unwrap_or('s');
    check_grouping(f, ty)?;
    if ty != 's' {
        return Err(FormatError::Value(format!(
            "Unknown format code '{ty}' for object of type 'str'"
        )));
    }
    if f.sign.is_some() {
        return Err(FormatError::Value(
            "Sign not allowed in string format specifier".into(),
        ));
    }
    if f.z {
        return Err(FormatError::Value(
            "Negative zero coercion (z) not allowed in format specifier".into(),
        ));
    }
    if f.alt {
        return Err(FormatError::Value(
            "Alternate form (#) not allowed in string format specifier".into(),
        ));
    }
    if f.align == Some('=') {
        return Err(FormatError::Value(
            "'=' alignment not allowed in string format specifier".into(),
        ));
    }
    let s = match f.prec {
        Some(p) => take_chars(s, p),
        None => s,
    };
    let fill = f.fill.unwrap_or(if f.zero { '0' } else { ' ' });
    let align = f.align.unwrap_or('<');
    pad(out, "", s, "", f.width.unwrap_or(0), fill, align);
    Ok(())
}

/// Writes `prefix body suffix` padded to `width` with `fill` and `align` (`=` pads between
/// `prefix` and `body`).
fn pad(
    out: &mut String,
    prefix: &str,
    body: &str,
    suffix: &str,
    width: usize,
    fill: char,
    align: char,
) {
    let len = char_len(prefix) + char_len(body) + char_len(suffix);
    let n = width.saturating_sub(len);
    let (left, right) = match align {
        '<' => (0, n),
        '^' => (n / 2, n - n / 2),
        _ => (n, 0),
    };
    if align != '=' {
        push_n(out, fill, left);
    }
    out.push_str(prefix);
    if align == '=' {
        push_n(out, fill, n);
    }
    out.push_str(body);
    out.push_str(suffix);
    push_n(out, fill, right);
}

fn sign_str(neg: bool, sign: Option<char>) -> &'static str {
    match (neg, sign) {
        (true, _) => "-",
        (false, Some('+')) => "+",
        (false, Some(' ')) => " ",
        _ => "",
    }
}

fn write_int(v: V<'_>, f: &FmtSpec, out: &mut String) -> Result<(), FormatError> {
    let ty = f.ty.unwrap_or('d');
    if matches!(ty, 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%') {
        let n = v
            .as_int()
            .ok_or_else(|| FormatError::Value("not an integer".into()))?;
        let x = n.to_f64().map_err(FormatError::Overflow)?;
        return write_float(x, f, out);
    }
    let group = check_grouping(f, ty)?;
    if !matches!(ty, 'b' | 'c' | 'd' | 'o' | 'x' | 'X' | 'n') {
        return Err(FormatError::Value(format!(
            "Unknown format code '{ty}' for object of type 'int'"
        )));
    }
    if f.prec.is_some() {
        return Err(FormatError::Value(
            "Precision not allowed in integer format specifier".into(),
        ));
    }
    if f.z {
        return Err(FormatError::Value(
            "Negative zero coercion (z) not allowed in integer format specifier".into(),
        ));
    }
    let n = v
        .as_int()
        .ok_or_else(|| FormatError::Value("not an integer".into()))?;
    let fill = f.fill.unwrap_or(if f.zero { '0' } else { ' ' });
    let align = f
        .align
        .unwrap_or(if f.zero && f.fill.is_none() { '=' } else { '>' });
    let width = f.width.unwrap_or(0);
    if ty == 'c' {
        if f.sign.is_some() {
            return Err(FormatError::Value(
                "Sign not allowed with integer format specifier 'c'".into(),
            ));
        }
        if f.alt {
            return Err(FormatError::Value(
                "Alternate form (#) not allowed with integer format specifier 'c'".into(),
            ));
        }
        let c = n
            .to_code_point()
            .and_then(char::from_u32)
            .ok_or_else(|| FormatError::Overflow("%c arg not in range(0x110000)".into()))?;
        let mut buf = [0u8; 4];
        pad(out, "", c.encode_utf8(&mut buf), "", width, fill, align);
        return Ok(());
    }
    let (base, upper, pfx) = match ty {
        'b' => (2, false, "0b"),
        'o' => (8, false, "0o"),
        'x' => (16, false, "0x"),
        'X' => (16, true, "0X"),
        _ => (10, false, ""),
    };
    let mut digits = String::new();
    n.write_digits(base, upper, &mut digits)
        .map_err(FormatError::Value)?;
    let mut prefix = String::from(sign_str(n.neg, f.sign));
    if f.alt {
        prefix.push_str(pfx);
    }
    write_number(out, &prefix, &digits, "", group, width, fill, align);
    Ok(())
}

/// Lays out a number: `prefix` (sign, `0x`), integer `digits` (grouped if asked, with zero
/// padding flowing through the grouping as CPython does), then `rest` (fraction, exponent).
#[allow(clippy::too_many_arguments)]
fn write_number(
    out: &mut String,
    prefix: &str,
    digits: &str,
    rest: &str,
    group: Option<(char, usize)>,
    width: usize,
    fill: char,
    align: char,
) {
    match group {
        None => pad(out, prefix, digits, rest, width, fill, align),
        Some((sep, n)) => {
            let min_width = if fill == '0' && align == '=' {
                width.saturating_sub(char_len(prefix) + char_len(rest))
            } else {
                0
            };
            let mut grouped = String::with_capacity(digits.len() * 4 / 3 + 1);
            write_grouped(digits, n, sep, min_width, &mut grouped);
            pad(out, prefix, &grouped, rest, width, fill, align);
        }
    }
}

fn write_float(x: f64, f: &FmtSpec, out: &mut String) -> Result<(), FormatError> {
    let ty = f.ty.unwrap_or('\0');
    let group = check_grouping(f, ty)?;
    let (kind, prec, add_dot_0, percent) = match ty {
        '\0' => match f.prec {
            None => (FloatKind::Repr, 0, true, false),
            Some(p) => (FloatKind::General, p, true, false),
        },
        'e' | 'E' => (FloatKind::Exp, f.prec.unwrap_or(6), false, false),
        'f' | 'F' => (FloatKind::Fixed, f.prec.unwrap_or(6), false, false),
        'g' | 'G' | 'n' => (FloatKind::General, f.prec.unwrap_or(6), false, false),
        '%' => (FloatKind::Fixed, f.prec.unwrap_or(6), false, true),
        _ => {
            return Err(FormatError::Value(format!(
                "Unknown format code '{ty}' for object of type 'float'"
            )));
        }
    };
    let x = if percent { x * 100.0 } else { x };
    let mut body = String::new();
    if x.is_finite() {
        write_float_body(x, kind, prec, f.alt, add_dot_0, &mut body);
    } else {
        body.push_str(if x.is_nan() { "nan" } else { "inf" });
    }
    if matches!(ty, 'E' | 'F' | 'G') {
        body.make_ascii_uppercase();
    }
    if percent {
        body.push('%');
    }
    let mut neg = x.is_sign_negative() && !x.is_nan();
    if neg && f.z && x.is_finite() && !body.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        neg = false;
    }
    let prefix = sign_str(neg, f.sign);
    let fill = f.fill.unwrap_or(if f.zero { '0' } else { ' ' });
    let align = f
        .align
        .unwrap_or(if f.zero && f.fill.is_none() { '=' } else { '>' });
    let width = f.width.unwrap_or(0);
    let split = if x.is_finite() {
        body.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(body.len())
    } else {
        0
    };
    let (digits, rest) = body.split_at(split);
    if digits.is_empty() {
        pad(out, prefix, rest, "", width, fill, align);
    } else {
        write_number(out, prefix, digits, rest, group, width, fill, align);
    }
    Ok(())
}

/// The cap on a spec built at format time from nested fields.
pub(crate) fn parse_dynamic_spec(spec: &str) -> Result<FmtSpec, FormatError> {
    if spec.len() > MAX_WIDTH {
        return Err(inv("format spec too long"));
    }
    parse_spec(spec)
}
