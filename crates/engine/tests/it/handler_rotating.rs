//! RotatingFileHandler and TimedRotatingFileHandler: CPython 3.13's RotatingFileHandlerTest
//! and TimedRotatingFileHandlerTest, ported, plus rollovers checked against python3.

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use logwire_engine::{
    Emitter, FileOptions, Formatter, HandlerError, LogRecord, ManualClock, RotatingFileHandler,
    TimedRotatingFileHandler, TimedRotation, level,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("n", level::DEBUG, "p", 1, msg)
}

fn f() -> Formatter {
    Formatter::default()
}

fn utf8() -> FileOptions {
    FileOptions::from_python("a", Some("utf-8"), false, None).unwrap()
}

fn suffixed(p: &Path, s: &str) -> PathBuf {
    PathBuf::from(format!("{}{s}", p.display()))
}

// ---------------------------------------------------------------- RotatingFileHandlerTest

#[test]
fn should_not_rollover() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    // Empty file: never (gh-116263).
    let rh = RotatingFileHandler::new(&fn_, 1, 0, utf8()).unwrap();
    assert!(!rh.should_rollover(&rec("x"), &f()).unwrap());
    rh.close();
    // maxBytes 0: never.
    let rh = RotatingFileHandler::new(&fn_, 0, 0, utf8()).unwrap();
    assert!(!rh.should_rollover(&rec("x"), &f()).unwrap());
    rh.close();
    std::fs::write(&fn_, b"\n").unwrap();
    let rh = RotatingFileHandler::new(&fn_, 0, 0, utf8()).unwrap();
    assert!(!rh.should_rollover(&rec("x"), &f()).unwrap());
    rh.close();
}

#[test]
fn should_not_rollover_non_file() {
    // bpo-45401: maxBytes 1 would roll over a regular file.
    let rh = RotatingFileHandler::new("/dev/null", 1, 0, utf8()).unwrap();
    assert!(!rh.should_rollover(&rec("1"), &f()).unwrap());
    rh.emit(&rec("1"), &f()).unwrap();
    rh.emit(&rec("2"), &f()).unwrap();
    rh.close();
}

#[test]
fn should_rollover() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    std::fs::write(&fn_, b"\n").unwrap();
    let rh = RotatingFileHandler::new(&fn_, 2, 0, utf8()).unwrap();
    assert!(rh.should_rollover(&rec("1"), &f()).unwrap());
    rh.close();
}

#[test]
fn file_created() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let rh = RotatingFileHandler::new(&fn_, 0, 0, utf8()).unwrap();
    rh.emit(&rec("1"), &f()).unwrap();
    assert!(fn_.exists());
    rh.close();
}

fn max_bytes(delay: bool) {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let rh = RotatingFileHandler::new(&fn_, 100, 2, utf8().delay(delay)).unwrap();
    assert_eq!(fn_.exists(), !delay);
    let small = rec("a");
    let large = rec(&"b".repeat(100));
    assert!(!rh.should_rollover(&small, &f()).unwrap());
    assert!(!rh.should_rollover(&large, &f()).unwrap());
    rh.emit(&small, &f()).unwrap();
    assert!(fn_.exists());
    assert!(!suffixed(&fn_, ".1").exists());
    assert!(!rh.should_rollover(&small, &f()).unwrap());
    assert!(rh.should_rollover(&large, &f()).unwrap());
    rh.emit(&large, &f()).unwrap();
    assert!(fn_.exists());
    assert!(suffixed(&fn_, ".1").exists());
    assert!(!suffixed(&fn_, ".2").exists());
    assert!(rh.should_rollover(&small, &f()).unwrap());
    assert!(rh.should_rollover(&large, &f()).unwrap());
    rh.close();
}

#[test]
fn max_bytes_no_delay() {
    max_bytes(false);
}

#[test]
fn max_bytes_delay() {
    max_bytes(true);
}

#[test]
fn length_counts_characters_against_bytes_like_cpython() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    std::fs::write(&fn_, b"x").unwrap(); // tell() == 1
    let rh = RotatingFileHandler::new(&fn_, 5, 1, utf8()).unwrap();
    // "ééé\n" is 4 characters (7 bytes): 1 + 4 = 5 >= 5.
    assert!(rh.should_rollover(&rec("ééé"), &f()).unwrap());
    // "éé\n" is 3 characters: 1 + 3 < 5, though it is 5 bytes.
    assert!(!rh.should_rollover(&rec("éé"), &f()).unwrap());
}

