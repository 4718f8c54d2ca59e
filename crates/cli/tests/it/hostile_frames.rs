//! Hostile record frames against the built `logwire serve`, on all four listener kinds (TCP,
//! Unix stream, UDP, Unix datagram): a 4 GiB length prefix, truncated frames, pickle bombs
//! (memo bomb, 200 000-deep nesting, a million-digit LONG, 60 000 keys that defeat the
//! record fast path's duplicate filter) and a REDUCE calling
//! `os.system("touch …")`. Each is rejected with its reason on stderr and in the counters, the
//! marker file never appears, a good record sent after each one is stored, and afterwards the
//! process is alive, idle and within its memory budget, and its final counters account for
//! every frame sent (received = stored + rejected + duplicates + dropped).
//!
//! The same payloads are checked in process by `crates/collector/tests/receive_hostile.rs`; this
//! suite is about the shipped binary: its flags, its process-level health and its reports.

use crate::common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// `os.system(cmd)` as a top-level GLOBAL + REDUCE: the classic pickle RCE payload.
fn reduce_system(cmd: &str) -> Vec<u8> {
    let mut p = b"cos\nsystem\n(X".to_vec();
    p.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    p.extend_from_slice(cmd.as_bytes());
    p.extend_from_slice(b"tR.");
    p
}

/// 40 rounds of `(x, x)` built from the memo: 2^40 nodes if expanded.
fn memo_bomb() -> Vec<u8> {
    let mut p = b"}(X\x01\x00\x00\x00a]q\x00".to_vec();
    for _ in 0..40 {
        p.extend_from_slice(b"h\x00h\x00\x86q\x00");
    }
    p.extend_from_slice(b"u.");
    p
}

/// A record dict whose value is 200 000 nested lists.
fn deep_nesting() -> Vec<u8> {
    let mut p = b"}(X\x01\x00\x00\x00a".to_vec();
    p.extend(std::iter::repeat_n(b']', 200_000));
    p.extend_from_slice(b"u.");
    p
}

/// A protocol-0 LONG of one million digits (quadratic to parse without a digit cap).
fn million_digit_long() -> Vec<u8> {
    let mut p = b"}(X\x01\x00\x00\x00aL".to_vec();
    p.extend(std::iter::repeat_n(b'7', 1_000_000));
    p.extend_from_slice(b"L\nu.");
    p
}

/// A dict of 60 000 `SETITEM`s (no MARK) whose keys all have the same length and the same
/// first, second, middle and last bytes, the bytes the record fast path's duplicate filter
/// hashes: before that path capped its items, every key was compared with every earlier one
/// (a 1 MiB frame of these held a decode thread for 16 s in a release build). Past the node
/// budget, so rejected.
fn colliding_keys() -> Vec<u8> {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut p = b"}".to_vec();
    for i in 0..60_000usize {
        let d = |n: u32| DIGITS[(i / 36usize.pow(n)) % 36];
        p.push(b'X');
        p.extend_from_slice(&9u32.to_le_bytes());
        p.extend_from_slice(&[b'a', b'b', d(0), d(1), b'M', d(2), d(3), b'z', b'Z']);
        p.extend_from_slice(b"Ns");
    }
    p.push(b'.');
    p
}

/// CPU time (clock ticks of 10 ms) the collector may spend on this whole test: 10 s, where a
/// debug build needs about 0.3 s here. CPU time, not wall time, so a busy CI machine does not
/// move it; a parser that turns quadratic on one case (the colliding keys once took over three
/// minutes) fails here, or at the wait for that case's marker record if it is slower still.
const CPU_BUDGET_TICKS: u64 = 1_000;

/// The hostile payloads whose framing is intact, with the reason each is counted under.
fn cases(marker: &Path) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        (
            "reduce os.system",
            reduce_system(&format!("touch {}", marker.display())),
            "bad_pickle",
        ),
        ("memo bomb", memo_bomb(), "bad_pickle"),
        ("200 000-deep nesting", deep_nesting(), "bad_pickle"),
        ("million-digit LONG", million_digit_long(), "bad_pickle"),
        ("60 000 colliding keys", colliding_keys(), "bad_pickle"),
        ("zero-length frame", Vec::new(), "empty"),
    ]
}

