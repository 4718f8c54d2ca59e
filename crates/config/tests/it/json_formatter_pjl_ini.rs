//! Issue 16: python-json-logger's class named in a fileConfig (INI) `[formatter_x]` section
//! (`class=pythonjsonlogger.jsonlogger.JsonFormatter`, and the 3.x name
//! `pythonjsonlogger.json.JsonFormatter`) maps to the built-in JSON formatter, whose output
//! equals the library's. Differential against the real library from PyPI (the venv of
//! `json_formatter_pjl.rs`): each INI file is applied by CPython's `fileConfig` and by
//! logwire, the same records go through both, and stdout must be equal byte for byte.
//! fileConfig calls the class as `class(format, datefmt, style)`, so only those three
//! options exist in this form.

use crate::common;

use common::{Capture, configurator};
use logwire_config::{ContentPolicy, SourceFormat};
use logwire_engine::{Args, LoggerTree, Value};
use logwire_test_support::python;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const RECORDS: &str = r#"[
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

const CREATED: f64 = 1_765_101_600.123_456;

/// fileConfig INI files: each routes logger `app` to stdout through one JSON formatter
/// section (`formatter` is the `[formatter_json]` body).
fn configs() -> Vec<(&'static str, String)> {
    let wrap = |formatter: &str| {
        format!(
            "[loggers]\nkeys=root,app\n\n[handlers]\nkeys=out\n\n[formatters]\nkeys=json\n\n\
             [logger_root]\nlevel=WARNING\nhandlers=\n\n\
             [logger_app]\nlevel=DEBUG\nhandlers=out\npropagate=0\nqualname=app\n\n\
             [handler_out]\nclass=StreamHandler\nlevel=NOTSET\nformatter=json\nargs=(sys.stdout,)\n\n\
             [formatter_json]\n{formatter}\n"
        )
    };
    vec![
        (
            "jsonlogger class with a format",
            wrap(
                "class=pythonjsonlogger.jsonlogger.JsonFormatter\nformat=%(asctime)s %(levelname)s %(name)s %(message)s",
            ),
        ),
        (
            "json class, no format",
            wrap("class=pythonjsonlogger.json.JsonFormatter"),
        ),
        (
            "datefmt",
            wrap(
                "class=pythonjsonlogger.jsonlogger.JsonFormatter\nformat=%(asctime)s %(funcName)s %(message)s\ndatefmt=%Y-%m-%dT%H:%M:%S",
            ),
        ),
        (
            "{ style",
            wrap(
                "class=pythonjsonlogger.json.JsonFormatter\nformat={levelname} {message} {lineno}\nstyle={",
            ),
        ),
    ]
}

const PYTHON: &str = r#"
import io, json, logging, logging.config, sys, warnings
warnings.simplefilter("ignore")  # pythonjsonlogger.jsonlogger is deprecated in 3.x
spec = json.loads(sys.argv[1])
real = sys.stdout
outs = []
for text in spec["configs"]:
    out = io.StringIO()
    sys.stdout = out
    logging.config.fileConfig(io.StringIO(text), disable_existing_loggers=False)
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
fn venv_python() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pjl-venv");
    let py = dir.join("bin/python");
    let ready = dir.join(".installed");
    if !ready.exists() {
        let ok = python::command()
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "python-json-logger>=3.1,<5"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            python::missing("cannot create a venv with python-json-logger from PyPI");
            return None;
        }
        std::fs::write(&ready, b"").unwrap();
    }
    Some(py)
}

fn run_logwire(text: &str) -> String {
    let capture = Capture::default();
    let tree = LoggerTree::new();
    configurator(ContentPolicy::trusted(), &capture)
        .apply_text(&tree, text, SourceFormat::Ini)
        .unwrap();
    let records: serde_json::Value = serde_json::from_str(RECORDS).unwrap();
    let logger = tree.get_logger("app");
    for r in records.as_array().unwrap() {
        let lvl = r["level"].as_i64().unwrap() as i32;
        logger.log_with(lvl, r["msg"].as_str().unwrap().to_owned(), |rec| {
            rec.pathname = "/srv/app/views.py".into();
            rec.filename = "views.py".into();
            rec.module = "views".into();
            rec.lineno = 42;
            rec.func_name = Some("handle".into());
            rec.created = CREATED;
            rec.msecs = 123.0;
            rec.relative_created = 4567.0;
            rec.thread = Some(140_000_000_000_001);
            rec.thread_name = Some("MainThread".into());
            rec.process = Some(4242);
            rec.process_name = Some("MainProcess".into());
            rec.exc_text = r["exc_text"].as_str().map(str::to_owned);
            rec.stack_info = r["stack_info"].as_str().map(str::to_owned);
            if let Some(args) = r["args"].as_array() {
                rec.args = Args::Tuple(args.iter().map(json_value).collect());
            }
            if let Some(extra) = r["extra"].as_object() {
                for (k, v) in extra {
                    rec.set_extra(k.clone(), json_value(v));
                }
            }
        });
    }
    tree.shutdown();
    capture.stdout.text()
}

fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap()),
        other => panic!("unexpected record value {other}"),
    }
}

#[test]
fn ini_json_formatter_output_equals_python_json_logger() {
    let Some(py) = venv_python() else {
        return;
    };
    let configs = configs();
    let spec = serde_json::json!({
        "configs": configs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        "records": serde_json::from_str::<serde_json::Value>(RECORDS).unwrap(),
        "created": CREATED,
    });
    let mut cmd = Command::new(py);
    cmd.arg("-c")
        .arg(PYTHON)
        .arg(spec.to_string())
        .env("TZ", "UTC");
    let ran = python::run(&mut cmd, Duration::from_secs(60)).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    let outs: Vec<String> = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(outs.len(), configs.len());
    for ((name, text), want) in configs.iter().zip(&outs) {
        // "info plain" % ('unused',) fails in both: 7 lines.
        assert_eq!(want.lines().count(), 7, "{name}: {want}");
        let got = run_logwire(text);
        for (g, w) in got.lines().zip(want.lines()) {
            assert_eq!(g, w, "{name}");
        }
        assert_eq!(got, *want, "{name}");
    }
}

/// Only the two class names are mapped: any other `class=` in a formatter section is
/// refused (nothing is imported).
#[test]
fn other_formatter_classes_are_refused_in_ini() {
    let (_, text) = &configs()[0];
    let bad = text.replace(
        "pythonjsonlogger.jsonlogger.JsonFormatter",
        "pythonjsonlogger.jsonlogger.JsonFormatterX",
    );
    let capture = Capture::default();
    let err = configurator(ContentPolicy::trusted(), &capture)
        .check_text(&bad, SourceFormat::Ini)
        .unwrap_err();
    assert!(err.to_string().contains("JsonFormatterX"), "{err}");
}
