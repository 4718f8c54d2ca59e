//! Issue 16 item 4: values Python reads by truth or keeps for later are accepted with
//! CPython's meaning (`"propagate": "no"` and `"False"` are true, `""` is false;
//! `"delay": "True"` delays), and the same records land in the same places as with CPython's
//! `dictConfig`. `"backupCount": "31"` is accepted as 31 (CPython keeps the string and only
//! fails when it compares it at a rollover, which this config never reaches). Whatever may
//! surprise is reported by `PreparedConfig::warnings` (`logwire check` prints them).

use crate::common;

use common::*;
use logwire_config::{Configurator, SourceFormat};

const INFO: i32 = 20;
const WARNING: i32 = 30;

const CONFIG: &str = r#"{"version": 1, "disable_existing_loggers": "False",
  "formatters": {"f": {"format": "%(name)s %(levelname)s %(message)s"}},
  "handlers": {
    "out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"},
    "later": {"class": "logging.handlers.RotatingFileHandler", "filename": "@TMP@/later.log",
              "delay": "True", "backupCount": "31", "formatter": "f"}},
  "loggers": {
    "a": {"propagate": "no", "handlers": ["out"]},
    "b": {"propagate": "False", "handlers": ["out"]},
    "c": {"propagate": "", "handlers": ["out"]},
    "d": {"propagate": 0, "level": "INFO", "handlers": ["later"]}},
  "root": {"level": "INFO", "handlers": ["out"]}}"#;

#[test]
fn truthy_strings_mean_what_they_mean_in_cpython() {
    let scenario = Scenario::new()
        .apply_json(CONFIG)
        .state("a")
        .state("b")
        .state("c")
        .state("d")
        // delay: nothing is created before the first record.
        .file("later.log")
        .log("a", WARNING, "from a")
        .log("b", WARNING, "from b")
        .log("c", WARNING, "from c")
        .log("d", INFO, "from d")
        .file("later.log");
    let out = assert_same("truthiness", &scenario);
    assert!(out.applies[0].is_ok(), "{:?}", out.applies);
    assert_eq!(
        out.observations,
        [
            "a: disabled=False level=0 propagate=True handlers=1",
            "b: disabled=False level=0 propagate=True handlers=1",
            "c: disabled=False level=0 propagate=False handlers=1",
            "d: disabled=False level=20 propagate=False handlers=1",
            "later.log: missing",
            "later.log: 'd INFO from d\\n'",
        ]
    );
    // a and b propagate to the root's handler too; c does not.
    assert_eq!(
        out.stdout_lines(),
        [
            "a WARNING from a",
            "a WARNING from a",
            "b WARNING from b",
            "b WARNING from b",
            "c WARNING from c",
        ]
    );
}

#[test]
fn surprising_values_are_warned_about_with_their_places() {
    let text = CONFIG.replace("@TMP@", "/tmp/logwire-truthiness-never-built");
    let prepared = Configurator::default()
        .check_text(&text, SourceFormat::Json)
        .unwrap();
    let warnings: Vec<String> = prepared.warnings().iter().map(|w| w.to_string()).collect();
    let has = |place: &str, what: &str| {
        warnings
            .iter()
            .any(|w| w.starts_with(&format!("{place}: ")) && w.contains(what))
    };
    assert!(
        has("disable_existing_loggers", "read it as true"),
        "{warnings:?}"
    );
    assert!(
        has("loggers.a.propagate", "'no' is a non-empty string"),
        "{warnings:?}"
    );
    assert!(has("loggers.b.propagate", "'False'"), "{warnings:?}");
    assert!(
        has("handlers.later.backupCount", "reads it as 31"),
        "{warnings:?}"
    );
    // "True" means true to everyone, "" is false to everyone: nothing to warn about.
    assert!(
        !warnings.iter().any(|w| w.contains("handlers.later.delay")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("loggers.c")),
        "{warnings:?}"
    );
    assert_eq!(warnings.len(), 4, "{warnings:?}");
}
