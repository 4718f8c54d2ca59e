//! A thread that batches handler writes (`batch_writes_on_this_thread`, as the collector's
//! dispatcher does): file handlers keep the lines in memory until flushed, and what reaches
//! the file is exactly what unbatched writes produce — in order, skipping a record whose
//! format fails (CPython writes nothing for it), with UTF-8 and Latin-1 files, and with a rotating file that measures
//! `tell()` while lines are still batched.

use logwire_engine::{
    Emitter, Encoding, FileHandler, FileOptions, Formatter, Handler, LogRecord,
    RotatingFileHandler, Style, batch_writes_on_this_thread, level,
};
use std::path::Path;
use std::sync::Arc;

fn records() -> Vec<LogRecord> {
    (0..50)
        .map(|i| {
            let mut r = LogRecord::new("app", level::INFO, "p.py", 1, format!("naïve line {i}"));
            // Every 7th record lacks the field the format needs: nothing is written for it.
            if i % 7 != 0 {
                r.set_extra("rid", format!("r{i}"));
            }
            r
        })
        .collect()
}

fn formatter() -> Arc<Formatter> {
    Arc::new(
        Formatter::new(
            Some("%(name)s %(message)s %(rid)s"),
            None,
            Style::Percent,
            true,
            vec![],
        )
        .unwrap(),
    )
}

/// Writes `records` through a handler made by `make` for `path`, batching or not.
fn write_all(path: &Path, batch: bool, make: impl Fn(&Path) -> Box<dyn Emitter>) -> Vec<u8> {
    let h = Handler::from_boxed(make(path)).with_formatter(formatter());
    batch_writes_on_this_thread(batch);
    let mut flushed = 0;
    for (i, r) in records().iter().enumerate() {
        h.handle(r);
        if batch {
            // Nothing of a batch reaches the file before the flush.
            let len = std::fs::read(path).unwrap().len();
            assert_eq!(len, flushed, "batched lines were written early");
        }
        if i % 10 == 9 {
            h.flush();
            flushed = std::fs::read(path).unwrap().len();
        }
    }
    h.flush();
    batch_writes_on_this_thread(false);
    h.close();
    std::fs::read(path).unwrap()
}

fn same_with_and_without_batching(name: &str, make: impl Fn(&Path) -> Box<dyn Emitter>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_all(&dir.path().join(format!("{name}-plain.log")), false, &make);
    let batched = write_all(&dir.path().join(format!("{name}-batched.log")), true, &make);
    assert_eq!(batched, plain, "{name}");
    plain
}

#[test]
fn utf8_file_handler_batches_the_same_bytes() {
    let out = same_with_and_without_batching("utf8", |p| {
        Box::new(FileHandler::new(p, FileOptions::default()).unwrap())
    });
    let text = String::from_utf8(out).unwrap();
    // Records 0, 7, …, 49 fail to format: CPython writes nothing for them.
    assert_eq!(text.lines().count(), 50 - 8);
    assert!(text.starts_with("app naïve line 1 r1\n"), "{text}");
    assert!(!text.contains("line 7 "), "{text}");
}

#[test]
fn latin1_file_handler_batches_the_same_bytes() {
    let out = same_with_and_without_batching("latin1", |p| {
        let options = FileOptions {
            encoding: Some(Encoding::Latin1),
            ..FileOptions::default()
        };
        Box::new(FileHandler::new(p, options).unwrap())
    });
    assert!(out.starts_with(b"app na\xefve line 1 r1\n"));
}

#[test]
fn rotating_handler_counts_batched_lines_in_its_size() {
    // maxBytes small enough to roll over many times within one batch.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rot.log");
    let h = Handler::new(RotatingFileHandler::new(&path, 200, 3, FileOptions::default()).unwrap())
        .with_formatter(formatter());
    batch_writes_on_this_thread(true);
    for r in records() {
        h.handle(&r);
    }
    h.flush();
    batch_writes_on_this_thread(false);
    h.close();
    for p in [
        path.clone(),
        dir.path().join("rot.log.1"),
        dir.path().join("rot.log.2"),
        dir.path().join("rot.log.3"),
    ] {
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len > 0 && len <= 200, "{} is {len} bytes", p.display());
    }
}

