//! `logwire send-config` against logwire's own listener (in process): exit 0 applied,
//! 1 rejected with the reason, 2 unreachable; TCP and Unix; signed and unsigned.

use logwire_engine::LoggerTree;
use logwire_listener::{ConfigListener, ListenerOptions};
use std::process::Command;

fn send(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .arg("send-config")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn signed_push_applied_then_replay_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let key = dir.path().join("ops.key");
    signer.write_file(&key, false).unwrap();
    let key = key.display().to_string();
    let tree = LoggerTree::new();
    let opts = ListenerOptions::new()
        .tcp("127.0.0.1:0".parse().unwrap())
        .key(signer.verify_key())
        .state_dir(dir.path().join("state"))
        .audience("web");
    let h = ConfigListener::new(tree.clone(), opts).start().unwrap();
    let to = h.tcp_addr().unwrap().to_string();
    let conf = write(
        dir.path(),
        "c.json",
        r#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#,
    );

    let (code, out, err) = send(&[&conf, "--to", &to, "--key", &key, "--seq", "7"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "applied (seq 7)");
    assert_eq!(tree.root().effective_level(), 40);

    let (code, out, _) = send(&[&conf, "--to", &to, "--key", &key, "--seq", "7"]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("rejected (seq 7): seq 7 is not greater"),
        "{out}"
    );

    // Default seq is the time in ms: greater than 7.
    let (code, out, _) = send(&[&conf, "--to", &to, "--key", &key, "--audience", "web"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = send(&[&conf, "--to", &to, "--key", &key, "--audience", "db"]);
    assert_eq!(code, 1);
    assert!(out.contains("audience"), "{out}");
    let (code, out, _) = send(&[&conf, "--to", &to, "--unsigned"]);
    assert_eq!(code, 1);
    assert!(out.contains("unsigned config refused"), "{out}");
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"version": 1, "handlers": {"x": {"()": "os.system"}}}"#,
    );
    let (code, out, _) = send(&[&bad, "--to", &to, "--key", &key]);
    assert_eq!(code, 1);
    assert!(out.contains("'()'"), "{out}");
    h.stop_and_join();

    // Nobody listening any more.
    let (code, _, err) = send(&[&conf, "--to", &to, "--key", &key]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn unix_socket_hmac_and_unsigned() {
    let dir = tempfile::tempdir().unwrap();
    let signer = logwire_wire::generate_hmac().unwrap();
    let key = dir.path().join("push.hmac");
    signer.write_file(&key, false).unwrap();
    let tree = LoggerTree::new();
    let sock = dir.path().join("conf.sock");
    let opts = ListenerOptions::new()
        .unix(&sock)
        .key(signer.verify_key())
        .state_dir(dir.path().join("state"))
        .allow_unsigned(true);
    let h = ConfigListener::new(tree.clone(), opts).start().unwrap();
    let to = format!("unix:{}", sock.display());
    let ini = write(
        dir.path(),
        "c.ini",
        "[loggers]\nkeys=root\n[handlers]\nkeys=\n[formatters]\nkeys=\n[logger_root]\nlevel=CRITICAL\nhandlers=\n",
    );
    let (code, out, err) = send(&[&ini, "--to", &to, "--key", &key.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tree.root().effective_level(), 50);
    let json = write(
        dir.path(),
        "c.json",
        r#"{"version": 1, "incremental": true, "root": {"level": "DEBUG"}}"#,
    );
    let (code, out, _) = send(&[&json, "--to", &to, "--unsigned"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "applied (seq 0)");
    assert_eq!(tree.root().effective_level(), 10);
    h.stop_and_join();
}

#[test]
fn usage_errors_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "c.json", "{}");
    // Neither --key nor --unsigned.
    let (code, _, err) = send(&[&conf]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = send(&[&conf, "--key", "/nonexistent/key"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/key"), "{err}");
    let (code, out, _) = send(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("never replies"),
        "{out}"
    );
}

/// A push carries JSON or INI: a YAML or TOML dictConfig is converted to JSON and applied
/// (it used to be sent as is and rejected as an INI parse error); a broken one is one
/// sentence naming the file and the format.
#[test]
fn yaml_and_toml_are_pushed_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let tree = LoggerTree::new();
    let sock = dir.path().join("conf.sock");
    let opts = ListenerOptions::new().unix(&sock).allow_unsigned(true);
    let h = ConfigListener::new(tree.clone(), opts).start().unwrap();
    let to = format!("unix:{}", sock.display());
    let yaml = write(
        dir.path(),
        "c.yaml",
        "version: 1\nloggers:\n  app.db:\n    level: ERROR\nroot:\n  level: WARNING\n",
    );
    let (code, out, err) = send(&[&yaml, "--to", &to, "--unsigned"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tree.root().effective_level(), 30);
    assert_eq!(tree.get_logger("app.db").effective_level(), 40);
    let toml = write(
        dir.path(),
        "c.toml",
        "version = 1\n[root]\nlevel = \"DEBUG\"\n",
    );
    let (code, out, err) = send(&[&toml, "--to", &to, "--unsigned"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(tree.root().effective_level(), 10);

    let bad = write(dir.path(), "bad.yml", "version: [1\n");
    let (code, out, err) = send(&[&bad, "--to", &to, "--unsigned"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    assert!(err.contains("bad.yml: not valid YAML: "), "{err}");
    h.stop_and_join();
}
