//! Helpers for the receiver tests: an in-process collector that keeps every record it is
//! handed, and a bounded python3 runner.
#![allow(dead_code, unreachable_pub)]

use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions, RunningCollector};
use logwire_engine::RecordCollector;
use logwire_engine::{Emitter, Handler, LoggerTree};
use logwire_test_support::python as py;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts a collector on `addrs` whose root keeps every record.
pub async fn start(
    options: ReceiverOptions,
    addrs: &[ListenAddr],
) -> (RunningCollector, RecordCollector) {
    let tree = LoggerTree::new();
    let keep = RecordCollector::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    tree.root().set_level(0);
    let running = Collector::new(tree, options)
        .start(addrs)
        .await
        .expect("collector starts");
    (running, keep)
}

/// Starts a collector on one loopback TCP port whose root (level 0) hands every record to
/// `emitter`; returns it and the port's address.
pub async fn start_tcp_with(
    emitter: impl Emitter + 'static,
    options: ReceiverOptions,
) -> (RunningCollector, std::net::SocketAddr) {
    let tree = LoggerTree::new();
    tree.root().add_handler(Arc::new(Handler::new(emitter)));
    tree.root().set_level(0);
    let running = Collector::new(tree, options)
        .start(&[tcp0()])
        .await
        .expect("collector starts");
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!("one TCP listener")
    };
    (running, addr)
}

pub fn tcp0() -> ListenAddr {
    ListenAddr::Tcp("127.0.0.1:0".parse().unwrap())
}

pub fn udp0() -> ListenAddr {
    ListenAddr::Udp("127.0.0.1:0".parse().unwrap())
}

/// Runs `python3 -c script args…`, killed after 60 s; returns stdout, panics on failure.
pub fn python(script: &str, args: &[String]) -> String {
    py::finished(py::run_required(&mut py::script(script, args), py::LIMIT))
}

/// Polls `cond` every 20 ms for up to 30 s.
pub async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
