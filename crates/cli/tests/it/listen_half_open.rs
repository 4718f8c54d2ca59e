//! `logwire serve --listen`: 300 half-open connections to the config listener no longer
//! hold all of its 64 slots until the header deadline (issue 13, item 11: a legitimate push
//! was closed without a reply for 9.6 s). The idle connections are shed for the push, which
//! is applied and answered; the listener's final counters say how many were shed, and none
//! was refused.

use crate::common;

use common::*;
use std::net::TcpStream;
use std::path::Path;

#[test]
fn a_push_is_answered_while_300_half_open_connections_are_held() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    keygen("ed25519", &d.join("ops"));
    let serve = Serve::start(&listen_args(d));
    let to = serve.bound.config_tcp[0];
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(to).unwrap()).collect();
    let config = d.join("c.json");
    std::fs::write(
        &config,
        r#"{"version": 1, "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "f"}}, "formatters": {"f": {"format": "pushed %(message)s"}}, "root": {"level": "DEBUG", "handlers": ["out"]}}"#,
    )
    .unwrap();
    let out = logwire()
        .arg("send-config")
        .arg(&config)
        .args(["--to", &to.to_string(), "--seq", "1", "--key"])
        .arg(Path::new(d).join("ops.key"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    send_tcp(serve.tcp(), &good("after the push"));
    assert!(serve.wait_stdout("pushed after the push"));
    drop(idle);
    let fin = serve.stop();
    let listener = fin.listener.expect("listener counters");
    eprintln!("listener after 300 half-open connections and a push: {listener:?}");
    assert_eq!(listener.get("applied"), 1, "{listener:?}");
    assert_eq!(listener.get("refused_over_cap"), 0, "{listener:?}");
    assert!(listener.get("shed_idle") >= 300 - 64, "{listener:?}");
}
