//! Issue 16 item 1: one registry everywhere. `logwire check` (local and pushed), `serve
//! --config`, the config listener and the library's `logwire_handlers::configurator` know
//! the same classes; only the policy differs. A local collector config can forward to
//! syslog and to another collector.

use crate::common;

use common::{Serve, WAIT, logwire};
use logwire_config::{ContentPolicy, SourceFormat};
use logwire_engine::LoggerTree;
use logwire_test_support::python;
use logwire_test_support::wait::poll_until;
use std::net::UdpSocket;
use std::time::Duration;

/// A config with every network handler, all pointed at loopback `port` (UDP for the
/// datagram and syslog ones, TCP for the socket one).
fn network_config(tcp_port: u16, udp_port: u16) -> String {
    format!(
        r#"{{"version": 1,
  "formatters": {{"plain": {{"format": "%(name)s %(message)s"}}}},
  "handlers": {{
    "syslog": {{"class": "logging.handlers.SysLogHandler", "address": ["127.0.0.1", {udp_port}],
                "formatter": "plain"}},
    "collector": {{"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": {tcp_port}}},
    "dgram": {{"class": "logging.handlers.DatagramHandler", "host": "127.0.0.1", "port": {udp_port}}}
  }},
  "root": {{"level": "INFO", "handlers": ["syslog", "collector", "dgram"]}}}}"#
    )
}

#[test]
fn check_accepts_network_handlers_locally_and_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.json");
    std::fs::write(&path, network_config(9020, 9021)).unwrap();
    for extra in [&[][..], &["--pushed"][..]] {
        let out = logwire()
            .arg("check")
            .args(extra)
            .arg(&path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "check {extra:?}: {stdout}");
        assert!(stdout.contains("valid (json): 3 handlers"), "{stdout}");
    }
    // The pushed policy still decides destinations: a non-loopback one is refused there
    // and accepted locally.
    let far = network_config(9020, 9021).replace("127.0.0.1", "203.0.113.9");
    std::fs::write(&path, far).unwrap();
    let local = logwire().arg("check").arg(&path).output().unwrap();
    assert!(local.status.success());
    let pushed = logwire()
        .args(["check", "--pushed"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(pushed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&pushed.stdout).contains("is not allowed"));
}

#[test]
fn library_entry_point_knows_the_network_handlers() {
    let text = network_config(9, 9);
    let tree = LoggerTree::new();
    logwire_handlers::configurator(ContentPolicy::trusted())
        .check_text(&text, SourceFormat::Json)
        .unwrap();
    // And the unknown-class error names the class, the same everywhere.
    let bad = text.replace("SysLogHandler", "NoSuchHandler");
    let err = logwire_handlers::configurator(ContentPolicy::trusted())
        .apply_text(&tree, &bad, SourceFormat::Json)
        .unwrap_err();
    assert!(err.to_string().contains("NoSuchHandler"), "{err}");
}

/// `serve --config` with a SysLogHandler forwarding every received record: CPython's
/// SocketHandler sends one, the syslog datagram arrives at a socket this test binds.
#[test]
fn serve_config_forwards_to_syslog() {
    let syslog = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let udp_port = syslog.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("collector.json");
    // The collector forwards to syslog only (a SocketHandler to itself would loop).
    let config = format!(
        r#"{{"version": 1,
  "formatters": {{"plain": {{"format": "%(name)s %(message)s"}}}},
  "handlers": {{"syslog": {{"class": "logging.handlers.SysLogHandler",
      "address": ["127.0.0.1", {udp_port}], "facility": "local3", "formatter": "plain"}}}},
  "root": {{"level": "INFO", "handlers": ["syslog"]}}}}"#
    );
    std::fs::write(&cfg, config).unwrap();
    let mut s = Serve::start(&["--tcp", "127.0.0.1:0", "--config", cfg.to_str().unwrap()]);
    let script = "import logging, logging.handlers as h, sys\n\
                  l = logging.getLogger('fwd'); l.propagate = False\n\
                  hd = h.SocketHandler('127.0.0.1', int(sys.argv[1])); l.addHandler(hd)\n\
                  l.warning('to syslog %d', 7)\n\
                  hd.close()\n";
    let Some(ran) = python::run(
        &mut python::script(script, [s.tcp().port().to_string()]),
        WAIT,
    ) else {
        return;
    };
    assert!(ran.status.success(), "{}", ran.stderr);
    let mut got = Vec::new();
    let arrived = poll_until(WAIT, || {
        let mut buf = [0u8; 2048];
        if let Ok(n) = syslog.recv(&mut buf) {
            got = buf[..n].to_vec();
            return true;
        }
        false
    });
    assert!(arrived, "no syslog datagram");
    // local3 (19) * 8 + warning (4) = 156; CPython's SysLogHandler appends a NUL.
    assert_eq!(got, b"<156>fwd to syslog 7\x00");
    assert!(s.terminate().0.success());
}
