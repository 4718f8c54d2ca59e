//! CPython's BuiltinLevelsTest and CustomLevelsAndFiltersTest level cases, on the logger tree.

use crate::common;
use common::{Counter, t, tree_with_root_capture};
use logwire_engine::level::{self, CRITICAL, DEBUG, ERROR, FATAL, INFO, WARNING};

#[test]
fn flat() {
    let (tree, cap, _) = tree_with_root_capture();
    let mut m = Counter::new();
    let err = tree.get_logger("ERR");
    err.set_level(ERROR);
    let inf = tree.get_logger("INF");
    inf.set_level(INFO);
    let deb = tree.get_logger("DEB");
    deb.set_level(DEBUG);

    err.log(CRITICAL, m.next());
    err.error(m.next());
    inf.log(CRITICAL, m.next());
    inf.error(m.next());
    inf.warning(m.next());
    inf.info(m.next());
    deb.log(CRITICAL, m.next());
    deb.error(m.next());
    deb.warning(m.next());
    deb.info(m.next());
    deb.debug(m.next());
    // These should not log.
    err.warning(m.next());
    err.info(m.next());
    err.debug(m.next());
    inf.debug(m.next());

    assert_eq!(
        cap.triples(),
        vec![
            t("ERR", "CRITICAL", "1"),
            t("ERR", "ERROR", "2"),
            t("INF", "CRITICAL", "3"),
            t("INF", "ERROR", "4"),
            t("INF", "WARNING", "5"),
            t("INF", "INFO", "6"),
            t("DEB", "CRITICAL", "7"),
            t("DEB", "ERROR", "8"),
            t("DEB", "WARNING", "9"),
            t("DEB", "INFO", "10"),
            t("DEB", "DEBUG", "11"),
        ]
    );
}

#[test]
fn nested_explicit() {
    let (tree, cap, _) = tree_with_root_capture();
    let mut m = Counter::new();
    tree.get_logger("INF").set_level(INFO);
    let inf_err = tree.get_logger("INF.ERR");
    inf_err.set_level(ERROR);
    inf_err.log(CRITICAL, m.next());
    inf_err.error(m.next());
    inf_err.warning(m.next());
    inf_err.info(m.next());
    inf_err.debug(m.next());
    assert_eq!(
        cap.triples(),
        vec![t("INF.ERR", "CRITICAL", "1"), t("INF.ERR", "ERROR", "2")]
    );
}

#[test]
fn nested_inherited() {
    let (tree, cap, _) = tree_with_root_capture();
    let mut m = Counter::new();
    tree.get_logger("INF").set_level(INFO);
    tree.get_logger("INF.ERR").set_level(ERROR);
    let inf_undef = tree.get_logger("INF.UNDEF");
    let inf_err_undef = tree.get_logger("INF.ERR.UNDEF");
    let _undef = tree.get_logger("UNDEF");

    inf_undef.log(CRITICAL, m.next());
    inf_undef.error(m.next());
    inf_undef.warning(m.next());
    inf_undef.info(m.next());
    inf_err_undef.log(CRITICAL, m.next());
    inf_err_undef.error(m.next());
    inf_undef.debug(m.next());
    inf_err_undef.warning(m.next());
    inf_err_undef.info(m.next());
    inf_err_undef.debug(m.next());

    assert_eq!(
        cap.triples(),
        vec![
            t("INF.UNDEF", "CRITICAL", "1"),
            t("INF.UNDEF", "ERROR", "2"),
            t("INF.UNDEF", "WARNING", "3"),
            t("INF.UNDEF", "INFO", "4"),
            t("INF.ERR.UNDEF", "CRITICAL", "5"),
            t("INF.ERR.UNDEF", "ERROR", "6"),
        ]
    );
}

#[test]
fn nested_with_virtual_parent() {
    let (tree, cap, _) = tree_with_root_capture();
    let mut m = Counter::new();
    let inf = tree.get_logger("INF");
    let grandchild = tree.get_logger("INF.BADPARENT.UNDEF");
    let child = tree.get_logger("INF.BADPARENT");
    inf.set_level(INFO);

    grandchild.log(FATAL, m.next());
    grandchild.info(m.next());
    child.log(FATAL, m.next());
    child.info(m.next());
    grandchild.debug(m.next());
    child.debug(m.next());

    assert_eq!(
        cap.triples(),
        vec![
            t("INF.BADPARENT.UNDEF", "CRITICAL", "1"),
            t("INF.BADPARENT.UNDEF", "INFO", "2"),
            t("INF.BADPARENT", "CRITICAL", "3"),
            t("INF.BADPARENT", "INFO", "4"),
        ]
    );
    // The placeholder became a real logger and is now the grandchild's parent.
    let snap = tree.snapshot();
    let gc = snap.get("INF.BADPARENT.UNDEF").unwrap();
    assert_eq!(snap.parent(gc).unwrap().name(), "INF.BADPARENT");
}

#[test]
fn custom_levels_at_the_logger() {
    const NAMES: [(i32, &str); 10] = [
        (120, "Silent"),
        (119, "Taciturn"),
        (118, "Terse"),
        (117, "Effusive"),
        (116, "Sociable"),
        (115, "Verbose"),
        (114, "Talkative"),
        (113, "Garrulous"),
        (112, "Chatterbox"),
        (111, "Boring"),
    ];
    for (n, s) in NAMES {
        level::add_level_name(n, s);
    }
    let (tree, cap, handler) = tree_with_root_capture();
    let root = tree.root();
    let mut m = Counter::new();
    root.set_level(115);
    for lvl in 111..=120 {
        root.log(lvl, m.next());
    }
    let want: Vec<(String, String)> = [
        ("Verbose", "5"),
        ("Sociable", "6"),
        ("Effusive", "7"),
        ("Terse", "8"),
        ("Taciturn", "9"),
        ("Silent", "10"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(cap.level_and_message(), want);

    // test_handler_filter: the handler's level, not the logger's.
    cap.0.lock().unwrap().clear();
    root.set_level(DEBUG);
    handler.set_level(116);
    for lvl in 111..=120 {
        root.log(lvl, m.next());
    }
    let got: Vec<String> = cap
        .level_and_message()
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(got, ["Sociable", "Effusive", "Terse", "Taciturn", "Silent"]);
}

#[test]
fn unknown_level_numbers_are_named_level_n() {
    let (tree, cap, _) = tree_with_root_capture();
    tree.root().log(WARNING + 3, "x");
    assert_eq!(cap.triples(), vec![t("root", "Level 33", "x")]);
}

#[test]
fn effective_level_and_is_enabled_for() {
    let tree = logwire_engine::LoggerTree::new();
    let a = tree.get_logger("a");
    let abc = tree.get_logger("a.b.c");
    assert_eq!(abc.effective_level(), WARNING, "root starts at WARNING");
    a.set_level(DEBUG);
    assert_eq!(abc.effective_level(), DEBUG);
    assert!(abc.is_enabled_for(DEBUG));
    // LoggerTest.test_is_enabled_for_disabled_logger
    abc.set_disabled(true);
    assert!(!abc.is_enabled_for(CRITICAL));
    abc.set_disabled(false);
    // ModuleLevelMiscTest.test_disable: logging.disable(level) wins over every logger.
    tree.disable(INFO);
    assert!(!abc.is_enabled_for(INFO));
    assert!(abc.is_enabled_for(WARNING));
    tree.disable(level::NOTSET);
    assert!(abc.is_enabled_for(DEBUG));
}