#[test]
fn rollover_filenames_with_namer() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let namer = |p: &Path| suffixed(p, ".test");
    let rh = RotatingFileHandler::new(&fn_, 1, 2, utf8())
        .unwrap()
        .with_namer(namer);
    rh.emit(&rec("1"), &f()).unwrap();
    assert!(fn_.exists());
    assert!(!namer(&suffixed(&fn_, ".1")).exists());
    rh.emit(&rec("2"), &f()).unwrap();
    assert!(namer(&suffixed(&fn_, ".1")).exists());
    assert!(!namer(&suffixed(&fn_, ".2")).exists());
    rh.emit(&rec("3"), &f()).unwrap();
    assert!(namer(&suffixed(&fn_, ".2")).exists());
    assert!(!namer(&suffixed(&fn_, ".3")).exists());
    rh.emit(&rec("4"), &f()).unwrap();
    assert!(!namer(&suffixed(&fn_, ".3")).exists());
    rh.close();
    // Contents moved down the chain: 4 in base, 3 in .1, 2 in .2, 1 gone.
    assert_eq!(std::fs::read_to_string(&fn_).unwrap(), "4\n");
    assert_eq!(
        std::fs::read_to_string(namer(&suffixed(&fn_, ".1"))).unwrap(),
        "3\n"
    );
    assert_eq!(
        std::fs::read_to_string(namer(&suffixed(&fn_, ".2"))).unwrap(),
        "2\n"
    );
}

#[test]
fn rollover_filenames_plain() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let rh = RotatingFileHandler::new(&fn_, 1, 2, utf8()).unwrap();
    for i in 1..=5 {
        rh.emit(&rec(&i.to_string()), &f()).unwrap();
    }
    rh.close();
    assert_eq!(std::fs::read_to_string(&fn_).unwrap(), "5\n");
    assert_eq!(
        std::fs::read_to_string(suffixed(&fn_, ".1")).unwrap(),
        "4\n"
    );
    assert_eq!(
        std::fs::read_to_string(suffixed(&fn_, ".2")).unwrap(),
        "3\n"
    );
    assert!(!suffixed(&fn_, ".3").exists());
}

#[test]
fn rotator_hook() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let rh = RotatingFileHandler::new(&fn_, 1, 2, utf8())
        .unwrap()
        .with_rotator(|src, dst| std::fs::rename(src, suffixed(dst, ".rotated")));
    rh.emit(&rec("1"), &f()).unwrap();
    rh.emit(&rec("2"), &f()).unwrap();
    assert!(suffixed(&fn_, ".1.rotated").exists());
    assert!(!suffixed(&fn_, ".1").exists());
    rh.close();
}

#[test]
fn backup_count_zero_never_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let rh = RotatingFileHandler::new(&fn_, 1, 0, utf8()).unwrap();
    for i in 0..3 {
        rh.emit(&rec(&i.to_string()), &f()).unwrap();
    }
    rh.close();
    assert_eq!(std::fs::read_to_string(&fn_).unwrap(), "0\n1\n2\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// ----------------------------------------------------------- TimedRotatingFileHandlerTest

fn timed(
    path: &Path,
    when: &str,
    interval: u32,
    utc: bool,
    at_time: Option<Time>,
    clock: Arc<ManualClock>,
    tz: TimeZone,
) -> Result<TimedRotatingFileHandler, HandlerError> {
    let rotation = TimedRotation {
        when: when.to_owned(),
        interval,
        utc,
        at_time,
        clock,
        time_zone: tz,
        ..TimedRotation::default()
    };
    TimedRotatingFileHandler::new(path, rotation, utf8().delay(true))
}

#[test]
fn invalid_when() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let clock = Arc::new(ManualClock::new(0));
    for (when, msg) in [
        ("X", "Invalid rollover interval specified: X"),
        (
            "W",
            "You must specify a day for weekly rollover from 0 to 6 (0 is Monday): W",
        ),
        ("W7", "Invalid day specified for weekly rollover: W7"),
    ] {
        let err = timed(&fn_, when, 1, false, None, clock.clone(), TimeZone::UTC)
            .err()
            .unwrap();
        assert_eq!(err.to_string(), msg);
    }
    for ok in ["s", "m", "h", "d", "midnight", "Midnight", "w0", "W6"] {
        timed(&fn_, ok, 1, false, None, clock.clone(), TimeZone::UTC).unwrap();
    }
}

