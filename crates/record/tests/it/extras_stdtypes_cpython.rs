//! Issue 16 item 5: extras of the allow-listed standard-library value types (datetime, date,
//! time, timedelta, timezone, Decimal, UUID) and sets arrive as what CPython's receiver would
//! print, not as placeholders. Differential against CPython at every pickle protocol 0–5:
//! Python pickles a record dict holding each value (as `SocketHandler.makePickle` does, with
//! the protocol varied), unpickles it again and prints `str()` and `repr()` of what it got;
//! logwire maps the same bytes (nothing constructed, no global resolved) and must print the
//! same, at the top level and inside a list and a dict. Values outside the allow-list stay
//! placeholders.

use logwire_record::{Format, MapLimits, RecordMapper};
use logwire_test_support::python;

const SCRIPT: &str = r#"
import datetime as dt, decimal, json, logging, pickle, sys, uuid
tz = dt.timezone
values = {
    "dt_naive": dt.datetime(2026, 12, 7, 10, 0),
    "dt_seconds": dt.datetime(1999, 1, 2, 3, 4, 5),
    "dt_micro": dt.datetime(2026, 2, 28, 23, 59, 59, 123),
    "dt_utc": dt.datetime(2026, 12, 7, 10, 0, tzinfo=tz.utc),
    "dt_offset": dt.datetime(2026, 12, 7, 10, 0, 1, 5, tzinfo=tz(dt.timedelta(hours=-5, minutes=-30))),
    "dt_named": dt.datetime(2026, 12, 7, 10, 0, tzinfo=tz(dt.timedelta(hours=1), "CET")),
    "dt_fold": dt.datetime(2026, 11, 1, 1, 30, fold=1),
    "dt_min": dt.datetime.min,
    "dt_max": dt.datetime.max,
    "date": dt.date(2026, 12, 7),
    "date_leap": dt.date(2024, 2, 29),
    "time": dt.time(10, 0),
    "time_s": dt.time(1, 2, 3),
    "time_us": dt.time(1, 2, 3, 4),
    "time_tz": dt.time(23, 59, tzinfo=tz(dt.timedelta(seconds=5445, microseconds=7))),
    "time_fold": dt.time(1, 2, fold=1),
    "td_zero": dt.timedelta(0),
    "td": dt.timedelta(days=1, seconds=5, microseconds=3),
    "td_neg": dt.timedelta(microseconds=-1),
    "td_days": dt.timedelta(days=-2),
    "td_big": dt.timedelta(days=999999999, hours=23),
    "tz_utc": tz.utc,
    "tz_zero_named": tz(dt.timedelta(0), "Z"),
    "tz_neg": tz(dt.timedelta(hours=-3)),
    "tz_named": tz(dt.timedelta(hours=5, minutes=45), "Asia/Kathmandu"),
    "tz_quote": tz(dt.timedelta(hours=1), "it's"),
    "dec": decimal.Decimal("3.14"),
    "dec_exp": decimal.Decimal("1E+3"),
    "dec_neg_zero": decimal.Decimal("-0.00"),
    "dec_nan": decimal.Decimal("NaN"),
    "dec_inf": decimal.Decimal("-Infinity"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "uuid_small": uuid.UUID(int=5),
    "uuid_max": uuid.UUID(int=2**128 - 1),
    "set": {3},
    "set_empty": set(),
    "set_ints": {1, 2, 3},
    "frozen": frozenset({"a"}),
    "frozen_empty": frozenset(),
    "path_is_opaque": __import__("pathlib").PurePosixPath("/x"),
}
out = []
for proto in range(6):
    r = logging.makeLogRecord({"name": "app", "msg": "m", "levelno": 20, "levelname": "INFO"})
    d = dict(r.__dict__)
    for k, v in values.items():
        d[k] = v
        d[k + "_in_list"] = [v]
        d[k + "_in_dict"] = {"k": v}
    data = pickle.dumps(d, proto)
    back = pickle.loads(data)
    texts = {}
    for k in d:
        if k in values or k.endswith("_in_list") or k.endswith("_in_dict"):
            texts[k] = [str(back[k]), repr(back[k])]
    out.append({"proto": proto, "hex": data.hex(), "texts": texts})
print(json.dumps(out))
"#;

#[test]
fn stdlib_value_extras_print_as_cpython_at_every_protocol() {
    let Some(out) = python::output(&mut python::script(SCRIPT, [""; 0])) else {
        return;
    };
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut mapper = RecordMapper::new(MapLimits::default());
    let mut compared = 0;
    for run in runs.as_array().unwrap() {
        let proto = run["proto"].as_u64().unwrap();
        let bytes = hex(run["hex"].as_str().unwrap());
        let record = mapper
            .map(&bytes, Format::Pickle)
            .unwrap_or_else(|e| panic!("protocol {proto}: {e}"));
        for (key, texts) in run["texts"].as_object().unwrap() {
            let want_str = texts[0].as_str().unwrap();
            let want_repr = texts[1].as_str().unwrap();
            let got = record
                .extra(key)
                .unwrap_or_else(|| panic!("protocol {proto}: no extra {key}"));
            if key.starts_with("path_is_opaque") {
                // Not on the allow-list: still a placeholder, never resolved.
                assert!(
                    got.py_str().contains("<pathlib.PurePosixPath>"),
                    "protocol {proto} {key}: {}",
                    got.py_str()
                );
                continue;
            }
            assert_eq!(got.py_str(), want_str, "protocol {proto} {key}: str()");
            assert_eq!(got.py_repr(), want_repr, "protocol {proto} {key}: repr()");
            compared += 1;
        }
    }
    // 39 values × 3 placements × 6 protocols.
    assert_eq!(compared, 39 * 3 * 6);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
