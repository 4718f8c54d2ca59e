//! `Logger::handle_in` with a `SnapshotCache` routes records exactly as `Logger::handle`:
//! every change to the tree made before a record is handled applies to it (a handler added
//! or removed, a logger disabled, a new logger), and a snapshot that does not fit the logger
//! (another tree's, or one taken before the logger existed) is not used.

use logwire_engine::{Handler, LogRecord, LoggerTree, RecordCollector, level};
use std::sync::Arc;

fn rec(name: &str, msg: &str) -> LogRecord {
    LogRecord::new(name, level::INFO, "p.py", 1, msg)
}

fn msgs(c: &RecordCollector) -> Vec<String> {
    c.records().into_iter().map(|r| r.msg).collect()
}

#[test]
fn changes_apply_to_the_next_record() {
    let tree = LoggerTree::new();
    let root_keep = RecordCollector::new();
    let root_handler = Arc::new(Handler::new(root_keep.clone()));
    tree.root().add_handler(root_handler.clone());
    let app = tree.get_logger("app");
    // Taken once `app` exists, so every snapshot below fits it and is used: one the cache
    // failed to refresh would route by the old tree.
    let mut cache = tree.snapshot_cache();
    app.handle_in(cache.current(), &rec("app", "one"));

    let app_keep = RecordCollector::new();
    app.add_handler(Arc::new(Handler::new(app_keep.clone())));
    app.handle_in(cache.current(), &rec("app", "two"));

    app.set_propagate(false);
    app.handle_in(cache.current(), &rec("app", "three"));

    app.set_disabled(true);
    app.handle_in(cache.current(), &rec("app", "four"));

    app.set_disabled(false);
    app.set_propagate(true);
    tree.root().remove_handler(&root_handler);
    app.handle_in(cache.current(), &rec("app", "five"));

    assert_eq!(msgs(&root_keep), ["one", "two"]);
    assert_eq!(msgs(&app_keep), ["two", "three", "five"]);
}

#[test]
fn a_snapshot_that_does_not_fit_the_logger_is_not_used() {
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    let mut stale = tree.snapshot_cache();
    let old = stale.current().clone();
    // Created after the snapshot was taken: not in it.
    let late = tree.get_logger("late.comer");
    late.handle_in(&old, &rec("late.comer", "late"));

    let other = LoggerTree::new();
    other.get_logger("late.comer");
    let other_snap = other.snapshot_cache().current().clone();
    late.handle_in(&other_snap, &rec("late.comer", "other tree"));

    assert_eq!(msgs(&keep), ["late", "other tree"]);
}
