//! `logwire top` against a live collector's metrics endpoint: once as text, and as the
//! full-screen view in a real terminal (tmux, Debian package in scripts/apt-packages.txt),
//! read with capture-pane and quit with `q`.

use crate::common;

use common::{BIN, Serve, WAIT, logwire};
use logwire_test_support::python;
use logwire_test_support::wait::poll_until;
use std::net::SocketAddr;
use std::process::Command;

fn metrics_addr(s: &Serve) -> SocketAddr {
    assert!(s.wait_stderr(|l| l.starts_with("metrics on http://")));
    let lines = s.stderr_lines();
    let line = lines
        .iter()
        .find(|l| l.starts_with("metrics on http://"))
        .unwrap();
    line.trim_start_matches("metrics on http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap()
}

fn send(port: u16, n: usize) {
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('top.app'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  for i in range(int(sys.argv[2])): l.warning('r %d', i)\n\
                  hd.close()\n";
    let status = python::script(script, [port.to_string(), n.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn collector() -> (Serve, SocketAddr) {
    let s = Serve::start(&["--tcp", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]);
    let m = metrics_addr(&s);
    send(s.tcp().port(), 500);
    assert!(poll_until(WAIT, || s.stdout().lines().count() >= 500));
    (s, m)
}

#[test]
fn once_prints_the_view_and_an_unreachable_endpoint_is_one_sentence() {
    let (mut s, m) = collector();
    let out = logwire()
        .args(["top", "--once", "--interval", "0.2", &m.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = text.lines().find(|l| l.contains("received")).unwrap();
    assert!(received.contains("500"), "{text}");
    let output = text
        .lines()
        .find(|l| l.contains("logwire.SafeStdout"))
        .unwrap();
    assert!(
        output.contains("stdout") && output.contains("500"),
        "{text}"
    );
    assert!(
        text.contains(&format!("listeners: tcp {}", s.tcp())),
        "{text}"
    );
    assert!(s.terminate().0.success());

    let out = logwire()
        .args(["top", "--once", &m.to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("logwire top: cannot scrape {m}: ")),
        "{err}"
    );
}

/// A tmux server of this test's own (`-L`), so no other session is touched.
struct Tmux(String);

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0]);
        c
    }
    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "top"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "top"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn the_live_view_runs_in_a_terminal_and_quits_on_q() {
    let (mut s, m) = collector();
    let tmux = Tmux(format!("logwire-top-test-{}", std::process::id()));
    let started = tmux
        .cmd()
        .args(["new-session", "-d", "-s", "top", "-x", "120", "-y", "40"])
        .arg(format!("{BIN} top --interval 0.3 {m}; sleep 30"))
        .status()
        .expect("tmux runs (Debian package tmux, see scripts/apt-packages.txt)");
    assert!(started.success());
    let mut screen = String::new();
    let shown = poll_until(WAIT, || {
        screen = tmux.screen();
        screen.contains("Outputs") && screen.contains("logwire.SafeStdout")
    });
    assert!(shown, "{screen}");
    assert!(
        screen.contains("Rejects by reason") && screen.contains("Queue"),
        "{screen}"
    );
    let received = screen.lines().find(|l| l.contains("received")).unwrap();
    assert!(received.contains("500"), "{screen}");

    // Records sent while it runs show up in the next refreshes: per listener as a received
    // rate, per output as bytes per second. A sender keeps sending until the test has seen
    // both (a refresh is a rate over 0.3 s, so a single short burst could fall between).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let stop = std::sync::Arc::clone(&stop);
        let port = s.tcp().port();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                send(port, 100);
            }
        })
    };
    let listener = format!("tcp {}", s.tcp());
    let updated = poll_until(WAIT, || {
        screen = tmux.screen();
        let row = |starts: &str| -> Vec<String> {
            screen
                .lines()
                .map(|l| l.trim_start_matches('│'))
                .find(|l| l.starts_with(starts))
                .map(|l| {
                    l.split_whitespace()
                        .map(|c| c.trim_matches('│').to_owned())
                        .filter(|c| !c.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        // listener: kind, address, open, received/s, stored/s, rejected, rejects/s, bytes/s
        let l = row(&format!("{listener} "));
        // output: name, kind, records, rate, bytes/s (number and unit), errors
        let o = row("stdout ");
        let moving = |cell: Option<&String>| {
            cell.and_then(|c| c.trim_end_matches("/s").parse::<f64>().ok())
                .is_some_and(|v| v > 0.0)
        };
        moving(l.get(3)) && moving(l.get(4)) && moving(o.get(4))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sender.join().unwrap();
    assert!(
        updated,
        "per-listener and per-output rates while records flow: {screen}"
    );
    let received = screen.lines().find(|l| l.contains("received")).unwrap();
    let total: f64 = received
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_default();
    assert!(total > 500.0, "{screen}");

    let sent = tmux
        .cmd()
        .args(["send-keys", "-t", "top", "q"])
        .status()
        .unwrap();
    assert!(sent.success());
    // top quits and restores the terminal: the shell's `sleep` then holds a plain screen.
    let restored = poll_until(WAIT, || {
        screen = tmux.screen();
        !screen.contains("Outputs")
    });
    assert!(restored, "still drawn after q: {screen}");
    assert!(tmux.alive());
    assert!(s.terminate().0.success());
}
