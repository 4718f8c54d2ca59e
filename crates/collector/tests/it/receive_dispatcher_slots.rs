//! A connection whose bulk reads the dispatcher judges keeps at most 8 of them there: while
//! the handlers are stuck, the connection stops handing reads over (and so stops reading:
//! TCP pushes back on the sender) instead of queueing a channel's worth of buffers; once the
//! handlers move again, every record arrives, in order.

use crate::common_recv;

use common_recv::{tcp0, wait_for};
use logwire_collector::receiver::{BulkDecode, Collector, ListenAddr, ReceiverOptions};
use logwire_engine::{Emitter, HandlerError, RecordCollector};
use logwire_engine::{Formatter, Handler, LogRecord, LoggerTree};
use logwire_pickle::{PickleValue, encode_record_protocol1};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Reads a connection may have at the dispatcher (`parallel::MAX_QUEUED`).
const SLOTS: u64 = 8;

/// Blocks every emit until opened.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    moved: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.moved.notify_all();
    }
}

struct Gated(Arc<Gate>);

impl Emitter for Gated {
    fn emit(&self, _: &LogRecord, _: &Formatter) -> Result<(), HandlerError> {
        let mut open = self.0.open.lock().unwrap();
        while !*open {
            open = self.0.moved.wait(open).unwrap();
        }
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Gated"
    }
}

fn frame(i: usize) -> Vec<u8> {
    let payload = encode_record_protocol1(&[
        ("name", PickleValue::Str("slots.app".into())),
        ("msg", PickleValue::Str(format!("m{i}"))),
        ("levelno", PickleValue::Int(20)),
        ("created", PickleValue::Float(1_700_000_000.5)),
    ])
    .unwrap();
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(&payload);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_handlers_hold_at_most_eight_reads() {
    let gate = Arc::new(Gate::default());
    let keep = RecordCollector::new();
    let tree = LoggerTree::new();
    tree.root().set_level(0);
    tree.root()
        .add_handler(Arc::new(Handler::new(Gated(Arc::clone(&gate)))));
    tree.root()
        .add_handler(Arc::new(Handler::new(keep.clone())));
    let opts = ReceiverOptions {
        bulk_decode: BulkDecode::Dispatcher,
        ..ReceiverOptions::default()
    };
    let running = Collector::new(tree, opts).start(&[tcp0()]).await.unwrap();
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!()
    };

    // About 40 bulk reads' worth (~120 B a frame, reads of up to 128 KiB).
    const FRAMES: usize = 40_000;
    let stream: Vec<u8> = (0..FRAMES).flat_map(frame).collect();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let writer = tokio::spawn(async move {
        conn.write_all(&stream).await.unwrap();
        conn
    });

    // The first read reaches the stuck handler; the connection then fills its slots.
    assert!(wait_for(|| running.stats().dispatcher_reads > 0).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = running.stats().dispatcher_reads;
    assert!(
        (1..=SLOTS).contains(&held),
        "{held} reads handed to a stuck dispatcher"
    );

    gate.open();
    let conn = writer.await.unwrap();
    drop(conn);
    assert!(
        wait_for(|| running.stats().stored == FRAMES as u64).await,
        "{}",
        running.stats()
    );
    let stats = running.shutdown().await;
    assert!(stats.dispatcher_reads > SLOTS, "{stats:?}");
    let msgs: Vec<String> = keep.records().into_iter().map(|r| r.msg).collect();
    let want: Vec<String> = (0..FRAMES).map(|i| format!("m{i}")).collect();
    assert!(
        msgs == want,
        "records lost or out of order: {} of {FRAMES}",
        msgs.len()
    );
}
