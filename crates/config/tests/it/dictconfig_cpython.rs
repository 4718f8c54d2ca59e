//! CPython's `ConfigDictTest` (Lib/test/test_logging.py), ported. The config documents in
//! `tests/corpus/cpython/dict_*.json` were dumped from CPython 3.11.7's test class
//! (`json.dumps(ConfigDictTest.configN)`), so they are CPython's own. Every accepted config is
//! run through the real `logging.config.dictConfig` as well and the outputs must match; the
//! expected lines of CPython's test are asserted too, so an agreement on "no output" cannot
//! pass by accident.
//!
//! Deliberately rejected (CPython runs code for these; logwire never does):
//! - config4 / custom_formatter_class_validate: formatter `'()'` factory: "'()' factories are not allowed".
//! - config4a / config17 / custom_formatter_with_function: hold Python objects, not data (no JSON form: not portable).
//! - config5: handler `class` `test.test_logging.CustomHandler`: "classes are looked up in logwire's registry, never imported".
//! - config14: handler `'.'` attribute setting: "'.' attribute setting is not allowed".
//! - custom_formatter_class_validate2: formatter `class` other than logging.Formatter: "only logging.Formatter is available".
//! - `ext://` other than sys.stdout/sys.stderr (imports a module): "only ext://sys.stdout and ext://sys.stderr".
//!
//! 3.12+/3.13-only behaviour, tested against logwire alone (CPython 3.11 lacks it):
//! config16 formatter `defaults`, config18 MemoryHandler `flushLevel` given as a level name.

use crate::common;

use common::*;
use logwire_config::{Configurator, ContentPolicy, SourceFormat};
use logwire_engine::{LoggerTree, Value};

fn dict(name: &str) -> String {
    corpus(&format!("cpython/dict_{name}.json"))
}

/// Runs `scenario` in both, asserts they agree, and that logwire wrote `expected` lines.
fn same_and_expected(name: &str, scenario: &Scenario, expected: &[&str]) -> Outcome {
    let out = assert_same(name, scenario);
    assert!(
        out.applies.iter().all(Result::is_ok),
        "{name}: {:?}",
        out.applies
    );
    assert_eq!(
        out.stdout_lines(),
        expected,
        "{name}: CPython's test expects these lines"
    );
    out
}

/// Both must reject apply number `index`; logwire's error must contain `place` and `why`.
fn both_reject(name: &str, scenario: &Scenario, index: usize, place: &str, why: &str) {
    let py = run_python(scenario);
    let lw = run_logwire(scenario);
    assert!(py.applies[index].is_err(), "{name}: CPython accepted it");
    let err = lw.applies[index]
        .as_ref()
        .expect_err("logwire accepted a config CPython rejects");
    assert!(
        err.contains(place),
        "{name}: error should name the place '{place}':\n{err}"
    );
    assert!(
        err.contains(why),
        "{name}: error should say '{why}':\n{err}"
    );
    assert_eq!(lw.stdout, py.stdout, "{name}: output differs");
}

#[test]
fn config0_root_warning_to_stdout() {
    let s = Scenario::new()
        .apply_json(&dict("config0"))
        .log("", INFO, "1")
        .log("", ERROR, "2");
    same_and_expected("config0", &s, &["ERROR ++ 2"]);
}

#[test]
fn config1_named_logger() {
    let s = Scenario::new()
        .apply_json(&dict("config1"))
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2");
    same_and_expected("config1", &s, &["INFO ++ 1", "ERROR ++ 2"]);
}

#[test]
fn config11_cfg_references() {
    let s = Scenario::new()
        .apply_json(&dict("config11"))
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2");
    same_and_expected("config11", &s, &["INFO ++ 1", "ERROR ++ 2"]);
}

#[test]
fn config7_disables_loggers_not_named() {
    let s = Scenario::new()
        .apply_json(&dict("config1"))
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2")
        .apply_json(&dict("config7"))
        .state("compiler.parser")
        .log("compiler.parser", ERROR, "not shown")
        .log("compiler.lexer", INFO, "3")
        .log("compiler.lexer", ERROR, "4");
    let out = same_and_expected(
        "config7",
        &s,
        &["INFO ++ 1", "ERROR ++ 2", "INFO ++ 3", "ERROR ++ 4"],
    );
    assert!(
        out.observations[0].contains("disabled=True"),
        "{:?}",
        out.observations
    );
}

