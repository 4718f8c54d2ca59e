//! CPython's SocketHandler (TCP, Unix) and DatagramHandler (UDP, Unix) send numbered records
//! with non-ASCII text, exc_info, stack_info and extra fields of every basic type plus a
//! datetime; every number must arrive with the fields python pickled.

use crate::common_recv;

use common_recv::{python, start, tcp0, udp0, wait_for};
use logwire_collector::receiver::{ListenAddr, ReceiverOptions};
use logwire_engine::{LogRecord, Value};
use serde_json::Value as J;

const N: usize = 300;

/// argv: mode (tcp|udp|unix|unix-dgram), target (port or path), N. Prints one JSON line per
/// record with what was pickled.
const SENDER: &str = r#"
import json, logging, logging.handlers as h, pickle, sys, datetime
mode, target, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sent = []
def capture(cls):
    class C(cls):
        def makePickle(self, record):
            s = super().makePickle(record)
            sent.append(pickle.loads(s[4:]))
            return s
    return C
if mode == "tcp": hd = capture(h.SocketHandler)("127.0.0.1", int(target))
elif mode == "udp": hd = capture(h.DatagramHandler)("127.0.0.1", int(target))
elif mode == "unix": hd = capture(h.SocketHandler)(target, None)
else: hd = capture(h.DatagramHandler)(target, None)
log = logging.getLogger("interop.héllo")
log.propagate = False
log.setLevel(logging.DEBUG)
log.addHandler(hd)
for i in range(n):
    extra = {"i": i, "big": 2**70, "neg": -5, "f": 1.5 + i, "s": "ünï €%s 𝄞", "b": bool(i % 2),
             "none": None, "lst": [1, "x", 2.5], "tup": (1, 2), "d": {"k": [i]}, "by": b"\x00\xff",
             "when": datetime.datetime(2024, 1, 2, 3, 4, 5)}
    if i % 10 == 3:
        try:
            raise ValueError("bad value %d ✗" % i)
        except ValueError:
            log.exception("msgnum:%08d héllo %s", i, "wörld", extra=extra)
    elif i % 7 == 5:
        log.warning("msgnum:%08d stack", i, stack_info=True, extra=extra)
    else:
        log.info("msgnum:%08d ünicode ✓ %r", i, ("a", 1), extra=extra)
hd.close()
for d in sent:
    print(json.dumps({k: (v if isinstance(v, (int, str, type(None))) else repr(v)) for k, v in d.items()}))
"#;

fn check(records: &[LogRecord], out: &str) {
    let expected: Vec<serde_json::Map<String, J>> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<J>(l)
                .unwrap()
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(expected.len(), N);
    assert_eq!(records.len(), N, "every record arrives once");
    for exp in &expected {
        let msg = exp["msg"].as_str().unwrap();
        let got = records
            .iter()
            .find(|r| r.msg == msg)
            .unwrap_or_else(|| panic!("missing {msg}"));
        let i = exp["i"].as_i64().unwrap();
        assert_eq!(got.name, "interop.héllo");
        assert_eq!(i64::from(got.levelno), exp["levelno"].as_i64().unwrap());
        assert_eq!(got.levelname, exp["levelname"].as_str().unwrap());
        assert_eq!(got.lineno, exp["lineno"].as_i64().unwrap());
        assert_eq!(got.pathname, exp["pathname"].as_str().unwrap());
        assert_eq!(got.func_name.as_deref(), exp["funcName"].as_str());
        // Floats travel as Python's repr (shortest round-trip text): compare exactly.
        let float = |k: &str| exp[k].as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!(got.created, float("created"));
        assert_eq!(got.msecs, float("msecs"));
        assert_eq!(got.relative_created, float("relativeCreated"));
        assert_eq!(got.thread, exp["thread"].as_u64());
        assert_eq!(got.process.map(u64::from), exp["process"].as_u64());
        assert_eq!(got.thread_name.as_deref(), exp["threadName"].as_str());
        assert_eq!(got.exc_text.as_deref(), exp["exc_text"].as_str());
        assert_eq!(got.stack_info.as_deref(), exp["stack_info"].as_str());
        if i % 10 == 3 {
            assert!(
                got.exc_text
                    .as_deref()
                    .unwrap()
                    .contains("ValueError: bad value")
            );
        }
        assert_eq!(got.get_message(), msg, "never re-formatted");
        assert_eq!(got.extra("i"), Some(&Value::Int(i)));
        assert_eq!(
            got.extra("big"),
            Some(&Value::BigInt((1u128 << 70).to_string()))
        );
        assert_eq!(got.extra("neg"), Some(&Value::Int(-5)));
        assert_eq!(got.extra("f"), Some(&Value::Float(1.5 + i as f64)));
        assert_eq!(got.extra("s"), Some(&Value::Str("ünï €%s 𝄞".into())));
        assert_eq!(exp["b"].as_bool(), Some(i % 2 == 1));
        assert_eq!(got.extra("b"), Some(&Value::Bool(i % 2 == 1)));
        assert_eq!(got.extra("none"), Some(&Value::None));
        assert_eq!(
            got.extra("lst").map(Value::py_repr),
            exp["lst"].as_str().map(str::to_owned)
        );
        assert_eq!(
            got.extra("tup").map(Value::py_repr),
            exp["tup"].as_str().map(str::to_owned)
        );
        assert_eq!(
            got.extra("d").map(Value::py_repr),
            exp["d"].as_str().map(str::to_owned)
        );
        assert_eq!(got.extra("by"), Some(&Value::Bytes(vec![0, 0xff])));
        // Recognised from its pickled state, printed as CPython's receiver prints it.
        assert_eq!(
            got.extra("when").map(Value::py_str).as_deref(),
            Some("2024-01-02 03:04:05")
        );
        assert_eq!(
            got.extra("when").map(Value::py_repr).as_deref(),
            Some("datetime.datetime(2024, 1, 2, 3, 4, 5)")
        );
        assert!(got.extra("message").is_none() && got.extra("args").is_none());
    }
}

