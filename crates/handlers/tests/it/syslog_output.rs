//! SysLogHandler wire bytes: CPython's SysLogHandlerTest.test_output and test_udp_reconnection
//! over UDP and a Unix datagram socket, CPython's unframed TCP, and RFC 5424 octet counting.

use logwire_engine::{Handler, LogRecord};
use logwire_handlers::{
    LOG_USER, SocketType, SysLogHandler, SyslogAddress, SyslogMessage, SyslogOptions,
    facility_from_name,
};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn spam() -> LogRecord {
    LogRecord::new("slh", 40, "x.py", 1, "sp\u{e4}m")
}

fn udp() -> (UdpSocket, SyslogAddress) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let port = sock.local_addr().unwrap().port();
    (sock, SyslogAddress::Inet("127.0.0.1".into(), port))
}

fn recv(sock: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn test_output_udp() {
    let (sock, addr) = udp();
    let h = Handler::new(SysLogHandler::new(addr.clone(), LOG_USER, None).unwrap());
    h.handle(&spam());
    assert_eq!(recv(&sock), b"<11>sp\xc3\xa4m\x00");
    h.close();

    let opts = |ident: &str, nul: bool| SyslogOptions {
        message: SyslogMessage::cpython(LOG_USER, ident, nul),
        ..Default::default()
    };
    let h = Handler::new(SysLogHandler::with_options(addr.clone(), None, opts("", false)).unwrap());
    h.handle(&spam());
    assert_eq!(recv(&sock), b"<11>sp\xc3\xa4m");
    h.close();
    let h =
        Handler::new(SysLogHandler::with_options(addr, None, opts("h\u{e4}m-", false)).unwrap());
    h.handle(&spam());
    assert_eq!(recv(&sock), b"<11>h\xc3\xa4m-sp\xc3\xa4m");
    // test_udp_reconnection: close() then emit still delivers.
    h.close();
    h.handle(&spam());
    assert_eq!(recv(&sock), b"<11>h\xc3\xa4m-sp\xc3\xa4m");
    h.close();
}

#[test]
fn test_output_unix_datagram_auto_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let fac = facility_from_name("local3").unwrap();
    let h = Handler::new(SysLogHandler::new(SyslogAddress::Unix(path), fac, None).unwrap());
    h.handle(&LogRecord::new("slh", 10, "x.py", 1, "dbg"));
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap();
    // local3 (19) << 3 | debug (7) = 159
    assert_eq!(&buf[..n], b"<159>dbg\x00");
    h.close();
}

fn tcp_collect(expect: usize) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while all.len() < expect {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "EOF after {} bytes", all.len());
            all.extend_from_slice(&buf[..n]);
        }
        all
    });
    (port, t)
}

#[test]
fn tcp_cpython_format_is_unframed() {
    let want: &[u8] = b"<11>sp\xc3\xa4m\x00<14>two\x00";
    let (port, t) = tcp_collect(want.len());
    let h = Handler::new(
        SysLogHandler::new(
            SyslogAddress::Inet("127.0.0.1".into(), port),
            LOG_USER,
            Some(SocketType::Stream),
        )
        .unwrap(),
    );
    h.handle(&spam());
    h.handle(&LogRecord::new("slh", 20, "x.py", 1, "two"));
    assert_eq!(t.join().unwrap(), want);
    h.close();
}

#[test]
fn tcp_rfc5424_is_octet_counted() {
    let mut message = SyslogMessage::rfc5424(facility_from_name("local0").unwrap(), Some("app"));
    message.hostname = "host1".into();
    let mut r = LogRecord::new("slh", 30, "x.py", 1, "hello w\u{f6}rld");
    r.set_created(1_700_000_000.123_456);
    r.process = Some(77);
    let body = "<132>1 2023-11-14T22:13:20.123456Z host1 app 77 - - hello w\u{f6}rld";
    let want = format!("{} {body}", body.len());
    let (port, t) = tcp_collect(want.len());
    let opts = SyslogOptions {
        message,
        ..Default::default()
    };
    let h = Handler::new(
        SysLogHandler::with_options(
            SyslogAddress::Inet("127.0.0.1".into(), port),
            Some(SocketType::Stream),
            opts,
        )
        .unwrap(),
    );
    h.handle(&r);
    assert_eq!(String::from_utf8(t.join().unwrap()).unwrap(), want);
    h.close();
}
