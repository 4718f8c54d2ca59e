//! SIGHUP re-applies the file (its own test binary: the signal is process-wide).
#![cfg(feature = "sighup")]

use logwire::{Builder, LoggerTree, level};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn sighup_reapplies_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logging.yaml");
    std::fs::write(&path, "version: 1\nroot: {level: INFO}\n").unwrap();
    let tree = LoggerTree::new();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let guard = Builder::from_file(&path)
        .tree(tree.clone())
        .reload_on_sighup()
        .on_reload(move |e| {
            let _ = tx.lock().unwrap().send(e.to_string());
        })
        .init()
        .unwrap();
    // No watcher: only the signal can make the tree see this.
    std::fs::write(&path, "version: 1\nroot: {level: ERROR}\n").unwrap();
    assert_eq!(tree.root().effective_level(), level::INFO);
    signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
    let event = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a reload within 30 s of SIGHUP");
    assert!(event.starts_with("config reloaded (Sighup)"), "{event}");
    assert_eq!(tree.root().effective_level(), level::ERROR);
    drop(guard);
}
