//! Shared test helpers: a handler that remembers what it was given.
#![allow(dead_code, unreachable_pub)]

pub mod golden;

use logwire_engine::{Emitter, Formatter, Handler, HandlerError, LogRecord, LoggerTree};
use std::sync::{Arc, Mutex};

/// Records `(logger name, level name, message)` of every record it emits.
#[derive(Default)]
pub struct Capture(pub Mutex<Vec<(String, String, String)>>);

impl Emitter for Capture {
    fn emit(&self, r: &LogRecord, _f: &Formatter) -> Result<(), HandlerError> {
        self.0
            .lock()
            .unwrap()
            .push((r.name.clone(), r.levelname.clone(), r.get_message()));
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Capture"
    }
}

impl Capture {
    pub fn lines(&self) -> Vec<(String, String, String)> {
        self.0.lock().unwrap().clone()
    }
    pub fn triples(&self) -> Vec<(String, String, String)> {
        self.lines()
    }
    pub fn level_and_message(&self) -> Vec<(String, String)> {
        self.lines().into_iter().map(|(_, l, m)| (l, m)).collect()
    }
}

/// CPython's `BaseTest.setUp`: root at DEBUG with one capturing handler.
pub fn tree_with_root_capture() -> (LoggerTree, Arc<Capture>, Arc<Handler>) {
    let tree = LoggerTree::new();
    let cap = Arc::new(Capture::default());
    let handler = Arc::new(Handler::new(Arc::clone(&cap)));
    let root = tree.root();
    root.add_handler(Arc::clone(&handler));
    root.set_level(logwire_engine::level::DEBUG);
    (tree, cap, handler)
}

/// `next_message()`: "1", "2", …
pub struct Counter(u32);

impl Counter {
    pub fn new() -> Self {
        Counter(0)
    }
    pub fn next(&mut self) -> String {
        self.0 += 1;
        self.0.to_string()
    }
}

pub fn t(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.to_owned(), b.to_owned(), c.to_owned())
}
