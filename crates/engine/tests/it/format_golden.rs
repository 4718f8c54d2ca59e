//! Golden differential tests: the same inputs through CPython (`python3`, run at test time)
//! and through logwire, compared byte for byte.
//!
//! Skipped (with a message) when `python3` is not installed.

use crate::common;

use common::golden::{compare, float_hex};
use jiff::tz::TimeZone;
use logwire_engine::{
    Args, Formatter, LogRecord, Style, Value, format_message, gmtime, localtime, strftime,
};
use logwire_test_support::python;
use serde_json::{Value as J, json};

const PY: &str = r#"
import sys, json, struct, logging, time
def dec(t):
    k = t["t"]
    if k == "none": return None
    if k == "bool": return t["v"]
    if k == "int": return int(t["v"])
    if k == "float": return struct.unpack("<d", bytes.fromhex(t["v"]))[0]
    if k == "str": return t["v"]
    if k == "bytes": return bytes(t["v"])
    if k == "list": return [dec(x) for x in t["v"]]
    if k == "tuple": return tuple(dec(x) for x in t["v"])
    if k == "dict": return {dec(a): dec(b) for a, b in t["v"]}
def err(e):
    return {"err": type(e).__name__, "msg": str(e)}
def run(case):
    kind = case["kind"]
    try:
        if kind == "msg":
            args = case["args"]
            if args["t"] == "mapping":
                a = {k: dec(v) for k, v in args["v"]}
            else:
                a = tuple(dec(v) for v in args["v"])
            return {"ok": case["msg"] % a}
        if kind == "repr":
            v = dec(case["v"])
            return {"ok": [repr(v), str(v), ascii(v)]}
        if kind == "strftime":
            t = case["t"]
            tm = time.gmtime(t) if case["utc"] else time.localtime(t)
            return {"ok": time.strftime(case["fmt"], tm)}
        if kind == "format":
            r = logging.makeLogRecord({})
            d = {k: dec(v) for k, v in case["record"]}
            r.__dict__.update(d)
            defaults = {k: dec(v) for k, v in case["defaults"]} or None
            f = logging.Formatter(case["fmt"], case["datefmt"], case["style"], case["validate"], defaults=defaults)
            if case["utc"]:
                f.converter = time.gmtime
            return {"ok": f.format(r)}
    except Exception as e:
        return err(e)
cases = json.load(sys.stdin)
json.dump([run(c) for c in cases], sys.stdout)
"#;

fn python(cases: &[J], tz: Option<&str>) -> Option<Vec<J>> {
    let mut cmd = python::command();
    cmd.arg("-c").arg(PY);
    if let Some(tz) = tz {
        cmd.env("TZ", tz);
    }
    // A golden test that silently passes without its oracle tests nothing: python3 is on
    // every machine of this project, so its absence is a failure unless skipped on purpose.
    let out = python::pipe(&mut cmd, serde_json::to_vec(cases).unwrap())?;
    Some(serde_json::from_slice(&out).unwrap())
}

fn enc(v: &Value) -> J {
    match v {
        Value::None => json!({"t": "none"}),
        Value::Bool(b) => json!({"t": "bool", "v": b}),
        Value::Int(n) => json!({"t": "int", "v": n.to_string()}),
        Value::BigInt(s) => json!({"t": "int", "v": s}),
        Value::Float(x) => {
            json!({"t": "float", "v": float_hex(*x)})
        }
        Value::Str(s) => json!({"t": "str", "v": s}),
        Value::Bytes(b) => json!({"t": "bytes", "v": b}),
        Value::List(items) => json!({"t": "list", "v": items.iter().map(enc).collect::<Vec<_>>()}),
        Value::Tuple(items) => {
            json!({"t": "tuple", "v": items.iter().map(enc).collect::<Vec<_>>()})
        }
        Value::Dict(pairs) => {
            json!({"t": "dict", "v": pairs.iter().map(|(k, v)| json!([enc(k), enc(v)])).collect::<Vec<_>>()})
        }
        Value::Set(_) | Value::FrozenSet(_) | Value::Object(_) => {
            unreachable!("the golden cases use no sets or objects")
        }
    }
}

