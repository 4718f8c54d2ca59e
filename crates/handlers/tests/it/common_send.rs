//! Helpers of the sender tests: in-test receivers (plain and signed with acks) that can be
//! killed and restarted on the same port, and bounded waiting.
#![allow(dead_code, unreachable_pub, missing_docs)]

use logwire_pickle::{DecodeLimits, PickleValue, decode_record_dict};
use logwire_wire::{FrameDecoder, KeyRing, RecordAck, ReplayTracker, ReplayVerdict, open_record};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// Not every test that includes this module uses both.
#[allow(unused_imports)]
pub use logwire_test_support::wait::{free_port, wait_until};

/// The `msg` field of a pickled record dict.
pub fn msg_of(pickle: &[u8]) -> String {
    let d = decode_record_dict(pickle, &DecodeLimits::default()).expect("a record dict");
    match d.iter().find(|(k, _)| k == "msg").map(|(_, v)| v) {
        Some(PickleValue::Str(s)) => s.clone(),
        other => panic!("msg is {other:?}"),
    }
}

/// What a receiver keeps across kills (as a durable store would).
#[derive(Default)]
pub struct Store {
    /// Messages stored, in arrival order.
    pub messages: Mutex<Vec<String>>,
    /// Signed: the replay state (persisted with the store, so restarts dedupe).
    pub replay: Mutex<Option<ReplayTracker>>,
    pub duplicates: AtomicU64,
    /// Read and discard everything (a peer that never acks).
    pub sink: AtomicBool,
    pub connections: AtomicU64,
}

impl Store {
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
    pub fn len(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

/// A record receiver on 127.0.0.1: plain frames (CPython's) or, with a key ring, `LWR1`
/// frames that it verifies, deduplicates and acknowledges cumulatively.
pub struct TestReceiver {
    pub port: u16,
    pub store: Arc<Store>,
    ring: Option<Arc<KeyRing>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    /// Ack after this many new records (and whenever the socket has no more data).
    ack_every: u64,
}

impl TestReceiver {
    pub fn plain(port: u16) -> Self {
        Self::start(port, None, Arc::new(Store::default()), 1)
    }

    /// Reads and discards everything, never answers.
    pub fn plain_sink(port: u16) -> Self {
        let store = Store::default();
        store.sink.store(true, Ordering::Relaxed);
        Self::start(port, None, Arc::new(store), 1)
    }

    pub fn signed(port: u16, ring: KeyRing, ack_every: u64) -> Self {
        let store = Arc::new(Store::default());
        *store.replay.lock().unwrap() = Some(ReplayTracker::new(16));
        Self::start(port, Some(Arc::new(ring)), store, ack_every)
    }

    /// Starts on `port` (0 = any) with an existing store.
    pub fn start(port: u16, ring: Option<Arc<KeyRing>>, store: Arc<Store>, ack_every: u64) -> Self {
        // The port may still be held for a moment by the previous run's sockets.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sto, rg) = (Arc::clone(&stop), Arc::clone(&store), ring.clone());
        let accept = std::thread::spawn(move || {
            let mut conns: Vec<(TcpStream, JoinHandle<()>)> = Vec::new();
            while !st.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((s, _)) => {
                        sto.connections.fetch_add(1, Ordering::Relaxed);
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                        let keep = s.try_clone().unwrap();
                        let (st2, sto2, rg2) = (Arc::clone(&st), Arc::clone(&sto), rg.clone());
                        let h = std::thread::spawn(move || {
                            serve(s, &st2, &sto2, rg2.as_deref(), ack_every)
                        });
                        conns.push((keep, h));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
            // A crash: connections cut, whatever sits unread in them is lost.
            for (s, h) in conns {
                let _ = s.shutdown(Shutdown::Both);
                let _ = h.join();
            }
        });
        TestReceiver {
            port,
            store,
            ring,
            stop,
            accept: Some(accept),
            ack_every,
        }
    }

    /// Stops abruptly (listener closed, connections cut); the store survives.
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.accept.take() {
            h.join().unwrap();
        }
    }

    /// A new receiver on the same port with the same store.
    pub fn restart(&mut self) {
        self.kill();
        let next = TestReceiver::start(
            self.port,
            self.ring.clone(),
            Arc::clone(&self.store),
            self.ack_every,
        );
        *self = next;
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve(
    mut s: TcpStream,
    stop: &AtomicBool,
    store: &Store,
    ring: Option<&KeyRing>,
    ack_every: u64,
) {
    let mut dec = FrameDecoder::new(16 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut unacked_new = 0u64;
    let mut last_ack: Option<RecordAck> = None;
    loop {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let idle = match s.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if dec.push(&buf[..n]).is_err() {
                    return;
                }
                false
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => true,
            Err(_) => return,
        };
        while let Some(body) = dec.pop() {
            if store.sink.load(Ordering::Relaxed) {
                continue;
            }
            match ring {
                None => store.messages.lock().unwrap().push(msg_of(&body)),
                Some(ring) => {
                    let env = open_record(&body, ring).expect("a valid LWR1 record");
                    let mut replay = store.replay.lock().unwrap();
                    let tracker = replay.as_mut().unwrap();
                    match tracker.mark(env.key_id, env.epoch, env.seq) {
                        ReplayVerdict::New => {
                            store.messages.lock().unwrap().push(msg_of(env.payload));
                            unacked_new += 1;
                        }
                        ReplayVerdict::Duplicate => {
                            store.duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                        ReplayVerdict::TooOld => panic!("seq {} too old", env.seq),
                    }
                    let upto = tracker.window(env.key_id, env.epoch).unwrap().contiguous();
                    last_ack = Some(RecordAck {
                        epoch: env.epoch,
                        seq: upto,
                    });
                    if unacked_new >= ack_every {
                        unacked_new = 0;
                        if s.write_all(&last_ack.unwrap().encode_frame()).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        // Nothing more to read for now: acknowledge what is stored.
        if idle && let Some(ack) = last_ack.take() {
            unacked_new = 0;
            if s.write_all(&ack.encode_frame()).is_err() {
                return;
            }
        }
    }
}
