//! `logwire serve` end to end: the built binary on port 0, CPython's SocketHandler sending,
//! stdout checked; SIGTERM drains and exits 0; SIGHUP with a bad config keeps the routing.

mod common;

use common::{Serve, WAIT, file_config, logwire};
use logwire_test_support::python;
use logwire_test_support::wait::poll_until;
use std::path::Path;

fn python_send(port: u16, msgs: &[&str]) {
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('cli.app'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  for m in sys.argv[2:]: l.warning('%s', m)\n\
                  hd.close()\n";
    let status = python::script(script, [port.to_string()])
        .args(msgs)
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_for_file(path: &Path, needle: &str) -> bool {
    poll_until(WAIT, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

#[test]
fn serve_prints_records_escaped_and_drains_on_sigterm() {
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"]);
    let many: Vec<String> = (0..500).map(|i| format!("msgnum:{i:05}")).collect();
    let mut msgs: Vec<&str> = vec![
        "héllo wörld",
        "forged\n2024-01-01 00:00:00,000 CRITICAL root: fake\x1b[2J",
    ];
    msgs.extend(many.iter().map(String::as_str));
    python_send(s.tcp().port(), &msgs);
    // SIGTERM right away: what was received is drained and flushed before exit.
    let (status, stderr) = s.terminate();
    assert!(status.success(), "{status:?}");
    let out = s.stdout();
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
    let config = |file: &Path| file_config(file, "%(name)s|%(levelname)s|%(message)s");
    std::fs::write(&cfg, config(&a)).unwrap();
    let mut s = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--udp",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    python_send(s.tcp().port(), &["one"]);
    assert!(wait_for_file(&a, "cli.app|WARNING|one"));

    std::fs::write(
        &cfg,
        r#"{"version": 1, "handlers": {"h": {"()": "os.system", "command": "id"}}}"#,
    )
    .unwrap();
    s.signal("HUP");
    let line = s.next_line("reload message", |l| l.contains("reload"));
    assert!(line.contains("failed") && line.contains("'()'"), "{line}");
    python_send(s.tcp().port(), &["two"]);
    assert!(wait_for_file(&a, "cli.app|WARNING|two"), "old routing kept");

    std::fs::write(&cfg, config(&b)).unwrap();
    s.signal("HUP");
    s.next_line("reloaded", |l| l.contains("reloaded"));
    python_send(s.tcp().port(), &["three"]);
    assert!(wait_for_file(&b, "cli.app|WARNING|three"), "new routing");
    assert!(s.terminate().0.success());
}

#[test]
fn help_teaches() {
    let out = logwire().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("SocketHandler(\"127.0.0.1\", 9020)"),
        "{text}"
    );
    assert!(text.contains("--record-key"));
}

/// Issue 16 item 6: the Python one-liner in `serve --help` runs when pasted into a shell
/// as it is printed (it was split over two lines: IndentationError), and its record arrives.
#[test]
fn help_one_liner_runs_when_pasted() {
    let out = logwire().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("python3 -c"))
        .expect("a python3 one-liner in serve --help");
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0"]);
    let port = s.tcp().port();
    let pasted = line.trim().replace("9020", &port.to_string()).replacen(
        "python3",
        &python::interpreter(),
        1,
    );
    let ran = std::process::Command::new("sh")
        .args(["-c", &pasted])
        .output()
        .unwrap();
    assert!(
        ran.status.success() && ran.stderr.is_empty(),
        "{pasted}: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(s.wait_stdout("WARNING  app: hello from python"));
    assert!(s.terminate().0.success());
}
