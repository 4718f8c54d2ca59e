//! Reconfiguration is atomic and never blocks logging threads.

use crate::common;
use common::Capture;
use logwire_engine::level::{DEBUG, INFO};
use logwire_engine::{Handler, LoggerTree};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn a_failed_apply_changes_nothing() {
    let tree = LoggerTree::new();
    let cap = Arc::new(Capture::default());
    let h = Arc::new(Handler::new(Arc::clone(&cap)));
    tree.root().add_handler(Arc::clone(&h));
    let before = tree.snapshot();
    let r: Result<(), &str> = tree.apply(|d| {
        d.root_mut().set_handlers(Vec::new());
        d.logger_mut("new.logger").set_level(DEBUG);
        Err("the last handler is invalid")
    });
    assert!(r.is_err());
    let after = tree.snapshot();
    assert!(
        Arc::ptr_eq(&before, &after),
        "the old snapshot stays in place"
    );
    assert!(after.get("new.logger").is_none());
    tree.root().warning("still writing");
    assert_eq!(cap.lines().len(), 1);
}

#[test]
fn readers_see_either_the_old_or_the_new_tree() {
    // Two handlers are swapped for each other; a logging thread must always find exactly one.
    let tree = LoggerTree::new();
    let a = Arc::new(Capture::default());
    let b = Arc::new(Capture::default());
    let ha = Arc::new(Handler::new(Arc::clone(&a)));
    let hb = Arc::new(Handler::new(Arc::clone(&b)));
    tree.root().add_handler(Arc::clone(&ha));
    tree.root().set_level(INFO);
    let stop = Arc::new(AtomicBool::new(false));
    let logger = tree.get_logger("worker");
    let stop2 = Arc::clone(&stop);
    let worker = std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) && n < 200_000 {
            logger.info(n.to_string());
            n += 1;
        }
        n
    });
    for i in 0..200 {
        let next = if i % 2 == 0 {
            Arc::clone(&hb)
        } else {
            Arc::clone(&ha)
        };
        tree.update(|d| d.root_mut().set_handlers(vec![next]));
    }
    stop.store(true, Ordering::Relaxed);
    let sent = worker.join().unwrap();
    let got = a.lines().len() + b.lines().len();
    assert_eq!(got as u64, sent, "every record reached exactly one handler");
}

#[test]
fn change_hooks_see_the_new_minimum_level() {
    let tree = LoggerTree::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    tree.on_change(move |snap| s2.lock().unwrap().push(snap.min_threshold()));
    tree.get_logger("a").set_level(DEBUG);
    tree.get_logger("a").set_disabled(true);
    let v = seen.lock().unwrap().clone();
    assert_eq!(v.first(), Some(&30));
    assert!(v.contains(&DEBUG));
    assert_eq!(
        v.last(),
        Some(&30),
        "a disabled logger does not lower the minimum"
    );
}
