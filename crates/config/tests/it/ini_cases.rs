//! Explicit cases for `logwire_config::ini`: the API, error messages, limits and robustness
//! (the CPython comparison is in `ini_golden.rs`).

use logwire_config::ini::{IniDocument, IniError, IniLimits};
use proptest::prelude::*;

fn parse(text: &str) -> Result<IniDocument, IniError> {
    IniDocument::parse(text, &IniLimits::default())
}

#[test]
fn api_order_and_inheritance() {
    let doc =
        parse("[DEFAULT]\nz = dz\nA = da\n\n[Second]\nb = 1\na = own\n[first]\nc = 3\n").unwrap();
    assert_eq!(doc.sections().collect::<Vec<_>>(), ["Second", "first"]);
    assert!(doc.has_section("Second") && !doc.has_section("second") && !doc.has_section("DEFAULT"));
    assert_eq!(doc.options("Second").unwrap(), ["b", "a", "z"]);
    assert_eq!(doc.options("first").unwrap(), ["c", "z", "a"]);
    assert_eq!(doc.get_raw("first", "A"), Some("da"));
    assert_eq!(doc.get_raw("Second", "a"), Some("own"));
    assert_eq!(doc.get_raw("DEFAULT", "z"), Some("dz"));
    assert_eq!(doc.get_raw("nope", "z"), None);
    assert_eq!(doc.get("first", "missing").unwrap(), None);
    assert_eq!(
        doc.get("nope", "z").unwrap_err(),
        IniError::NoSection {
            section: "nope".into()
        }
    );
    assert_eq!(
        doc.options("DEFAULT").unwrap_err().to_string(),
        "no section 'DEFAULT'"
    );
    assert_eq!(doc.section_line("first"), Some(8));
    assert_eq!(doc.option_line("first", "a"), Some(3));
    assert!(doc.has_option("first", "Z") && !doc.has_option("first", "b"));
    assert_eq!(
        doc.defaults().collect::<Vec<_>>(),
        [("z", "dz"), ("a", "da")]
    );
}

#[test]
fn extra_defaults_like_fileconfig_defaults_argument() {
    let doc = IniDocument::parse_with_defaults(
        "[DEFAULT]\nlogdir = /srv\n[handler_f]\nargs = ('%(logdir)s/%(app)s.log',)\nformat = %(asctime)s\n",
        &[("App", "web"), ("logdir", "/tmp")],
        &IniLimits::default(),
    )
    .unwrap();
    assert_eq!(
        doc.get("handler_f", "args").unwrap().unwrap(),
        "('/srv/web.log',)"
    );
    assert_eq!(doc.get_raw("handler_f", "format"), Some("%(asctime)s"));
    assert_eq!(doc.option_line("handler_f", "app"), None);
    // Not interpolated, so a '%(asctime)s' default is harmless (bpo-33802).
    assert!(matches!(
        doc.get("handler_f", "format").unwrap_err(),
        IniError::InterpolationMissing { ref reference, .. } if reference == "asctime"
    ));
}

#[test]
fn error_messages() {
    let cases: &[(&str, &str)] = &[
        (
            "prince\n[s]\n",
            "line 1: no section header before \"prince\" (the file must start with a '[section]' line)",
        ),
        (
            "[s]\na = 1\n\nprince\n",
            "line 4: expected '[section]' or 'name = value', found \"prince\"",
        ),
        ("[s]\n= 1\n", "line 2: option without a name: \"= 1\""),
        (
            "[s]\n[t]\n[s]\n",
            "line 3: section 's' already exists (first on line 1)",
        ),
        (
            "[s]\nKey = 1\n\nkey: 2\n",
            "line 4: option 'key' in section 's' already exists (first on line 2)",
        ),
    ];
    for (text, want) in cases {
        let e = parse(text).unwrap_err();
        assert_eq!(e.to_string(), *want, "{text:?}");
        assert!(e.line().is_some());
    }
    let doc = parse("[s]\na = 100%\nb = %(zz)s\nc = %(c)s\nd = %(x\n").unwrap();
    let msg = |o: &str| doc.get("s", o).unwrap_err().to_string();
    assert_eq!(
        msg("a"),
        "section 's', option 'a': '%' must be followed by '%' or '(', found \"%\"; write '%%' for a literal '%'"
    );
    assert_eq!(
        msg("b"),
        "section 's', option 'b': '%(zz)s' refers to an option that does not exist in the section or in DEFAULT"
    );
    assert_eq!(
        msg("c"),
        "section 's', option 'c': '%(name)s' substitution nests more than 10 levels deep (is there a reference cycle?)"
    );
    assert_eq!(
        msg("d"),
        "section 's', option 'd': bad interpolation variable reference \"%(x\"; write '%%' for a literal '%'"
    );
}

