//! CPython's `FormatterTest` and `LogRecordTest.test_dict_arg` (Lib/test/test_logging.py),
//! ported.

use logwire_engine::{Args, FormatError, Formatter, LogRecord, Style, Value};

fn record() -> LogRecord {
    let mut r = LogRecord::new(
        "formatter.test",
        10,
        "path/to/dummy.ext",
        42,
        "Message with %d %s",
    );
    r.args = Args::Tuple(vec![Value::Int(2), Value::from("placeholders")]);
    r
}

fn custom_record() -> LogRecord {
    let mut r = record();
    r.set_extra("custom", Value::Int(1234));
    r
}

fn f(fmt: &str, style: &str) -> Result<Formatter, FormatError> {
    Formatter::new(
        Some(fmt),
        None,
        Style::from_symbol(style).unwrap(),
        true,
        vec![],
    )
}

#[test]
fn test_percent() {
    let r = record();
    assert_eq!(
        f("${%(message)s}", "%").unwrap().format(&r),
        "${Message with 2 placeholders}"
    );
    let fr = f("%(random)s", "%").unwrap();
    assert_eq!(
        fr.try_format(&r),
        Err(FormatError::FieldNotFound("'random'".into()))
    );
    assert_eq!(
        fr.try_format(&r).unwrap_err().to_string(),
        "Formatting field not found in record: 'random'"
    );
    assert!(!fr.uses_time());
    assert!(f("%(asctime)s", "%").unwrap().uses_time());
    assert!(f("%(asctime)-15s", "%").unwrap().uses_time());
    assert!(f("%(asctime)#15s", "%").unwrap().uses_time());
}

#[test]
fn test_braces() {
    let r = record();
    assert_eq!(
        f("$%{message}%$", "{").unwrap().format(&r),
        "$%Message with 2 placeholders%$"
    );
    assert!(matches!(
        f("{random}", "{").unwrap().try_format(&r),
        Err(FormatError::FieldNotFound(_))
    ));
    assert!(!f("{message}", "{").unwrap().uses_time());
    assert!(f("{asctime}", "{").unwrap().uses_time());
    assert!(f("{asctime!s:15}", "{").unwrap().uses_time());
    assert!(f("{asctime:15}", "{").unwrap().uses_time());
}

#[test]
fn test_dollars() {
    let r = record();
    assert_eq!(
        f("${message}", "$").unwrap().format(&r),
        "Message with 2 placeholders"
    );
    assert_eq!(
        f("$message", "$").unwrap().format(&r),
        "Message with 2 placeholders"
    );
    assert_eq!(
        f("$$%${message}%$$", "$").unwrap().format(&r),
        "$%Message with 2 placeholders%$"
    );
    let fr = f("${random}", "$").unwrap();
    assert!(matches!(
        fr.try_format(&r),
        Err(FormatError::FieldNotFound(_))
    ));
    assert!(!fr.uses_time());
    assert!(f("${asctime}", "$").unwrap().uses_time());
    assert!(f("$asctime", "$").unwrap().uses_time());
    assert!(!f("${message}", "$").unwrap().uses_time());
    assert!(f("${asctime}--", "$").unwrap().uses_time());
}

#[test]
fn test_format_validate_valid() {
    for (fmt, style) in [
        (
            "%(levelname)-15s - %(message) 5s - %(process)03d - %(module) - %(asctime)*.3s",
            "%",
        ),
        ("%(asctime)*s - %(asctime)*.3s - %(process)-34.33o", "%"),
        ("%(process)#+027.23X", "%"),
        ("%(foo)#.*g", "%"),
        ("{customfield!s:#<30}", "{"),
        ("{message!r}", "{"),
        ("{message!s}", "{"),
        ("{message!a}", "{"),
        ("{process!r:4.2}", "{"),
        (
            "{process!s:<#30,.12f}- {custom:=+#30,.1d} - {module:^30}",
            "{",
        ),
        ("{process!s:{w},.{p}}", "{"),
        ("{foo:12.{p}}", "{"),
        ("{foo:{w}.6}", "{"),
        ("${asctime} - $message", "$"),
        ("$bar $$", "$"),
        ("$bar $$$$", "$"),
    ] {
        let fo = f(fmt, style).unwrap_or_else(|e| panic!("{fmt:?} rejected: {e}"));
        assert_eq!(fo.fmt_str(), fmt);
    }
}

