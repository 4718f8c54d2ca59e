//! The builder on private trees: formats, the guard, watched reloads, a bad file at start.

use logwire::{Builder, LoggerTree, ReloadEvent, config::SourceFormat, level};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Generous: a loaded CI machine can be slow to deliver file events.
const WAIT: Duration = Duration::from_secs(30);

fn file_config(log: &Path, fmt: &str) -> String {
    format!(
        r#"{{"version": 1,
            "formatters": {{"f": {{"format": "{fmt}"}}}},
            "handlers": {{"file": {{"class": "logging.FileHandler", "filename": {:?},
                                   "formatter": "f"}}}},
            "root": {{"level": "INFO", "handlers": ["file"]}}}}"#,
        log.display().to_string()
    )
}

/// Replaces the file by a rename, as deploy tools do: the watcher never sees it half-written.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits for the next reload outcome, or fails the test.
fn next_event(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(WAIT)
        .expect("no reload within 30 s of the file change")
}

#[test]
fn every_format_is_chosen_from_the_extension_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("c.json", r#"{"version": 1, "root": {"level": "ERROR"}}"#),
        ("c.yaml", "version: 1\nroot:\n  level: ERROR\n"),
        ("c.toml", "version = 1\n[root]\nlevel = \"ERROR\"\n"),
        (
            "c.ini",
            "[loggers]\nkeys=root\n[handlers]\nkeys=\n[formatters]\nkeys=\n[logger_root]\nlevel=ERROR\nhandlers=\n",
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let tree = LoggerTree::new();
        let _guard = Builder::from_file(&path).tree(tree.clone()).init().unwrap();
        assert_eq!(tree.root().effective_level(), level::ERROR, "{name}");
    }
    // YAML text under a name that says nothing: the format is given.
    let path = dir.path().join("logging.conf.in");
    std::fs::write(&path, "version: 1\nroot: {level: CRITICAL}\n").unwrap();
    let tree = LoggerTree::new();
    let _guard = Builder::from_file(&path)
        .format(SourceFormat::Yaml)
        .tree(tree.clone())
        .init()
        .unwrap();
    assert_eq!(tree.root().effective_level(), level::CRITICAL);
}

#[test]
fn an_invalid_file_at_start_is_an_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logging.json");
    std::fs::write(
        &path,
        r#"{"version": 1, "handlers": {"h": {"()": "os.system"}}, "root": {"level": "DEBUG"}}"#,
    )
    .unwrap();
    let tree = LoggerTree::new();
    let err = Builder::from_file(&path)
        .tree(tree.clone())
        .init()
        .unwrap_err();
    assert!(matches!(err, logwire::Error::Config { .. }), "{err}");
    assert!(
        err.to_string().contains("'()' factories are not allowed"),
        "{err}"
    );
    assert_eq!(tree.root().effective_level(), level::WARNING);

    let missing = Builder::from_file(dir.path().join("absent.yaml"))
        .tree(tree)
        .init()
        .unwrap_err();
    assert!(matches!(missing, logwire::Error::Read { .. }), "{missing}");
}

#[test]
fn the_guard_flushes_and_closes_every_handler_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let path = dir.path().join("logging.json");
    // A MemoryHandler holds records until it is flushed; only a shutdown writes them out.
    let text = format!(
        r#"{{"version": 1,
            "handlers": {{
              "file": {{"class": "logging.FileHandler", "filename": {:?}}},
              "mem": {{"class": "logging.handlers.MemoryHandler", "capacity": 1000,
                      "flushLevel": "CRITICAL", "target": "file"}}}},
            "root": {{"level": "INFO", "handlers": ["mem"]}}}}"#,
        log.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    let tree = LoggerTree::new();
    let guard = Builder::from_file(&path).tree(tree.clone()).init().unwrap();
    tree.get_logger("app").info("buffered until shutdown");
    assert_eq!(
        read(&log),
        "",
        "the memory handler should still hold the record"
    );
    drop(guard);
    assert_eq!(read(&log), "buffered until shutdown\n");
}

#[test]
fn a_watched_file_changed_to_a_valid_config_applies() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let path = dir.path().join("logging.json");
    std::fs::write(&path, file_config(&a, "A %(message)s")).unwrap();
    let tree = LoggerTree::new();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let _guard = Builder::from_file(&path)
        .tree(tree.clone())
        .watch_debounced(Duration::from_millis(50))
        .on_reload(move |e| {
            let _ = tx.lock().unwrap().send(e.to_string());
        })
        .init()
        .unwrap();
    let app = tree.get_logger("app");
    app.info("one");

    replace(&path, &file_config(&b, "B %(message)s"));
    let event = next_event(&rx);
    assert!(
        event.starts_with("config reloaded (FileChanged)"),
        "{event}"
    );
    // `app` existed before the reload and the new file does not name it: a reload keeps it
    // enabled (only the first apply follows `disable_existing_loggers`).
    app.info("two");
    assert_eq!(read(&a), "A one\n");
    assert!(read(&b).ends_with("B two\n"), "{}", read(&b));
}

