//! Formatters: CPython's `logging.Formatter` with its `%`, `{` and `$` styles, `datefmt`,
//! `defaults` and `validate`, producing byte-for-byte what CPython produces.
//!
//! ```
//! use logwire_engine::{Formatter, LogRecord};
//! let mut record = LogRecord::new("app.db", 30, "/src/db.py", 7, "disk %d%% full");
//! record.args = logwire_engine::Args::Tuple(vec![logwire_engine::Value::Int(93)]);
//! let f = Formatter::builder().format("%(levelname)-8s %(name)s: %(message)s").build().unwrap();
//! assert_eq!(f.format(&record), "WARNING  app.db: disk 93% full");
//! ```
//!
//! The format string is parsed once, when the formatter is built, into literal and field
//! segments; the record's own attributes are read straight from its fields.
//!
//! # Errors at format time
//! CPython raises from `Formatter.format` (a missing field, a value its spec cannot format)
//! and the handler's `handleError` reports it. [`Formatter::try_format`] returns that error,
//! and every built-in handler uses it: the handler writes nothing for that record, prints a
//! `--- Logging error ---` block on stderr and counts it ([`Handler::error_count`](crate::Handler::error_count)), as
//! CPython does. [`Formatter::format`] never fails: for callers outside a handler it renders
//! the message followed by `[logwire: <error>]`. Malformed format strings (which would fail
//! on every record in CPython) are rejected by [`Formatter::new`] even when `validate` is
//! false.

pub(crate) mod brace;
mod builder;
pub(crate) mod json;
mod num;
pub(crate) mod percent;
pub(crate) mod strftime;
pub(crate) mod template;
pub(crate) mod time;
mod time_cache;

use crate::record::{Args, Attribute, LogRecord};
use crate::value::Value;
pub use builder::FormatterBuilder;
pub use json::{JsonOptions, RESERVED_ATTRS};
pub use percent::format_message;
// Renamed at the root so each says it is about strftime formats.
use jiff::tz::TimeZone;
pub use num::MAX_WIDTH;
use num::V;
use std::borrow::Cow;
use std::fmt::Write;
pub use strftime::{
    DatefmtError, check as check_strftime, limit as strftime_limit, max_len as strftime_max_len,
    strftime, strftime_into,
};
pub use time::{Tm, gmtime, localtime};

/// The longest format string (or `datefmt`) a formatter accepts, in bytes.
pub const MAX_FORMAT_LEN: usize = 64 * 1024;

/// CPython's `Formatter.default_time_format`.
pub const DEFAULT_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A formatter style (CPython's `style=` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Style {
    /// `'%'`: printf-style `%(name)s`.
    Percent,
    /// `'{'`: `str.format`-style `{name}`.
    Brace,
    /// `'$'`: `string.Template`-style `$name` / `${name}`.
    Dollar,
}

impl Style {
    /// The style for CPython's symbol (`"%"`, `"{"`, `"$"`), or CPython's error.
    pub fn from_symbol(symbol: &str) -> Result<Style, FormatError> {
        match symbol {
            "%" => Ok(Style::Percent),
            "{" => Ok(Style::Brace),
            "$" => Ok(Style::Dollar),
            other => Err(FormatError::InvalidStyle(other.to_owned())),
        }
    }

    /// The style's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Style::Percent => "%",
            Style::Brace => "{",
            Style::Dollar => "$",
        }
    }

    /// The style's default format (`'%(message)s'`, `'{message}'`, `'${message}'`).
    pub fn default_format(self) -> &'static str {
        match self {
            Style::Percent => "%(message)s",
            Style::Brace => "{message}",
            Style::Dollar => "${message}",
        }
    }
}

/// Why a format string was rejected or a record could not be formatted. Messages follow
/// CPython's wherever CPython has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// `style` is not one of `%`, `{`, `$`.
    #[error("Style must be one of: %,{{,$ (got {0:?})")]
    InvalidStyle(String),
    /// A `%`-style format without any `%(field)` conversion (with `validate`).
    #[error("Invalid format '{0}' for '%' style")]
    InvalidPercentFormat(String),
    /// A `{` or `$` format that does not parse or validate.
    #[error("invalid format: {0}")]
    InvalidFormat(String),
    /// A field the record (and `defaults`) do not have.
    #[error("Formatting field not found in record: {0}")]
    FieldNotFound(String),
    /// A mapping key missing from a message's arguments (Python's `KeyError`).
    #[error("{0}")]
    Key(String),
    /// A width above [`MAX_WIDTH`].
    #[error("field width {0} exceeds the limit of {MAX_WIDTH}")]
    WidthTooLarge(usize),
    /// A precision above [`MAX_WIDTH`].
    #[error("precision {0} exceeds the limit of {MAX_WIDTH}")]
    PrecisionTooLarge(usize),
    /// A format string longer than [`MAX_FORMAT_LEN`].
    #[error("format string of {0} bytes exceeds the limit of {MAX_FORMAT_LEN}")]
    FormatTooLong(usize),
    /// A `datefmt` that cannot render for every time (see [`strftime::check`]).
    #[error(transparent)]
    Datefmt(#[from] strftime::DatefmtError),
    /// Python's `TypeError` (`not enough arguments for format string`, …).
    #[error("{0}")]
    Type(String),
    /// Python's `ValueError` (`unsupported format character 'Z' (0x5a) at index 3`, …).
    #[error("{0}")]
    Value(String),
    /// Python's `OverflowError` (`%c arg not in range(0x110000)`, …).
    #[error("{0}")]
    Overflow(String),
    /// The record's time cannot be converted (NaN, or outside years -9999..=9999).
    #[error("time {0} cannot be converted to a date")]
    Time(String),
}

