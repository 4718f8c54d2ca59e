//! Issue 16 item 2: a format field missing from the record. CPython's handler writes nothing
//! for that record, reports a `--- Logging error ---` block on stderr and goes on with the
//! next record; logwire's handlers do the same, and count it.
//!
//! The differential test runs the same records through CPython and through a logwire
//! `StreamHandler` on stdout in a child process (this test binary re-run with
//! `LOGWIRE_FORMAT_ERROR_CHILD=1`), and compares stdout byte for byte and stderr's report.

use logwire_engine::{
    CaptureBuffer, FileHandler, FileOptions, Formatter, Handler, LogRecord, StreamHandler, Style,
    level,
};
use logwire_test_support::python;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const FORMAT: &str = "%(levelname)s %(message)s %(request)s";

fn formatter() -> Arc<Formatter> {
    Arc::new(Formatter::new(Some(FORMAT), None, Style::Percent, true, vec![]).unwrap())
}

/// "hello" lacks `request`; "world" has it.
fn records() -> Vec<LogRecord> {
    let hello = LogRecord::new("app", level::INFO, "app.py", 1, "hello");
    let mut world = LogRecord::new("app", level::INFO, "app.py", 2, "world");
    world.set_extra("request", "r1");
    vec![hello, world]
}

#[test]
fn stream_handler_writes_nothing_for_the_record_and_counts_it() {
    let buf = CaptureBuffer::new();
    let h = Handler::new(StreamHandler::new(buf.clone())).with_formatter(formatter());
    for r in records() {
        h.handle(&r);
    }
    assert_eq!(buf.contents(), "INFO world r1\n");
    assert_eq!(h.error_count(), 1);
}

#[test]
fn file_handler_writes_nothing_for_the_record_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let h = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap())
        .with_formatter(formatter());
    for r in records() {
        h.handle(&r);
    }
    h.close();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "INFO world r1\n");
    assert_eq!(h.error_count(), 1);
}

/// The child half of the differential test: only does something when re-run by it.
#[test]
fn child_emits_through_logwire() {
    if std::env::var("LOGWIRE_FORMAT_ERROR_CHILD").as_deref() != Ok("1") {
        return;
    }
    let h = Handler::new(StreamHandler::stdout()).with_formatter(formatter());
    for r in records() {
        h.handle(&r);
    }
    h.flush();
}

const CPYTHON: &str = r#"
import logging, sys
h = logging.StreamHandler(sys.stdout)
h.setFormatter(logging.Formatter("%(levelname)s %(message)s %(request)s"))
log = logging.getLogger("app")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(h)
log.info("hello")
log.info("world", extra={"request": "r1"})
"#;

#[test]
fn same_output_and_report_as_cpython() {
    let Some(py) = python::run(
        &mut python::script(CPYTHON, [""; 0]),
        Duration::from_secs(30),
    ) else {
        return;
    };
    assert!(py.status.success(), "{}", py.stderr);
    let mine = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "format_error_cpython::child_emits_through_logwire",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOGWIRE_FORMAT_ERROR_CHILD", "1")
        .output()
        .unwrap();
    assert!(mine.status.success());
    let stdout = String::from_utf8_lossy(&mine.stdout);
    let stderr = String::from_utf8_lossy(&mine.stderr);
    // libtest writes its own text around the child's output (on the same line as the first
    // record's): the records' text is exact, and there is no other.
    assert_eq!(py.stdout, "INFO world r1\n");
    assert!(stdout.contains("INFO world r1\n"), "{stdout}");
    assert_eq!(stdout.matches("INFO ").count(), 1, "{stdout}");
    assert!(!stdout.contains("hello"), "{stdout}");
    // Both report the error on stderr, with the field's name.
    for (who, err) in [("CPython", py.stderr.as_str()), ("logwire", &*stderr)] {
        assert!(err.contains("--- Logging error ---"), "{who}: {err}");
        assert!(
            err.contains("Formatting field not found in record: 'request'"),
            "{who}: {err}"
        );
        assert!(err.contains("Message: 'hello'"), "{who}: {err}");
    }
}
