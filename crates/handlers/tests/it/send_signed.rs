//! Signed SocketHandler (`LWR1` + `LWA1` acks) against an in-test receiver that verifies,
//! deduplicates and acknowledges: every record stored exactly once across receiver kills.

use crate::common_send;

use common_send::{TestReceiver, free_port, wait_until};
use logwire_engine::{Emitter, Formatter, LogRecord};
use logwire_handlers::{Backoff, BufferPolicy, SocketHandler, SocketOptions};
use logwire_wire::{KeyRing, SigningKey};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn rec(i: usize) -> LogRecord {
    LogRecord::new("signed", 20, "/t/s.py", 1, format!("n{i:06}"))
}

fn keys() -> (SigningKey, KeyRing) {
    let k = logwire_wire::generate_hmac().unwrap();
    let ring: KeyRing = [k.verify_key()].into_iter().collect();
    (k, ring)
}

fn signed_opts(k: SigningKey) -> SocketOptions {
    SocketOptions {
        signing_key: Some(k),
        backoff: Backoff::new(0.01, 2.0, 0.05).unwrap(),
        flush_timeout: LIMIT,
        close_timeout: LIMIT,
        ..SocketOptions::default()
    }
}

fn expected(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("n{i:06}")).collect()
}

#[test]
fn signed_records_are_acked_and_flush_waits_for_the_acks() {
    let (k, ring) = keys();
    let rx = TestReceiver::signed(0, ring, 1);
    let sh = SocketHandler::with_options("127.0.0.1", Some(rx.port), signed_opts(k)).unwrap();
    assert!(sh.epoch().is_some());
    let f = Formatter::default();
    for i in 0..50 {
        sh.emit(&rec(i), &f).unwrap();
    }
    sh.flush().unwrap();
    // flush() returned: every record is acknowledged, so it is stored.
    assert_eq!(rx.store.messages(), expected(50));
    let s = sh.stats();
    assert_eq!(
        (s.acked, s.delivered, s.unacked, s.buffered),
        (50, 50, 0, 0)
    );
    sh.close();
}

#[test]
fn receiver_down_at_start_then_up_everything_delivered_once() {
    let (k, ring) = keys();
    let port = free_port();
    let sh = SocketHandler::with_options("127.0.0.1", Some(port), signed_opts(k)).unwrap();
    let f = Formatter::default();
    for i in 0..200 {
        sh.emit(&rec(i), &f).unwrap();
    }
    wait_until(LIMIT, "failed connects", || {
        sh.stats().connect_failures >= 2
    });
    let rx = TestReceiver::signed(port, ring, 7);
    sh.flush().unwrap();
    assert_eq!(rx.store.messages(), expected(200));
    sh.close();
}

/// The scenario (50 000 records): the receiver is killed and
/// restarted repeatedly during a signed stream; it acks in batches, so each kill leaves
/// records stored-but-unacked (resent, deduplicated) and records sent-but-unread (lost in
/// the kill, resent). Every record must be stored exactly once, in order.
#[test]
fn receiver_killed_repeatedly_every_record_stored_exactly_once() {
    const N: usize = 50_000;
    let (k, ring) = keys();
    let mut rx = TestReceiver::signed(0, ring, 50);
    let opts = SocketOptions {
        capacity: 2_000,
        unacked_window: 500,
        ..signed_opts(k)
    };
    let sh =
        std::sync::Arc::new(SocketHandler::with_options("127.0.0.1", Some(rx.port), opts).unwrap());
    let producer = {
        let sh = std::sync::Arc::clone(&sh);
        std::thread::spawn(move || {
            let f = Formatter::default();
            for i in 0..N {
                sh.emit(&rec(i), &f).unwrap();
            }
        })
    };
    let mut kills = 0;
    for step in 1..=9 {
        let target = step * N / 10;
        wait_until(LIMIT, "progress", || rx.store.len() >= target);
        rx.restart();
        kills += 1;
    }
    producer.join().unwrap();
    sh.flush().unwrap();
    let got = rx.store.messages();
    assert_eq!(got.len(), N, "every record stored exactly once");
    assert!(got == expected(N), "records stored in order");
    let s = sh.stats();
    assert_eq!((s.acked, s.dropped()), (N as u64, 0));
    assert!(s.connects > kills, "reconnected after each kill: {s:?}");
    assert!(s.resent > 0, "unacked frames were resent: {s:?}");
    let dups = rx
        .store
        .duplicates
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "kills={kills} connects={} resent={} duplicates deduped={dups}",
        s.connects, s.resent
    );
    sh.close();
}

#[test]
fn a_receiver_that_never_acks_bounds_memory_and_drops_oldest_counted() {
    // A plain receiver (it does not speak LWR1, never acks): the window fills, then the
    // buffer, then drop-oldest applies. Nothing waits on the network.
    let rx = TestReceiver::plain_sink(0);
    let (k, _) = keys();
    let opts = SocketOptions {
        capacity: 20,
        unacked_window: 10,
        policy: BufferPolicy::DropOldest,
        flush_timeout: Duration::from_millis(100),
        close_timeout: Duration::from_millis(100),
        ..signed_opts(k)
    };
    let sh = SocketHandler::with_options("127.0.0.1", Some(rx.port), opts).unwrap();
    let f = Formatter::default();
    for i in 0..100 {
        sh.emit(&rec(i), &f).unwrap();
    }
    wait_until(LIMIT, "a full window", || sh.stats().unacked == 10);
    let s = sh.stats();
    assert!(s.buffered <= 20, "{s:?}");
    assert_eq!(s.enqueued, 100);
    // Every record is accounted for: dropped (counted) or held. The window and buffer may
    // also hold in-band drop notices (frames, not records); a notice is made when a frame
    // can next be sent, which a peer that never acks may never allow.
    let held = s.dropped_overflow + s.buffered + s.unacked;
    assert!((100..=100 + s.drop_notices).contains(&held), "{s:?}");
    assert!(sh.flush().is_err());
    sh.close();
    let s = sh.stats();
    assert_eq!(s.dropped_overflow + s.lost_at_close, 100, "{s:?}");
}
