//! `asctime` stays byte-identical to CPython's when formatters are reused record after
//! record: the text of a second is cached per thread and per formatter, and the fast paths
//! (`%(asctime)s`, `{asctime}`, `$asctime`, milliseconds from a table) must agree with
//! CPython on every record — across seconds, formatters interleaved on one thread (more of
//! them than the cache holds), milliseconds at their edges and out of range, times that
//! cannot be converted, and several threads sharing the formatters.

use crate::common;

use common::golden::{compare, float_hex};
use jiff::tz::TimeZone;
use logwire_engine::{Formatter, LogRecord, Style, Value};
use logwire_test_support::python;
use serde_json::{Value as J, json};
use std::sync::Arc;

const PY: &str = r#"
import sys, json, logging, struct, time
spec = json.load(sys.stdin)
def fl(h): return struct.unpack("<d", bytes.fromhex(h))[0]
fs = []
for f in spec["formatters"]:
    x = logging.Formatter(f["fmt"], f["datefmt"], f["style"])
    if f["utc"]:
        x.converter = time.gmtime
    fs.append(x)
out = []
for ri, fi in spec["order"]:
    r = spec["records"][ri]
    rec = logging.makeLogRecord({"name": "app.web", "msg": r["msg"], "levelname": "INFO", "levelno": 20,
                                 "created": fl(r["created"]), "msecs": fl(r["msecs"]), "rid": r["rid"]})
    try:
        out.append({"ok": fs[fi].format(rec)})
    except Exception as e:
        out.append({"err": type(e).__name__})
json.dump(out, sys.stdout)
"#;

/// (format, datefmt, style, utc)
fn formatter_specs() -> Vec<(&'static str, Option<&'static str>, Style, bool)> {
    vec![
        (
            "%(asctime)s %(levelname)s %(name)s %(message)s rid=%(rid)s",
            None,
            Style::Percent,
            false,
        ),
        (
            "%(asctime)s|%(asctime)-30s|%(asctime).10s",
            None,
            Style::Percent,
            false,
        ),
        (
            "{asctime} {asctime!s} {asctime:>28} {name!s} {message}",
            None,
            Style::Brace,
            false,
        ),
        ("$asctime ${name}: $message", None, Style::Dollar, true),
        (
            "%(asctime)s %(message)s",
            Some("%Y-%m-%dT%H:%M:%S%z"),
            Style::Percent,
            false,
        ),
        (
            "%(asctime)s %(message)s",
            Some("%d/%b/%Y:%H:%M:%S %Z"),
            Style::Percent,
            true,
        ),
        (
            "[%(asctime)s] %(message)s",
            Some("%s"),
            Style::Percent,
            false,
        ),
        // No asctime segment, but CPython's usesTime() is true: the time is still converted.
        ("%%(asctime)s %(message)s", None, Style::Percent, false),
    ]
}

/// (created, msecs): seconds repeated and crossed, a DST change in New York, negative
/// and huge times, milliseconds at and beyond their edges.
fn times() -> Vec<(f64, f64)> {
    let mut t = vec![
        (1_763_712_180.0, 0.0),
        (1_763_712_180.5, 500.0),
        (1_763_712_180.999_9, 999.9),
        (1_763_712_181.0, 0.0),
        (1_763_712_180.25, 250.0),
        (1_762_063_199.0, 0.0),
        (1_762_063_200.0, 0.0),
        (1_762_059_600.5, 500.0),
        (-1.5, 500.0),
        (0.0, 0.0),
        (1_763_712_181.0, 1000.0),
        (1_763_712_181.0, 1234.7),
        (1_763_712_181.0, -3.2),
        (1_763_712_181.0, -0.0),
        (1_763_712_181.0, 999.999_999_9),
        (1_763_712_181.0, f64::NAN),
        (f64::NAN, 0.0),
        (1e18, 0.0),
    ];
    // A run within one second and across the next, as a collector sees them.
    for i in 0..30 {
        t.push((
            1_763_712_190.0 + f64::from(i) * 0.07,
            f64::from(i * 70 % 1000),
        ));
    }
    t
}

fn records() -> Vec<LogRecord> {
    times()
        .into_iter()
        .enumerate()
        .map(|(i, (created, msecs))| {
            let mut r = LogRecord::new("app.web", 20, "/srv/web.py", 1, format!("hit {i}"));
            r.created = created;
            r.msecs = msecs;
            r.set_extra("rid", format!("r{i}"));
            r
        })
        .collect()
}