fn sample_values() -> Vec<Value> {
    vec![
        Value::None,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(42),
        Value::Int(-7),
        Value::Int(i64::MAX),
        Value::Int(i64::MIN),
        Value::Int(1234567),
        Value::Int(65),
        Value::BigInt("1180591620717411303424".into()),
        Value::BigInt("-98765432109876543210987654321".into()),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(1.0),
        Value::Float(-1.5),
        Value::Float(0.1),
        Value::Float(1e16),
        Value::Float(1e15),
        Value::Float(123456789.125),
        Value::Float(1e-5),
        Value::Float(0.0001),
        Value::Float(1.0 / 3.0),
        Value::Float(2.5),
        Value::Float(1e300),
        Value::Float(5e-324),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::NAN),
        Value::Float(414.0),
        Value::Float(999.9999),
        Value::Float(-0.0004),
        Value::Str(String::new()),
        Value::from("hello"),
        Value::from("it's"),
        Value::from("say \"hi\""),
        Value::from("both ' and \""),
        Value::from("tab\there\nnl\r\\"),
        Value::from("\x1b[31mred\x7f"),
        Value::from("héllo wörld ✓ 日本"),
        Value::from("\u{a0}\u{ad}\u{200b}\u{2028}\u{feff}\u{e000}"),
        Value::from("😀 emoji"),
        Value::from("x"),
        Value::Bytes(vec![0, b'a', b'\'', 0xff, b'\n', b'\\']),
        Value::Bytes(b"it's \"q\"".to_vec()),
        Value::List(vec![
            Value::from("a"),
            Value::Int(1),
            Value::None,
            Value::Float(2.0),
        ]),
        Value::List(vec![]),
        Value::Tuple(vec![Value::Int(1)]),
        Value::Tuple(vec![]),
        Value::Tuple(vec![Value::from("a"), Value::Bytes(vec![1])]),
        Value::Dict(vec![
            (Value::from("k"), Value::None),
            (Value::Int(1), Value::List(vec![Value::Bool(true)])),
        ]),
    ]
}

#[test]
fn golden_repr() {
    let values = sample_values();
    let cases: Vec<J> = values
        .iter()
        .map(|v| json!({"kind": "repr", "v": enc(v)}))
        .collect();
    let Some(theirs) = python(&cases, None) else {
        return;
    };
    let inputs: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    let ours: Vec<Result<String, String>> = values
        .iter()
        .map(|v| {
            Ok(serde_json::to_string(&json!([v.py_repr(), v.py_str(), v.py_ascii()])).unwrap())
        })
        .collect();
    let theirs: Vec<J> = theirs
        .into_iter()
        .map(|t| json!({"ok": serde_json::to_string(&t["ok"]).unwrap()}))
        .collect();
    compare("repr/str/ascii", &inputs, &ours, &theirs, true);
}

const PERCENT_SPECS: &[&str] = &[
    "s", "r", "a", "d", "i", "u", "x", "X", "o", "c", "e", "E", "f", "F", "g", "G", "5s", "-5s|",
    ".2s", "5.1s", "05d", "-05d", "+d", " d", "+ d", ".3d", "10.4d", "#x", "#X", "#o", "#010x",
    "-#10x|", "+.3x", "08.3f", ".0f", "#.0f", ".10e", "#.0e", ".3g", "#g", "#.3g", "+g", "010.2f",
    "-10.2f|", ".0g", "10c", "-3c|", "%", "ld", "hd", "010s", ".0s", "20r", ".1000f", "#5o",
];

