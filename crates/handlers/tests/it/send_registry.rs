//! The network handler kinds through dictConfig and fileConfig, and the content policy for
//! pushed configurations.

use crate::common_send;

use common_send::{TestReceiver, wait_until};
use logwire_config::{Configurator, ContentPolicy, Destination, HandlerRegistry, SourceFormat};
use logwire_engine::LoggerTree;
use logwire_handlers::register_network_handlers;
use std::net::UdpSocket;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn registry() -> HandlerRegistry {
    let mut r = HandlerRegistry::with_builtins();
    register_network_handlers(&mut r);
    r
}

#[test]
fn dict_config_socket_datagram_and_syslog_handlers_deliver() {
    let rx = TestReceiver::plain(0);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(LIMIT)).unwrap();
    let syslog = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog.set_read_timeout(Some(LIMIT)).unwrap();
    let text = format!(
        r#"{{"version": 1,
            "handlers": {{
              "tcp": {{"class": "logging.handlers.SocketHandler", "host": "localhost", "port": {tcp},
                      "retryStart": 0.05, "retryMax": 1, "buffer": 100, "overflow": "drop_oldest"}},
              "udp": {{"class": "logging.handlers.DatagramHandler", "host": "127.0.0.1", "port": {udp}}},
              "sys": {{"class": "logging.handlers.SysLogHandler", "address": ["127.0.0.1", {sys}],
                      "facility": "local1", "socktype": 2, "ident": "app: "}}
            }},
            "root": {{"level": "INFO", "handlers": ["tcp", "udp", "sys"]}}}}"#,
        tcp = rx.port,
        udp = udp.local_addr().unwrap().port(),
        sys = syslog.local_addr().unwrap().port(),
    );
    let tree = LoggerTree::new();
    Configurator::new(registry(), ContentPolicy::trusted())
        .apply_text(&tree, &text, SourceFormat::Json)
        .unwrap();
    tree.get_logger("app").log(40, "configured");
    tree.flush();
    wait_until(LIMIT, "the TCP record", || rx.store.len() == 1);
    assert_eq!(rx.store.messages(), ["configured"]);
    let mut buf = [0u8; 4096];
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(common_send::msg_of(&buf[4..n]), "configured");
    let n = syslog.recv(&mut buf).unwrap();
    // local1 (17) << 3 | err (3) = 139
    assert_eq!(&buf[..n], b"<139>app: configured\x00");
    tree.shutdown();
}

#[test]
fn ini_config_with_default_tcp_port_constant_applies_without_connecting() {
    let text = r#"
[loggers]
keys=root

[handlers]
keys=sock,sys

[formatters]
keys=

[logger_root]
level=INFO
handlers=sock,sys

[handler_sock]
class=handlers.SocketHandler
args=('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)

[handler_sys]
class=handlers.SysLogHandler
args=(('localhost', handlers.SYSLOG_UDP_PORT), handlers.SysLogHandler.LOG_LOCAL2, socket.SOCK_DGRAM)
"#;
    let tree = LoggerTree::new();
    let report = Configurator::new(registry(), ContentPolicy::trusted())
        .apply_text(&tree, text, SourceFormat::Ini)
        .unwrap();
    let _ = report;
    let sock = tree.snapshot().handler_by_name("sock").cloned().unwrap();
    assert_eq!(sock.kind(), "logging.handlers.SocketHandler");
    let sys = tree.snapshot().handler_by_name("sys").cloned().unwrap();
    assert_eq!(sys.kind(), "logging.handlers.SysLogHandler");
}

#[test]
fn pushed_config_to_a_host_off_the_allow_list_is_rejected() {
    let policy = || {
        ContentPolicy::pushed(None, vec![Destination::parse("logs.example:9020").unwrap()]).unwrap()
    };
    let apply = |text: &str| {
        Configurator::new(registry(), policy()).apply_text(
            &LoggerTree::new(),
            text,
            SourceFormat::Json,
        )
    };
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.SocketHandler",
            "host": "169.254.169.254", "port": 80}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("handlers.h.host") && e.contains("169.254.169.254:80 is not allowed"),
        "{e}"
    );
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.SysLogHandler",
            "address": ["logs.example", 514]}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("handlers.h.address") && e.contains("logs.example:514 is not allowed"),
        "{e}"
    );
    // A Unix socket is a path: refused without a file root.
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.DatagramHandler",
            "host": "/dev/log", "port": null}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("handlers.h.host"), "{e}");
    // Allow-listed and loopback destinations pass.
    apply(
        r#"{"version": 1, "handlers": {
            "a": {"class": "logging.handlers.SocketHandler", "host": "logs.example", "port": 9020},
            "b": {"class": "logging.handlers.DatagramHandler", "host": "127.0.0.1", "port": 9021}}}"#,
    )
    .unwrap();
}

#[test]
fn bad_arguments_name_their_place() {
    let apply = |text: &str| {
        Configurator::new(registry(), ContentPolicy::trusted()).apply_text(
            &LoggerTree::new(),
            text,
            SourceFormat::Json,
        )
    };
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.SysLogHandler",
            "facility": "local9", "socktype": 5, "address": ["x"]}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("handlers.h.address"), "{e}");
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.SysLogHandler",
            "facility": "local9", "socktype": 5}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown facility \"local9\"") && e.contains("handlers.h.socktype"),
        "{e}"
    );
    let e = apply(
        r#"{"version": 1, "handlers": {"h": {"class": "logging.handlers.SocketHandler",
            "host": "localhost", "port": 70000, "overflow": "maybe", "retryFactor": 0.5}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("handlers.h.port")
            && e.contains("handlers.h.overflow")
            && e.contains("retryFactor"),
        "{e}"
    );
}
