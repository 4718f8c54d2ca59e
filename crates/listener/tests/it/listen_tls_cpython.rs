//! CPython as the TLS client: its own `ssl` module, with the PEM files an operator would
//! hand out, sends an `LWC1` frame signed by the Python helper (`send_config` with an
//! `ssl_context`) to a mutual-TLS listener. With its client certificate the config is
//! applied; without one CPython's handshake is refused and nothing is applied.

use crate::common_listen;
use crate::common_tls;

use common_listen::*;
use common_tls::*;
use logwire_listener::{ListenerOptions, TlsServer};

const PUSH: &str = r#"
import json, ssl, sys
from logwire_helper.config import send_config
port, key, ca, cert, cert_key, seq = sys.argv[1:7]
ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
if cert:
    ctx.load_cert_chain(cert, cert_key)
conf = {"version": 1, "disable_existing_loggers": False,
        "formatters": {"f": {"format": "%(name)s %(levelname)s %(message)s"}},
        "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}},
        "loggers": {"app": {"level": "ERROR", "handlers": ["h"], "propagate": False}}}
try:
    reply = send_config(json.dumps(conf), ("127.0.0.1", int(port)), key, seq=int(seq),
                        ssl_context=ctx, server_hostname="localhost")
    print(json.dumps({"reply": reply, "tls": ssl.OPENSSL_VERSION}))
except ssl.SSLError as e:
    print(json.dumps({"ssl_error": str(e)}))
"#;

#[test]
fn cpython_ssl_client_with_the_helper_signed_frame() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let signer = logwire_wire::generate_ed25519().unwrap();
    let key_path = dir.path().join("ops.key");
    signer.write_file(&key_path, false).unwrap();
    let tls = TlsServer::from_pem_files(&pki.server_cert, &pki.server_key, &pki.ca).unwrap();
    let fx = Fixture::new();
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .key(signer.verify_key())
                .state_dir(dir.path().join("state"))
                .tls(tls),
        )
        .start()
        .unwrap();
    let port = h.tcp_addr().unwrap().port().to_string();
    let s = |p: &std::path::Path| p.display().to_string();
    let args = |cert: String, cert_key: String, seq: &str| {
        vec![
            port.clone(),
            s(&key_path),
            s(&pki.ca),
            cert,
            cert_key,
            seq.to_owned(),
        ]
    };

    // Without a client certificate: CPython's handshake is refused, nothing is applied.
    let (ok, out, err) = python(PUSH, &args(String::new(), String::new(), "7"));
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let e = v["ssl_error"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(e.to_lowercase().contains("certificate required"), "{e}");
    wait_until("the refused handshake is counted", || {
        h.stats().tls_failed == 1
    });
    assert!(fx.streams.stdout.text().is_empty());

    // With it: applied, and the pushed routing is live.
    let (ok, out, err) = python(PUSH, &args(s(&pki.client_cert), s(&pki.client_key), "7"));
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["reply"],
        serde_json::json!({"status": "applied", "reason": "", "seq": 7}),
        "{v}"
    );
    fx.log("app", 40, "over TLS from CPython");
    fx.log("app", 30, "below the pushed level");
    assert_eq!(
        fx.streams.stdout.lines(),
        ["app ERROR over TLS from CPython"]
    );

    // A certificate from another CA: refused as well, and the ratchet kept its place.
    let (ok, out, err) = python(PUSH, &args(s(&pki.rogue_cert), s(&pki.rogue_key), "8"));
    assert!(ok, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["ssl_error"].is_string(), "{v}");
    wait_until("the second refused handshake", || h.stats().tls_failed == 2);
    assert_eq!(h.stats().applied, 1);
    h.stop_and_join();
}