#[test]
fn compute_rollover_utc_for_every_when() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let clock = Arc::new(ManualClock::new(0));
    let day = 86400;
    // The epoch is a Thursday; W0 is Monday.
    for (when, exp) in [
        ("S", 1),
        ("M", 60),
        ("H", 3600),
        ("D", day),
        ("MIDNIGHT", day),
        ("W0", 5 * day),
    ] {
        for interval in [1i64, 3] {
            let h = timed(
                &fn_,
                when,
                interval as u32,
                true,
                None,
                clock.clone(),
                TimeZone::UTC,
            )
            .unwrap();
            let exp = if when.starts_with('W') {
                exp + 7 * day * (interval - 1)
            } else {
                exp * interval
            };
            assert_eq!(h.compute_rollover(0), exp, "{when} interval {interval}");
            // Constructed at clock time 0 with no file: rolloverAt is computeRollover(0).
            assert_eq!(h.rollover_at(), exp);
        }
    }
}

#[test]
fn compute_rollover_daily_attime() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let c = Arc::new(ManualClock::new(0));
    let h = timed(&fn_, "MIDNIGHT", 1, true, None, c.clone(), TimeZone::UTC).unwrap();
    let hr = 3600;
    assert_eq!(h.compute_rollover(0), 24 * hr);
    assert_eq!(h.compute_rollover(24 * hr - 1), 24 * hr);
    assert_eq!(h.compute_rollover(24 * hr), 48 * hr);
    assert_eq!(h.compute_rollover(25 * hr), 48 * hr);

    let h = timed(
        &fn_,
        "MIDNIGHT",
        1,
        true,
        Some(Time::constant(12, 0, 0, 0)),
        c,
        TimeZone::UTC,
    )
    .unwrap();
    assert_eq!(h.compute_rollover(0), 12 * hr);
    assert_eq!(h.compute_rollover(12 * hr - 1), 12 * hr);
    assert_eq!(h.compute_rollover(12 * hr), 36 * hr);
    assert_eq!(h.compute_rollover(13 * hr), 36 * hr);
}

#[test]
fn compute_rollover_weekly_attime() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let c = Arc::new(ManualClock::new(0));
    let day = 86400;
    // A fixed "today" (2024-05-15, a Wednesday: wday 2) at 00:00 UTC.
    let today = 1_715_731_200;
    let wday = 2;
    for d in 0..7 {
        let at = Some(Time::constant(12, 0, 0, 0));
        let h = timed(
            &fn_,
            &format!("W{d}"),
            1,
            true,
            at,
            c.clone(),
            TimeZone::UTC,
        )
        .unwrap();
        let mut expected = if wday > d { 7 - wday + d } else { d - wday };
        expected = expected * day + 12 * 3600 + today;
        assert_eq!(h.compute_rollover(today), expected, "W{d}");
        assert_eq!(h.compute_rollover(today + 12 * 3600 - 1), expected, "W{d}");
        if d == wday {
            expected += 7 * day;
        }
        assert_eq!(h.compute_rollover(today + 12 * 3600), expected, "W{d}");
        assert_eq!(h.compute_rollover(today + 13 * 3600), expected, "W{d}");
    }
}

/// The US rules CPython's DST tests run under (`EST+05EDT,M3.2.0,M11.1.0`).
fn us_eastern() -> TimeZone {
    TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap()
}

/// A naive local time as Python's `datetime(...).timestamp()` reads it (`fold` picks the
/// second of a repeated hour).
fn ts(tz: &TimeZone, s: &str, fold: bool) -> i64 {
    let dt: DateTime = s.parse().unwrap();
    let amb = tz.to_ambiguous_timestamp(dt);
    let t = if fold { amb.later() } else { amb.compatible() };
    t.unwrap().as_second()
}

/// Runs `(current, fold, expected, fold)` cases against computeRollover.
fn check(h: &TimedRotatingFileHandler, cases: &[(&str, bool, &str, bool)]) {
    let tz = us_eastern();
    for &(cur, cf, exp, ef) in cases {
        let actual = h.compute_rollover(ts(&tz, cur, cf));
        let expected = ts(&tz, exp, ef);
        assert_eq!(actual - expected, 0, "{cur} (fold {cf}) -> expected {exp}");
    }
}

fn local(
    when: &str,
    interval: u32,
    at: Option<Time>,
) -> (tempfile::TempDir, TimedRotatingFileHandler) {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let c = Arc::new(ManualClock::new(0));
    let h = timed(&fn_, when, interval, false, at, c, us_eastern()).unwrap();
    (dir, h)
}

