//! The one-line start, on the process-wide tree (its own test binary: it installs the `log`
//! logger and the global `tracing` subscriber, which a process can do once).
#![cfg(all(feature = "watch", feature = "log", feature = "tracing"))]

use std::sync::mpsc;
use std::time::Duration;

#[test]
fn init_file_configures_the_global_tree_bridges_both_facades_and_watches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app.log");
    let path = dir.path().join("logging.yaml");
    let config = |level: &str| {
        format!(
            "version: 1\nformatters:\n  f: {{format: '%(name)s %(levelname)s %(message)s'}}\n\
             handlers:\n  file: {{class: logging.FileHandler, filename: {:?}, formatter: f}}\n\
             root: {{level: {level}, handlers: [file]}}\n",
            out.display().to_string()
        )
    };
    std::fs::write(&path, config("INFO")).unwrap();

    let guard = logwire::init_file(&path).unwrap();
    log::info!(target: "my_app::db", "from log");
    tracing::info!(target: "my_app::http", "from tracing");
    log::debug!(target: "my_app::db", "below INFO");

    // The file is watched: DEBUG on. The watcher's reload is logged at INFO through the new
    // configuration, so a record of `logwire.config` in the file says it was applied.
    let tmp = dir.path().join("logging.new");
    std::fs::write(&tmp, config("DEBUG")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.contains("logwire.config INFO config reloaded (FileChanged)") {
                let _ = tx.send(out);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the changed file applied within 30 s");
    log::debug!(target: "my_app::db", "debug now");
    drop(guard);

    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "my_app.db INFO from log");
    assert_eq!(lines[1], "my_app.http INFO from tracing");
    assert!(
        lines[2].starts_with("logwire.config INFO config reloaded"),
        "{text}"
    );
    assert_eq!(lines[3], "my_app.db DEBUG debug now");
    assert_eq!(lines.len(), 4, "{text}");
}
