//! Golden tests: every case is parsed by CPython's real `configparser` (run as a `python3`
//! subprocess, answering in JSON) and by `logwire_config::ini`, and the results must agree:
//! accept/reject (and the error kind and line), sections, options, raw values and
//! interpolated values (or the interpolation error kind).
//!
//! Set `LOGWIRE_PYTHON` to choose the interpreter (default `python3`). If it cannot be run the
//! test fails, unless `LOGWIRE_SKIP_PYTHON_GOLDEN=1` is set.

use logwire_config::ini::{IniDocument, IniError, IniLimits};
use logwire_test_support::python;
use serde_json::{Value, json};

/// Python side: reads the cases as JSON on stdin and prints one result per case.
/// The text is read like a file opened with universal newlines; a leading BOM is removed
/// first (logwire's documented deviation: it skips a BOM, CPython with utf-8 does not).
const PY_SCRIPT: &str = r#"
import sys, json, io, configparser as cpm
cases = json.load(sys.stdin)
out = []
for c in cases:
    text = c["text"]
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        cp = cpm.ConfigParser(dict(c["defaults"]) if c["defaults"] else None)
        cp.read_file(io.StringIO(text, newline=None))
    except cpm.Error as e:
        line = getattr(e, "lineno", None)
        if type(e) is cpm.ParsingError:
            line = e.errors[0][0]
        out.append({"ok": False, "error": type(e).__name__, "line": line})
        continue
    secs = []
    for s in ["DEFAULT"] + cp.sections():
        opts = list(cp.defaults().keys()) if s == "DEFAULT" else cp.options(s)
        entries = []
        for o in opts:
            raw = cp.get(s, o, raw=True)
            try:
                iv = {"value": cp.get(s, o)}
            except cpm.Error as e:
                iv = {"error": type(e).__name__}
            entries.append([o, raw, iv])
        secs.append([s, entries])
    out.append({"ok": True, "sections": secs})
print(json.dumps(out))
"#;

fn python_kind(e: &IniError) -> &'static str {
    match e {
        IniError::MissingSectionHeader { .. } => "MissingSectionHeaderError",
        IniError::InvalidLine { .. } | IniError::EmptyOptionName { .. } => "ParsingError",
        IniError::DuplicateSection { .. } => "DuplicateSectionError",
        IniError::DuplicateOption { .. } | IniError::DuplicateDefault { .. } => {
            "DuplicateOptionError"
        }
        IniError::InterpolationSyntax { .. } => "InterpolationSyntaxError",
        IniError::InterpolationMissing { .. } => "InterpolationMissingOptionError",
        IniError::InterpolationDepth { .. } => "InterpolationDepthError",
        other => panic!("error with no CPython counterpart: {other}"),
    }
}

