//! CPython on the other end: its test_logging listen tests ported (the pushed texts are
//! taken from the installed `test.test_logging`, sent by its own `setup_via_listener`
//! socket code), and the Python helper's signed `send_config` reading our reply.

use crate::common_listen;

use common_listen::*;
use logwire_listener::ListenerOptions;

/// CPython's `setup_via_listener` sending code, verbatim, for a config from test_logging.
const PUSH: &str = r#"
import json, socket, struct, sys, textwrap
from test.test_logging import ConfigDictTest, ConfigFileTest
which, port = sys.argv[1], int(sys.argv[2])
text = {"config10": lambda: json.dumps(ConfigDictTest.config10),
        "config1": lambda: textwrap.dedent(ConfigFileTest.config1)}[which]()
if len(sys.argv) > 3 and sys.argv[3] == "reverse":
    text = text[::-1]
text = text.encode("utf-8")
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.settimeout(2.0)
sock.connect(('localhost', port))
slen = struct.pack('>L', len(text))
s = slen + text
sentsofar = 0
left = len(s)
while left > 0:
    sent = sock.send(s[sentsofar:])
    sentsofar += sent
    left -= sent
sock.close()
"#;

fn cpython_push(which: &str, port: u16, extra: &[&str]) {
    let mut args = vec![which.to_owned(), port.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let (ok, out, err) = python(PUSH, &args);
    assert!(ok, "python pusher failed: {out}{err}");
}

fn unsigned(_fx: &Fixture) -> ListenerOptions {
    ListenerOptions::new().tcp(tcp0()).allow_unsigned(true)
}

#[test]
fn test_listen_config_10_ok() {
    let fx = Fixture::new();
    let h = fx.listener(unsigned(&fx)).start().unwrap();
    cpython_push("config10", h.tcp_addr().unwrap().port(), &[]);
    wait_processed(&h, 1);
    assert_eq!(h.stats().applied, 1, "{}", h.stats());
    assert!(fx.tree.snapshot().handler_by_name("hand1").is_some());
    fx.log("compiler.parser", 30, "1");
    fx.log("compiler", 30, "2");
    fx.log("compiler.lexer", 30, "3");
    fx.log("compiler.parser.codegen", 40, "4");
    assert_eq!(fx.streams.stdout.lines(), ["WARNING ++ 1", "ERROR ++ 4"]);
    h.stop_and_join();
}

#[test]
fn test_listen_config_1_ok() {
    let fx = Fixture::new();
    let h = fx.listener(unsigned(&fx)).start().unwrap();
    cpython_push("config1", h.tcp_addr().unwrap().port(), &[]);
    wait_processed(&h, 1);
    assert_eq!(h.stats().applied, 1, "{}", h.stats());
    fx.log("compiler.parser", 20, "1");
    fx.log("compiler.parser", 40, "2");
    assert_eq!(fx.streams.stdout.lines(), ["INFO ++ 1", "ERROR ++ 2"]);
    assert!(
        fx.orig.text().is_empty(),
        "original root output stays empty: {}",
        fx.orig.text()
    );
    h.stop_and_join();
}

#[test]
fn test_listen_verify() {
    let fx = Fixture::new();
    // (a) A verify hook that refuses: nothing applied; messages go to the original root.
    let h = fx
        .listener(unsigned(&fx))
        .verify_hook(|_| Err("verify_fail".into()))
        .start()
        .unwrap();
    cpython_push("config1", h.tcp_addr().unwrap().port(), &[]);
    wait_processed(&h, 1);
    assert_eq!(h.stats().rejected, 1);
    h.stop_and_join();
    fx.log("compiler.parser", 20, "1");
    fx.log("compiler.parser", 40, "2");
    assert!(fx.streams.stdout.text().is_empty());
    let orig = ["compiler.parser -> INFO: 1", "compiler.parser -> ERROR: 2"];
    assert_eq!(fx.orig.lines(), orig);

    // (b) No verification: applied.
    let h = fx.listener(unsigned(&fx)).start().unwrap();
    cpython_push("config1", h.tcp_addr().unwrap().port(), &[]);
    wait_processed(&h, 1);
    h.stop_and_join();
    fx.log("compiler.parser", 20, "3");
    fx.log("compiler.parser", 40, "4");
    assert_eq!(fx.streams.stdout.lines(), ["INFO ++ 3", "ERROR ++ 4"]);
    assert_eq!(fx.orig.lines(), orig);

    // (c) A verify hook that transforms the bytes (reverses them): applied.
    fx.streams.stdout.clear();
    let h = fx
        .listener(unsigned(&fx))
        .verify_hook(|mut b| {
            b.reverse();
            Ok(b)
        })
        .start()
        .unwrap();
    cpython_push("config1", h.tcp_addr().unwrap().port(), &["reverse"]);
    wait_processed(&h, 1);
    assert_eq!(h.stats().applied, 1, "{}", h.stats());
    h.stop_and_join();
    fx.log("compiler.parser", 20, "5");
    fx.log("compiler.parser", 40, "6");
    assert_eq!(fx.streams.stdout.lines(), ["INFO ++ 5", "ERROR ++ 6"]);
    assert_eq!(fx.orig.lines(), orig);
}

const HELPER_PUSH: &str = r#"
import json, sys
from logwire_helper.config import send_config
port, key = int(sys.argv[1]), sys.argv[2]
conf = {"version": 1, "disable_existing_loggers": False,
        "formatters": {"f": {"format": "%(name)s %(levelname)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
        "loggers": {"app": {"level": "ERROR", "handlers": ["h"], "propagate": False}}}
print(json.dumps(send_config(json.dumps(conf), ("127.0.0.1", port), key, seq=int(sys.argv[3]))))
"#;

#[test]
fn python_helper_pushes_signed_configs_and_reads_the_reply() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let key_path = dir.path().join("ops.key");
    signer.write_file(&key_path, false).unwrap();
    let opts = ListenerOptions::new()
        .tcp(tcp0())
        .key(signer.verify_key())
        .state_dir(dir.path().join("state"));
    let h = fx.listener(opts).start().unwrap();
    let port = h.tcp_addr().unwrap().port().to_string();
    let key_arg = key_path.display().to_string();
    let (ok, out, err) = python(HELPER_PUSH, &[port.clone(), key_arg.clone(), "41".into()]);
    assert!(ok, "{out}{err}");
    let reply: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"status": "applied", "reason": "", "seq": 41})
    );
    fx.log("app", 40, "signed from python");
    fx.log("app", 30, "below the pushed level");
    assert_eq!(fx.streams.stdout.lines(), ["app ERROR signed from python"]);
    // The same seq again is a replay; the reply says so.
    let (ok, out, _) = python(HELPER_PUSH, &[port, key_arg, "41".into()]);
    assert!(ok);
    let reply: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(reply["status"], "rejected");
    assert!(
        reply["reason"].as_str().unwrap().contains("not greater"),
        "{reply}"
    );
    h.stop_and_join();
}

#[test]
fn cookbook_unsigned_push_is_rejected_by_a_keyed_listener() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_hmac().unwrap();
    let opts = ListenerOptions::new()
        .tcp(tcp0())
        .key(signer.verify_key())
        .state_dir(dir.path());
    let h = fx.listener(opts).start().unwrap();
    cpython_push("config10", h.tcp_addr().unwrap().port(), &[]);
    wait_processed(&h, 1);
    assert_eq!((h.stats().applied, h.stats().rejected), (0, 1));
    assert!(fx.tree.snapshot().handler_by_name("hand1").is_none());
    fx.assert_orig_routing_alive("after an unsigned push");
    h.stop_and_join();
}
