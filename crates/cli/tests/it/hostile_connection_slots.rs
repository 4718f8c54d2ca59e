//! Connection slots of the built `logwire serve` (issue 13, item 4): 2 000 idle loopback
//! connections once filled the 1 024-connection cap and a real CPython `SocketHandler`
//! record was refused and lost. Now serve raises its open-file limit to the hard limit and
//! sizes the cap from it, an idle connection holds no read buffer, and at the cap a
//! connection that never sent a complete frame is shed before a sender is refused.

use crate::common;

use common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// `logwire` started through `sh` with its soft open-file limit lowered to 1 024 (the usual
/// default), so the raise to the hard limit is what is tested.
fn low_limit_wrapper(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("logwire-low-nofile");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nulimit -Sn 1024\nexec '{BIN}' \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// (soft, hard) "Max open files" of a process.
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

/// Raises this test process's own soft limit (it holds the client side of every connection).
fn raise_own_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let l = getrlimit(Resource::Nofile);
    if let Some(hard) = l.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn cpython_sends(addr: SocketAddr, msgs: &[&str]) -> bool {
    let script = r#"
import logging, logging.handlers, sys
h = logging.handlers.SocketHandler(sys.argv[1], int(sys.argv[2]))
log = logging.getLogger("cpy")
log.addHandler(h)
log.setLevel(logging.INFO)
for m in sys.argv[3:]:
    log.info(m)
h.close()
print("sent")
"#;
    let mut args = vec![addr.ip().to_string(), addr.port().to_string()];
    args.extend(msgs.iter().map(|m| (*m).to_owned()));
    match python(script, &args) {
        Some(out) => {
            assert_eq!(out.trim(), "sent");
            true
        }
        None => false,
    }
}

/// 10 000 connections that each sent a record and went quiet cost under 200 MB, and a
/// CPython sender that connects afterwards loses nothing. Serve starts with a soft limit of
/// 1 024 (the old cap) and raises it.
#[test]
fn ten_thousand_idle_connections_are_cheap_and_a_cpython_sender_is_served() {
    const RSS_TARGET_KIB: u64 = 200 * 1024;
    let own = raise_own_limit();
    let dir = tempfile::tempdir().unwrap();
    let wrapper = low_limit_wrapper(dir.path());
    let serve = Serve::start_via(
        &wrapper,
        &["--tcp", "127.0.0.1:0", "--stats", "1", "--quiet-rejects"],
    );
    let (soft, hard) = open_file_limits(serve.pid());
    assert_eq!(soft, hard, "serve raised its soft open-file limit");
    // Both ends of every connection live on this machine: this process holds the clients.
    let n = 10_000u64
        .min(hard.saturating_sub(300))
        .min(own.saturating_sub(300));
    assert!(
        n > 1024,
        "the hard limit ({hard}) leaves room past the old cap"
    );
    let addr = serve.tcp();
    let rss_before = serve.rss_kib();
    let idle: Vec<TcpStream> = (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}"));
            s.write_all(&good(&format!("idle {i}"))).unwrap();
            s
        })
        .collect();
    let c = serve
        .wait_stats(|c| c.get("stored") == n)
        .unwrap_or_else(|| panic!("{:?}", serve.latest_stats()));
    assert_eq!(c.get("refused"), 0, "{c:?}");
    // Past the buffer release (1 s), every connection is idle and holds no read buffer.
    std::thread::sleep(Duration::from_secs(3));
    let rss = serve.rss_kib();
    eprintln!(
        "{n} idle connections: RSS {rss_before} KiB -> {rss} KiB ({} bytes each)",
        (rss - rss_before) * 1024 / n
    );
    assert!(
        rss < RSS_TARGET_KIB,
        "{n} idle connections: RSS {rss} KiB, over {RSS_TARGET_KIB} KiB"
    );
    if !cpython_sends(addr, &["after the idle ones", "and one more"]) {
        return;
    }
    assert!(serve.wait_stdout("and one more"));
    drop(idle);
    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!(c.get("stored"), n + 2, "{c:?}");
    assert_eq!((c.get("refused"), c.get("shed")), (0, 0), "{c:?}");
}

/// At the cap, connections that never sent a complete frame (silent ones, and one that sent
/// half a frame) are shed, oldest first, for new ones: a CPython sender arriving then is
/// served, not refused. Connections that sent a frame are never shed; with only those,
/// a new connection is refused.
#[test]
fn at_the_cap_silent_connections_make_room_for_a_sender() {
    const CAP: usize = 40;
    let serve = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--max-connections",
        &CAP.to_string(),
        "--stats",
        "1",
    ]);
    let addr = serve.tcp();
    // Half proven (one record each), half silent, one with half a frame.
    let mut held: Vec<TcpStream> = (0..CAP / 2)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&good(&format!("proven {i}"))).unwrap();
            s
        })
        .collect();
    assert!(
        serve
            .wait_stats(|c| c.get("stored") == (CAP / 2) as u64)
            .is_some()
    );
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(&good("half")[..10]).unwrap();
    held.push(half);
    held.extend((0..CAP / 2 - 1).map(|_| TcpStream::connect(addr).unwrap()));
    assert!(
        serve
            .wait_stats(|c| c.get("connections") == CAP as u64)
            .is_some()
    );
    if !cpython_sends(addr, &["through the full cap"]) {
        return;
    }
    assert!(serve.wait_stdout("through the full cap"));
    let c = serve.wait_stats(|c| c.get("shed") >= 1).unwrap();
    assert_eq!(c.get("refused"), 0, "{c:?}");
    // The oldest unproven one went first: the half frame, counted truncated.
    assert!(serve.wait_stats(|c| c.get("truncated") == 1).is_some());

    // Fill every slot with proven connections: now a new one is refused.
    let mut more = Vec::new();
    for i in 0..CAP {
        let Ok(mut s) = TcpStream::connect(addr) else {
            break;
        };
        // Each is stored (proven) before the next connects, so none sheds another; the
        // first one refused ends the filling.
        let line = format!("filler {i}\n");
        let refused = || serve.latest_stats().is_some_and(|c| c.get("refused") >= 1);
        if s.write_all(&good(&format!("filler {i}"))).is_err() {
            break;
        }
        assert!(wait_until(|| serve.stdout().contains(&line) || refused()));
        if refused() {
            break;
        }
        more.push(s);
    }
    let c = serve
        .wait_stats(|c| c.get("refused") >= 1)
        .unwrap_or_else(|| panic!("{:?}", serve.latest_stats()));
    eprintln!("{c:?}");
    drop((held, more));
    let fin = serve.stop();
    let c = &fin.receiver;
    assert!(
        fin.stdout.contains("cpy: through the full cap"),
        "{}",
        fin.stdout
    );
    for i in 0..CAP / 2 {
        assert!(
            fin.stdout.contains(&format!("proven {i}")),
            "{}",
            fin.stdout
        );
    }
    // The silent ones were shed for the fillers, or timed out first (10 s header deadline).
    assert!(c.get("shed") >= 1, "{c:?}");
    assert_eq!(
        c.get("shed") + c.get("timed_out"),
        (CAP / 2) as u64,
        "every unproven connection went, no proven one: {c:?}"
    );
}