#[test]
fn golden_msg_percent_args() {
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut inputs = Vec::new();
    let mut add = |msg: String, args: Args| {
        let args_j = match &args {
            Args::Mapping(m) => {
                json!({"t": "mapping", "v": m.iter().map(|(k, v)| json!([k, enc(v)])).collect::<Vec<_>>()})
            }
            Args::Tuple(v) => json!({"t": "tuple", "v": v.iter().map(enc).collect::<Vec<_>>()}),
            Args::None => unreachable!(),
        };
        inputs.push(format!("{msg:?} % {args:?}"));
        cases.push(json!({"kind": "msg", "msg": msg, "args": args_j}));
        ours.push(format_message(&msg, &args).map_err(|e| e.to_string()));
    };
    for v in sample_values() {
        for spec in PERCENT_SPECS {
            add(format!("<%{spec}>"), Args::Tuple(vec![v.clone()]));
        }
    }
    for (msg, args) in [
        ("%s %s", vec![Value::Int(1)]),
        ("%s", vec![Value::Int(1), Value::Int(2)]),
        ("%*d|", vec![Value::Int(5), Value::Int(3)]),
        ("%-*d|", vec![Value::Int(-5), Value::Int(3)]),
        ("%*d|", vec![Value::Int(-5), Value::Int(3)]),
        ("%.*f", vec![Value::Int(2), Value::Float(2.5625)]),
        (
            "%*.*f|",
            vec![Value::Int(9), Value::Int(2), Value::Float(2.5625)],
        ),
        ("%*d", vec![Value::from("x"), Value::Int(3)]),
        ("%c", vec![Value::from("ab")]),
        ("%c", vec![Value::Int(-1)]),
        ("%c", vec![Value::Int(0x110000)]),
        ("%z", vec![Value::Int(1)]),
        ("abc %", vec![Value::Int(1)]),
        ("%(a)s", vec![Value::Int(1)]),
        ("100%% %s", vec![Value::Int(1)]),
        ("%5%", vec![Value::Int(1)]),
        ("%é", vec![Value::Int(1)]),
        ("%s é %s", vec![Value::from("ü"), Value::Int(2)]),
    ] {
        add(msg.to_owned(), Args::Tuple(args));
    }
    let m = vec![
        ("a".to_owned(), Value::Int(1)),
        ("b".to_owned(), Value::from("x")),
    ];
    for msg in [
        "%(a)s %(b)s",
        "%(a)05d %(b)r",
        "%(c)s",
        "%s",
        "%(a)s %s",
        "%s %(a)s",
        "%(a)*d",
        "%(a",
        "%(a)",
        "%(a)s %%",
        "%(a)z",
        "%s %s",
        "%(a)-5d|%(b)5s",
    ] {
        add(msg.to_owned(), Args::Mapping(m.clone()));
    }
    let Some(theirs) = python(&cases, None) else {
        return;
    };
    compare("msg % args", &inputs, &ours, &theirs, true);
}

fn base_record() -> LogRecord {
    let mut r = LogRecord::new("app.db", 30, "/srv/app/db.py", 120, "disk %d%% full on %s");
    r.args = Args::Tuple(vec![Value::Int(93), Value::from("/var")]);
    r.func_name = Some("check".into());
    r.set_created(1_763_712_180.123_456);
    r.msecs = 123.0;
    r.relative_created = 1234.5678;
    r.thread = Some(140_245_123_456);
    r.thread_name = Some("MainThread".into());
    r.process = Some(4242);
    r.task_name = None;
    r.set_extra("user", "alice");
    r.set_extra("count", Value::Int(-12345));
    r.set_extra("ratio", Value::Float(0.125));
    r.set_extra(
        "big",
        Value::BigInt("123456789012345678901234567890".into()),
    );
    r.set_extra("flag", Value::Bool(true));
    r.set_extra("nothing", Value::None);
    r.set_extra("blob", Value::Bytes(vec![0, 1, b'a']));
    r.set_extra("items", Value::List(vec![Value::from("a"), Value::Int(1)]));
    r.set_extra("pair", Value::Tuple(vec![Value::Int(1)]));
    r.set_extra("map", Value::Dict(vec![(Value::from("k"), Value::None)]));
    r.set_extra("w", Value::Int(12));
    r.set_extra("p", Value::Int(3));
    r.set_extra("uni", Value::from("naïve ☃"));
    r
}

