//! SocketHandler (unsigned): CPython's test_output/test_noserver, and what logwire adds:
//! buffering through outages, drop-oldest with an in-band notice, blocking, flush/close.

use crate::common_send;

use common_send::{TestReceiver, free_port, msg_of, wait_until};
use logwire_engine::{Emitter, Handler, HandlerError, LogRecord};
use logwire_handlers::{Backoff, BufferPolicy, SocketHandler, SocketOptions};
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("tcp", 40, "/t/x.py", 1, msg)
}

fn fast_retry() -> SocketOptions {
    SocketOptions {
        backoff: Backoff::new(0.02, 2.0, 0.1).unwrap(),
        ..SocketOptions::default()
    }
}

#[test]
fn test_output_spam_then_eggs() {
    let rx = TestReceiver::plain(0);
    let h = Handler::new(SocketHandler::new("localhost", Some(rx.port)).unwrap());
    h.handle(&rec("spam"));
    let mut eggs = LogRecord::new("tcp", 10, "/t/x.py", 2, "%s");
    eggs.args = logwire_engine::Args::Tuple(vec!["eggs".into()]);
    h.handle(&eggs);
    h.flush();
    wait_until(LIMIT, "2 records", || rx.store.len() == 2);
    assert_eq!(rx.store.messages().join("\n") + "\n", "spam\neggs\n");
    assert_eq!(h.error_count(), 0);
    h.close();
}

#[test]
fn no_server_emit_never_fails_and_backoff_is_pending() {
    let port = free_port();
    let sh = SocketHandler::with_options(
        "127.0.0.1",
        Some(port),
        SocketOptions {
            flush_timeout: Duration::from_millis(300),
            ..SocketOptions::default()
        },
    )
    .unwrap();
    sh.set_retry_start(2.5).unwrap();
    let f = logwire_engine::Formatter::default();
    sh.emit(&rec("Never sent"), &f).unwrap();
    sh.emit(&rec("Never sent, either"), &f).unwrap();
    wait_until(LIMIT, "a failed connect", || {
        sh.stats().connect_failures >= 1
    });
    let b = sh.backoff();
    assert_eq!(b.retry_period(), Some(2.5));
    assert!(b.retry_time().is_some());
    // Unlike CPython, the records are kept, and flush says so.
    let err = sh.flush().unwrap_err();
    assert!(
        err.to_string().contains("2 records not yet delivered"),
        "{err}"
    );
    assert_eq!(sh.stats().buffered, 2);
}

#[test]
fn outage_at_start_records_are_buffered_and_delivered_in_order() {
    let port = free_port();
    let sh = SocketHandler::with_options("127.0.0.1", Some(port), fast_retry()).unwrap();
    let f = logwire_engine::Formatter::default();
    for i in 0..100 {
        sh.emit(&rec(&format!("m{i}")), &f).unwrap();
    }
    wait_until(LIMIT, "failed connects", || {
        sh.stats().connect_failures >= 2
    });
    let rx = TestReceiver::plain(port);
    sh.flush().unwrap();
    wait_until(LIMIT, "100 records", || rx.store.len() == 100);
    let want: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    assert_eq!(rx.store.messages(), want);
    let s = sh.stats();
    assert_eq!((s.enqueued, s.delivered, s.dropped()), (100, 100, 0));
    sh.close();
}

#[test]
fn receiver_restart_between_bursts_loses_nothing() {
    let mut rx = TestReceiver::plain(0);
    let sh = SocketHandler::with_options("127.0.0.1", Some(rx.port), fast_retry()).unwrap();
    let f = logwire_engine::Formatter::default();
    for i in 0..10 {
        sh.emit(&rec(&format!("a{i}")), &f).unwrap();
    }
    sh.flush().unwrap();
    wait_until(LIMIT, "first burst", || rx.store.len() == 10);
    rx.kill();
    // The sender notices the peer went away (its reader sees EOF) before writing again.
    wait_until(LIMIT, "disconnect noticed", || sh.stats().disconnects >= 1);
    for i in 0..10 {
        sh.emit(&rec(&format!("b{i}")), &f).unwrap();
    }
    rx.restart();
    sh.flush().unwrap();
    wait_until(LIMIT, "second burst", || rx.store.len() == 20);
    assert_eq!(
        rx.store.messages()[10..],
        (0..10).map(|i| format!("b{i}")).collect::<Vec<_>>()[..]
    );
    sh.close();
}

#[test]
fn drop_oldest_counts_and_sends_a_notice() {
    let port = free_port();
    let opts = SocketOptions {
        capacity: 10,
        policy: BufferPolicy::DropOldest,
        ..fast_retry()
    };
    let sh = SocketHandler::with_options("127.0.0.1", Some(port), opts).unwrap();
    let f = logwire_engine::Formatter::default();
    for i in 0..25 {
        sh.emit(&rec(&format!("m{i}")), &f).unwrap();
    }
    let s = sh.stats();
    assert_eq!((s.enqueued, s.dropped_overflow, s.buffered), (25, 15, 10));
    let rx = TestReceiver::plain(port);
    sh.flush().unwrap();
    wait_until(LIMIT, "notice + 10 records", || rx.store.len() == 11);
    let got = rx.store.messages();
    assert_eq!(got[0], "15 records dropped (send buffer full)");
    assert_eq!(
        got[1..],
        (15..25).map(|i| format!("m{i}")).collect::<Vec<_>>()[..]
    );
    assert_eq!(sh.stats().drop_notices, 1);
    sh.close();
}

