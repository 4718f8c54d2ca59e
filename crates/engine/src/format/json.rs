//! A built-in JSON formatter equal to python-json-logger's `JsonFormatter` (4.x, the
//! standard-library `json` back end) for its common options: the format's fields, `datefmt`,
//! `rename_fields`, `static_fields`, `reserved_attrs`, `timestamp`, `json_ensure_ascii` and
//! `prefix`. Configurations name it by python-json-logger's class names; nothing of that
//! library is imported.
//!
//! The output, as the library builds it: the fields the format names (`%(x)s`, `{x}`, `$x`,
//! found by the library's own patterns, so `{levelname:<7}` names a field called
//! `levelname:<7`, which is `null`), then `static_fields`, then `exc_info` (the traceback
//! text) and `stack_info`, then every attribute of the record that is neither reserved nor
//! named by the format (by default: the extras), then the timestamp; names are renamed by
//! `rename_fields`; `json.dumps` separators `", "` and `": "`.
//!
//! Values are written as `json.dumps` with the library's encoder writes them: bytes as
//! URL-safe base64, datetimes by `isoformat()`, sets and other objects by `str()`. A record
//! without arguments has `args` `null` (what a collector receives; a record made in-process
//! would have `[]`).

use super::{FormatError, Formatter};
use crate::record::{Args, Attribute, LogRecord, STANDARD_ATTRIBUTES};
use crate::value::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// python-json-logger's `RESERVED_ATTRS` (Python 3.11 and earlier; 3.12 adds `taskName`).
pub const RESERVED_ATTRS: &[&str] = &[
    "args",
    "asctime",
    "created",
    "exc_info",
    "exc_text",
    "filename",
    "funcName",
    "levelname",
    "levelno",
    "lineno",
    "module",
    "msecs",
    "message",
    "msg",
    "name",
    "pathname",
    "process",
    "processName",
    "relativeCreated",
    "stack_info",
    "thread",
    "threadName",
];

/// The options of the JSON formatter (python-json-logger's keyword arguments).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JsonOptions {
    /// `rename_fields`: output names for record attributes.
    pub rename_fields: Vec<(String, String)>,
    /// `static_fields`: added to every record.
    pub static_fields: Vec<(String, Value)>,
    /// `reserved_attrs`; `None` is the library's [`RESERVED_ATTRS`].
    pub reserved_attrs: Option<Vec<String>>,
    /// `timestamp`: the key of an ISO 8601 UTC timestamp (`True` is `"timestamp"`).
    pub timestamp: Option<String>,
    /// `json_ensure_ascii` (default true).
    pub ensure_ascii: bool,
    /// `prefix`: text before the JSON object.
    pub prefix: String,
}

/// A JSON formatter's parsed state.
#[derive(Clone, Debug)]
pub(crate) struct JsonSpec {
    pub(crate) required: Vec<String>,
    pub(crate) options: JsonOptions,
    /// The standard attributes it adds to every record (neither named by the format nor
    /// reserved), in `STANDARD_ATTRIBUTES` order: decided once, not per record.
    added_attributes: Vec<&'static str>,
}

impl JsonSpec {
    pub(crate) fn new(required: Vec<String>, options: JsonOptions) -> Self {
        let mut spec = JsonSpec {
            required,
            options,
            added_attributes: Vec::new(),
        };
        spec.added_attributes = STANDARD_ATTRIBUTES
            .iter()
            .copied()
            .filter(|k| *k != "taskName" && spec.adds(k))
            .collect();
        spec
    }

    /// Whether an attribute the format does not name is added (python-json-logger's
    /// `add_fields`: not reserved, not private).
    fn adds(&self, key: &str) -> bool {
        !(self.required.iter().any(|f| f == key) || self.reserved(key) || key.starts_with('_'))
    }

    fn rename<'a>(&'a self, key: &'a str) -> &'a str {
        self.options
            .rename_fields
            .iter()
            .find(|(k, _)| k == key)
            .map_or(key, |(_, v)| v.as_str())
    }

    fn reserved(&self, key: &str) -> bool {
        match &self.options.reserved_attrs {
            Some(list) => list.iter().any(|r| r == key),
            None => RESERVED_ATTRS.contains(&key),
        }
    }
}

