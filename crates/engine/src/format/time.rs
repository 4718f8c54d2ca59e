//! Broken-down time (C's `struct tm`) from a Unix timestamp, as `time.localtime` and
//! `time.gmtime` produce it, computed with jiff.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// C's `struct tm`, plus the `%s` value glibc would compute with `mktime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tm {
    /// Full year (`tm_year + 1900`).
    pub year: i32,
    /// Month, 0–11.
    pub mon: i32,
    /// Day of the month, 1–31.
    pub mday: i32,
    /// Hour, 0–23.
    pub hour: i32,
    /// Minute, 0–59.
    pub min: i32,
    /// Second, 0–60.
    pub sec: i32,
    /// Day of the week, 0 = Sunday.
    pub wday: i32,
    /// Day of the year, 0–365.
    pub yday: i32,
    /// Daylight saving time: 1 in effect, 0 not, -1 unknown.
    pub isdst: i32,
    /// Offset from UTC in seconds, east positive.
    pub gmtoff: i32,
    /// Zone abbreviation (`EST`, `GMT` …).
    pub zone: String,
    /// What glibc's `%s` prints: `mktime` of these fields in the process's local zone.
    pub epoch: i64,
}

/// CPython's `time.localtime(created)`/`time.gmtime(created)` take the floor of the float.
pub(crate) fn floor_secs(created: f64) -> Option<i64> {
    if !created.is_finite() {
        return None;
    }
    let f = created.floor();
    if f.abs() > 1e15 { None } else { Some(f as i64) }
}

/// Whether [`localtime`] and [`gmtime`] can convert `secs` (they fail only outside the
/// range of timestamps jiff represents).
pub(crate) fn convertible(secs: i64) -> bool {
    Timestamp::from_second(secs).is_ok()
}

/// `time.localtime(secs)` in `tz`; `None` only for a time outside the range of timestamps
/// jiff represents, as for [`gmtime`]. (The formatter checks that range first, with
/// `convertible`, and then writes `asctime` into the line with no error left to come.)
pub fn localtime(secs: i64, tz: &TimeZone) -> Option<Tm> {
    let ts = Timestamp::from_second(secs).ok()?;
    let info = tz.to_offset_info(ts);
    let offset = info.offset();
    let dt = offset.to_datetime(ts);
    Some(Tm {
        year: dt.year().into(),
        mon: i32::from(dt.month()) - 1,
        mday: dt.day().into(),
        hour: dt.hour().into(),
        min: dt.minute().into(),
        sec: dt.second().into(),
        wday: dt.weekday().to_sunday_zero_offset().into(),
        yday: i32::from(dt.day_of_year()) - 1,
        isdst: i32::from(info.dst().is_dst()),
        gmtoff: offset.seconds(),
        zone: info.abbreviation().to_owned(),
        epoch: secs,
    })
}

/// `time.gmtime(secs)`; `%s` is then computed as glibc's `mktime` would in `local`
/// (reading the UTC fields as local standard time, since `tm_isdst` is 0).
pub fn gmtime(secs: i64, local: &TimeZone) -> Option<Tm> {
    let mut tm = localtime(secs, &TimeZone::UTC)?;
    tm.zone = "GMT".into();
    tm.isdst = 0;
    tm.epoch = secs - standard_offset(local, secs);
    Some(tm)
}

/// The zone's standard (non-DST) offset around `secs`, as `mktime` with `tm_isdst = 0`
/// uses it.
fn standard_offset(tz: &TimeZone, secs: i64) -> i64 {
    let at = |s: i64| {
        Timestamp::from_second(s)
            .ok()
            .map(|ts| tz.to_offset_info(ts))
    };
    // Start from the offset in force near the local reading of the fields.
    let mut guess = secs;
    if let Some(info) = at(secs) {
        guess = secs - i64::from(info.offset().seconds());
    }
    for delta in [0i64, -183 * 86400, 183 * 86400, -92 * 86400, 92 * 86400] {
        if let Some(info) = at(guess + delta)
            && !info.dst().is_dst()
        {
            return info.offset().seconds().into();
        }
    }
    at(guess).map_or(0, |i| i.offset().seconds().into())
}