fn record_json(r: &LogRecord) -> J {
    let mut fields = vec![];
    // Every attribute the record carries itself; exc_info is sent as exc_text (as
    // SocketHandler does) and message/asctime are made by formatting.
    for key in logwire_engine::STANDARD_ATTRIBUTES
        .iter()
        .filter(|k| !matches!(**k, "exc_info" | "message" | "asctime"))
    {
        fields.push(json!([key, enc(&r.attribute(key).unwrap())]));
    }
    for (k, v) in &r.extra {
        fields.push(json!([k, enc(v)]));
    }
    // CPython's args are a tuple or a dict; attribute() gives exactly those shapes.
    J::Array(fields)
}

struct FmtCase {
    fmt: String,
    datefmt: Option<String>,
    style: Style,
    record: LogRecord,
    defaults: Vec<(String, Value)>,
}

fn run_format_cases(what: &str, cases_in: Vec<FmtCase>, tz: &str) {
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut inputs = Vec::new();
    let zone = TimeZone::get(tz).unwrap();
    for c in &cases_in {
        for utc in [false, true] {
            inputs.push(format!(
                "{:?} style {:?} datefmt {:?} utc {utc}",
                c.fmt, c.style, c.datefmt
            ));
            cases.push(json!({
                "kind": "format", "fmt": c.fmt, "datefmt": c.datefmt, "style": c.style.symbol(),
                "validate": false, "utc": utc, "record": record_json(&c.record),
                "defaults": c.defaults.iter().map(|(k, v)| json!([k, enc(v)])).collect::<Vec<_>>(),
            }));
            let f = Formatter::new(
                Some(&c.fmt),
                c.datefmt.as_deref(),
                c.style,
                false,
                c.defaults.clone(),
            )
            .map(|f| f.with_time_zone(zone.clone()).with_utc(utc));
            ours.push(match f {
                Ok(f) => f.try_format(&c.record).map_err(|e| e.to_string()),
                Err(e) => Err(format!("construction: {e}")),
            });
        }
    }
    let Some(theirs) = python(&cases, Some(tz)) else {
        return;
    };
    compare(what, &inputs, &ours, &theirs, false);
}

