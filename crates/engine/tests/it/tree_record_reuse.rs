//! The logging call reuses a per-thread record: nothing of one record may leak into the next,
//! and a handler that logs while handling still works.

use logwire_engine::{
    Emitter, Formatter, Handler, HandlerError, LogRecord, LoggerTree, RecordCollector, Value, level,
};
use std::sync::{Arc, Mutex};

#[test]
fn fields_of_one_record_do_not_leak_into_the_next() {
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    tree.root().set_level(level::DEBUG);
    let a = tree.get_logger("a.long.logger.name");
    let b = tree.get_logger("b");
    a.log_with(level::ERROR, "first", |r| {
        r.set_extra("user", "ann");
        r.exc_text = Some("Traceback".into());
        r.stack_info = Some("Stack".into());
        r.func_name = Some("f".into());
    });
    b.info("second");
    let got = keep.records();
    assert_eq!(got[0].name, "a.long.logger.name");
    assert_eq!(got[0].extra("user"), Some(&Value::Str("ann".into())));
    assert_eq!(got[1].name, "b");
    assert_eq!(got[1].msg, "second");
    assert_eq!(got[1].levelname, "INFO");
    assert!(got[1].extra.is_empty());
    assert_eq!(got[1].exc_text, None);
    assert_eq!(got[1].stack_info, None);
    assert_eq!(got[1].func_name, None);
    assert_eq!(got[1].filename, "tree_record_reuse.rs");
}

/// A handler that logs through another logger while it handles a record.
struct Reentrant {
    tree: LoggerTree,
    seen: Mutex<Vec<String>>,
}

impl Emitter for Reentrant {
    fn emit(&self, r: &LogRecord, _f: &Formatter) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{}:{}", r.name, r.msg));
        if r.name == "outer" {
            self.tree
                .get_logger("inner")
                .warning(format!("while handling {}", r.msg));
        }
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Reentrant"
    }
}

#[test]
fn a_handler_may_log_while_handling() {
    let tree = LoggerTree::new();
    let h = Arc::new(Reentrant {
        tree: tree.clone(),
        seen: Mutex::new(Vec::new()),
    });
    tree.root()
        .add_handler(Arc::new(Handler::new(Arc::clone(&h))));
    tree.get_logger("outer").warning("x");
    tree.get_logger("outer").warning("y");
    assert_eq!(
        *h.seen.lock().unwrap(),
        [
            "outer:x",
            "inner:while handling x",
            "outer:y",
            "inner:while handling y"
        ]
    );
}

#[test]
fn renamed_standard_levels_are_honoured() {
    // add_level_name on a standard level turns the allocation-free fast path off.
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    level::add_level_name(level::WARNING, "WARN");
    tree.root().warning("w");
    level::add_level_name(level::WARNING, "WARNING");
    tree.root().warning("w");
    let names: Vec<String> = keep.records().iter().map(|r| r.levelname.clone()).collect();
    assert_eq!(names, ["WARN", "WARNING"]);
}
