//! CPython's BasicFilterTest and CustomLevelsAndFiltersTest.test_specific_filters.

use crate::common;
use common::{Counter, t, tree_with_root_capture};
use logwire_engine::{LogRecord, NameFilter};
use std::sync::Arc;

#[test]
fn name_filter_on_a_handler() {
    let tree = logwire_engine::LoggerTree::new();
    let cap = Arc::new(common::Capture::default());
    let handler = Arc::new(
        logwire_engine::Handler::new(Arc::clone(&cap))
            .with_filter(Arc::new(NameFilter::new("spam.eggs"))),
    );
    tree.root().add_handler(handler);
    tree.root().set_level(logwire_engine::level::DEBUG);
    let mut m = Counter::new();
    tree.get_logger("spam").info(m.next());
    tree.get_logger("spam.eggs").info(m.next());
    tree.get_logger("spam.eggs.fish").info(m.next());
    tree.get_logger("spam.bakedbeans").info(m.next());
    assert_eq!(
        cap.triples(),
        vec![
            t("spam.eggs", "INFO", "2"),
            t("spam.eggs.fish", "INFO", "3")
        ]
    );
}

#[test]
fn callable_filter_on_a_logger_and_a_handler() {
    let (tree, cap, _) = tree_with_root_capture();
    let root = tree.root();
    // GarrulousFilter on the handler is modelled on the root logger here, plus a
    // VerySpecificFilter: both must hold.
    root.add_filter(Arc::new(|r: &LogRecord| r.levelno != 113));
    root.add_filter(Arc::new(|r: &LogRecord| {
        r.levelno != 116 && r.levelno != 119
    }));
    let mut m = Counter::new();
    for lvl in 111..=120 {
        root.log(lvl, m.next());
    }
    let msgs: Vec<String> = cap.lines().into_iter().map(|(_, _, m)| m).collect();
    assert_eq!(msgs, ["1", "2", "4", "5", "7", "8", "10"]);
}

#[test]
fn logger_filters_apply_only_where_the_record_starts() {
    // CPython: a logger's filters are consulted in Logger.handle of the originating logger
    // only, not for ancestors the record propagates through.
    let (tree, cap, _) = tree_with_root_capture();
    tree.root().add_filter(Arc::new(|_: &LogRecord| false));
    tree.get_logger("child").info("passes");
    tree.root().info("blocked");
    assert_eq!(cap.triples(), vec![t("child", "INFO", "passes")]);
}
