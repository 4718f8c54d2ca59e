//! Explicit cases for `logwire_config::pyliteral`: every `args=`/`kwargs=` text of CPython's
//! `ConfigFileTest`, hostile inputs (each must be rejected with a precise message and never
//! panic or overflow the stack), limits, and deviations from CPython that are deliberate.

use logwire_config::pyliteral::{
    KnownName, LiteralError, LiteralLimits, PyLiteral, known_names, parse_class_name,
    parse_literal, parse_literal_with_limits,
};
use proptest::prelude::*;

fn s(v: &str) -> PyLiteral {
    PyLiteral::Str(v.to_owned())
}

fn err(text: &str) -> String {
    parse_literal(text).expect_err(text).to_string()
}

#[test]
fn cpython_config_file_test_args() {
    use PyLiteral::*;
    let stdout = Name(KnownName::Stdout);
    assert_eq!(
        parse_literal("(sys.stdout,)").unwrap(),
        Tuple(vec![stdout.clone()])
    );
    assert_eq!(
        parse_literal("(sys.stderr,)").unwrap(),
        Tuple(vec![Name(KnownName::Stderr)])
    );
    assert_eq!(
        parse_literal("(\"/tmp/x.log\",)").unwrap(),
        Tuple(vec![s("/tmp/x.log")])
    );
    assert_eq!(
        parse_literal("('{tempfile}',)").unwrap(),
        Tuple(vec![s("{tempfile}")])
    );
    assert_eq!(
        parse_literal("{\"encoding\": \"utf-8\"}").unwrap(),
        Dict(vec![(s("encoding"), s("utf-8"))])
    );
    assert_eq!(
        parse_literal("{'stream': sys.stdout,}").unwrap(),
        Dict(vec![(s("stream"), stdout)])
    );
    assert_eq!(parse_literal("tuple()").unwrap(), Tuple(vec![]));
    assert_eq!(parse_literal("()").unwrap(), Tuple(vec![]));
    assert_eq!(parse_literal("{}").unwrap(), Dict(vec![]));
    assert_eq!(
        parse_literal("('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)").unwrap(),
        Tuple(vec![s("localhost"), Int(9020)])
    );
    assert_eq!(
        parse_literal("{\"customfield\": \"defaultvalue\"}").unwrap(),
        Dict(vec![(s("customfield"), s("defaultvalue"))])
    );
    // The misspelled name of CPython's config2 is rejected by name.
    let e = err("(sys.stbout,)");
    assert!(
        e.starts_with("not a Python literal: unknown name 'sys.stbout' (allowed: sys.stdout"),
        "{e}"
    );
    assert!(e.ends_with(" at column 2"), "{e}");
}

#[test]
fn documented_fileconfig_examples() {
    use PyLiteral::*;
    assert_eq!(
        parse_literal("(('localhost', handlers.SYSLOG_UDP_PORT), handlers.SysLogHandler.LOG_USER)")
            .unwrap(),
        Tuple(vec![Tuple(vec![s("localhost"), Int(514)]), Int(1)])
    );
    assert_eq!(
        parse_literal("(10, ERROR)").unwrap(),
        Tuple(vec![Int(10), Int(40)])
    );
    assert_eq!(
        parse_literal("{'timeout': 10.0}").unwrap(),
        Dict(vec![(s("timeout"), Float(10.0))])
    );
    assert_eq!(
        parse_literal("logging.handlers.DEFAULT_UDP_LOGGING_PORT").unwrap(),
        Int(9021)
    );
    assert_eq!(parse_literal("socket.SOCK_DGRAM").unwrap(), Int(2));
    assert_eq!(
        parse_literal("handlers.socket.SOCK_STREAM").unwrap(),
        Int(1)
    );
    assert!(known_names().count() > 40);
    for (name, value) in known_names() {
        assert_eq!(parse_literal(name).unwrap(), value, "{name}");
        assert_eq!(
            parse_literal(&format!("logging.{name}")).unwrap(),
            value,
            "{name}"
        );
    }
}