#[test]
fn golden_formatter_records() {
    let r = base_record();
    let mut cases = Vec::new();
    let mut add = |fmt: &str, style: Style, datefmt: Option<&str>| {
        cases.push(FmtCase {
            fmt: fmt.into(),
            datefmt: datefmt.map(Into::into),
            style,
            record: r.clone(),
            defaults: vec![
                ("missing".into(), Value::from("dflt")),
                ("user".into(), Value::from("shadowed")),
            ],
        });
    };
    for fmt in [
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        "%(asctime)s,%(msecs)03d %(levelname)-8s [%(threadName)s] %(module)s:%(funcName)s:%(lineno)d %(message)s",
        "%(levelno)5d|%(name)-15s|%(name).3s|%(created)f|%(relativeCreated)10.2f|%(msecs)d",
        "%(process)d %(processName)s %(thread)x %(pathname)s %(filename)s",
        "%(user)s %(count)d %(ratio)s %(ratio).1f %(big)d %(big)x %(flag)s %(flag)d %(nothing)s",
        "%(blob)s %(blob)r %(items)s %(pair)s %(map)s %(uni)r %(uni)a %(user)r",
        "%(missing)s %(user)s %(args)s %(msg)s %(exc_info)s %(stack_info)s %(taskName)s",
        "%(count)+08d %(count)x %(count)#o %(ratio)e %(ratio)g %(big)e %(count)c",
        "[%(message)s] 100%%",
        "%(message)s %s",
        "%(asctime)*s",
        "%(levelname)s %(nope)s",
    ] {
        add(fmt, Style::Percent, None);
    }
    for fmt in [
        "{asctime} {levelname} {name}: {message}",
        "{levelname:<8}|{levelname:>8}|{levelname:^9}|{levelname:*^9}|{levelname!r}|{levelname!a:>12}|{uni!a}",
        "{levelno:05d} {levelno:x} {levelno:#b} {levelno:+} {levelno: } {count:,} {count:_} {big:,} {big:_x}",
        "{ratio} {ratio:.2f} {ratio:10.3e} {ratio:%} {ratio:.1%} {ratio:g} {ratio:.3} {created:.3f} {msecs:03.0f}",
        "{flag} {flag:d} {flag:>5} {nothing} {nothing!r} {blob} {items} {pair} {map} {items!s:>20}",
        "{count:=+10} {count:010} {count:010,} {big:040,} {ratio:010.4f} {ratio:z.1f} {levelno:c}",
        "{message:{w}.{p}} {ratio:{w}.{p}f} {user:{w}}|",
        "{missing} {user}",
        "{user:d}",
        "{nothing:>5}",
        "{levelno:.2}",
        "{{literal}} {message}",
    ] {
        add(fmt, Style::Brace, None);
    }
    for fmt in [
        "$asctime $levelname ${name}: $message",
        "$$ ${user}x $count $ratio $items $missing $nothing",
        "$nope",
    ] {
        add(fmt, Style::Dollar, None);
    }
    for datefmt in [
        "%Y-%m-%dT%H:%M:%S%z",
        "%d/%b/%Y:%H:%M:%S %Z",
        "%c",
        "%s %j %U %a %-d %_H %f %",
    ] {
        add("%(asctime)s %(message)s", Style::Percent, Some(datefmt));
    }
    // exc_text and stack_info.
    let mut r2 = base_record();
    r2.exc_text = Some("Traceback (most recent call last):\n  boom\nValueError: x".into());
    r2.stack_info = Some("Stack (most recent call last):\n  here".into());
    cases.push(FmtCase {
        fmt: "%(message)s".into(),
        datefmt: None,
        style: Style::Percent,
        record: r2.clone(),
        defaults: vec![],
    });
    r2.msg = "ends\n".into();
    r2.args = Args::None;
    cases.push(FmtCase {
        fmt: "%(message)s".into(),
        datefmt: None,
        style: Style::Percent,
        record: r2,
        defaults: vec![],
    });
    // Mapping args and msecs/created edge values.
    let mut r3 = base_record();
    r3.msg = "less is %(less)s".into();
    r3.args = Args::Mapping(vec![("less".into(), Value::from("more"))]);
    r3.set_created(-1.5);
    r3.msecs = 500.0;
    cases.push(FmtCase {
        fmt: "%(asctime)s %(message)s".into(),
        datefmt: None,
        style: Style::Percent,
        record: r3,
        defaults: vec![],
    });
    for tz in ["UTC", "America/New_York", "Asia/Kolkata"] {
        let cases = cases
            .iter()
            .map(|c| FmtCase {
                fmt: c.fmt.clone(),
                datefmt: c.datefmt.clone(),
                style: c.style,
                record: c.record.clone(),
                defaults: c.defaults.clone(),
            })
            .collect();
        run_format_cases(&format!("Formatter.format in {tz}"), cases, tz);
    }
}

