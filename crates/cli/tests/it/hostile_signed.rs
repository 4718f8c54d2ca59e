//! Replayed and tampered `LWR1` (signed record) frames against the built `logwire serve
//! --record-key`: a replayed record is stored once (counted as a duplicate, acked again), a
//! record below the replay window is rejected, and every tampering (payload, tag, seq,
//! length field, algorithm, key id, cut tag) or an unsigned frame is rejected with its reason
//! before the payload is looked at. Afterwards the process is alive, idle and within its
//! memory budget, and its counters account for every frame.

use crate::common;

use common::*;
use logwire_wire::{Epoch, PayloadFormat, RecordAck, SigningKey, seal_record_frame};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};

fn hmac_key(path: &std::path::Path) -> SigningKey {
    keygen("hmac", path);
    SigningKey::load(path).unwrap()
}

fn sealed(key: &SigningKey, epoch: Epoch, seq: u64, ack: bool, msg: &str) -> Vec<u8> {
    seal_record_frame(key, epoch, seq, PayloadFormat::Json, ack, &good_json(msg)).unwrap()
}

/// Reads LWA1 ack frames until one acknowledges `seq` for `epoch`.
fn read_ack(s: &mut TcpStream, epoch: Epoch, seq: u64) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    loop {
        let mut prefix = [0u8; 4];
        s.read_exact(&mut prefix).expect("an ack");
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        s.read_exact(&mut body).unwrap();
        let ack = RecordAck::parse(&body).unwrap();
        if ack.epoch == epoch && ack.seq >= seq {
            return;
        }
    }
}

#[test]
fn replayed_and_tampered_signed_records() {
    let dir = tempfile::tempdir().unwrap();
    let key = hmac_key(&dir.path().join("sender.key"));
    let stranger = hmac_key(&dir.path().join("stranger.key"));
    let mut serve = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
        "--record-key",
        dir.path().join("sender.key").to_str().unwrap(),
    ]);
    let epoch = Epoch::random();
    let mut sent = 0u64;

    // A good signed record, acked once it is in the handlers.
    let first = sealed(&key, epoch, 1, true, "signed one");
    let mut s = TcpStream::connect(serve.tcp()).unwrap();
    s.write_all(&first).unwrap();
    read_ack(&mut s, epoch, 1);
    sent += 1;
    // Replayed five times on the same connection and once on a new one: acked again (the
    // sender may have missed the ack), stored once.
    for _ in 0..5 {
        s.write_all(&first).unwrap();
        sent += 1;
    }
    read_ack(&mut s, epoch, 1);
    drop(s);
    send_tcp(serve.tcp(), &first);
    sent += 1;

    // Tampered copies of a fresh record (seq 2), each a whole frame with intact framing.
    let fresh = sealed(&key, epoch, 2, false, "signed two");
    let flip = |at: usize| {
        let mut f = fresh.clone();
        f[at] ^= 0x01;
        f
    };
    let n = fresh.len();
    let mut cut = fresh[..n - 16].to_vec();
    cut[..4].copy_from_slice(&((n - 20) as u32).to_be_bytes());
    let tampered: Vec<(&str, Vec<u8>, &str)> = vec![
        ("payload bit", flip(4 + 44 + 3), "bad_tag"),
        ("tag bit", flip(n - 1), "bad_tag"),
        ("seq bit", flip(4 + 39), "bad_tag"),
        ("epoch bit", flip(4 + 20), "bad_tag"),
        ("length field", flip(4 + 43), "bad_envelope"),
        ("algorithm", flip(4 + 4), "bad_envelope"),
        ("key id", flip(4 + 8), "unknown_key"),
        ("tag cut short", cut, "bad_envelope"),
        (
            "another key",
            sealed(&stranger, epoch, 2, false, "signed by a stranger"),
            "unknown_key",
        ),
        ("unsigned", good("plain, unsigned"), "unsigned"),
    ];
    let mut bytes = Vec::new();
    for (_, f, _) in &tampered {
        bytes.extend_from_slice(f);
        sent += 1;
    }
    // The untouched record still goes through after all that, on the same connection.
    bytes.extend_from_slice(&fresh);
    sent += 1;
    // Far ahead, then an old seq that was never seen but is below the replay window now.
    bytes.extend(sealed(&key, epoch, 10_000, false, "signed ten thousand"));
    bytes.extend(sealed(&key, epoch, 3, false, "too old"));
    sent += 2;
    send_tcp(serve.tcp(), &bytes);
    assert!(serve.wait_stdout("signed ten thousand"));

    // A signed datagram replayed 100 times: stored once.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dgram = sealed(&key, epoch, 20_000, false, "signed datagram");
    for _ in 0..100 {
        udp.send_to(&dgram, serve.bound.udp[0]).unwrap();
        sent += 1;
        // Paced: a burst can overflow the socket's receive buffer on a loaded machine, and
        // a datagram the kernel drops is never received, which would break the exact counts.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(serve.wait_stdout("signed datagram"));
    assert!(
        serve.wait_stderr(|l| l.contains("rejected frame from") && l.contains("bad_tag")),
        "{:?}",
        serve.stderr_lines()
    );
    serve.assert_healthy("after replays and tampering");

    let fin = serve.stop();
    let c = &fin.receiver;
    assert_eq!(c.get("received"), sent, "every frame counted: {c:?}");
    assert_eq!(c.get("stored"), 4, "{c:?}");
    // Every replay is refused and counted once, as a duplicate or — when the collector judges
    // a replay of seq 1 only after seq 10 000 (sent later on another connection) has moved the
    // replay window past it — as too old: connections are judged in order each, not in the
    // order the test wrote to them. The 99 datagram replays stay above the window.
    let refused_replays = c.get("duplicates") + c.get("replay_too_old");
    assert_eq!(refused_replays, 6 + 99 + 1, "{c:?}");
    assert!(c.get("duplicates") >= 99, "{c:?}");
    for reason in ["bad_tag", "bad_envelope", "unknown_key", "unsigned"] {
        let want = tampered.iter().filter(|t| t.2 == reason).count() as u64;
        assert_eq!(c.get(reason), want, "{reason}: {c:?}");
    }
    assert!(
        c.get("replay_too_old") >= 1,
        "the seq below the window: {c:?}"
    );
    for (msg, times) in [
        ("signed one", 1),
        ("signed two", 1),
        ("signed datagram", 1),
        ("too old", 0),
        ("signed by a stranger", 0),
        ("plain, unsigned", 0),
    ] {
        assert_eq!(
            fin.stdout.matches(&format!("good: {msg}\n")).count(),
            times,
            "{msg}: {}",
            fin.stdout
        );
    }
    assert!(c.get("acks") >= 2, "{c:?}");
}
