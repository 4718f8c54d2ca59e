//! Applying is atomic: a configuration with any error changes nothing. The old handlers keep
//! writing, no file of the failed configuration is left behind, and a successful apply
//! closes the handlers it replaced (after everything they had was written).

use logwire_config::{Configurator, SourceFormat};
use logwire_engine::LoggerTree;
use std::path::Path;
use std::sync::Arc;

fn live_config(dir: &Path) -> String {
    format!(
        r#"{{"version": 1,
            "formatters": {{"f": {{"format": "%(name)s %(levelname)s %(message)s"}}}},
            "handlers": {{"live": {{"class": "logging.FileHandler", "filename": "{}/live.log", "formatter": "f"}}}},
            "loggers": {{"app": {{"level": "DEBUG"}}}},
            "root": {{"level": "INFO", "handlers": ["live"]}}}}"#,
        dir.display()
    )
}

/// A config whose handlers sort as `a_new`, `m_new`, `z_last`; `z_last` is given by the caller.
fn replacement(dir: &Path, z_last: &str) -> String {
    format!(
        r#"{{"version": 1,
            "handlers": {{
              "a_new": {{"class": "logging.FileHandler", "filename": "{d}/new_a.log"}},
              "m_new": {{"class": "logging.handlers.RotatingFileHandler", "filename": "{d}/new_m.log", "maxBytes": 10}},
              "z_last": {z_last}}},
            "loggers": {{"other": {{"level": "ERROR", "handlers": ["a_new"]}}}},
            "root": {{"level": "DEBUG", "handlers": ["a_new", "m_new", "z_last"]}}}}"#,
        d = dir.display()
    )
}

fn setup() -> (tempfile::TempDir, LoggerTree, Configurator) {
    let dir = tempfile::tempdir().unwrap();
    let tree = LoggerTree::new();
    let cfg = Configurator::default();
    cfg.apply_text(&tree, &live_config(dir.path()), SourceFormat::Json)
        .unwrap();
    tree.get_logger("app").info("before");
    (dir, tree, cfg)
}

fn assert_unchanged_after_failure(
    dir: &Path,
    tree: &LoggerTree,
    before: &Arc<logwire_engine::Snapshot>,
) {
    assert!(
        Arc::ptr_eq(before, &tree.snapshot()),
        "the tree changed although the apply failed"
    );
    tree.get_logger("app").debug("after");
    tree.get_logger("other").info("still root");
    let live = std::fs::read_to_string(dir.join("live.log")).unwrap();
    assert_eq!(
        live,
        "app INFO before\napp DEBUG after\nother INFO still root\n"
    );
    for f in ["new_a.log", "new_m.log"] {
        assert!(
            !dir.join(f).exists(),
            "{f} of the failed config was left on disk"
        );
    }
}

#[test]
fn build_error_in_last_handler_changes_nothing_and_removes_created_files() {
    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let bad = format!(
        r#"{{"class": "logging.FileHandler", "filename": "{}/no/such/dir/z.log"}}"#,
        dir.path().display()
    );
    let err = cfg
        .apply_text(&tree, &replacement(dir.path(), &bad), SourceFormat::Json)
        .unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].place, "handlers.z_last", "{err}");
    assert!(
        err.0[0].message.contains("z.log") || err.0[0].message.contains("No such file"),
        "{err}"
    );
    assert_unchanged_after_failure(dir.path(), &tree, &before);
}

#[test]
fn validation_error_in_last_handler_is_found_before_any_file_exists() {
    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let bad = r#"{"class": "logging.StreamHandler", "level": "NOPE"}"#;
    let text = replacement(dir.path(), bad);
    // `check_text` (what `logwire check` runs) finds it too, without touching the disk.
    let checked = cfg.check_text(&text, SourceFormat::Json).unwrap_err();
    assert_eq!(
        checked.to_string(),
        "handlers.z_last.level: unknown level 'NOPE'"
    );
    let err = cfg
        .apply_text(&tree, &text, SourceFormat::Json)
        .unwrap_err();
    assert_eq!(err, checked);
    assert_unchanged_after_failure(dir.path(), &tree, &before);
}

