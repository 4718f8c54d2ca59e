//! Connection slots of the config listener (issue 13, item 11): 300 half-open connections
//! held all 64 slots and a real push was closed without a reply for 9.6 s. Now connections
//! that have sent nothing are shed before one that is sending is refused, a connection that
//! is sending is never shed, and peers whose credentials are known (a Unix uid, a verified
//! TLS client certificate) keep slots that unknown peers cannot take.

use crate::common_listen;
use crate::common_tls;

use common_listen::*;
use common_tls::*;
use logwire_listener::{ListenerHandle, ListenerOptions, TlsServer};
use logwire_wire::ConfigReply;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const ERROR_ROOT: &[u8] = br#"{"version": 1, "incremental": true, "root": {"level": "ERROR"}}"#;

fn unsigned(fx: &Fixture, opts: ListenerOptions) -> ListenerHandle {
    fx.listener(opts.tcp(tcp0()).allow_unsigned(true))
        .start()
        .unwrap()
}

/// Whether the listener closed `s` without a word (refused, or shed).
fn closed_silently(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    matches!(s.read_to_end(&mut buf), Ok(0)) || buf.is_empty()
}

#[test]
fn three_hundred_half_open_connections_give_way_to_a_real_push() {
    let fx = Fixture::new();
    // The default cap (64) and header deadline (10 s): the idle ones would hold every slot
    // for 10 s.
    let h = unsigned(&fx, ListenerOptions::new());
    let addr = h.tcp_addr().unwrap();
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    wait_until("all 300 accepted or refused", || {
        let s = h.stats();
        s.connections + s.refused_over_cap >= 300
    });
    let s = h.stats();
    assert_eq!(s.refused_over_cap, 0, "an idle connection was refused: {s}");
    assert!(s.shed_idle >= 300 - 64, "{s}");
    // A real push, while 64 idle connections still hold every slot: served, with a reply.
    assert_eq!(
        push_raw(addr, &frame(ERROR_ROOT)),
        Some(ConfigReply::applied(0))
    );
    assert_eq!(fx.tree.root().effective_level(), 40);
    let s = h.stats();
    assert_eq!((s.refused_over_cap, s.timed_out), (0, 0), "{s}");
    drop(idle);
    h.stop_and_join();
}

#[test]
fn senders_are_never_shed_and_a_known_unix_peer_keeps_a_slot() {
    let fx = Fixture::new();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("config.sock");
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .unix(&sock)
                .allow_unsigned(true)
                .max_connections(4),
        )
        .start()
        .unwrap();
    let addr = h.tcp_addr().unwrap();
    // Four slowloris senders: a prefix of 100 bytes, then one byte (the body deadline is 30 s).
    let mut senders: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&100u32.to_be_bytes()).unwrap();
            s.write_all(b"{").unwrap();
            s
        })
        .collect();
    wait_until("four served", || h.stats().connections == 4);
    // An unknown newcomer, sending or not, finds every slot sending: refused, nobody shed.
    let mut newcomer = TcpStream::connect(addr).unwrap();
    let _ = newcomer.write_all(&frame(ERROR_ROOT));
    assert!(closed_silently(&mut newcomer));
    let s = h.stats();
    assert_eq!((s.refused_over_cap, s.shed_idle), (1, 0), "{s}");
    // A local peer (its uid comes from the kernel) is served in the reserved slot.
    assert_eq!(
        push_unix(&sock, &frame(ERROR_ROOT)),
        Some(ConfigReply::applied(0))
    );
    // The senders were not disturbed: each still gets its answer when it finishes.
    let body = br#"{"version": 1, "incremental": true, "root": {"level": "WARNING"}}"#;
    let mut padded = body[1..].to_vec();
    padded.resize(99, b' ');
    for s in &mut senders {
        s.write_all(&padded).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        assert_eq!(read_reply(s), Some(ConfigReply::applied(0)));
    }
    assert_eq!(h.stats().shed_idle, 0);
    h.stop_and_join();
}

#[test]
fn a_tls_peer_with_a_verified_certificate_is_not_shed_by_unknown_newcomers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let fx = Fixture::new();
    let tls = TlsServer::from_pem_files(&pki.server_cert, &pki.server_key, &pki.ca).unwrap();
    let h = fx
        .listener(
            ListenerOptions::new()
                .tcp(tcp0())
                .allow_unsigned(true)
                .tls(tls)
                .max_connections(2),
        )
        .start()
        .unwrap();
    let addr = h.tcp_addr().unwrap();
    // A client that finishes its handshake and then waits before pushing.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut known = pki.trusted_client().connect(tcp, "localhost").unwrap();
    // Ten connections that never send anything (nor finish a handshake) come and go through
    // the other slot, shedding each other, never the verified client.
    let idle: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_until("ten accepted", || h.stats().connections == 11);
    let s = h.stats();
    assert_eq!(s.refused_over_cap, 0, "{s}");
    assert!(s.shed_idle >= 8, "{s}");
    known.write_all(&frame(ERROR_ROOT)).unwrap();
    assert_eq!(read_reply(&mut known), Some(ConfigReply::applied(0)));
    drop(idle);
    h.stop_and_join();
}