/// What a format field names: a record attribute (read from [`LogRecord`]'s fields), or
/// an extra field (or a `defaults` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Attr {
    Record(Attribute),
    Other(String),
}

impl Segment {
    /// The segment for `str(attr)`.
    fn plain(attr: Attr) -> Segment {
        match attr {
            Attr::Record(Attribute::Name) => Segment::Name,
            Attr::Record(Attribute::Levelname) => Segment::Levelname,
            Attr::Record(Attribute::Message) => Segment::Message,
            Attr::Record(Attribute::Asctime) => Segment::Asctime,
            Attr::Other(name) => Segment::Extra(name),
            attr => Segment::Str(attr),
        }
    }
}

impl Attr {
    fn of(name: &str) -> Attr {
        Attribute::of(name).map_or_else(|| Attr::Other(name.to_owned()), Attr::Record)
    }
}

/// `repr(u8)`: a one-byte tag is cheaper to dispatch on than a niche in a `String`.
#[derive(Debug)]
#[repr(u8)]
enum Segment {
    Lit(String),
    /// `str(value)` appended as it is: `%(attr)s` without width or precision, `$attr`,
    /// `{attr}`. The most used attributes have their own variants (one dispatch, no
    /// lookup): `Str` holds the others.
    Str(Attr),
    /// `str(record.name)`.
    Name,
    /// `str(record.levelname)`.
    Levelname,
    /// `str(record.message)`.
    Message,
    /// `str(record.asctime)`.
    Asctime,
    /// `str()` of an extra field (or a `defaults` entry).
    Extra(String),
    Percent {
        attr: Attr,
        spec: percent::Spec,
    },
    Brace {
        attr: Attr,
        conv: Option<char>,
        spec: brace::SpecSrc,
        nested: Vec<Attr>,
    },
    /// A format that fails on every record (as it would in CPython).
    Fail(FormatError),
}

/// An upper bound on what formatting one record can produce, for a content policy to cap:
/// formatting costs time linear in its output, so bounding the output bounds the cost.
///
/// The output of one record is at most `fixed + record_fields × S`, where `S` is the longest
/// `str()` of a field of the record (its message, name, exception text…; a number renders
/// at most ~330 characters; a container such as `args` renders its `repr()`, at most four
/// times its text plus its punctuation). `fixed` is what the format renders whatever the
/// record holds. Both are linear in the format and datefmt, so a cap on them bounds the cost
/// of formatting one record by the record's own size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderBound {
    /// Literal text, field widths and precisions, and every `asctime` at its `datefmt`'s
    /// longest ([`strftime::max_len`]), in bytes.
    pub fixed: usize,
    /// How many times text from the record is copied into the output (each field, four for
    /// a field shown with `repr()`/`ascii()`, each nested `{}` spec field, and the exception
    /// and stack texts appended at the end).
    pub record_fields: usize,
}

/// A formatter (CPython's `logging.Formatter`). Immutable once built; share it freely.
#[derive(Debug)]
pub struct Formatter {
    fmt: String,
    datefmt: Option<String>,
    style: Style,
    segments: Vec<Segment>,
    defaults: Vec<(String, Value)>,
    uses_time: bool,
    utc: bool,
    /// The zone `time.localtime` uses (and `mktime` for `%s`).
    tz: TimeZone,
    /// Identifies this formatter's time settings in the per-thread `asctime` cache.
    time_id: u64,
    /// Set for python-json-logger's `JsonFormatter` (see [`json`]): records are written as
    /// JSON objects; `fmt` only names the fields.
    json: Option<Box<json::JsonSpec>>,
}

