//! Issue 16 item 7 (part): dictConfig's QueueHandler keys as Python 3.12 accepts them —
//! `queue` naming the standard FIFO queue (`"queue.Queue"`, or `{'()': 'queue.Queue',
//! 'maxsize': N}`), `listener` naming `logging.handlers.QueueListener`, `handlers`,
//! `respect_handler_level` — map to the built-in queue and worker (names compared, nothing
//! imported). Differential against CPython 3.12 (the listener started as its documentation
//! shows: `getHandlerByName(...).listener.start()`); other values stay refused.

use crate::common;

use common::{Capture, configurator};
use logwire_config::{ContentPolicy, SourceFormat};
use logwire_engine::LoggerTree;
use logwire_test_support::python;
use std::process::Command;
use std::time::Duration;

fn config(queue: &str) -> String {
    format!(
        r#"{{"version": 1,
  "formatters": {{"f": {{"format": "%(levelname)s %(name)s %(message)s"}}}},
  "handlers": {{
    "out": {{"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f", "level": "WARNING"}},
    "q": {{"class": "logging.handlers.QueueHandler", "handlers": ["out"], {queue}
           "listener": "logging.handlers.QueueListener", "respect_handler_level": true}}}},
  "root": {{"level": "INFO", "handlers": ["q"]}}}}"#
    )
}

const QUEUES: &[&str] = &[
    r#""queue": "queue.Queue","#,
    r#""queue": "queue.SimpleQueue","#,
    r#""queue": {"()": "queue.Queue", "maxsize": 100},"#,
    "",
];

const PYTHON: &str = r#"
import json, logging, logging.config, sys
logging.config.dictConfig(json.loads(sys.argv[1]))
q = logging.getHandlerByName("q")
q.listener.start()
for i in range(3):
    logging.getLogger("app").info("info %d", i)
    logging.getLogger("app").warning("warning %d", i)
q.listener.stop()
"#;

#[test]
fn python312_queue_keys_are_accepted_with_cpythons_meaning() {
    for queue in QUEUES {
        let text = config(queue);
        let mut cmd = Command::new("python3.12");
        cmd.env("PYENV_VERSION", "3.12.1")
            .arg("-c")
            .arg(PYTHON)
            .arg(&text);
        let Some(ran) = python::run(&mut cmd, Duration::from_secs(30)) else {
            return;
        };
        if !ran.status.success() && ran.stderr.contains("command not found") {
            python::missing("python3.12 is needed for the 3.12 QueueHandler keys");
            return;
        }
        assert!(ran.status.success(), "{queue}: {}", ran.stderr);
        assert_eq!(
            ran.stdout,
            "WARNING app warning 0\nWARNING app warning 1\nWARNING app warning 2\n"
        );
        let capture = Capture::default();
        let tree = LoggerTree::new();
        configurator(ContentPolicy::trusted(), &capture)
            .apply_text(&tree, &text, SourceFormat::Json)
            .unwrap_or_else(|e| panic!("{queue}: {e}"));
        for i in 0..3 {
            tree.get_logger("app").log(20, format!("info {i}"));
            tree.get_logger("app").log(30, format!("warning {i}"));
        }
        tree.shutdown();
        assert_eq!(capture.stdout.text(), ran.stdout, "{queue}");
    }
}

#[test]
fn other_queues_and_listeners_are_refused() {
    let capture = Capture::default();
    for (queue, why) in [
        (
            r#""queue": "queue.LifoQueue","#,
            "custom queue objects are not supported",
        ),
        (
            r#""queue": {"()": "my.Queue"},"#,
            "'()' factories are not allowed",
        ),
        (
            r#""queue": {"()": "queue.Queue", "foo": 1},"#,
            "only maxsize is supported",
        ),
    ] {
        let err = configurator(ContentPolicy::trusted(), &capture)
            .check_text(&config(queue), SourceFormat::Json)
            .unwrap_err();
        assert!(err.to_string().contains(why), "{queue}: {err}");
    }
    let text = config("").replace("logging.handlers.QueueListener", "my.Listener");
    let err = configurator(ContentPolicy::trusted(), &capture)
        .check_text(&text, SourceFormat::Json)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("custom listeners are not supported"),
        "{err}"
    );
}