#[test]
fn block_policy_waits_for_space_not_for_the_network() {
    let port = free_port();
    let opts = SocketOptions {
        capacity: 2,
        policy: BufferPolicy::Block,
        ..fast_retry()
    };
    let sh = Arc::new(SocketHandler::with_options("127.0.0.1", Some(port), opts).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let (sh2, done2) = (Arc::clone(&sh), Arc::clone(&done));
    let t = std::thread::spawn(move || {
        let f = logwire_engine::Formatter::default();
        for i in 0..5 {
            sh2.emit(&rec(&format!("m{i}")), &f).unwrap();
        }
        done2.store(true, Ordering::Release);
    });
    wait_until(LIMIT, "a full buffer", || sh.stats().buffered == 2);
    // A full buffer and no destination: the caller is held, nothing is dropped.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!done.load(Ordering::Acquire));
    assert_eq!(sh.stats().dropped(), 0);
    let rx = TestReceiver::plain(port);
    t.join().unwrap();
    sh.flush().unwrap();
    wait_until(LIMIT, "5 records", || rx.store.len() == 5);
    assert_eq!(
        rx.store.messages(),
        (0..5).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    sh.close();
}

#[test]
fn close_without_server_reports_what_it_gave_up() {
    let port = free_port();
    let opts = SocketOptions {
        close_timeout: Duration::from_millis(200),
        ..fast_retry()
    };
    let sh = SocketHandler::with_options("127.0.0.1", Some(port), opts).unwrap();
    let f = logwire_engine::Formatter::default();
    sh.emit(&rec("lost"), &f).unwrap();
    sh.close();
    let s = sh.stats();
    assert_eq!(s.lost_at_close, 1);
    assert_eq!(s.dropped(), 1);
}

#[test]
fn emit_after_close_reopens_like_cpython() {
    let rx = TestReceiver::plain(0);
    let sh = SocketHandler::new("127.0.0.1", Some(rx.port)).unwrap();
    let f = logwire_engine::Formatter::default();
    sh.emit(&rec("one"), &f).unwrap();
    sh.close();
    // Two connections: wait for the first one's record so the order is defined.
    wait_until(LIMIT, "1 record", || rx.store.len() == 1);
    sh.emit(&rec("two"), &f).unwrap();
    sh.flush().unwrap();
    wait_until(LIMIT, "2 records", || rx.store.len() == 2);
    assert_eq!(rx.store.messages(), ["one", "two"]);
    sh.close();
}

#[test]
fn large_records_to_a_slow_reader_arrive_whole() {
    // Partial writes: 2 MB records into a reader that takes 1 KiB at a time.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut dec = logwire_wire::FrameDecoder::new(8 << 20);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while got.len() < 3 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "EOF before 3 records");
            dec.push(&buf[..n]).unwrap();
            while let Some(b) = dec.pop() {
                got.push(msg_of(&b));
            }
        }
        got
    });
    let sh = SocketHandler::new("127.0.0.1", Some(port)).unwrap();
    let f = logwire_engine::Formatter::default();
    let big: Vec<String> = (0..3).map(|i| format!("{i}").repeat(2 << 20)).collect();
    for m in &big {
        sh.emit(&rec(m), &f).unwrap();
    }
    let got = reader.join().unwrap();
    assert_eq!(got, big);
    sh.close();
}

#[test]
fn unix_stream_socket_handler() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut dec = logwire_wire::FrameDecoder::new(1 << 20);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < 2 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            dec.push(&buf[..n]).unwrap();
            while let Some(b) = dec.pop() {
                got.push(msg_of(&b));
            }
        }
        got
    });
    let h = Handler::new(SocketHandler::new(path.to_str().unwrap(), None).unwrap());
    h.handle(&rec("spam"));
    h.handle(&rec("eggs"));
    assert_eq!(reader.join().unwrap(), ["spam", "eggs"]);
    h.close();
}

#[test]
fn options_are_checked() {
    let bad = SocketOptions {
        capacity: 0,
        ..SocketOptions::default()
    };
    let e = SocketHandler::with_options("127.0.0.1", Some(1), bad).unwrap_err();
    assert!(e.to_string().contains("capacity"), "{e}");
    let key = logwire_wire::generate_ed25519().unwrap();
    let e = SocketHandler::with_options(
        "127.0.0.1",
        Some(1),
        SocketOptions {
            signing_key: Some(key),
            ..SocketOptions::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("HMAC"), "{e}");
    let sh = SocketHandler::new("127.0.0.1", Some(1)).unwrap();
    assert!(sh.set_retry_factor(0.5).is_err());
    assert!(sh.set_retry_max(f64::INFINITY).is_err());
    sh.set_retry_max(60.0).unwrap();
    assert_eq!(sh.backoff().retry_max(), 60.0);
    let _: fn(HandlerError) = drop;
}
