//! What the dispatcher asks of the handlers after a drain: a drain of unsigned records only
//! hands off (`Emitter::hand_off`: a remote handler such as the JetStream publisher need not
//! wait for its peer, since nobody waits for an ack), while a drain with a signed record
//! syncs (`Emitter::sync`) before its seq is journaled and acknowledged, and withholds both
//! when an output cannot confirm its records.

use crate::common_recv;

use common_recv::{python, start_tcp_with, wait_for};
use logwire_collector::receiver::ReceiverOptions;
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
use logwire_wire::{KeyRing, VerifyKey};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts what the dispatcher calls.
#[derive(Default)]
struct Calls {
    records: AtomicU64,
    syncs: AtomicU64,
    hand_offs: AtomicU64,
    /// `sync` fails (an output that cannot confirm its records).
    failing: bool,
}

struct Counting(Arc<Calls>);

impl Emitter for Counting {
    fn emit(&self, _: &LogRecord, _: &Formatter) -> Result<(), HandlerError> {
        self.0.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn sync(&self) -> Result<(), HandlerError> {
        self.0.syncs.fetch_add(1, Ordering::Relaxed);
        if self.0.failing {
            return Err(HandlerError::Invalid("cannot confirm (test)".into()));
        }
        Ok(())
    }
    fn hand_off(&self) -> Result<(), HandlerError> {
        self.0.hand_offs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Counting"
    }
}

/// Sends `frames` over one connection to a collector with `options`; once `n` records
/// were handled and `flushed` says the drain's end was seen, returns (syncs, hand-offs) as
/// they were before shutdown (which syncs).
async fn send(
    options: ReceiverOptions,
    frames: Vec<u8>,
    n: u64,
    flushed: fn(&Calls) -> bool,
) -> (u64, u64) {
    let calls = Arc::new(Calls::default());
    let (running, addr) = start_tcp_with(Counting(Arc::clone(&calls)), options).await;
    tokio::task::spawn_blocking(move || {
        std::net::TcpStream::connect(addr)
            .unwrap()
            .write_all(&frames)
            .unwrap();
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| calls.records.load(Ordering::Relaxed) >= n).await,
        "{}",
        running.stats()
    );
    // The flush follows the drain that handled the last record.
    assert!(
        wait_for(|| running.stats().stored >= n).await,
        "{}",
        running.stats()
    );
    assert!(wait_for(|| flushed(&calls)).await, "the drain's end");
    let seen = (
        calls.syncs.load(Ordering::Relaxed),
        calls.hand_offs.load(Ordering::Relaxed),
    );
    running.shutdown().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_drains_hand_off_and_signed_drains_sync() {
    // Unsigned: CPython SocketHandler frames.
    let hex = python(
        "import logging, logging.handlers, sys\n\
         h = logging.handlers.SocketHandler('127.0.0.1', 1)\n\
         r = lambda i: logging.LogRecord('app', 20, 'a.py', 1, 'm %d', (i,), None)\n\
         sys.stdout.write(b''.join(h.makePickle(r(i)) for i in range(50)).hex())",
        &[],
    );
    let frames = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let opts = ReceiverOptions {
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (syncs, _) = send(opts, frames, 50, |c| {
        c.hand_offs.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(
        syncs, 0,
        "no signed record, no ack owed: no drain waits for its handlers"
    );

    // Signed: the shared vectors' record frames.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vectors/envelopes.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let key_line = format!("hmac:{}", v["keys"]["hmac_key"].as_str().unwrap());
    let keys: KeyRing = [VerifyKey::from_file_text(&key_line).unwrap()]
        .into_iter()
        .collect();
    use base64::Engine as _;
    let mut frames = Vec::new();
    for f in v["record_frames"].as_array().unwrap() {
        frames.extend(
            base64::engine::general_purpose::STANDARD
                .decode(f["frame"].as_str().unwrap())
                .unwrap(),
        );
    }
    let n = v["record_frames"].as_array().unwrap().len() as u64;
    let opts = ReceiverOptions {
        keys,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (_, hand_offs) = send(opts, frames, n, |c| c.syncs.load(Ordering::Relaxed) > 0).await;
    assert_eq!(
        hand_offs, 0,
        "a drain with signed records syncs before its acks, never only hands off"
    );
}

/// A signed record asking for an ack is acknowledged only if every output confirmed it
/// (`sync` succeeded): when one cannot, the ack and the journal line are withheld and the
/// failure is counted, so the sender resends instead of forgetting the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ack_when_an_output_cannot_confirm() {
    use logwire_wire::{Epoch, HmacKey, PayloadFormat, SigningKey, seal_record_frame};
    let secret = HmacKey::from_bytes(&[4u8; 32]).unwrap();
    let key = SigningKey::Hmac(secret.clone());
    let payload = br#"{"name": "app", "msg": "confirm me", "levelno": 30}"#;
    let frame = seal_record_frame(
        &key,
        Epoch([6u8; 16]),
        1,
        PayloadFormat::Json,
        true,
        payload,
    )
    .unwrap();
    for failing in [true, false] {
        let calls = Arc::new(Calls {
            failing,
            ..Calls::default()
        });
        let opts = ReceiverOptions {
            keys: [VerifyKey::Hmac(secret.clone())].into_iter().collect(),
            log_rejects: false,
            ..ReceiverOptions::default()
        };
        let (running, addr) = start_tcp_with(Counting(Arc::clone(&calls)), opts).await;
        let frame = frame.clone();
        let conn = tokio::task::spawn_blocking(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&frame).unwrap();
            c
        })
        .await
        .unwrap();
        assert!(
            wait_for(|| calls.syncs.load(Ordering::Relaxed) > 0).await,
            "{}",
            running.stats()
        );
        // Shutdown joins the dispatcher: the flush that synced has ended, acks written or not.
        let stats = running.shutdown().await;
        drop(conn);
        assert_eq!(stats.stored, 1, "{stats}");
        if failing {
            assert_eq!(stats.acks_sent, 0, "acknowledged unconfirmed: {stats}");
            assert!(stats.sync_failures >= 1, "{stats}");
        } else {
            assert_eq!(stats.acks_sent, 1, "{stats}");
            assert_eq!(stats.sync_failures, 0, "{stats}");
        }
    }
}
