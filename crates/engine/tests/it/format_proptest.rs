//! Property tests: no format string, message or value makes formatting panic, and output
//! stays bounded by the width/precision caps.

use logwire_engine::{
    Args, Formatter, LogRecord, MAX_WIDTH, Style, Value, format_message, gmtime, strftime,
};
use proptest::prelude::*;

/// Characters that matter to the three styles, plus a few others.
const ALPHABET: &[char] = &[
    '%', '(', ')', '{', '}', '$', '!', ':', '.', ',', '_', '-', '+', ' ', '#', '0', '1', '4', '9',
    '*', 's', 'd', 'r', 'a', 'x', 'X', 'f', 'e', 'g', 'G', 'c', 'z', 'n', 'b', 'o', '<', '>', '=',
    '^', '[', ']', 'E', 'O', 'Y', 'm', 'H', 'S', 'Z', 'é', '☃',
];

const NAMES: &[&str] = &[
    "message", "asctime", "name", "levelno", "msecs", "created", "v0", "v1", "v2", "v3", "v4",
    "v5", "v6", "v7", "v8", "w", "missing", "args", "thread",
];

fn fmt_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        proptest::sample::select(ALPHABET).prop_map(|c| c.to_string()),
        proptest::sample::select(NAMES).prop_map(|n| n.to_string()),
        (
            proptest::sample::select(NAMES),
            "[-+ #0]{0,3}[0-9]{0,5}(\\.[0-9]{0,5})?[a-zA-Z%]"
        )
            .prop_map(|(n, s)| format!("%({n}){s}")),
        (
            proptest::sample::select(NAMES),
            "(![rsaZ])?(:[<>=^]?[-+ ]?z?#?0?[0-9]{0,5}[,_]?(\\.[0-9]{0,5})?[a-zA-Z%]?)?"
        )
            .prop_map(|(n, s)| format!("{{{n}{s}}}")),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "-?[1-9][0-9]{18,60}".prop_map(Value::BigInt),
        any::<f64>().prop_map(Value::Float),
        ".{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            proptest::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Dict),
        ]
    })
}

fn record(values: &[Value], created: f64) -> LogRecord {
    let mut r = LogRecord::new("prop", 20, "/p.py", 1, "msg %s");
    r.args = Args::Tuple(vec![Value::Int(1)]);
    r.set_created(created);
    for (i, v) in values.iter().enumerate() {
        r.set_extra(format!("v{i}"), v.clone());
    }
    r.set_extra("w", Value::Int(7));
    r
}

/// Generous bound: every byte of the format could become one capped field.
fn bound(fmt_len: usize, values: &[Value]) -> usize {
    let values_len: usize = values.iter().map(|v| v.py_repr().len() * 6 + 64).sum();
    (fmt_len + 1) * (MAX_WIDTH * 4 + 400) + values_len * (fmt_len + 1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn formatter_never_panics(
        fmt in fmt_strategy(),
        datefmt in proptest::option::of("[%a-zA-Z0-9_^#:-]{0,12}"),
        style in 0..3usize,
        validate in any::<bool>(),
        utc in any::<bool>(),
        values in proptest::collection::vec(value_strategy(), 9),
        created in prop_oneof![any::<f64>(), -1e10f64..4e9],
    ) {
        let style = [Style::Percent, Style::Brace, Style::Dollar][style];
        if let Ok(f) = Formatter::new(Some(&fmt), datefmt.as_deref(), style, validate, vec![]) {
            let f = f.with_utc(utc);
            let r = record(&values, created);
            let out = f.format(&r);
            prop_assert!(out.len() <= bound(fmt.len() + datefmt.map_or(0, |d| d.len() * 64), &values));
            let _ = f.try_format(&r);
        }
    }

    #[test]
    fn format_message_never_panics(
        msg in fmt_strategy(),
        args in proptest::collection::vec(value_strategy(), 0..4),
        mapping in any::<bool>(),
    ) {
        let args = if mapping {
            Args::Mapping(args.into_iter().enumerate().map(|(i, v)| (NAMES[i % NAMES.len()].to_owned(), v)).collect())
        } else {
            Args::Tuple(args)
        };
        if let Ok(out) = format_message(&msg, &args) {
            let vals: Vec<Value> = match &args {
                Args::Tuple(v) => v.clone(),
                Args::Mapping(m) => m.iter().map(|(_, v)| v.clone()).collect(),
                Args::None => vec![],
            };
            let whole = Value::List(vals.clone());
            prop_assert!(out.len() <= bound(msg.len(), &[whole]) + bound(msg.len(), &vals));
        }
    }

    #[test]
    fn strftime_never_panics(fmt in "[%a-zA-Z0-9_^#:+ -]{0,24}", t in -300_000_000_000i64..250_000_000_000) {
        if let Some(tm) = gmtime(t, &jiff::tz::TimeZone::UTC) {
            let out = strftime(&fmt, &tm);
            let limit = (256 * fmt.chars().count()).max(1024).next_power_of_two() * 2;
            prop_assert!(out.chars().count() < limit);
        }
    }

    #[test]
    fn repr_never_panics(v in value_strategy()) {
        let _ = (v.py_repr(), v.py_str(), v.py_ascii());
    }
}

#[test]
fn huge_strftime_width_is_bounded() {
    let tm = gmtime(0, &jiff::tz::TimeZone::UTC).unwrap();
    assert_eq!(strftime("%2147483647Y", &tm), "");
    assert_eq!(strftime("%99999999999999999999Y", &tm), "");
}

#[test]
fn deep_values_do_not_overflow_the_stack() {
    let mut v = Value::Int(1);
    for _ in 0..10_000 {
        v = Value::List(vec![v]);
    }
    let s = v.py_repr();
    assert!(s.len() < 1000);
}