fn formatters(tz: &TimeZone) -> Vec<Formatter> {
    formatter_specs()
        .into_iter()
        .map(|(fmt, datefmt, style, utc)| {
            Formatter::new(Some(fmt), datefmt, style, false, vec![])
                .unwrap()
                .with_time_zone(tz.clone())
                .with_utc(utc)
        })
        .collect()
}

/// Every record through every formatter, interleaved: record-major, then formatter-major
/// backwards, so each formatter's cached second is evicted and found again.
fn order(records: usize, formatters: usize) -> Vec<(usize, usize)> {
    let mut o = Vec::new();
    for r in 0..records {
        for f in 0..formatters {
            o.push((r, f));
        }
    }
    for f in (0..formatters).rev() {
        for r in (0..records).rev() {
            o.push((r, f));
        }
    }
    o
}

fn ours(
    fs: &[Formatter],
    recs: &[LogRecord],
    order: &[(usize, usize)],
) -> Vec<Result<String, String>> {
    order
        .iter()
        .map(|&(r, f)| fs[f].try_format(&recs[r]).map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn reused_formatters_match_cpython_record_after_record() {
    let tz_name = "America/New_York";
    let tz = TimeZone::get(tz_name).unwrap();
    let recs = records();
    let fs = formatters(&tz);
    let order = order(recs.len(), fs.len());
    let spec = json!({
        "formatters": formatter_specs().iter().map(|(fmt, datefmt, style, utc)| json!({
            "fmt": fmt, "datefmt": datefmt, "style": style.symbol(), "utc": utc,
        })).collect::<Vec<_>>(),
        "records": recs.iter().map(|r| json!({
            "created": float_hex(r.created), "msecs": float_hex(r.msecs), "msg": r.msg,
            "rid": match r.extra("rid") { Some(Value::Str(s)) => s.clone(), _ => String::new() },
        })).collect::<Vec<_>>(),
        "order": order,
    });
    let mut cmd = python::command();
    cmd.arg("-c").arg(PY).env("TZ", tz_name);
    let Some(out) = python::pipe(&mut cmd, serde_json::to_vec(&spec).unwrap()) else {
        return;
    };
    let theirs: Vec<J> = serde_json::from_slice(&out).unwrap();
    assert_eq!(theirs.len(), order.len());

    let labels: Vec<String> = order
        .iter()
        .map(|(r, f)| format!("record {r} formatter {f}"))
        .collect();
    let check = |got: &[Result<String, String>], label: &str| {
        compare(label, &labels, got, &theirs, false);
    };
    check(&ours(&fs, &recs, &order), "one thread");

    // The same shared formatters on several threads at once: each thread's cache is its own.
    let fs = Arc::new(fs);
    let recs = Arc::new(recs);
    let shared_order = Arc::new(order.clone());
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (fs, recs, order) = (fs.clone(), recs.clone(), shared_order.clone());
            std::thread::spawn(move || ours(&fs, &recs, &order))
        })
        .collect();
    for t in threads {
        check(&t.join().unwrap(), "shared across threads");
    }
}

/// A formatter whose time settings change after it has formatted (`with_time_zone`,
/// `with_utc`) renders the same second with the new settings, not from the text cached
/// under the old ones.
#[test]
fn changed_time_settings_are_not_served_from_the_cache() {
    let mut r = LogRecord::new("app", 20, "/srv/web.py", 1, "hit");
    // 2023-11-14 22:13:20.250 UTC.
    r.created = 1_700_000_000.25;
    r.msecs = 250.0;
    let plus9 = TimeZone::fixed(jiff::tz::offset(9));
    let minus5 = TimeZone::fixed(jiff::tz::offset(-5));
    let f = Formatter::new(Some("%(asctime)s"), None, Style::Percent, false, vec![])
        .unwrap()
        .with_time_zone(plus9);
    assert_eq!(f.try_format(&r).unwrap(), "2023-11-15 07:13:20,250");
    let f = f.with_utc(true);
    assert_eq!(f.try_format(&r).unwrap(), "2023-11-14 22:13:20,250");
    let f = f.with_utc(false).with_time_zone(minus5);
    assert_eq!(f.try_format(&r).unwrap(), "2023-11-14 17:13:20,250");
}
