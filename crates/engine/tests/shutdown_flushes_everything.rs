// A binary of its own (not a module of `tests/it`): it installs the tree's panic hook, which
// is process-wide and would run for every other test's panic in a shared binary.
//! Nothing is lost at exit: the shutdown guard and the panic hook flush and close every
//! handler, including records still queued in a non-blocking queue handler.

use logwire_engine::{
    FileHandler, FileOptions, Handler, LoggerTree, QueueHandler, QueueOptions, level,
};
use std::sync::Arc;

fn queued_file_tree(path: &std::path::Path) -> LoggerTree {
    let tree = LoggerTree::new();
    let file = Handler::new(FileHandler::new(path, FileOptions::default()).unwrap());
    let queue = QueueHandler::new(vec![Arc::new(file)], QueueOptions::default()).unwrap();
    tree.root().add_handler(Arc::new(Handler::new(queue)));
    tree.root().set_level(level::INFO);
    tree
}

fn line_count(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn dropping_the_guard_drains_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guard.log");
    let tree = queued_file_tree(&path);
    {
        let _guard = tree.shutdown_guard();
        let log = tree.get_logger("app");
        for i in 0..5_000 {
            log.info(format!("record {i}"));
        }
    }
    assert_eq!(line_count(&path), 5_000);
}

#[test]
fn the_panic_hook_drains_the_queue_before_the_panic_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panic.log");
    let tree = queued_file_tree(&path);
    tree.install_panic_hook();
    let t2 = tree.clone();
    let worker = std::thread::spawn(move || {
        let log = t2.get_logger("app");
        for i in 0..5_000 {
            log.info(format!("record {i}"));
        }
        panic!("boom after 5000 records");
    });
    assert!(worker.join().is_err());
    // Only the hook ran: this test never calls shutdown or flush itself.
    assert_eq!(line_count(&path), 5_000);
}
