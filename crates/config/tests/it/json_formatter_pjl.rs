//! Issue 16 item 8: python-json-logger's class names map to the built-in JSON formatter,
//! and its output equals the library's for the common options. Differential against the
//! real library, installed from PyPI into a venv this test creates (once per target dir):
//! each config is applied by CPython's dictConfig (with python-json-logger) and by logwire,
//! the same records go through both, and stdout must be equal byte for byte.

use crate::common;

use common::{Capture, configurator};
use logwire_config::{ContentPolicy, SourceFormat};
use logwire_engine::LoggerTree;
use logwire_test_support::python;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub(crate) const RECORDS: &str = r#"[
 {"level": 10, "msg": "debug %s", "args": ["detail"]},
 {"level": 20, "msg": "info plain", "args": ["unused"]},
 {"level": 30, "msg": "warning %d%% of %s", "args": [93, "disk"]},
 {"level": 40, "msg": "error %s", "args": ["x"],
  "exc_text": "Traceback (most recent call last):\n  File \"/srv/app/views.py\", line 41, in handle\n    1 / 0\nZeroDivisionError: division by zero"},
 {"level": 50, "msg": "critical %s", "args": ["y"],
  "stack_info": "Stack (most recent call last):\n  File \"/srv/app/main.py\", line 9, in <module>\n    main()"},
 {"level": 20, "msg": "unicode \u00fcn\u00ef \u20ac \ud834\udd1e \"q\" \\ %s", "args": ["\u2713"]},
 {"level": 30, "msg": "multi\nline\ttab %s", "args": ["z"]},
 {"level": 20, "msg": "with extras %s", "args": ["x"], "extra": {"request_id": "r-1", "user": "ann", "n": 7}}
]"#;

pub(crate) use logwire_test_support::pinned_records::{self, CREATED};

/// dictConfig documents: each routes logger `app` to stdout through one JSON formatter.
fn configs() -> Vec<(&'static str, String)> {
    let wrap = |formatter: &str| {
        format!(
            r#"{{"version": 1, "disable_existing_loggers": false,
  "formatters": {{"json": {formatter}}},
  "handlers": {{"out": {{"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}}}},
  "loggers": {{"app": {{"level": "DEBUG", "handlers": ["out"], "propagate": false}}}}}}"#
        )
    };
    vec![
        (
            "class, jsonlogger name",
            wrap(
                r#"{"class": "pythonjsonlogger.jsonlogger.JsonFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}"#,
            ),
        ),
        (
            "class, json name, no format",
            wrap(r#"{"class": "pythonjsonlogger.json.JsonFormatter"}"#),
        ),
        (
            "factory with rename, static fields and timestamp",
            wrap(
                r#"{"()": "pythonjsonlogger.json.JsonFormatter", "format": "%(asctime)s %(levelname)s %(message)s",
                     "rename_fields": {"levelname": "level", "asctime": "time", "request_id": "rid"},
                     "static_fields": {"service": "api", "n": 3, "ok": true, "tags": ["a", "b"], "meta": {"zone": "eu", "limits": {"rps": 2.5, "ids": [1, 2]}}},
                     "timestamp": true}"#,
            ),
        ),
        (
            "factory, { style, timestamp key, ensure_ascii off",
            wrap(
                r#"{"()": "pythonjsonlogger.jsonlogger.JsonFormatter", "fmt": "{levelname} {message} {lineno} {levelname:<7}",
                     "style": "{", "timestamp": "ts", "json_ensure_ascii": false}"#,
            ),
        ),
        (
            "factory, reserved_attrs narrowed",
            wrap(
                r#"{"()": "pythonjsonlogger.json.JsonFormatter", "format": "%(message)s",
                     "reserved_attrs": ["args", "created", "msecs", "relativeCreated", "msg"]}"#,
            ),
        ),
        (
            "factory, prefix and datefmt",
            wrap(
                r#"{"()": "pythonjsonlogger.json.JsonFormatter", "format": "%(asctime)s %(name)s %(funcName)s %(message)s",
                     "datefmt": "%Y-%m-%dT%H:%M:%S", "prefix": "@cee: "}"#,
            ),
        ),
        (
            "$ style",
            wrap(
                r#"{"()": "pythonjsonlogger.json.JsonFormatter", "format": "$levelname ${message} $$", "style": "$"}"#,
            ),
        ),
    ]
}

