//! `logwire serve` under systemd's protocols, with the real peers: a notify socket the test
//! binds (what systemd reads `READY=1`, `RELOADING=1`, `STOPPING=1` from), sockets bound by
//! `systemd-socket-activate` (Debian's systemd package) and taken through `LISTEN_FDS`, and
//! the example unit files checked by `systemd-analyze verify`.

use crate::common;

use common::{BIN, WAIT, frame, good, send_unix};
use logwire_test_support::process::{self, Lines};
use logwire_test_support::python;
use logwire_test_support::serve::Bound;
use logwire_test_support::wait::{free_port, poll_until};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A notify socket: the messages serve sends to it.
struct Notify {
    socket: UnixDatagram,
}

impl Notify {
    fn bind(path: &Path) -> Notify {
        let socket = UnixDatagram::bind(path).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Notify { socket }
    }

    /// The next message (panics after [`WAIT`]).
    fn next(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a notification within the wait");
        String::from_utf8_lossy(&buf[..n]).trim_end().to_owned()
    }

    /// The next message, or `None` when none came within `wait`.
    fn next_within(&self, wait: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        let got = self.socket.recv(&mut buf);
        self.socket.set_read_timeout(Some(WAIT)).unwrap();
        got.ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).trim_end().to_owned())
    }

    /// Skips `STATUS=` messages (the --stats line) and watchdog pings to the next other one.
    fn next_state(&self) -> String {
        loop {
            let m = self.next();
            if !m.starts_with("STATUS=") && m != "WATCHDOG=1" {
                return m;
            }
        }
    }
}

/// The child process, killed if the test fails before it ends (no collector outlives it).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