const N: bool = false;
const Y: bool = true;

#[test]
fn compute_rollover_midnight_local() {
    let (_d, h) = local("MIDNIGHT", 1, None);
    check(
        &h,
        &[
            ("2012-03-10T23:59:59", N, "2012-03-11T00:00", N),
            ("2012-03-11T00:00", N, "2012-03-12T00:00", N),
            ("2012-03-11T01:00", N, "2012-03-12T00:00", N),
            ("2012-11-03T23:59:59", N, "2012-11-04T00:00", N),
            ("2012-11-04T00:00", N, "2012-11-05T00:00", N),
            ("2012-11-04T01:00", N, "2012-11-05T00:00", N),
        ],
    );
    let (_d, h) = local("MIDNIGHT", 1, Some(Time::constant(12, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-10T11:59:59", N, "2012-03-10T12:00", N),
            ("2012-03-10T12:00", N, "2012-03-11T12:00", N),
            ("2012-03-10T13:00", N, "2012-03-11T12:00", N),
            ("2012-11-03T11:59:59", N, "2012-11-03T12:00", N),
            ("2012-11-03T12:00", N, "2012-11-04T12:00", N),
            ("2012-11-03T13:00", N, "2012-11-04T12:00", N),
        ],
    );
    let (_d, h) = local("MIDNIGHT", 1, Some(Time::constant(2, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-10T01:59:59", N, "2012-03-10T02:00", N),
            ("2012-03-10T02:00", N, "2012-03-11T03:00", N),
            ("2012-03-10T03:00", N, "2012-03-11T03:00", N),
            ("2012-03-11T01:59:59", N, "2012-03-11T03:00", N),
            ("2012-03-11T03:00", N, "2012-03-12T02:00", N),
            ("2012-03-11T04:00", N, "2012-03-12T02:00", N),
            ("2012-11-03T01:59:59", N, "2012-11-03T02:00", N),
            ("2012-11-03T02:00", N, "2012-11-04T02:00", N),
            ("2012-11-03T03:00", N, "2012-11-04T02:00", N),
            ("2012-11-04T01:59:59", N, "2012-11-04T02:00", N),
            ("2012-11-04T01:59:59", Y, "2012-11-04T02:00", N),
            ("2012-11-04T02:00", N, "2012-11-05T02:00", N),
            ("2012-11-04T03:00", N, "2012-11-05T02:00", N),
        ],
    );
    let (_d, h) = local("MIDNIGHT", 1, Some(Time::constant(2, 30, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-10T02:29:59", N, "2012-03-10T02:30", N),
            ("2012-03-10T02:30", N, "2012-03-11T03:30", N),
            ("2012-03-10T03:00", N, "2012-03-11T03:30", N),
            ("2012-03-11T01:59:59", N, "2012-03-11T03:30", N),
            ("2012-03-11T03:00", N, "2012-03-12T02:30", N),
            ("2012-03-11T03:30", N, "2012-03-12T02:30", N),
            ("2012-11-03T02:29:59", N, "2012-11-03T02:30", N),
            ("2012-11-03T02:30", N, "2012-11-04T02:30", N),
            ("2012-11-03T03:00", N, "2012-11-04T02:30", N),
        ],
    );
    let (_d, h) = local("MIDNIGHT", 1, Some(Time::constant(1, 30, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-11T01:29:59", N, "2012-03-11T01:30", N),
            ("2012-03-11T01:30", N, "2012-03-12T01:30", N),
            ("2012-03-11T01:59:59", N, "2012-03-12T01:30", N),
            ("2012-03-11T03:00", N, "2012-03-12T01:30", N),
            ("2012-03-11T03:30", N, "2012-03-12T01:30", N),
            ("2012-11-04T01:00", N, "2012-11-04T01:30", N),
            ("2012-11-04T01:29:59", N, "2012-11-04T01:30", N),
            ("2012-11-04T01:30", N, "2012-11-05T01:30", N),
            ("2012-11-04T01:59:59", N, "2012-11-05T01:30", N),
            ("2012-11-04T01:00", Y, "2012-11-04T01:30", Y),
            ("2012-11-04T01:29:59", Y, "2012-11-04T01:30", Y),
            ("2012-11-04T01:30", Y, "2012-11-05T01:30", N),
            ("2012-11-04T01:59:59", Y, "2012-11-05T01:30", N),
            ("2012-11-04T02:00", N, "2012-11-05T01:30", N),
            ("2012-11-04T02:30", N, "2012-11-05T01:30", N),
        ],
    );
}

#[test]
fn compute_rollover_w6_local() {
    let (_d, h) = local("W6", 1, None);
    check(
        &h,
        &[
            ("2012-03-04T23:59:59", N, "2012-03-05T00:00", N),
            ("2012-03-05T00:00", N, "2012-03-12T00:00", N),
            ("2012-03-05T01:00", N, "2012-03-12T00:00", N),
            ("2012-10-28T23:59:59", N, "2012-10-29T00:00", N),
            ("2012-10-29T00:00", N, "2012-11-05T00:00", N),
            ("2012-10-29T01:00", N, "2012-11-05T00:00", N),
        ],
    );
    let (_d, h) = local("W6", 1, Some(Time::constant(0, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-10T23:59:59", N, "2012-03-11T00:00", N),
            ("2012-03-11T00:00", N, "2012-03-18T00:00", N),
            ("2012-03-11T01:00", N, "2012-03-18T00:00", N),
            ("2012-11-03T23:59:59", N, "2012-11-04T00:00", N),
            ("2012-11-04T00:00", N, "2012-11-11T00:00", N),
            ("2012-11-04T01:00", N, "2012-11-11T00:00", N),
        ],
    );
    let (_d, h) = local("W6", 1, Some(Time::constant(2, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-04T01:59:59", N, "2012-03-04T02:00", N),
            ("2012-03-04T02:00", N, "2012-03-11T03:00", N),
            ("2012-03-04T03:00", N, "2012-03-11T03:00", N),
            ("2012-03-11T01:59:59", N, "2012-03-11T03:00", N),
            ("2012-03-11T03:00", N, "2012-03-18T02:00", N),
            ("2012-03-11T04:00", N, "2012-03-18T02:00", N),
            ("2012-10-28T01:59:59", N, "2012-10-28T02:00", N),
            ("2012-10-28T02:00", N, "2012-11-04T02:00", N),
            ("2012-10-28T03:00", N, "2012-11-04T02:00", N),
            ("2012-11-04T01:59:59", N, "2012-11-04T02:00", N),
            ("2012-11-04T01:59:59", Y, "2012-11-04T02:00", N),
            ("2012-11-04T02:00", N, "2012-11-11T02:00", N),
            ("2012-11-04T03:00", N, "2012-11-11T02:00", N),
        ],
    );
    let (_d, h) = local("W6", 1, Some(Time::constant(1, 30, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-11T01:29:59", N, "2012-03-11T01:30", N),
            ("2012-03-11T01:30", N, "2012-03-18T01:30", N),
            ("2012-03-11T03:00", N, "2012-03-18T01:30", N),
            ("2012-11-04T01:00", N, "2012-11-04T01:30", N),
            ("2012-11-04T01:30", N, "2012-11-11T01:30", N),
            ("2012-11-04T01:00", Y, "2012-11-04T01:30", Y),
            ("2012-11-04T01:30", Y, "2012-11-11T01:30", N),
            ("2012-11-04T02:30", N, "2012-11-11T01:30", N),
        ],
    );
}

#[test]
fn compute_rollover_local_with_interval() {
    let (_d, h) = local("MIDNIGHT", 3, None);
    check(
        &h,
        &[
            ("2012-03-08T23:59:59", N, "2012-03-11T00:00", N),
            ("2012-03-09T00:00", N, "2012-03-12T00:00", N),
            ("2012-03-10T23:59:59", N, "2012-03-13T00:00", N),
            ("2012-03-11T00:00", N, "2012-03-14T00:00", N),
            ("2012-11-01T23:59:59", N, "2012-11-04T00:00", N),
            ("2012-11-02T00:00", N, "2012-11-05T00:00", N),
            ("2012-11-04T01:00", N, "2012-11-07T00:00", N),
        ],
    );
    let (_d, h) = local("MIDNIGHT", 3, Some(Time::constant(12, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-03-08T11:59:59", N, "2012-03-10T12:00", N),
            ("2012-03-08T12:00", N, "2012-03-11T12:00", N),
            ("2012-03-10T12:00", N, "2012-03-13T12:00", N),
            ("2012-11-01T11:59:59", N, "2012-11-03T12:00", N),
            ("2012-11-03T12:00", N, "2012-11-06T12:00", N),
        ],
    );
    let (_d, h) = local("W6", 3, None);
    check(
        &h,
        &[
            ("2012-02-19T23:59:59", N, "2012-03-05T00:00", N),
            ("2012-02-20T00:00", N, "2012-03-12T00:00", N),
            ("2012-03-04T23:59:59", N, "2012-03-19T00:00", N),
            ("2012-03-05T01:00", N, "2012-03-26T00:00", N),
            ("2012-10-14T23:59:59", N, "2012-10-29T00:00", N),
            ("2012-10-29T00:00", N, "2012-11-19T00:00", N),
        ],
    );
    let (_d, h) = local("W6", 3, Some(Time::constant(12, 0, 0, 0)));
    check(
        &h,
        &[
            ("2012-02-18T11:59:59", N, "2012-03-04T12:00", N),
            ("2012-02-19T12:00", N, "2012-03-11T12:00", N),
            ("2012-03-04T12:00", N, "2012-03-25T12:00", N),
            ("2012-10-28T11:59:59", N, "2012-11-11T12:00", N),
            ("2012-10-28T13:00", N, "2012-11-18T12:00", N),
        ],
    );
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn rollover_names_files_and_deletes_beyond_backup_count() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    // 2024-05-15T10:00:00Z.
    let t0 = 1_715_767_200;
    let clock = Arc::new(ManualClock::new(t0));
    let rotation = TimedRotation {
        when: "S".to_owned(),
        backup_count: 2,
        utc: true,
        clock: clock.clone(),
        ..TimedRotation::default()
    };
    let h = TimedRotatingFileHandler::new(&fn_, rotation, utf8().delay(true)).unwrap();
    // A file of another handler and an unrelated one are never deleted.
    std::fs::write(dir.path().join("test.log.2020-01-01"), "").unwrap();
    std::fs::write(dir.path().join("other.log.2020-01-01_00-00-00"), "").unwrap();
    h.emit(&rec("a"), &f()).unwrap();
    for (i, msg) in ["b", "c", "d"].iter().enumerate() {
        clock.advance(1 + i as i64); // 1, 2, 3 seconds later
        h.emit(&rec(msg), &f()).unwrap();
    }
    h.close();
    assert_eq!(
        names(dir.path()),
        vec![
            "other.log.2020-01-01_00-00-00",
            "test.log",
            "test.log.2020-01-01",
            // a went to 10-00-00 (deleted), b to 10-00-01, c to 10-00-03.
            "test.log.2024-05-15_10-00-01",
            "test.log.2024-05-15_10-00-03",
        ]
    );
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert_eq!(read("test.log.2024-05-15_10-00-01"), "b\n");
    assert_eq!(read("test.log.2024-05-15_10-00-03"), "c\n");
    assert_eq!(read("test.log"), "d\n");
}

#[test]
fn no_rollover_when_the_target_name_exists() {
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let t0 = 1_715_767_200; // 2024-05-15T10:00:00Z
    let clock = Arc::new(ManualClock::new(t0));
    let rotation = TimedRotation {
        when: "H".to_owned(),
        utc: true,
        clock: clock.clone(),
        ..TimedRotation::default()
    };
    let h = TimedRotatingFileHandler::new(&fn_, rotation, utf8().delay(true)).unwrap();
    h.emit(&rec("1"), &f()).unwrap();
    let taken = dir.path().join("test.log.2024-05-15_10");
    std::fs::write(&taken, "peer\n").unwrap();
    clock.advance(3600);
    h.emit(&rec("2"), &f()).unwrap();
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "peer\n");
    assert_eq!(std::fs::read_to_string(&fn_).unwrap(), "1\n2\n");
    // The next interval rotates normally.
    assert_eq!(h.rollover_at(), t0 + 2 * 3600);
    clock.advance(3600);
    h.emit(&rec("3"), &f()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("test.log.2024-05-15_11")).unwrap(),
        "1\n2\n"
    );
    assert_eq!(std::fs::read_to_string(&fn_).unwrap(), "3\n");
}

fn set_mtime(p: &Path, t: i64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
        .unwrap();
}

/// CPython's test_rollover_at_midnight / test_rollover_at_weekday, with a clock instead of
/// sleeping: the first rollover time counts from the existing file's mtime.
fn rollover_at_time_of_day(weekly: bool) {
    let tz = us_eastern();
    let dir = tempfile::tempdir().unwrap();
    let fn_ = dir.path().join("test.log");
    let now_dt: DateTime = "2024-05-15T14:30:07".parse().unwrap(); // a Wednesday
    let now = tz
        .to_ambiguous_timestamp(now_dt)
        .compatible()
        .unwrap()
        .as_second();
    let at = Some(now_dt.time());
    let when = if weekly { "W2" } else { "MIDNIGHT" };
    let clock = Arc::new(ManualClock::new(now));
    let make = || timed(&fn_, when, 1, false, at, clock.clone(), tz.clone()).unwrap();
    for i in 0..3 {
        let h = make();
        h.emit(&rec(&format!("testing1 {i}")), &f()).unwrap();
        h.close();
        set_mtime(&fn_, now);
    }
    set_mtime(&fn_, now - 1);
    for i in 0..2 {
        let h = make();
        h.emit(&rec(&format!("testing2 {i}")), &f()).unwrap();
        h.close();
    }
    let back = if weekly { 7 } else { 1 };
    let other = format!("test.log.2024-05-{:02}", 15 - back);
    assert_eq!(
        names(dir.path()),
        vec!["test.log".to_owned(), other.clone()]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(other)).unwrap(),
        "testing1 0\ntesting1 1\ntesting1 2\n"
    );
    assert_eq!(
        std::fs::read_to_string(&fn_).unwrap(),
        "testing2 0\ntesting2 1\n"
    );
}

#[test]
fn rollover_at_midnight_with_attime() {
    rollover_at_time_of_day(false);
}

#[test]
fn rollover_at_weekday_with_attime() {
    rollover_at_time_of_day(true);
}

#[test]
fn should_not_rollover_a_device() {
    let clock = Arc::new(ManualClock::new(0));
    let h = timed(
        Path::new("/dev/null"),
        "S",
        1,
        true,
        None,
        clock.clone(),
        TimeZone::UTC,
    )
    .unwrap();
    // The first rollover counts from /dev/null's mtime.
    let later = h.rollover_at() + 5;
    clock.set(later);
    assert!(!h.should_rollover());
    assert_eq!(h.rollover_at(), later + 1);
    h.emit(&rec("x"), &f()).unwrap();
}

#[test]
fn files_to_delete_matches_only_date_suffixes() {
    // test_compute_files_to_delete and ..._same_filename_different_extensions.
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path();
    let times: Vec<String> = (0..10)
        .map(|i| format!("2024-05-15_10-00-{:02}", i * 5))
        .collect();
    let clock = Arc::new(ManualClock::new(0));
    let mk = |prefix: &str, backup: u32| {
        let rotation = TimedRotation {
            when: "s".to_owned(),
            interval: 5,
            backup_count: backup,
            clock: clock.clone(),
            ..TimedRotation::default()
        };
        TimedRotatingFileHandler::new(wd.join(prefix), rotation, utf8().delay(true)).unwrap()
    };
    for t in &times {
        for p in ["a.b.log", "a.b.c.log", "a.log", "a.log.b"] {
            std::fs::write(wd.join(format!("{p}.{t}")), "").unwrap();
        }
        std::fs::write(wd.join(format!("d.e.{t}.log")), "").unwrap();
        std::fs::write(wd.join(format!("a.log.{t}.c")), "").unwrap();
    }
    for (prefix, backup) in [
        ("a.b.log", 7),
        ("a.b.c.log", 7),
        ("a.log", 1),
        ("a.log.b", 2),
    ] {
        let c = mk(prefix, backup).files_to_delete().unwrap();
        assert_eq!(c.len(), 10 - backup as usize, "{prefix}: {c:?}");
        for p in &c {
            let name = p.file_name().unwrap().to_str().unwrap();
            let suffix = name.strip_prefix(&format!("{prefix}.")).unwrap();
            assert_eq!(suffix.len(), 19, "{name}");
        }
        // Oldest first: the newest `backup` are kept.
        assert!(
            c.last()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with(&times[9 - backup as usize])
        );
    }
    // With a namer: d.e.log files are named d.e.<date>.log.
    let namer = |p: &Path| {
        let s = p.to_str().unwrap().replace(".log", "");
        PathBuf::from(format!("{s}.log"))
    };
    let c = mk("d.e.log", 7)
        .with_namer(namer)
        .files_to_delete()
        .unwrap();
    assert_eq!(c.len(), 3, "{c:?}");
    for p in &c {
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("d.e.") && name.ends_with(".log"), "{name}");
    }
}

// ------------------------------------------------------------------ python3 cross-check

/// A CPython >= 3.13 (the semantics ported here), if there is one; pyenv installs are
/// looked up too.
fn python() -> Option<std::process::Command> {
    let candidates = [
        ("python3.13", None),
        ("python3.13", Some("3.13.0")),
        ("python3", None),
    ];
    candidates.into_iter().find_map(|(exe, pyenv)| {
        let mk = || {
            let mut c = std::process::Command::new(exe);
            if let Some(v) = pyenv {
                c.env("PYENV_VERSION", v);
            }
            c
        };
        let ok = mk()
            .args(["-c", "import sys; sys.exit(sys.version_info < (3, 13))"])
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(mk)
    })
}

/// Rollover schedules and rotated file names match CPython's for each `when`, in UTC and in
/// a DST zone, for start and rollover times around DST changes.
#[test]
fn rollover_names_match_python() {
    // The image ships CPython 3.13 (pyenv); without it this cross-check would test nothing.
    let Some(mut py) = python() else {
        return logwire_test_support::python::missing(
            "no python3 >= 3.13 found (pyenv 3.13.0 expected)",
        );
    };
    let tzs = "EST5EDT,M3.2.0,M11.1.0";
    type Case = (&'static str, u32, bool, Option<(i8, i8, i8)>, i64, i64);
    let cases: Vec<Case> = {
        let mut v = Vec::new();
        // 2012-03-10 12:34:56 EST, the day before DST starts; 2012-11-03 12:34:56 EDT.
        for t0 in [1_331_400_896i64, 1_351_960_496] {
            for (when, interval) in [
                ("S", 1),
                ("M", 1),
                ("H", 1),
                ("H", 5),
                ("D", 1),
                ("MIDNIGHT", 1),
                ("MIDNIGHT", 2),
                ("W6", 1),
                ("W0", 1),
            ] {
                for utc in [false, true] {
                    for at in [None, Some((2, 30, 0)), Some((23, 0, 0))] {
                        if at.is_some() && !(when == "MIDNIGHT" || when.starts_with('W')) {
                            continue;
                        }
                        for dt in [0i64, 86_400, 2 * 86_400 + 7_200] {
                            v.push((when, interval, utc, at, t0, dt));
                        }
                    }
                }
            }
        }
        v
    };
    let script = r#"
import sys, os, time, datetime, tempfile, logging.handlers
out = []
for line in sys.stdin:
    when, interval, utc, at, t0, dt = line.split()
    at = None if at == '-' else datetime.time(*map(int, at.split(':')))
    d = tempfile.mkdtemp()
    fn = os.path.join(d, 'x.log')
    t0 = int(t0)
    time.time = lambda: t0
    h = logging.handlers.TimedRotatingFileHandler(fn, when=when, interval=int(interval), utc=utc == '1', atTime=at, delay=True)
    first = h.rolloverAt
    open(fn, 'w').close()
    t1 = first + int(dt)
    time.time = lambda: t1
    h.doRollover()
    rotated = sorted(n for n in os.listdir(d) if n != 'x.log')
    out.append('%d %s %d' % (first, ','.join(rotated), h.rolloverAt))
print('\n'.join(out))
"#;
    let input: String = cases
        .iter()
        .map(|(w, i, u, at, t0, dt)| {
            let at = at.map_or("-".to_owned(), |(h, m, s)| format!("{h}:{m}:{s}"));
            format!("{w} {i} {} {at} {t0} {dt}\n", u8::from(*u))
        })
        .collect();
    let mut child = py
        .arg("-c")
        .arg(script)
        .env("TZ", "EST+05EDT,M3.2.0,M11.1.0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let expected: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(expected.len(), cases.len());
    let tz = TimeZone::posix(tzs).unwrap();
    for (case, exp) in cases.iter().zip(&expected) {
        let &(when, interval, utc, at, t0, dt) = case;
        let dir = tempfile::tempdir().unwrap();
        let fn_ = dir.path().join("x.log");
        let clock = Arc::new(ManualClock::new(t0));
        let at = at.map(|(h, m, s)| Time::constant(h, m, s, 0));
        let h = timed(&fn_, when, interval, utc, at, clock.clone(), tz.clone()).unwrap();
        let first = h.rollover_at();
        std::fs::write(&fn_, "").unwrap();
        clock.set(first + dt);
        h.do_rollover().unwrap();
        let rotated: Vec<String> = names(dir.path())
            .into_iter()
            .filter(|n| n != "x.log")
            .collect();
        let got = format!("{first} {} {}", rotated.join(","), h.rollover_at());
        assert_eq!(&got, exp, "case {case:?}");
    }
}
