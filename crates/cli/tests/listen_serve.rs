//! `logwire serve --listen …`: the collector's config listener takes signed pushes from
//! `logwire send-config`, refuses replays, logs both, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn logwire() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logwire"))
}

#[test]
fn serve_with_a_config_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        logwire()
            .args(["keygen", "--ed25519"])
            .arg(d.join("ops"))
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut serve = logwire()
        .args([
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--listen-key",
        ])
        .arg(d.join("ops.pub"))
        .arg("--listen-state-dir")
        .arg(d.join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = serve.id();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let mut err = BufReader::new(serve.stderr.take().unwrap());
    let mut to = None;
    let mut seen = Vec::new();
    while to.is_none() {
        let mut l = String::new();
        assert!(err.read_line(&mut l).unwrap() > 0, "serve ended: {seen:?}");
        if let Some(a) = l.trim().strip_prefix("config listener on tcp ") {
            to = Some(a.to_owned());
        }
        seen.push(l);
    }
    let to = to.unwrap();
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
    assert!(
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    for l in err.lines() {
        rest.push_str(&l.unwrap());
        rest.push('\n');
    }
    assert!(serve.wait().unwrap().success(), "{rest}");
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
    assert!(
        logwire()
            .args(["keygen", "--hmac"])
            .arg(d.join("k"))
            .output()
            .unwrap()
            .status
            .success()
    );
    let sock = d.join("cfg.sock");
    let mut serve = logwire()
        .args(["serve", "--tcp", "127.0.0.1:0", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .arg("--verify-key")
        .arg(d.join("k"))
        .arg("--state-dir")
        .arg(d.join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = serve.id();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let mut err = BufReader::new(serve.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("config listener on") {
        let mut l = String::new();
        assert!(err.read_line(&mut l).unwrap() > 0, "serve ended: {seen}");
        seen.push_str(&l);
    }
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
    assert!(
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    assert!(serve.wait().unwrap().success());
}
