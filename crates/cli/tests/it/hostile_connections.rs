//! Abusive connections against the built `logwire serve`: slow senders (one byte a second,
//! and clients announcing 1 MiB frames they never finish) must not hold up other clients,
//! and a flood of 1000 connections meets the `--max-connections` cap (the collector's
//! descriptors stay bounded; silent connections are shed for newer ones at the cap) while
//! later clients are still served. Afterwards the process
//! is alive, idle and within its memory budget, and its counters account for every frame.

use crate::common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn slow_senders_do_not_hold_up_other_clients() {
    let mut serve = Serve::start(&["--tcp", "127.0.0.1:0"]);
    let addr = serve.tcp();

    // Clients that announce a 1 MiB frame (more than one read: the collector reserves it
    // from its in-flight budget) and then send a byte now and then.
    let mut hogs: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&(1u32 << 20).to_be_bytes()).unwrap();
            s.write_all(b"}").unwrap();
            s
        })
        .collect();

    // A well-formed record, one byte a second for its first bytes.
    let slow = good("the slow sender's record");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let slow_thread = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for b in &slow[..4] {
            s.write_all(&[*b]).unwrap();
            std::thread::sleep(Duration::from_secs(1));
        }
        // Wait for the main thread's check before the rest of the frame.
        let _ = rx.recv_timeout(WAIT);
        s.write_all(&slow[4..]).unwrap();
    });

    // Meanwhile other clients are served at once.
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..20 {
        send_tcp(addr, &good(&format!("meanwhile {i}")));
    }
    for i in 0..20 {
        assert!(
            serve.wait_stdout(&format!("meanwhile {i}")),
            "meanwhile {i}"
        );
    }
    assert!(
        !serve.stdout().contains("the slow sender's record"),
        "still in flight"
    );
    assert!(serve.rss_kib() < RSS_BUDGET_KIB, "{} KiB", serve.rss_kib());
    for h in &mut hogs {
        h.write_all(b"(").unwrap();
    }
    tx.send(()).unwrap();
    slow_thread.join().unwrap();
    assert!(serve.wait_stdout("the slow sender's record"));
    // The hogs give up: each partial frame is counted as truncated, nothing else is lost.
    drop(hogs);
    send_tcp(addr, &good("after the hogs"));
    assert!(serve.wait_stdout("after the hogs"));
    serve.assert_healthy("after slow senders");

    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!(c.get("stored"), 22, "{c:?}");
    assert_eq!(c.get("truncated"), 8, "{c:?}");
    assert_eq!(c.get("received"), 30, "{c:?}");
}

#[test]
fn a_connection_flood_meets_the_cap_and_later_clients_are_served() {
    const CAP: u64 = 64;
    const FLOOD: u64 = 1000;
    let mut serve = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--max-connections",
        &CAP.to_string(),
        "--stats",
        "1",
    ]);
    let addr = serve.tcp();
    let fds_before = serve.fds();
    let flood: Vec<TcpStream> = (0..FLOOD)
        .map(|i| {
            TcpStream::connect(addr)
                .unwrap_or_else(|e| panic!("connection {i} refused by the kernel: {e}"))
        })
        .collect();
    // Every connection is either holding one of the CAP slots, or was closed at once, or
    // was shed at the cap for a newer one (none of them sent a frame: see `Unproven`).
    let open = |c: &Counters| c.get("connections") - c.get("shed") - c.get("timed_out");
    let c = serve
        .wait_stats(|c| c.get("connections") + c.get("refused") >= FLOOD && open(c) <= CAP)
        .unwrap_or_else(|| panic!("{:?}", serve.latest_stats()));
    assert_eq!(open(&c), CAP, "the cap holds: {c:?}");
    assert_eq!(c.get("connections") + c.get("refused"), FLOOD, "{c:?}");
    let fds = serve.fds();
    assert!(
        fds <= fds_before + CAP as usize + 8,
        "descriptors bounded by the cap: {fds_before} -> {fds}"
    );
    assert!(serve.rss_kib() < RSS_BUDGET_KIB, "{} KiB", serve.rss_kib());
    serve.assert_healthy("holding the flood");

    // The flood leaves; the slots come back and a later client is served.
    drop(flood);
    send_tcp(addr, &good("after the flood"));
    assert!(serve.wait_stdout("after the flood"));
    assert!(
        wait_until(|| serve.fds() <= fds_before + 2),
        "descriptors back: {fds_before} -> {}",
        serve.fds()
    );
    serve.assert_healthy("after the flood");
    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!((c.get("received"), c.get("stored")), (1, 1), "{c:?}");
    assert_eq!(c.get("connections") + c.get("refused"), FLOOD + 1, "{c:?}");
}