fn rust_result(text: &str, defaults: &[(&str, &str)]) -> Value {
    let doc = match IniDocument::parse_with_defaults(text, defaults, &IniLimits::default()) {
        Ok(doc) => doc,
        Err(e) => {
            return json!({"ok": false, "error": python_kind(&e), "line": e.line()});
        }
    };
    let mut secs = Vec::new();
    let mut names = vec!["DEFAULT".to_owned()];
    names.extend(doc.sections().map(str::to_owned));
    for s in &names {
        let opts: Vec<String> = if s == "DEFAULT" {
            doc.defaults().map(|(k, _)| k.to_owned()).collect()
        } else {
            doc.options(s)
                .unwrap()
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        let mut entries = Vec::new();
        for o in &opts {
            let raw = doc.get_raw(s, o).expect("listed option has a raw value");
            let iv = match doc.get(s, o) {
                Ok(Some(v)) => json!({"value": v}),
                Ok(None) => panic!("listed option {s}/{o} missing"),
                Err(e) => json!({"error": python_kind(&e)}),
            };
            entries.push(json!([o, raw, iv]));
        }
        secs.push(json!([s, entries]));
    }
    json!({"ok": true, "sections": secs})
}

fn run_python(cases: &Value) -> Option<Vec<Value>> {
    let out = python::pipe(
        python::command().args(["-c", PY_SCRIPT]),
        cases.to_string().into_bytes(),
    )?;
    let v: Value = serde_json::from_slice(&out).unwrap();
    Some(v.as_array().unwrap().clone())
}

/// (name, INI text, extra defaults).
type Case = (String, String, Vec<(String, String)>);

fn check(cases: &[Case]) {
    let input: Value = cases
        .iter()
        .map(|(_, text, defaults)| json!({"text": text, "defaults": defaults}))
        .collect();
    let Some(expected) = run_python(&input) else {
        return;
    };
    assert_eq!(expected.len(), cases.len());
    let mut failures = Vec::new();
    for ((name, text, defaults), want) in cases.iter().zip(&expected) {
        let d: Vec<(&str, &str)> = defaults
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let got = rust_result(text, &d);
        if &got != want {
            failures.push(format!(
                "case {name}: {text:?}\n  python: {want}\n  rust:   {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} INI golden cases agree with CPython", cases.len());
}

fn plain(cases: &[(&str, &str)]) -> Vec<Case> {
    cases
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned(), Vec::new()))
        .collect()
}

/// CPython's `Lib/test/test_logging.py` `ConfigFileTest` configurations (3.13, dedented;
/// config8 with `{tempfile}` filled in).
const CPYTHON_CONFIGS: &[(&str, &str)] = &[
    (
        "cpython_config0",
        r#"
[loggers]
keys=root

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=hand1

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config1",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=

[logger_parser]
level=DEBUG
handlers=hand1
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config1a",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=hand1

[logger_parser]
level=DEBUG
handlers=
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config2",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=

[logger_parser]
level=DEBUG
handlers=hand1
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stbout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config3",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=

[logger_parser]
level=DEBUG
handlers=hand1
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=misspelled_name
args=(sys.stdout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config4",
        r#"
[loggers]
keys=root

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=NOTSET
handlers=hand1

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
class=test.test_logging.ExceptionFormatter
format=%(levelname)s:%(name)s:%(message)s
datefmt=
"#,
    ),
    (
        "cpython_config5",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=

[logger_parser]
level=DEBUG
handlers=hand1
propagate=1
qualname=compiler.parser

[handler_hand1]
class=logging.StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config6",
        r#"
[loggers]
keys=root,parser

[handlers]
keys=hand1, hand2

[formatters]
keys=form1, form2

[logger_root]
level=WARNING
handlers=

[logger_parser]
level=DEBUG
handlers=hand1
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[handler_hand2]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stderr,)

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=

[formatter_form2]
format=%(message)s
datefmt=
"#,
    ),
    (
        "cpython_config7",
        r#"
[loggers]
keys=root,parser,compiler

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=hand1

[logger_compiler]
level=DEBUG
handlers=
propagate=1
qualname=compiler

[logger_parser]
level=DEBUG
handlers=
propagate=1
qualname=compiler.parser

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
kwargs={'stream': sys.stdout,}

[formatter_form1]
format=%(levelname)s ++ %(message)s
datefmt=
"#,
    ),
    (
        "cpython_config8",
        r#"
[loggers]
keys=root

[handlers]
keys=file

[formatters]
keys=

[logger_root]
level=DEBUG
handlers=file

[handler_file]
class=FileHandler
level=DEBUG
args=("/tmp/logwire-test.log",)
kwargs={"encoding": "utf-8"}
"#,
    ),
    (
        "cpython_config9",
        r#"
[loggers]
keys=root

[handlers]
keys=hand1

[formatters]
keys=form1

[logger_root]
level=WARNING
handlers=hand1

[handler_hand1]
class=StreamHandler
level=NOTSET
formatter=form1
args=(sys.stdout,)

[formatter_form1]
format=%(message)s ++ %(customfield)s
defaults={"customfield": "defaultvalue"}
"#,
    ),
    (
        "cpython_disable_test",
        r#"
[loggers]
keys=root

[handlers]
keys=screen

[formatters]
keys=

[logger_root]
level=DEBUG
handlers=screen

[handler_screen]
level=DEBUG
class=StreamHandler
args=(sys.stdout,)
formatter=
"#,
    ),
    (
        "cpython_invalid_prince",
        "[loggers]\nkeys=root\n\n[handlers]\nkeys=hand1\n\n[formatters]\nkeys=form1\n\n[logger_root]\nhandlers=hand1\n\n[handler_hand1]\nclass=StreamHandler\nformatter=form1\n\n[formatter_form1]\nformat=%(levelname)s ++ %(message)s\n\nprince\n",
    ),
    (
        "cpython_defaults_no_interpolation",
        "[formatters]\nkeys=default\n\n[formatter_default]\n\n[handlers]\nkeys=console\n\n[handler_console]\nclass=logging.StreamHandler\nargs=tuple()\n\n[loggers]\nkeys=root\n\n[logger_root]\nformatter=default\nhandlers=console",
    ),
    (
        "cpython_minimal",
        "[loggers]\nkeys=root\n[handlers]\nkeys=\n[formatters]\nkeys=\n[logger_root]\nhandlers=\n",
    ),
    (
        "cpython_percent_in_args",
        "[handler_h]\nclass=FileHandler\nargs=('100%%.log',)\n",
    ),
    (
        "cpython_bad_percent_in_args",
        "[handler_h]\nclass=FileHandler\nargs=('100%.log',)\n",
    ),
];

#[test]
fn cpython_config_file_test_configs() {
    check(&plain(CPYTHON_CONFIGS));
}

#[test]
fn cpython_defaults_argument() {
    let formatters = "{'generic': {'format': '%(asctime)s [%(process)d] [%(levelname)s] %(message)s', 'datefmt': '[%Y-%m-%d %H:%M:%S %z]', 'class': 'logging.Formatter'}}";
    let text = CPYTHON_CONFIGS
        .iter()
        .find(|c| c.0 == "cpython_defaults_no_interpolation")
        .unwrap()
        .1;
    let d = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let cases = vec![
        (
            "bpo33802".to_owned(),
            text.to_owned(),
            d(&[
                ("version", "1"),
                ("disable_existing_loggers", "False"),
                ("formatters", formatters),
            ]),
        ),
        (
            "override".to_owned(),
            "[DEFAULT]\nB = file\nc = %(a)s+%(b)s\n[s]\nx = %(c)s".to_owned(),
            d(&[("A", "arg"), ("b", "arg-b")]),
        ),
        (
            "bad_default_used".to_owned(),
            "[s]\nx = %(bad)s\ny = 1".to_owned(),
            d(&[("bad", "100%")]),
        ),
        (
            "bad_default_unused".to_owned(),
            "[s]\ny = 1".to_owned(),
            d(&[("bad", "100%")]),
        ),
        (
            "dup_default".to_owned(),
            "[s]\ny = 1".to_owned(),
            d(&[("Key", "1"), ("kEY", "2")]),
        ),
        (
            "default_order".to_owned(),
            "[DEFAULT]\nz = 1\na = 2\n[s]\n".to_owned(),
            d(&[("a", "x"), ("m", "y")]),
        ),
        (
            "default_section_dup_option".to_owned(),
            "[DEFAULT]\nm = 1\nm = 2\n".to_owned(),
            d(&[("m", "y")]),
        ),
    ];
    check(&cases);
}

#[test]
fn syntax_corpus() {
    let cases: &[(&str, &str)] = &[
        ("empty", ""),
        ("only_newlines", "\n\n\n"),
        ("only_comments", "# a\n; b\n   # c\n"),
        ("only_whitespace", "  \t \n \u{a0}\n"),
        ("basic", "[s]\na = 1\nb=2\nc= 3 \n"),
        ("colon_delimiter", "[s]\na : 1\nb:2\nc : d = e\nf = g : h\n"),
        (
            "delimiter_spacing",
            "[s]\nmy key  =  value with  spaces  \n\tk2\t:\tv2\t\n",
        ),
        ("empty_values", "[s]\na =\nb:\nc = \n"),
        ("value_only_delims", "[s]\na = ==\nb = :\n"),
        ("option_case", "[S]\nKey = 1\nMiXeD = 2\n"),
        ("section_case", "[Sect]\na=1\n[sect]\na=2\n"),
        ("default_lower", "[default]\na=1\n[DEFAULT]\nb=2\n"),
        (
            "default_inherit",
            "[DEFAULT]\nx = dx\ny = dy\n[a]\ny = ay\nz = az\n[b]\n",
        ),
        ("default_only", "[DEFAULT]\nx = 1\n"),
        (
            "default_twice",
            "[DEFAULT]\nx = 1\n[s]\na=1\n[DEFAULT]\ny = 2\n",
        ),
        ("default_twice_dup", "[DEFAULT]\nx = 1\n[DEFAULT]\nX = 2\n"),
        (
            "default_after",
            "[s]\na = %(late)s\n[DEFAULT]\nlate = yes\n",
        ),
        (
            "inline_hash_kept",
            "[s]\na = 1 # not a comment\nb = 2 ; nor this\n",
        ),
        (
            "comment_prefix_after_ws",
            "[s]\n   ;x = 1\n\t# y = 2\na = 1\n",
        ),
        ("hash_in_name", "[s]\na#b = 1\n"),
        ("continuation", "[s]\na = first\n  second\n\tthird\nb = 2\n"),
        (
            "continuation_blank_lines",
            "[s]\na = first\n\n  after blank\n\n\nb = 2\n",
        ),
        (
            "continuation_trailing_blank",
            "[s]\na = first\n  second\n\n\n",
        ),
        (
            "continuation_comment_inside",
            "[s]\na = first\n  # comment\n  ; other\n  third\n",
        ),
        ("continuation_empty_first", "[s]\na =\n  x\n  y\n"),
        ("continuation_ws_only_lines", "[s]\na = 1\n   \n  2\n"),
        ("continuation_after_header", "[s]\n  a = 1\n  b = 2\n"),
        ("continuation_deeper_header", "  [s]\na = 1\n  b = 2\n"),
        ("continuation_looks_like_header", "[s]\na = 1\n  [t]\n"),
        ("continuation_looks_like_option", "[s]\na = 1\n  b = 2\n"),
        ("indent_decreasing", "[s]\n    a = 1\n  b = 2\n      c\n"),
        ("continuation_tab_vs_spaces", "[s]\n\ta = 1\n  b\n"),
        ("continuation_nbsp", "[s]\na = 1\n\u{a0}more\n"),
        ("continuation_ideographic", "[s]\na = 1\n\u{3000}more\n"),
        ("header_trailing_junk", "[s] junk\na=1\n"),
        ("header_with_brackets", "[a]b]\nx=1\n[[c]]\ny=2\n"),
        ("header_spaces", "[ spaced name ]\nx=1\n"),
        ("header_empty", "[s]\n[]\nx=1\n"),
        ("header_empty_first", "[]\nx=1\n"),
        ("header_unclosed", "[s]\n[t\n"),
        ("header_looks_like_option", "[a] = b\nx=1\n"),
        ("header_indented", "   [s]\nx=1\n"),
        (
            "header_unicode",
            "[Séction ünïcödé]\nÄÖÜ = Grüße\nΣΑΣ = σ\n",
        ),
        (
            "option_unicode_lower",
            "[s]\nİstanbul = 1\nSTRASSE = 2\nǅ = 3\n",
        ),
        ("crlf", "[s]\r\na = 1\r\n  cont\r\nb = 2\r\n"),
        ("lone_cr", "[s]\ra = 1\r  cont\rb = 2\r"),
        ("mixed_newlines", "[s]\na = 1\r\n\rb = 2\r\n  c\n"),
        ("bom", "\u{feff}[s]\na = 1\n"),
        ("no_final_newline", "[s]\na = 1"),
        (
            "unicode_whitespace_strip",
            "[s]\na = \u{a0}x\u{2003}\nb = \u{1c}y\u{1f}\nc = \u{85}z\u{85}\n",
        ),
        ("vt_ff_inside", "[s]\na = x\u{b}y\u{c}z\n"),
        ("nul_inside", "[s]\na = x\u{0}y\n"),
        (
            "long_value",
            "[s]\na = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        ),
        (
            "format_with_equals",
            "[formatter_f]\nformat=%(asctime)s=%(levelname)s: %(message)s\ndatefmt=%Y-%m-%d\n",
        ),
        ("many_sections", "[a]\n[b]\n[c]\nx=1\n[d]\n"),
        // Errors.
        ("no_header", "prince\n[s]\na=1\n"),
        ("no_header_option", "a = 1\n[s]\n"),
        ("no_header_after_comment", "# c\n\nkey = value\n"),
        ("invalid_line", "[s]\na = 1\nprince\n"),
        ("invalid_lines_two", "[s]\nfoo\nbar\n"),
        ("invalid_then_duplicate", "[s]\nfoo\n[s]\n"),
        ("invalid_then_continuation", "[s]\na = 1\nfoo\n  cont\n"),
        ("option_no_name", "[s]\n= value\n"),
        ("option_no_name_colon", "[s]\n: value\n"),
        ("option_no_name_twice", "[s]\n= a\n= b\n"),
        ("valueless_option", "[s]\nflag\n"),
        ("duplicate_section", "[s]\na=1\n[t]\n[s]\nb=2\n"),
        ("duplicate_section_case_differs", "[s]\n[S]\n"),
        ("duplicate_option", "[s]\na = 1\nb = 2\na = 3\n"),
        ("duplicate_option_case", "[s]\nKey = 1\nkey = 2\n"),
        ("duplicate_option_spacing", "[s]\nkey=1\nkey   :  2\n"),
        (
            "duplicate_default_option_in_section",
            "[DEFAULT]\na = 1\n[s]\na = 2\n",
        ),
    ];
    check(&plain(cases));
}

#[test]
fn interpolation_corpus() {
    let mut cases: Vec<(String, String)> = [
        ("percent_escape", "[s]\na = 100%%\nb = %%(x)s\n"),
        ("reference", "[s]\nx = X\na = <%(x)s>\n"),
        ("reference_upper", "[s]\nx = X\na = <%(X)s>\n"),
        ("reference_default", "[DEFAULT]\nd = D\n[s]\na = %(d)s\n"),
        (
            "default_refers_section",
            "[DEFAULT]\nd = %(own)s\n[s]\nown = mine\n[t]\nown = theirs\n[u]\n",
        ),
        (
            "section_overrides_default_in_ref",
            "[DEFAULT]\nx = dflt\ny = %(x)s\n[s]\nx = sect\n",
        ),
        ("missing_reference", "[s]\na = %(nope)s\n"),
        (
            "missing_reference_other_section",
            "[t]\nx = 1\n[s]\na = %(x)s\n",
        ),
        ("bare_percent", "[s]\na = 100%\n"),
        ("percent_d", "[s]\na = %d\n"),
        ("percent_paren_d", "[s]\nx=1\na = %(x)d\n"),
        ("percent_unterminated", "[s]\na = %(x\n"),
        ("percent_empty_name", "[s]\na = %()s\n"),
        ("percent_space_name", "[s]\n a b = 1\nc = %(a b)s\n"),
        ("percent_name_with_newline", "[s]\na = %(x\n  )s\n"),
        ("percent_at_end", "[s]\na = x%\n"),
        ("percent_escape_then_ref", "[s]\nx=1\na = %%%(x)s%%\n"),
        ("nested_percent_escape", "[s]\nx = 50%%\na = %(x)s\n"),
        ("self_reference", "[s]\na = %(a)s\n"),
        ("cycle", "[s]\na = %(b)s\nb = %(a)s\n"),
        ("ref_to_bad", "[s]\nx = 5%\na = %(x)s\n"),
        ("ref_to_missing", "[s]\nx = %(nope)s\na = %(x)s\n"),
        ("dict_like_value", "[s]\nkwargs = {'fmt': '%%(message)s'}\n"),
        ("multiline_interp", "[s]\nx = X\na = line1\n  %(x)s\n"),
        (
            "format_raw_only",
            "[formatter_f]\nformat = %(levelname)s ++ %(message)s\n",
        ),
        ("unicode_ref", "[s]\nÄ = ä\na = %(Ä)s\n"),
        ("close_paren_then_s", "[s]\nx)y = 1\na = %(x)y)s\n"),
        ("keycre_nongreedy", "[s]\nx = 1\na = %(x)s)s\n"),
    ]
    .iter()
    .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
    .collect();
    // Reference chains around MAX_INTERPOLATION_DEPTH: values with and without '%' at the end.
    for len in [8, 9, 10, 11, 12] {
        for tail in ["end", "100%%"] {
            let mut t = String::from("[s]\n");
            for i in 0..len {
                t.push_str(&format!("v{i} = %(v{})s\n", i + 1));
            }
            t.push_str(&format!("v{len} = {tail}\n"));
            cases.push((format!("chain_{len}_{tail}"), t));
        }
    }
    let cases: Vec<_> = cases.into_iter().map(|(n, t)| (n, t, Vec::new())).collect();
    check(&cases);
}