impl Default for Formatter {
    /// CPython's `Formatter()`: `'%(message)s'` and the default time format.
    fn default() -> Self {
        Formatter::new(None, None, Style::Percent, true, Vec::new())
            .unwrap_or_else(|_| unreachable!("the default format is valid"))
    }
}

impl Formatter {
    /// A [`FormatterBuilder`] with CPython's defaults; set what differs, then `build()`.
    pub fn builder() -> FormatterBuilder {
        FormatterBuilder::default()
    }

    /// CPython's `Formatter(fmt)`: a `%`-style format, validated. The common case of
    /// [`Formatter::builder`].
    ///
    /// ```
    /// let f = logwire_engine::Formatter::percent("%(levelname)s %(message)s").unwrap();
    /// let record = logwire_engine::LogRecord::new("app", 20, "app.rs", 1, "ready");
    /// assert_eq!(f.format(&record), "INFO ready");
    /// ```
    pub fn percent(fmt: &str) -> Result<Formatter, FormatError> {
        Formatter::builder().format(fmt).build()
    }

    /// CPython's `Formatter(fmt, datefmt, style, validate, defaults=...)`, positionally;
    /// [`Formatter::builder`] names the same settings.
    ///
    /// `fmt` of `None` (or empty) means the style's default. With `validate`, CPython's
    /// checks apply (a `%` format needs a `%(field)` conversion, `{`/`$` formats need a
    /// field, and so on). Whatever `validate` says, formats that cannot be parsed, `{`
    /// fields that traverse attributes or indexes, widths or precisions above
    /// [`MAX_WIDTH`] and formats longer than [`MAX_FORMAT_LEN`] are rejected.
    pub fn new(
        fmt: Option<&str>,
        datefmt: Option<&str>,
        style: Style,
        validate: bool,
        defaults: Vec<(String, Value)>,
    ) -> Result<Formatter, FormatError> {
        let fmt = match fmt {
            Some(f) if !f.is_empty() => f,
            _ => style.default_format(),
        };
        if fmt.len() > MAX_FORMAT_LEN {
            return Err(FormatError::FormatTooLong(fmt.len()));
        }
        if let Some(d) = datefmt {
            if d.len() > MAX_FORMAT_LEN {
                return Err(FormatError::FormatTooLong(d.len()));
            }
            // CPython renders an empty asctime, silently, when a width makes the time too
            // long for its buffer; refuse such a datefmt here, with the reason.
            strftime::check(d)?;
        }
        let segments = match style {
            Style::Percent => parse_percent(fmt, validate)?,
            Style::Brace => parse_brace(fmt, validate)?,
            Style::Dollar => template::parse(fmt, validate)?
                .into_iter()
                .map(|p| match p {
                    template::Piece::Lit(s) => Segment::Lit(s),
                    template::Piece::Field(name) => Segment::plain(Attr::of(&name)),
                })
                .collect(),
        };
        let uses_time = match style {
            Style::Percent => fmt.contains("%(asctime)"),
            Style::Brace => fmt.contains("{asctime"),
            Style::Dollar => fmt.contains("$asctime") || fmt.contains("${asctime}"),
        };
        Ok(Formatter {
            fmt: fmt.to_owned(),
            datefmt: datefmt.map(str::to_owned),
            style,
            segments,
            defaults,
            uses_time,
            utc: false,
            tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            time_id: time_cache::new_id(),
            json: None,
        })
    }

    /// Whether this formatter writes the message and nothing else (CPython's default
    /// `%(message)s`, in any style): for a record with no args, exception or stack text its
    /// output is `record.msg` itself, which lets a queue skip formatting.
    pub fn is_message_only(&self) -> bool {
        self.json.is_none() && matches!(self.segments.as_slice(), [Segment::Message])
    }