/// CPython accepts these; logwire rejects attribute and index traversal on purpose.
#[test]
fn test_format_validate_traversal_rejected() {
    for fmt in [
        "$%{message}%$ - {asctime!a:15} - {customfield['key']}",
        "{process:.2f} - {custom.f:.4f}",
        "{foo[0].bar[1].baz}",
        "{foo[k1].bar[k2].baz}",
        "{12[k1].bar[k2].baz}",
    ] {
        let e = f(fmt, "{").unwrap_err();
        assert!(e.to_string().contains("not supported"), "{fmt}: {e}");
    }
}

#[test]
fn test_format_validate_invalid() {
    for fmt in [
        "%(asctime)Z",
        "%(asctime)b",
        "%(asctime)*",
        "%(asctime)*3s",
        "%(asctime)_",
        "{asctime}",
        "${message}",
        "%(foo)#12.3*f",
        "%(foo)0*.8*f",
    ] {
        assert!(
            matches!(f(fmt, "%"), Err(FormatError::InvalidPercentFormat(_))),
            "{fmt} accepted"
        );
    }
    let msg = |fmt: &str, style: &str| f(fmt, style).unwrap_err().to_string();
    assert_eq!(
        msg("{name-thing}", "{"),
        "invalid format: invalid field name/expression: 'name-thing'"
    );
    assert_eq!(msg("%(asctime)s", "{"), "invalid format: no fields");
    assert!(f("{asctime!s:#30,15f}", "{").is_err());
    assert_eq!(
        msg("{asctime!aa:15}", "{"),
        "invalid format: expected ':' after conversion specifier"
    );
    assert_eq!(
        msg("{process:.2ff}", "{"),
        "invalid format: bad specifier: '.2ff'"
    );
    for fmt in [
        "{process:.2Z}",
        "{process!s:<##30,12g}",
        "{process!s:<#30#,12g}",
        "{process!s:{{w}},{{p}}}",
        "{{foo!r:4.2}",
        "{{foo!r:4.2}}",
        "{foo/bar}",
        "{foo:{{w}}.{{p}}}}",
        "{foo!X:{{w}}.{{p}}}",
        "{foo!a:random}",
        "{foo!a:ran{dom}",
        "{foo!a:ran{d}om}",
        "{foo.!a:d}",
    ] {
        assert!(f(fmt, "{").is_err(), "{fmt} accepted");
    }
    assert_eq!(
        msg("{process", "{"),
        "invalid format: expected '}' before end of string"
    );
    assert_eq!(
        msg("process}", "{"),
        "invalid format: Single '}' encountered in format string"
    );
    assert_eq!(msg("$bar $$$", "$"), "invalid format: bare '$' not allowed");
    assert_eq!(msg("bar $", "$"), "invalid format: bare '$' not allowed");
    assert_eq!(msg("foo $.", "$"), "invalid format: bare '$' not allowed");
    assert_eq!(msg("{asctime}", "$"), "invalid format: no fields");
    assert!(f("%(asctime)s", "$").is_err());
    assert_eq!(msg("foo", "$"), "invalid format: no fields");
    assert!(f("${asctime", "$").is_err());
}

#[test]
fn test_invalid_conversion_without_validate() {
    let e = Formatter::new(Some("{x!Z}"), None, Style::Brace, false, vec![]).unwrap_err();
    assert_eq!(e.to_string(), "invalid format: invalid conversion: 'Z'");
}

#[test]
fn test_defaults_parameter() {
    for (fmt, style) in [
        ("%(custom)s %(message)s", "%"),
        ("{custom} {message}", "{"),
        ("$custom $message", "$"),
    ] {
        let st = Style::from_symbol(style).unwrap();
        let defaults = vec![("custom".to_owned(), Value::from("Default"))];
        let fo = Formatter::new(Some(fmt), None, st, true, defaults).unwrap();
        assert_eq!(fo.format(&record()), "Default Message with 2 placeholders");
        assert_eq!(
            fo.format(&custom_record()),
            "1234 Message with 2 placeholders"
        );
        let fo = Formatter::new(Some(fmt), None, st, true, vec![]).unwrap();
        assert!(matches!(
            fo.try_format(&record()),
            Err(FormatError::FieldNotFound(_))
        ));
        let defaults = vec![("Non-existing".to_owned(), Value::from("Default"))];
        let fo = Formatter::new(Some(fmt), None, st, true, defaults).unwrap();
        assert_eq!(
            fo.format(&custom_record()),
            "1234 Message with 2 placeholders"
        );
    }
}

#[test]
fn test_invalid_style() {
    assert!(Style::from_symbol("x").is_err());
    assert!(
        Style::from_symbol("x")
            .unwrap_err()
            .to_string()
            .starts_with("Style must be one of: %,{,$")
    );
}

