//! `time.strftime` as CPython on glibc computes it, in the C locale: every C99/POSIX/GNU
//! conversion, the GNU flags `_ - 0 ^ #`, field widths, the `E`/`O` modifiers, unknown
//! conversions copied through verbatim and a trailing lone `%` kept.
//!
//! ```
//! use logwire_engine::{strftime, gmtime};
//! let tm = gmtime(735379380, &jiff::tz::TimeZone::UTC).unwrap();
//! assert_eq!(strftime("%Y-%m-%d %H:%M:%S %a %-d %_H|%f", &tm), "1993-04-21 08:03:00 Wed 21  8|%f");
//! ```

use super::time::Tm;
use std::fmt::Write;

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Output would not fit: CPython then returns `''`.
struct TooLong;

/// The most characters one conversion renders without a field width: `%c` in the C locale is
/// 24 (25 with a 5-character year), `%s` at most 20, a zone abbreviation (`%Z`) a handful;
/// 64 leaves room. An unknown conversion is copied through, so it is bounded by its own text.
const CONVERSION_MAX: usize = 64;

/// An upper bound on the bytes `strftime(fmt, tm)` can render for any time: literal text as
/// it is, each conversion at `2 × width + 64` (conversions render ASCII in the C locale; the
/// width counts twice because glibc's `%z` pads its sign and its digits to the width each).
/// Linear in `fmt`; walks it as [`strftime`] does.
pub fn max_len(fmt: &str) -> usize {
    let f: Vec<char> = fmt.chars().collect();
    let mut total = 0usize;
    let mut i = 0;
    while i < f.len() {
        if f[i] != '%' {
            total = total.saturating_add(f[i].len_utf8());
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < f.len() && matches!(f[i], '_' | '-' | '0' | '^' | '#') {
            i += 1;
        }
        let mut width = 0usize;
        while i < f.len() && f[i].is_ascii_digit() {
            width = width
                .saturating_mul(10)
                .saturating_add(usize::from(f[i] as u8 - b'0'));
            i += 1;
        }
        if i < f.len() && matches!(f[i], 'E' | 'O') {
            i += 1;
        }
        // The conversion character (a trailing lone `%…` is copied as it is).
        let end = (i + 1).min(f.len());
        let text: usize = f[start..end].iter().map(|c| c.len_utf8()).sum();
        let conversion = width.saturating_mul(2).saturating_add(CONVERSION_MAX);
        total = total.saturating_add(conversion.max(text));
        i = end;
    }
    total
}

/// The most characters [`strftime`] renders for `fmt` before giving up and rendering `''`
/// (CPython's buffer rule: 256 times the format's length, at least 1024).
pub fn limit(fmt: &str) -> usize {
    let fmtlen = fmt.chars().count();
    let mut limit = 1024usize;
    while limit < 256usize.saturating_mul(fmtlen) {
        limit = limit.saturating_mul(2);
    }
    limit
}

/// A `datefmt` whose field widths could make its output pass [`limit`], where CPython (and
/// [`strftime`]) silently render `''`: see [`check`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "datefmt '{datefmt}' can render {bound} characters, more than the {limit} time.strftime \
     allows (it would render an empty time): lower its field widths"
)]
#[non_exhaustive]
pub struct DatefmtError {
    /// The format's first 40 characters (enough to recognise it; a refused format may be
    /// long).
    pub datefmt: String,
    /// The most characters it can render ([`max_len`]).
    pub bound: usize,
    /// What `time.strftime` allows for it ([`limit`]).
    pub limit: usize,
}

/// Whether `fmt` renders for every time: `Err` with the reason when a field width could make
/// the output pass [`limit`], where CPython (and [`strftime`]) silently render `''`.
pub fn check(fmt: &str) -> Result<(), DatefmtError> {
    let (bound, limit) = (max_len(fmt), limit(fmt));
    if bound >= limit {
        return Err(DatefmtError {
            datefmt: fmt.chars().take(40).collect(),
            bound,
            limit,
        });
    }
    Ok(())
}