#[test]
fn ready_reloading_and_stopping_reach_the_notify_socket() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    let sock = dir.path().join("log.sock");
    let out = dir.path().join("out.log");
    let config = dir.path().join("collector.json");
    std::fs::write(&config, common::file_config(&out, "%(name)s|%(message)s")).unwrap();
    let mut child = Reaped(
        Command::new(BIN)
            .args(["serve", "--unix", sock.to_str().unwrap(), "--config"])
            .arg(&config)
            .env("NOTIFY_SOCKET", dir.path().join("notify"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // READY=1 means bound: a record sent right after it is received.
    assert_eq!(notify.next_state(), "READY=1");
    send_unix(&sock, &good("after ready"));
    assert!(poll_until(WAIT, || std::fs::read_to_string(&out)
        .is_ok_and(|t| t.contains("after ready"))));

    process::signal(child.id(), "HUP");
    let reloading = notify.next_state();
    let mut fields = reloading.lines();
    assert_eq!(fields.next(), Some("RELOADING=1"), "{reloading}");
    let usec = fields
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("MONOTONIC_USEC with RELOADING: {reloading}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    assert_eq!(
        notify.next_state(),
        "READY=1",
        "ready again after the reload"
    );

    process::signal(child.id(), "TERM");
    assert_eq!(notify.next_state(), "STOPPING=1");
    assert!(process::wait_exit(&mut child, WAIT, "logwire serve").success());
}

#[test]
fn serve_takes_the_sockets_systemd_socket_activate_bound() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    let sock = dir.path().join("activated.sock");
    let port = free_port();
    let stdout = dir.path().join("stdout");
    let stderr = dir.path().join("stderr");
    let mut child = Reaped(
        Command::new("systemd-socket-activate")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--listen={}", sock.display()))
            .arg(format!(
                "--setenv=NOTIFY_SOCKET={}",
                dir.path().join("notify").display()
            ))
            .args([BIN, "serve", "--json"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();

    // Activation without --accept starts serve at the first connection: make one.
    let _first = poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert_eq!(notify.next_state(), "READY=1", "{}", log());
    let err = log();
    assert!(
        err.contains(&format!("listening on tcp 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("listening on unix {}", sock.display())),
        "{err}"
    );
    // Only the sockets it was given: none of the defaults.
    assert_eq!(err.matches("listening on").count(), 2, "{err}");

    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('activated'); l.propagate = False\n\
                  tcp = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(tcp)\n\
                  l.warning('over tcp'); l.removeHandler(tcp); tcp.close()\n\
                  ux = h.SocketHandler(sys.argv[2], None); l.addHandler(ux)\n\
                  l.warning('over unix'); ux.close()\n";
    let status = python::script(script, [port.to_string(), sock.display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    send_unix(&sock, &frame(b""));
    let out = || std::fs::read_to_string(&stdout).unwrap_or_default();
    assert!(
        poll_until(WAIT, || out().contains("over tcp")
            && out().contains("over unix")),
        "{}\n{}",
        out(),
        log()
    );
    for line in out().lines() {
        let o: serde_json::Value = serde_json::from_str(line).unwrap();
        let peer = o["peer"].as_str().unwrap();
        match o["message"].as_str().unwrap() {
            "over tcp" => assert!(peer.starts_with("127.0.0.1:"), "{peer}"),
            "over unix" => assert_eq!(peer, format!("unix:{}", sock.display())),
            other => panic!("{other}"),
        }
    }

    process::signal(child.id(), "TERM");
    assert_eq!(notify.next_state(), "STOPPING=1");
    assert!(
        process::wait_exit(&mut child, WAIT, "logwire serve").success(),
        "{}",
        log()
    );
    assert!(
        log().contains("stopped: received=3 stored=2"),
        "the empty frame counted as a reject: {}",
        log()
    );
    // The socket file belongs to whoever bound it: serve leaves it.
    assert!(sock.exists());
}

#[test]
fn the_example_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/systemd");
    for name in [
        "logwire.service",
        "logwire.socket",
        "logwire-metrics.socket",
        "logwire-config.socket",
    ] {
        let text = std::fs::read_to_string(examples.join(name)).unwrap();
        // verify checks that ExecStart's binary exists: point it at the built one.
        std::fs::write(
            dir.path().join(name),
            text.replace("/usr/local/bin/logwire", BIN),
        )
        .unwrap();
    }
    let service = std::fs::read_to_string(examples.join("logwire.service")).unwrap();
    for hardening in [
        "Type=notify",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "WatchdogSec=",
    ] {
        assert!(service.contains(hardening), "{hardening}");
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("logwire.socket"))
        .arg(dir.path().join("logwire-metrics.socket"))
        .arg(dir.path().join("logwire-config.socket"))
        .arg(dir.path().join("logwire.service"))
        .output()
        .expect("systemd-analyze runs (Debian package systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // verify only warns about unknown keys and bad values: any line about our files fails.
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("logwire.") || l.contains("logwire-"))
        .collect();
    assert!(ours.is_empty(), "{err}");
}

#[test]
fn serve_takes_datagram_sockets_from_systemd_socket_activate() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    let dgram = dir.path().join("activated.dgram");
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stdout = dir.path().join("stdout");
    let stderr = dir.path().join("stderr");
    let mut child = Reaped(
        Command::new("systemd-socket-activate")
            .arg("--datagram")
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--listen={}", dgram.display()))
            .arg(format!(
                "--setenv=NOTIFY_SOCKET={}",
                dir.path().join("notify").display()
            ))
            .args([BIN, "serve", "--json"])
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    // A datagram starts serve; it is received too, once serve has the socket.
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('activated'); l.propagate = False\n\
                  u = h.DatagramHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(u)\n\
                  l.warning('over udp'); l.removeHandler(u); u.close()\n\
                  d = h.DatagramHandler(sys.argv[2], None); l.addHandler(d)\n\
                  l.warning('over unix-dgram'); d.close()\n";
    let status = python::script(script, [port.to_string(), dgram.display().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(notify.next_state(), "READY=1", "{}", log());
    let err = log();
    assert!(
        err.contains(&format!("listening on udp 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("listening on unix-dgram {}", dgram.display())),
        "{err}"
    );
    let out = || std::fs::read_to_string(&stdout).unwrap_or_default();
    assert!(
        poll_until(WAIT, || out().contains("over udp")
            && out().contains("over unix-dgram")),
        "{}\n{}",
        out(),
        log()
    );
    process::signal(child.id(), "TERM");
    assert_eq!(notify.next_state(), "STOPPING=1");
    assert!(
        process::wait_exit(&mut child, WAIT, "logwire serve").success(),
        "{}",
        log()
    );
    assert!(dgram.exists(), "the socket file is left to its owner");
}

/// Whether a scrape shows work waiting for the dispatcher: records judged and pending, or
/// bulk reads queued for it to judge (those are not records yet, only queue bytes).
fn queued(m: &std::collections::BTreeMap<String, f64>) -> bool {
    m["logwire_records_pending"] > 0.0 || m["logwire_queue_bytes"] > 0.0
}

/// The watchdog interval the watchdog test gives serve (`WATCHDOG_USEC`): pings every 200 ms.
const WATCHDOG_USEC: u64 = 400_000;

#[test]
fn watchdog_pings_arrive_while_alive_and_stop_while_the_dispatcher_is_stuck() {
    use crate::metrics_cli::{get, samples};
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    // Port 0 for both, read back from stderr: a port probed free and bound again later can
    // be taken meanwhile by another test's connection, and serve then exits before READY.
    let mut child = Command::new(BIN)
        .args(["serve", "--tcp", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
        .env("NOTIFY_SOCKET", dir.path().join("notify"))
        .env("WATCHDOG_USEC", WATCHDOG_USEC.to_string())
        .env_remove("WATCHDOG_PID")
        // The default printer's stdout: a pipe nobody reads until the test says so.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Lines::collect(child.stderr.take().unwrap());
    let mut child = Reaped(child);
    assert_eq!(notify.next_state(), "READY=1", "{:?}", stderr.snapshot());
    let (mut addr, mut metrics) = (None, None);
    assert!(
        poll_until(WAIT, || {
            let lines = stderr.snapshot();
            addr = Bound::read(&lines).tcp.first().copied();
            metrics = lines.iter().find_map(|l| {
                l.strip_prefix("metrics on http://")?
                    .strip_suffix("/metrics")?
                    .parse::<std::net::SocketAddr>()
                    .ok()
            });
            addr.is_some() && metrics.is_some()
        }),
        "serve names its record and metrics addresses: {:?}",
        stderr.snapshot()
    );
    let (addr, metrics) = (addr.unwrap(), metrics.unwrap());
    // Idle with an empty queue: alive, pings keep coming.
    for _ in 0..3 {
        assert_eq!(notify.next(), "WATCHDOG=1");
    }

    // Stall the only output: the pipe fills, the dispatcher blocks in its write, records
    // pile up pending. (The sender blocks too once the queue is full; it is left to end
    // with the collector.)
    std::thread::spawn(move || {
        let Ok(mut s) = std::net::TcpStream::connect(addr) else {
            return;
        };
        let mut burst = Vec::new();
        for i in 0..1000 {
            burst.extend_from_slice(&good(&format!("stall {i} {}", "x".repeat(200))));
        }
        for _ in 0..20 {
            if std::io::Write::write_all(&mut s, &burst).is_err() {
                return;
            }
        }
    });
    // Stuck: pending records and no progress. Then a quiet spell of many ping periods.
    let mut before = Default::default();
    assert!(
        poll_until(WAIT, || {
            before = samples(&get(metrics, "/metrics", "").1);
            queued(&before)
        }),
        "records pile up behind the stalled stdout: {before:?}"
    );
    let quiet = Duration::from_micros(WATCHDOG_USEC * 4);
    let mut stopped = false;
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        match notify.next_within(quiet) {
            None => {
                stopped = true;
                break;
            }
            Some(m) => assert!(m == "WATCHDOG=1" || m.starts_with("STATUS="), "{m}"),
        }
    }
    assert!(
        stopped,
        "watchdog pings went on while the dispatcher was stuck"
    );
    let after = samples(&get(metrics, "/metrics", "").1);
    assert_eq!(
        after["logwire_records_stored_total"], before["logwire_records_stored_total"],
        "the quiet spell was a stall: nothing stored during it"
    );
    assert!(queued(&after), "{after:?}");

    // Read stdout: the dispatcher moves again, and so do the pings.
    let mut out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    assert_eq!(
        notify.next(),
        "WATCHDOG=1",
        "pings resume once records flow"
    );

    process::signal(child.id(), "TERM");
    let _ = process::wait_exit(&mut child, WAIT, "logwire serve");
}

#[test]
fn serve_takes_its_config_and_metrics_sockets_from_systemd_by_name() {
    use crate::metrics_cli::{get, samples};
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    let (records, config, metrics) = (free_port(), free_port(), free_port());
    let stderr = dir.path().join("stderr");
    let mut child = Reaped(
        Command::new("systemd-socket-activate")
            .arg(format!("--listen=127.0.0.1:{records}"))
            .arg(format!("--listen=127.0.0.1:{config}"))
            .arg(format!("--listen=127.0.0.1:{metrics}"))
            // FileDescriptorName= of each socket, in order.
            .arg("--fdname=records:config:metrics")
            .arg(format!(
                "--setenv=NOTIFY_SOCKET={}",
                dir.path().join("notify").display()
            ))
            .args([BIN, "serve", "--listen-allow-unsigned"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    // Started by the first connection to any of its sockets.
    let _first = poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", records)).is_ok()
    });
    assert_eq!(notify.next_state(), "READY=1", "{}", log());
    let err = log();
    assert!(
        err.contains(&format!("listening on tcp 127.0.0.1:{records}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("config listener on tcp 127.0.0.1:{config}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("metrics on http://127.0.0.1:{metrics}/metrics")),
        "{err}"
    );
    // The named sockets are not record sockets, and no default was bound.
    assert_eq!(err.matches("listening on").count(), 1, "{err}");

    // One push applied and one rejected through the config socket, counted at the metrics
    // socket.
    for body in [
        &br#"{"version": 1, "root": {"level": "INFO"}}"#[..],
        &br#"{"version": 1, "handlers": {"h": {"()": "os.system"}}}"#[..],
    ] {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", config)).unwrap();
        c.set_read_timeout(Some(WAIT)).unwrap();
        std::io::Write::write_all(&mut c, &frame(body)).unwrap();
        let mut reply = Vec::new();
        let _ = std::io::Read::read_to_end(&mut c, &mut reply);
    }
    let addr: std::net::SocketAddr = format!("127.0.0.1:{metrics}").parse().unwrap();
    let (status, text) = get(addr, "/metrics", "");
    assert!(status.contains("200"), "{status}");
    let m = samples(&text);
    assert_eq!(m["logwire_config_pushes_applied_total"], 1.0, "{text}");
    assert_eq!(
        m[r#"logwire_config_pushes_rejected_total{reason="invalid_config"}"#], 1.0,
        "{text}"
    );
    assert_eq!(m["logwire_config_connections_total"], 2.0, "{text}");

    process::signal(child.id(), "TERM");
    assert_eq!(notify.next_state(), "STOPPING=1");
    assert!(
        process::wait_exit(&mut child, WAIT, "logwire serve").success(),
        "{}",
        log()
    );
}

#[test]
fn a_metrics_socket_from_systemd_and_the_metrics_flag_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (records, metrics) = (free_port(), free_port());
    let stderr = dir.path().join("stderr");
    let mut child = Reaped(
        Command::new("systemd-socket-activate")
            .arg(format!("--listen=127.0.0.1:{records}"))
            .arg(format!("--listen=127.0.0.1:{metrics}"))
            .arg("--fdname=records:metrics")
            .args([BIN, "serve", "--metrics", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let _first = poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", records)).is_ok()
    });
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(poll_until(WAIT, || log().contains("give one")), "{}", log());
    assert!(
        log().contains(
            r#"--metrics 127.0.0.1:0 and a socket named "metrics" from systemd: give one"#
        ),
        "{}",
        log()
    );
    let status = process::wait_exit(&mut child, WAIT, "logwire serve");
    assert_eq!(status.code(), Some(2), "{}", log());
}

/// Runs `serve ARGS` under `systemd-socket-activate` with one TCP socket per name of
/// `fdnames` (colon-separated, as `--fdname=` takes them; `extra_names` are appended to the
/// names only, making the counts disagree); returns its exit code and stderr once it ends.
fn activated_failure(fdnames: &str, extra_names: &str, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = fdnames.split(':').map(|_| free_port()).collect();
    let stderr = dir.path().join("stderr");
    let mut cmd = Command::new("systemd-socket-activate");
    for p in &ports {
        cmd.arg(format!("--listen=127.0.0.1:{p}"));
    }
    let mut child = Reaped(
        cmd.arg(format!("--fdname={fdnames}{extra_names}"))
            .args([BIN, "serve"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let _first = poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", ports[0])).is_ok()
    });
    let status = process::wait_exit(&mut child, WAIT, "logwire serve");
    (
        status.code(),
        std::fs::read_to_string(&stderr).unwrap_or_default(),
    )
}

#[test]
fn wrong_systemd_sockets_are_one_clear_sentence() {
    // More names than sockets.
    let (code, err) = activated_failure("records", ":config", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("logwire serve: LISTEN_FDNAMES names 2 sockets but LISTEN_FDS passes 1"),
        "{err}"
    );
    // A config socket on TCP with neither keys nor --listen-allow-unsigned: anyone who can
    // connect could reconfigure logging, so it is refused, not served.
    let (code, err) = activated_failure("records:config", "", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("config listener") && err.contains("is a TCP socket"),
        "{err}"
    );
    assert!(!err.contains("listening on"), "nothing served: {err}");
}

#[test]
fn a_unix_config_socket_from_systemd_takes_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let notify = Notify::bind(&dir.path().join("notify"));
    let records = free_port();
    let config = dir.path().join("config.sock");
    let stderr = dir.path().join("stderr");
    let mut child = Reaped(
        Command::new("systemd-socket-activate")
            .arg(format!("--listen=127.0.0.1:{records}"))
            .arg(format!("--listen={}", config.display()))
            .arg("--fdname=records:config")
            .arg(format!(
                "--setenv=NOTIFY_SOCKET={}",
                dir.path().join("notify").display()
            ))
            .args([BIN, "serve", "--listen-allow-unsigned"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("systemd-socket-activate runs (Debian package systemd)"),
    );
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let _first = poll_until(WAIT, || {
        std::net::TcpStream::connect(("127.0.0.1", records)).is_ok()
    });
    assert_eq!(notify.next_state(), "READY=1", "{}", log());
    assert!(
        log().contains(&format!("config listener on unix {}", config.display())),
        "{}",
        log()
    );
    let mut c = std::os::unix::net::UnixStream::connect(&config).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    std::io::Write::write_all(
        &mut c,
        &frame(br#"{"version": 1, "root": {"level": "ERROR"}}"#),
    )
    .unwrap();
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut c, &mut reply);
    assert!(poll_until(WAIT, || log().contains("applied")), "{}", log());
    process::signal(child.id(), "TERM");
    assert_eq!(notify.next_state(), "STOPPING=1");
    assert!(
        process::wait_exit(&mut child, WAIT, "logwire serve").success(),
        "{}",
        log()
    );
    // The socket file belongs to whoever bound it: serve leaves it.
    assert!(config.exists());
}
