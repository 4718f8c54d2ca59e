//! Hostile frames (security.md §5 B/C): each is rejected and counted, nothing runs, and the
//! collector keeps serving good clients on the same and on new connections.

use crate::common_recv;

use common_recv::{start, tcp0, udp0, wait_for};
use logwire_collector::receiver::{ListenAddr, ReceiverOptions, RejectReason};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

fn good(msg: &str) -> Vec<u8> {
    frame(
        format!(r#"{{"name": "good", "msg": "{msg}", "levelno": 20, "levelname": "INFO"}}"#)
            .as_bytes(),
    )
}

fn addr_of(a: &ListenAddr) -> SocketAddr {
    match a {
        ListenAddr::Tcp(a) | ListenAddr::Udp(a) => *a,
        _ => unreachable!(),
    }
}

/// Hostile payloads whose framing is intact, each with the reason it must be rejected for.
fn hostile(marker: &std::path::Path) -> Vec<(&'static str, Vec<u8>, RejectReason)> {
    let cmd = format!("touch {}", marker.display());
    // Classic RCE: top-level os.system(cmd) via GLOBAL + REDUCE.
    let mut rce = b"cos\nsystem\n(X".to_vec();
    rce.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    rce.extend_from_slice(cmd.as_bytes());
    rce.extend_from_slice(b"tR.");
    // Memo bomb: 40 rounds of (x, x) built from the memo: 2^40 nodes once expanded.
    let mut bomb = b"}(X\x01\x00\x00\x00a]q\x00".to_vec();
    for _ in 0..40 {
        bomb.extend_from_slice(b"h\x00h\x00\x86q\x00");
    }
    bomb.extend_from_slice(b"u.");
    let mut deep = b"}(X\x01\x00\x00\x00a".to_vec();
    deep.extend(std::iter::repeat_n(b']', 200_000));
    deep.extend_from_slice(b"u.");
    let mut long = b"}(X\x01\x00\x00\x00aL".to_vec();
    long.extend(std::iter::repeat_n(b'7', 1_000_000));
    long.extend_from_slice(b"L\nu.");
    let cycle = b"}(X\x01\x00\x00\x00a]q\x00h\x00au.".to_vec();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 24) as u8
        })
        .map(|b| if b == b'{' || b == b'L' { b'x' } else { b })
        .collect();
    vec![
        ("reduce os.system", rce, RejectReason::BadPickle),
        ("memo bomb", bomb, RejectReason::BadPickle),
        ("200 000-deep nesting", deep, RejectReason::BadPickle),
        ("million-digit LONG", long, RejectReason::BadPickle),
        ("cycle", cycle, RejectReason::BadPickle),
        ("random bytes", random, RejectReason::BadPickle),
        ("zero-length", Vec::new(), RejectReason::Empty),
        (
            "levelno as str",
            br#"{"levelno": "20"}"#.to_vec(),
            RejectReason::BadRecord,
        ),
        ("JSON array", b"{\"a\": [".to_vec(), RejectReason::BadJson),
        (
            "trailing bytes",
            b"}.junk".to_vec(),
            RejectReason::BadPickle,
        ),
        (
            "unknown-key LWR1",
            [b"LWR1\x02\x01\x00\x00".as_slice(), &[0u8; 36 + 32]].concat(),
            RejectReason::UnknownKey,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_over_tcp_are_rejected_and_the_connection_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let opts = ReceiverOptions {
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[tcp0()]).await;
    let addr = addr_of(&running.local_addrs()[0]);
    let cases = hostile(&marker);
    let n = cases.len() as u64;
    tokio::task::spawn_blocking({
        let cases: Vec<_> = cases.iter().map(|(_, p, _)| p.clone()).collect();
        move || {
            let mut s = TcpStream::connect(addr).unwrap();
            for (i, p) in cases.iter().enumerate() {
                s.write_all(&frame(p)).unwrap();
                s.write_all(&good(&format!("after {i}"))).unwrap();
            }
            // A REDUCE nested in an extra field: inert placeholder, record kept.
            s.write_all(&frame(b"}(X\x03\x00\x00\x00msgX\x02\x00\x00\x00okX\x01\x00\x00\x00xcos\nsystem\n(X\x02\x00\x00\x00idtRu."))
                .unwrap();
        }
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| running.stats().stored > n).await,
        "{}",
        running.stats()
    );
    let stats = running.stats();
    for (name, _, reason) in &cases {
        assert!(stats.rejected(*reason) >= 1, "{name}: {stats}");
    }
    assert_eq!(stats.rejected_total(), n, "{stats}");
    let records = keep.records();
    for i in 0..cases.len() {
        assert!(
            records.iter().any(|r| r.msg == format!("after {i}")),
            "good frame after case {i}"
        );
    }
    let inert = records.iter().find(|r| r.msg == "ok").unwrap();
    assert_eq!(
        inert.extra("x"),
        Some(&logwire_engine::Value::Str("<os.system>".into()))
    );

    // Truncated frame, then EOF: only that frame is dropped.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&good("before truncation")).unwrap();
    s.write_all(&100u32.to_be_bytes()).unwrap();
    s.write_all(b"}(partial").unwrap();
    drop(s);
    // A 4 GiB length prefix: rejected before reading, connection closed by the collector.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&0xFFFF_FFFFu32.to_be_bytes()).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        s.read(&mut buf).unwrap_or(0),
        0,
        "closed after a too-large prefix"
    );
    // A good client is still served.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&good("still serving")).unwrap();
    drop(s);
    assert!(wait_for(|| keep.records().iter().any(|r| r.msg == "still serving")).await);
    let stats = running.shutdown().await;
    assert_eq!(stats.rejected(RejectReason::Truncated), 1, "{stats}");
    assert_eq!(stats.rejected(RejectReason::TooLarge), 1, "{stats}");
    assert!(keep.records().iter().any(|r| r.msg == "before truncation"));
    assert!(stats.reconciles(), "{stats}");
    assert!(!marker.exists(), "nothing from the wire ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_datagrams_are_rejected_without_reply() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let opts = ReceiverOptions {
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[udp0()]).await;
    let addr = addr_of(&running.local_addrs()[0]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0u64;
    for (_, p, _) in hostile(&marker) {
        // A datagram carries at most ~64 KiB; the bigger bombs go over TCP above.
        if p.len() < 60_000 {
            sock.send_to(&frame(&p), addr).unwrap();
            sent += 1;
        }
    }
    sock.send_to(b"\x00\x01", addr).unwrap(); // shorter than a prefix
    sock.send_to(b"\x00\x00\x00\x09short", addr).unwrap(); // prefix disagrees
    sock.send_to(&good("udp ok"), addr).unwrap();
    assert!(wait_for(|| keep.records().iter().any(|r| r.msg == "udp ok")).await);
    assert!(
        wait_for(|| running.stats().rejected_total() == sent + 2).await,
        "{}",
        running.stats()
    );
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "no reply to a datagram, ever"
    );
    let stats = running.shutdown().await;
    assert_eq!(stats.rejected(RejectReason::BadDatagram), 2, "{stats}");
    assert!(stats.reconciles(), "{stats}");
    assert!(!marker.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_are_capped_shed_and_timed_out() {
    let opts = ReceiverOptions {
        max_connections: 50,
        header_timeout: Duration::from_millis(500),
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[tcp0()]).await;
    let addr = addr_of(&running.local_addrs()[0]);
    let idle = tokio::task::spawn_blocking(move || {
        (0..1000)
            .filter_map(|_| TcpStream::connect(addr).ok())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    // Every connection was refused, or accepted and then shed (at the cap, to make room for
    // a newer one: none of them ever sent a frame) or timed out: no slot is taken any more.
    assert!(
        wait_for(|| {
            let s = running.stats();
            s.connections_accepted + s.connections_refused >= 1000
                && s.connections_timed_out + s.connections_shed == s.connections_accepted
        })
        .await,
        "{}",
        running.stats()
    );
    let s = running.stats();
    assert!(
        s.connections_shed >= 900u64.saturating_sub(s.connections_refused),
        "{s}"
    );
    // Slots are free again: a real client gets through.
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&good("after the flood")).unwrap();
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| keep.records().iter().any(|r| r.msg == "after the flood")).await,
        "{}",
        running.stats()
    );
    drop(idle);
    let stats = running.shutdown().await;
    assert!(
        stats.connections_accepted <= 1000 && stats.connections_accepted >= 51,
        "{stats}"
    );
    assert!(stats.reconciles(), "{stats}");
}
