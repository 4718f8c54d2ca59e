//! Regression (found by fuzzing `format_string`): a `{` format whose spec nests `{message}`
//! many times is quoted in its error *after* expansion, so the error text grew with
//! nesting x message length. Quoted pieces are now cut to a bounded length.

use logwire_engine::{Formatter, LogRecord, Style};

#[test]
fn an_invalid_expanded_spec_gives_a_bounded_error() {
    // After expansion the spec is the message 40 times (2 000 bytes) followed by "x": not a valid spec.
    let fmt = format!("{{name:>{}x}}", "{message}".repeat(40));
    let f = Formatter::new(Some(&fmt), None, Style::Brace, false, Vec::new()).unwrap();
    let record = LogRecord::new("app", 20, "/a.py", 1, "m".repeat(50));
    let err = f.try_format(&record).unwrap_err().to_string();
    assert!(err.contains("bad specifier"), "{err}");
    assert!(err.contains("more bytes)"), "says it was cut: {err}");
    assert!(
        err.len() < 1_024,
        "error text of {} bytes for a {}-byte format and a 50-byte message",
        err.len(),
        fmt.len()
    );
}

#[test]
fn short_specs_are_quoted_whole() {
    let f = Formatter::new(
        Some("{name:>{levelname}x}"),
        None,
        Style::Brace,
        false,
        Vec::new(),
    )
    .unwrap();
    let record = LogRecord::new("app", 20, "/a.py", 1, "hello");
    let err = f.try_format(&record).unwrap_err().to_string();
    assert!(err.contains("'>INFOx'"), "{err}");
}

/// Regression (found by fuzzing `format_string`, second run): a missing field's name is
/// quoted with `repr()`, which turns each control byte into four.
#[test]
fn a_missing_field_of_control_bytes_gives_a_bounded_error() {
    let name = "\u{1}".repeat(1_000);
    let fmt = format!("%({name})s");
    let f = Formatter::new(Some(&fmt), None, Style::Percent, false, Vec::new()).unwrap();
    let record = LogRecord::new("app", 20, "/a.py", 1, "hello");
    let err = f.try_format(&record).unwrap_err().to_string();
    assert!(err.contains("field not found"), "{err}");
    assert!(err.contains("more bytes)"), "says it was cut: {err}");
    assert!(
        err.len() < 1_200,
        "error text of {} bytes for a {}-byte name",
        err.len(),
        name.len()
    );
}
