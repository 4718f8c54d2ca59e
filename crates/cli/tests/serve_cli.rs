//! `logwire serve` end to end: the built binary on port 0, CPython's SocketHandler sending,
//! stdout checked; SIGTERM drains and exits 0; SIGHUP with a bad config keeps the routing.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Serve {
    child: Child,
    stderr: mpsc::Receiver<String>,
    tcp_port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("logwire runs");
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut tcp_port = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while tcp_port == 0 {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("listening line");
        if let Some(rest) = line.strip_prefix("listening on tcp ") {
            tcp_port = rest.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
    Serve {
        child,
        stderr: rx,
        tcp_port,
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "logwire serve did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn python_send(port: u16, msgs: &[&str]) {
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('cli.app'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  for m in sys.argv[2:]: l.warning('%s', m)\n\
                  hd.close()\n";
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .args(msgs)
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_for_file(path: &Path, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn serve_prints_records_escaped_and_drains_on_sigterm() {
    let mut s = spawn(&["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"]);
    let many: Vec<String> = (0..500).map(|i| format!("msgnum:{i:05}")).collect();
    let mut msgs: Vec<&str> = vec![
        "héllo wörld",
        "forged\n2024-01-01 00:00:00,000 CRITICAL root: fake\x1b[2J",
    ];
    msgs.extend(many.iter().map(String::as_str));
    python_send(s.tcp_port, &msgs);
    // SIGTERM right away: what was received is drained and flushed before exit.
    signal(&s.child, "TERM");
    let status = wait_exit(&mut s.child);
    assert!(status.success(), "{status:?}");
    let mut out = String::new();
    s.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("WARNING  cli.app: héllo wörld"), "{out}");
    assert!(
        out.contains(r"forged\n2024-01-01 00:00:00,000 CRITICAL root: fake\x1b[2J"),
        "escaped: {out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("2024-01-01")),
        "no forged line"
    );
    for m in &many {
        assert!(out.contains(m.as_str()), "{m} drained");
    }
    let stderr: Vec<String> = s.stderr.try_iter().collect();
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("stopped: received=502 stored=502")),
        "{stderr:?}"
    );
}

#[test]
fn sighup_reloads_config_and_a_bad_one_keeps_routing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    let cfg = dir.path().join("collector.json");
    let config = |file: &Path| {
        format!(
            r#"{{"version": 1, "formatters": {{"f": {{"format": "%(name)s|%(levelname)s|%(message)s"}}}},
               "handlers": {{"file": {{"class": "logging.FileHandler", "filename": "{}", "formatter": "f"}}}},
               "root": {{"level": "DEBUG", "handlers": ["file"]}}}}"#,
            file.display()
        )
    };
    std::fs::write(&cfg, config(&a)).unwrap();
    let mut s = spawn(&[
        "--tcp",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    python_send(s.tcp_port, &["one"]);
    assert!(wait_for_file(&a, "cli.app|WARNING|one"));

    std::fs::write(
        &cfg,
        r#"{"version": 1, "handlers": {"h": {"()": "os.system", "command": "id"}}}"#,
    )
    .unwrap();
    signal(&s.child, "HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = s
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("reload message");
        if line.contains("reload") {
            assert!(line.contains("failed") && line.contains("'()'"), "{line}");
            break;
        }
    }
    python_send(s.tcp_port, &["two"]);
    assert!(wait_for_file(&a, "cli.app|WARNING|two"), "old routing kept");

    std::fs::write(&cfg, config(&b)).unwrap();
    signal(&s.child, "HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = s
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("reloaded");
        if line.contains("reloaded") {
            break;
        }
    }
    python_send(s.tcp_port, &["three"]);
    assert!(wait_for_file(&b, "cli.app|WARNING|three"), "new routing");
    signal(&s.child, "TERM");
    assert!(wait_exit(&mut s.child).success());
}

#[test]
fn help_teaches() {
    let out = Command::new(env!("CARGO_BIN_EXE_logwire"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("SocketHandler(\"127.0.0.1\", 9020)"),
        "{text}"
    );
    assert!(text.contains("--record-key"));
}