#[test]
fn a_watched_file_changed_to_an_invalid_config_keeps_the_old_routing_and_reports_why() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let path = dir.path().join("logging.yaml");
    let yaml = format!(
        "version: 1\nformatters:\n  f: {{format: '%(name)s %(levelname)s %(message)s'}}\n\
         handlers:\n  file: {{class: logging.FileHandler, filename: {:?}, formatter: f}}\n\
         root: {{level: INFO, handlers: [file]}}\n",
        a.display().to_string()
    );
    std::fs::write(&path, yaml).unwrap();
    let tree = LoggerTree::new();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let _guard = Builder::from_file(&path)
        .tree(tree.clone())
        .watch_debounced(Duration::from_millis(50))
        .on_reload(move |e| {
            let rejected = matches!(e, ReloadEvent::Rejected { .. });
            let _ = tx.lock().unwrap().send(format!("{rejected} {e}"));
        })
        .init()
        .unwrap();

    // An unknown handler class, then a file that is not YAML at all.
    replace(
        &path,
        "version: 1\nhandlers:\n  h: {class: os.system}\nroot: {level: DEBUG, handlers: [h]}\n",
    );
    let event = next_event(&rx);
    assert!(
        event.starts_with("true config reload (FileChanged) rejected"),
        "{event}"
    );
    assert!(event.contains("os.system"), "{event}");
    replace(&path, "version: [1\n");
    let event = next_event(&rx);
    assert!(event.starts_with("true "), "{event}");

    tree.get_logger("app").info("still routed");
    tree.get_logger("app").debug("still at INFO");
    let text = read(&a);
    assert!(text.contains("app INFO still routed\n"), "{text}");
    assert!(!text.contains("still at INFO"), "{text}");
    // The error went through the old configuration's handlers.
    assert!(
        text.lines().any(|l| l
            .starts_with("logwire.config ERROR config reload (FileChanged) rejected")
            && l.contains("os.system")),
        "{text}"
    );
}

#[test]
fn an_explicit_reload_rebuilds_and_a_broken_file_keeps_the_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let path = dir.path().join("logging.json");
    std::fs::write(&path, file_config(&a, "%(message)s")).unwrap();
    let tree = LoggerTree::new();
    let guard = Builder::from_file(&path).tree(tree.clone()).init().unwrap();
    let before = tree.snapshot().all_handlers();
    let report = guard.reload().unwrap();
    assert_eq!(report.handlers_built, 1, "an explicit reload rebuilds");
    let after = tree.snapshot().all_handlers();
    assert!(!std::sync::Arc::ptr_eq(&before[0], &after[0]));

    // A broken file: the explicit reload reports it and the handler stays.
    std::fs::write(&path, "{").unwrap();
    let err = guard.reload().unwrap_err();
    assert!(matches!(*err, logwire::Error::Config { .. }), "{err}");
    assert!(std::sync::Arc::ptr_eq(
        &after[0],
        &tree.snapshot().all_handlers()[0]
    ));
}

/// Kubernetes mounts a ConfigMap as `logging.yaml -> ..data/logging.yaml` with
/// `..data -> ..<timestamp>/`, and updates it by renaming a new `..data` symlink over the old
/// one: no event names `logging.yaml` itself.
#[cfg(unix)]
#[test]
fn a_configmap_style_symlink_swap_applies() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (d.join("a.log"), d.join("b.log"));
    for (version, log) in [("..v1", &a), ("..v2", &b)] {
        std::fs::create_dir(d.join(version)).unwrap();
        std::fs::write(
            d.join(version).join("logging.json"),
            file_config(log, "%(message)s"),
        )
        .unwrap();
    }
    symlink("..v1", d.join("..data")).unwrap();
    symlink("..data/logging.json", d.join("logging.json")).unwrap();

    let tree = LoggerTree::new();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let _guard = Builder::from_file(d.join("logging.json"))
        .tree(tree.clone())
        .watch_debounced(Duration::from_millis(50))
        .on_reload(move |e| {
            let _ = tx.lock().unwrap().send(e.to_string());
        })
        .init()
        .unwrap();
    tree.get_logger("app").info("to a");

    symlink("..v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    let event = next_event(&rx);
    assert!(
        event.starts_with("config reloaded (FileChanged)"),
        "{event}"
    );
    tree.get_logger("app").info("to b");
    assert_eq!(read(&a), "to a\n");
    assert!(read(&b).ends_with("to b\n"), "{}", read(&b));
}
