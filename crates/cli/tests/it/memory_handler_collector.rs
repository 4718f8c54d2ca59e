//! Issue 16 item 3: a MemoryHandler on the collector keeps CPython's `capacity` and
//! `flushLevel`. The collector makes written bytes durable before it acknowledges a batch
//! (`LoggerTree::sync`), which is not logging's `flush()`: the buffer is not emptied after
//! every received batch, and lines of a buffer that shares a file with a direct handler land
//! in CPython's order.
//!
//! Differential: the same dictConfig applied by CPython (records logged in-process) and by
//! `logwire serve --config` (the same records sent by CPython's SocketHandler); the files
//! must be equal byte for byte.

use crate::common;

use common::{Serve, WAIT};
use logwire_test_support::python;
use logwire_test_support::wait::poll_until;
use std::path::Path;

fn config(file: &Path) -> String {
    let file = serde_json::to_string(file.to_str().unwrap()).unwrap();
    format!(
        r#"{{"version": 1,
  "formatters": {{
    "direct": {{"format": "%(levelname)s %(message)s"}},
    "buffered": {{"format": "buffered %(levelname)s %(message)s"}}}},
  "handlers": {{
    "direct": {{"class": "logging.FileHandler", "filename": {file}, "formatter": "direct"}},
    "target": {{"class": "logging.FileHandler", "filename": {file}, "formatter": "buffered"}},
    "mem": {{"class": "logging.handlers.MemoryHandler", "capacity": 3, "flushLevel": 40,
             "target": "target"}}}},
  "loggers": {{"app": {{"level": "DEBUG", "handlers": ["mem", "direct"], "propagate": false}}}}}}"#
    )
}

/// Record `i` of 1..=10: INFO except an ERROR at 8.
const RECORDS: &str = "def records(log, lo, hi):\n\
    \x20   for i in range(lo, hi + 1):\n\
    \x20       log.log(40 if i == 8 else 20, 'record %d', i)\n";

#[test]
fn memory_handler_keeps_capacity_and_order_as_cpython() {
    let dir = tempfile::tempdir().unwrap();
    let py_file = dir.path().join("cpython.log");
    let lw_file = dir.path().join("logwire.log");

    let cpython = format!(
        "import json, logging, logging.config, sys\n{RECORDS}\
         logging.config.dictConfig(json.loads(sys.argv[1]))\n\
         records(logging.getLogger('app'), 1, 10)\n\
         logging.shutdown()\n"
    );
    let Some(ran) = python::run(&mut python::script(&cpython, [config(&py_file)]), WAIT) else {
        return;
    };
    assert!(ran.status.success(), "{}", ran.stderr);
    let expected = std::fs::read_to_string(&py_file).unwrap();
    assert!(
        expected.starts_with("INFO record 1\nINFO record 2\nbuffered INFO record 1\n"),
        "{expected}"
    );

    let cfg = dir.path().join("collector.json");
    std::fs::write(&cfg, config(&lw_file)).unwrap();
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0", "--config", cfg.to_str().unwrap()]);
    let send = format!(
        "import logging, logging.handlers as h, sys\n{RECORDS}\
         log = logging.getLogger('app'); log.setLevel(1); log.propagate = False\n\
         hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); log.addHandler(hd)\n\
         records(log, int(sys.argv[2]), int(sys.argv[3]))\n\
         hd.close()\n"
    );
    let port = s.tcp().port().to_string();
    let run = |lo: &str, hi: &str| {
        let ran = python::run(&mut python::script(&send, [port.as_str(), lo, hi]), WAIT).unwrap();
        assert!(ran.status.success(), "{}", ran.stderr);
    };
    // Two records in their own batch: the direct lines arrive, the buffer keeps its two.
    run("1", "2");
    assert!(poll_until(WAIT, || {
        std::fs::read_to_string(&lw_file).is_ok_and(|t| t.contains("INFO record 2\n"))
    }));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let early = std::fs::read_to_string(&lw_file).unwrap();
    assert_eq!(
        early, "INFO record 1\nINFO record 2\n",
        "buffer flushed early"
    );
    run("3", "10");
    assert!(poll_until(WAIT, || {
        std::fs::read_to_string(&lw_file).is_ok_and(|t| t.contains("INFO record 10\n"))
    }));
    // Shutdown flushes the buffer (flushOnClose), as logging.shutdown() does.
    assert!(s.terminate().0.success());
    let got = std::fs::read_to_string(&lw_file).unwrap();
    assert_eq!(got, expected);
}
