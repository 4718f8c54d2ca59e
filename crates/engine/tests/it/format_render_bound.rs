//! `strftime_max_len` and `Formatter::render_bound` are upper bounds: whatever the time and
//! the record, the rendered text is never longer (issue 13, item 10: a content policy caps
//! these bounds, so they must hold for every datefmt, not only the examples).

use logwire_engine::{Formatter, LogRecord, Style, gmtime, strftime, strftime_max_len};
use proptest::prelude::*;

const CONVERSIONS: &[&str] = &[
    "a", "A", "b", "B", "c", "C", "d", "D", "e", "F", "g", "G", "h", "H", "I", "j", "k", "l", "m",
    "M", "n", "p", "P", "r", "R", "s", "S", "t", "T", "u", "U", "V", "w", "W", "x", "X", "y", "Y",
    "z", "Z", "%", "+", "q", "Ec", "EY", "Od", "Oy", "Q",
];

fn datefmt() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ -~]{0,3}".prop_map(|s| s.replace('%', "")),
        (
            proptest::sample::select(vec!["", "_", "-", "0", "^", "#"]),
            proptest::option::of(0usize..80),
            proptest::sample::select(CONVERSIONS.to_vec()),
        )
            .prop_map(|(flag, w, c)| format!(
                "%{flag}{}{c}",
                w.map(|w| w.to_string()).unwrap_or_default()
            )),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn strftime_never_renders_more_than_max_len(
        fmt in datefmt(),
        secs in prop_oneof![Just(-62_135_596_800i64), Just(253_402_300_799i64), -1_000_000_000_000i64..1_000_000_000_000],
    ) {
        if let Some(tm) = gmtime(secs, &jiff::tz::TimeZone::UTC) {
            let out = strftime(&fmt, &tm);
            prop_assert!(out.len() <= strftime_max_len(&fmt), "{:?} rendered {} > {}", fmt, out.len(), strftime_max_len(&fmt));
        }
    }

    #[test]
    fn a_formatter_renders_at_most_fixed_plus_record_fields_times_the_record(
        fmt in proptest::collection::vec(proptest::sample::select(vec![
            "%(asctime)s", "%(message)s", "%(name)s", "%(levelname)-8s", "%(lineno)5d",
            "%(created)f", "%(msecs)03d", " ", "lit", "%(process)d", "%(message).10s",
        ]), 1..10).prop_map(|v| v.concat()),
        datefmt in proptest::option::of(datefmt()),
        msg in "[a-z]{0,50}",
    ) {
        let datefmt = datefmt.filter(|d| !d.is_empty());
        let Ok(f) = Formatter::new(Some(&fmt), datefmt.as_deref(), Style::Percent, false, vec![]) else {
            return Ok(());
        };
        let rec = LogRecord::new("a.logger.name", 20, "/path/to/file.py", 42, msg.clone());
        let out = f.format(&rec);
        let b = f.render_bound();
        // The longest text of the record here: its path, name or message, or a number (330).
        let s = 330usize;
        prop_assert!(out.len() <= b.fixed + b.record_fields * s, "{fmt:?}: {} > {b:?}", out.len());
    }
}

/// A JSON formatter (python-json-logger's) writes every extra attribute of the record besides
/// its format's fields, and JSON escapes a control character into six bytes: its bound must
/// cover a record whose extras are long runs of control characters.
#[test]
fn a_json_formatter_renders_at_most_its_bound_with_escaped_extras() {
    use logwire_engine::JsonOptions;
    let options = JsonOptions {
        rename_fields: vec![("levelname".into(), "level".into())],
        static_fields: vec![("service".into(), "api".into())],
        reserved_attrs: None,
        timestamp: Some("ts".into()),
        ensure_ascii: true,
        prefix: "json: ".into(),
    };
    let f = Formatter::json(
        Some("%(asctime)s %(levelname)s %(message)s %(name)s"),
        None,
        Style::Percent,
        true,
        options,
    )
    .unwrap();
    let s = 2000usize;
    let mut rec = LogRecord::new("a.logger", 20, "/p.py", 1, "\u{1}".repeat(s));
    for i in 0..20 {
        rec.set_extra(format!("k{i}"), "\u{1}\u{1f600}".repeat(s / 40));
    }
    let out = f.format(&rec);
    let b = f.render_bound();
    assert!(
        out.len() > 6 * s,
        "the escapes are in the output: {}",
        out.len()
    );
    assert!(
        out.len() <= b.fixed + b.record_fields * s,
        "{} > {b:?}",
        out.len()
    );
}

/// A datefmt whose widths could pass time.strftime's buffer is refused with the numbers,
/// as `FormatError::Datefmt` from the formatter.
#[test]
fn a_datefmt_that_would_render_empty_is_refused_with_its_bound() {
    let fmt = "%1000000Y";
    let e = logwire_engine::check_strftime(fmt).unwrap_err();
    assert_eq!(e.datefmt, fmt);
    assert!(e.bound >= e.limit, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "datefmt '{fmt}' can render {} characters, more than the {} time.strftime allows \
             (it would render an empty time): lower its field widths",
            e.bound, e.limit
        )
    );
    let refused = Formatter::new(None, Some(fmt), Style::Percent, false, vec![]).unwrap_err();
    assert_eq!(refused, logwire_engine::FormatError::Datefmt(e));
    assert!(logwire_engine::check_strftime("%Y-%m-%d %H:%M:%S").is_ok());
}