#[test]
fn config8_keeps_existing_loggers() {
    let s = Scenario::new()
        .apply_json(&dict("config1"))
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2")
        .apply_json(&dict("config8"))
        .state("compiler.parser")
        .log("compiler.parser", INFO, "3")
        .log("compiler.parser", ERROR, "4")
        .log("compiler.lexer", INFO, "5")
        .log("compiler.lexer", ERROR, "6");
    let out = same_and_expected(
        "config8",
        &s,
        &[
            "INFO ++ 1",
            "ERROR ++ 2",
            "INFO ++ 3",
            "ERROR ++ 4",
            "INFO ++ 5",
            "ERROR ++ 6",
        ],
    );
    assert!(
        out.observations[0].contains("disabled=False"),
        "{:?}",
        out.observations
    );
}

#[test]
fn config8a_children_reset_not_disabled_and_hyphenated_disabled() {
    let s = Scenario::new()
        .apply_json(&dict("config1a"))
        .touch("compiler.parser")
        .touch("compiler-hyphenated")
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2")
        .log("compiler-hyphenated", CRITICAL, "3")
        .apply_json(&dict("config8a"))
        .state("compiler.parser")
        .state("compiler-hyphenated")
        .log("compiler.parser", INFO, "4")
        .log("compiler.parser", ERROR, "5")
        .log("compiler.lexer", INFO, "6")
        .log("compiler.lexer", ERROR, "7")
        .log("compiler-hyphenated", CRITICAL, "8");
    let out = same_and_expected(
        "config8a",
        &s,
        &[
            "INFO ++ 1",
            "ERROR ++ 2",
            "CRITICAL ++ 3",
            "INFO ++ 4",
            "ERROR ++ 5",
            "INFO ++ 6",
            "ERROR ++ 7",
        ],
    );
    assert!(
        out.observations[0].contains("disabled=False"),
        "{:?}",
        out.observations
    );
    assert!(
        out.observations[1].contains("disabled=True"),
        "{:?}",
        out.observations
    );
}

#[test]
fn config9_incremental_levels() {
    let s = Scenario::new()
        .apply_json(&dict("config9"))
        .log("compiler.parser", INFO, "1")
        .apply_json(&dict("config9a"))
        .log("compiler.parser", INFO, "2")
        .apply_json(&dict("config9b"))
        .log("compiler.parser", INFO, "3");
    same_and_expected("config9", &s, &["INFO ++ 3"]);
}

#[test]
fn incremental_with_unknown_handler_is_rejected_and_changes_nothing() {
    let incremental = r#"{"version": 1, "incremental": true,
        "handlers": {"nosuch": {"level": "DEBUG"}},
        "loggers": {"compiler.parser": {"level": "DEBUG"}}}"#;
    let s = Scenario::new()
        .apply_json(&dict("config9"))
        .apply_json(incremental)
        .state("compiler.parser")
        .log("compiler.parser", WARNING, "1");
    let py = run_python(&s);
    let lw = run_logwire(&s);
    assert!(py.applies[1].is_err());
    let err = lw.applies[1].as_ref().unwrap_err();
    assert!(
        err.contains("handlers.nosuch") && err.contains("no handler found"),
        "{err}"
    );
    // CPython changes the levels of what came before the bad name; logwire changes nothing.
    assert_eq!(
        lw.observations,
        ["compiler.parser: disabled=False level=30 propagate=True handlers=1"]
    );
    assert_eq!(lw.stdout, py.stdout);
}

#[test]
fn config10_filters_on_handler_and_logger() {
    let s = Scenario::new()
        .apply_json(&dict("config10"))
        .log("compiler.parser", WARNING, "1")
        .log("compiler", WARNING, "2")
        .log("compiler.lexer", WARNING, "3")
        .log("compiler.parser.codegen", ERROR, "4");
    same_and_expected("config10", &s, &["WARNING ++ 1", "ERROR ++ 4"]);
}

#[test]
fn config15_file_handler_applied_twice() {
    let config = r#"{"version": 1,
        "formatters": {"f": {"format": "%(levelname)s ++ %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": "@TMP@/x.log",
                              "encoding": "utf-8", "formatter": "f"}},
        "root": {"handlers": ["file"]}}"#;
    let s = Scenario::new()
        .apply_json(config)
        .log("", WARNING, "1")
        .apply_json(config)
        .log("", WARNING, "2")
        .file("x.log");
    let out = same_and_expected("config15", &s, &[]);
    assert_eq!(
        out.observations,
        ["x.log: 'WARNING ++ 1\\nWARNING ++ 2\\n'"]
    );

    // And the first handler was closed by the second apply.
    let dir = tempfile::tempdir().unwrap();
    let text = config.replace("@TMP@", dir.path().to_str().unwrap());
    let tree = LoggerTree::new();
    let cfg = Configurator::default();
    cfg.apply_text(&tree, &text, SourceFormat::Json).unwrap();
    let first = tree.snapshot().root().handlers()[0].clone();
    let report = cfg.apply_text(&tree, &text, SourceFormat::Json).unwrap();
    assert_eq!(report.handlers_closed, 1);
    assert!(!std::sync::Arc::ptr_eq(
        &first,
        &tree.snapshot().root().handlers()[0]
    ));
}