/// `time.strftime(fmt, tm)`.
///
/// CPython grows its buffer up to 256 times the format's length and returns `''` when the
/// result does not fit; that rule is kept, and it also bounds what a huge field width can
/// allocate.
pub fn strftime(fmt: &str, tm: &Tm) -> String {
    let mut out = String::new();
    strftime_into(fmt, tm, &mut out);
    out
}

/// [`strftime`] appending to `out`.
pub fn strftime_into(fmt: &str, tm: &Tm, out: &mut String) {
    let limit = limit(fmt);
    let start = out.len();
    let mut w = W {
        out,
        start,
        chars: 0,
        limit,
    };
    if format(fmt, tm, &mut w).is_err() || w.chars == 0 {
        out.truncate(start);
    }
}

struct W<'a> {
    out: &'a mut String,
    start: usize,
    chars: usize,
    /// glibc's `maxsize`: the output plus its NUL must fit.
    limit: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Upper,
    Lower,
}

impl W<'_> {
    fn reserve(&mut self, n: usize) -> Result<(), TooLong> {
        if self.chars.saturating_add(n) >= self.limit {
            return Err(TooLong);
        }
        self.chars += n;
        Ok(())
    }

    /// glibc's `add`/`cpy`: `s` right-aligned in `width` (zeros if `pad` is `0`).
    fn cpy(&mut self, s: &str, width: i64, pad: char, case: Case) -> Result<(), TooLong> {
        let n = s.chars().count();
        let delta = if width > n as i64 {
            (width - n as i64) as usize
        } else {
            0
        };
        self.reserve(n + delta)?;
        let fill = if pad == '0' { '0' } else { ' ' };
        self.out.extend(std::iter::repeat_n(fill, delta));
        match case {
            Case::Keep => self.out.push_str(s),
            Case::Upper => self.out.extend(s.chars().map(|c| c.to_ascii_uppercase())),
            Case::Lower => self.out.extend(s.chars().map(|c| c.to_ascii_lowercase())),
        }
        Ok(())
    }

    fn fill(&mut self, c: char, n: usize) -> Result<(), TooLong> {
        self.reserve(n)?;
        self.out.extend(std::iter::repeat_n(c, n));
        Ok(())
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn iso_week_days(yday: i64, wday: i64) -> i64 {
    let big_enough_multiple_of_7 = (366 / 7 + 2) * 7;
    yday - (yday - wday + 4 + big_enough_multiple_of_7) % 7 + 4 - 1
}

fn format(fmt: &str, tm: &Tm, w: &mut W<'_>) -> Result<(), TooLong> {
    let f: Vec<char> = fmt.chars().collect();
    let year = i64::from(tm.year);
    let hour12 = match tm.hour {
        h if h > 12 => h - 12,
        0 => 12,
        h => h,
    };
    let mut i = 0;
    while i < f.len() {
        if f[i] != '%' {
            let mut buf = [0u8; 4];
            w.cpy(f[i].encode_utf8(&mut buf), -1, '\0', Case::Keep)?;
            i += 1;
            continue;
        }
        let pct = i;
        let mut pad = '\0';
        let mut upper = false;
        let mut change_case = false;
        let mut lower = false;
        i += 1;
        while i < f.len() {
            match f[i] {
                '_' | '-' | '0' => pad = f[i],
                '^' => upper = true,
                '#' => change_case = true,
                _ => break,
            }
            i += 1;
        }
        let mut width: i64 = -1;
        if i < f.len() && f[i].is_ascii_digit() {
            width = 0;
            while i < f.len() && f[i].is_ascii_digit() {
                width = (width * 10 + i64::from(f[i] as u8 - b'0')).min(i64::from(i32::MAX));
                i += 1;
            }
        }
        let mut modifier = '\0';
        if i < f.len() && matches!(f[i], 'E' | 'O') {
            modifier = f[i];
            i += 1;
        }
        let conv = f.get(i).copied().unwrap_or('\0');
        let case = |upper: bool, lower: bool| {
            if lower {
                Case::Lower
            } else if upper {
                Case::Upper
            } else {
                Case::Keep
            }
        };
        // A numeric conversion: (minimum digits, value, space padded by default).
        let mut number: Option<(i64, i64, bool)> = None;
        let mut subfmt: Option<&str> = None;
        let mut bad = false;
        match conv {
            '%' => {
                if modifier != '\0' {
                    bad = true;
                } else {
                    w.cpy("%", width, pad, Case::Keep)?;
                }
            }
            'a' | 'A' => {
                if modifier != '\0' {
                    bad = true;
                } else {
                    if change_case {
                        upper = true;
                        lower = false;
                    }
                    let name = DAYS.get(tm.wday as usize).copied().unwrap_or("?");
                    let name = if conv == 'a' {
                        name.get(..3).unwrap_or(name)
                    } else {
                        name
                    };
                    w.cpy(name, width, pad, case(upper, lower))?;
                }
            }
            'b' | 'h' | 'B' => {
                if change_case {
                    upper = true;
                    lower = false;
                }
                if modifier == 'E' {
                    bad = true;
                } else {
                    let name = MONTHS.get(tm.mon as usize).copied().unwrap_or("?");
                    let name = if conv == 'B' {
                        name
                    } else {
                        name.get(..3).unwrap_or(name)
                    };
                    w.cpy(name, width, pad, case(upper, lower))?;
                }
            }
            'c' => {
                if modifier == 'O' {
                    bad = true;
                } else {
                    subfmt = Some("%a %b %e %H:%M:%S %Y");
                }
            }
            'C' => number = Some((1, year.div_euclid(100), false)),
            'x' => {
                if modifier == 'O' {
                    bad = true;
                } else {
                    subfmt = Some("%m/%d/%y");
                }
            }
            'D' | 'F' => {
                if modifier != '\0' {
                    bad = true;
                } else {
                    subfmt = Some(if conv == 'D' { "%m/%d/%y" } else { "%Y-%m-%d" });
                }
            }
            'd' | 'e' | 'H' | 'I' | 'k' | 'l' | 'j' | 'M' | 'm' | 'S' | 'U' | 'W' | 'w' | 'y' => {
                // `%Ey` is the era year; the C locale has no eras, so it is `%y`.
                if modifier == 'E' && conv != 'y' {
                    bad = true;
                } else {
                    let (yday, wday) = (i64::from(tm.yday), i64::from(tm.wday));
                    number = Some(match conv {
                        'd' => (2, tm.mday.into(), false),
                        'e' => (2, tm.mday.into(), true),
                        'H' => (2, tm.hour.into(), false),
                        'I' => (2, hour12.into(), false),
                        'k' => (2, tm.hour.into(), true),
                        'l' => (2, hour12.into(), true),
                        'j' => (3, yday + 1, false),
                        'M' => (2, tm.min.into(), false),
                        'm' => (2, i64::from(tm.mon) + 1, false),
                        'S' => (2, tm.sec.into(), false),
                        'U' => (2, (yday - wday + 7) / 7, false),
                        'W' => (2, (yday - (wday - 1 + 7) % 7 + 7) / 7, false),
                        'w' => (1, wday, false),
                        _ => (2, (year % 100 + 100) % 100, false),
                    });
                }
            }
            'n' => w.cpy("\n", width, pad, Case::Keep)?,
            't' => w.cpy("\t", width, pad, Case::Keep)?,
            'P' | 'p' => {
                if conv == 'P' {
                    lower = true;
                }
                if change_case {
                    upper = false;
                    lower = true;
                }
                let s = if tm.hour > 11 { "PM" } else { "AM" };
                w.cpy(s, width, pad, case(upper, lower))?;
            }
            'R' => subfmt = Some("%H:%M"),
            'r' => subfmt = Some("%I:%M:%S %p"),
            'T' => subfmt = Some("%H:%M:%S"),
            'X' => {
                if modifier == 'O' {
                    bad = true;
                } else {
                    subfmt = Some("%H:%M:%S");
                }
            }
            's' => {
                // digits = 1: only the width (through `cpy`) pads.
                write_number(w, tm.epoch, 1, width, pad)?;
            }
            'u' => number = Some((1, (i64::from(tm.wday) - 1 + 7) % 7 + 1, false)),
            'V' | 'g' | 'G' => {
                if modifier == 'E' {
                    bad = true;
                } else {
                    let (yday, wday) = (i64::from(tm.yday), i64::from(tm.wday));
                    let mut y = year;
                    let mut days = iso_week_days(yday, wday);
                    if days < 0 {
                        y -= 1;
                        days = iso_week_days(yday + 365 + i64::from(is_leap(y)), wday);
                    } else {
                        let d = iso_week_days(yday - (365 + i64::from(is_leap(y))), wday);
                        if d >= 0 {
                            y += 1;
                            days = d;
                        }
                    }
                    number = Some(match conv {
                        'g' => (2, (y % 100 + 100) % 100, false),
                        'G' => (1, y, false),
                        _ => (2, days / 7 + 1, false),
                    });
                }
            }
            'Y' => {
                if modifier == 'O' {
                    bad = true;
                } else {
                    number = Some((1, year, false));
                }
            }
            'Z' => {
                if change_case {
                    upper = false;
                    lower = true;
                }
                w.cpy(&tm.zone, width, pad, case(upper, lower))?;
            }
            'z' => {
                if tm.isdst >= 0 {
                    let mut diff = i64::from(tm.gmtoff);
                    if diff < 0 {
                        w.cpy("-", width, pad, Case::Keep)?;
                        diff = -diff;
                    } else {
                        w.cpy("+", width, pad, Case::Keep)?;
                    }
                    diff /= 60;
                    number = Some((4, (diff / 60) * 100 + diff % 60, false));
                }
            }
            _ => bad = true,
        }
        if let Some(sub) = subfmt {
            let mut tmp = String::new();
            {
                let mut inner = W {
                    out: &mut tmp,
                    start: 0,
                    chars: 0,
                    limit: usize::MAX,
                };
                format(sub, tm, &mut inner)?;
            }
            w.cpy(
                &tmp,
                width,
                pad,
                if upper { Case::Upper } else { Case::Keep },
            )?;
        }
        if let Some((digits, value, spacepad)) = number {
            let mut pad = pad;
            if spacepad && pad != '0' && pad != '-' {
                pad = '_';
            }
            let digits = digits.max(width);
            write_number(w, value, digits, width, pad)?;
        }
        if bad {
            // Unknown conversion: copy it from the '%' on (a '%' at the end copies itself).
            let end = if conv == '\0' { i } else { i + 1 };
            let text: String = f[pct..end.min(f.len())].iter().collect();
            w.cpy(&text, width, pad, case(upper, lower))?;
            i = end;
            continue;
        }
        i += 1;
    }
    let _ = w.start;
    Ok(())
}

/// glibc's `do_number` / `do_number_sign_and_padding`.
fn write_number(
    w: &mut W<'_>,
    value: i64,
    digits: i64,
    width: i64,
    pad: char,
) -> Result<(), TooLong> {
    let mut buf = String::new();
    let negative = value < 0;
    let _ = write!(buf, "{}", value.unsigned_abs());
    if negative {
        buf.insert(0, '-');
    }
    let mut width = width;
    let mut body: &str = &buf;
    if pad != '-' {
        let padding = digits - body.len() as i64;
        if padding > 0 {
            if pad == '_' {
                w.fill(' ', padding as usize)?;
                width = if width > padding { width - padding } else { 0 };
            } else {
                if negative {
                    body = &body[1..];
                    w.fill('-', 1)?;
                }
                w.fill('0', padding as usize)?;
                width = 0;
            }
        }
    }
    w.cpy(body, width, pad, Case::Keep)
}
