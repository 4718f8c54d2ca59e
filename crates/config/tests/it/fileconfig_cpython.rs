//! CPython's `ConfigFileTest` (Lib/test/test_logging.py), ported. The INI files in
//! `tests/corpus/cpython/file_*.ini` are CPython 3.11.7's own test configs (dedented). Each
//! accepted config also runs through the real `logging.config.fileConfig` and the outputs
//! must match; CPython's expected lines are asserted as well.
//!
//! Deliberately rejected (CPython `eval`s these; logwire parses literals only):
//! - config4: `[formatter_form1] class=test.test_logging.ExceptionFormatter`: "only logging.Formatter is available".
//! - handler `class` outside the registry (`test.test_logging.CustomHandler` would be imported): "never imported".
//! - `args` with a call (`getattr(sys, 'stdout')`): any expression that runs code: "not a Python literal".
//! - `args` with `__import__('os')...`: the known fileConfig code-execution hole (gh-80203): "not a Python literal".
//!
//! 3.12+ only, tested against logwire alone: config9 formatter `defaults`.

use crate::common;

use common::*;
use logwire_config::{Configurator, ContentPolicy, SourceFormat};
use logwire_engine::{LoggerTree, Value};

fn ini(name: &str) -> String {
    corpus(&format!("cpython/file_{name}.ini"))
}

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

fn both_reject(name: &str, scenario: &Scenario, index: usize, place: &str, why: &str) -> String {
    let py = run_python(scenario);
    let lw = run_logwire(scenario);
    assert!(py.applies[index].is_err(), "{name}: CPython accepted it");
    let err = lw.applies[index]
        .clone()
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
    err
}

fn parser_messages(config: &str) -> Scenario {
    Scenario::new()
        .apply_ini(config)
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2")
}

#[test]
fn config0_root_warning_to_stdout() {
    let s = Scenario::new()
        .apply_ini(&ini("config0"))
        .log("", INFO, "1")
        .log("", ERROR, "2");
    same_and_expected("config0", &s, &["ERROR ++ 2"]);
}

#[test]
fn config1_named_logger() {
    same_and_expected(
        "config1",
        &parser_messages(&ini("config1")),
        &["INFO ++ 1", "ERROR ++ 2"],
    );
}

#[test]
fn config5_full_class_name() {
    same_and_expected(
        "config5",
        &parser_messages(&ini("config5")),
        &["INFO ++ 1", "ERROR ++ 2"],
    );
}

#[test]
fn config6_keys_with_spaces() {
    same_and_expected(
        "config6",
        &parser_messages(&ini("config6")),
        &["INFO ++ 1", "ERROR ++ 2"],
    );
}

#[test]
fn config4_without_custom_class() {
    let text: String = ini("config4")
        .lines()
        .filter(|l| !l.starts_with("class=test."))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, ini("config4"));
    let s = Scenario::new()
        .apply_ini(&text)
        .log("", ERROR, "just testing");
    same_and_expected(
        "config4 (plain formatter)",
        &s,
        &["ERROR:root:just testing"],
    );
}