    /// An upper bound on what formatting one record produces (see [`RenderBound`]).
    pub fn render_bound(&self) -> RenderBound {
        let asctime = match &self.datefmt {
            Some(d) => strftime::max_len(d),
            // The default time format, then `,%03d` of the milliseconds.
            None => strftime::max_len(DEFAULT_TIME_FORMAT) + 4,
        };
        let mut b = RenderBound {
            fixed: 0,
            record_fields: 0,
        };
        // `repr()`/`ascii()` of a text escapes each byte into at most 4 characters (`\x00`;
        // `\U0001f600` is 10 for 4 bytes), plus the quotes: one field counts as 4 copies.
        let field = |b: &mut RenderBound, attr: Option<&Attr>, pad: usize, repr: bool| {
            b.fixed = b
                .fixed
                .saturating_add(pad)
                .saturating_add(if repr { 2 } else { 0 });
            if matches!(attr, Some(Attr::Record(Attribute::Asctime))) {
                // A datefmt's literal text may hold control characters that repr() escapes.
                let copies = if repr { 4 } else { 1 };
                b.fixed = b.fixed.saturating_add(asctime.saturating_mul(copies));
            } else {
                b.record_fields += if repr { 4 } else { 1 };
            }
        };
        for seg in &self.segments {
            match seg {
                Segment::Lit(s) => b.fixed = b.fixed.saturating_add(s.len()),
                Segment::Asctime => {
                    field(&mut b, Some(&Attr::Record(Attribute::Asctime)), 0, false)
                }
                Segment::Str(a) => field(&mut b, Some(a), 0, false),
                Segment::Name | Segment::Levelname | Segment::Message | Segment::Extra(_) => {
                    field(&mut b, None, 0, false)
                }
                Segment::Percent { attr, spec } => {
                    let n = |c: &percent::Count| match c {
                        percent::Count::Num(n) => *n,
                        percent::Count::None => 0,
                        percent::Count::Star => MAX_WIDTH,
                    };
                    let repr = matches!(spec.conv, 'r' | 'a');
                    field(&mut b, Some(attr), n(&spec.width) + n(&spec.prec), repr)
                }
                Segment::Brace {
                    attr,
                    spec,
                    nested,
                    conv,
                } => {
                    let pad = match spec {
                        brace::SpecSrc::Static(s) => s.width.unwrap_or(0) + s.prec.unwrap_or(0),
                        // Width and precision come from the record: each at most MAX_WIDTH.
                        brace::SpecSrc::Dynamic(_) => 2 * MAX_WIDTH,
                    };
                    field(&mut b, Some(attr), pad, matches!(conv, Some('r' | 'a')));
                    b.record_fields += nested.len();
                }
                Segment::Fail(_) => {}
            }
        }
        // `Formatter.format` appends exc_text and stack_info once each.
        b.record_fields += 2;
        if let Some(spec) = &self.json {
            // A JSON object also carries every extra attribute of the record (keys and values
            // together at most one more copy of its text), and JSON escapes a byte into at
            // most six (`\u0000`; with ensure_ascii a 4-byte character is two 6-byte escapes).
            b.record_fields = (b.record_fields + 1).saturating_mul(6);
            let o = &spec.options;
            let names = o.rename_fields.iter().map(|(_, to)| to.len());
            let statics = o
                .static_fields
                .iter()
                .map(|(k, v)| k.len() + v.py_repr().len());
            let fixed: usize = names
                .chain(statics)
                .chain([
                    o.prefix.len(),
                    o.timestamp.as_ref().map_or(0, |t| t.len() + 40),
                ])
                .sum();
            b.fixed = b.fixed.saturating_add(fixed.saturating_mul(6));
        }
        b
    }

    /// python-json-logger's `JsonFormatter(fmt, datefmt, style, validate, **options)`: the
    /// format is checked as `Formatter`'s is and names the fields of each JSON object (see
    /// [`JsonOptions`](crate::JsonOptions)).
    pub fn json(
        fmt: Option<&str>,
        datefmt: Option<&str>,
        style: Style,
        validate: bool,
        options: json::JsonOptions,
    ) -> Result<Formatter, FormatError> {
        let mut f = Formatter::new(fmt, datefmt, style, validate, Vec::new())?;
        let required = json::required_fields(&f.fmt, style);
        f.json = Some(Box::new(json::JsonSpec::new(required, options)));
        Ok(f)
    }

    /// Whether this is a JSON formatter ([`Formatter::json`]).
    pub fn is_json(&self) -> bool {
        self.json.is_some()
    }

    /// Uses `time.gmtime` instead of `time.localtime` (CPython: `converter = time.gmtime`).
    pub fn with_utc(mut self, utc: bool) -> Formatter {
        self.utc = utc;
        self.time_id = time_cache::new_id();
        self
    }

    /// Uses `tz` as the local time zone instead of the system's (`TZ` or `/etc/localtime`).
    pub fn with_time_zone(mut self, tz: TimeZone) -> Formatter {
        self.tz = tz;
        self.time_id = time_cache::new_id();
        self
    }

    /// The format string (CPython's `_fmt`).
    pub fn fmt_str(&self) -> &str {
        &self.fmt
    }

    /// The date format, if any.
    pub fn datefmt(&self) -> Option<&str> {
        self.datefmt.as_deref()
    }

    /// The style.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Whether the format uses `asctime` (CPython's `usesTime()`).
    pub fn uses_time(&self) -> bool {
        self.uses_time
    }

    /// Whether times are converted with `gmtime`.
    pub fn utc(&self) -> bool {
        self.utc
    }

    /// CPython's `Formatter.format(record)`; on error, the message followed by
    /// `[logwire: <error>]` (see the module docs).
    pub fn format(&self, record: &LogRecord) -> String {
        let mut out = String::with_capacity(self.fmt.len() + record.msg.len() + 64);
        self.format_into(record, &mut out);
        out
    }

