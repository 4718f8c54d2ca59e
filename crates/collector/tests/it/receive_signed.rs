//! Signed records from the Python helper (logwire_helper): accepted; tampered, replayed
//! (stored once) and unsigned frames are not; acks arrive only for handled records.

use crate::common_recv;

use common_recv::{python, start, tcp0, udp0, wait_for};
use logwire_collector::receiver::{ListenAddr, ReceiverOptions, RejectReason};
use logwire_wire::{KeyRing, VerifyKey};

const HELPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python");

/// argv: helper dir, key file, tcp port, udp port. Sends over TCP: good seq 1, seq 1 again
/// (replay), seq 2 tampered, an unsigned plain frame, good seq 3 asking for an ack; then two
/// records through SignedDatagramHandler. Prints the ack it got.
const SCRIPT: &str = r#"
import sys, socket, struct, pickle, logging, logging.handlers
sys.path.insert(0, sys.argv[1])
from logwire_helper import SignedSocketHandler, SignedDatagramHandler
key, tport, uport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# The frames are written by hand (makePickle), so the handler asks for no ack until f3 and
# its sender thread never runs: this script reads the ack from its own socket.
h = SignedSocketHandler("127.0.0.1", tport, key, ack=False)
def rec(msg):
    return logging.LogRecord("signed.app", logging.WARNING, "sender.py", 7, msg, None, None)
f1 = h.makePickle(rec("first"))
f2 = bytearray(h.makePickle(rec("tampered")))
f2[60] ^= 1
h.ack = True
f3 = h.makePickle(rec("third"))
plain = logging.handlers.SocketHandler("127.0.0.1", 1).makePickle(rec("unsigned"))
s = socket.create_connection(("127.0.0.1", tport), timeout=20)
s.sendall(f1 + f1 + bytes(f2) + plain + f3)
def recv_exactly(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("connection closed before the ack")
        buf += chunk
    return buf
body = recv_exactly(struct.unpack(">I", recv_exactly(4))[0])
assert body[:4] == b"LWA1" and body[4:20] == h.epoch, body
print(struct.unpack(">Q", body[20:28])[0])
s.close()
h.close()
d = SignedDatagramHandler("127.0.0.1", uport, key)
d.handle(rec("dgram one"))
d.handle(rec("dgram two"))
d.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_helper_signed_frames() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sender.key");
    let out = python(
        "import base64, os, sys; open(sys.argv[1], 'w').write('hmac:' + base64.b64encode(os.urandom(32)).decode())",
        &[key_file.display().to_string()],
    );
    assert!(out.is_empty());
    let keys: KeyRing = [VerifyKey::load(&key_file).unwrap()].into_iter().collect();
    let opts = ReceiverOptions {
        keys,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[tcp0(), udp0()]).await;
    let port = |a: &ListenAddr| match a {
        ListenAddr::Tcp(a) | ListenAddr::Udp(a) => a.port().to_string(),
        _ => unreachable!(),
    };
    let args = vec![
        HELPER.to_owned(),
        key_file.display().to_string(),
        port(&running.local_addrs()[0]),
        port(&running.local_addrs()[1]),
    ];
    let out = tokio::task::spawn_blocking(move || python(SCRIPT, &args))
        .await
        .unwrap();
    // seq 2 never arrived intact, so the cumulative ack stops at 1.
    assert_eq!(out.trim(), "1");
    assert!(
        wait_for(|| running.stats().stored >= 4).await,
        "{}",
        running.stats()
    );
    let stats = running.shutdown().await;
    let msgs: Vec<_> = keep.records().iter().map(|r| r.msg.clone()).collect();
    assert_eq!(
        msgs.iter().filter(|m| *m == "first").count(),
        1,
        "replay stored once: {msgs:?}"
    );
    for m in ["third", "dgram one", "dgram two"] {
        assert!(msgs.iter().any(|x| x == m), "{m} in {msgs:?}");
    }
    assert!(!msgs.iter().any(|m| m == "tampered" || m == "unsigned"));
    assert_eq!(stats.stored, 4, "{stats}");
    assert_eq!(stats.duplicates, 1, "{stats}");
    assert_eq!(stats.rejected(RejectReason::BadTag), 1, "{stats}");
    assert_eq!(stats.rejected(RejectReason::Unsigned), 1, "{stats}");
    assert!(stats.acks_sent >= 1, "{stats}");
    assert!(stats.reconciles(), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_vectors_are_accepted() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vectors/envelopes.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b64 = |s: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    let key_line = format!("hmac:{}", v["keys"]["hmac_key"].as_str().unwrap());
    let keys: KeyRing = [VerifyKey::from_file_text(&key_line).unwrap()]
        .into_iter()
        .collect();
    let opts = ReceiverOptions {
        keys,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[tcp0()]).await;
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!()
    };
    let mut all = Vec::new();
    for f in v["record_frames"].as_array().unwrap() {
        all.extend(b64(&f["frame"]));
    }
    for f in v["must_reject"].as_array().unwrap() {
        all.extend(b64(&f["frame"]));
    }
    let n_good = v["record_frames"].as_array().unwrap().len() as u64;
    let n_bad = v["must_reject"].as_array().unwrap().len() as u64;
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        std::net::TcpStream::connect(addr)
            .unwrap()
            .write_all(&all)
            .unwrap();
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| running.stats().received >= n_good + n_bad).await,
        "{}",
        running.stats()
    );
    let stats = running.shutdown().await;
    assert_eq!(stats.stored, n_good, "{stats}");
    assert_eq!(stats.rejected_total(), n_bad, "{stats}");
    assert!(keep.records().iter().any(|r| r.name == "app.db"));
}
