//! Standard-library value types recognised by their pickled state, as data.
//!
//! A fixed allow-list of classes whose pickled form is plain data: `datetime.datetime`,
//! `date`, `time`, `timedelta`, `timezone`, `decimal.Decimal` and `uuid.UUID` (`set` and
//! `frozenset` are containers and handled by the decoder itself). The class name in the pickle
//! is only compared with the list; nothing is imported, constructed or called. From the
//! reduction's arguments (or `BUILD` state for `UUID`) this module computes what CPython's
//! receiver would print for the unpickled object: `str(obj)` and `repr(obj)`.
//!
//! State that CPython would refuse to unpickle (a month of 13, a timedelta's seconds out of
//! range, a `tzinfo` that is not a `datetime.timezone`) is not recognised: the value stays an
//! opaque placeholder.

use std::fmt::Write;

/// A recognised value: its class, `str()` and `repr()`, and what another value built from it
/// needs (a timedelta's parts for a timezone, a timezone's parts for a datetime).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Known {
    pub class: &'static str,
    pub str: String,
    pub repr: String,
    pub delta: Option<Delta>,
    /// For a `datetime.timezone`: the offset's `+HH:MM[:SS[.ffffff]]` (as `isoformat` writes).
    pub iso_offset: Option<String>,
}

/// A normalised `timedelta`: `0 <= seconds < 86400`, `0 <= micros < 1_000_000`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Delta {
    days: i64,
    seconds: i64,
    micros: i64,
}

impl Delta {
    fn total_micros(self) -> i128 {
        (i128::from(self.days) * 86_400 + i128::from(self.seconds)) * 1_000_000
            + i128::from(self.micros)
    }
}

/// `timedelta.__reduce__` gives `(days, seconds, microseconds)`, normalised.
pub(crate) fn timedelta(days: i64, seconds: i64, micros: i64) -> Option<Known> {
    if !(-999_999_999..=999_999_999).contains(&days)
        || !(0..86_400).contains(&seconds)
        || !(0..1_000_000).contains(&micros)
    {
        return None;
    }
    let d = Delta {
        days,
        seconds,
        micros,
    };
    // timedelta.__str__
    let mut s = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        let _ = write!(s, "{days} day{plural}, ");
    }
    let (hh, rem) = (seconds / 3600, seconds % 3600);
    let _ = write!(s, "{hh}:{:02}:{:02}", rem / 60, rem % 60);
    if micros != 0 {
        let _ = write!(s, ".{micros:06}");
    }
    // timedelta.__repr__ (3.7+): the non-zero fields by keyword, or `(0)`.
    let mut parts = Vec::new();
    for (name, v) in [
        ("days", days),
        ("seconds", seconds),
        ("microseconds", micros),
    ] {
        if v != 0 {
            parts.push(format!("{name}={v}"));
        }
    }
    let args = if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join(", ")
    };
    Some(Known {
        class: "datetime.timedelta",
        str: s,
        repr: format!("datetime.timedelta({args})"),
        delta: Some(d),
        iso_offset: None,
    })
}

/// `timezone.__getinitargs__`: `(offset,)` or `(offset, name)`; the offset strictly within
/// a day, as CPython's constructor checks.
pub(crate) fn timezone(offset: &Known, name: Option<&str>) -> Option<Known> {
    let d = offset
        .delta
        .filter(|_| offset.class == "datetime.timedelta")?;
    let total = d.total_micros();
    if total.abs() >= 86_400 * 1_000_000 {
        return None;
    }
    let iso = offset_text(total, true);
    // tzname(None): the name, else "UTC" for a zero offset, else "UTC" + ±HH:MM[…].
    let str = match name {
        Some(n) => n.to_owned(),
        None if total == 0 => "UTC".to_owned(),
        None => format!("UTC{}", offset_text(total, true)),
    };
    // A zero offset without a name unpickles as the `timezone.utc` singleton.
    let repr = match name {
        None if total == 0 => "datetime.timezone.utc".to_owned(),
        None => format!("datetime.timezone({})", offset.repr),
        Some(n) => format!("datetime.timezone({}, {})", offset.repr, py_str_repr(n)),
    };
    Some(Known {
        class: "datetime.timezone",
        str,
        repr,
        delta: Some(d),
        iso_offset: Some(iso),
    })
}