#[test]
fn gh90195_configured_logger_is_enabled_again() {
    let with_a = r#"{"version": 1, "disable_existing_loggers": false,
        "handlers": {"console": {"level": "DEBUG", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
        "loggers": {"a": {"level": "DEBUG", "handlers": ["console"]}}}"#;
    let with_a_default = with_a.replace(r#""disable_existing_loggers": false,"#, "");
    let s = Scenario::new()
        .touch("a")
        .state("a")
        .apply_json(with_a)
        .state("a")
        .apply_json(r#"{"version": 1}"#)
        .state("a")
        .apply_json(&with_a_default)
        .state("a")
        .log("a", INFO, "shown");
    let out = same_and_expected("90195", &s, &["shown"]);
    let disabled: Vec<bool> = out
        .observations
        .iter()
        .map(|o| o.contains("disabled=True"))
        .collect();
    assert_eq!(disabled, [false, false, true, false]);
}

#[test]
fn root_is_never_disabled_and_children_are_reset() {
    let first = r#"{"version": 1, "formatters": {"f": {"format": "%(name)s %(levelname)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
        "loggers": {"p": {"level": "ERROR", "handlers": ["h"]}, "p.c": {"level": "CRITICAL", "handlers": ["h"], "propagate": false},
                    "pq": {}, "p-x": {}, "other": {}},
        "root": {"level": "DEBUG", "handlers": ["h"]}}"#;
    let second = r#"{"version": 1, "formatters": {"f": {"format": "%(name)s %(levelname)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
        "loggers": {"p": {"level": "INFO"}}, "root": {"handlers": ["h"]}}"#;
    let mut s = Scenario::new()
        .apply_json(first)
        .touch("p.c.d")
        .apply_json(second);
    for name in ["root", "p", "p.c", "p.c.d", "pq", "p-x", "other"] {
        s = s.state(name);
    }
    for name in ["p", "p.c", "p.c.d", "pq", "p-x", "other", "root"] {
        s = s.log(name, WARNING, name);
    }
    same_and_expected(
        "children",
        &s,
        &[
            "p WARNING p",
            "p.c WARNING p.c",
            "p.c.d WARNING p.c.d",
            "root WARNING root",
        ],
    );
}

#[test]
fn bad_format_with_dollar_style_memory_handler_targets_later_handler() {
    // CPython's own config has `"propagate": "true"` (a string): accepted by its truth, as
    // CPython does, and the config must behave exactly as CPython's.
    let cpython_text = dict("out_of_order").replace(
        "%(asctime)s (%(name)s) %(levelname)s: %(message)s",
        "${asctime} (${name}) ${levelname}: ${message}",
    );
    assert!(cpython_text.contains("\"true\""));
    let text = cpython_text.replace("${asctime} ", "").replace(
        "\"class\": \"logging.StreamHandler\",",
        "\"class\": \"logging.StreamHandler\", \"stream\": \"ext://sys.stdout\",",
    );
    let mut s = Scenario::new().apply_json(&text);
    for i in 1..=6 {
        s = s.log("mymodule", INFO, &i.to_string());
    }
    let out = same_and_expected(
        "dollar_style",
        &s,
        &[
            "(mymodule) INFO: 1",
            "(mymodule) INFO: 2",
            "(mymodule) INFO: 3",
            "(mymodule) INFO: 4",
            "(mymodule) INFO: 5",
        ],
    );
    assert_eq!(out.applies.len(), 1);

    // The handler names are both registered, the memory handler sends to the stream handler.
    let tree = LoggerTree::new();
    let capture = Capture::default();
    configurator(ContentPolicy::trusted(), &capture)
        .apply_text(&tree, &text, SourceFormat::Json)
        .unwrap();
    let mut names = tree
        .snapshot()
        .handler_names()
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["bufferGlobal", "fileGlobal"]);
}