#[test]
fn hostile_inputs_are_rejected_with_what_and_where() {
    let cases: &[(&str, &str)] = &[
        (
            "__import__('os').system('touch x')",
            "not a Python literal: call to '__import__' at column 1",
        ),
        (
            "eval('1')",
            "not a Python literal: call to 'eval' at column 1",
        ),
        (
            "exec('import os')",
            "not a Python literal: call to 'exec' at column 1",
        ),
        (
            "open('/etc/passwd')",
            "not a Python literal: call to 'open' at column 1",
        ),
        (
            "(sys.stdout, getattr(sys, 'modules'))",
            "not a Python literal: call to 'getattr' at column 14",
        ),
        (
            "sys.stdout.write('x')",
            "not a Python literal: call to 'sys.stdout.write' at column 1",
        ),
        (
            "(lambda: 1)()",
            "not a Python literal: lambda expression at column 2",
        ),
        (
            "().__class__.__bases__[0]",
            "not a Python literal: attribute access '.__class__' at column 3",
        ),
        (
            "'abc'.upper()",
            "not a Python literal: attribute access '.upper' at column 6",
        ),
        ("[1][0]", "not a Python literal: subscript at column 4"),
        ("(1)(2)", "not a Python literal: call at column 4"),
        (
            "sys.modules['os']",
            "not a Python literal: subscript of 'sys.modules' at column 1",
        ),
        // Integer arithmetic is allowed on purpose (tests/pyliteral_arithmetic.rs); other
        // operands are not.
        (
            "'a' + 'b'",
            "not a Python literal: operator '+' between str and str (only integer arithmetic is allowed) at column 5",
        ),
        ("'%s' % x", "not a Python literal: operator '%' at column 6"),
        (
            "10**10**10",
            "not a Python literal: operator '**' at column 3",
        ),
        (
            "'a' * 10**9",
            "not a Python literal: operator '*' between str and int (only integer arithmetic is allowed) at column 5",
        ),
        ("not 1", "not a Python literal: keyword 'not' at column 1"),
        (
            "1 if 1 else 2",
            "not a Python literal: keyword 'if' at column 3",
        ),
        (
            "(1 := 1)",
            "not a Python literal: operator ':=' at column 4",
        ),
        ("(*a,)", "not a Python literal: operator '*' at column 2"),
        (
            "{**a}",
            "not a Python literal: dict unpacking '**' at column 2",
        ),
        (
            "{'a': 1, **b}",
            "not a Python literal: dict unpacking '**' at column 10",
        ),
        (
            "f'{os.system(1)}'",
            "not a Python literal: f-string at column 1",
        ),
        ("rf'x'", "not a Python literal: f-string at column 1"),
        ("...", "not a Python literal: operator '...' at column 1"),
        (
            "-'a'",
            "not a Python literal: unary '-' applied to str at column 1",
        ),
        (
            "-True",
            "not a Python literal: unary '-' applied to bool at column 1",
        ),
        (
            "tuple([1])",
            "not a Python literal: call to 'tuple' with arguments (only an empty 'tuple()' is allowed) at column 6",
        ),
        (
            "frozenset()",
            "not a Python literal: call to 'frozenset' at column 1",
        ),
        (
            "(1,\n sys.exit(1))",
            "not a Python literal: call to 'sys.exit' at line 2, column 2",
        ),
        (
            "1; import os",
            "not a Python literal: operator ';' at column 2",
        ),
        (
            "1\nimport os",
            "not a Python literal: keyword 'import' at line 2, column 1",
        ),
        (
            "'abc",
            "invalid Python syntax at column 1: unterminated string literal",
        ),
        (
            "",
            "invalid Python syntax at column 1: unexpected end of input (expected a Python literal)",
        ),
        (
            "1j",
            "unsupported in a Python literal: complex number at column 1",
        ),
        (
            "'\\N{DASH}'",
            "unsupported in a Python literal: \\N{...} escape (write the character, or \\u/\\U) at column 2",
        ),
        (
            "'\\ud800'",
            "unsupported in a Python literal: lone surrogate escape U+D800 at column 2",
        ),
        (
            "{[1]: 2}",
            "unhashable type 'list' used as a dict key or set element at column 2",
        ),
        (
            "{1, {}}",
            "unhashable type 'dict' used as a dict key or set element at column 5",
        ),
        (
            "'a' b'b'",
            "invalid Python syntax at column 5: cannot mix bytes and nonbytes literals",
        ),
        (
            "b'\u{e9}'",
            "invalid Python syntax at column 3: bytes can only contain ASCII literal characters",
        ),
        (
            "0777",
            "invalid Python syntax at column 1: leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
        ),
        (
            "1 $",
            "invalid Python syntax at column 3: unexpected character '$'",
        ),
        (
            "'a\0'",
            "invalid Python syntax at column 3: source cannot contain null characters",
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = err(text);
        if got != *want {
            failures.push(format!("{text:?}\n  want: {want}\n  got:  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (text, name, column) in [
        ("sys.modules", "sys.modules", 1),
        ("os.environ", "os.environ", 1),
        ("[x for x in y]", "x", 2),
    ] {
        let e = err(text);
        assert!(
            e.starts_with(&format!(
                "not a Python literal: unknown name '{name}' (allowed: "
            )),
            "{e}"
        );
        assert!(e.ends_with(&format!(" at column {column}")), "{e}");
    }
    assert!(err("breakpoint()").starts_with("not a Python literal: call to 'breakpoint'"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let big = LiteralLimits {
        max_input_len: 1 << 20,
        ..LiteralLimits::default()
    };
    for open in ["(", "[", "{", "-("] {
        let text = open.repeat(100_000);
        let e = parse_literal_with_limits(&text, &big).unwrap_err();
        assert!(
            matches!(e, LiteralError::TooDeep { limit: 32, .. }),
            "{open}: {e}"
        );
        // With the default limits the input is already too long.
        let e = parse_literal(&text).unwrap_err();
        assert!(matches!(e, LiteralError::InputTooLong { .. }), "{e}");
    }
    let ok = format!("{}1{}", "[".repeat(32), "]".repeat(32));
    assert!(parse_literal(&ok).is_ok());
    let deep = format!("{}1{}", "[".repeat(33), "]".repeat(33));
    assert_eq!(
        deep_err(&deep),
        "Python literal nests deeper than 32 levels at column 33"
    );
    // Signs loop instead of recursing.
    assert_eq!(
        parse_literal(&format!("{}1", "-".repeat(50_001))).unwrap(),
        PyLiteral::Int(-1)
    );
}

fn deep_err(text: &str) -> String {
    parse_literal(text).unwrap_err().to_string()
}

#[test]
fn size_limits() {
    let ten_mb = format!("'{}'", "a".repeat(10 * 1024 * 1024));
    assert_eq!(
        parse_literal(&ten_mb).unwrap_err(),
        LiteralError::InputTooLong {
            len: ten_mb.len(),
            limit: 64 * 1024
        }
    );
    let many = format!("[{}]", "0,".repeat(10_001));
    assert!(matches!(
        parse_literal(&many).unwrap_err(),
        LiteralError::TooManyElements { limit: 10_000, .. }
    ));
    let long_number = "1".repeat(4301);
    assert!(matches!(
        parse_literal(&long_number).unwrap_err(),
        LiteralError::NumberTooLong { .. }
    ));
    assert_eq!(
        parse_literal(&"1".repeat(4300)).unwrap(),
        PyLiteral::BigInt("1".repeat(4300))
    );
    let hex = format!("0x{}", "f".repeat(1000));
    assert!(matches!(parse_literal(&hex).unwrap(), PyLiteral::BigInt(d) if d.len() == 1205));
}

#[test]
fn numbers() {
    use PyLiteral::*;
    assert_eq!(
        parse_literal("-9223372036854775808").unwrap(),
        Int(i64::MIN)
    );
    assert_eq!(
        parse_literal("9223372036854775808").unwrap(),
        BigInt("9223372036854775808".into())
    );
    assert_eq!(
        parse_literal("-(-9223372036854775808)").unwrap(),
        BigInt("9223372036854775808".into())
    );
    assert_eq!(parse_literal("-0").unwrap(), Int(0));
    assert_eq!(parse_literal("0x_dead_BEEF").unwrap(), Int(0xdead_beef));
    assert_eq!(parse_literal("-0.0").unwrap().type_name(), "float");
    assert_eq!(parse_literal("1e400").unwrap(), Float(f64::INFINITY));
}

#[test]
fn dict_and_set_keys_follow_python_equality() {
    use PyLiteral::*;
    assert_eq!(
        parse_literal("{1: 'a', True: 'b', 1.0: 'c', 2: 'd'}").unwrap(),
        Dict(vec![(Int(1), s("c")), (Int(2), s("d"))])
    );
    assert_eq!(
        parse_literal("{1e20: 0, 100000000000000000000: 1}").unwrap(),
        Dict(vec![(Float(1e20), Int(1))])
    );
    assert_eq!(
        parse_literal("{0.5, 0.5, (1, 'a'), (1.0, 'a')}").unwrap(),
        Set(vec![Float(0.5), Tuple(vec![Int(1), s("a")])])
    );
    assert_eq!(parse_literal("set()").unwrap(), Set(vec![]));
}

#[test]
fn class_names() {
    assert_eq!(parse_class_name("StreamHandler").unwrap(), "StreamHandler");
    assert_eq!(
        parse_class_name("handlers.RotatingFileHandler").unwrap(),
        "handlers.RotatingFileHandler"
    );
    assert_eq!(
        parse_class_name("  logging . StreamHandler  # c").unwrap(),
        "logging.StreamHandler"
    );
    assert_eq!(
        parse_class_name("__import__('os')")
            .unwrap_err()
            .to_string(),
        "not a Python literal: call to '__import__' at column 11"
    );
    assert!(parse_class_name("a.b[0]").is_err());
    assert!(parse_class_name("'str'").is_err());
    assert!(parse_class_name("lambda: 1").is_err());
    assert!(parse_class_name("a.").is_err());
    assert!(parse_class_name("").is_err());
    assert!(parse_class_name("a b").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse_literal(&text);
        let _ = parse_class_name(&text);
    }

    #[test]
    fn python_like_text_never_panics(text in "[-+()\\[\\]{},:.'\"\\\\ \\n\\r#0-9a-fxobjrueEN_]{0,40}") {
        if let Err(e) = parse_literal(&text) {
            // Every error names a position inside (or just past) the text.
            if let Some(p) = e.position() {
                prop_assert!(p.offset <= text.len());
            }
        }
    }
}