#[test]
fn every_validation_error_is_reported_at_once() {
    // Errors are found in two passes: the document (levels, types, names) and then the
    // cross references and handler arguments. Each pass reports all of its errors; the
    // second runs only if the first found none.
    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let text = replacement(
        dir.path(),
        r#"{"class": "logging.StreamHandler", "level": "NOPE"}"#,
    )
    .replace(r#""level": "ERROR""#, r#""level": "LOUD""#)
    .replace(r#""level": "DEBUG""#, r#""level": "QUIET""#);
    let err = cfg
        .apply_text(&tree, &text, SourceFormat::Json)
        .unwrap_err();
    let places: Vec<&str> = err.iter().map(|e| e.place.as_str()).collect();
    assert_eq!(
        places,
        ["handlers.z_last.level", "loggers.other.level", "root.level"],
        "{err}"
    );
    assert_unchanged_after_failure(dir.path(), &tree, &before);

    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let text = replacement(
        dir.path(),
        r#"{"class": "logging.StreamHandler", "formatter": "nof", "filters": ["nofilt"]}"#,
    )
    .replace(r#""maxBytes": 10"#, r#""maxBytes": "ten""#);
    let err = cfg
        .apply_text(&tree, &text, SourceFormat::Json)
        .unwrap_err();
    let places: Vec<&str> = err.iter().map(|e| e.place.as_str()).collect();
    for want in [
        "handlers.z_last.formatter",
        "handlers.z_last.filters",
        "handlers.m_new.maxBytes",
    ] {
        assert!(places.contains(&want), "missing {want} in {err}");
    }
    assert_unchanged_after_failure(dir.path(), &tree, &before);
}

#[test]
fn ini_build_error_changes_nothing() {
    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let d = dir.path().display();
    let text = format!(
        "[loggers]\nkeys=root\n\n[handlers]\nkeys=a_new,z_last\n\n[formatters]\nkeys=\n\n\
         [logger_root]\nlevel=DEBUG\nhandlers=a_new,z_last\n\n\
         [handler_a_new]\nclass=FileHandler\nargs=('{d}/new_a.log',)\n\n\
         [handler_z_last]\nclass=FileHandler\nargs=('{d}/no/such/z.log',)\n"
    );
    let err = cfg.apply_text(&tree, &text, SourceFormat::Ini).unwrap_err();
    assert_eq!(err.0[0].place, "[handler_z_last]", "{err}");
    assert_unchanged_after_failure(dir.path(), &tree, &before);
}

#[test]
fn mode_w_with_delay_applies_before_the_file_exists() {
    // Found by differential_dictconfig: the commit-time truncation failed on the file that
    // `delay` had not created yet; CPython accepts this config.
    let (dir, tree, cfg) = setup();
    let d = dir.path().display();
    let text = format!(
        r#"{{"version": 1, "handlers": {{"h": {{"class": "logging.FileHandler",
            "filename": "{d}/later.log", "mode": "w", "delay": true}}}},
            "root": {{"level": "INFO", "handlers": ["h"]}}}}"#
    );
    cfg.apply_text(&tree, &text, SourceFormat::Json).unwrap();
    assert!(!dir.path().join("later.log").exists());
    tree.get_logger("fresh").info("first");
    let later = std::fs::read_to_string(dir.path().join("later.log")).unwrap();
    assert_eq!(later, "first\n");
}

#[test]
fn failed_apply_does_not_truncate_a_file_the_live_config_writes() {
    // The new config opens the live file with mode 'w' and then fails: the live file's
    // records must survive (the failed config must have no effect at all).
    let (dir, tree, cfg) = setup();
    let before = tree.snapshot();
    let d = dir.path().display();
    let text = format!(
        r#"{{"version": 1, "handlers": {{
            "a": {{"class": "logging.FileHandler", "filename": "{d}/live.log", "mode": "w"}},
            "z": {{"class": "logging.FileHandler", "filename": "{d}/no/such/z.log"}}}},
            "root": {{"handlers": ["a", "z"]}}}}"#
    );
    cfg.apply_text(&tree, &text, SourceFormat::Json)
        .unwrap_err();
    assert!(Arc::ptr_eq(&before, &tree.snapshot()));
    tree.get_logger("app").info("after");
    let live = std::fs::read_to_string(dir.path().join("live.log")).unwrap();
    assert_eq!(live, "app INFO before\napp INFO after\n");
}

#[test]
fn valid_replacement_swaps_and_closes_the_old_handler() {
    let (dir, tree, cfg) = setup();
    let old = tree.snapshot().root().handlers()[0].clone();
    for i in 0..100 {
        tree.get_logger("app").debug(format!("r{i}"));
    }
    let text = replacement(dir.path(), r#"{"class": "logging.NullHandler"}"#);
    let report = cfg.apply_text(&tree, &text, SourceFormat::Json).unwrap();
    assert_eq!(report.handlers_built, 3);
    assert_eq!(report.handlers_closed, 1);
    assert!(
        !tree
            .snapshot()
            .all_handlers()
            .iter()
            .any(|h| Arc::ptr_eq(h, &old)),
        "old handler still attached"
    );

    // Every record the old handler took is in its file, and nothing after the swap is.
    tree.get_logger("app").warning("new config");
    let live = std::fs::read_to_string(dir.path().join("live.log")).unwrap();
    let lines: Vec<&str> = live.lines().collect();
    assert_eq!(lines.len(), 101, "{live}");
    assert_eq!(lines[100], "app DEBUG r99");
    // `app` was not named by the new config: it is disabled (CPython's default).
    assert!(tree.snapshot().get("app").unwrap().disabled());
    tree.get_logger("x").warning("to the new files");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new_a.log")).unwrap(),
        "to the new files\n"
    );
}

#[test]
fn check_text_has_no_side_effects() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = Configurator::default()
        .check_text(
            &replacement(dir.path(), r#"{"class": "logging.NullHandler"}"#),
            SourceFormat::Json,
        )
        .unwrap();
    let mut files = prepared.files();
    files.sort();
    assert_eq!(
        files,
        [dir.path().join("new_a.log"), dir.path().join("new_m.log")]
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "checking created files"
    );
}

#[test]
fn a_successful_apply_with_mode_w_truncates_the_file() {
    // The deferred truncation (at commit, just before the swap) still gives CPython's mode 'w'.
    let (dir, tree, cfg) = setup();
    let d = dir.path().display();
    let text = format!(
        r#"{{"version": 1, "formatters": {{"f": {{"format": "%(name)s %(levelname)s %(message)s"}}}},
            "handlers": {{"a": {{"class": "logging.FileHandler", "filename": "{d}/live.log", "mode": "w", "formatter": "f"}}}},
            "root": {{"level": "DEBUG", "handlers": ["a"]}}}}"#
    );
    let old = std::fs::read_to_string(dir.path().join("live.log")).unwrap();
    assert!(!old.is_empty(), "the live config wrote something before");
    cfg.apply_text(&tree, &text, SourceFormat::Json).unwrap();
    // `app` is disabled by the new config (disable_existing_loggers), so log through another.
    tree.get_logger("fresh").info("first");
    let live = std::fs::read_to_string(dir.path().join("live.log")).unwrap();
    assert_eq!(live, "fresh INFO first\n");
}
