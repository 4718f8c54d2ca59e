//! Per-output counters: `Handler::stats` counts records, bytes and errors per handler.

use logwire_engine::{
    CaptureBuffer, FileHandler, FileMode, FileOptions, Handler, HandlerStats, LogRecord,
    MemoryHandler, NameFilter, QueueHandler, QueueOptions, StreamHandler, level,
};
use std::sync::Arc;

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("app.db", level::INFO, "p.rs", 1, msg)
}

#[test]
fn file_handler_counts_the_bytes_that_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let h = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap())
        .with_filter(Arc::new(NameFilter::new("app")));
    let fresh: HandlerStats = h.stats();
    assert_eq!((fresh.records, fresh.bytes, fresh.errors), (0, Some(0), 0));
    h.handle(&rec("héllo"));
    h.handle(&rec("two"));
    // Filtered out: neither a record nor bytes.
    h.handle(&LogRecord::new("other", level::INFO, "p.rs", 1, "no"));
    h.close();
    let written = std::fs::read(&path).unwrap().len() as u64;
    assert_eq!(written, "héllo\ntwo\n".len() as u64);
    let s = h.stats();
    assert_eq!((s.records, s.bytes, s.errors), (2, Some(written), 0));
}

#[test]
fn queued_file_handler_counts_batched_lines_and_the_queue_counts_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.log");
    let file = Arc::new(Handler::new(
        FileHandler::new(&path, FileOptions::default()).unwrap(),
    ));
    let q = Handler::new(QueueHandler::new(vec![file.clone()], QueueOptions::default()).unwrap());
    for i in 0..100 {
        q.handle(&rec(&format!("line {i}")));
    }
    q.close();
    let written = std::fs::read(&path).unwrap().len() as u64;
    assert_eq!(file.stats().bytes, Some(written));
    assert_eq!(file.stats().records, 100);
    let qs = q.stats();
    assert_eq!(qs.records, 100);
    // The queue's bytes are the records' footprint, more than their text.
    assert!(qs.bytes.unwrap() > written, "{qs:?}");
}

#[test]
fn errors_are_counted_and_kinds_without_bytes_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let opts = FileOptions {
        mode: FileMode::Write,
        ..Default::default()
    };
    let h = Handler::new(FileHandler::new(&path, opts).unwrap());
    h.close();
    // Mode 'w' after close: the record is refused and reported.
    h.handle(&rec("late"));
    let s = h.stats();
    assert_eq!((s.records, s.bytes, s.errors), (1, Some(0), 1));

    let out = CaptureBuffer::new();
    let stream = Handler::new(StreamHandler::new(out.clone()));
    stream.handle(&rec("abc"));
    assert_eq!(stream.stats().bytes, Some(4));
    let mem = Handler::new(MemoryHandler::new(10, level::ERROR, None, true).unwrap());
    mem.handle(&rec("kept"));
    assert_eq!(mem.stats().bytes, None);
    assert_eq!(mem.stats().records, 1);
}
