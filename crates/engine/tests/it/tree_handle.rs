//! `Logger.handle` semantics for records made elsewhere, propagation and the last resort.

use crate::common;
use common::{Capture, t, tree_with_root_capture};
use logwire_engine::{
    Handler, LogRecord, LoggerTree,
    level::{DEBUG, ERROR, INFO, WARNING},
};
use std::sync::Arc;

fn remote_record(name: &str, levelno: i32, msg: &str) -> LogRecord {
    let mut r = LogRecord::empty();
    r.name = name.to_owned();
    r.levelno = levelno;
    r.levelname = logwire_engine::level::level_name(levelno);
    r.msg = msg.to_owned();
    r
}

#[test]
fn handle_bypasses_the_logger_level_but_not_handler_levels() {
    let (tree, cap, handler) = tree_with_root_capture();
    let app = tree.get_logger("app");
    app.set_level(ERROR);
    // The cookbook receiver: getLogger(record.name).handle(record).
    app.handle(&remote_record("app", DEBUG, "below the logger level"));
    handler.set_level(WARNING);
    app.handle(&remote_record("app", INFO, "below the handler level"));
    app.handle(&remote_record("app", WARNING, "at the handler level"));
    assert_eq!(
        cap.triples(),
        vec![
            t("app", "DEBUG", "below the logger level"),
            t("app", "WARNING", "at the handler level")
        ]
    );
}

#[test]
fn handle_honours_disabled() {
    let (tree, cap, _) = tree_with_root_capture();
    let app = tree.get_logger("app");
    app.set_disabled(true);
    app.handle(&remote_record("app", ERROR, "dropped"));
    assert!(cap.lines().is_empty());
}

#[test]
fn propagate_false_stops_at_the_logger() {
    let (tree, root_cap, _) = tree_with_root_capture();
    let cap = Arc::new(Capture::default());
    let a = tree.get_logger("a");
    a.add_handler(Arc::new(Handler::new(Arc::clone(&cap))));
    let ab = tree.get_logger("a.b");
    ab.warning("both");
    a.set_propagate(false);
    ab.warning("only a");
    assert_eq!(
        cap.triples(),
        vec![t("a.b", "WARNING", "both"), t("a.b", "WARNING", "only a")]
    );
    assert_eq!(root_cap.triples(), vec![t("a.b", "WARNING", "both")]);
}

#[test]
fn ancestors_disabled_flag_does_not_stop_propagation() {
    // CPython checks `disabled` only on the logger the record starts at.
    let (tree, cap, _) = tree_with_root_capture();
    tree.get_logger("a").set_disabled(true);
    tree.get_logger("a.b").warning("still reaches root");
    assert_eq!(
        cap.triples(),
        vec![t("a.b", "WARNING", "still reaches root")]
    );
}

#[test]
fn a_handler_attached_twice_is_called_once() {
    let (tree, cap, handler) = tree_with_root_capture();
    tree.root().add_handler(handler);
    tree.root().warning("once");
    assert_eq!(cap.lines().len(), 1);
}

#[test]
fn records_with_no_handler_go_to_the_last_resort_at_warning_and_above() {
    let tree = LoggerTree::new();
    let last = logwire_engine::RecordCollector::new();
    tree.set_last_resort(Some(Arc::new(
        Handler::new(last.clone()).with_level(WARNING),
    )));
    tree.get_logger("x").error("to the last resort");
    tree.get_logger("x").info("dropped below WARNING");
    let msgs: Vec<String> = last.records().into_iter().map(|r| r.msg).collect();
    assert_eq!(msgs, ["to the last resort"]);
    // Once any handler is found on the way up, the last resort is not used.
    let cap = Arc::new(Capture::default());
    let root_handler = Arc::new(Handler::new(Arc::clone(&cap)));
    tree.root().add_handler(Arc::clone(&root_handler));
    tree.get_logger("x").error("to root");
    assert_eq!(last.records().len(), 1);
    assert_eq!(cap.lines().len(), 1);
    // CPython's `logging.lastResort = None`: such records are dropped.
    tree.root().remove_handler(&root_handler);
    tree.set_last_resort(None);
    tree.get_logger("x").error("dropped");
    assert_eq!(last.records().len(), 1);
    assert_eq!(cap.lines().len(), 1);
}

#[test]
fn caller_location_is_recorded() {
    let tree = LoggerTree::new();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s2 = Arc::clone(&seen);
    struct Loc(Arc<std::sync::Mutex<Option<(String, i64, String)>>>);
    impl logwire_engine::Emitter for Loc {
        fn emit(
            &self,
            r: &LogRecord,
            _f: &logwire_engine::Formatter,
        ) -> Result<(), logwire_engine::HandlerError> {
            *self.0.lock().unwrap() = Some((r.filename.clone(), r.lineno, r.module.clone()));
            Ok(())
        }
        fn kind(&self) -> &'static str {
            "test.Loc"
        }
    }
    tree.root().add_handler(Arc::new(Handler::new(Loc(s2))));
    let line = line!() + 1;
    tree.root().warning("where am I");
    let (file, lineno, module) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(file, "tree_handle.rs");
    assert_eq!(lineno, i64::from(line));
    assert_eq!(module, "tree_handle");
}