/// The fields a format names, found as python-json-logger's `parse()` finds them.
pub(crate) fn required_fields(fmt: &str, style: super::Style) -> Vec<String> {
    match style {
        super::Style::Percent => delimited(fmt, "%(", ')'),
        super::Style::Brace => delimited(fmt, "{", '}'),
        super::Style::Dollar => dollar_fields(fmt),
    }
}

/// The length of `(.+?)close` at the start of `s`: at least one character, then the first
/// `close` (`.` does not match a newline).
fn inner_len(s: &str, close: char) -> Option<usize> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, '\n')) | None => None,
        Some(_) => chars
            .take_while(|(_, c)| *c != '\n')
            .find(|(_, c)| *c == close)
            .map(|(j, _)| j),
    }
}

/// `open(.+?)close` matches, left to right.
fn delimited(fmt: &str, open: &str, close: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = fmt;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        match inner_len(after, close) {
            Some(j) => {
                out.push(after[..j].to_owned());
                rest = &after[j + close.len_utf8()..];
            }
            // No match here: the search goes on from the next character.
            None => rest = &rest[i + 1..],
        }
    }
    out
}

/// `\$(?:\$|\{(.+?)\}|([_a-z][_a-z0-9]*))`, case-insensitive.
fn dollar_fields(fmt: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = fmt;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
            continue;
        }
        if let Some(braced) = after.strip_prefix('{')
            && let Some(j) = inner_len(braced, '}')
        {
            out.push(braced[..j].to_owned());
            rest = &braced[j + 1..];
            continue;
        }
        let ident: String = after
            .chars()
            .enumerate()
            .take_while(|(n, c)| {
                c.is_ascii_alphabetic() || *c == '_' || (*n > 0 && c.is_ascii_digit())
            })
            .map(|(_, c)| c)
            .collect();
        if !ident.is_empty() {
            rest = &after[ident.len()..];
            out.push(ident);
        } else {
            rest = after;
        }
    }
    out
}

/// An ordered JSON object whose keys, as in a Python dict, keep their first position when
/// assigned again. Keys and values borrow from the record and the formatter: building it
/// allocates one vector, not a string per attribute (the allocator had been a fifth of a
/// collector's time with this formatter).
struct Obj<'a> {
    fields: Vec<(&'a str, Field<'a>)>,
    /// A bit per key set (by its length and end bytes): a key whose bit is clear is new,
    /// so most keys are pushed without comparing them with every key before them.
    seen: u64,
}

impl<'a> Obj<'a> {
    fn set(&mut self, key: &'a str, value: Field<'a>) {
        let b = key.as_bytes();
        let hash = b.len() * 7
            + usize::from(*b.first().unwrap_or(&0)) * 3
            + usize::from(*b.last().unwrap_or(&0));
        let bit = 1u64 << (hash % 64);
        if self.seen & bit != 0
            && let Some(slot) = self.fields.iter_mut().find(|(k, _)| *k == key)
        {
            slot.1 = value;
            return;
        }
        self.seen |= bit;
        self.fields.push((key, value));
    }
}

/// A value of the object: a string attribute borrowed as it is, or any other value.
enum Field<'a> {
    Str(&'a str),
    Value(Cow<'a, Value>),
}

impl<'a> Field<'a> {
    fn owned(v: Value) -> Self {
        Field::Value(Cow::Owned(v))
    }
}

/// `record.<key>` as [`LogRecord::attribute`] reads it, with its text borrowed.
fn record_field<'a>(record: &'a LogRecord, key: &str) -> Option<Field<'a>> {
    let attribute = Attribute::of(key);
    match attribute.and_then(|a| record.text_attribute(a)) {
        Some(text) => Some(text.map_or(Field::owned(Value::None), Field::Str)),
        None => match attribute {
            Some(Attribute::Message | Attribute::Asctime) | None => {
                record.extra(key).map(|v| Field::Value(Cow::Borrowed(v)))
            }
            Some(_) => record.attribute(key).map(Field::owned),
        },
    }
}

