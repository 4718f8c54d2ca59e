//! `Builder::tracing` (its own test binary: the global subscriber is process-wide).
#![cfg(feature = "tracing")]

use logwire::{Builder, LoggerTree};

#[test]
fn tracing_events_reach_the_configured_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("app.log");
    let path = dir.path().join("logging.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nformatters:\n  f: {{format: '%(name)s %(levelname)s %(message)s'}}\n\
             handlers:\n  file: {{class: logging.FileHandler, filename: {:?}, formatter: f}}\n\
             root: {{level: INFO, handlers: [file]}}\n",
            out.display().to_string()
        ),
    )
    .unwrap();
    let tree = LoggerTree::new();
    let guard = Builder::from_file(&path)
        .tree(tree)
        .tracing()
        .init()
        .unwrap();
    tracing::info!(target: "my_app::db", "connected to {}", "db1");
    tracing::debug!(target: "my_app::db", "below INFO");
    drop(guard);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "my_app.db INFO connected to db1\n"
    );
    // A second bridge cannot be installed: an error, not a panic.
    let again = Builder::from_file(&path)
        .tree(LoggerTree::new())
        .tracing()
        .init()
        .unwrap_err();
    assert!(matches!(again, logwire::Error::Bridge(_)), "{again}");
}
