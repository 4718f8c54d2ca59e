//! DatagramHandler: CPython's DatagramHandlerTest (UDP and Unix), oversize records.

use crate::common_send;

use common_send::msg_of;
use logwire_engine::{Emitter, Formatter, Handler, LogRecord};
use logwire_handlers::{DatagramHandler, MAX_UDP_PAYLOAD};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn rec(msg: &str) -> LogRecord {
    LogRecord::new("udp", 40, "/t/x.py", 1, msg)
}

/// CPython's handle_datagram: strip the 4-byte prefix (which must be the length), unpickle.
fn strip(packet: &[u8]) -> String {
    let body = logwire_wire::split_datagram(packet).expect("prefix equals the payload length");
    msg_of(body)
}

#[test]
fn udp_test_output() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let port = sock.local_addr().unwrap().port();
    let h = Handler::new(DatagramHandler::new("localhost", Some(port)).unwrap());
    h.handle(&rec("spam"));
    h.handle(&LogRecord::new("udp", 10, "/t/x.py", 2, "eggs"));
    let mut buf = vec![0u8; 70_000];
    let mut out = String::new();
    for _ in 0..2 {
        let n = sock.recv(&mut buf).unwrap();
        out += &(strip(&buf[..n]) + "\n");
    }
    assert_eq!(out, "spam\neggs\n");
    h.close();
}

#[test]
fn unix_datagram_test_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dgram.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let h = Handler::new(DatagramHandler::new(path.to_str().unwrap(), None).unwrap());
    h.handle(&rec("spam"));
    h.handle(&rec("eggs"));
    let mut buf = vec![0u8; 70_000];
    let a = sock.recv(&mut buf).unwrap();
    let first = strip(&buf[..a]);
    let b = sock.recv(&mut buf).unwrap();
    assert_eq!([first, strip(&buf[..b])], ["spam", "eggs"]);
    h.close();
}

#[test]
fn oversize_record_is_dropped_counted_and_reported_and_later_ones_still_go() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let port = sock.local_addr().unwrap().port();
    let dh = DatagramHandler::new("127.0.0.1", Some(port)).unwrap();
    let f = Formatter::default();
    let err = dh.emit(&rec(&"x".repeat(MAX_UDP_PAYLOAD)), &f).unwrap_err();
    assert!(
        err.to_string().contains("exceeds the datagram limit"),
        "{err}"
    );
    assert!(err.to_string().contains("EMSGSIZE"), "{err}");
    dh.emit(&rec("small"), &f).unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(strip(&buf[..n]), "small");
    let s = dh.stats();
    assert_eq!((s.dropped_too_large, s.enqueued), (1, 1));
    // Through a Handler the error is reported (stderr) and counted, never raised.
    let h = Handler::new(dh);
    h.handle(&rec(&"y".repeat(70_000)));
    assert_eq!(h.error_count(), 1);
    h.close();
}

#[test]
fn unix_datagram_receiver_appearing_later_gets_the_buffered_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.sock");
    let dh = DatagramHandler::new(path.to_str().unwrap(), None).unwrap();
    dh.set_backoff(0.01, 2.0, 0.05).unwrap();
    let f = Formatter::default();
    dh.emit(&rec("early"), &f).unwrap();
    common_send::wait_until(LIMIT, "a failed send", || dh.stats().disconnects >= 1);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(strip(&buf[..n]), "early");
    dh.close();
}

#[test]
fn signing_is_refused_for_datagrams() {
    let key = logwire_wire::generate_hmac().unwrap();
    let opts = logwire_handlers::SocketOptions {
        signing_key: Some(key),
        ..Default::default()
    };
    let e = DatagramHandler::with_options("127.0.0.1", Some(1), opts).unwrap_err();
    assert!(e.to_string().contains("SocketHandler"), "{e}");
}