#[test]
fn config7_kwargs_stream_and_hyphenated_logger() {
    let s = Scenario::new()
        .apply_ini(&ini("config1a"))
        .touch("compiler.parser")
        .touch("compiler-hyphenated")
        .log("compiler.parser", INFO, "1")
        .log("compiler.parser", ERROR, "2")
        .log("compiler-hyphenated", CRITICAL, "3")
        .apply_ini(&ini("config7"))
        .state("compiler.parser")
        .state("compiler-hyphenated")
        .log("compiler.parser", INFO, "4")
        .log("compiler.parser", ERROR, "5")
        .log("compiler.lexer", INFO, "6")
        .log("compiler.lexer", ERROR, "7")
        .log("compiler-hyphenated", CRITICAL, "8");
    let out = same_and_expected(
        "config7",
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
    assert!(out.observations[0].contains("disabled=False"));
    assert!(out.observations[1].contains("disabled=True"));
}

#[test]
fn config8_file_handler_args_and_kwargs_applied_twice() {
    let text = ini("config8")
        .replace("{tempfile}", "@TMP@/x.log")
        .replace("{{", "{")
        .replace("}}", "}");
    let s = Scenario::new()
        .apply_ini(&text)
        .log("", DEBUG, "one")
        .apply_ini(&text)
        .log("", DEBUG, "two")
        .file("x.log");
    let out = same_and_expected("config8", &s, &[]);
    assert_eq!(out.observations, ["x.log: 'one\\ntwo\\n'"]);
}

#[test]
fn logger_disabling() {
    let s = Scenario::new()
        .apply_ini(&ini("disable_test"))
        .touch("some_pristine_logger")
        .state("some_pristine_logger")
        .apply_ini(&ini("disable_test"))
        .state("some_pristine_logger")
        .apply_ini_with(&ini("disable_test"), Some(false), &[])
        .state("some_pristine_logger")
        .log("some_pristine_logger", DEBUG, "enabled again");
    let out = same_and_expected("disable_test", &s, &["enabled again"]);
    let disabled: Vec<bool> = out
        .observations
        .iter()
        .map(|o| o.contains("disabled=True"))
        .collect();
    assert_eq!(disabled, [false, true, false]);
}

#[test]
fn handler_names_are_the_section_ids() {
    let text = "[loggers]\nkeys=root\n\n[handlers]\nkeys=hand1\n\n[formatters]\nkeys=form1\n\n\
                [logger_root]\nhandlers=hand1\n\n[handler_hand1]\nclass=StreamHandler\nformatter=form1\n\n\
                [formatter_form1]\nformat=%(levelname)s ++ %(message)s\n";
    assert_same(
        "set_handler_names",
        &Scenario::new().apply_ini(text).state("root"),
    );
    let tree = LoggerTree::new();
    Configurator::default()
        .apply_text(&tree, text, SourceFormat::Ini)
        .unwrap();
    assert_eq!(tree.snapshot().root().handlers()[0].name(), Some("hand1"));
}

#[test]
fn defaults_do_no_interpolation() {
    // bpo-33802: fileConfig's `defaults` holding `%(...)s` text must not be interpolated.
    let text = "[formatters]\nkeys=default\n\n[formatter_default]\n\n[handlers]\nkeys=console\n\n\
                [handler_console]\nclass=logging.StreamHandler\nargs=tuple()\n\n[loggers]\nkeys=root\n\n\
                [logger_root]\nformatter=default\nhandlers=console\n";
    let formatters = "{'generic': {'format': '%(asctime)s [%(process)d] [%(levelname)s] %(message)s', \
                      'datefmt': '[%Y-%m-%d %H:%M:%S %z]', 'class': 'logging.Formatter'}}";
    let defaults = [
        ("version", "1"),
        ("disable_existing_loggers", "False"),
        ("formatters", formatters),
    ];
    let s = Scenario::new()
        .apply_ini_with(text, None, &defaults)
        .state("root");
    let out = assert_same("defaults_do_no_interpolation", &s);
    assert_eq!(out.applies, [Ok(())]);
}

#[test]
fn config9_formatter_defaults() {
    // 3.12+ (`defaults=` in a formatter section); expected lines from CPython 3.12's test.
    let text = "[loggers]\nkeys=root\n\n[handlers]\nkeys=hand1\n\n[formatters]\nkeys=form1\n\n\
                [logger_root]\nlevel=WARNING\nhandlers=hand1\n\n[handler_hand1]\nclass=StreamHandler\n\
                level=NOTSET\nformatter=form1\nargs=(sys.stdout,)\n\n[formatter_form1]\n\
                format=%(message)s ++ %(customfield)s\ndefaults={\"customfield\": \"defaultvalue\"}\n";
    let tree = LoggerTree::new();
    let capture = Capture::default();
    configurator(ContentPolicy::trusted(), &capture)
        .apply_text(&tree, text, SourceFormat::Ini)
        .unwrap();
    let logger = tree.get_logger("my_test_logger_custom_formatter");
    logger.warning("test");
    logger.log_with(WARNING, "test", |r| {
        r.extra
            .push(("customfield".into(), Value::Str("customvalue".into())))
    });
    assert_eq!(
        capture.stdout.text(),
        "test ++ defaultvalue\ntest ++ customvalue\n"
    );
}

// ---- CPython rejects these: logwire must too, naming the place ----------------------------

#[test]
fn config2_misspelled_stream_in_args() {
    both_reject(
        "config2",
        &Scenario::new().apply_ini(&ini("config2")),
        0,
        "[handler_hand1] args",
        "sys.stbout",
    );
}

#[test]
fn config3_unknown_formatter() {
    both_reject(
        "config3",
        &Scenario::new().apply_ini(&ini("config3")),
        0,
        "[handler_hand1]",
        "misspelled_name",
    );
}

#[test]
fn invalid_file_with_stray_line() {
    let text = "[loggers]\nkeys=root\n\n[handlers]\nkeys=hand1\n\n[formatters]\nkeys=form1\n\n\
                [logger_root]\nhandlers=hand1\n\n[handler_hand1]\nclass=StreamHandler\nformatter=form1\n\n\
                [formatter_form1]\nformat=%(levelname)s ++ %(message)s\n\nprince\n";
    let err = both_reject(
        "stray line",
        &Scenario::new().apply_ini(text),
        0,
        "document",
        "not a valid INI document",
    );
    assert!(
        err.contains("prince") || err.contains("line 21"),
        "the error should point at the line: {err}"
    );
}

#[test]
fn empty_file() {
    both_reject(
        "empty",
        &Scenario::new().apply_ini(""),
        0,
        "document",
        "empty",
    );
    both_reject(
        "blank",
        &Scenario::new().apply_ini("\n  \n"),
        0,
        "document",
        "",
    );
}

#[test]
fn missing_sections() {
    let no_loggers = "[handlers]\nkeys=\n\n[formatters]\nkeys=\n";
    both_reject(
        "no [loggers]",
        &Scenario::new().apply_ini(no_loggers),
        0,
        "[loggers]",
        "missing section",
    );
    let no_root = "[loggers]\nkeys=a\n\n[handlers]\nkeys=\n\n[formatters]\nkeys=\n\n[logger_a]\nqualname=a\nhandlers=\n";
    both_reject(
        "no root",
        &Scenario::new().apply_ini(no_root),
        0,
        "[loggers] keys",
        "must include 'root'",
    );
    let no_handler_section = "[loggers]\nkeys=root\n\n[handlers]\nkeys=h\n\n[formatters]\nkeys=\n\n[logger_root]\nhandlers=h\n";
    both_reject(
        "no [handler_h]",
        &Scenario::new().apply_ini(no_handler_section),
        0,
        "[handler_h]",
        "missing section",
    );
    let no_qualname = "[loggers]\nkeys=root,a\n\n[handlers]\nkeys=\n\n[formatters]\nkeys=\n\n\
                       [logger_root]\nhandlers=\n\n[logger_a]\nhandlers=\n";
    both_reject(
        "no qualname",
        &Scenario::new().apply_ini(no_qualname),
        0,
        "[logger_a] qualname",
        "missing",
    );
}

#[test]
fn unknown_level_names_the_section() {
    let text = ini("config0").replace("level=WARNING", "level=WRANING");
    both_reject(
        "root level",
        &Scenario::new().apply_ini(&text),
        0,
        "[logger_root] level",
        "unknown level 'WRANING'",
    );
}

#[test]
fn minimal_valid_file_leaves_root_level() {
    let text =
        "[loggers]\nkeys=root\n[handlers]\nkeys=\n[formatters]\nkeys=\n[logger_root]\nhandlers=\n";
    let out = assert_same("minimal", &Scenario::new().apply_ini(text).state("root"));
    assert_eq!(
        out.observations,
        ["root: disabled=False level=30 propagate=True handlers=0"]
    );
}

// ---- deliberate rejections: CPython accepts, logwire refuses ------------------------------

#[test]
fn config4_custom_formatter_class_is_refused() {
    let s = Scenario::new().apply_ini(&ini("config4"));
    assert_deliberately_rejected("config4", &s, 0, "only logging.Formatter is available");
    assert!(
        run_logwire(&s).applies[0]
            .as_ref()
            .unwrap_err()
            .contains("[formatter_form1] class")
    );
}

#[test]
fn custom_handler_class_is_refused() {
    let text = ini("config1").replace(
        "class=StreamHandler",
        "class=test.test_logging.CustomHandler",
    );
    let s = Scenario::new().apply_ini(&text);
    assert_deliberately_rejected("custom handler class", &s, 0, "never imported");
    assert!(
        run_logwire(&s).applies[0]
            .as_ref()
            .unwrap_err()
            .contains("[handler_hand1].class")
    );
}

#[test]
fn call_in_args_is_refused() {
    let text = ini("config1").replace("args=(sys.stdout,)", "args=(getattr(sys, 'stdout'),)");
    let s = Scenario::new().apply_ini(&text);
    assert_deliberately_rejected("getattr in args", &s, 0, "not a Python literal");
    assert!(
        run_logwire(&s).applies[0]
            .as_ref()
            .unwrap_err()
            .contains("[handler_hand1] args")
    );
}

#[test]
fn import_in_args_is_refused() {
    let text = ini("config1").replace(
        "args=(sys.stdout,)",
        "args=(sys.stdout if __import__('os').getcwd() else None,)",
    );
    let s = Scenario::new().apply_ini(&text);
    assert_deliberately_rejected("__import__ in args", &s, 0, "not a Python literal");
}