#[test]
fn hostile_frames_on_every_listener_are_rejected_and_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let unix = dir.path().join("rec.sock");
    let dgram = dir.path().join("rec.dgram");
    let mut serve = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
        "--unix",
        unix.to_str().unwrap(),
        "--unix-dgram",
        dgram.to_str().unwrap(),
    ]);
    let cases = cases(&marker);
    let mut sent = 0u64;
    let mut good_sent = 0u64;

    // Streams: each hostile frame, then a good one on the same connection.
    for (kind, send) in [
        (
            "tcp",
            &(|b: &[u8], s: &Serve| send_tcp(s.tcp(), b)) as &dyn Fn(&[u8], &Serve),
        ),
        ("unix", &|b: &[u8], s: &Serve| {
            send_unix(&s.bound.unix[0], b)
        }),
    ] {
        let mut bytes = Vec::new();
        for (name, payload, _) in &cases {
            bytes.extend(frame(payload));
            bytes.extend(good(&format!("{kind} after {name}")));
            sent += 2;
            good_sent += 1;
        }
        send(&bytes, &serve);
    }

    // A frame cut short by EOF, and a prefix cut short by EOF: that frame only is lost.
    send_tcp(
        serve.tcp(),
        &[&100u32.to_be_bytes()[..], b"}(partial"].concat(),
    );
    send_tcp(serve.tcp(), &[0, 0]);
    sent += 2;

    // A 4 GiB length prefix: refused on the prefix, and the collector closes the connection
    // without waiting for (or allocating) the body.
    let mut s = TcpStream::connect(serve.tcp()).unwrap();
    s.write_all(&0xFFFF_FFFFu32.to_be_bytes()).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(
        s.read(&mut [0u8; 1]).unwrap_or(0),
        0,
        "the collector closes after a 4 GiB prefix"
    );
    sent += 1;

    // Datagrams: the payloads that fit in one, plus two broken framings.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ud = UnixDatagram::unbound().unwrap();
    let udp_to = serve.bound.udp[0];
    let dgram_to = serve.bound.unix_dgram[0].clone();
    for (kind, send) in [
        (
            "udp",
            &(|b: &[u8]| assert_eq!(udp.send_to(b, udp_to).unwrap(), b.len())) as &dyn Fn(&[u8]),
        ),
        ("unix-dgram", &|b: &[u8]| {
            assert_eq!(ud.send_to(b, &dgram_to).unwrap(), b.len())
        }),
    ] {
        for (_, payload, _) in cases.iter().filter(|c| c.1.len() < 60_000) {
            send(&frame(payload));
            sent += 1;
        }
        send(b"\x00\x01"); // shorter than a prefix
        send(b"\x00\x00\x00\x09short"); // the prefix disagrees with the datagram
        send(&good(&format!("{kind} after the hostile datagrams")));
        sent += 3;
        good_sent += 1;
    }

    for (kind, _) in [("tcp", 0), ("unix", 0)] {
        for (name, _, _) in &cases {
            let want = format!("{kind} after {name}");
            assert!(serve.wait_stdout(&want), "{want}: {}", serve.stdout());
        }
    }
    for kind in ["udp", "unix-dgram"] {
        let want = format!("{kind} after the hostile datagrams");
        assert!(serve.wait_stdout(&want), "{want}");
    }
    // Still serving a new client after everything.
    send_tcp(serve.tcp(), &good("still serving"));
    sent += 1;
    good_sent += 1;
    assert!(serve.wait_stdout("still serving"));
    serve.assert_healthy("after the hostile frames");
    // Every case is cheap to reject: see CPU_BUDGET_TICKS.
    let cpu = serve.cpu_ticks();
    assert!(
        cpu <= CPU_BUDGET_TICKS,
        "{cpu} ticks of CPU for the hostile frames, over the budget of {CPU_BUDGET_TICKS}"
    );
    assert!(!marker.exists(), "nothing from the wire ran");
    // Rejections are said on stderr with their reason (rate-limited, so not every one).
    for reason in ["too_large", "truncated"] {
        assert!(
            serve.wait_stderr(
                |l| l.starts_with("logwire: rejected frame from") && l.contains(reason)
            ),
            "{reason} on stderr: {:?}",
            serve.stderr_lines()
        );
    }

    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!(c.get("received"), sent, "every frame counted once: {c:?}");
    assert_eq!(c.get("stored"), good_sent, "{c:?}");
    let hostile_datagrams = cases.iter().filter(|x| x.1.len() < 60_000).count() as u64;
    let by_reason = |r: &str| {
        let stream = cases.iter().filter(|x| x.2 == r).count() as u64 * 2;
        let dgram = cases
            .iter()
            .filter(|x| x.2 == r && x.1.len() < 60_000)
            .count() as u64
            * 2;
        stream + dgram
    };
    assert!(hostile_datagrams >= 3);
    assert_eq!(c.get("bad_pickle"), by_reason("bad_pickle"), "{c:?}");
    assert_eq!(c.get("empty"), by_reason("empty"), "{c:?}");
    assert_eq!(c.get("truncated"), 2, "{c:?}");
    assert_eq!(c.get("too_large"), 1, "{c:?}");
    assert_eq!(c.get("bad_datagram"), 4, "{c:?}");
    assert_eq!(c.get("dropped"), 0, "{c:?}");
    assert!(!marker.exists());
}

/// A real CPython sender whose `extra` holds an object reducing to `os.system("touch …")`:
/// pickle builds the REDUCE inside the record dict. The record is stored with an inert
/// placeholder for the field; nothing runs.
#[test]
fn a_reduce_inside_a_cpython_record_is_an_inert_placeholder() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let out = dir.path().join("out.log");
    let cfg = dir.path().join("collector.json");
    std::fs::write(
        &cfg,
        file_config(&out, "%(name)s: %(message)s payload=%(payload)s"),
    )
    .unwrap();
    let mut serve = Serve::start(&["--tcp", "127.0.0.1:0", "--config", cfg.to_str().unwrap()]);
    let script = "import logging, logging.handlers as h, os, sys\n\
                  class Evil:\n    def __reduce__(self): return (os.system, ('touch ' + sys.argv[2],))\n\
                  l = logging.getLogger('cpython.evil'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  l.warning('carrying %s', 'a payload', extra={'payload': Evil()})\n\
                  hd.close()\n";
    let Some(_) = python(
        script,
        &[serve.tcp().port().to_string(), marker.display().to_string()],
    ) else {
        return;
    };
    assert!(
        wait_until(|| std::fs::read_to_string(&out)
            .is_ok_and(|t| t.contains("cpython.evil: carrying a payload payload=<posix.system>"))),
        "{:?}",
        std::fs::read_to_string(&out)
    );
    serve.assert_healthy("after a nested REDUCE");
    let fin = serve.stop();
    assert_eq!(
        (fin.receiver.get("received"), fin.receiver.get("stored")),
        (1, 1),
        "{:?}",
        fin.receiver
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(!marker.exists(), "the REDUCE never ran");
}