    /// [`Formatter::format`], appending to `out`.
    pub fn format_into(&self, record: &LogRecord, out: &mut String) {
        let start = out.len();
        if let Err(e) = self.try_format_into(record, out) {
            out.truncate(start);
            out.push_str(&record.get_message());
            let _ = write!(out, " [logwire: {e}]");
        }
    }

    /// CPython's `Formatter.format(record)`, with its errors.
    pub fn try_format(&self, record: &LogRecord) -> Result<String, FormatError> {
        let mut out = String::with_capacity(self.fmt.len() + record.msg.len() + 64);
        self.try_format_into(record, &mut out)?;
        Ok(out)
    }

    /// [`Formatter::try_format`], appending to `out` (on error `out` may hold a partial line).
    pub fn try_format_into(&self, record: &LogRecord, out: &mut String) -> Result<(), FormatError> {
        if let Some(spec) = &self.json {
            return json::format_json(spec, self, record, out);
        }
        let mut ctx = Ctx {
            record,
            message: None,
            second: None,
            asctime: None,
        };
        if self.uses_time {
            // CPython sets `record.asctime` before formatting anything else, so a time that
            // cannot be converted is the error reported even when a field is missing too.
            let secs = time::floor_secs(record.created)
                .ok_or_else(|| FormatError::Time(record.created.to_string()))?;
            if !time::convertible(secs) {
                return Err(FormatError::Time(record.created.to_string()));
            }
            let msecs = match self.datefmt {
                Some(_) => Some(""),
                None => msecs_digits(record.msecs),
            };
            if let Some(msecs) = msecs {
                // Cannot fail now: written straight into `out` at its place.
                ctx.second = Some(Second { secs, msecs });
            } else {
                // Milliseconds `%03d` may reject (NaN) or render long: the general path.
                let mut s = ASCTIME_BUF.with(|b| b.take());
                s.clear();
                if let Err(e) = self.format_time_into(record, self.datefmt.as_deref(), &mut s) {
                    ASCTIME_BUF.with(|b| b.set(s));
                    return Err(e);
                }
                ctx.asctime = Some(s);
            }
        }
        let result = self.format_segments(&mut ctx, out);
        if let Some(s) = ctx.asctime.take() {
            ASCTIME_BUF.with(|b| b.set(s));
        }
        result
    }