#[test]
fn config16_formatter_defaults() {
    // 3.12+: CPython 3.11's dictConfig ignores `defaults`; expected lines from CPython 3.12's test.
    let text = r#"{"version": 1,
        "formatters": {"f": {"format": "%(message)s ++ %(customfield)s", "defaults": {"customfield": "defaultvalue"}}},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
        "root": {"level": "DEBUG", "handlers": ["h"]}}"#;
    let tree = LoggerTree::new();
    let capture = Capture::default();
    configurator(ContentPolicy::trusted(), &capture)
        .apply_text(&tree, text, SourceFormat::Json)
        .unwrap();
    let logger = tree.get_logger("my_test_logger_custom_formatter");
    logger.log_with(WARNING, "Hello", |r| {
        r.extra
            .push(("customfield".into(), Value::Str("customvalue".into())))
    });
    logger.warning("Hello");
    assert_eq!(
        capture.stdout.text(),
        "Hello ++ customvalue\nHello ++ defaultvalue\n"
    );
}

#[test]
fn config18_memory_handler_flush_level_name_and_target_after_it() {
    // 3.13: `flushLevel` may be a level name; "buffering" sorts before its target "console".
    let with_name = r#"{"version": 1,
        "formatters": {"f": {"format": "%(levelname)s ++ %(message)s"}},
        "handlers": {
          "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f", "level": "DEBUG"},
          "buffering": {"class": "logging.handlers.MemoryHandler", "capacity": 5, "target": "console",
                        "level": "DEBUG", "flushLevel": "ERROR"}},
        "loggers": {"mymodule": {"level": "DEBUG", "handlers": ["buffering"], "propagate": true}}}"#;
    // CPython 3.11 cannot take the name; the number gives the same behaviour there.
    let with_number = with_name.replace("\"ERROR\"", "40");
    let s = Scenario::new()
        .apply_json(&with_number)
        .log("mymodule", INFO, "1")
        .log("mymodule", WARNING, "2")
        .log("mymodule", ERROR, "3")
        .log("mymodule", INFO, "4");
    same_and_expected(
        "config18 (number)",
        &s,
        &["INFO ++ 1", "WARNING ++ 2", "ERROR ++ 3"],
    );
    let mut by_name = Scenario::new().apply_json(with_name);
    by_name.steps.extend(s.steps[1..].iter().cloned());
    let lw = run_logwire(&by_name);
    assert_eq!(lw.applies, [Ok(())]);
    assert_eq!(
        lw.stdout_lines(),
        ["INFO ++ 1", "WARNING ++ 2", "ERROR ++ 3"]
    );
}

// ---- CPython rejects these: logwire must too, naming the place ----------------------------

#[test]
fn config2_unresolvable_ext_stream() {
    both_reject(
        "config2",
        &Scenario::new().apply_json(&dict("config2")),
        0,
        "handlers.hand1.stream",
        "ext://sys.stdbout",
    );
}

#[test]
fn config2a_unknown_handler_level() {
    both_reject(
        "config2a",
        &Scenario::new().apply_json(&dict("config2a")),
        0,
        "handlers.hand1.level",
        "unknown level 'NTOSET'",
    );
}

#[test]
fn config2b_unknown_root_level() {
    both_reject(
        "config2b",
        &Scenario::new().apply_json(&dict("config2b")),
        0,
        "root.level",
        "unknown level 'WRANING'",
    );
}

#[test]
fn config3_unknown_formatter() {
    both_reject(
        "config3",
        &Scenario::new().apply_json(&dict("config3")),
        0,
        "handlers.hand1.formatter",
        "unknown formatter 'misspelled_name'",
    );
}

#[test]
fn config6_invalid_keyword_name() {
    both_reject(
        "config6",
        &Scenario::new().apply_json(&dict("config6")),
        0,
        "handlers.hand1.9",
        "not a valid Python identifier",
    );
}

#[test]
fn config12_no_version() {
    both_reject(
        "config12",
        &Scenario::new().apply_json(&dict("config12")),
        0,
        "version",
        "doesn't specify a version",
    );
}

#[test]
fn config13_version_2() {
    both_reject(
        "config13",
        &Scenario::new().apply_json(&dict("config13")),
        0,
        "version",
        "unsupported version 2",
    );
}

#[test]
fn bad_format_percent_fields_with_dollar_style() {
    // The original also has the string propagate; make that valid so only the format is wrong.
    let text = dict("out_of_order").replace("\"true\"", "true");
    both_reject(
        "out_of_order",
        &Scenario::new().apply_json(&text),
        0,
        "formatters.mySimpleFormatter",
        "",
    );
}