/// The CPython side: applies each config with `apply` (a Python statement over `text`),
/// sends the records through logger `app` and prints every config's stdout as JSON.
pub(crate) fn python_script(apply: &str) -> String {
    PYTHON.replace("APPLY_CONFIG", apply)
}

const PYTHON: &str = r#"
import io, json, logging, logging.config, sys
spec = json.loads(sys.argv[1])
real = sys.stdout
outs = []
for text in spec["configs"]:
    out = io.StringIO()
    sys.stdout = out
    APPLY_CONFIG
    lg = logging.getLogger("app")
    for r in spec["records"]:
        rec = lg.makeRecord(lg.name, r["level"], "/srv/app/views.py", 42, r["msg"],
                            tuple(r.get("args", [])), None, "handle", r.get("extra"),
                            r.get("stack_info"))
        rec.created = spec["created"]
        rec.msecs = 123.0
        rec.relativeCreated = 4567.0
        rec.thread = 140000000000001
        rec.threadName = "MainThread"
        rec.process = 4242
        rec.processName = "MainProcess"
        rec.exc_text = r.get("exc_text")
        lg.handle(rec)
    sys.stdout = real
    outs.append(out.getvalue())
real.write(json.dumps(outs))
"#;

/// The venv's python, with python-json-logger from PyPI (created on first use).
pub(crate) fn venv_python() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pjl-venv");
    python::venv_with(&dir, "python-json-logger>=3.1,<5")
}

pub(crate) fn run_logwire(text: &str, format: SourceFormat) -> String {
    let capture = Capture::default();
    let tree = LoggerTree::new();
    configurator(ContentPolicy::trusted(), &capture)
        .apply_text(&tree, text, format)
        .unwrap();
    let records: serde_json::Value = serde_json::from_str(RECORDS).unwrap();
    pinned_records::log_pinned(&tree.get_logger("app"), &records);
    tree.shutdown();
    capture.stdout.text()
}

/// Applies each of `configs` with CPython (`apply`, see [`python_script`]) and with logwire
/// (`format`), sends the same records through both, and compares stdout byte for byte.
pub(crate) fn assert_same_as_python(configs: &[(&str, String)], apply: &str, format: SourceFormat) {
    let Some(py) = venv_python() else {
        return;
    };
    let spec = serde_json::json!({
        "configs": configs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        "records": serde_json::from_str::<serde_json::Value>(RECORDS).unwrap(),
        "created": CREATED,
    });
    let mut cmd = Command::new(py);
    cmd.arg("-c")
        .arg(python_script(apply))
        .arg(spec.to_string())
        .env("TZ", "UTC");
    let ran = python::run(&mut cmd, Duration::from_secs(60)).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    let outs: Vec<String> = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(outs.len(), configs.len());
    for ((name, text), want) in configs.iter().zip(&outs) {
        // "info plain" % ('unused',) fails in both: 7 lines.
        assert_eq!(want.lines().count(), 7, "{name}: {want}");
        let got = run_logwire(text, format);
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w, "{name}");
        }
        assert_eq!(got, *want, "{name}");
    }
}

#[test]
fn json_formatter_output_equals_python_json_logger() {
    assert_same_as_python(
        &configs(),
        "logging.config.dictConfig(json.loads(text))",
        SourceFormat::Json,
    );
}

/// The class names are looked up, never imported: a '()' naming anything else is still
/// refused, and an unsupported option is an error naming it.
#[test]
fn only_the_json_class_names_are_accepted_as_factories() {
    let capture = Capture::default();
    let bad =
        r#"{"version": 1, "formatters": {"f": {"()": "pythonjsonlogger.json.JsonFormatterX"}}}"#;
    let err = configurator(ContentPolicy::trusted(), &capture)
        .check_text(bad, SourceFormat::Json)
        .unwrap_err();
    assert!(
        err.to_string().contains("'()' factories are not allowed"),
        "{err}"
    );
    let unsupported = r#"{"version": 1, "formatters": {"f": {"()": "pythonjsonlogger.json.JsonFormatter", "json_default": "x"}}}"#;
    let err = configurator(ContentPolicy::trusted(), &capture)
        .check_text(unsupported, SourceFormat::Json)
        .unwrap_err();
    assert!(
        err.to_string().contains("'json_default' is not supported"),
        "{err}"
    );
}