#[test]
fn limits() {
    let small = IniLimits {
        max_input_bytes: 200,
        max_lines: 6,
        max_value_len: 10,
        max_sections: 2,
        max_options_per_section: 2,
        max_interpolated_len: 20,
        max_interpolation_refs: 5,
    };
    let p = |t: &str| IniDocument::parse(t, &small);
    assert!(matches!(
        p(&"#".repeat(201)),
        Err(IniError::InputTooLarge {
            actual: 201,
            limit: 200
        })
    ));
    assert!(matches!(
        p("\n\n\n\n\n\n\n"),
        Err(IniError::TooManyLines { limit: 6 })
    ));
    assert!(matches!(
        p("[s]\na = 12345678901\n"),
        Err(IniError::ValueTooLong { line: 2, .. })
    ));
    assert!(matches!(
        p("[s]\na = 1\n  2345678901\n"),
        Err(IniError::ValueTooLong { .. })
    ));
    assert!(matches!(
        p("[a]\n[b]\n[c]\n"),
        Err(IniError::TooManySections { line: 3, limit: 2 })
    ));
    assert!(matches!(
        p("[a]\nx=1\ny=2\nz=3\n"),
        Err(IniError::TooManyOptions { line: 4, .. })
    ));
    let roomy = IniLimits {
        max_options_per_section: 10,
        max_lines: 100,
        max_value_len: 100,
        ..small
    };
    let doc = IniDocument::parse(
        "[s]\na = 0123456789\nb = %(a)s%(a)s%(a)s\nc = %(e)s%(e)s%(e)s\ne = %(f)s%(f)s\nf=\n",
        &roomy,
    )
    .unwrap();
    assert!(matches!(
        doc.get("s", "b"),
        Err(IniError::InterpolationTooLarge { .. })
    ));
    assert!(matches!(
        doc.get("s", "c"),
        Err(IniError::InterpolationTooLarge { .. })
    ));
}

#[test]
fn exponential_interpolation_is_bounded() {
    // Each level doubles 16 references: 16^10 expansions if unbounded.
    let mut text = String::from("[s]\n");
    for i in 0..10 {
        text.push_str(&format!(
            "v{i} = {}\n",
            format!("%(v{})s", i + 1).repeat(16)
        ));
    }
    text.push_str("v10 = x\n");
    let doc = parse(&text).unwrap();
    assert!(matches!(
        doc.get("s", "v0"),
        Err(IniError::InterpolationTooLarge { .. })
    ));
    text = text.replace("v10 = x", "v10 =");
    let doc = parse(&text).unwrap();
    assert!(matches!(
        doc.get("s", "v0"),
        Err(IniError::InterpolationTooLarge { .. })
    ));
}

#[test]
fn large_inputs_stay_within_limits() {
    let huge = "a".repeat(2 * 1024 * 1024);
    assert!(matches!(parse(&huge), Err(IniError::InputTooLarge { .. })));
    let lines = "\n".repeat(60_000);
    assert!(matches!(parse(&lines), Err(IniError::TooManyLines { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        if let Ok(doc) = parse(&text) {
            for s in doc.sections().collect::<Vec<_>>() {
                for o in doc.options(s).unwrap() {
                    let _ = doc.get(s, o);
                }
            }
        }
    }

    #[test]
    fn ini_like_text_never_panics(text in "[\\[\\]=:%()s#; \\t\\r\\na-cA-C\u{a0}\u{feff}]{0,80}") {
        if let Ok(doc) = parse(&text) {
            for s in doc.sections().collect::<Vec<_>>() {
                for o in doc.options(s).unwrap() {
                    prop_assert!(doc.get_raw(s, o).is_some());
                    let _ = doc.get(s, o);
                }
            }
            for (o, _) in doc.defaults() {
                let _ = doc.get("DEFAULT", o);
            }
        }
    }
}
