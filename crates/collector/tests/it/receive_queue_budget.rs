//! The queue's byte budget (issue 13, item 3) with handlers that stall: connections reserve
//! what their records may hold before mapping them and wait, and once the handlers move every
//! record arrives, in order per connection. With decode threads a connection waiting for the
//! budget must still send the batches it has ready, which may be what holds the budget: a
//! small budget and several busy connections would deadlock otherwise.

use crate::common_recv;

use common_recv::{start_tcp_with, wait_for};
use logwire_collector::receiver::{BulkDecode, ReceiverOptions};
use logwire_engine::Formatter;
use logwire_engine::{Emitter, HandlerError, LogRecord};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

/// Keeps every record's message, but only once its gate is open.
#[derive(Default)]
struct Gated {
    open: Mutex<bool>,
    opened: Condvar,
    got: Mutex<Vec<String>>,
}

struct GatedEmitter(Arc<Gated>);

impl Emitter for GatedEmitter {
    fn emit(&self, record: &LogRecord, _: &Formatter) -> Result<(), HandlerError> {
        let g = &self.0;
        let mut open = g.open.lock().unwrap();
        while !*open {
            open = g.opened.wait(open).unwrap();
        }
        drop(open);
        g.got.lock().unwrap().push(record.msg.clone());
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Gated"
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// One write of 64 small records (a bulk read: decode threads or the dispatcher judge it).
fn burst(conn: usize, n: usize) -> Vec<u8> {
    (0..64)
        .flat_map(|i| {
            let msg = format!("c{conn} r{}", n * 64 + i);
            frame(
                format!(
                    r#"{{"name": "q", "msg": "{msg}", "pad": "{}"}}"#,
                    "p".repeat(300)
                )
                .as_bytes(),
            )
        })
        .collect()
}

async fn stalled_then_released(bulk: BulkDecode) {
    const CONNS: usize = 6;
    const BURSTS: usize = 20;
    let gated = Arc::new(Gated::default());
    let options = ReceiverOptions {
        bulk_decode: bulk,
        // Less than one read's reservation: every reservation waits for the whole budget.
        queue_bytes: 256 << 10,
        ..ReceiverOptions::default()
    };
    let (running, addr) = start_tcp_with(GatedEmitter(Arc::clone(&gated)), options).await;
    let senders: Vec<_> = (0..CONNS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                for n in 0..BURSTS {
                    s.write_all(&burst(c, n)).unwrap();
                }
            })
        })
        .collect();
    // Stalled: the senders fill the kernel buffers and wait (not every record fits).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    *gated.open.lock().unwrap() = true;
    gated.opened.notify_all();
    let want = CONNS * BURSTS * 64;
    assert!(
        wait_for(|| gated.got.lock().unwrap().len() == want).await,
        "{} of {want} records: {}",
        gated.got.lock().unwrap().len(),
        running.stats()
    );
    for s in senders {
        s.join().unwrap();
    }
    let got = gated.got.lock().unwrap().clone();
    for c in 0..CONNS {
        let mine: Vec<usize> = got
            .iter()
            .filter_map(|m| m.strip_prefix(&format!("c{c} r")))
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..BURSTS * 64).collect::<Vec<_>>(),
            "connection {c} in order"
        );
    }
    let stats = running.shutdown().await;
    assert!(stats.reconciles(), "{stats}");
    assert_eq!(stats.stored, want as u64, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_budget_with_decode_threads_does_not_deadlock() {
    stalled_then_released(BulkDecode::Threads(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_budget_with_the_dispatcher_judging() {
    stalled_then_released(BulkDecode::Auto).await;
}
