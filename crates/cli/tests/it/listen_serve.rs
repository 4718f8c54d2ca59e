//! `logwire serve --listen …`: the collector's config listener takes signed pushes from
//! `logwire send-config`, refuses replays, logs both, and stops cleanly on SIGTERM.

use crate::common;

use common::{Serve, keygen, listen_args, logwire};

#[test]
fn serve_with_a_config_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen("ed25519", &d.join("ops"));
    let mut serve = Serve::start(&listen_args(d));
    let to = serve.config_to();
    let conf = d.join("c.json");
    std::fs::write(
        &conf,
        r#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#,
    )
    .unwrap();
    let send = |seq: &str| {
        logwire()
            .arg("send-config")
            .arg(&conf)
            .args(["--to", &to, "--seq", seq, "--key"])
            .arg(d.join("ops.key"))
            .output()
            .unwrap()
    };
    let first = send("3");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let replay = send("3");
    assert_eq!(replay.status.code(), Some(1));
    let (status, lines) = serve.terminate();
    let rest = lines.join("\n");
    assert!(status.success(), "{rest}");
    assert!(
        rest.contains("logwire config listener: applied seq 3 from key"),
        "{rest}"
    );
    assert!(
        rest.contains("logwire config listener: rejected: seq 3 is not greater"),
        "{rest}"
    );
}

/// The flag names the listener issue uses (`--listen unix:PATH`, `--verify-key`,
/// `--state-dir`) reach the same listener, and a push over the Unix socket is applied.
#[test]
fn serve_accepts_the_issue_flag_names_and_a_unix_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen("hmac", &d.join("k"));
    let sock = d.join("cfg.sock");
    let mut serve = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--listen",
        &format!("unix:{}", sock.display()),
        "--verify-key",
        d.join("k").to_str().unwrap(),
        "--state-dir",
        d.join("state").to_str().unwrap(),
    ]);
    let conf = d.join("c.json");
    std::fs::write(
        &conf,
        r#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#,
    )
    .unwrap();
    let out = logwire()
        .arg("send-config")
        .arg(&conf)
        .arg("--to")
        .arg(format!("unix:{}", sock.display()))
        .arg("--key")
        .arg(d.join("k"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(serve.terminate().0.success());
}