/// Formats `record` as python-json-logger's `JsonFormatter.format` does.
pub(crate) fn format_json(
    spec: &JsonSpec,
    base: &Formatter,
    record: &LogRecord,
    out: &mut String,
) -> Result<(), FormatError> {
    let message: Cow<'_, str> = match &record.args {
        Args::None => Cow::Borrowed(&record.msg),
        args => Cow::Owned(super::percent::format_message(&record.msg, args)?),
    };
    let wants_time = spec.required.iter().any(|f| f == "asctime");
    let asctime = if wants_time {
        let mut s = String::new();
        base.format_time_into(record, base.datefmt(), &mut s)?;
        Some(s)
    } else {
        None
    };
    // The record's `__dict__` as CPython has it after `format` set `message` (and
    // `asctime` when the format uses it).
    let attr = |key: &str| -> Option<Field<'_>> {
        match key {
            "message" => Some(Field::Str(&message)),
            "asctime" => asctime.as_deref().map(Field::Str),
            "taskName" => None,
            k => record_field(record, k),
        }
    };
    let mut obj = Obj {
        fields: Vec::with_capacity(
            spec.required.len() + spec.added_attributes.len() + record.extra.len() + 4,
        ),
        seen: 0,
    };
    for field in &spec.required {
        obj.set(
            spec.rename(field),
            attr(field).unwrap_or(Field::owned(Value::None)),
        );
    }
    for (k, v) in &spec.options.static_fields {
        obj.set(spec.rename(k), Field::Value(Cow::Borrowed(v)));
    }
    if let Some(t) = record.exc_text.as_deref().filter(|t| !t.is_empty()) {
        obj.set(spec.rename("exc_info"), Field::Str(t));
    }
    if let Some(s) = record.stack_info.as_deref().filter(|s| !s.is_empty()) {
        obj.set(spec.rename("stack_info"), Field::Str(s));
    }
    for &key in &spec.added_attributes {
        if let Some(v) = attr(key) {
            obj.set(spec.rename(key), v);
        }
    }
    let others = (record.extra.iter().map(|(k, _)| k.as_str()))
        .chain(["message"])
        .chain(asctime.as_ref().map(|_| "asctime"));
    for key in others {
        if spec.adds(key)
            && let Some(v) = attr(key)
        {
            obj.set(spec.rename(key), v);
        }
    }
    if let Some(key) = &spec.options.timestamp {
        let t = utc_isoformat(record.created);
        obj.set(spec.rename(key), Field::owned(Value::Str(t)));
    }
    out.push_str(&spec.options.prefix);
    let ascii = spec.options.ensure_ascii;
    write_object(
        obj.fields.iter().map(|(k, v)| (*k, v)),
        out,
        ascii,
        |v, out| match v {
            Field::Str(s) => write_str(s, out, ascii),
            Field::Value(v) => write_value(v, out, ascii, 1),
        },
    );
    Ok(())
}

/// `datetime.fromtimestamp(t, tz=timezone.utc).isoformat()`.
fn utc_isoformat(t: f64) -> String {
    let mut secs = t.floor();
    let mut us = ((t - secs) * 1e6).round_ties_even();
    if us >= 1e6 {
        secs += 1.0;
        us -= 1e6;
    }
    let Ok(ts) = jiff::Timestamp::from_second(secs as i64) else {
        return t.to_string();
    };
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if us != 0.0 {
        let _ = write!(s, ".{:06}", us as u32);
    }
    s.push_str("+00:00");
    s
}

const MAX_DEPTH: usize = 200;

/// `{"key": value, ...}` with `json.dumps`'s separators, each value written by `value`.
fn write_object<K: AsRef<str>, V>(
    members: impl Iterator<Item = (K, V)>,
    out: &mut String,
    ascii: bool,
    mut value: impl FnMut(V, &mut String),
) {
    out.push('{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(k.as_ref(), out, ascii);
        out.push_str(": ");
        value(v, out);
    }
    out.push('}');
}

/// A dict key as `json.dumps` turns it into a string.
fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        Value::None => "null".to_owned(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Float(_) => {
            let mut s = String::new();
            write_float(k, &mut s);
            s
        }
        other => other.py_str(),
    }
}

fn write_float(v: &Value, out: &mut String) {
    if let Value::Float(x) = v {
        if x.is_nan() {
            out.push_str("NaN");
        } else if x.is_infinite() {
            out.push_str(if *x > 0.0 { "Infinity" } else { "-Infinity" });
        } else {
            crate::value::write_float_repr(*x, out);
        }
    }
}