#[test]
fn rejection_leaves_previous_config_in_place() {
    // CPython half-applies config2a; logwire keeps config0 whole.
    let s = Scenario::new()
        .apply_json(&dict("config0"))
        .apply_json(&dict("config2a"))
        .log("", ERROR, "still configured");
    let lw = run_logwire(&s);
    assert!(lw.applies[1].is_err());
    assert_eq!(lw.stdout_lines(), ["ERROR ++ still configured"]);
}

// ---- deliberate rejections: CPython accepts, logwire refuses ------------------------------

#[test]
fn config4_formatter_factory_is_refused() {
    assert_deliberately_rejected(
        "config4",
        &Scenario::new().apply_json(&dict("config4")),
        0,
        "'()' factories are not allowed",
    );
    let lw = run_logwire(&Scenario::new().apply_json(&dict("config4")));
    assert!(
        lw.applies[0]
            .as_ref()
            .unwrap_err()
            .contains("formatters.form1.()"),
        "{:?}",
        lw.applies
    );
}

#[test]
fn custom_formatter_class_validate_factory_is_refused() {
    let s = Scenario::new().apply_json(&dict("custom_formatter_class_validate"));
    assert_deliberately_rejected(
        "custom_formatter_class_validate",
        &s,
        0,
        "'()' factories are not allowed",
    );
}

#[test]
fn config5_custom_handler_class_is_refused() {
    let s = Scenario::new().apply_json(&dict("config5"));
    assert_deliberately_rejected(
        "config5",
        &s,
        0,
        "classes are looked up in logwire's registry, never imported",
    );
    let lw = run_logwire(&s);
    assert!(
        lw.applies[0]
            .as_ref()
            .unwrap_err()
            .contains("handlers.hand1.class: unknown handler class")
    );
}

#[test]
fn config14_attribute_setting_is_refused() {
    let s = Scenario::new().apply_json(&dict("config14"));
    assert_deliberately_rejected("config14", &s, 0, "'.' attribute setting is not allowed");
}

#[test]
fn custom_formatter_class_is_refused() {
    let s = Scenario::new().apply_json(&dict("custom_formatter_class_validate2"));
    assert_deliberately_rejected(
        "custom_formatter_class_validate2",
        &s,
        0,
        "only logging.Formatter is available",
    );
}

#[test]
fn ext_other_than_standard_streams_is_refused() {
    // Applying only (no logging): sys.__stdout__ is the driver's real stdout.
    let text = r#"{"version": 1, "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.__stdout__"}}}"#;
    let s = Scenario::new().apply_json(text);
    assert_deliberately_rejected(
        "ext://sys.__stdout__",
        &s,
        0,
        "only ext://sys.stdout and ext://sys.stderr",
    );
    let lw = run_logwire(&s);
    assert!(
        lw.applies[0]
            .as_ref()
            .unwrap_err()
            .starts_with("handlers.h.stream:")
    );
}

#[test]
fn filter_factory_is_refused() {
    // The documented remote-code-execution path over listen(): a filter that runs a callable.
    let text = r#"{"version": 1, "filters": {"x": {"()": "os.getcwd"}}}"#;
    let s = Scenario::new().apply_json(text);
    assert_deliberately_rejected("filter '()'", &s, 0, "'()' factories are not allowed");
}

/// Documents CPython accepts that logwire rejected until `differential_dictconfig` found them:
/// a bool level (True is level 1), `mode` of a RotatingFileHandler with `maxBytes > 0`
/// (replaced by 'a' unread, even a wrong type), mode 'w' with `delay` (no file to truncate
/// yet), and the formatters/filters of an incremental config (never read).
#[test]
fn documents_found_by_the_differential_test() {
    let docs = [
        r#"{"version": 1, "root": {"level": true}, "loggers": {"a": {"level": false}}}"#,
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.RotatingFileHandler",
            "filename": "@TMP@/r.log", "maxBytes": 1024, "mode": 3}}, "root": {"handlers": ["h"]}}"#,
        r#"{"version": 1, "handlers": {"h": {"class": "logging.FileHandler",
            "filename": "@TMP@/d.log", "mode": "w", "delay": true}}, "root": {"handlers": ["h"]}}"#,
        r#"{"version": 1, "incremental": true, "filters": "x", "formatters": {"f": 5}}"#,
    ];
    for (i, doc) in docs.iter().enumerate() {
        let s = Scenario::new()
            .apply_json(doc)
            .state("")
            .state("a")
            .log("", CRITICAL, "m");
        let out = assert_same(&format!("doc {i}"), &s);
        assert!(out.applies[0].is_ok(), "doc {i}: {:?}", out.applies);
    }
}
