// A binary of its own (not a module of `tests/it`): the `log` logger is process-wide, installed
// once per process, and this test installs it.
//! The `log` facade reaches the tree with names, levels, locations and key-values mapped, and
//! `log::max_level` follows the tree. One test: the `log` logger is process-global.

use logwire_engine::{Handler, LoggerTree, RecordCollector, Value, level};
use std::sync::Arc;

#[test]
fn log_facade_routes_into_the_tree() {
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    tree.root().set_level(level::INFO);
    logwire_log::LogBridge::install(tree.clone()).unwrap();
    assert_eq!(log::max_level(), log::LevelFilter::Info);

    let line = line!() + 1;
    log::info!(target: "my_app::db", user = "ann", rows = 3, ok = true, lineno = 7; "connected to {}", "db1");
    log::debug!(target: "my_app::db", "filtered out by the max level");

    // Turning one logger to TRACE raises the facade's max level to Trace.
    tree.get_logger("my_app.db").set_level(level::TRACE);
    assert_eq!(log::max_level(), log::LevelFilter::Trace);
    log::trace!(target: "my_app::db", "now visible");
    log::trace!(target: "other", "still filtered by the tree (root is INFO)");

    tree.root().set_level(level::CRITICAL);
    tree.get_logger("my_app.db").set_level(level::NOTSET);
    assert_eq!(
        log::max_level(),
        log::LevelFilter::Off,
        "no log level reaches CRITICAL"
    );

    let got = keep.records();
    assert_eq!(got.len(), 2, "{got:?}");
    let r = &got[0];
    assert_eq!(r.name, "my_app.db");
    assert_eq!(r.msg, "connected to db1");
    assert_eq!(r.levelname, "INFO");
    assert_eq!(r.lineno, i64::from(line));
    assert_eq!(r.filename, "log_routes_into_the_tree.rs");
    assert_eq!(r.module, "log_routes_into_the_tree");
    assert_eq!(r.extra("user"), Some(&Value::Str("ann".into())));
    assert_eq!(r.extra("rows"), Some(&Value::Int(3)));
    assert_eq!(r.extra("ok"), Some(&Value::Bool(true)));
    // A key-value named like a LogRecord attribute does not shadow it.
    assert_eq!(r.extra("lineno_"), Some(&Value::Int(7)));
    assert_eq!(got[1].levelno, 5);
    assert_eq!(got[1].levelname, "TRACE");
}