    fn format_segments(&self, ctx: &mut Ctx<'_>, out: &mut String) -> Result<(), FormatError> {
        let record = ctx.record;
        for seg in &self.segments {
            match seg {
                Segment::Lit(s) => out.push_str(s),
                Segment::Name => out.push_str(&record.name),
                Segment::Levelname => out.push_str(&record.levelname),
                Segment::Message => match (&ctx.message, &record.args) {
                    (None, Args::None) => out.push_str(&record.msg),
                    _ => self.write_plain(ctx, &Attr::Record(Attribute::Message), out)?,
                },
                Segment::Asctime => match (ctx.second, &ctx.asctime) {
                    (Some(second), None) => self.write_asctime(record, second, out)?,
                    _ => self.write_plain(ctx, &Attr::Record(Attribute::Asctime), out)?,
                },
                Segment::Extra(name) => match record.extra(name) {
                    Some(Value::Str(s)) => out.push_str(s),
                    Some(v) => V::of(v).write_str(out),
                    None => self.default_of(name, |v| {
                        v.write_str(out);
                        Ok(())
                    })?,
                },
                Segment::Str(attr) => self.write_plain(ctx, attr, out)?,
                Segment::Fail(e) => return Err(e.clone()),
                Segment::Percent { attr, spec } => {
                    self.with_value(ctx, attr, |v| percent::write_conv(spec, v, out))?;
                }
                Segment::Brace {
                    attr,
                    conv,
                    spec,
                    nested,
                } => {
                    let dynamic;
                    let spec = match spec {
                        brace::SpecSrc::Static(s) => s,
                        brace::SpecSrc::Dynamic(parts) => {
                            let mut text = String::new();
                            for (i, part) in parts.iter().enumerate() {
                                if i % 2 == 0 {
                                    text.push_str(part);
                                } else {
                                    self.with_value(ctx, &nested[i / 2], |v| {
                                        v.write_str(&mut text);
                                        Ok(())
                                    })?;
                                }
                            }
                            dynamic = brace::parse_dynamic_spec(&text)?;
                            &dynamic
                        }
                    };
                    self.with_value(ctx, attr, |v| brace::write_field(v, *conv, spec, out))?;
                }
            }
        }
        // CPython appends the exception text and the stack, each on a new line.
        for text in [&record.exc_text, &record.stack_info].into_iter().flatten() {
            if !text.is_empty() {
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        Ok(())
    }

    /// `str(value)` of one attribute appended to `out`.
    fn write_plain(
        &self,
        ctx: &mut Ctx<'_>,
        attr: &Attr,
        out: &mut String,
    ) -> Result<(), FormatError> {
        self.with_value(ctx, attr, |v| {
            v.write_str(out);
            Ok(())
        })
    }

    /// `asctime` appended to `out`: the cached text of the record's second, then the
    /// milliseconds (see [`Ctx::second`]).
    fn write_asctime(
        &self,
        record: &LogRecord,
        second: Second,
        out: &mut String,
    ) -> Result<(), FormatError> {
        time_cache::append_text(
            self.time_id,
            second.secs,
            |text| self.render_second(record, second.secs, self.datefmt.as_deref(), text),
            out,
        )?;
        out.push_str(second.msecs);
        Ok(())
    }

    /// Resolves one attribute (record first, then `defaults`) and hands it to `f`.
    fn with_value<'r, R>(
        &self,
        ctx: &mut Ctx<'r>,
        attr: &Attr,
        f: impl FnOnce(V<'_>) -> Result<R, FormatError>,
    ) -> Result<R, FormatError> {
        let r = ctx.record;
        let v = match attr {
            Attr::Record(Attribute::Name) => V::Str(&r.name),
            Attr::Record(Attribute::Msg) => V::Str(&r.msg),
            Attr::Record(Attribute::Args) => {
                let args = match &r.args {
                    Args::None => Value::None,
                    _ => r.attribute("args").unwrap_or(Value::None),
                };
                return f(V::of(&args));
            }
            Attr::Record(Attribute::Levelname) => V::Str(&r.levelname),
            Attr::Record(Attribute::Levelno) => V::Int(r.levelno.into()),
            Attr::Record(Attribute::Pathname) => V::Str(&r.pathname),
            Attr::Record(Attribute::Filename) => V::Str(&r.filename),
            Attr::Record(Attribute::Module) => V::Str(&r.module),
            Attr::Record(Attribute::ExcInfo) => V::None,
            Attr::Record(Attribute::ExcText) => V::opt_str(&r.exc_text),
            Attr::Record(Attribute::StackInfo) => V::opt_str(&r.stack_info),
            Attr::Record(Attribute::Lineno) => V::Int(r.lineno),
            Attr::Record(Attribute::FuncName) => V::opt_str(&r.func_name),
            Attr::Record(Attribute::Created) => V::Float(r.created),
            Attr::Record(Attribute::Msecs) => V::Float(r.msecs),
            Attr::Record(Attribute::RelativeCreated) => V::Float(r.relative_created),
            Attr::Record(Attribute::Thread) => match r.thread {
                None => V::None,
                Some(t) => match i64::try_from(t) {
                    Ok(t) => V::Int(t),
                    Err(_) => {
                        let s = t.to_string();
                        return f(V::Big(&s));
                    }
                },
            },
            Attr::Record(Attribute::ThreadName) => V::opt_str(&r.thread_name),
            Attr::Record(Attribute::ProcessName) => V::opt_str(&r.process_name),
            Attr::Record(Attribute::Process) => r.process.map_or(V::None, |p| V::Int(p.into())),
            Attr::Record(Attribute::TaskName) => V::opt_str(&r.task_name),
            Attr::Record(Attribute::Message) => {
                let msg = ctx.message.get_or_insert_with(|| message_of(r));
                return f(V::Str(msg));
            }
            Attr::Record(Attribute::Asctime) => {
                if ctx.asctime.is_none()
                    && let Some(second) = ctx.second
                {
                    // A spec needs the whole text as one value.
                    let mut s = ASCTIME_BUF.with(|b| b.take());
                    s.clear();
                    let written = self.write_asctime(r, second, &mut s);
                    ctx.asctime = Some(s);
                    written?;
                }
                match &ctx.asctime {
                    Some(s) => V::Str(s),
                    None => return self.default_of("asctime", f),
                }
            }
            Attr::Other(name) => match r.extra(name) {
                Some(v) => V::of(v),
                None => return self.default_of(name, f),
            },
        };
        f(v)
    }

    fn default_of<R>(
        &self,
        name: &str,
        f: impl FnOnce(V<'_>) -> Result<R, FormatError>,
    ) -> Result<R, FormatError> {
        match self.defaults.iter().find(|(k, _)| k == name) {
            Some((_, v)) => f(V::of(v)),
            None => Err(FormatError::FieldNotFound(quote_for_error(name))),
        }
    }

    /// CPython's `Formatter.formatTime(record, datefmt)`: `time.strftime(datefmt, ct)`, or
    /// `'%Y-%m-%d %H:%M:%S'` then `,%03d` milliseconds. A time that cannot be converted
    /// gives the error text.
    pub fn format_time(&self, record: &LogRecord, datefmt: Option<&str>) -> String {
        let mut out = String::new();
        if let Err(e) = self.format_time_into(record, datefmt, &mut out) {
            out = e.to_string();
        }
        out
    }

    /// `time.strftime(datefmt, converter(secs))` appended to `out`.
    fn render_second(
        &self,
        record: &LogRecord,
        secs: i64,
        datefmt: Option<&str>,
        out: &mut String,
    ) -> Result<(), FormatError> {
        let tm = if self.utc {
            time::gmtime(secs, &self.tz)
        } else {
            time::localtime(secs, &self.tz)
        }
        .ok_or_else(|| FormatError::Time(record.created.to_string()))?;
        strftime::strftime_into(datefmt.unwrap_or(DEFAULT_TIME_FORMAT), &tm, out);
        Ok(())
    }

    fn format_time_into(
        &self,
        record: &LogRecord,
        datefmt: Option<&str>,
        out: &mut String,
    ) -> Result<(), FormatError> {
        let secs = time::floor_secs(record.created)
            .ok_or_else(|| FormatError::Time(record.created.to_string()))?;
        self.render_second(record, secs, datefmt, out)?;
        if datefmt.is_none() {
            // '%s,%03d' % (s, record.msecs): %d truncates the float.
            match msecs_digits(record.msecs) {
                Some(ms) => out.push_str(ms),
                None => {
                    let ms = percent::Spec {
                        key: None,
                        left: false,
                        zero: true,
                        space: false,
                        plus: false,
                        alt: false,
                        width: percent::Count::Num(3),
                        prec: percent::Count::None,
                        conv: 'd',
                    };
                    out.push(',');
                    percent::write_conv(&ms, V::Float(record.msecs), out)?;
                }
            }
        }
        Ok(())
    }
}

/// `',%03d' % msecs` for the usual milliseconds (0 to 999.99…: `%d` truncates the float),
/// without the general `%03d` machinery; `None` for anything else.
fn msecs_digits(msecs: f64) -> Option<&'static str> {
    if !(0.0..1000.0).contains(&msecs) {
        return None;
    }
    let i = msecs as usize * 4;
    MSECS_TEXT.get(i..i + 4)
}

/// `",000,001,…,999"`: every milliseconds suffix, sliced by [`msecs_digits`].
const MSECS_TEXT: &str = {
    const BYTES: [u8; 4000] = {
        let mut b = [0u8; 4000];
        let mut n = 0;
        while n < 1000 {
            b[n * 4] = b',';
            b[n * 4 + 1] = b'0' + (n / 100) as u8;
            b[n * 4 + 2] = b'0' + (n / 10 % 10) as u8;
            b[n * 4 + 3] = b'0' + (n % 10) as u8;
            n += 1;
        }
        b
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("ASCII digits are UTF-8"),
    }
};

thread_local! {
    // Reused for `asctime` so that formatting allocates nothing for it once warm.
    static ASCTIME_BUF: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// A record's time, checked: `asctime` is the text of `secs` then `msecs`.
#[derive(Clone, Copy)]
struct Second {
    secs: i64,
    /// `,%03d` of the milliseconds, or nothing with a `datefmt`.
    msecs: &'static str,
}

/// Per-call state: the record and the values CPython sets on it while formatting.
struct Ctx<'r> {
    record: &'r LogRecord,
    message: Option<Cow<'r, str>>,
    /// Set when the format uses the time and `asctime` can be written without errors.
    second: Option<Second>,
    /// `asctime` as one string: when a spec formats it, or on the general path.
    asctime: Option<String>,
}

/// `record.getMessage()`, borrowing when there is nothing to substitute.
fn message_of(r: &LogRecord) -> Cow<'_, str> {
    match &r.args {
        Args::None => Cow::Borrowed(&r.msg),
        _ => Cow::Owned(r.get_message()),
    }
}

/// CPython's `PercentStyle.validation_pattern`:
/// `%\(\w+\)[#0+ -]*(\*|\d+)?(\.(\*|\d+))?[diouxefgcrsa%]` (case-insensitive), searched.
fn percent_validates(fmt: &str) -> bool {
    let c: Vec<char> = fmt.chars().collect();
    (0..c.len()).any(|start| {
        let mut i = start;
        if c.get(i) != Some(&'%') || c.get(i + 1) != Some(&'(') {
            return false;
        }
        i += 2;
        let s = i;
        while c
            .get(i)
            .is_some_and(|&ch| ch == '_' || ch.is_alphanumeric())
        {
            i += 1;
        }
        if i == s || c.get(i) != Some(&')') {
            return false;
        }
        i += 1;
        while c.get(i).is_some_and(|ch| "#0+ -".contains(*ch)) {
            i += 1;
        }
        let count = |i: &mut usize| {
            if c.get(*i) == Some(&'*') {
                *i += 1;
            } else {
                while c.get(*i).is_some_and(|ch| ch.is_ascii_digit()) {
                    *i += 1;
                }
            }
        };
        count(&mut i);
        if c.get(i) == Some(&'.') {
            let mut j = i + 1;
            let before = j;
            count(&mut j);
            if j > before {
                i = j;
            }
        }
        c.get(i)
            .is_some_and(|ch| "diouxefgcrsa%".contains(ch.to_ascii_lowercase()))
    })
}

/// Parses a `%`-style format. Errors CPython only raises when formatting (a malformed
/// conversion after a valid one, a positional `%s`) make every record fail, as in CPython;
/// the width and precision caps are enforced here.
fn parse_percent(fmt: &str, validate: bool) -> Result<Vec<Segment>, FormatError> {
    if validate && !percent_validates(fmt) {
        return Err(FormatError::InvalidPercentFormat(fmt.to_owned()));
    }
    match parse_percent_segments(fmt) {
        Err(e @ (FormatError::WidthTooLarge(_) | FormatError::PrecisionTooLarge(_))) => Err(e),
        Err(e) => Ok(vec![Segment::Fail(e)]),
        Ok(segments) => Ok(segments),
    }
}

fn parse_percent_segments(fmt: &str) -> Result<Vec<Segment>, FormatError> {
    let mut segments: Vec<Segment> = Vec::new();
    let push_lit = |segments: &mut Vec<Segment>, s: &str| match segments.last_mut() {
        Some(Segment::Lit(l)) => l.push_str(s),
        _ => segments.push(Segment::Lit(s.to_owned())),
    };
    for piece in percent::parse(fmt)? {
        match piece {
            percent::Piece::Lit(s) => push_lit(&mut segments, s),
            percent::Piece::Percent => push_lit(&mut segments, "%"),
            percent::Piece::Conv(spec) => {
                let Some(key) = &spec.key else {
                    return Err(FormatError::Type(
                        "format requires a mapping: positional '%' conversions are not supported in a formatter"
                            .into(),
                    ));
                };
                if spec.width == percent::Count::Star || spec.prec == percent::Count::Star {
                    // CPython's validation accepts `*`, but with a mapping it fails on every record.
                    return Err(FormatError::Type(
                        "not enough arguments for format string".into(),
                    ));
                }
                let attr = Attr::of(key);
                segments.push(if spec.is_plain_str() {
                    Segment::plain(attr)
                } else {
                    Segment::Percent { attr, spec }
                });
            }
        }
    }
    Ok(segments)
}

fn parse_brace(fmt: &str, validate: bool) -> Result<Vec<Segment>, FormatError> {
    Ok(brace::parse(fmt, validate)?
        .into_iter()
        .map(|p| match p {
            brace::Piece::Lit(s) => Segment::Lit(s),
            brace::Piece::Field(f) => {
                // `{name}` and `{name!s}` are `str(value)`, as `format(value, '')` is.
                if matches!(f.conv, None | Some('s'))
                    && matches!(&f.spec, brace::SpecSrc::Static(spec) if spec.empty)
                {
                    return Segment::plain(Attr::of(&f.name));
                }
                let nested = match &f.spec {
                    brace::SpecSrc::Dynamic(parts) => parts
                        .iter()
                        .skip(1)
                        .step_by(2)
                        .map(|n| Attr::of(n))
                        .collect(),
                    brace::SpecSrc::Static(_) => Vec::new(),
                };
                Segment::Brace {
                    attr: Attr::of(&f.name),
                    conv: f.conv,
                    spec: f.spec,
                    nested,
                }
            }
        })
        .collect())
}

/// Longest piece of a format or field name quoted in an error, in bytes. Quoting is
/// `repr()`, which turns one control byte into four, and a `{` spec is quoted after its
/// nested fields were expanded: without a cut, an error text could be many times the size
/// of the format and the message (both found by fuzzing `format_string`).
const QUOTE_MAX: usize = 256;

/// Python's `repr()` of `s` for an error text, cut to [`QUOTE_MAX`] bytes of `s`.
pub(crate) fn quote_for_error(s: &str) -> String {
    let repr = |t: &str| Value::Str(t.to_owned()).py_repr();
    if s.len() <= QUOTE_MAX {
        return repr(s);
    }
    let mut end = QUOTE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes)", repr(&s[..end]), s.len() - end)
}
