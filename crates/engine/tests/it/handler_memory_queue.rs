//! MemoryHandler (CPython's MemoryHandlerTest) and QueueHandler.

use logwire_engine::{
    CaptureBuffer, Emitter, FileHandler, FileOptions, Formatter, Handler, HandlerError, LogRecord,
    MemoryHandler, OverflowPolicy, QueueHandler, QueueOptions, StreamHandler, Style, level,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn rec(lvl: i32, msg: &str) -> LogRecord {
    LogRecord::new("mem", lvl, "p", 1, msg)
}

/// CPython's BaseTest root handler: a StringIO with `%(name)s -> %(levelname)s: %(message)s`.
fn root_handler() -> (CaptureBuffer, Arc<Handler>) {
    let out = CaptureBuffer::new();
    let fmt = Formatter::new(
        Some("%(name)s -> %(levelname)s: %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let h = Handler::new(StreamHandler::new(out.clone())).with_formatter(Arc::new(fmt));
    (out, Arc::new(h))
}

fn lines(out: &CaptureBuffer) -> Vec<(String, String)> {
    out.contents()
        .lines()
        .map(|l| {
            let rest = l.split_once(" -> ").unwrap().1;
            let (lvl, msg) = rest.split_once(": ").unwrap();
            (lvl.to_owned(), msg.to_owned())
        })
        .collect()
}

fn expect(v: &[(&str, i32)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(l, n)| ((*l).to_owned(), n.to_string()))
        .collect()
}

#[test]
fn memory_handler_flush() {
    let (out, root) = root_handler();
    let mem = Handler::new(MemoryHandler::new(10, level::WARNING, Some(root), true).unwrap());
    let mut n = 0;
    let mut next = || {
        n += 1;
        n.to_string()
    };
    mem.handle(&rec(level::DEBUG, &next()));
    assert!(lines(&out).is_empty());
    mem.handle(&rec(level::INFO, &next()));
    assert!(lines(&out).is_empty());
    // WARNING >= flushLevel: flush.
    mem.handle(&rec(level::WARNING, &next()));
    let mut want = expect(&[("DEBUG", 1), ("INFO", 2), ("WARNING", 3)]);
    assert_eq!(lines(&out), want);
    for start in [4, 14] {
        for _ in 0..9 {
            mem.handle(&rec(level::DEBUG, &next()));
        }
        assert_eq!(lines(&out), want);
        // The 10th record since the last flush fills the buffer.
        mem.handle(&rec(level::DEBUG, &next()));
        want.extend((start..start + 10).map(|i| ("DEBUG".to_owned(), i.to_string())));
        assert_eq!(lines(&out), want);
    }
    mem.handle(&rec(level::DEBUG, &next()));
    assert_eq!(lines(&out), want);
    mem.close();
}

#[test]
fn memory_handler_flush_on_close() {
    let (out, root) = root_handler();
    let mem =
        Handler::new(MemoryHandler::new(10, level::WARNING, Some(root.clone()), true).unwrap());
    mem.handle(&rec(level::DEBUG, "1"));
    mem.handle(&rec(level::INFO, "2"));
    assert!(lines(&out).is_empty());
    mem.close();
    let want = expect(&[("DEBUG", 1), ("INFO", 2)]);
    assert_eq!(lines(&out), want);

    let mem = Handler::new(MemoryHandler::new(10, level::WARNING, Some(root), false).unwrap());
    mem.handle(&rec(level::DEBUG, "3"));
    mem.handle(&rec(level::INFO, "4"));
    mem.close();
    assert_eq!(lines(&out), want);
    mem.close();
}

#[test]
fn memory_handler_target_set_later_and_target_filters_apply_but_not_level() {
    let (out, root) = root_handler();
    let mh = Arc::new(MemoryHandler::new(3, level::ERROR, None, true).unwrap());
    let mem = Handler::new(mh.clone());
    mem.handle(&rec(level::DEBUG, "1"));
    mem.handle(&rec(level::DEBUG, "2"));
    assert_eq!(mh.buffered(), 2);
    // Target with level ERROR and a filter dropping "2": the level is not applied
    // (Handler.handle), the filter is.
    let target = Arc::new(
        Handler::new(StreamHandler::new(out.clone()))
            .with_level(level::ERROR)
            .with_filter(Arc::new(|r: &LogRecord| r.msg != "2")),
    );
    let _ = root;
    mh.set_target(Some(target));
    mem.handle(&rec(level::DEBUG, "3")); // buffer full: flush
    assert_eq!(out.contents(), "1\n3\n");
    assert_eq!(mh.buffered(), 0);
}

#[test]
fn memory_handler_without_target_is_bounded_and_reports() {
    let mh = Arc::new(MemoryHandler::new(2, level::ERROR, None, true).unwrap());
    let mem = Handler::new(mh.clone());
    for i in 0..5 {
        mem.handle(&rec(level::CRITICAL, &i.to_string()));
    }
    assert_eq!(mh.buffered(), 2);
    assert_eq!(mh.dropped(), 3);
    assert_eq!(mem.error_count(), 3);
    assert!(MemoryHandler::new(1_000_001, level::ERROR, None, true).is_err());
}

// ----------------------------------------------------------------------------- queue

fn capture_target() -> (CaptureBuffer, Arc<Handler>) {
    let out = CaptureBuffer::new();
    (out.clone(), Arc::new(Handler::new(StreamHandler::new(out))))
}

#[test]
fn queue_many_threads_every_record_once_in_order_per_thread() {
    let (out, target) = capture_target();
    let q = Arc::new(
        QueueHandler::new(
            vec![target],
            QueueOptions {
                capacity: 64,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let h = Arc::new(Handler::new(q.clone()));
    let threads = 8;
    let per = 2000;
    std::thread::scope(|s| {
        for t in 0..threads {
            let h = h.clone();
            s.spawn(move || {
                for i in 0..per {
                    h.handle(&rec(level::INFO, &format!("{t} {i}")));
                }
            });
        }
    });
    h.flush();
    assert_eq!(q.enqueued(), (threads * per) as u64);
    assert_eq!(q.handled(), (threads * per) as u64);
    assert_eq!(q.dropped(), 0);
    let mut next = vec![0; threads];
    for line in out.contents().lines() {
        let (t, i) = line.split_once(' ').unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[t], "thread {t} out of order");
        next[t] += 1;
    }
    assert_eq!(next, vec![per; threads]);
    h.close();
}

type Gate = Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>;

/// A target that waits on a gate before each record: simulates a slow disk.
struct Gated {
    gate: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    out: CaptureBuffer,
    seen: AtomicU64,
}

impl Emitter for Gated {
    fn emit(&self, record: &LogRecord, f: &Formatter) -> Result<(), HandlerError> {
        let (m, cv) = &*self.gate;
        let mut open = m.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        self.seen.fetch_add(1, Ordering::SeqCst);
        use std::io::Write;
        writeln!(self.out.clone(), "{}", f.format(record)).unwrap();
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Gated"
    }
}

fn gated() -> (Gate, CaptureBuffer, Arc<Handler>) {
    let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let out = CaptureBuffer::new();
    let g = Gated {
        gate: gate.clone(),
        out: out.clone(),
        seen: AtomicU64::new(0),
    };
    (gate, out, Arc::new(Handler::new(g)))
}

fn open_gate(gate: &(std::sync::Mutex<bool>, std::sync::Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

#[test]
fn queue_drop_policy_counts_and_announces_and_never_blocks() {
    let (gate, out, target) = gated();
    let opts = QueueOptions {
        capacity: 4,
        policy: OverflowPolicy::Drop,
        ..Default::default()
    };
    let q = Arc::new(QueueHandler::new(vec![target], opts).unwrap());
    let h = Handler::new(q.clone());
    let start = Instant::now();
    for i in 0..100 {
        h.handle(&rec(level::INFO, &i.to_string()));
    }
    // The target is stuck, yet the caller was never held up.
    assert!(start.elapsed() < Duration::from_secs(2));
    let dropped = q.dropped();
    // At most capacity + 1 (one in the worker's hands) got through.
    assert!(dropped >= 95, "dropped {dropped}");
    assert_eq!(q.enqueued() + dropped, 100);
    open_gate(&gate);
    h.flush();
    assert_eq!(q.handled(), q.enqueued());
    let text = out.contents();
    // Announced in one notice or several (space may come back between drops): together
    // they account for every dropped record.
    let notices: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_suffix(" records dropped"))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(notices.iter().sum::<u64>(), dropped, "{text}");
    assert_eq!(
        text.lines().count() as u64,
        q.enqueued() + notices.len() as u64
    );
    // Later records flow again.
    h.handle(&rec(level::INFO, "after"));
    h.close();
    assert!(out.contents().ends_with("after\n"));
}

#[test]
fn queue_drop_notice_is_a_warning_from_logwire_queue() {
    let (gate, _out, target) = gated();
    let seen = CaptureBuffer::new();
    let fmt = Formatter::new(
        Some("%(name)s %(levelname)s %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let spy =
        Arc::new(Handler::new(StreamHandler::new(seen.clone())).with_formatter(Arc::new(fmt)));
    let opts = QueueOptions {
        capacity: 1,
        policy: OverflowPolicy::Drop,
        ..Default::default()
    };
    let q = Arc::new(QueueHandler::new(vec![target, spy], opts).unwrap());
    let h = Handler::new(q.clone());
    for i in 0..10 {
        h.handle(&rec(level::INFO, &i.to_string()));
    }
    open_gate(&gate);
    h.close();
    let n = q.dropped();
    assert!(n > 0);
    // Drops may be announced in more than one notice (space can come back between them);
    // together they must account for every dropped record.
    let text = seen.contents();
    let announced: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("logwire.queue WARNING "))
        .filter_map(|l| l.strip_suffix(" records dropped"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(announced, n, "{text}");
}

#[test]
fn queue_block_policy_loses_nothing_with_a_slow_target() {
    let (gate, out, target) = gated();
    let opts = QueueOptions {
        capacity: 2,
        policy: OverflowPolicy::Block,
        ..Default::default()
    };
    let q = Arc::new(QueueHandler::new(vec![target], opts).unwrap());
    let h = Arc::new(Handler::new(q.clone()));
    let producer = {
        let h = h.clone();
        std::thread::spawn(move || {
            for i in 0..50 {
                h.handle(&rec(level::INFO, &i.to_string()));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    // Blocked on the full queue.
    assert!(q.enqueued() <= 4, "{}", q.enqueued());
    open_gate(&gate);
    producer.join().unwrap();
    h.close();
    let want: String = (0..50).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.contents(), want);
    assert_eq!(q.dropped(), 0);
    assert_eq!(q.handled(), 50);
}

#[test]
fn queue_close_drains_everything_and_refuses_later_records() {
    let (gate, out, target) = gated();
    let q = Arc::new(QueueHandler::new(vec![target], QueueOptions::default()).unwrap());
    let h = Handler::new(q.clone());
    for i in 0..500 {
        h.handle(&rec(level::INFO, &i.to_string()));
    }
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            open_gate(&gate);
        })
    };
    h.close();
    opener.join().unwrap();
    assert_eq!(out.contents().lines().count(), 500);
    assert_eq!(q.handled(), 500);
    h.close(); // idempotent
    h.flush();
    assert!(matches!(
        q.emit(&rec(level::INFO, "late"), &Formatter::default()),
        Err(HandlerError::Closed)
    ));
}

#[test]
fn queue_respect_handler_level_and_prepare_merges_message() {
    let (out_all, all) = capture_target();
    let out_err = CaptureBuffer::new();
    let err = Arc::new(Handler::new(StreamHandler::new(out_err.clone())).with_level(level::ERROR));
    let opts = QueueOptions {
        respect_handler_level: true,
        ..Default::default()
    };
    let qfmt = Formatter::new(
        Some("[%(levelname)s] %(message)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let h = Handler::new(QueueHandler::new(vec![all, err], opts).unwrap())
        .with_formatter(Arc::new(qfmt));
    let mut r = rec(level::INFO, "a %s");
    r.args = logwire_engine::Args::Tuple(vec![logwire_engine::Value::Str("b".into())]);
    h.handle(&r);
    h.handle(&rec(level::ERROR, "boom"));
    h.close();
    // The queue handler's formatter merged the message; targets format msg as it is.
    assert_eq!(out_all.contents(), "[INFO] a b\n[ERROR] boom\n");
    assert_eq!(out_err.contents(), "[ERROR] boom\n");
}

#[test]
fn queue_batches_file_writes_and_flush_pushes_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.log");
    let file = Arc::new(Handler::new(
        FileHandler::new(&path, FileOptions::default()).unwrap(),
    ));
    let q = Handler::new(QueueHandler::new(vec![file.clone()], QueueOptions::default()).unwrap());
    for i in 0..10_000 {
        q.handle(&rec(level::INFO, &format!("line {i}")));
    }
    q.flush();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 10_000);
    // A direct emit on the same file handler keeps order after the batch.
    file.handle(&rec(level::INFO, "direct"));
    q.close();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("line 9999\ndirect\n")
    );
}

#[test]
fn queue_rejects_bad_capacity() {
    assert!(
        QueueHandler::new(
            vec![],
            QueueOptions {
                capacity: 0,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        QueueHandler::new(
            vec![],
            QueueOptions {
                capacity: 10_000_001,
                ..Default::default()
            }
        )
        .is_err()
    );
}

#[test]
fn queue_flush_and_close_from_many_threads() {
    let (out, target) = capture_target();
    let q = Arc::new(QueueHandler::new(vec![target], QueueOptions::default()).unwrap());
    let h = Arc::new(Handler::new(q.clone()));
    std::thread::scope(|s| {
        for t in 0..4 {
            let h = h.clone();
            s.spawn(move || {
                for i in 0..100 {
                    h.handle(&rec(level::INFO, &format!("{t} {i}")));
                    if i % 10 == 0 {
                        h.flush();
                    }
                }
                h.close();
            });
        }
    });
    assert_eq!(out.contents().lines().count() as u64, q.enqueued());
    assert_eq!(q.handled(), q.enqueued());
}

/// The byte bound: with room for about three records, a stuck target holds the caller back
/// (block) or makes it drop and count (drop), whatever the record capacity says.
#[test]
fn queue_byte_bound_blocks_then_loses_nothing() {
    let (gate, out, target) = gated();
    let one = rec(level::INFO, "0").approx_bytes();
    let opts = QueueOptions {
        capacity: 1000,
        max_bytes: 3 * one + one / 2,
        policy: OverflowPolicy::Block,
        ..Default::default()
    };
    let q = Arc::new(QueueHandler::new(vec![target], opts).unwrap());
    let h = Arc::new(Handler::new(q.clone()));
    let producer = {
        let h = h.clone();
        std::thread::spawn(move || {
            let mut bytes = 0;
            for i in 0..9 {
                let r = rec(level::INFO, &i.to_string());
                bytes += r.approx_bytes() as u64;
                h.handle(&r);
            }
            bytes
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    // Held back by bytes, not by the 1000-record capacity (+1 in the worker's hands).
    assert!(q.enqueued() <= 4, "{}", q.enqueued());
    assert!(
        q.queued_bytes() <= 3 * one + one / 2,
        "{}",
        q.queued_bytes()
    );
    open_gate(&gate);
    let bytes = producer.join().unwrap();
    h.close();
    let want: String = (0..9).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.contents(), want);
    assert_eq!((q.handled(), q.dropped(), q.queued_bytes()), (9, 0, 0));
    assert_eq!(q.bytes_enqueued(), bytes);
}

#[test]
fn queue_byte_bound_drops_and_counts_and_admits_one_oversized_record() {
    let (gate, out, target) = gated();
    let opts = QueueOptions {
        capacity: 1000,
        max_bytes: 1,
        policy: OverflowPolicy::Drop,
        ..Default::default()
    };
    let q = Arc::new(QueueHandler::new(vec![target], opts).unwrap());
    let h = Handler::new(q.clone());
    // Every record is larger than the whole bound: the first fits the empty queue.
    for i in 0..20 {
        h.handle(&rec(level::INFO, &i.to_string()));
    }
    assert!(q.enqueued() >= 1 && q.enqueued() <= 2, "{}", q.enqueued());
    assert_eq!(q.enqueued() + q.dropped(), 20);
    open_gate(&gate);
    h.flush();
    h.close();
    let text = out.contents();
    let announced: u64 = text
        .lines()
        .filter_map(|l| l.strip_suffix(" records dropped"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert!(text.starts_with("0\n"), "{text}");
    assert_eq!(announced, q.dropped(), "{text}");
}

#[test]
fn queue_rejects_bad_byte_bound() {
    for max_bytes in [0, logwire_engine::MAX_QUEUE_BYTES + 1] {
        let opts = QueueOptions {
            max_bytes,
            ..Default::default()
        };
        assert!(matches!(
            QueueHandler::new(vec![], opts),
            Err(HandlerError::Invalid(_))
        ));
    }
}

/// Records are recycled between the worker and the caller: a reused record must carry
/// nothing over from the one before (extra fields, exception text, function name).
#[test]
fn queue_reused_records_carry_nothing_over() {
    let out = CaptureBuffer::new();
    let fmt = Formatter::new(
        Some("%(message)s|%(funcName)s|%(levelname)s"),
        None,
        Style::Percent,
        true,
        vec![],
    )
    .unwrap();
    let target =
        Arc::new(Handler::new(StreamHandler::new(out.clone())).with_formatter(Arc::new(fmt)));
    let q = Handler::new(QueueHandler::new(vec![target], QueueOptions::default()).unwrap());
    let mut rich = rec(level::ERROR, "boom %s");
    rich.args = logwire_engine::Args::Tuple(vec!["x".into()]);
    rich.func_name = Some("f".to_owned());
    rich.exc_text = Some("Traceback".to_owned());
    rich.set_extra("k", "v");
    for _ in 0..3 {
        q.handle(&rich);
        q.flush();
        q.handle(&rec(level::INFO, "plain"));
        q.flush();
    }
    q.close();
    let want = "boom x\nTraceback|f|ERROR\nplain|None|INFO\n".repeat(3);
    assert_eq!(out.contents(), want);
}
