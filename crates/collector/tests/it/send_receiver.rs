//! Signed SocketHandler → the real collector (`logwire serve`'s `Collector`), restarted
//! repeatedly during the stream: no record is lost. The collector's replay state lives in
//! memory, so a record it stored but had not acknowledged before a restart is resent and
//! may be stored again by the new instance: duplicates are counted and reported here, and
//! bounded by the sender's unacked window.

use logwire_collector::receiver::{Collector, ListenAddr, ReceiverOptions};
use logwire_engine::{CaptureBuffer, StreamHandler};
use logwire_engine::{Emitter, Formatter, Handler, LogRecord, LoggerTree};
use logwire_handlers::{Backoff, SocketHandler, SocketOptions};
use logwire_wire::KeyRing;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn signed_stream_survives_collector_restarts_without_loss() {
    const N: usize = 10_000;
    const WINDOW: usize = 256;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let k = logwire_wire::generate_hmac().unwrap();
    let ring: KeyRing = [k.verify_key()].into_iter().collect();
    let out = CaptureBuffer::new();
    let tree = LoggerTree::new();
    tree.root()
        .add_handler(Arc::new(Handler::new(StreamHandler::new(out.clone()))));
    let options = ReceiverOptions {
        keys: ring,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let start = |addr: ListenAddr| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rt.block_on(
                Collector::new(tree.clone(), options.clone()).start(std::slice::from_ref(&addr)),
            ) {
                Ok(r) => return r,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("collector: {e}"),
            }
        }
    };
    let mut running = start(ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()));
    let addr = running.local_addrs()[0].clone();
    let ListenAddr::Tcp(sa) = addr.clone() else {
        unreachable!()
    };

    let opts = SocketOptions {
        signing_key: Some(k),
        unacked_window: WINDOW,
        ack_timeout: Duration::from_secs(2),
        backoff: Backoff::new(0.01, 2.0, 0.05).unwrap(),
        flush_timeout: Duration::from_secs(60),
        close_timeout: Duration::from_secs(60),
        ..SocketOptions::default()
    };
    let sh = Arc::new(SocketHandler::with_options("127.0.0.1", Some(sa.port()), opts).unwrap());
    let lines = |out: &CaptureBuffer| out.contents().lines().count();
    let f = Formatter::default();
    let mut restarts = 0;
    let chunk = N / 6;
    for step in 0..6 {
        // Hand a chunk to the sender, then restart the collector as soon as part of it
        // arrived: the rest is in flight, buffered or unacked at the restart.
        for i in step * chunk..if step == 5 { N } else { (step + 1) * chunk } {
            sh.emit(&LogRecord::new("s", 20, "x.py", 1, format!("r{i:06}")), &f)
                .unwrap();
        }
        if step == 5 {
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines(&out) <= step * chunk + 10 {
            assert!(
                Instant::now() < deadline,
                "no progress: {:?}, {} lines",
                sh.stats(),
                lines(&out)
            );
            std::thread::yield_now();
        }
        rt.block_on(running.shutdown());
        running = start(addr.clone());
        restarts += 1;
    }
    sh.flush().expect("every record acknowledged");
    rt.block_on(running.shutdown());
    sh.close();

    let mut counts: HashMap<String, usize> = HashMap::new();
    for l in out.contents().lines() {
        *counts.entry(l.to_owned()).or_default() += 1;
    }
    let missing: Vec<usize> = (0..N)
        .filter(|i| !counts.contains_key(&format!("r{i:06}")))
        .collect();
    assert!(missing.is_empty(), "lost records: {missing:?}");
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    let s = sh.stats();
    eprintln!(
        "restarts={restarts} connects={} resent={} duplicates stored={duplicates}",
        s.connects, s.resent
    );
    assert_eq!((s.acked, s.dropped()), (N as u64, 0));
    assert!(
        duplicates <= restarts * WINDOW,
        "duplicates beyond the unacked window: {duplicates}"
    );
}