/// A batch is written out once it holds 64 KiB, without waiting for the flush, so a busy
/// batching thread never holds more than that per file; and the lines stay in order.
#[test]
fn a_full_batch_is_written_before_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let h = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap())
        .with_formatter(formatter());
    batch_writes_on_this_thread(true);
    let mut r = LogRecord::new("app", level::INFO, "p.py", 1, "x".repeat(1000));
    r.set_extra("rid", "r");
    // 200 lines of about 1 KiB: over 64 KiB, under 2 × 64 KiB.
    for _ in 0..200 {
        h.handle(&r);
    }
    let before_flush = std::fs::read(&path).unwrap().len();
    h.flush();
    batch_writes_on_this_thread(false);
    h.close();
    let all = std::fs::read(&path).unwrap();
    assert!(
        (64 * 1024..all.len()).contains(&before_flush),
        "{before_flush} of {} bytes written before the flush",
        all.len()
    );
    assert_eq!(all.len(), 200 * "app  r\n".len() + 200 * 1000);
}

/// Batched and unbatched writes on the same handler (one thread batching, another not)
/// reach the file in the order they were made.
#[test]
fn batched_and_unbatched_writes_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let h = Arc::new(
        Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap())
            .with_formatter(formatter()),
    );
    let line = |i: usize| {
        let mut r = LogRecord::new("app", level::INFO, "p.py", 1, format!("m{i}"));
        r.set_extra("rid", "r");
        r
    };
    for i in 0..30 {
        if i % 3 == 2 {
            // From a thread that does not batch: the batch before it must go first.
            let h = Arc::clone(&h);
            let r = line(i);
            std::thread::spawn(move || h.handle(&r)).join().unwrap();
        } else {
            batch_writes_on_this_thread(true);
            h.handle(&line(i));
        }
    }
    h.flush();
    batch_writes_on_this_thread(false);
    h.close();
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    let want: String = (0..30).map(|i| format!("app m{i} r\n")).collect();
    assert_eq!(text, want);
}

/// Two handlers on one file (a MemoryHandler's target and a direct handler, as CPython
/// configs have): batching keeps the lines in the order they were emitted.
#[test]
fn two_handlers_sharing_a_file_keep_emit_order_when_batching() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.log");
    let a = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap());
    let b = Handler::new(FileHandler::new(&path, FileOptions::default()).unwrap());
    batch_writes_on_this_thread(true);
    for i in 0..6 {
        let h = if i % 3 == 0 { &b } else { &a };
        h.handle(&LogRecord::new(
            "app",
            level::INFO,
            "p.py",
            1,
            format!("line {i}"),
        ));
    }
    a.flush();
    b.flush();
    batch_writes_on_this_thread(false);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\n");
}

/// `sync` (what a collector does before acking) writes batches out but leaves a
/// MemoryHandler's buffer alone; logging's `flush` empties it.
#[test]
fn sync_keeps_a_memory_buffer_flush_empties_it() {
    use logwire_engine::MemoryHandler;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mem.log");
    let target = Arc::new(Handler::new(
        FileHandler::new(&path, FileOptions::default()).unwrap(),
    ));
    let mem = Arc::new(MemoryHandler::new(3, level::ERROR, Some(target), true).unwrap());
    let h = Handler::new(Arc::clone(&mem));
    batch_writes_on_this_thread(true);
    for i in 0..4 {
        h.handle(&LogRecord::new(
            "app",
            level::INFO,
            "p.py",
            1,
            format!("line {i}"),
        ));
    }
    h.sync();
    batch_writes_on_this_thread(false);
    assert_eq!(mem.buffered(), 1);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "line 0\nline 1\nline 2\n"
    );
    h.flush();
    assert_eq!(mem.buffered(), 0);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("line 3\n")
    );
}
