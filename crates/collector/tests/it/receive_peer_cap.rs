//! The per-address connection cap through the real accept loop: a remote address holds at
//! most `max_connections_per_peer` connections (more are closed at once and counted), a slot
//! comes back when its connection ends, and loopback peers are not limited per address.
//!
//! The "remote" address is this machine's own non-loopback address (the source address the
//! kernel picks for a route off the machine): a connection from it to a wildcard listener is
//! seen with that address, which is not loopback.

use crate::common_recv;

use common_recv::{start, wait_for};
use logwire_collector::receiver::{ListenAddr, ReceiverOptions};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// This machine's non-loopback IPv4 address; no packet is sent (a UDP connect only routes).
/// `None` on a machine with no route off it (a sandbox): the test then says it cannot run.
fn own_address() -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("203.0.113.1:9").ok()?;
    let ip = s.local_addr().unwrap().ip();
    (!ip.is_loopback()).then_some(ip)
}

/// Whether the collector closed `s` (EOF or reset) within a second.
fn closed_by_peer(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn options(cap: usize) -> ReceiverOptions {
    ReceiverOptions {
        max_connections_per_peer: cap,
        ..ReceiverOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_address_gets_its_cap_and_its_slots_back() {
    let Some(ip) = own_address() else {
        eprintln!("SKIPPED: this machine has no non-loopback address to connect from");
        return;
    };
    let any = ListenAddr::Tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let (running, _keep) = start(options(2), &[any]).await;
    let ListenAddr::Tcp(bound) = running.local_addrs()[0].clone() else {
        unreachable!()
    };
    let to = SocketAddr::new(ip, bound.port());
    let stats = running.stats_handle();
    let (refused, kept_open) = tokio::task::spawn_blocking(move || {
        let first = TcpStream::connect(to).unwrap();
        let mut second = TcpStream::connect(to).unwrap();
        let mut third = TcpStream::connect(to).unwrap();
        let refused = closed_by_peer(&mut third);
        let kept_open = !closed_by_peer(&mut second);
        drop(first);
        (refused, kept_open)
    })
    .await
    .unwrap();
    assert!(refused, "the third connection from {ip} was closed at once");
    assert!(kept_open, "the first two stay open");
    assert!(wait_for(|| stats.snapshot().connections_refused == 1).await);
    // The first connection ended: its slot is free again.
    assert!(
        wait_for(|| {
            let mut s = TcpStream::connect(to).unwrap();
            !closed_by_peer(&mut s)
        })
        .await,
        "a freed slot admits a new connection"
    );
    let s = running.shutdown().await;
    assert_eq!(s.connections_accepted, 3, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_peers_are_not_capped_per_address() {
    let (running, _keep) = start(options(1), &[common_recv::tcp0()]).await;
    let ListenAddr::Tcp(to) = running.local_addrs()[0].clone() else {
        unreachable!()
    };
    let all_open = tokio::task::spawn_blocking(move || {
        let mut conns: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(to).unwrap()).collect();
        conns.iter_mut().all(|c| !closed_by_peer(c))
    })
    .await
    .unwrap();
    assert!(all_open, "five loopback connections with a cap of one");
    let s = running.shutdown().await;
    assert_eq!(
        (s.connections_accepted, s.connections_refused),
        (5, 0),
        "{s}"
    );
}
