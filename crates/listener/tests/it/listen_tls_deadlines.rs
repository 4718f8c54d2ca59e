//! Slow and half-open TLS clients pin nothing: the handshake runs under the header deadline
//! and inside the connection cap, a client stuck mid-handshake or silent after it is cut off
//! like a plain one, and `stop` returns whatever TLS clients do.

use crate::common_listen;
use crate::common_tls;

use common_listen::*;
use common_tls::*;
use logwire_listener::{ListenerHandle, ListenerOptions, TlsServer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const ERROR_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#;

fn tls_listener(fx: &Fixture, pki: &PkiFiles, opts: ListenerOptions) -> ListenerHandle {
    let tls = TlsServer::from_pem_files(&pki.server_cert, &pki.server_key, &pki.ca).unwrap();
    // Unsigned is allowed so the deadlines, not the signature, are what these tests see.
    fx.listener(opts.tcp(tcp0()).allow_unsigned(true).tls(tls))
        .start()
        .unwrap()
}

/// A TLS record header announcing a ClientHello of 512 bytes, of which nothing follows.
const PARTIAL_HELLO: [u8; 5] = [0x16, 0x03, 0x01, 0x02, 0x00];

#[test]
fn half_open_and_slow_tls_clients_are_cut_by_the_header_deadline_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let fx = Fixture::new();
    let h = tls_listener(
        &fx,
        &pki,
        ListenerOptions::new()
            .max_connections(3)
            .header_timeout(Duration::from_millis(400)),
    );
    let addr = h.tcp_addr().unwrap();

    // Silent after connect, stuck mid-ClientHello, and silent after a full handshake.
    let silent = TcpStream::connect(addr).unwrap();
    let mut partial = TcpStream::connect(addr).unwrap();
    partial.write_all(&PARTIAL_HELLO).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut shook = pki.trusted_client().connect(tcp, "localhost").unwrap();
    // The cap holds while they are served: a fourth is closed at once.
    wait_until("three served", || h.stats().connections == 3);
    let mut fourth = TcpStream::connect(addr).unwrap();
    fourth
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = fourth.read_to_end(&mut buf);
    assert!(buf.is_empty());
    // On a slow machine a deadline may already have freed a slot for the fourth.
    let s = h.stats();
    assert!(
        s.refused_over_cap == 1 || s.connections == 4,
        "the fourth was neither refused nor served: {s}"
    );

    wait_until("the header deadline cut every one of them", || {
        let s = h.stats();
        s.timed_out == s.connections
    });
    // The handshaken one sees the connection close without a reply.
    let mut rest = Vec::new();
    let _ = shook.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(h.stats().applied + h.stats().rejected, 0);
    drop((silent, partial));

    // Slots are free again and a prompt client is served.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut s = pki.trusted_client().connect(tcp, "localhost").unwrap();
    s.write_all(&frame(ERROR_ROOT)).unwrap();
    assert_eq!(
        read_reply(&mut s),
        Some(logwire_wire::ConfigReply::applied(0))
    );
    assert_eq!(fx.tree.root().effective_level(), 40);
    h.stop_and_join();
}

#[test]
fn stop_returns_with_tls_clients_stuck_in_and_after_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let fx = Fixture::new();
    // Deadlines far away: only stop can end these connections.
    let h = tls_listener(
        &fx,
        &pki,
        ListenerOptions::new().header_timeout(Duration::from_secs(3600)),
    );
    let addr = h.tcp_addr().unwrap();
    let mut partial = TcpStream::connect(addr).unwrap();
    partial.write_all(&PARTIAL_HELLO).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let mut shook = pki.trusted_client().connect(tcp, "localhost").unwrap();
    shook.write_all(&1000u32.to_be_bytes()).unwrap();
    shook.flush().unwrap();
    wait_until("both accepted", || h.stats().connections == 2);
    assert_stop_returns(h, "TLS clients are stuck");
    drop((partial, shook));
}