#[test]
fn test_time() {
    let mut r = record();
    r.set_created(735379380.0); // 1993-04-21 08:03:00 UTC
    r.msecs = 123.0;
    let fo = Formatter::new(
        Some("%(asctime)s %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap()
    .with_utc(true);
    assert_eq!(fo.format_time(&r, None), "1993-04-21 08:03:00,123");
    assert_eq!(fo.format_time(&r, Some("%Y:%d")), "1993:21");
    assert_eq!(
        fo.format(&r),
        "1993-04-21 08:03:00,123 Message with 2 placeholders"
    );
}

/// CPython's `default_msec_format = None` with a custom `default_time_format` is a
/// `datefmt` in logwire.
#[test]
fn test_default_msec_format_none() {
    let mut r = record();
    r.set_created(735379380.0);
    let fo = Formatter::new(
        None,
        Some("%d/%m/%Y %H:%M:%S"),
        Style::Percent,
        true,
        vec![],
    )
    .unwrap()
    .with_utc(true);
    assert_eq!(fo.format_time(&r, fo.datefmt()), "21/04/1993 08:03:00");
}

/// gh-89047: msecs never prints as 1000.
#[test]
fn test_issue_89047_msecs_precision() {
    let fo = Formatter::new(
        Some("{asctime}.{msecs:03.0f} {message}"),
        Some("%Y-%m-%d %H:%M:%S"),
        Style::Brace,
        true,
        vec![],
    )
    .unwrap();
    for i in 0..2500 {
        let mut r = LogRecord::new("", 20, "", 0, format!("Message {}", i + 1));
        r.set_created(1_700_000_000.0 + f64::from(i) * 0.000_4 + 0.9995);
        let s = fo.format(&r);
        assert!(!s.contains(".1000"), "{s}");
    }
}

#[test]
fn test_dict_arg() {
    let mut r = LogRecord::new("root", 30, "", 0, "less is %(less)s");
    r.args = Args::Mapping(vec![("less".into(), Value::from("more"))]);
    assert_eq!(r.get_message(), "less is more");
    assert_eq!(Formatter::default().format(&r), "less is more");
}

#[test]
fn test_exc_text_and_stack() {
    let mut r = LogRecord::new("x", 40, "", 0, "failed");
    r.exc_text =
        Some("Traceback (most recent call last):\nRuntimeError: deliberate mistake".into());
    r.stack_info = Some("Stack (most recent call last):\n  frame".into());
    assert_eq!(
        Formatter::default().format(&r),
        "failed\nTraceback (most recent call last):\nRuntimeError: deliberate mistake\nStack (most recent call last):\n  frame"
    );
    let mut r = LogRecord::new("x", 40, "", 0, "ends with newline\n");
    r.exc_text = Some("E".into());
    assert_eq!(Formatter::default().format(&r), "ends with newline\nE");
}

#[test]
fn test_format_never_fails() {
    let fo = f("%(random)s", "%").unwrap();
    assert_eq!(
        fo.format(&record()),
        "Message with 2 placeholders [logwire: Formatting field not found in record: 'random']"
    );
}

#[test]
fn test_caps() {
    assert_eq!(
        f("%(message)5000000s", "%").unwrap_err().to_string(),
        "field width 5000000 exceeds the limit of 4096"
    );
    assert!(matches!(
        f("%(message).5000s", "%"),
        Err(FormatError::PrecisionTooLarge(5000))
    ));
    assert!(matches!(
        f("{message:5000}", "{"),
        Err(FormatError::WidthTooLarge(5000))
    ));
    assert!(f("%(message)4096s", "%").is_ok());
    let long = "x".repeat(70_000) + "%(message)s";
    assert!(matches!(f(&long, "%"), Err(FormatError::FormatTooLong(_))));
    // Nested widths are checked per record.
    let mut r = record();
    r.set_extra("w", Value::Int(100_000));
    let fo = f("{message:{w}}", "{").unwrap();
    assert!(matches!(
        fo.try_format(&r),
        Err(FormatError::WidthTooLarge(100_000))
    ));
    // A message's own spec.
    let e = logwire_engine::format_message("%99999999d", &Args::Tuple(vec![Value::Int(1)]));
    assert!(matches!(e, Err(FormatError::WidthTooLarge(_))));
    let e = logwire_engine::format_message(
        "%*d",
        &Args::Tuple(vec![Value::Int(1 << 40), Value::Int(1)]),
    );
    assert!(matches!(e, Err(FormatError::WidthTooLarge(_))));
}

#[test]
fn test_args_none_keeps_percent() {
    let r = LogRecord::new("x", 20, "", 0, "100%% sure %s");
    assert_eq!(Formatter::default().format(&r), "100%% sure %s");
}