/// `±HH:MM`, then `:SS` and `.ffffff` when not zero (CPython's `format_utcoffset`).
fn offset_text(total_micros: i128, colon: bool) -> String {
    let sign = if total_micros < 0 { '-' } else { '+' };
    let t = total_micros.abs();
    let (secs, us) = (t / 1_000_000, t % 1_000_000);
    let (hh, mm, ss) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sep = if colon { ":" } else { "" };
    let mut s = format!("{sign}{hh:02}{sep}{mm:02}");
    if ss != 0 || us != 0 {
        let _ = write!(s, "{sep}{ss:02}");
        if us != 0 {
            let _ = write!(s, ".{us:06}");
        }
    }
    s
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn valid_date(year: i64, month: i64, day: i64) -> bool {
    (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
}

fn valid_time(h: i64, m: i64, s: i64, us: i64) -> bool {
    h < 24 && m < 60 && s < 60 && us < 1_000_000
}

/// `date.__reduce__`: `(bytes([year >> 8, year & 255, month, day]),)`.
pub(crate) fn date(state: &[u8]) -> Option<Known> {
    let [y1, y2, month, day] = *state else {
        return None;
    };
    let (year, month, day) = (
        i64::from(y1) * 256 + i64::from(y2),
        i64::from(month),
        i64::from(day),
    );
    if !valid_date(year, month, day) {
        return None;
    }
    Some(Known {
        class: "datetime.date",
        str: format!("{year:04}-{month:02}-{day:02}"),
        repr: format!("datetime.date({year}, {month}, {day})"),
        delta: None,
        iso_offset: None,
    })
}

/// `hh:mm:ss[.ffffff]`, as `isoformat()` writes it.
fn time_text(h: i64, m: i64, s: i64, us: i64) -> String {
    let mut t = format!("{h:02}:{m:02}:{s:02}");
    if us != 0 {
        let _ = write!(t, ".{us:06}");
    }
    t
}

/// The repr's arguments after the fixed ones: seconds and microseconds only when needed.
fn hms_args(out: &mut String, s: i64, us: i64) {
    if us != 0 {
        let _ = write!(out, ", {s}, {us}");
    } else if s != 0 {
        let _ = write!(out, ", {s}");
    }
}

fn tz_suffix(out: &mut String, tz: Option<&Known>, fold: bool) {
    if let Some(tz) = tz {
        let _ = write!(out, ", tzinfo={}", tz.repr);
    }
    if fold {
        out.push_str(", fold=1");
    }
}

fn micros3(b: &[u8]) -> i64 {
    (i64::from(b[0]) << 16) | (i64::from(b[1]) << 8) | i64::from(b[2])
}

/// `time.__reduce_ex__`: `(bytes6,)` or `(bytes6, tzinfo)`; the fold is the hour's top bit.
pub(crate) fn time(state: &[u8], tz: Option<&Known>) -> Option<Known> {
    if state.len() != 6 || tz.is_some_and(|t| t.class != "datetime.timezone") {
        return None;
    }
    let (mut h, fold) = (i64::from(state[0]), state[0] > 127);
    if fold {
        h -= 128;
    }
    let (m, s, us) = (
        i64::from(state[1]),
        i64::from(state[2]),
        micros3(&state[3..6]),
    );
    if !valid_time(h, m, s, us) {
        return None;
    }
    let mut str = time_text(h, m, s, us);
    if let Some(off) = tz.and_then(|t| t.iso_offset.as_deref()) {
        str.push_str(off);
    }
    let mut repr = format!("datetime.time({h}, {m}");
    hms_args(&mut repr, s, us);
    tz_suffix(&mut repr, tz, fold);
    repr.push(')');
    Some(Known {
        class: "datetime.time",
        str,
        repr,
        delta: None,
        iso_offset: None,
    })
}

/// `datetime.__reduce_ex__`: `(bytes10,)` or `(bytes10, tzinfo)`; the fold is the month's
/// top bit.
pub(crate) fn datetime(state: &[u8], tz: Option<&Known>) -> Option<Known> {
    if state.len() != 10 || tz.is_some_and(|t| t.class != "datetime.timezone") {
        return None;
    }
    let year = i64::from(state[0]) * 256 + i64::from(state[1]);
    let (mut month, fold) = (i64::from(state[2]), state[2] > 127);
    if fold {
        month -= 128;
    }
    let day = i64::from(state[3]);
    let (h, m, s) = (
        i64::from(state[4]),
        i64::from(state[5]),
        i64::from(state[6]),
    );
    let us = micros3(&state[7..10]);
    if !valid_date(year, month, day) || !valid_time(h, m, s, us) {
        return None;
    }
    let mut str = format!("{year:04}-{month:02}-{day:02} {}", time_text(h, m, s, us));
    if let Some(off) = tz.and_then(|t| t.iso_offset.as_deref()) {
        str.push_str(off);
    }
    let mut repr = format!("datetime.datetime({year}, {month}, {day}, {h}, {m}");
    hms_args(&mut repr, s, us);
    tz_suffix(&mut repr, tz, fold);
    repr.push(')');
    Some(Known {
        class: "datetime.datetime",
        str,
        repr,
        delta: None,
        iso_offset: None,
    })
}

/// `Decimal.__reduce__`: `(str(self),)`, which is already the canonical text. Only text of
/// Decimal's syntax is recognised.
pub(crate) fn decimal(text: &str) -> Option<Known> {
    if text.is_empty() || text.len() > 4096 || !decimal_syntax(text) {
        return None;
    }
    Some(Known {
        class: "decimal.Decimal",
        str: text.to_owned(),
        repr: format!("Decimal('{text}')"),
        delta: None,
        iso_offset: None,
    })
}

/// `[sign] (digits [. digits] | . digits) [E [sign] digits] | [sign] (Infinity | NaN… | sNaN…)`,
/// as `str(Decimal)` writes it.
fn decimal_syntax(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    if t == "Infinity" {
        return true;
    }
    if let Some(payload) = t.strip_prefix("sNaN").or_else(|| t.strip_prefix("NaN")) {
        return payload.bytes().all(|b| b.is_ascii_digit());
    }
    let (mantissa, exp) = match t.split_once(['E', 'e']) {
        Some((m, e)) => (m, Some(e)),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return false;
    }
    match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
    }
}

/// `UUID.__getstate__`: `{'int': n}` (and `is_safe`, which changes neither str nor repr).
pub(crate) fn uuid(int: u128) -> Known {
    let hex = format!("{int:032x}");
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    Known {
        class: "uuid.UUID",
        repr: format!("UUID('{text}')"),
        str: text,
        delta: None,
        iso_offset: None,
    }
}

/// Python's `repr(str)` (for a timezone's name).
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
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
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timedelta_text() {
        let t = timedelta(-1, 86_399, 5).unwrap();
        assert_eq!(t.str, "-1 day, 23:59:59.000005");
        assert_eq!(
            t.repr,
            "datetime.timedelta(days=-1, seconds=86399, microseconds=5)"
        );
        assert_eq!(timedelta(0, 0, 0).unwrap().repr, "datetime.timedelta(0)");
        assert!(timedelta(0, 86_400, 0).is_none());
    }

    #[test]
    fn decimal_syntax_is_checked() {
        for ok in ["1.5", "-0", "1E+3", ".5", "Infinity", "-NaN12", "sNaN"] {
            assert!(decimal(ok).is_some(), "{ok}");
        }
        for bad in ["", "1.2.3", "abc", "1E", "__import__('os')"] {
            assert!(decimal(bad).is_none(), "{bad}");
        }
    }
}