fn write_value(v: &Value, out: &mut String, ascii: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("null");
        return;
    }
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(s) => out.push_str(s),
        Value::Float(_) => write_float(v, out),
        Value::Str(s) => write_str(s, out, ascii),
        Value::Bytes(b) => write_str(&urlsafe_b64(b), out, ascii),
        Value::List(items) | Value::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out, ascii, depth + 1);
            }
            out.push(']');
        }
        Value::Dict(pairs) => write_object(
            pairs.iter().map(|(k, v)| (key_text(k), v)),
            out,
            ascii,
            |v, out| write_value(v, out, ascii, depth + 1),
        ),
        // The library's encoder: datetimes by isoformat(), anything else by str().
        Value::Object(o) if o.class == "datetime.datetime" => {
            let iso: String = o
                .str
                .char_indices()
                .map(|(i, c)| if i == 10 && c == ' ' { 'T' } else { c })
                .collect();
            write_str(&iso, out, ascii);
        }
        Value::Object(o) => write_str(&o.str, out, ascii),
        Value::Set(_) | Value::FrozenSet(_) => write_str(&v.py_str(), out, ascii),
    }
}

/// A string as `json.dumps` writes it (`ensure_ascii` escapes everything outside
/// `' '..='~'`). Runs that need no escape are copied whole: a byte that needs one is ASCII
/// or, with `ensure_ascii`, the first byte of a character, so every cut is at a character
/// boundary.
fn write_str(s: &str, out: &mut String, ascii: bool) {
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\' || (ascii && b > b'~');
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    // Checked without an early exit first, so the common case (nothing to escape)
    // vectorises.
    if !bytes.iter().fold(false, |any, &b| any | escaped(b)) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if !escaped(bytes[i]) {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        let c = s[i..].chars().next().expect("i is at a character boundary");
        escape_char(c, out);
        i += c.len_utf8();
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// One character's `json.dumps` escape.
fn escape_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c => {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
}

/// `base64.urlsafe_b64encode(b).decode()`.
fn urlsafe_b64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings as `json.dumps` writes them, with and without `ensure_ascii` (the expected
    /// texts are CPython's output): escapes in the middle, at the ends, next to non-ASCII.
    #[test]
    fn strings_are_escaped_as_json_dumps_does() {
        let cases = [
            (
                "a\u{1}b\u{7f}c",
                r#""a\u0001b\u007fc""#,
                "\"a\\u0001b\u{7f}c\"",
            ),
            (
                "é\u{2028}\u{1d11e}\"\\\\",
                r#""\u00e9\u2028\ud834\udd1e\"\\\\""#,
                "\"é\u{2028}\u{1d11e}\\\"\\\\\\\\\"",
            ),
            ("plain", r#""plain""#, r#""plain""#),
            (
                "\u{1f}\u{8}\u{c}\r\n\t",
                r#""\u001f\b\f\r\n\t""#,
                r#""\u001f\b\f\r\n\t""#,
            ),
        ];
        for (text, ascii, unicode) in cases {
            let mut out = String::new();
            write_str(text, &mut out, true);
            assert_eq!(out, ascii, "{text:?}");
            out.clear();
            write_str(text, &mut out, false);
            assert_eq!(out, unicode, "{text:?}");
        }
    }

    #[test]
    fn fields_as_the_library_finds_them() {
        assert_eq!(
            required_fields(
                "%(asctime)s %(levelname)-8s %(message)s",
                super::super::Style::Percent
            ),
            ["asctime", "levelname", "message"]
        );
        assert_eq!(
            required_fields("{levelname:<7} {message}", super::super::Style::Brace),
            ["levelname:<7", "message"]
        );
        assert_eq!(
            required_fields("$$ $name ${message}", super::super::Style::Dollar),
            ["name", "message"]
        );
    }

    #[test]
    fn base64_and_escapes() {
        assert_eq!(urlsafe_b64(b"\xfb\xff"), "-_8=");
        assert_eq!(urlsafe_b64(b"abc"), "YWJj");
        let mut s = String::new();
        write_str("é\u{1d11e}\"\x7f", &mut s, true);
        assert_eq!(s, "\"\\u00e9\\ud834\\udd1e\\\"\\u007f\"");
        assert_eq!(utc_isoformat(0.5), "1970-01-01T00:00:00.500000+00:00");
    }
}