/// Every field spec on every sample value, through a `%` and a `{` formatter.
#[test]
fn golden_field_specs() {
    let brace_specs = [
        "", "s", "d", "x", "X", "b", "o", "c", "n", "e", "E", "f", "F", "g", "G", "%", ">10",
        "<10", "^10", "*^11", "=+10", "010", "010,", "+", " ", "-", ",", "_", "_x", "#x", "#o",
        "#b", ".3", ".3f", ".0e", "#.0f", "10.3g", ",.2f", "z.2f", "z", "#", "0<5", ".2%", ",d",
        ",x", "+c", ".2s", "10.2", "x<12,", "_b", "#_x", "020_",
    ];
    let mut cases = Vec::new();
    let mut record = base_record();
    record.extra.clear();
    for (i, v) in sample_values().into_iter().enumerate() {
        record.set_extra(format!("v{i}"), v);
    }
    let n = record.extra.len();
    for i in 0..n {
        for spec in &brace_specs {
            let fmt = if spec.is_empty() {
                format!("<{{v{i}}}>")
            } else {
                format!("<{{v{i}:{spec}}}>")
            };
            cases.push(FmtCase {
                fmt,
                datefmt: None,
                style: Style::Brace,
                record: record.clone(),
                defaults: vec![],
            });
        }
        for conv in ["r", "s", "a"] {
            let fmt = format!("<{{v{i}!{conv}:>8}}>");
            cases.push(FmtCase {
                fmt,
                datefmt: None,
                style: Style::Brace,
                record: record.clone(),
                defaults: vec![],
            });
        }
        for spec in PERCENT_SPECS.iter().filter(|s| **s != "%") {
            let fmt = format!("<%(v{i}){spec}>");
            cases.push(FmtCase {
                fmt,
                datefmt: None,
                style: Style::Percent,
                record: record.clone(),
                defaults: vec![],
            });
        }
    }
    // Keep the record small for python: only the fields, no time-dependent output.
    run_format_cases("field specs", cases, "UTC");
}

#[test]
fn golden_strftime() {
    let fmts = [
        "%a %A %b %B %c %C %d %D %e %F %g %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%",
        "%-d %_d %0e %-e %-H %_H %-I %_M %-m %-j %_j %4Y %10Y %-10Y| %_10Y %010Y %2Y %^a %^A %^b %#a %#A %#b %#B %#p %#Z %^p %^Z %^P %#P",
        "%Ec %EC %Ex %EX %Ey %EY %Od %Oe %OH %OI %Om %OM %OS %Ou %OU %OV %Ow %OW %Oy %Ob %OB %Oh %OY %Ed %OQ %Ej",
        "%f %Q %5Q %-5Q %q %v %i %J %K %L %N %o %+ %:z %5z %-z %_z %010z %^10c %30c %5%|%-5%|%_5n",
        "%10s %-s %_10s %^s %3j %-3U %_5V %12F %^12F %10D %-10T %_10R %20r %^x %^X",
        "trailing %",
        "trailing %-",
        "trailing %5",
        "trailing %E",
        "ünï %Y ☃ %ü %",
        "",
        "%5000Y",
        "%1000Y%1000Y%1000Y",
    ];
    let times: [i64; 16] = [
        0,
        -1,
        -86_400 * 365 * 30,
        735_379_380,
        1_000_000_000,
        1_700_000_000,
        1_710_054_000, // 2024-03-10 07:00 UTC: New York DST starts (02:00 local)
        1_710_053_999,
        1_730_613_600,  // 2024-11-03 06:00 UTC: New York DST ends
        1_730_610_000,  // inside the repeated hour
        1_704_067_199,  // 2023-12-31 23:59:59 (ISO week edge)
        1_704_067_200,  // 2024-01-01
        1_735_603_200,  // 2024-12-31 (ISO week 1 of 2025)
        951_782_400,    // 2000-02-29
        4_102_444_800,  // 2100-01-01
        -2_208_988_800, // 1900-01-01
    ];
    for tz in [
        "UTC",
        "America/New_York",
        "Asia/Kolkata",
        "Europe/London",
        "Australia/Lord_Howe",
    ] {
        let zone = TimeZone::get(tz).unwrap();
        let mut cases = Vec::new();
        let mut ours = Vec::new();
        let mut inputs = Vec::new();
        for t in times {
            for fmt in fmts {
                for utc in [false, true] {
                    inputs.push(format!("{fmt:?} t={t} utc={utc}"));
                    cases.push(json!({"kind": "strftime", "fmt": fmt, "t": t, "utc": utc}));
                    let tm = if utc {
                        gmtime(t, &zone)
                    } else {
                        localtime(t, &zone)
                    }
                    .unwrap();
                    ours.push(Ok(strftime(fmt, &tm)));
                }
            }
        }
        let Some(theirs) = python(&cases, Some(tz)) else {
            return;
        };
        compare(&format!("strftime in {tz}"), &inputs, &ours, &theirs, true);
    }
}
