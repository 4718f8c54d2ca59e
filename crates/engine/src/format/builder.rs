//! [`FormatterBuilder`]: a [`Formatter`] by named settings instead of five positional
//! arguments.

use super::{FormatError, Formatter, Style};
use crate::value::Value;
use jiff::tz::TimeZone;

/// Builds a [`Formatter`]; start with [`Formatter::builder`]. Every setting has CPython's
/// default: `'%(message)s'` (the style's default format), no `datefmt`, `%` style,
/// `validate=True`, no `defaults`, local time.
///
/// ```
/// use logwire_engine::{Formatter, Style, LogRecord};
///
/// let f = Formatter::builder()
///     .format("{levelname:<8} {name}: {message} [{region}]")
///     .style(Style::Brace)
///     .default_field("region", "eu-1") // CPython's `defaults={'region': 'eu-1'}`
///     .utc(true)
///     .build()
///     .unwrap();
/// let record = LogRecord::new("app.db", 30, "db.rs", 7, "disk full");
/// assert_eq!(f.format(&record), "WARNING  app.db: disk full [eu-1]");
///
/// // What CPython's validation rejects is an error here too.
/// assert!(Formatter::builder().format("no fields").build().is_err());
/// ```
#[derive(Debug, Clone)]
#[must_use = "call `build` to get the formatter"]
pub struct FormatterBuilder {
    fmt: Option<String>,
    datefmt: Option<String>,
    style: Style,
    validate: bool,
    defaults: Vec<(String, Value)>,
    utc: bool,
    time_zone: Option<TimeZone>,
}

impl Default for FormatterBuilder {
    fn default() -> Self {
        FormatterBuilder {
            fmt: None,
            datefmt: None,
            style: Style::Percent,
            validate: true,
            defaults: Vec::new(),
            utc: false,
            time_zone: None,
        }
    }
}

impl FormatterBuilder {
    /// The format string (CPython's `fmt`), in the builder's [`style`](Self::style).
    pub fn format(mut self, fmt: impl Into<String>) -> Self {
        self.fmt = Some(fmt.into());
        self
    }

    /// The `time.strftime` format of `%(asctime)s` (CPython's `datefmt`).
    pub fn datefmt(mut self, datefmt: impl Into<String>) -> Self {
        self.datefmt = Some(datefmt.into());
        self
    }

    /// The format string's style: `%` (default), `{` or `$`.
    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// CPython's `validate` (default `true`). Malformed formats are rejected either way.
    pub fn validate(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// A value for a field that records may lack (CPython's `defaults`); call once per field.
    pub fn default_field(mut self, field: impl Into<String>, value: impl Into<Value>) -> Self {
        self.defaults.push((field.into(), value.into()));
        self
    }

    /// `asctime` in UTC (CPython's `converter = time.gmtime`) instead of local time.
    pub fn utc(mut self, utc: bool) -> Self {
        self.utc = utc;
        self
    }

    /// The local time zone, instead of the system's.
    pub fn time_zone(mut self, tz: TimeZone) -> Self {
        self.time_zone = Some(tz);
        self
    }

    /// The formatter, or why its format is not accepted.
    pub fn build(self) -> Result<Formatter, FormatError> {
        let f = Formatter::new(
            self.fmt.as_deref(),
            self.datefmt.as_deref(),
            self.style,
            self.validate,
            self.defaults,
        )?;
        let f = match self.time_zone {
            Some(tz) => f.with_time_zone(tz),
            None => f,
        };
        Ok(if self.utc { f.with_utc(true) } else { f })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LogRecord;

    #[test]
    fn every_setting_reaches_the_formatter() {
        let f = Formatter::builder()
            .format("$asctime $levelname $message")
            .datefmt("%H:%M")
            .style(Style::Dollar)
            .utc(true)
            .build()
            .unwrap();
        assert_eq!(f.style(), Style::Dollar);
        assert_eq!(f.datefmt(), Some("%H:%M"));
        assert!(f.utc());
        let mut record = LogRecord::new("app", 20, "app.rs", 1, "up");
        record.created = 3_600.0 * 5.0 + 60.0 * 7.0; // 05:07 UTC on 1970-01-01
        assert_eq!(f.format(&record), "05:07 INFO up");
    }

    #[test]
    fn validate_false_lets_a_fieldless_format_through() {
        assert!(Formatter::builder().format("static").build().is_err());
        let f = Formatter::builder()
            .format("static")
            .validate(false)
            .build()
            .unwrap();
        assert_eq!(f.format(&LogRecord::new("a", 20, "a.rs", 1, "x")), "static");
    }
}
