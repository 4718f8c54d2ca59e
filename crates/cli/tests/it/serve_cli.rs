//! `logwire serve` end to end: the built binary on port 0, CPython's SocketHandler sending,
//! stdout checked; SIGTERM drains and exits 0; SIGHUP with a bad config keeps the routing.

use crate::common;

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

/// A user's mistake is one sentence, not Rust Debug output.
#[test]
fn unix_on_a_regular_file_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, "keep me").unwrap();
    let out = logwire()
        .args(["serve", "--unix", file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "logwire serve: cannot listen on {}: it exists and is a regular file, not a socket",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// Sends one record whose every sender-controlled text carries line breaks, ESC, C1 and a
/// bidi override, with a forged `peer` extra.
fn send_hostile_record(port: u16) {
    let script = "import logging, logging.handlers as h, sys, threading\n\
                  l = logging.getLogger('out.app'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  threading.current_thread().name = 'T\\x1b[2J\\x85x'\n\
                  l.warning('hi %s\\nFORGED \\x9b \\u202e', 'there', extra={'peer': 'forged', 'k': [1, 2.5, None]})\n\
                  hd.close()\n";
    let status = python::script(script, [port.to_string()]).status().unwrap();
    assert!(status.success());
}

/// No byte a terminal would act on: ESC, other C0 but `\n`, DEL, C1, bidi overrides.
fn assert_terminal_safe(out: &str) {
    for c in out.chars() {
        let bad = matches!(c, '\0'..='\x09' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!bad, "raw {c:?} in {out:?}");
    }
    assert!(!out.lines().any(|l| l.starts_with("FORGED")), "{out}");
}

#[test]
fn default_line_names_the_sender_and_format_and_json_escape_as_it_does() {
    // The default line: the sender's address after the time; a `peer` the sender set is
    // replaced, not shown.
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0"]);
    send_hostile_record(s.tcp().port());
    assert!(s.terminate().0.success());
    let out = s.stdout();
    let line = out.lines().next().expect("one line");
    let after_time = line.splitn(3, ' ').nth(2).unwrap();
    let (peer, rest) = after_time.split_once(' ').unwrap();
    let peer: std::net::SocketAddr = peer.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
    assert!(
        peer.ip().is_loopback() && peer.port() != s.tcp().port(),
        "{line}"
    );
    assert_eq!(
        rest, r"WARNING  out.app: hi there\nFORGED \x9b \u202e",
        "{line}"
    );
    assert!(!out.contains("forged"), "{out}");
    assert_terminal_safe(&out);

    // --format: any field may be shown, and is escaped too.
    let mut s = Serve::start(&[
        "--tcp",
        "127.0.0.1:0",
        "--format",
        "%(peer)s|%(threadName)s|%(k)s|%(message)s",
    ]);
    send_hostile_record(s.tcp().port());
    assert!(s.terminate().0.success());
    let out = s.stdout();
    let fields: Vec<&str> = out.trim_end().split('|').collect();
    assert_eq!(fields.len(), 4, "{out}");
    assert!(fields[0].starts_with("127.0.0.1:"), "{out}");
    assert_eq!(fields[1], r"T\x1b[2J\x85x");
    assert_eq!(fields[2], "[1, 2.5, None]");
    assert_eq!(fields[3], r"hi there\nFORGED \x9b \u202e");
    assert_terminal_safe(&out);

    // --json: one object per line, the exact text back through JSON escapes.
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0", "--json"]);
    send_hostile_record(s.tcp().port());
    send_hostile_record(s.tcp().port());
    assert!(s.terminate().0.success());
    let out = s.stdout();
    assert_terminal_safe(&out);
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(objects.len(), 2, "{out}");
    let o = &objects[0];
    assert_eq!(o["message"], "hi there\nFORGED \u{9b} \u{202e}");
    assert_eq!(o["threadName"], "T\x1b[2J\u{85}x");
    assert_eq!(o["name"], "out.app");
    assert_eq!(o["levelno"], 30);
    assert!(o["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{o}");
    assert_eq!(o["extra"], serde_json::json!({"k": [1, 2.5, null]}));
}

#[test]
fn a_bad_format_is_one_sentence() {
    let out = logwire()
        .args(["serve", "--tcp", "127.0.0.1:0", "--format", "%(oops"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("logwire serve: --format '%(oops' is not a valid %-style format"),
        "{err}"
    );
}