/// Starts a collector on `addr` (port 0 picks a free port) and has CPython send to the
/// address it bound. (Probing for a free port and binding it again raced with other tests'
/// outgoing connections, which may take that ephemeral port in between.)
async fn run(mode: &str, addr: ListenAddr) {
    let (running, keep) = start(ReceiverOptions::default(), &[addr]).await;
    let target = port(&running.local_addrs()[0]);
    let out = tokio::task::spawn_blocking({
        let mode = mode.to_owned();
        move || python(SENDER, &[mode, target, N.to_string()])
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| running.stats().stored >= N as u64).await,
        "{mode}: {}",
        running.stats()
    );
    let stats = running.shutdown().await;
    assert!(stats.reconciles(), "{stats}");
    assert_eq!(stats.rejected_total(), 0, "{stats}");
    check(&keep.records(), &out);
}

fn port(running_addr: &ListenAddr) -> String {
    match running_addr {
        ListenAddr::Tcp(a) | ListenAddr::Udp(a) => a.port().to_string(),
        ListenAddr::Unix(p) | ListenAddr::UnixDatagram(p) => p.display().to_string(),
        other => panic!("no port for {other:?}"),
    }
}

/// Binds on port 0 first to learn a free port, then runs the interop on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_handler_over_tcp() {
    run("tcp", tcp0()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_handler_over_udp() {
    run("udp", udp0()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_handler_over_unix_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    run("unix", ListenAddr::Unix(path.clone())).await;
    assert!(!path.exists(), "socket file removed on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_handler_over_unix_datagram() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.dgram");
    run("unix-dgram", ListenAddr::UnixDatagram(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_handler_over_ipv6_loopback() {
    let Ok(addr) = "[::1]:0".parse() else { return };
    let keep = logwire_engine::RecordCollector::new();
    let tree = logwire_engine::LoggerTree::new();
    tree.root()
        .add_handler(std::sync::Arc::new(logwire_engine::Handler::new(
            keep.clone(),
        )));
    tree.root().set_level(0);
    let Ok(running) = logwire_collector::receiver::Collector::new(tree, ReceiverOptions::default())
        .start(&[ListenAddr::Tcp(addr)])
        .await
    else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let bound = running.local_addrs()[0].clone();
    let script = "import logging, logging.handlers as h, sys\nl = logging.getLogger('v6')\nl.addHandler(h.SocketHandler('::1', int(sys.argv[1])))\nl.warning('over ipv6')\n";
    tokio::task::spawn_blocking(move || python(script, &[port(&bound)]))
        .await
        .unwrap();
    assert!(wait_for(|| running.stats().stored >= 1).await);
    running.shutdown().await;
    assert_eq!(keep.records()[0].msg, "over ipv6");
}
